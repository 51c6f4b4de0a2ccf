//! Supervised training, fastText's `supervised` command: the dictionary of words and labels
//! (`minCount`, `minCountLabel`, sorted by type then count), input rows initialised uniformly in
//! ±1/dim, output rows zero, then Hogwild SGD over the lines with a learning rate decaying
//! linearly with the tokens processed (updated every `lrUpdateRate` tokens). Each example's
//! hidden vector is the mean of its input rows; the loss (softmax, ns, hs, ova) updates the
//! output rows and accumulates the gradient, which is divided by the number of input rows and
//! added to each of them, as fastText does.
//!
//! Unlike fastText, the lines are tokenised and hashed once (into input-row lists) instead of
//! once per epoch; the corpus is held in memory as those lists.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use super::dict::{Dictionary, EOS};
use super::{build_tree, Classifier, Matrix};
use crate::error::{Error, Result};
use crate::io::fasttext::{loss, model, DictEntry, EntryType, FastTextArgs};
use crate::progress::{Progress, ProgressFn};
use crate::rng::Rng;
use crate::storage::DenseMatrix;
use crate::train::word2vec::Shared;

/// Loss functions of supervised training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Full softmax over the labels (fastText's default for `supervised`).
    Softmax,
    /// Negative sampling (labels drawn by count^0.5).
    Ns,
    /// Hierarchical softmax over a Huffman tree of the label counts.
    Hs,
    /// One-vs-all: an independent binary logistic loss per label.
    Ova,
}

impl Loss {
    /// fastText's code for the loss.
    pub fn code(self) -> i32 {
        match self {
            Loss::Softmax => loss::SOFTMAX,
            Loss::Ns => loss::NS,
            Loss::Hs => loss::HS,
            Loss::Ova => loss::OVA,
        }
    }
}

impl std::str::FromStr for Loss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "softmax" => Ok(Loss::Softmax),
            "ns" => Ok(Loss::Ns),
            "hs" => Ok(Loss::Hs),
            "ova" | "one-vs-all" => Ok(Loss::Ova),
            _ => Err(Error::invalid(
                "loss",
                format!("{s:?}: use softmax, ns, hs or ova"),
            )),
        }
    }
}

/// Settings of supervised training, with fastText's names and defaults.
#[derive(Debug, Clone)]
pub struct SupervisedConfig {
    /// Learning rate (`lr`, 0.1).
    pub lr: f64,
    /// Dimension (`dim`, 100).
    pub dim: usize,
    /// Context window (`ws`, 5; stored, unused by supervised training).
    pub ws: i32,
    /// Epochs (`epoch`, 5).
    pub epoch: u32,
    /// Minimal word count (`minCount`, 1).
    pub min_count: i64,
    /// Minimal label count (`minCountLabel`, 0).
    pub min_count_label: i64,
    /// Negatives sampled (`neg`, 5).
    pub neg: usize,
    /// Word n-gram length (`wordNgrams`, 1).
    pub word_ngrams: u32,
    /// Loss (`loss`, softmax).
    pub loss: Loss,
    /// Hash buckets for word and character n-grams (`bucket`, 2,000,000; 0 when
    /// `word_ngrams` ≤ 1 and `maxn` = 0, as fastText sets it).
    pub bucket: u32,
    /// Shortest character n-gram (`minn`, 0).
    pub minn: u32,
    /// Longest character n-gram (`maxn`, 0: none).
    pub maxn: u32,
    /// Worker threads (`thread`).
    pub threads: usize,
    /// Tokens between learning-rate updates (`lrUpdateRate`, 100).
    pub lr_update_rate: u64,
    /// Sampling threshold (`t`, 1e-4; stored, unused by supervised training).
    pub t: f64,
    /// Label prefix (`label`, `__label__`).
    pub label: String,
    /// Seed of the initialisation and of each thread's generator.
    pub seed: u64,
    /// Pretrained word vectors (`.vec` text) for the input rows (`pretrainedVectors`).
    pub pretrained: Option<std::path::PathBuf>,
}

impl Default for SupervisedConfig {
    fn default() -> Self {
        SupervisedConfig {
            lr: 0.1,
            dim: 100,
            ws: 5,
            epoch: 5,
            min_count: 1,
            min_count_label: 0,
            neg: 5,
            word_ngrams: 1,
            loss: Loss::Softmax,
            bucket: 2_000_000,
            minn: 0,
            maxn: 0,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            lr_update_rate: 100,
            t: 1e-4,
            label: super::LABEL_PREFIX.to_string(),
            seed: 0,
            pretrained: None,
        }
    }
}

