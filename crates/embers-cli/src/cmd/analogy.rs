//! `embers analogy`: A is to B as C is to ? (gensim's 3CosAdd, or 3CosMul).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use embers::query;

use super::info::ReadArgs;

#[derive(ClapArgs)]
pub struct Args {
    /// Embedding file (any supported format).
    file: PathBuf,
    /// A (as in: A is to B as C is to ?).
    a: String,
    /// B.
    b: String,
    /// C.
    c: String,
    /// Number of answers.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Search only the first N words of the vocabulary.
    #[arg(long)]
    restrict_vocab: Option<usize>,
    /// Score by 3CosMul (Levy & Goldberg) instead of 3CosAdd.
    #[arg(long)]
    cosmul: bool,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(a: Args) -> Result<()> {
    let emb = a.read.load(&a.file)?;
    let (pos, neg) = ([a.b.as_str(), a.c.as_str()], [a.a.as_str()]);
    let neighbors = if a.cosmul {
        query::most_similar_cosmul(&emb, &pos, &neg, a.k, a.restrict_vocab)
    } else {
        query::most_similar(&emb, &pos, &neg, a.k, a.restrict_vocab)
    }
    .with_context(|| a.file.display().to_string())?;
    let q = serde_json::json!({ "a": a.a, "b": a.b, "c": a.c });
    let label = format!("{} is to {} as {} is to:", a.a, a.b, a.c);
    super::similar::print(&mut std::io::stdout().lock(), q, &label, &neighbors, a.json)
}
