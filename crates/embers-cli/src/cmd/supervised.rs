//! `embers train supervised` and `embers quantize` on supervised models: fastText's
//! `supervised` and `quantize` commands, with its option names (camelCase ones as aliases).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args as ClapArgs;
use embers::supervised::quantize::{quantize, QuantizeConfig};
use embers::supervised::train::{train, Loss, SupervisedConfig};
use embers::supervised::Classifier;

use crate::progress::{Mode, Reporter};

#[derive(ClapArgs)]
pub struct SupArgs {
    /// Training file: one example a line, labels as `__label__x` tokens.
    input: PathBuf,
    /// Output model (`.bin`, loaded by `fasttext` as is).
    #[arg(short, long)]
    output: PathBuf,
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Vector dimension.
    #[arg(long, default_value_t = 100)]
    dim: usize,
    /// Context window (stored in the model; supervised training does not use it).
    #[arg(long, default_value_t = 5)]
    ws: i32,
    /// Passes over the data.
    #[arg(long, default_value_t = 5)]
    epoch: u32,
    /// Minimal word count.
    #[arg(long, alias = "minCount", default_value_t = 1)]
    min_count: i64,
    /// Minimal label count.
    #[arg(long, alias = "minCountLabel", default_value_t = 0)]
    min_count_label: i64,
    /// Negatives per example (loss ns).
    #[arg(long, default_value_t = 5)]
    neg: usize,
    /// Word n-gram length.
    #[arg(long, alias = "wordNgrams", default_value_t = 1)]
    word_ngrams: u32,
    /// Hash buckets for word and character n-grams (0 without either, as fastText sets it).
    #[arg(long, default_value_t = 2_000_000)]
    bucket: u32,
    /// Shortest character n-gram.
    #[arg(long, default_value_t = 0)]
    minn: u32,
    /// Longest character n-gram (0: none).
    #[arg(long, default_value_t = 0)]
    maxn: u32,
    /// Loss: softmax, ns, hs, ova.
    #[arg(long, default_value = "softmax")]
    loss: String,
    /// Worker threads (0: all cores).
    #[arg(long, alias = "threads", default_value_t = 0)]
    thread: usize,
    /// Label prefix.
    #[arg(long, default_value = "__label__")]
    label: String,
    /// Pretrained word vectors (`.vec` text) for the input rows.
    #[arg(long, alias = "pretrainedVectors")]
    pretrained_vectors: Option<PathBuf>,
    /// Tokens between learning-rate updates.
    #[arg(long, alias = "lrUpdateRate", default_value_t = 100)]
    lr_update_rate: u64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn threads(n: usize) -> usize {
    if n == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        n
    }
}

pub fn train_run(a: SupArgs, progress: Mode) -> Result<()> {
    let config = SupervisedConfig {
        lr: a.lr,
        dim: a.dim,
        ws: a.ws,
        epoch: a.epoch,
        min_count: a.min_count,
        min_count_label: a.min_count_label,
        neg: a.neg,
        word_ngrams: a.word_ngrams,
        loss: a.loss.parse::<Loss>()?,
        bucket: a.bucket,
        minn: a.minn,
        maxn: a.maxn,
        threads: threads(a.thread),
        lr_update_rate: a.lr_update_rate,
        label: a.label.clone(),
        seed: a.seed,
        pretrained: a.pretrained_vectors.clone(),
        ..SupervisedConfig::default()
    };
    let reporter = Reporter::new(progress, "train supervised");
    let t = Instant::now();
    let model = train(&a.input, &config, Some(&|p| reporter.report(p)), None)?;
    reporter.finish();
    let secs = t.elapsed().as_secs_f64();
    model.write(&a.output)?;
    eprintln!(
        "{} words, {} labels, {} input rows × {}; trained in {secs:.2} s → {}",
        model.dict.nwords(),
        model.nlabels(),
        model.input.rows(),
        model.args.dim,
        a.output.display()
    );
    Ok(())
}

/// The `fasttext quantize` options of `embers quantize`.
#[derive(ClapArgs, Clone)]
pub struct QuantArgs {
    /// Supervised models: keep the N input rows of largest norm (0: all).
    #[arg(long, default_value_t = 0)]
    pub cutoff: usize,
    /// Supervised models: retrain after the cutoff (needs --input).
    #[arg(long)]
    pub retrain: bool,
    /// Supervised models: quantize the norms separately.
    #[arg(long)]
    pub qnorm: bool,
    /// Supervised models: quantize the output matrix too.
    #[arg(long)]
    pub qout: bool,
    /// Supervised models: columns per sub-quantizer.
    #[arg(long, default_value_t = 2)]
    pub dsub: usize,
    /// Supervised models: the training data, for --retrain.
    #[arg(long = "input")]
    pub train_input: Option<PathBuf>,
    /// Supervised models, --retrain: passes over the data (5).
    #[arg(long)]
    pub epoch: Option<u32>,
    /// Supervised models, --retrain: learning rate (0.05).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Supervised models, --retrain: worker threads (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub thread: usize,
}

impl QuantArgs {
    /// True when any option was given (they only apply to supervised models).
    pub fn is_set(&self) -> bool {
        self.cutoff != 0
            || self.retrain
            || self.qnorm
            || self.qout
            || self.dsub != 2
            || self.train_input.is_some()
            || self.epoch.is_some()
            || self.lr.is_some()
            || self.thread != 0
    }
}

/// True when `path` starts like a supervised fastText model (current layout, model code 3).
pub fn is_supervised_model(path: &Path) -> bool {
    let mut head = [0u8; 40];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok();
    let i = |k: usize| i32::from_le_bytes(head[4 * k..4 * k + 4].try_into().unwrap());
    ok && i(0) == embers::io::fasttext::MAGIC && i(9) == embers::io::fasttext::model::SUPERVISED
}

pub fn quantize_run(input: &Path, output: &Path, q: &QuantArgs, progress: Mode) -> Result<()> {
    let model = Classifier::read(input)?;
    let data = match &q.train_input {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("{}", p.display()))?),
        None => None,
    };
    if q.retrain && data.is_none() {
        anyhow::bail!("--retrain needs the training data: --input TRAIN.txt");
    }
    let mut train = SupervisedConfig {
        threads: threads(q.thread),
        ..SupervisedConfig::default()
    };
    // fastText's `quantize` defaults for the retraining: epoch 5, lr 0.05.
    train.epoch = q.epoch.unwrap_or(5);
    train.lr = q.lr.unwrap_or(0.05);
    train.neg = model.args.neg.max(1) as usize;
    let config = QuantizeConfig {
        cutoff: q.cutoff,
        retrain: q.retrain,
        qnorm: q.qnorm,
        qout: q.qout,
        dsub: q.dsub,
        train,
        seed: 0,
    };
    let reporter = Reporter::new(progress, "quantize");
    let t = Instant::now();
    let qm = quantize(
        &model,
        &config,
        data.as_deref(),
        Some(&|p| reporter.report(p)),
        None,
    )?;
    reporter.finish();
    qm.write(output)?;
    let before = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
    let after = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    println!(
        "{} → {}: {} input rows ({} kept n-gram buckets), {} → {} bytes, quantized in {:.2} s",
        input.display(),
        output.display(),
        qm.input.rows(),
        qm.dict.prune.len(),
        before,
        after,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