impl SupervisedConfig {
    fn validate(&self) -> Result<()> {
        let bad = |n: &str, m: &str| Err(Error::invalid(n, m));
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", "must be a positive number");
        }
        if self.dim == 0 || self.dim > 100_000 {
            return bad("dim", "must be in 1..=100000");
        }
        if self.epoch == 0 {
            return bad("epoch", "must be at least 1");
        }
        if self.threads == 0 {
            return bad("thread", "must be at least 1");
        }
        if self.maxn > 0 && self.minn > self.maxn {
            return bad("minn", "must not exceed maxn");
        }
        if self.bucket > i32::MAX as u32 {
            return bad("bucket", "too large");
        }
        if self.label.is_empty() {
            return bad("label", "the label prefix must not be empty");
        }
        if self.loss == Loss::Ns && self.neg == 0 {
            return bad("neg", "negative sampling needs at least one negative");
        }
        Ok(())
    }

    /// The bucket count fastText uses: 0 without word n-grams and character n-grams.
    pub fn effective_bucket(&self) -> u32 {
        if self.word_ngrams <= 1 && self.maxn == 0 {
            0
        } else {
            self.bucket
        }
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

/// fastText's `readFromFile` + `threshold`: counts every token (line ends as `</s>`), keeps
/// words seen `min_count` times and labels `min_count_label` times, words first, each kind by
/// decreasing count (ties in order of first appearance).
fn add_token<'a>(
    tok: &'a [u8],
    map: &mut FxHashMap<&'a [u8], usize>,
    items: &mut Vec<(&'a [u8], i64)>,
) {
    match map.get(tok) {
        Some(&i) => items[i].1 += 1,
        None => {
            map.insert(tok, items.len());
            items.push((tok, 1));
        }
    }
}

fn count_dictionary<'a>(
    data: &'a [u8],
    config: &SupervisedConfig,
    extra_words: &'a [String],
) -> Result<(Vec<DictEntry>, i64)> {
    let prefix = config.label.as_bytes();
    let mut map: FxHashMap<&'a [u8], usize> = FxHashMap::default();
    let mut items: Vec<(&'a [u8], i64)> = Vec::new();
    let mut ntokens = 0i64;
    let add = add_token;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if is_space(b) {
            if b == b'\n' {
                add(EOS, &mut map, &mut items);
                ntokens += 1;
            }
            i += 1;
            continue;
        }
        let s = i;
        while i < data.len() && !is_space(data[i]) {
            i += 1;
        }
        add(&data[s..i], &mut map, &mut items);
        ntokens += 1;
    }
    let keep = |items: &mut Vec<(&'a [u8], i64)>, min_w: i64, min_l: i64| {
        let is_label = |w: &[u8]| w.starts_with(prefix);
        let mut idx: Vec<usize> = (0..items.len()).collect();
        idx.sort_by(|&a, &b| {
            (is_label(items[a].0), -items[a].1).cmp(&(is_label(items[b].0), -items[b].1))
        });
        let kept: Vec<(&[u8], i64)> = idx
            .into_iter()
            .map(|k| items[k])
            .filter(|&(w, c)| if is_label(w) { c >= min_l } else { c >= min_w })
            .collect();
        *items = kept;
    };
    keep(&mut items, config.min_count, config.min_count_label);
    if !extra_words.is_empty() {
        let mut map: FxHashMap<&'a [u8], usize> = items
            .iter()
            .enumerate()
            .map(|(i, &(w, _))| (w, i))
            .collect();
        for w in extra_words {
            add(w.as_bytes(), &mut map, &mut items);
        }
        keep(&mut items, 1, 0);
    }
    let mut entries = Vec::with_capacity(items.len());
    for (w, c) in items {
        let word = std::str::from_utf8(w)
            .map_err(|_| {
                Error::invalid(
                    "input",
                    format!(
                        "the token {:?} is not valid UTF-8",
                        String::from_utf8_lossy(w)
                    ),
                )
            })?
            .to_string();
        let entry_type = if w.starts_with(prefix) {
            EntryType::Label
        } else {
            EntryType::Word
        };
        entries.push(DictEntry {
            word,
            count: c,
            entry_type,
        });
    }
    Ok((entries, ntokens))
}

struct Example {
    rows: Vec<i32>,
    labels: Vec<i32>,
    tokens: u32,
}

