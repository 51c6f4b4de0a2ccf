//! The fast scan of a 4-bit PQ file in process, for `bench/fastscan.py`: for N queries (the unit
//! decoded rows of words 0, 29, 58, … of the vocabulary, the word excluded, k = 10), the rows
//! re-scored with the f32 tables (mean, median, 99th percentile, largest) and the blocks of 32
//! rows tested row by row (mean), the time a query of the fast scan one query at a time and in
//! groups of `SCAN_GROUP`, and of the f32-table scan (one thread: run with RAYON_NUM_THREADS=1), and
//! whether every answer is the same. Usage: fastscan_stats MODEL [N]. Prints one JSON line.

use std::time::Instant;

use embers::io::{self, ReadOptions};
use embers::search::exact::top_k;
use embers::search::fastscan::ScanIndex;
use embers::storage::{Storage, SCAN_GROUP};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (model, n) = match &args[..] {
        [_, m] => (m, 1000),
        [_, m, n] => (m, n.parse()?),
        _ => return Err("usage: fastscan_stats MODEL [N]".into()),
    };
    let emb = io::read(model, &ReadOptions::default())?;
    let Storage::Pq(pq) = emb.storage() else {
        return Err("not a PQ file".into());
    };
    let norms = emb.norms();
    let t = Instant::now();
    let index = ScanIndex::new(pq, norms).ok_or("not 4-bit PQ codes")?;
    let layout = index.bytes();
    let layout_ms = t.elapsed().as_secs_f64() * 1e3;
    let ids: Vec<u32> = (0..n).map(|i| (i * 29 % emb.len()) as u32).collect();
    let queries: Vec<Vec<f32>> = ids
        .iter()
        .map(|&i| {
            let mut q = emb.vector(i).expect("row");
            embers::kernels::normalize(&mut q);
            q
        })
        .collect();
    let (k, rows) = (10, emb.len());
    let t = Instant::now();
    let mut fast = Vec::new();
    let mut rescored = Vec::new();
    let mut tested = 0usize;
    for (q, &id) in queries.iter().zip(&ids) {
        let (hits, stats) = index.top_k(pq, q, k, rows, &[id]).ok_or("no fast scan")?;
        rescored.push(stats.rescored);
        tested += stats.tested_blocks;
        fast.push(hits);
    }
    let fast_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let t = Instant::now();
    let mut grouped = Vec::new();
    for (qs, ids) in queries.chunks(SCAN_GROUP).zip(ids.chunks(SCAN_GROUP)) {
        let qs: Vec<&[f32]> = qs.iter().map(|q| &q[..]).collect();
        let ex: Vec<[u32; 1]> = ids.iter().map(|&i| [i]).collect();
        let ex: Vec<&[u32]> = ex.iter().map(|e| &e[..]).collect();
        for got in index.top_k_group(pq, &qs, k, rows, &ex) {
            grouped.push(got.ok_or("no fast scan")?.0);
        }
    }
    let group_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let t = Instant::now();
    let float: Vec<_> = queries
        .iter()
        .zip(&ids)
        .map(|(q, &id)| top_k(&emb, q, k, rows, &[id]))
        .collect();
    let float_ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let differ = fast.iter().zip(&float).filter(|(a, b)| a != b).count()
        + grouped.iter().zip(&float).filter(|(a, b)| a != b).count();
    rescored.sort_unstable();
    let mean = rescored.iter().sum::<usize>() as f64 / n as f64;
    println!(
        "{}",
        serde_json::json!({
            "rows": rows, "m": pq.subquantizers(), "queries": n, "kernels": embers::kernels::active(),
            "threads": rayon::current_num_threads(), "layout_bytes": layout, "layout_ms": layout_ms,
            "fast_ms": fast_ms, "group_ms": group_ms, "float_ms": float_ms,
            "tested_blocks_mean": tested as f64 / n as f64, "differ": differ,
            "rescored_mean": mean, "rescored_median": rescored[n / 2],
            "rescored_p99": rescored[n * 99 / 100], "rescored_max": rescored[n - 1],
        })
    );
    Ok(())
}
