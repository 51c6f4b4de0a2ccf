//! `embers similar`: nearest neighbours of words, exact or through the HNSW index.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use embers::query::{self, Neighbor};
use embers::search::{self, Ann, Hnsw, PqScan, Screening, Search};
use embers::Embeddings;

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding file (any supported format).
    file: PathBuf,
    /// Words to find neighbours of (one query each).
    #[arg(required = true)]
    words: Vec<String>,
    /// Number of neighbours.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Search only the first N words of the vocabulary (exact search only).
    #[arg(long, conflicts_with = "ann")]
    restrict_vocab: Option<usize>,
    /// Use the HNSW index FILE.hnsw (build it with `embers index build FILE`).
    #[arg(long)]
    ann: bool,
    /// Candidate list size of the approximate search (larger: slower, more accurate).
    #[arg(long, default_value_t = 100, requires = "ann")]
    ef: usize,
    /// The index file, when not FILE.hnsw.
    #[arg(long, requires = "ann")]
    index: Option<PathBuf>,
    /// Score 4-bit PQ codes with the f32 lookup tables on every row instead of the fast scan
    /// (same answers, slower; for comparison).
    #[arg(long, conflicts_with = "ann")]
    float_adc: bool,
    /// One JSON object per query.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

/// Opens the index of `file` (or `index`) for `emb`, with a hint when it is missing.
pub fn open_index(
    file: &std::path::Path,
    index: Option<&PathBuf>,
    emb: &Embeddings,
) -> Result<Hnsw> {
    let path = index.cloned().unwrap_or_else(|| Hnsw::path_for(file));
    if !path.exists() {
        anyhow::bail!(
            "{}: no index; build one with `embers index build {}`",
            path.display(),
            file.display()
        );
    }
    Ok(Hnsw::open(&path, emb)?)
}

/// Prints one query's neighbours as a table or a JSON line.
pub fn print(
    out: &mut impl Write,
    query: serde_json::Value,
    label: &str,
    neighbors: &[Neighbor],
    json: bool,
) -> Result<()> {
    if json {
        let n: Vec<serde_json::Value> = neighbors
            .iter()
            .map(|n| serde_json::json!({ "word": n.word, "score": n.score }))
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({ "query": query, "neighbors": n })
        )?;
    } else {
        writeln!(out, "{label}")?;
        for (i, n) in neighbors.iter().enumerate() {
            writeln!(out, "{:>4}  {:<24} {:.6}", i + 1, n.word, n.score)?;
        }
    }
    Ok(())
}

pub fn run(a: Args) -> Result<()> {
    if a.ann {
        super::check_range("ef", a.ef, 1, 100_000)?;
    }
    let emb = a.read.load(&a.file)?;
    let words: Vec<&str> = a.words.iter().map(String::as_str).collect();
    // One process, one batch: the int8 screen would cost more to build than it saves.
    let searcher: Box<dyn Search + '_> = if a.ann {
        let path = a.index.clone().unwrap_or_else(|| Hnsw::path_for(&a.file));
        let index = open_index(&a.file, a.index.as_ref(), &emb)?;
        Box::new(Ann::new(&emb, index, a.ef, &path)?)
    } else {
        let scan = if a.float_adc {
            PqScan::Float
        } else {
            PqScan::Fast
        };
        search::default_with(&emb, Screening::Off, scan)
    };
    let results = query::neighbors_of_words(searcher.as_ref(), &words, a.k, a.restrict_vocab)
        .with_context(|| a.file.display().to_string())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (i, (word, n)) in words.iter().zip(&results).enumerate() {
        if i > 0 && !a.json {
            writeln!(out)?;
        }
        print(
            &mut out,
            serde_json::json!(word),
            &format!("neighbours of {word}:"),
            n,
            a.json,
        )?;
    }
    Ok(())
}
