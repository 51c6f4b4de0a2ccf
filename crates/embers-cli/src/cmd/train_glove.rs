//! `embers train glove`: vocabulary, co-occurrence counting and GloVe training in one command.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use clap::Args as ClapArgs;
use embers::progress::Progress;
use embers::text::Corpus;
use embers::train::cooccur::{self, CooccurConfig};
use embers::train::glove::{self, GloveConfig, GloveVectors};
use embers::VocabBuilder;

use super::vocab::TokenizerArgs;
use crate::progress::{Mode, Reporter};

#[derive(ClapArgs)]
pub struct Args {
    /// Corpus files, one sentence or paragraph per line, plain or gzip.
    #[arg(required = true)]
    corpus: Vec<PathBuf>,
    /// Output embeddings (native format).
    #[arg(short, long)]
    output: PathBuf,
    /// Vector dimensionality.
    #[arg(long, default_value_t = 100)]
    dim: usize,
    /// Context words on each side (left only with --left-only).
    #[arg(long, default_value_t = 15)]
    window: usize,
    /// Leave out words seen fewer times.
    #[arg(long, default_value_t = 5)]
    min_count: u64,
    /// Keep at most this many words (the most frequent).
    #[arg(long)]
    max_vocab: Option<usize>,
    /// Counts at or above this get full weight in the loss.
    #[arg(long, default_value_t = 100.0)]
    x_max: f64,
    /// Exponent of the weighting function (x/x_max)^alpha.
    #[arg(long, default_value_t = 0.75)]
    alpha: f64,
    /// Training iterations over the co-occurrence entries.
    #[arg(long, default_value_t = 15)]
    iter: u32,
    /// Initial AdaGrad learning rate of the vectors (biases use rate 1, as Stanford's glove).
    #[arg(long, default_value_t = 0.05)]
    eta: f32,
    /// Threads for counting and training (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Memory budget for counts and entries (e.g. 512M, 2G); beyond it they go to disk.
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    memory: usize,
    /// Random seed (initialisation and shuffling).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Count contexts on both sides (the default).
    #[arg(long, conflicts_with = "left_only")]
    symmetric: bool,
    /// Count left contexts only.
    #[arg(long)]
    left_only: bool,
    /// Output vectors: word+context (W + W̃) or word (W alone).
    #[arg(long, value_enum, default_value_t = VectorsArg::WordContext)]
    vectors: VectorsArg,
    /// Folder for temporary files when the budget is exceeded (default: the output's folder).
    #[arg(long)]
    temp_dir: Option<PathBuf>,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum VectorsArg {
    /// Word plus context vectors.
    #[value(name = "word+context")]
    WordContext,
    /// Word vectors only.
    Word,
}

/// Parses a byte size: a number with an optional K, M, G or T suffix (powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'B' => 1,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512M or 2G"))?;
    let bytes = v * mult as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < usize::MAX as f64) {
        return Err(format!("{s:?} is not a usable size"));
    }
    Ok(bytes as usize)
}

