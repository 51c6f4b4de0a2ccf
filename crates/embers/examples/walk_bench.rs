//! The HNSW walk alone, one query at a time on one thread (the way the server's `ann: true`
//! requests reach it): an existing index opened beside its embeddings, `n` query rows drawn
//! with a fixed seed (each excluding itself, k 10), timed in `rounds` passes after a warm-up.
//! Prints CPU µs a query (best round and every round), recall@10 against exact search on the
//! first 2,000 queries, and a digest of every answer (ids and score bits) so that two builds
//! can be checked for identical answers.
//! Usage: walk_bench MODEL INDEX [EF=32] [N=20000] [ROUNDS=3]

use std::time::Instant;

use embers::io::{self, ReadOptions};
use embers::search::{Exact, Hnsw, Screening, Search};

mod common;

/// CPU seconds (user + system) of this thread so far.
fn thread_cpu_s() -> f64 {
    common::cpu_seconds("/proc/thread-self/stat")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: walk_bench MODEL INDEX [EF=32] [N=20000] [ROUNDS=3]".into());
    }
    let arg = |i: usize, d: usize| args.get(i).map_or(Ok(d), |s| s.parse::<usize>());
    let (ef, n, rounds) = (arg(3, 32)?, arg(4, 20_000)?, arg(5, 3)?);
    let emb = io::read(&args[1], &ReadOptions::default())?;
    emb.norms();
    let index = Hnsw::open(&args[2], &emb)?;
    // Seeded draws of the query rows.
    let mut rng = embers::rng::Rng::new(0x5eed);
    let ids: Vec<u32> = (0..n).map(|_| rng.below(emb.len() as u64) as u32).collect();
    let queries: Vec<Vec<f32>> = ids.iter().map(|&i| emb.unit_row(i)).collect();
    let k = 10;
    let run = |answers: &mut Vec<Vec<embers::search::Hit>>| -> Result<(), embers::Error> {
        answers.clear();
        for (q, &id) in queries.iter().zip(&ids) {
            answers.push(index.search(&emb, q, k, ef, &[id])?);
        }
        Ok(())
    };
    let mut answers = Vec::with_capacity(n);
    run(&mut answers)?; // warm-up: pages of the maps touched
    let mut per_round = Vec::new();
    let mut wall = Vec::new();
    for _ in 0..rounds {
        let (t, c) = (Instant::now(), thread_cpu_s());
        run(&mut answers)?;
        per_round.push(1e6 * (thread_cpu_s() - c) / n as f64);
        wall.push(1e6 * t.elapsed().as_secs_f64() / n as f64);
    }
    let mut digest = crc32fast::Hasher::new();
    for h in answers.iter().flatten() {
        digest.update(&h.id.to_le_bytes());
        digest.update(&h.score.to_bits().to_le_bytes());
    }
    let m = n.min(2000);
    let flat: Vec<f32> = queries[..m].iter().flatten().copied().collect();
    let exclude: Vec<Vec<u32>> = ids[..m].iter().map(|&i| vec![i]).collect();
    let truth = Exact::new(&emb, Screening::Off).search(&flat, k, emb.len(), &exclude)?;
    let found: usize = (0..m)
        .map(|i| {
            answers[i]
                .iter()
                .filter(|h| truth[i].iter().any(|t| t.id == h.id))
                .count()
        })
        .sum();
    let possible: usize = truth.iter().map(Vec::len).sum();
    let best = per_round.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "ef {ef}, {n} queries x {rounds}: best {best:.1} CPU us/query, rounds {:?} CPU us, wall {:?} us; recall@10 {:.4} on {m}; digest {:08x}; kernels {}",
        per_round.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>(),
        wall.iter().map(|x| (x * 10.0).round() / 10.0).collect::<Vec<_>>(),
        found as f64 / possible as f64,
        digest.finalize(),
        embers::kernels::active()
    );
    Ok(())
}
