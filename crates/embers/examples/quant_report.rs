//! The compression report behind BENCHMARKS.md ("Compression"): for each storage kind, the size
//! of the stored vectors against f32, the reconstruction error, quantize time, neighbour-query
//! latency and top-10 overlap with exact f32 search, and — when evaluation files are given —
//! analogy accuracy and word-pair Spearman by gensim's protocol, on the compressed rows as stored.
//! `--opq` adds PQ with an optimised-PQ rotation (10 rounds) at the same settings.
//!
//! ```sh
//! cargo run --release -p embers --example quant_report -- MODEL [--from FORMAT] \
//!     [--analogies questions-words.txt] [--pairs wordsim353.tsv]... [--queries 200] [--normalize] \
//!     [--opq]
//! cargo run --release -p embers --example quant_report -- --generate 400000x300
//! ```
//! Prints one JSON object per kind, then a Markdown table.

use std::path::PathBuf;
use std::time::Instant;

use embers::eval::analogy::{evaluate_analogies, AnalogyOptions};
use embers::eval::pairs::{evaluate_pairs, PairsOptions};
use embers::io::{self, Format, ReadOptions};
use embers::layer::{init_matrix, Init};
use embers::quant::{self, PqConfig, Target};
use embers::query::exact;
use embers::rng::Rng;
use embers::{Embeddings, Vocab};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut model, mut from, mut generate) = (None, None, None);
    let (mut analogies, mut pairs) = (None::<PathBuf>, Vec::<PathBuf>::new());
    let mut queries = 200usize;
    let mut pq_only = false;
    let mut normalize = false;
    let mut opq = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--from" => from = args.next(),
            "--generate" => generate = args.next(),
            "--analogies" => analogies = args.next().map(PathBuf::from),
            "--pairs" => pairs.extend(args.next().map(PathBuf::from)),
            "--queries" => queries = args.next().ok_or("--queries N")?.parse()?,
            "--pq-only" => pq_only = true,
            "--normalize" => normalize = true,
            "--opq" => opq = true,
            _ => model = Some(PathBuf::from(a)),
        }
    }
    let t = Instant::now();
    let emb = match (&model, &generate) {
        (Some(p), _) => io::read(
            p,
            &ReadOptions {
                format: from.as_deref().map(Format::from_name).transpose()?,
                ..Default::default()
            },
        )?,
        (None, Some(shape)) => {
            let (r, d) = shape.split_once('x').ok_or("--generate ROWSxDIMS")?;
            let (rows, dims): (usize, usize) = (r.parse()?, d.parse()?);
            let vocab = Vocab::from_words((0..rows).map(|i| format!("w{i}")).collect())?;
            let m = init_matrix(
                rows,
                dims,
                Init::Normal {
                    mean: 0.0,
                    std: 1.0,
                },
                1,
            )?;
            Embeddings::new(vocab, m)?
        }
        _ => return Err("give a model file or --generate ROWSxDIMS".into()),
    };
    let mut dense = emb.storage().to_dense()?;
    if normalize {
        // Unit rows: cosine answers are unchanged, quantizers spend no bits on lengths.
        let d = dense.dims().max(1);
        for r in dense.as_mut_slice().chunks_mut(d) {
            embers::kernels::normalize(r);
        }
    }
    let emb = Embeddings::new(emb.vocab().clone(), dense.clone())?;
    eprintln!(
        "loaded {} × {} in {:.2} s; kernels {}",
        emb.len(),
        emb.dims(),
        t.elapsed().as_secs_f64(),
        embers::kernels::active()
    );
    let (rows, dims) = (emb.len(), emb.dims());
    let f32_bytes = rows * dims * 4;

    // Targets: f32 baseline, f16, int8 (both), PQ at the default m, and PQ at ≤ 1/16 of f32.
    let mut targets = vec![];
    if !pq_only {
        targets.extend([
            ("f32", Target::F32),
            ("f16", Target::F16),
            ("int8", Target::Int8 { affine: false }),
            ("int8 affine", Target::Int8 { affine: true }),
        ]);
    }
    let pq_default = PqConfig::for_dims(dims);
    targets.push(("pq", Target::Pq(pq_default.clone())));
    if opq {
        targets.push((
            "pq opq",
            Target::Pq(PqConfig {
                rotation: Some(quant::Rotation::opq(
                    quant::Rotation::DEFAULT_OPQ_ITERATIONS,
                    quant::OpqStart::Auto,
                )),
                ..pq_default.clone()
            }),
        ));
    }
    // The most subquantizers whose codes + norms stay within 1/16 of the f32 row.
    let budget = (dims * 4 / 16).saturating_sub(4);
    if let Some(m) = (1..=budget.min(dims)).rev().find(|m| dims % m == 0) {
        if m != pq_default.subquantizers {
            targets.push((
                "pq 1/16",
                Target::Pq(PqConfig {
                    subquantizers: m,
                    ..pq_default.clone()
                }),
            ));
        }
    }

    // Queries: unit rows of random words (the same for every kind), exact f32 answers first.
    let mut rng = Rng::new(7);
    let ids: Vec<u32> = (0..queries)
        .map(|_| rng.below(rows as u64) as u32)
        .collect();
    let unit = |e: &Embeddings, id: u32| embers::query::unit_row(e, id);
    let truth: Vec<Vec<u32>> = ids
        .iter()
        .map(|&id| {
            exact::top_k(&emb, &unit(&emb, id), 10, rows, &[id])
                .iter()
                .map(|h| h.id)
                .collect()
        })
        .collect();

    let mut table = Vec::new();
    for (name, target) in targets {
        let t = Instant::now();
        let q = quant::quantize(&emb, &target, &embers::progress::silent)?;
        let quantize_s = t.elapsed().as_secs_f64();
        let bytes = q.storage().stored_bytes() + rows * 4;
        let decoded = q.storage().to_dense()?;
        let (mut err, mut tot) = (0.0f64, 0.0f64);
        for (x, y) in dense.as_slice().iter().zip(decoded.as_slice()) {
            err += ((x - y) as f64).powi(2);
            tot += (*x as f64).powi(2);
        }
        drop(decoded);
        // Latency of one top-10 query over all rows, on the compressed rows; overlap with f32.
        let t = Instant::now();
        let mut hits = 0;
        for (&id, want) in ids.iter().zip(&truth) {
            let got = exact::top_k(&q, &unit(&emb, id), 10, rows, &[id]);
            hits += got.iter().filter(|h| want.contains(&h.id)).count();
        }
        let latency_ms = t.elapsed().as_secs_f64() * 1e3 / queries as f64;
        // Re-ranked: 100 candidates from the codes, re-scored against the f32 rows.
        let t = Instant::now();
        let mut hits_rr = 0;
        for (&id, want) in ids.iter().zip(&truth) {
            let got =
                quant::search_reranked(&q, Some(emb.storage()), &unit(&emb, id), 10, 100, &[id])?;
            hits_rr += got.iter().filter(|h| want.contains(&h.0)).count();
        }
        let latency_rr_ms = t.elapsed().as_secs_f64() * 1e3 / queries as f64;
        let mut row = serde_json::json!({
            "kind": name,
            "quantizer": target.describe(),
            "vector_bytes": bytes,
            "ratio": bytes as f64 / f32_bytes as f64,
            "relative_squared_error": err / tot.max(f64::MIN_POSITIVE),
            "quantize_seconds": quantize_s,
            "query_ms": latency_ms,
            "top10_overlap": hits as f64 / (10 * queries) as f64,
            "reranked_query_ms": latency_rr_ms,
            "reranked_top10_overlap": hits_rr as f64 / (10 * queries) as f64,
        });
        if let Some(a) = &analogies {
            let t = Instant::now();
            let r = evaluate_analogies(&q, a, &AnalogyOptions::default())?;
            row["analogy_accuracy"] = r.accuracy.into();
            row["analogy_questions"] = r.total.into();
            row["analogy_seconds"] = t.elapsed().as_secs_f64().into();
        }
        for p in &pairs {
            let r = evaluate_pairs(&q, p, &PairsOptions::default())?;
            let key = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            row[format!("spearman_{key}")] = r.spearman.into();
        }
        println!("{row}");
        table.push(row);
    }
    println!();
    println!("| kind | vectors / f32 | rel. sq. error | quantize s | query ms | top-10 overlap | re-ranked ms / overlap | analogy % | Spearman |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in &table {
        let sp: Vec<String> = r
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("spearman_"))
            .map(|(k, v)| format!("{} {:.4}", &k[9..], v.as_f64().unwrap_or(f64::NAN)))
            .collect();
        println!(
            "| {} | {:.4} | {:.5} | {:.2} | {:.2} | {:.3} | {:.2} / {:.3} | {} | {} |",
            r["kind"].as_str().unwrap(),
            r["ratio"].as_f64().unwrap(),
            r["relative_squared_error"].as_f64().unwrap(),
            r["quantize_seconds"].as_f64().unwrap(),
            r["query_ms"].as_f64().unwrap(),
            r["top10_overlap"].as_f64().unwrap(),
            r["reranked_query_ms"].as_f64().unwrap(),
            r["reranked_top10_overlap"].as_f64().unwrap(),
            r.get("analogy_accuracy")
                .and_then(|v| v.as_f64())
                .map_or("—".into(), |a| format!("{:.2}", a * 100.0)),
            if sp.is_empty() {
                "—".into()
            } else {
                sp.join(", ")
            },
        );
    }
    Ok(())
}