/// Runs the three stages; a raised `cancel` (Ctrl-C) stops the run with nothing written to the
/// output path and no temporary files left.
pub fn run(a: Args, progress: Mode, cancel: &AtomicBool) -> Result<()> {
    let corpus = Corpus::new(&a.corpus, a.tokenizer.tokenizer())?;
    let base = a.temp_dir.clone().unwrap_or_else(|| {
        let parent = a.output.parent().unwrap_or(Path::new(""));
        if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent.to_path_buf()
        }
    });
    let glove_config = GloveConfig {
        dim: a.dim,
        x_max: a.x_max,
        alpha: a.alpha,
        iter: a.iter,
        eta: a.eta,
        threads: a.threads,
        seed: a.seed,
        memory: a.memory,
        vectors: match a.vectors {
            VectorsArg::WordContext => GloveVectors::WordPlusContext,
            VectorsArg::Word => GloveVectors::Word,
        },
        temp_dir: None,
    };
    glove_config.validate()?;
    CooccurConfig {
        window: a.window,
        memory: a.memory,
        threads: a.threads,
        ..CooccurConfig::default()
    }
    .validate()?;
    // Every spilled file lives in this private folder, removed on every way out (a second
    // Ctrl-C included; see `private_temp_dir`).
    let private = super::train::private_temp_dir(&base, "glove")?;
    let temp_dir = Some(private.path().to_path_buf());
    let glove_config = GloveConfig {
        temp_dir: temp_dir.clone(),
        ..glove_config
    };

    let start = Instant::now();

    // 1. Vocabulary.
    let reporter = Reporter::new(progress, "vocabulary");
    let mut builder = VocabBuilder::new()
        .min_count(a.min_count)
        .max_size(a.max_vocab)
        .threads(a.threads);
    let tokens = builder.count_corpus(&corpus, |done| {
        reporter.report(&Progress::new("count", done, None, "bytes"))
    })?;
    reporter.finish();
    if cancel.load(Ordering::Relaxed) {
        return or_interrupted(Err(embers::Error::Cancelled), &a.output);
    }
    let vocab = builder.build()?;
    let t_vocab = start.elapsed().as_secs_f64();
    eprintln!(
        "vocabulary: {} words (of {tokens} tokens) in {t_vocab:.2}s",
        vocab.len()
    );

    // 2. Co-occurrences.
    let reporter = Reporter::new(progress, "co-occurrences");
    let config = CooccurConfig {
        window: a.window,
        symmetric: !a.left_only,
        memory: a.memory,
        threads: a.threads,
        temp_dir: temp_dir.clone(),
    };
    config.validate()?;
    let t0 = Instant::now();
    let cooc = cooccur::count(
        &corpus,
        &vocab,
        &config,
        &|p| reporter.report(p),
        Some(cancel),
    );
    reporter.finish();
    let cooc = or_interrupted(cooc, &a.output)?;
    let t_cooc = t0.elapsed().as_secs_f64();
    eprintln!(
        "co-occurrences: {} entries{} in {t_cooc:.2}s",
        cooc.len_bound(),
        if cooc.is_in_memory() {
            " in memory".to_string()
        } else {
            format!(" (at most; {} sorted runs on disk)", cooc.spilled_runs())
        }
    );

    // 3. Training.
    let reporter = Reporter::new(progress, "training");
    let t0 = Instant::now();
    let trained = glove::train(
        vocab,
        cooc,
        &glove_config,
        &|p: &Progress| {
            reporter.report(p);
            // Only the end of an iteration carries a loss: always show it, whatever the throttling.
            if let (Some(epoch), Some(loss)) = (p.epoch, p.loss) {
                if progress == Mode::Json {
                    eprintln!(
                        "{}",
                        serde_json::json!({"event": "iteration", "stage": "train", "epoch": epoch,
                            "loss": loss, "elapsed": t0.elapsed().as_secs_f64()})
                    );
                } else if progress != Mode::None {
                    reporter.finish();
                    eprintln!("iteration {epoch:3}: cost {loss:.6}");
                }
            }
        },
        Some(cancel),
    );
    reporter.finish();
    let (emb, report) = or_interrupted(trained, &a.output)?;
    let t_train = t0.elapsed().as_secs_f64();
    eprintln!(
        "training: {} entries × {} iterations in {t_train:.2}s ({}), final cost {:.6}{}",
        report.entries,
        a.iter,
        if report.buckets == 0 {
            "in memory".to_string()
        } else {
            format!("{} buckets on disk", report.buckets)
        },
        report.losses.last().copied().unwrap_or(f64::NAN),
        if report.skipped > 0 {
            format!(", {} non-finite updates skipped", report.skipped)
        } else {
            String::new()
        }
    );
    embers::io::native::write(&a.output, &emb)?;
    eprintln!(
        "{} × {} GloVe vectors → {} ({:.2}s in all)",
        emb.len(),
        emb.dims(),
        a.output.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The library's result, with cancellation (Ctrl-C) told as such.
fn or_interrupted<T>(r: embers::Result<T>, output: &Path) -> Result<T> {
    match r {
        Err(embers::Error::Cancelled) => anyhow::bail!(
            "training interrupted; nothing written to {}",
            output.display()
        ),
        r => Ok(r?),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("0").is_err());
    }
}