/// Loss-specific state shared by the workers.
struct LossState {
    sigmoid: Vec<f32>,
    /// ns: cumulative count^0.5 of the labels.
    cumulative: Vec<f64>,
    /// hs: per label, (output row, code) from the leaf to the root.
    paths: Vec<Vec<(u32, bool)>>,
}

impl LossState {
    #[inline]
    fn sigmoid(&self, x: f32) -> f32 {
        if x < -8.0 {
            0.0
        } else if x > 8.0 {
            1.0
        } else {
            self.sigmoid[((x + 8.0) * 512.0 / 8.0 / 2.0) as usize]
        }
    }
}

#[inline]
fn binary_logistic(
    out: &Shared,
    st: &LossState,
    target: u32,
    positive: bool,
    lr: f32,
    hidden: &[f32],
    grad: &mut [f32],
) {
    let score = st.sigmoid(out.dot(hidden, target));
    let alpha = lr * (positive as i32 as f32 - score);
    out.add_row_to(alpha, target, grad);
    out.add_to_row(alpha, hidden, target);
}

/// Trains a supervised model on the labelled lines of `path` (`__label__x ... text`, one
/// example a line).
pub fn train(
    path: &Path,
    config: &SupervisedConfig,
    progress: Option<&ProgressFn<'_>>,
    cancel: Option<&AtomicBool>,
) -> Result<Classifier> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    train_bytes(&data, config, progress, cancel).map_err(|e| match e {
        Error::InvalidArgument { name, message } if name == "input" => {
            Error::at_field(path, "input", message)
        }
        e => e,
    })
}

/// [`train`] on the bytes of a file.
pub fn train_bytes(
    data: &[u8],
    config: &SupervisedConfig,
    progress: Option<&ProgressFn<'_>>,
    cancel: Option<&AtomicBool>,
) -> Result<Classifier> {
    config.validate()?;
    let pretrained = match &config.pretrained {
        Some(p) => {
            let opts = crate::io::ReadOptions {
                format: Some(crate::io::Format::Word2VecText),
                ..Default::default()
            };
            let emb = crate::io::read(p, &opts)?;
            if emb.dims() != config.dim {
                return Err(Error::invalid(
                    "pretrainedVectors",
                    format!(
                        "{}: dimension {} differs from dim {}",
                        p.display(),
                        emb.dims(),
                        config.dim
                    ),
                ));
            }
            Some(emb)
        }
        None => None,
    };
    let extra: Vec<String> = pretrained
        .as_ref()
        .map(|e| e.vocab().words().iter().map(|w| w.to_string()).collect())
        .unwrap_or_default();
    let (entries, ntokens) = count_dictionary(data, config, &extra)?;
    let nwords = entries
        .iter()
        .filter(|e| e.entry_type == EntryType::Word)
        .count();
    let nlabels = entries.len() - nwords;
    if nwords == 0 {
        return Err(Error::invalid("input", "no words (after minCount)"));
    }
    if nlabels == 0 {
        return Err(Error::invalid(
            "input",
            format!(
                "no labels: lines must carry labels starting with {:?}",
                config.label
            ),
        ));
    }
    let bucket = config.effective_bucket();
    let args = FastTextArgs {
        dim: config.dim as i32,
        ws: config.ws,
        epoch: config.epoch as i32,
        min_count: config.min_count.clamp(0, i32::MAX as i64) as i32,
        neg: config.neg as i32,
        word_ngrams: config.word_ngrams as i32,
        loss: config.loss.code(),
        model: model::SUPERVISED,
        bucket: bucket as i32,
        minn: config.minn as i32,
        maxn: config.maxn as i32,
        lr_update_rate: config.lr_update_rate.min(i32::MAX as u64) as i32,
        t: config.t,
    };
    let raw = entries.iter().map(|e| e.word.as_bytes().to_vec()).collect();
    let dict = Dictionary::new(entries, raw, ntokens, -1, Vec::new(), &args)?;
    let dim = config.dim;
    let in_rows = nwords + bucket as usize;
    let in_len = in_rows
        .checked_mul(dim)
        .filter(|&n| n <= 1 << 32)
        .ok_or_else(|| Error::invalid("bucket", "input matrix too large"))?;
    // Input rows uniform in ±1/dim, seeded per block of rows (independent of the threads).
    let mut input = vec![0f32; in_len];
    {
        use rayon::prelude::*;
        let bound = 1.0 / dim as f32;
        let base = Rng::new(config.seed ^ 0x5eed_f00d);
        input
            .par_chunks_mut(dim * 4096)
            .enumerate()
            .for_each(|(b, chunk)| {
                let mut r = base.fork(b as u64);
                for v in chunk {
                    *v = r.range(-bound, bound);
                }
            });
    }
    let out_rows = nlabels;
    let output = vec![0f32; out_rows * dim];
    // The classifier's tokenizer needs a model; start from empty matrices and fill in below.
    let mut model = Classifier::new(
        args,
        Some(crate::io::fasttext::VERSION),
        dict,
        Matrix::Dense(DenseMatrix::zeros(in_rows, dim)),
        Matrix::Dense(DenseMatrix::zeros(out_rows, dim)),
    )?;
    if let Some(emb) = &pretrained {
        let mut row = vec![0f32; dim];
        for (i, w) in emb.vocab().words().iter().enumerate() {
            let h = crate::subword::fasttext_hash(w.as_bytes());
            if let Some(id) = model.dict.find(w.as_bytes(), h) {
                if id < nwords {
                    emb.storage().row_into(i, &mut row);
                    input[id * dim..(id + 1) * dim].copy_from_slice(&row);
                }
            }
        }
    }
    model.input = Matrix::Dense(DenseMatrix::new(in_rows, dim, input)?);
    model.output = Matrix::Dense(DenseMatrix::new(out_rows, dim, output)?);
    fit(&mut model, data, config, progress, cancel)?;
    Ok(model)
}

