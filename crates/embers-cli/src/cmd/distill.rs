//! `embers distill`: a static model from a sentence-transformers (BERT-family) folder, by
//! model2vec's recipe (every vocabulary token through the full model, mean pooling, PCA,
//! Zipf-based weighting). Writes a model2vec folder and a native embers file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use embers::sentence::{DistillOptions, SentenceTransformer, Weighting};

#[derive(ClapArgs)]
pub struct Args {
    /// A sentence-transformers or Hugging Face BERT-family folder (WordPiece tokenizer).
    #[arg(long)]
    model: PathBuf,
    /// Output model2vec folder (config.json, model.safetensors, tokenizer.json).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: PathBuf,
    /// Also the native embers file (default: OUT/native.safetensors).
    #[arg(long, value_name = "FILE")]
    native: Option<PathBuf>,
    /// PCA dimensions (0: no PCA).
    #[arg(long, default_value_t = 256)]
    dims: usize,
    /// Extra words, one a line, added to the vocabulary.
    #[arg(long, value_name = "WORDS")]
    vocab: Option<PathBuf>,
    /// Row weights by vocabulary rank: sif (model2vec 0.10: a/(a + Zipf probability)),
    /// zipf (log(1 + rank)), none.
    #[arg(long, value_enum, default_value_t = WeightingArg::Sif)]
    weighting: WeightingArg,
    /// SIF's a.
    #[arg(long, default_value_t = embers::sentence::DEFAULT_SIF_COEFFICIENT)]
    sif_coefficient: f64,
    /// Only the first N tokens of the vocabulary (quick looks).
    #[arg(long)]
    limit: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WeightingArg {
    Sif,
    Zipf,
    None,
}

pub fn run(a: Args, progress: crate::progress::Mode) -> Result<()> {
    let weighting = match a.weighting {
        WeightingArg::Sif => {
            if !(a.sif_coefficient > 0.0 && a.sif_coefficient < 1.0) {
                bail!(
                    "--sif-coefficient must be between 0 and 1 (exclusive), got {}",
                    a.sif_coefficient
                );
            }
            Weighting::Sif(a.sif_coefficient)
        }
        WeightingArg::Zipf => Weighting::Zipf,
        WeightingArg::None => Weighting::None,
    };
    let vocabulary = match &a.vocab {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading {}", p.display()))?
            .lines()
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    if a.limit == Some(0) {
        bail!("--limit must be at least 1");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    let start = Instant::now();
    let model = pool
        .install(|| SentenceTransformer::load(&a.model))
        .with_context(|| format!("loading {}", a.model.display()))?;
    let tokenizer = model.encoder().input().dir().join("tokenizer.json");
    let opts = DistillOptions {
        dims: (a.dims > 0).then_some(a.dims),
        weighting,
        vocabulary,
        limit: a.limit,
    };
    let reporter = crate::progress::Reporter::new(progress, "distill");
    let d = pool.install(|| {
        embers::sentence::distill(model.encoder(), &tokenizer, &opts, &|p| reporter.report(p))
    })?;
    reporter.finish();
    d.write_model2vec(&a.output)
        .with_context(|| format!("writing {}", a.output.display()))?;
    let native = a
        .native
        .clone()
        .unwrap_or_else(|| a.output.join("native.safetensors"));
    let emb = d.to_embeddings()?;
    embers::io::native::write(&native, &emb)
        .with_context(|| format!("writing {}", native.display()))?;
    eprintln!(
        "distilled {} tokens × {} dims (PCA kept {:.1}% of the variance, weighting {}) in {:.1} s \
         ({:.1} s forward); wrote {} and {}",
        d.tokens.len(),
        d.vectors.dims(),
        100.0 * d.explained,
        weighting.name(),
        start.elapsed().as_secs_f64(),
        d.forward_seconds,
        a.output.display(),
        native.display()
    );
    Ok(())
}
