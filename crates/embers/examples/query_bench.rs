//! Timing of embers' queries for `bench/query.sh`: one `most_similar` (median), 1,000 queries
//! batched, the full analogy benchmark, and the HNSW index (build, latency, recall@10).
//! Usage: query_bench MODEL QUESTIONS QUERIES   (QUERIES: one word a line). Prints JSON lines.

use std::time::Instant;

use embers::eval::{self, AnalogyOptions};
use embers::io::{self, ReadOptions};
use embers::query::{self, hnsw::Hnsw, hnsw::HnswParams};
use embers::search::{Exact, Screening};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, questions, queries] = &args[..] else {
        return Err("usage: query_bench MODEL QUESTIONS QUERIES".into());
    };
    let t = Instant::now();
    let emb = io::read(model, &ReadOptions::default())?;
    let open_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    emb.norms();
    let norms_ms = t.elapsed().as_secs_f64() * 1e3;
    let words: Vec<String> = std::fs::read_to_string(queries)?
        .split_whitespace()
        .map(String::from)
        .collect();
    println!(
        "{}",
        serde_json::json!({"rows": emb.len(), "dims": emb.dims(), "threads": rayon::current_num_threads(),
            "kernels": embers::kernels::active(), "open_ms": open_ms, "norms_ms": norms_ms})
    );

    // One query at a time, as a long-lived user (the server) asks: the search keeps its int8
    // screen (built at the second query, as before the search layer).
    let search = Exact::new(&emb, Screening::Lazy);
    let mut lat = Vec::new();
    for w in words.iter().take(100) {
        let t = Instant::now();
        let r = query::most_similar_in(&search, &[w.as_str()], &[], 10, None)?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r.len(), 10);
    }
    let single_ms = median(lat);

    // 1,000 queries at once.
    let ids = query::ids_of(&emb, &words.iter().map(String::as_str).collect::<Vec<_>>())?;
    let t = Instant::now();
    let mut flat = Vec::with_capacity(ids.len() * emb.dims());
    for &id in &ids {
        flat.extend(query::mean_query(&emb, &[id], &[])?);
    }
    let exclude: Vec<Vec<u32>> = ids.iter().map(|&i| vec![i]).collect();
    let exact = query::top_k_batch(&emb, &flat, 10, emb.len(), &exclude);
    let batch_s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"tool": "embers", "single_median_ms": single_ms, "batch_1000_s": batch_s})
    );

    let t = Instant::now();
    let r = eval::evaluate_analogies(&emb, questions, &AnalogyOptions::default())?;
    let ev_s = t.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"tool": "embers", "analogies_s": ev_s, "analogy_accuracy": r.accuracy,
            "analogy_answered": r.total, "analogy_skipped": r.skipped})
    );

    let t = Instant::now();
    let index = Hnsw::build(&emb, &HnswParams::default())?;
    let build_s = t.elapsed().as_secs_f64();
    let path = format!("{model}.hnsw");
    index.save(&path)?;
    let t = Instant::now();
    let index = Hnsw::open(&path, &emb)?;
    let index_open_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "{}",
        serde_json::json!({"tool": "embers", "ann_build_s": build_s, "ann_open_ms": index_open_ms})
    );
    for ef in [20, 50, 100, 200] {
        let mut lat = Vec::new();
        let mut found = 0usize;
        for (i, &id) in ids.iter().enumerate() {
            let q = &flat[i * emb.dims()..(i + 1) * emb.dims()];
            let t = Instant::now();
            let hits = index.search(&emb, q, 10, ef, &[id])?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            found += hits
                .iter()
                .filter(|h| exact[i].iter().any(|e| e.id == h.id))
                .count();
        }
        println!(
            "{}",
            serde_json::json!({"tool": "embers", "ann_ef": ef, "ann_median_ms": median(lat),
                "ann_recall_at_10": found as f64 / (10 * ids.len()) as f64})
        );
    }
    Ok(())
}
