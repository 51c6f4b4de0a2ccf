//! `embers init`: a randomly initialised matrix for a vocabulary, written in the native format.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use embers::layer::{init_matrix, Init};
use embers::{Embeddings, Vocab};

#[derive(ClapArgs)]
pub struct Args {
    /// Vocabulary file (token<TAB>count lines, as `embers vocab` writes).
    #[arg(long)]
    vocab: PathBuf,
    /// Vector dimensionality.
    #[arg(long, default_value_t = 100)]
    dim: usize,
    /// Initialiser: normal, uniform, xavier, word2vec, zeros.
    #[arg(long, default_value = "normal")]
    init: String,
    /// Scale: std for normal (default 1), a for uniform (default 0.1), gain for xavier (default 1).
    #[arg(long)]
    scale: Option<f32>,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Token to use for unknown words (must be in the vocabulary).
    #[arg(long)]
    unk: Option<String>,
    /// Output file (native format).
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(a: Args) -> Result<()> {
    let mut vocab = Vocab::load(&a.vocab)?;
    if let Some(unk) = &a.unk {
        vocab
            .set_unk(unk)
            .with_context(|| format!("--unk {unk:?}"))?;
    }
    let init = Init::from_name(&a.init, a.scale)?;
    let matrix = init_matrix(vocab.len(), a.dim, init, a.seed)?;
    let mut emb = Embeddings::new(vocab, matrix)?;
    let meta = emb.metadata_mut();
    meta.insert("init".into(), serde_json::to_string(&init)?);
    meta.insert("seed".into(), a.seed.to_string());
    embers::io::native::write(&a.output, &emb)?;
    eprintln!(
        "{} × {} matrix ({}, seed {}) → {}",
        emb.len(),
        emb.dims(),
        init.name(),
        a.seed,
        a.output.display()
    );
    Ok(())
}