/// Runs fastText's SGD over the lines of `data` on `model`'s dense matrices (training, or the
/// retraining step of quantization after pruning). `config` gives lr, epoch, threads, loss
/// settings (`neg`), the seed and the learning-rate update rate.
pub(crate) fn fit(
    model: &mut Classifier,
    data: &[u8],
    config: &SupervisedConfig,
    progress: Option<&ProgressFn<'_>>,
    cancel: Option<&AtomicBool>,
) -> Result<()> {
    let dim = model.args.dim as usize;
    let nlabels = model.nlabels();
    let ntokens = model.dict.ntokens;
    let loss_kind = match model.args.loss {
        loss::SOFTMAX => Loss::Softmax,
        loss::NS => Loss::Ns,
        loss::HS => Loss::Hs,
        _ => Loss::Ova,
    };
    let (mut input, mut output) = match (&mut model.input, &mut model.output) {
        (Matrix::Dense(i), Matrix::Dense(o)) => (
            std::mem::replace(i, DenseMatrix::zeros(0, dim)),
            std::mem::replace(o, DenseMatrix::zeros(0, dim)),
        ),
        _ => return Err(Error::invalid("model", "training needs dense matrices")),
    };
    // Tokenise once.
    let mut examples = Vec::new();
    {
        let mut hashes = Vec::new();
        for (line, eos) in super::lines(data) {
            let mut rows = Vec::new();
            let mut labels = Vec::new();
            model.line_rows(line, eos, &mut rows, &mut hashes, &mut labels);
            let tokens = line
                .split(|&b| is_space(b))
                .filter(|t| !t.is_empty())
                .count()
                + eos as usize;
            examples.push(Example {
                rows,
                labels,
                tokens: tokens as u32,
            });
        }
    }
    if examples.is_empty() {
        return Err(Error::invalid("input", "no lines"));
    }
    let st = LossState {
        sigmoid: super::sigmoid_table(),
        cumulative: {
            let mut acc = 0f64;
            model
                .dict
                .label_counts()
                .iter()
                .map(|&c| {
                    acc += (c.max(0) as f64).sqrt();
                    acc
                })
                .collect()
        },
        paths: if loss_kind == Loss::Hs {
            let tree = build_tree(&model.dict.label_counts())?;
            (0..nlabels)
                .map(|i| {
                    let mut p = Vec::new();
                    let mut j = i;
                    while tree[j].parent != -1 {
                        p.push(((tree[j].parent as usize - nlabels) as u32, tree[j].binary));
                        j = tree[j].parent as usize;
                    }
                    p
                })
                .collect()
        } else {
            Vec::new()
        },
    };
    let total = (config.epoch as u64).saturating_mul(ntokens.max(1) as u64);
    let token_count = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    {
        let win = Shared::new(input.as_mut_slice(), dim);
        let wout = Shared::new(output.as_mut_slice(), dim);
        let threads = config.threads.min(examples.len()).max(1);
        let started = std::time::Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (win, wout, st, examples) = (&win, &wout, &st, &examples);
                let (token_count, stop) = (&token_count, &stop);
                let mut rng = Rng::new(config.seed).fork(t as u64 + 1);
                let config = &config;
                scope.spawn(move || {
                    let n = examples.len();
                    let mut at = t * n / threads;
                    let mut hidden = vec![0f32; dim];
                    let mut grad = vec![0f32; dim];
                    let mut out = vec![0f32; nlabels];
                    let mut local = 0u64;
                    let lr0 = config.lr as f32;
                    loop {
                        let done = token_count.load(Ordering::Relaxed);
                        if done >= total || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let frac = done as f32 / total as f32;
                        let lr = lr0 * (1.0 - frac);
                        let ex = &examples[at];
                        at = (at + 1) % n;
                        local += ex.tokens as u64;
                        if !ex.labels.is_empty() && !ex.rows.is_empty() {
                            hidden.fill(0.0);
                            for &r in &ex.rows {
                                win.add_row_to(1.0, r as u32, &mut hidden);
                            }
                            crate::kernels::scale(1.0 / ex.rows.len() as f32, &mut hidden);
                            grad.fill(0.0);
                            match loss_kind {
                                Loss::Softmax => {
                                    let target = ex.labels
                                        [rng.below(ex.labels.len() as u64) as usize]
                                        as usize;
                                    let mut max = f32::MIN;
                                    for (i, o) in out.iter_mut().enumerate() {
                                        *o = wout.dot(&hidden, i as u32);
                                        max = max.max(*o);
                                    }
                                    let mut z = 0f32;
                                    for o in out.iter_mut() {
                                        *o = (*o - max).exp();
                                        z += *o;
                                    }
                                    for (i, o) in out.iter().enumerate() {
                                        let label = (i == target) as i32 as f32;
                                        let alpha = lr * (label - o / z);
                                        wout.add_row_to(alpha, i as u32, &mut grad);
                                        wout.add_to_row(alpha, &hidden, i as u32);
                                    }
                                }
                                Loss::Ns => {
                                    let target = ex.labels
                                        [rng.below(ex.labels.len() as u64) as usize]
                                        as u32;
                                    binary_logistic(wout, st, target, true, lr, &hidden, &mut grad);
                                    let zsum = *st.cumulative.last().unwrap_or(&0.0);
                                    for _ in 0..config.neg {
                                        let neg = loop {
                                            if nlabels < 2 || zsum <= 0.0 {
                                                break None;
                                            }
                                            let u = rng.uniform_f64() * zsum;
                                            let k = st.cumulative.partition_point(|&c| c <= u);
                                            let k = k.min(nlabels - 1) as u32;
                                            if k != target {
                                                break Some(k);
                                            }
                                        };
                                        if let Some(k) = neg {
                                            binary_logistic(
                                                wout, st, k, false, lr, &hidden, &mut grad,
                                            );
                                        }
                                    }
                                }
                                Loss::Hs => {
                                    let target = ex.labels
                                        [rng.below(ex.labels.len() as u64) as usize]
                                        as usize;
                                    for &(node, code) in &st.paths[target] {
                                        binary_logistic(
                                            wout, st, node, code, lr, &hidden, &mut grad,
                                        );
                                    }
                                }
                                Loss::Ova => {
                                    for i in 0..nlabels {
                                        let pos = ex.labels.contains(&(i as i32));
                                        binary_logistic(
                                            wout, st, i as u32, pos, lr, &hidden, &mut grad,
                                        );
                                    }
                                }
                            }
                            crate::kernels::scale(1.0 / ex.rows.len() as f32, &mut grad);
                            for &r in &ex.rows {
                                win.add_to_row(1.0, &grad, r as u32);
                            }
                        }
                        if local > config.lr_update_rate {
                            let now = token_count.fetch_add(local, Ordering::Relaxed) + local;
                            local = 0;
                            if t == 0 {
                                if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                                    stop.store(true, Ordering::Relaxed);
                                }
                                if let Some(p) = progress {
                                    if now % 200_000 < config.lr_update_rate + 64 {
                                        let secs = started.elapsed().as_secs_f64();
                                        let mut ev =
                                            Progress::new("train", now, Some(total), "tokens");
                                        ev.epoch = Some(
                                            (now / (ntokens.max(1) as u64) + 1)
                                                .min(config.epoch as u64)
                                                as u32,
                                        );
                                        ev.learning_rate = Some(lr as f64);
                                        ev.rate = Some(now as f64 / secs.max(1e-9));
                                        p(&ev);
                                    }
                                }
                            }
                        }
                    }
                });
            }
        });
    }
    if stop.load(Ordering::Relaxed) {
        return Err(Error::Cancelled);
    }
    model.input = Matrix::Dense(input);
    model.output = Matrix::Dense(output);
    Ok(())
}
