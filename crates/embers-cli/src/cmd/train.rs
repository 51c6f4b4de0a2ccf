//! `embers train word2vec|fasttext`: train embeddings on a corpus and write them atomically.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args as ClapArgs, Subcommand};
use embers::io::Format;
use embers::progress::Progress;
use embers::subword::SubwordConfig;
use embers::text::Corpus;
use embers::train::fasttext::{self, FastTextConfig, NgramInit};
use embers::train::sampling::SigmoidKind;
use embers::train::word2vec::{self, Control, Model, Word2VecConfig};
use embers::Embeddings;

use crate::cmd::vocab::TokenizerArgs;
use crate::progress::{Mode, Reporter};

#[derive(Subcommand)]
pub enum TrainCommand {
    /// word2vec: skip-gram or CBOW, negative sampling or hierarchical softmax.
    Word2vec(W2vArgs),
    /// fastText-style: word vectors plus character n-gram vectors, so unknown words get vectors.
    Fasttext(FtArgs),
    /// GloVe: count distance-weighted co-occurrences (bounded memory), then fit them with AdaGrad.
    Glove(super::train_glove::Args),
    /// fastText's supervised classifier (labels as `__label__x`), written as a fastText `.bin`.
    Supervised(super::supervised::SupArgs),
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ModelArg {
    /// Skip-gram.
    Sg,
    /// Continuous bag of words.
    Cbow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SaturatedArg {
    /// No update (gensim).
    Skip,
    /// The full gradient (word2vec C, fastText).
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum NgramInitArg {
    /// Every row uniform in ±1/dim.
    Uniform,
    /// Word rows uniform in ±1/dim, n-gram rows zero.
    Zero,
    /// fastText 0.9.2's layout for the run's thread count: the first min(threads, 10)/10 of
    /// the matrix uniform, the rest zero.
    Fasttext,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ReadOrderArg {
    /// Each epoch reads the corpus from the start, in order (gensim).
    InOrder,
    /// Every thread reads the corpus for itself, thread t from t/threads of it on, around the
    /// end and on at its own pace (fastText, word2vec C).
    Spread,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum TokenCountArg {
    /// The vocabulary's tokens: exactly --epochs passes (word2vec, gensim).
    Vocab,
    /// Every token of the corpus, out-of-vocabulary ones included (fastText).
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SigmoidArg {
    /// ±6, 1,000 entries (word2vec C, gensim).
    Word2vec,
    /// ±8, 512 steps (fastText).
    Fasttext,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SgInputArg {
    /// Each context word predicts the centre word (word2vec C, gensim).
    Context,
    /// The centre word predicts each context word (fastText).
    Centre,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LrDecayArg {
    /// By the words trained (word2vec C, fastText).
    Words,
    /// By the lines read, each epoch's rate falling with its lines (gensim's `Word2Vec`).
    Lines,
}

/// Settings shared by both trainers (word2vec/gensim names).
#[derive(ClapArgs)]
pub struct Common {
    /// Corpus files, one sentence per line, plain or gzip.
    #[arg(required = true)]
    corpus: Vec<PathBuf>,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
    /// Output format: native, word2vec (text), word2vec-binary, fasttext (.bin, subword
    /// models), glove, npy, safetensors.
    #[arg(long, default_value = "native")]
    to: String,
    /// Architecture.
    #[arg(long, value_enum, default_value_t = ModelArg::Sg)]
    model: ModelArg,
    /// CBOW: sum the context vectors instead of averaging them.
    #[arg(long)]
    cbow_sum: bool,
    /// Vector dimensions.
    #[arg(long, default_value_t = 100)]
    dim: usize,
    /// Maximum context distance (each centre word uses a window drawn from 1..=window).
    #[arg(long, default_value_t = 5)]
    window: usize,
    /// Negative samples per example (0: none; then --hs is needed).
    #[arg(long, default_value_t = 5)]
    negative: usize,
    /// Hierarchical softmax.
    #[arg(long)]
    hs: bool,
    /// Subsampling threshold for frequent words (0: off). Default: 1e-3 (word2vec), 1e-4 (fastText).
    #[arg(long)]
    sample: Option<f64>,
    /// Drop words seen fewer times.
    #[arg(long, default_value_t = 5)]
    min_count: u64,
    /// Keep at most this many words (the most frequent).
    #[arg(long)]
    max_vocab: Option<usize>,
    /// Passes over the corpus.
    #[arg(long, default_value_t = 5)]
    epochs: u32,
    /// Starting learning rate, decayed linearly to --min-alpha. Default: 0.025 for sg and
    /// 0.05 for cbow (word2vec), 0.05 for fastText.
    #[arg(long)]
    alpha: Option<f32>,
    /// Learning rate at the end of training (gensim's min_alpha; 0 is fastText's end).
    /// Default: alpha × 1e-4 (word2vec C's floor).
    #[arg(long)]
    min_alpha: Option<f32>,
    /// Worker threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Skip-gram: share the negative samples among the context words of a centre word
    /// (Ji et al. 2016): fewer vector products per window, same expected gradient.
    #[arg(long)]
    shared_negatives: bool,
    /// Exponent of the unigram noise distribution of negative sampling. Default: 0.75
    /// (word2vec, gensim), 0.5 (fastText).
    #[arg(long)]
    ns_exponent: Option<f64>,
    /// Scores at the edge of the sigmoid table (|f| ≥ 6): `skip` makes no update (gensim),
    /// `full` applies the full gradient (word2vec C, fastText). Default: skip (word2vec),
    /// full (fastText).
    #[arg(long, value_enum)]
    saturated: Option<SaturatedArg>,
    /// Skip-gram: whose input vector predicts whom. `context`: each context word predicts the
    /// centre word (word2vec C, gensim); `centre`: the centre word predicts each context word
    /// (fastText). Default: context (word2vec), centre (fastText).
    #[arg(long, value_enum)]
    sg_input: Option<SgInputArg>,
    /// What the learning rate falls with: `words` trained (word2vec C, fastText) or `lines`
    /// read (gensim's `Word2Vec` given a corpus, which counts its progress in sentences; on a
    /// corpus of short and long lines the short ones get the higher rates). Default: lines
    /// (word2vec), words (fastText).
    #[arg(long, value_enum)]
    lr_decay: Option<LrDecayArg>,
    /// How the corpus is read: `in-order`, one reader for all threads, each epoch from the
    /// start (gensim), or `spread`: every thread reads for itself, thread t from t/threads of
    /// the corpus on, around the end and on at its own pace (fastText, word2vec C). Default:
    /// in-order (word2vec), spread (fastText).
    #[arg(long, value_enum)]
    read_order: Option<ReadOrderArg>,
    /// End each line with the word `</s>`, counted, subsampled and trained like any word
    /// (fastText). Default: false (word2vec), true (fastText).
    #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
    eos: Option<bool>,
    /// What the learning-rate schedule, the end of training and subsampling count against:
    /// `vocab`, the vocabulary's tokens, exactly --epochs passes (word2vec, gensim); or `all`,
    /// every token of the corpus, out-of-vocabulary ones (and `</s>`) included, so training
    /// runs a little more than --epochs passes and subsamples frequent words a little less
    /// (fastText). Default: vocab (word2vec), all (fastText).
    #[arg(long, value_enum)]
    token_count: Option<TokenCountArg>,
    /// The tabulated sigmoid: `word2vec` (±6, 1,000 entries) or `fasttext` (±8, 512 steps, exact
    /// 0/1 beyond). Default: word2vec (word2vec), fasttext (fastText).
    #[arg(long, value_enum)]
    sigmoid: Option<SigmoidArg>,
    /// Random seed; with --threads 1 the output is identical from run to run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    tokenizer: TokenizerArgs,
}

#[derive(ClapArgs)]
pub struct W2vArgs {
    #[command(flatten)]
    common: Common,
}

#[derive(ClapArgs)]
pub struct FtArgs {
    #[command(flatten)]
    common: Common,
    /// Shortest character n-gram.
    #[arg(long, default_value_t = 3)]
    minn: u32,
    /// Longest character n-gram (0: no n-grams).
    #[arg(long, default_value_t = 6)]
    maxn: u32,
    /// Number of n-gram hash buckets.
    #[arg(long, default_value_t = 2_000_000)]
    bucket: u32,
    /// How the input rows start: `uniform` (every row uniform in ±1/dim), `zero` (word rows
    /// uniform, n-gram rows zero), or `fasttext` (fastText 0.9.2 with this many threads: the
    /// first min(threads, 10)/10 of the matrix uniform, the rest zero).
    #[arg(long, value_enum, default_value_t = NgramInitArg::Uniform)]
    ngram_init: NgramInitArg,
}

impl Common {
    fn config(&self, defaults: &Word2VecConfig) -> Word2VecConfig {
        Word2VecConfig {
            model: match self.model {
                ModelArg::Sg => Model::SkipGram,
                ModelArg::Cbow => Model::Cbow,
            },
            cbow_mean: !self.cbow_sum,
            dim: self.dim,
            window: self.window,
            negative: self.negative,
            hs: self.hs,
            sample: self.sample.unwrap_or(defaults.sample),
            min_count: self.min_count,
            max_vocab: self.max_vocab,
            epochs: self.epochs,
            alpha: self.alpha.or(defaults.alpha),
            min_alpha: self.min_alpha.or(defaults.min_alpha),
            ns_exponent: self.ns_exponent.unwrap_or(defaults.ns_exponent),
            resample_negatives: defaults.resample_negatives,
            skip_saturated: self
                .saturated
                .map_or(defaults.skip_saturated, |s| s == SaturatedArg::Skip),
            context_input: self
                .sg_input
                .map_or(defaults.context_input, |s| s == SgInputArg::Context),
            decay_by_lines: self
                .lr_decay
                .map_or(defaults.decay_by_lines, |d| d == LrDecayArg::Lines),
            spread_readers: self
                .read_order
                .map_or(defaults.spread_readers, |o| o == ReadOrderArg::Spread),
            eos: self.eos.unwrap_or(defaults.eos),
            count_all_tokens: self
                .token_count
                .map_or(defaults.count_all_tokens, |t| t == TokenCountArg::All),
            sigmoid: self.sigmoid.map_or(defaults.sigmoid, |s| match s {
                SigmoidArg::Word2vec => SigmoidKind::Word2Vec,
                SigmoidArg::Fasttext => SigmoidKind::FastText,
            }),
            threads: self.threads,
            seed: self.seed,
            shared_negatives: self.shared_negatives,
        }
    }
}

/// Set by the Ctrl-C handler; training polls it.
static CANCEL: AtomicBool = AtomicBool::new(false);
/// Set by a second Ctrl-C when a temporary folder must be removed before leaving.
static LEAVE: AtomicBool = AtomicBool::new(false);
/// Whether a temporary folder is registered (then a second Ctrl-C leaves through the cleaner).
static ARMED: AtomicBool = AtomicBool::new(false);

fn install_ctrl_c() {
    let handler = || {
        if !CANCEL.swap(true, Ordering::SeqCst) {
            return; // First Ctrl-C: training stops soon and cleans up on its way out.
        }
        if ARMED.load(Ordering::SeqCst) && !LEAVE.swap(true, Ordering::SeqCst) {
            return; // Second Ctrl-C: the cleaner thread removes the temporary folder and leaves.
        }
        // Nothing to clean (or a third Ctrl-C): leave at once; nothing has been written to the
        // output path yet.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    };
    // SAFETY: the handler only touches atomics and calls _exit, all async-signal-safe.
    let _ = unsafe { signal_hook_registry::register(libc::SIGINT, handler) };
}

/// A private temporary folder (`.embers-WHAT-PID-XXXXXX`, mode 0700; what killed runs left
/// there is removed first: `embers::train::cooccur::private_temp_dir`) under `base`, removed when
/// the value is dropped (success, error, first Ctrl-C) and by a second Ctrl-C, which otherwise
/// ends the process at once: a thread watches for it, removes the folder, and exits with code 130.
pub fn private_temp_dir(base: &std::path::Path, what: &str) -> Result<tempfile::TempDir> {
    let dir = embers::train::cooccur::private_temp_dir(base, what)
        .with_context(|| format!("creating a temporary folder in {}", base.display()))?;
    let path = dir.path().to_path_buf();
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if LEAVE.load(Ordering::SeqCst) {
            // Workers may still create files while it goes: try a few times.
            for _ in 0..50 {
                if std::fs::remove_dir_all(&path).is_ok() || !path.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            eprintln!("embers: interrupted again; temporary files removed, nothing written");
            // SAFETY: ending the process; no destructor needs to run.
            unsafe { libc::_exit(130) };
        }
    });
    ARMED.store(true, Ordering::SeqCst);
    Ok(dir)
}

pub fn run(cmd: TrainCommand, progress: Mode) -> Result<()> {
    match cmd {
        TrainCommand::Glove(a) => {
            install_ctrl_c();
            super::train_glove::run(a, progress, &CANCEL)
        }
        TrainCommand::Supervised(a) => super::supervised::train_run(a, progress),
        cmd => run_word2vec(cmd, progress),
    }
}

/// word2vec and fastText-style training (GloVe has its own pipeline in `train_glove`).
fn run_word2vec(cmd: TrainCommand, progress: Mode) -> Result<()> {
    let (common, label) = match &cmd {
        TrainCommand::Word2vec(a) => (&a.common, "word2vec"),
        TrainCommand::Fasttext(a) => (&a.common, "fasttext"),
        TrainCommand::Glove(_) | TrainCommand::Supervised(_) => {
            unreachable!("dispatched in run")
        }
    };
    let format = Format::from_name(&common.to)?;
    let corpus = Corpus::new(&common.corpus, common.tokenizer.tokenizer())?;
    // Check the settings before counting the corpus.
    let w2v_default = Word2VecConfig::default();
    let ft_default = FastTextConfig::default();
    let (w2v, ft) = match &cmd {
        TrainCommand::Word2vec(_) => {
            let c = common.config(&w2v_default);
            c.validate()?;
            (Some(c), None)
        }
        TrainCommand::Fasttext(a) => {
            let c = FastTextConfig {
                word2vec: common.config(&ft_default.word2vec),
                subwords: SubwordConfig {
                    minn: a.minn,
                    maxn: a.maxn,
                    buckets: a.bucket,
                },
                ngram_init: match a.ngram_init {
                    NgramInitArg::Uniform => NgramInit::Uniform,
                    NgramInitArg::Zero => NgramInit::Zero,
                    NgramInitArg::Fasttext => NgramInit::FastText,
                },
            };
            c.validate()?;
            (None, Some(c))
        }
        TrainCommand::Glove(_) | TrainCommand::Supervised(_) => {
            unreachable!("dispatched in run")
        }
    };
    if let Some(parent) = common.output.parent() {
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            anyhow::bail!("output folder {} does not exist", parent.display());
        }
    }
    install_ctrl_c();
    let start = Instant::now();
    let counting = Reporter::new(progress, "counting");
    let training = Reporter::new(progress, label);
    let sink = |p: &Progress| {
        if p.stage == "count" {
            counting.report(p);
        } else {
            counting.finish();
            training.report(p);
        }
    };
    let control = Control {
        progress: Some(&sink),
        cancel: Some(&CANCEL),
    };
    let result = match (&w2v, &ft) {
        (Some(c), _) => word2vec::train(&corpus, c, control),
        (_, Some(c)) => fasttext::train(&corpus, c, control),
        _ => unreachable!("one of the two configs is set"),
    };
    counting.finish();
    training.finish();
    let emb: Embeddings = match result {
        Err(embers::Error::Cancelled) => {
            anyhow::bail!(
                "training interrupted; nothing written to {}",
                common.output.display()
            )
        }
        r => r?,
    };
    let secs = start.elapsed().as_secs_f64();
    match (&ft, format) {
        // A fastText .bin with the training settings in its header.
        (Some(c), Format::FastTextBin) => {
            use embers::io::fasttext::{loss, model, FastTextArgs, FastTextModel};
            let w = &c.word2vec;
            let int = |v: usize| i32::try_from(v).unwrap_or(i32::MAX);
            let args = FastTextArgs {
                ws: int(w.window),
                epoch: i32::try_from(w.epochs).unwrap_or(i32::MAX),
                min_count: i32::try_from(w.min_count).unwrap_or(i32::MAX),
                neg: int(w.negative),
                loss: if w.hs { loss::HS } else { loss::NS },
                model: match w.model {
                    Model::SkipGram => model::SKIPGRAM,
                    Model::Cbow => model::CBOW,
                },
                t: w.sample,
                ..FastTextArgs::default()
            };
            FastTextModel::from_embeddings(&emb, args)?.write_bin(&common.output)
        }
        _ => embers::io::write(&common.output, &emb, format),
    }
    .with_context(|| format!("writing {}", common.output.display()))?;
    let words: u64 = emb.vocab().total_count() * common.epochs as u64;
    eprintln!(
        "trained {} vectors × {} dims on {} words ({} epochs) in {secs:.1}s ({:.0} words/s) → {}",
        emb.len(),
        emb.dims(),
        emb.vocab().total_count(),
        common.epochs,
        words as f64 / secs.max(1e-9),
        common.output.display()
    );
    Ok(())
}
