//! embers' side of `bench/ann.sh`: the HNSW index in the ann-benchmarks manner (build time and
//! CPU, graph bytes, then recall@10 and queries/s for a sweep of `ef`, the 10,000 queries
//! answered in one batch through `search::Ann`), or exact batched top-10 of the first 1,000
//! queries through `search::Exact`, as the blocked f32 product and through the int8 screen
//! (identical answers required; ids written for comparison with numpy).
//! Usage: ann_bench DATA THREADS ann|exact   (DATA: prefix of the files of bench/ann_prep.py)

use std::time::Instant;

use embers::io::{self, ReadOptions};
use embers::search::{Ann, Exact, Hnsw, HnswParams, Screening, Search};

mod common;

/// CPU seconds (user + system) of this process so far.
fn cpu_s() -> f64 {
    common::cpu_seconds("/proc/self/stat")
}

fn u32s(path: &str) -> Result<Vec<u32>, Box<dyn std::error::Error>> {
    let b = std::fs::read(path)?;
    Ok(b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, threads, mode] = &args[..] else {
        return Err("usage: ann_bench DATA THREADS ann|exact".into());
    };
    let threads: usize = threads.parse()?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let emb = io::read(format!("{data}.npy"), &ReadOptions::default())?;
    emb.norms();
    let qids = u32s(&format!("{data}.queries.u32"))?;
    let truth = u32s(&format!("{data}.truth.u32"))?;
    let dims = emb.dims();
    let queries = |ids: &[u32]| -> Vec<f32> { ids.iter().flat_map(|&i| emb.unit_row(i)).collect() };
    if mode == "exact" {
        let ids = &qids[..1000];
        let flat = queries(ids);
        let exclude: Vec<Vec<u32>> = ids.iter().map(|&i| vec![i]).collect();
        // Both ways exact search answers a batch: the blocked f32 product and the int8 screen
        // (its build, a pass over the matrix, timed apart). The answers must be identical.
        let mut answers = Vec::new();
        for (path, screening) in [
            ("f32 blocked product", Screening::Off),
            ("int8 screen", Screening::Eager),
        ] {
            let t = Instant::now();
            let exact = Exact::new(&emb, screening);
            let build_s = t.elapsed().as_secs_f64();
            let mut best = f64::INFINITY;
            let mut cpu_best = 0.0;
            let mut hits = Vec::new();
            for _ in 0..5 {
                let (t, c) = (Instant::now(), cpu_s());
                hits = exact.search(&flat, 10, emb.len(), &exclude)?;
                let w = t.elapsed().as_secs_f64();
                if w < best {
                    best = w;
                    cpu_best = cpu_s() - c;
                }
            }
            println!(
                "{}",
                serde_json::json!({"lib": "embers", "task": "exact_1000", "path": path,
                    "threads": threads, "best_s": best, "cpu_s": cpu_best, "build_s": build_s,
                    "kernels": embers::kernels::active()})
            );
            answers.push(hits);
        }
        if answers[0] != answers[1] {
            return Err("the screened answers differ from the f32 product's".into());
        }
        let mut out = Vec::with_capacity(4000 * 10);
        for h in &answers[0] {
            for x in h {
                out.extend_from_slice(&x.id.to_le_bytes());
            }
        }
        std::fs::write(format!("{data}.embers-exact.u32"), out)?;
        return Ok(());
    }
    let (t, c) = (Instant::now(), cpu_s());
    let index = Hnsw::build(
        &emb,
        &HnswParams {
            threads,
            ..HnswParams::default()
        },
    )?;
    let (build_s, build_cpu) = (t.elapsed().as_secs_f64(), cpu_s() - c);
    let dir = std::env::temp_dir().join(format!("embers-ann-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("ix.hnsw");
    index.save(&path)?;
    let graph_bytes = std::fs::metadata(&path)?.len();
    std::fs::remove_dir_all(&dir)?;
    let vector_bytes = (emb.len() * dims * 4 + emb.len() * 4) as u64;
    let flat = queries(&qids);
    let exclude: Vec<Vec<u32>> = qids.iter().map(|&i| vec![i]).collect();
    let mut ann = Ann::new(&emb, index, 10, &path)?;
    for ef in [10usize, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512] {
        ann = ann.with_ef(ef);
        let (t, c) = (Instant::now(), cpu_s());
        let found = ann.search(&flat, 10, emb.len(), &exclude)?;
        let (w, qc) = (t.elapsed().as_secs_f64(), cpu_s() - c);
        let hit: usize = found
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let want = &truth[i * 10..(i + 1) * 10];
                h.iter().filter(|x| want.contains(&x.id)).count()
            })
            .sum();
        println!(
            "{}",
            serde_json::json!({"lib": "embers", "threads": threads, "param": format!("ef={ef}"),
                "recall": hit as f64 / truth.len() as f64, "qps": qids.len() as f64 / w,
                "query_cpu_s": qc, "build_s": build_s, "build_cpu_s": build_cpu,
                "index_bytes": graph_bytes + vector_bytes, "graph_bytes": graph_bytes})
        );
    }
    Ok(())
}
