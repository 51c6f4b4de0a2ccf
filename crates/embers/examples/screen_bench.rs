//! Exact batched top-10 on one model, three ways, same queries: the blocked f32 product
//! (`search::top_k_batch`), the int8 screen in batches (`Exact` with its screen), and the screen
//! one query at a time. Checks that the three answers are identical, then prints JSON lines with
//! wall and process CPU seconds per query.
//! Usage: [PATHS=f32,batched,single] screen_bench MODEL [QUERIES=1024] [BATCH=64]

use std::time::Instant;

use embers::io::{self, ReadOptions};
use embers::search::{self, Exact, Screening};

/// One way to answer a batch of queries with their exclusions.
type Path<'a> = dyn Fn(&[f32], &[Vec<u32>]) -> Vec<Vec<search::Hit>> + 'a;

mod common;

fn cpu_seconds() -> f64 {
    common::cpu_seconds("/proc/self/stat")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let model = args
        .get(1)
        .ok_or("usage: screen_bench MODEL [QUERIES] [BATCH]")?;
    let nq: usize = args.get(2).map_or(Ok(1024), |v| v.parse())?;
    let batch: usize = args.get(3).map_or(Ok(64), |v| v.parse())?;
    let emb = io::read(model, &ReadOptions::default())?;
    let dims = emb.dims();
    let step = (emb.len() / nq.max(1)).max(1);
    let ids: Vec<u32> = (0..nq).map(|i| ((i * step) % emb.len()) as u32).collect();
    let mut queries = Vec::with_capacity(nq * dims);
    for &i in &ids {
        queries.extend(embers::query::unit_row(&emb, i));
    }
    let exclude: Vec<Vec<u32>> = ids.iter().map(|&i| vec![i]).collect();
    let t = Instant::now();
    let exact = Exact::new(&emb, Screening::Eager);
    let build_s = t.elapsed().as_secs_f64();
    // PATHS (f32,batched,single; default all) picks the paths, for profiling one of them.
    let paths = std::env::var("PATHS").unwrap_or_else(|_| "f32,batched,single".into());
    let run = |name: &str, f: &Path| {
        let key = name.split_whitespace().next().unwrap_or_default();
        if !paths.split(',').any(|p| key.starts_with(p)) {
            return None;
        }
        let (w, c) = (Instant::now(), cpu_seconds());
        let mut all = Vec::with_capacity(nq);
        for (q, ex) in queries.chunks(batch * dims).zip(exclude.chunks(batch)) {
            all.extend(f(q, ex));
        }
        let (wall, cpu) = (w.elapsed().as_secs_f64(), cpu_seconds() - c);
        println!(
            "{}",
            serde_json::json!({"path": name, "queries": nq, "batch": batch,
                "wall_us_per_query": wall * 1e6 / nq as f64, "cpu_us_per_query": cpu * 1e6 / nq as f64,
                "kernels": embers::kernels::active()})
        );
        Some(all)
    };
    let f32_tiles = run("f32 blocked product", &|q, ex| {
        search::exact::top_k_batch(&emb, q, 10, emb.len(), ex)
    });
    let screened = run("batched int8 screen", &|q, ex| {
        exact.top_k_batch(q, 10, emb.len(), ex)
    });
    let singles = run("single queries through the int8 screen", &|q, ex| {
        q.chunks(dims)
            .zip(ex)
            .map(|(q, ex)| exact.top_k(q, 10, emb.len(), ex))
            .collect()
    });
    let answers: Vec<_> = [f32_tiles, screened, singles]
        .into_iter()
        .flatten()
        .collect();
    let same = answers.windows(2).all(|w| w[0] == w[1]);
    println!(
        "{}",
        serde_json::json!({"screen_build_s": build_s, "identical_answers": same})
    );
    if !same {
        return Err("the three paths gave different answers".into());
    }
    Ok(())
}
