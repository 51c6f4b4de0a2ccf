//! `embers index build`: build the HNSW index of an embedding file, report its recall.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args as ClapArgs, Subcommand};
use embers::query::hnsw::{Hnsw, HnswParams};

use super::info::ReadArgs;

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Build the approximate-neighbour index FILE.hnsw and report recall@10 against exact search.
    Build(BuildArgs),
}

#[derive(ClapArgs)]
pub struct BuildArgs {
    /// Embedding file (any supported format).
    file: PathBuf,
    /// Output file (default: FILE.hnsw, where `similar --ann` looks for it).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Links per node (level 0 keeps twice as many), 2 to 256.
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// Candidate list size while building, 1 to 100000.
    #[arg(long, default_value_t = 200)]
    ef_construction: usize,
    /// Seed of the level draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Threads (1 = the same index on every run; 0 = all cores), at most 1024.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Candidate list size at which recall is measured, 1 to 100000.
    #[arg(long, default_value_t = 100)]
    ef: usize,
    /// Number of sample queries for the recall measurement.
    #[arg(long, default_value_t = 1000)]
    samples: usize,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(c: IndexCommand) -> Result<()> {
    match c {
        IndexCommand::Build(a) => build(a),
    }
}

fn build(a: BuildArgs) -> Result<()> {
    use super::check_range;
    use embers::train::limits::MAX_THREADS;
    check_range("m", a.m, 2, 256)?;
    check_range("ef-construction", a.ef_construction, 1, 100_000)?;
    check_range("ef", a.ef, 1, 100_000)?;
    check_range("samples", a.samples, 1, 1_000_000)?;
    check_range("threads", a.threads, 0, MAX_THREADS)?;
    let emb = a.read.load(&a.file)?;
    let params = HnswParams {
        m: a.m,
        ef_construction: a.ef_construction,
        seed: a.seed,
        // Never more threads than rows.
        threads: a.threads.min(emb.len().max(1)),
    };
    let t = Instant::now();
    let index = Hnsw::build(&emb, &params)?;
    let build_secs = t.elapsed().as_secs_f64();
    let out = a.output.clone().unwrap_or_else(|| Hnsw::path_for(&a.file));
    index.save(&out)?;
    let recall = index.recall(&emb, 10, a.ef, a.samples, a.seed)?;
    if a.json {
        let v = serde_json::json!({
            "index": out, "rows": emb.len(), "m": a.m, "ef_construction": a.ef_construction,
            "build_seconds": build_secs, "recall_at_10": recall, "ef": a.ef,
            "samples": a.samples.min(emb.len()),
        });
        println!("{v}");
    } else {
        println!(
            "{}: {} rows indexed in {:.2} s (m {}, ef_construction {})",
            out.display(),
            emb.len(),
            build_secs,
            a.m,
            a.ef_construction
        );
        println!(
            "recall@10 against exact search: {:.4} (ef {}, {} sample queries)",
            recall,
            a.ef,
            a.samples.min(emb.len())
        );
    }
    Ok(())
}
