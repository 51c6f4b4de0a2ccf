//! word2vec training: skip-gram and CBOW, negative sampling and hierarchical softmax, frequent-word
//! subsampling, dynamic windows and linear learning-rate decay, on many threads with lock-free
//! (Hogwild) updates. The same engine trains fastText-style subword models
//! ([`crate::train::fasttext`]): there a word's input vector is the mean of several rows.
//!
//! # Reproducibility
//! With `threads = 1` and a fixed `seed` the result is bit-identical from run to run (on the same
//! machine and kernel set: AVX2+FMA and scalar kernels round differently). With more threads,
//! workers take corpus chunks in whatever order they become free and update the shared matrices
//! without locks, so results differ from run to run (as with word2vec, gensim and fastText); the
//! vocabulary, the initial matrices and the per-thread random streams are still fixed by the seed.
//!
//! # Differences from the original tools, on purpose
//! In skip-gram the centre word is the input and every context word of its (shrunk) window is
//! predicted from it, one pair after the other, as fastText does (word2vec C and gensim take the
//! context word as the input and predict the centre word; over a symmetric window the same pairs
//! are trained). Each pair's input-side gradient moves the input vector before the next pair is
//! scored, as in all three tools; the rows themselves are written once per window with the sum,
//! which gives the same vectors with fewer writes to shared memory. CBOW with
//! `cbow_mean = false` adds the full error to each context row (word2vec C; gensim divides it by
//! the number of context words).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::kernels::axpy;
use crate::pipeline;
use crate::progress::{Progress, ProgressFn};
use crate::rng::Rng;
use crate::size::{self, check_range};
use crate::storage::DenseMatrix;
use crate::text::corpus::for_each_line_piece_in;
use crate::text::Corpus;
use crate::train::limits::{MAX_DIM, MAX_EPOCHS, MAX_NEGATIVE, MAX_THREADS, MAX_WINDOW};
use crate::train::sampling::{
    keep_thresholds_over, learning_rate, AliasTable, Huffman, SigmoidKind, SigmoidTable, MAX_EXP,
};
use crate::vocab::{Vocab, VocabBuilder};
use crate::Embeddings;

/// The architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Skip-gram: predict each context word from the centre word.
    SkipGram,
    /// Continuous bag of words: predict the centre word from its context.
    Cbow,
}

impl Model {
    /// `sg` or `cbow`.
    pub fn name(self) -> &'static str {
        match self {
            Model::SkipGram => "sg",
            Model::Cbow => "cbow",
        }
    }
}

/// Training settings, named as word2vec (C) and gensim users know them.
#[derive(Debug, Clone)]
pub struct Word2VecConfig {
    /// Skip-gram or CBOW (`-cbow 0|1`, gensim `sg`).
    pub model: Model,
    /// CBOW: mean (true, the default of both tools) or sum of the context vectors.
    pub cbow_mean: bool,
    /// Vector size (`-size`, gensim `vector_size`).
    pub dim: usize,
    /// Maximum distance between centre and context word; the window actually used for each
    /// centre word is drawn uniformly from `1..=window`.
    pub window: usize,
    /// Negative samples per positive example (0 = no negative sampling).
    pub negative: usize,
    /// Hierarchical softmax.
    pub hs: bool,
    /// Subsampling threshold of frequent words (0 = off).
    pub sample: f64,
    /// Words rarer than this are dropped.
    pub min_count: u64,
    /// Keep only the most frequent words (gensim `max_final_vocab`).
    pub max_vocab: Option<usize>,
    /// Passes over the corpus (`-iter`, gensim `epochs`).
    pub epochs: u32,
    /// Starting learning rate; it falls linearly to [`Word2VecConfig::min_alpha`]. `None`:
    /// 0.025 for skip-gram, 0.05 for CBOW (word2vec's defaults).
    pub alpha: Option<f32>,
    /// Learning rate at the end of training (gensim `min_alpha`): the rate falls linearly from
    /// `alpha` to it over the run. `None`: `alpha × 1e-4`, word2vec C's floor.
    pub min_alpha: Option<f32>,
    /// Exponent of the unigram noise distribution (`ns_exponent`).
    pub ns_exponent: f64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Skip-gram with negative sampling: draw the `negative` noise words once per centre word
    /// and share them among all its context words (Ji et al., "Parallelizing Word2Vec in Shared
    /// and Distributed Memory", 2016), each shared noise word weighted by the number of context
    /// words, so the expected gradient is unchanged while the work per window drops from
    /// `m·(k+1)` to `m + k` vector products. Off: word2vec's independent draws per pair.
    pub shared_negatives: bool,
    /// A noise word equal to the positive target is drawn again (fastText), instead of being
    /// skipped (word2vec, gensim).
    pub resample_negatives: bool,
    /// A prediction whose score is saturated (|f| ≥ 6, the edge of the sigmoid table) makes
    /// no update (gensim 4), instead of the full gradient that word2vec C and fastText apply.
    pub skip_saturated: bool,
    /// Skip-gram: each context word's input vector predicts the centre word and moves after
    /// each pair (word2vec C, gensim; the default); off, the centre word's input vector
    /// predicts each context word (fastText, the default of [`crate::train::fasttext`]). The
    /// pairs are the same; what differs is which vector moves after each pair. Measured on
    /// en-mix with one thread, five seeds paired: the context order scores higher on all three
    /// benchmarks (SimLex +0.003 in every pair; BENCHMARKS.md, issue 16).
    pub context_input: bool,
    /// How the corpus is read. Off (gensim): one reader feeds every thread, each pass from
    /// the start, in order. On (fastText, word2vec C): every thread reads for itself, thread t
    /// from t/threads of the corpus on (as fastText's thread t seeks to t/threads of the file),
    /// starting again at the top after the end, each at its own pace, until the schedule's
    /// count is reached (or, without `count_all_tokens`, its share of the passes is read). A
    /// corpus made of different sources one after the other is then mixed from the start
    /// instead of being read source by source, and a thread in a part that trains faster
    /// covers more of the corpus, as in fastText. With one thread the two are the same.
    pub spread_readers: bool,
    /// How the learning rate's progress is measured within a run. On (the default; gensim's
    /// `Word2Vec` given a corpus, whose sentence count it knows): by the lines read, each
    /// epoch's rate falling linearly with its lines; on a corpus whose line lengths vary,
    /// the words of short lines are then trained at a higher rate than those of long ones
    /// (en-mix: its first 90 % of lines hold 76 % of the words). The lines are counted in one
    /// extra read of the corpus before training; a corpus without a newline falls back to
    /// words. Off (word2vec C, fastText, [`crate::train::fasttext::FastTextConfig`]): by the
    /// words trained, so the rate falls linearly with the words. With the same initial
    /// vectors, tree and windows, one thread and no subsampling, on lines embers' vectors
    /// equal gensim 4.4's (cosine 0.99999 after an epoch of en-mix), and skip-gram's SimLex
    /// is level with gensim's only on lines (BENCHMARKS.md, issue 16).
    pub decay_by_lines: bool,
    /// Each line ends with the word [`EOS`] (`</s>`), as in fastText: it is counted into the
    /// vocabulary (one per newline), subsampled, and trained as the last word of its line like
    /// any other (in subword mode it has no n-grams). Off (word2vec, gensim): lines are just
    /// their words.
    pub eos: bool,
    /// fastText's token accounting. On: the learning rate and the end of training count the
    /// in-vocabulary tokens read (with `</s>`) against `epochs` × every token of the corpus
    /// (out-of-vocabulary ones included), so a vocabulary that leaves tokens out trains a
    /// little more than `epochs` passes and stops part-way through the last one; subsampling
    /// takes a word's frequency over every token too. Off (word2vec, gensim): exactly `epochs`
    /// passes, frequencies over the vocabulary's tokens.
    pub count_all_tokens: bool,
    /// The tabulated sigmoid: word2vec's (±6, 1,000 entries, read as gensim and word2vec C
    /// read it) or fastText's (±8, 512 steps).
    pub sigmoid: SigmoidKind,
}

/// The end-of-line word of fastText ([`Word2VecConfig::eos`]).
pub const EOS: &str = "</s>";

impl Default for Word2VecConfig {
    /// word2vec's and gensim's defaults: skip-gram, 100 dims, window 5, 5 negatives, sample
    /// 1e-3, min_count 5, 5 epochs.
    fn default() -> Self {
        Word2VecConfig {
            model: Model::SkipGram,
            cbow_mean: true,
            dim: 100,
            window: 5,
            negative: 5,
            hs: false,
            sample: 1e-3,
            min_count: 5,
            max_vocab: None,
            epochs: 5,
            alpha: None,
            min_alpha: None,
            ns_exponent: 0.75,
            threads: 0,
            seed: 1,
            shared_negatives: false,
            resample_negatives: false,
            skip_saturated: true,
            context_input: true,
            decay_by_lines: true,
            spread_readers: false,
            eos: false,
            count_all_tokens: false,
            sigmoid: SigmoidKind::Word2Vec,
        }
    }
}

impl Word2VecConfig {
    /// The starting learning rate in effect.
    pub fn alpha(&self) -> f32 {
        self.alpha.unwrap_or(match self.model {
            Model::SkipGram => 0.025,
            Model::Cbow => 0.05,
        })
    }

    /// The final learning rate in effect.
    pub fn min_alpha(&self) -> f32 {
        self.min_alpha.unwrap_or(self.alpha() * 1e-4)
    }

    /// Checks the settings against their documented ranges ([`crate::train::limits`]):
    /// `dim` 1..=65536, `window` 1..=10000, `negative` 0..=1000, `epochs` 1..=10000, `threads`
    /// 0..=1024, `sample` in [0, 1], positive finite `alpha` ≤ 10, `min_count` and `max_vocab`
    /// at least 1. Called before any work.
    pub fn validate(&self) -> Result<()> {
        check_range("dim", self.dim, 1, MAX_DIM)?;
        check_range("window", self.window, 1, MAX_WINDOW)?;
        check_range("negative", self.negative, 0, MAX_NEGATIVE)?;
        check_range("epochs", self.epochs, 1, MAX_EPOCHS)?;
        check_range("threads", self.threads, 0, MAX_THREADS)?;
        if self.negative == 0 && !self.hs {
            return Err(Error::invalid(
                "negative",
                "negative sampling is off (0) and hierarchical softmax is off: nothing to train",
            ));
        }
        let a = self.alpha();
        if !(a.is_finite() && a > 0.0 && a <= 10.0) {
            return Err(Error::invalid(
                "alpha",
                format!("must be positive and at most 10, got {a}"),
            ));
        }
        let m = self.min_alpha();
        if !(m.is_finite() && (0.0..=a).contains(&m)) {
            return Err(Error::invalid(
                "min_alpha",
                format!("must be between 0 and alpha ({a}), got {m}"),
            ));
        }
        if !(self.sample.is_finite() && (0.0..=1.0).contains(&self.sample)) {
            return Err(Error::invalid(
                "sample",
                format!("must be between 0 and 1, got {}", self.sample),
            ));
        }
        if !self.ns_exponent.is_finite() {
            return Err(Error::invalid("ns_exponent", "must be finite"));
        }
        if self.min_count == 0 {
            return Err(Error::invalid("min_count", "must be at least 1"));
        }
        if self.max_vocab == Some(0) {
            return Err(Error::invalid("max_vocab", "must be at least 1"));
        }
        Ok(())
    }

    /// Worker threads in effect: `threads`, or the number of cores when it is 0.
    pub fn resolved_threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }

    /// The settings as metadata entries (`train.*`) for the output file.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let mut m = vec![
            ("train.model".into(), self.model.name().into()),
            ("train.dim".into(), self.dim.to_string()),
            ("train.window".into(), self.window.to_string()),
            ("train.negative".into(), self.negative.to_string()),
            ("train.hs".into(), (self.hs as u8).to_string()),
            ("train.sample".into(), self.sample.to_string()),
            ("train.min_count".into(), self.min_count.to_string()),
            ("train.epochs".into(), self.epochs.to_string()),
            ("train.alpha".into(), self.alpha().to_string()),
            ("train.min_alpha".into(), self.min_alpha().to_string()),
            ("train.ns_exponent".into(), self.ns_exponent.to_string()),
            ("train.threads".into(), self.threads.to_string()),
            ("train.seed".into(), self.seed.to_string()),
        ];
        if self.model == Model::Cbow {
            m.push(("train.cbow_mean".into(), (self.cbow_mean as u8).to_string()));
        }
        if let Some(v) = self.max_vocab {
            m.push(("train.max_vocab".into(), v.to_string()));
        }
        m.push((
            "train.lr_decay".into(),
            if self.decay_by_lines {
                "lines"
            } else {
                "words"
            }
            .into(),
        ));
        if self.spread_readers {
            m.push(("train.spread_readers".into(), "1".into()));
        }
        if self.eos {
            m.push(("train.eos".into(), "1".into()));
        }
        if self.count_all_tokens {
            m.push(("train.count_all_tokens".into(), "1".into()));
        }
        if self.sigmoid != SigmoidKind::Word2Vec {
            m.push(("train.sigmoid".into(), self.sigmoid.name().into()));
        }
        if self.shared_negatives && self.model == Model::SkipGram && self.negative > 0 {
            m.push(("train.shared_negatives".into(), "1".into()));
        }
        if self.resample_negatives && self.negative > 0 {
            m.push(("train.resample_negatives".into(), "1".into()));
        }
        m.push((
            "train.skip_saturated".into(),
            (self.skip_saturated as u8).to_string(),
        ));
        if self.model == Model::SkipGram {
            m.push((
                "train.context_input".into(),
                (self.context_input as u8).to_string(),
            ));
        }
        m
    }
}

/// Things a caller can pass to a training run besides the settings.
#[derive(Default, Clone, Copy)]
pub struct Control<'a> {
    /// Receives progress reports (from the thread that called `train`, a few per second).
    pub progress: Option<&'a ProgressFn<'a>>,
    /// When set to true, training stops soon and returns [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

impl Control<'_> {
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// Counts the corpus and builds the vocabulary of `config` (`min_count`, `max_vocab`; with
/// `eos`, `</s>` counted once per newline). An empty corpus, or one whose vocabulary is empty
/// after `min_count`, is an error.
pub fn build_vocab(
    corpus: &Corpus,
    config: &Word2VecConfig,
    control: Control<'_>,
) -> Result<Vocab> {
    build_vocab_counted(corpus, config, control).map(|(v, _)| v)
}

/// What the vocabulary pass counted in a corpus, for the schedule of [`train_with_total`]:
/// given these, training reads the corpus only for its passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CorpusTotals {
    /// Every token read, out-of-vocabulary ones and `</s>` included (`count_all_tokens`
    /// schedules and subsamples against it).
    pub tokens: u64,
    /// Newlines: the lines a pass reads (a last line without a newline is not counted, as the
    /// trainer does not count it). The learning rate falls with these when `decay_by_lines`;
    /// 0 makes it fall with the words.
    pub lines: u64,
}

/// [`build_vocab`], also returning what the pass counted: every token of the corpus and its
/// lines ([`CorpusTotals`], what [`train_with_total`] needs).
pub fn build_vocab_counted(
    corpus: &Corpus,
    config: &Word2VecConfig,
    control: Control<'_>,
) -> Result<(Vocab, CorpusTotals)> {
    let mut builder = VocabBuilder::new()
        .min_count(config.min_count)
        .max_size(config.max_vocab)
        .threads(config.threads)
        .end_of_line(config.eos.then(|| EOS.to_string()));
    let size = corpus.size_on_disk();
    let tokens = builder.count_corpus(corpus, |done| {
        if let Some(p) = control.progress {
            p(&Progress::new("count", done, Some(size), "bytes"));
        }
    })?;
    if control.cancelled() {
        return Err(Error::Cancelled);
    }
    if tokens == 0 {
        let names: Vec<String> = corpus
            .paths()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return Err(Error::invalid(
            "corpus",
            format!("no words in {}", names.join(", ")),
        ));
    }
    let distinct = builder.distinct();
    let totals = CorpusTotals {
        tokens,
        lines: builder.lines(),
    };
    let vocab = builder.build().map_err(|_| {
        Error::invalid(
            "min_count",
            format!(
                "no word occurs at least {} times ({tokens} tokens, {distinct} distinct words); lower --min-count",
                config.min_count
            ),
        )
    })?;
    Ok((vocab, totals))
}

/// Trains word2vec on `corpus` and returns the input vectors, with the settings in the metadata.
/// The corpus is read once for the vocabulary (and its token and line totals), then once per
/// epoch.
pub fn train(corpus: &Corpus, config: &Word2VecConfig, control: Control<'_>) -> Result<Embeddings> {
    config.validate()?;
    let (vocab, totals) = build_vocab_counted(corpus, config, control)?;
    let inputs = InputRows::words(vocab.len());
    let matrix = train_with_total(corpus, config, &vocab, &inputs, Some(totals), control)?;
    let dim = config.dim;
    let data = matrix[..vocab.len() * dim].to_vec();
    let mut emb = Embeddings::new(vocab, DenseMatrix::new(data.len() / dim, dim, data)?)?;
    emb.metadata_mut()
        .insert("train.algorithm".into(), "word2vec".into());
    for (k, v) in config.metadata() {
        emb.metadata_mut().insert(k, v);
    }
    Ok(emb)
}

/// Which rows of the input matrix make up each word's input vector (the mean of them): one row
/// per word for word2vec, the word's row plus its n-gram bucket rows for fastText.
#[derive(Debug, Clone)]
pub struct InputRows {
    offsets: Vec<u32>,
    rows: Vec<u32>,
    /// Total rows of the input matrix.
    pub total_rows: usize,
    /// How many leading values of the input matrix (row-major) start uniform in ±1/dim; the
    /// rest start at zero. `usize::MAX` (what the constructors set): every value.
    pub uniform_values: usize,
}

impl InputRows {
    /// One row per word: word `i` is row `i`.
    pub fn words(n: usize) -> Self {
        InputRows {
            offsets: (0..=n as u32).collect(),
            rows: (0..n as u32).collect(),
            total_rows: n,
            uniform_values: usize::MAX,
        }
    }

    /// Explicit row lists, one per word (`lists[i]` non-empty), over `total_rows` rows.
    pub fn from_lists(lists: Vec<Vec<u32>>, total_rows: usize) -> Result<Self> {
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        offsets.push(0u32);
        let mut rows = Vec::new();
        for l in lists {
            if l.is_empty() || l.iter().any(|&r| r as usize >= total_rows) {
                return Err(Error::invalid(
                    "input rows",
                    "empty list or row out of range",
                ));
            }
            rows.extend(l);
            offsets.push(rows.len() as u32);
        }
        Ok(InputRows {
            offsets,
            rows,
            total_rows,
            uniform_values: usize::MAX,
        })
    }

    /// The rows of word `w`.
    #[inline]
    pub fn of(&self, w: u32) -> &[u32] {
        &self.rows[self.offsets[w as usize] as usize..self.offsets[w as usize + 1] as usize]
    }
}

/// A matrix shared by the worker threads without locks (Hogwild).
///
/// Rows are only ever touched through raw pointers, inside the methods below: no `&` or `&mut`
/// to shared memory is formed, so no aliasing rule of references is broken. The race that
/// remains is intended and written down once, in RELIABILITY.md ("The Hogwild race"): threads
/// load and store the same `f32` values without synchronisation, as word2vec, fastText and
/// gensim do; a read may see a row half updated by another thread and a concurrent `+=` may
/// lose an update, which SGD tolerates (Niu et al., "Hogwild!", 2011). With one thread there is
/// no concurrency and results are deterministic.
pub(crate) struct Shared {
    ptr: *mut f32,
    rows: usize,
    dim: usize,
}

// SAFETY: the pointer targets a Vec that outlives the workers (scoped threads) and is never
// resized; rows are accessed only through raw pointers (the intended Hogwild race above).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    pub(crate) fn new(data: &mut [f32], dim: usize) -> Self {
        Shared {
            ptr: data.as_mut_ptr(),
            rows: data.len() / dim,
            dim,
        }
    }

    /// The start of row `i`; panics when `i` is not a row (a bug, not bad input: ids come from
    /// the vocabulary and the row lists, both checked against the matrix).
    #[inline]
    pub(crate) fn at(&self, i: u32) -> *mut f32 {
        assert!((i as usize) < self.rows, "row {i} of {}", self.rows);
        // SAFETY: i < rows, so the offset stays inside the allocation of rows × dim values.
        unsafe { self.ptr.add(i as usize * self.dim) }
    }

    /// `x · row i`.
    #[inline]
    pub(crate) fn dot(&self, x: &[f32], i: u32) -> f32 {
        assert_eq!(x.len(), self.dim);
        // SAFETY: both ranges hold `dim` values (the row by `at`, `x` checked above).
        unsafe { crate::kernels::dot_ptr(x.as_ptr(), self.at(i), self.dim) }
    }

    /// `x += a · row i`.
    #[inline]
    pub(crate) fn add_row_to(&self, a: f32, i: u32, x: &mut [f32]) {
        assert_eq!(x.len(), self.dim);
        // SAFETY: as in `dot`; `x` is the caller's own buffer, so the ranges do not overlap.
        unsafe { crate::kernels::axpy_ptr(a, self.at(i), x.as_mut_ptr(), self.dim) }
    }

    /// `row i += a · x`.
    #[inline]
    pub(crate) fn add_to_row(&self, a: f32, x: &[f32], i: u32) {
        assert_eq!(x.len(), self.dim);
        // SAFETY: as in `add_row_to`.
        unsafe { crate::kernels::axpy_ptr(a, x.as_ptr(), self.at(i), self.dim) }
    }

    /// One update of output row `i` against input vector `x` with step `g`, in one pass:
    /// `acc += g · row i` (the row's value before the step), then `row i += g · x`.
    #[inline]
    pub(crate) fn exchange(&self, g: f32, x: &[f32], i: u32, acc: &mut [f32]) {
        assert!(x.len() == self.dim && acc.len() == self.dim);
        // SAFETY: each range holds `dim` values (the row by `at`, the slices checked above);
        // `acc` is the caller's own `&mut` buffer, so it overlaps neither `x` nor the row.
        unsafe {
            crate::kernels::exchange_ptr(g, x.as_ptr(), self.at(i), acc.as_mut_ptr(), self.dim)
        }
    }

    /// Starts loading row `i` into the cache (a hint; see [`crate::kernels::prefetch`]).
    #[inline]
    pub(crate) fn prefetch(&self, i: u32) {
        crate::kernels::prefetch_range(self.at(i), self.dim * std::mem::size_of::<f32>());
    }

    /// `x = row i`.
    #[inline]
    pub(crate) fn copy_row_to(&self, i: u32, x: &mut [f32]) {
        assert_eq!(x.len(), self.dim);
        // SAFETY: as in `add_row_to`.
        unsafe { std::ptr::copy_nonoverlapping(self.at(i), x.as_mut_ptr(), self.dim) }
    }
}

/// Trains on `corpus` with the given vocabulary and input-row layout; returns the input matrix
/// (`inputs.total_rows × dim`, row-major). Used by word2vec and fastText. With
/// `count_all_tokens`, the corpus's token total is taken as the vocabulary's, and with
/// `decay_by_lines` the corpus is read once more to count its lines ([`train_with_total`]
/// takes both from the vocabulary pass).
pub fn train_with(
    corpus: &Corpus,
    config: &Word2VecConfig,
    vocab: &Vocab,
    inputs: &InputRows,
    control: Control<'_>,
) -> Result<Vec<f32>> {
    train_with_total(corpus, config, vocab, inputs, None, control)
}

/// [`train_with`], given the totals of the vocabulary pass ([`build_vocab_counted`]): every
/// token of the corpus, which `count_all_tokens` schedules and subsamples against, and its
/// lines, which `decay_by_lines` schedules against. `None`: the vocabulary's total, and the
/// lines counted in an extra read of the corpus.
pub fn train_with_total(
    corpus: &Corpus,
    config: &Word2VecConfig,
    vocab: &Vocab,
    inputs: &InputRows,
    totals: Option<CorpusTotals>,
    control: Control<'_>,
) -> Result<Vec<f32>> {
    train_counted(corpus, config, vocab, inputs, totals, control).map(|(m, _)| m)
}

/// How many tokens the schedule runs to, and the passes over the corpus that takes at most:
/// `epochs` × the tokens counted per pass (the vocabulary's total), or with `count_all_tokens`
/// `epochs` × every token of the corpus (`all_tokens`, at least the vocabulary's total), which
/// ends part-way through the pass after the last whole one (fastText).
pub(crate) fn schedule(
    config: &Word2VecConfig,
    per_pass: u64,
    all_tokens: Option<u64>,
) -> (u64, u64, u32) {
    let per_pass = per_pass.max(1);
    let all = if config.count_all_tokens {
        all_tokens.unwrap_or(per_pass).max(per_pass)
    } else {
        per_pass
    };
    let total_words = all.saturating_mul(config.epochs as u64);
    let passes = total_words.div_ceil(per_pass).min(u32::MAX as u64) as u32;
    (all, total_words, passes)
}

/// Newlines in `corpus` (the lines a pass reads: a last line without a newline is not
/// counted, as the trainer does not count it), or `None` for a corpus without one (the
/// learning rate then falls with the words).
fn lines_per_pass(corpus: &Corpus, control: Control<'_>) -> Result<Option<u64>> {
    let mut lines = 0u64;
    for chunk in corpus.chunks(1 << 20) {
        if control.cancelled() {
            return Err(Error::Cancelled);
        }
        lines += chunk?.newlines;
    }
    Ok((lines > 0).then_some(lines))
}

/// [`train_with_total`], also returning how many tokens were counted by the schedule (read
/// in-vocabulary tokens and `</s>`, before subsampling).
pub(crate) fn train_counted(
    corpus: &Corpus,
    config: &Word2VecConfig,
    vocab: &Vocab,
    inputs: &InputRows,
    totals: Option<CorpusTotals>,
    control: Control<'_>,
) -> Result<(Vec<f32>, u64)> {
    config.validate()?;
    if vocab.counts().is_empty() {
        return Err(Error::invalid(
            "vocab",
            "training needs token counts (negative sampling, subsampling and the Huffman tree \
             use them); build the vocabulary from a corpus",
        ));
    }
    let dim = config.dim;
    let n = vocab.len();
    let threads = config.resolved_threads();
    // Initial matrices: inputs uniform in ±1/dim (gensim 4's `prep_vectors`, fastText's
    // `uniform(1/dim)`; word2vec C used ±0.5/dim) up to `inputs.uniform_values`, zero after
    // that; outputs zero.
    let mut rng = Rng::new(config.seed);
    let total_in = size::product("input matrix", &[inputs.total_rows, dim])?;
    let mut syn0: Vec<f32> = crate::storage::with_huge_capacity("input matrix", total_in)?;
    let uniform = inputs.uniform_values.min(total_in);
    syn0.extend((0..uniform).map(|_| (2.0 * rng.uniform() - 1.0) / dim as f32));
    syn0.resize(total_in, 0.0);
    let out_len = if config.negative > 0 {
        size::product("output matrix", &[n, dim])?
    } else {
        0
    };
    let mut syn1neg: Vec<f32> = crate::storage::with_huge_capacity("output matrix", out_len)?;
    syn1neg.resize(out_len, 0.0);
    let mut syn1 = if config.hs {
        let rows = n.saturating_sub(1).max(1);
        size::filled(
            "output matrix",
            size::product("output matrix", &[rows, dim])?,
            0.0f32,
        )?
    } else {
        Vec::new()
    };
    let ids: FxHashMap<&str, u32> = vocab
        .words()
        .iter()
        .enumerate()
        .map(|(i, w)| (w, i as u32))
        .collect();
    // Tokens counted per pass (in-vocabulary ones, `</s>` included when it is a word), the
    // count the schedule runs to, and the passes that takes (fastText stops once the count
    // reaches the total, part-way through a pass; word2vec: exactly `epochs`).
    let (all, total_words, passes) =
        schedule(config, vocab.total_count(), totals.map(|t| t.tokens));
    let total_lines = if !config.decay_by_lines {
        None
    } else {
        let per_pass = match totals {
            Some(t) => (t.lines > 0).then_some(t.lines),
            None => lines_per_pass(corpus, control)?,
        };
        per_pass.map(|l| l.saturating_mul(config.epochs as u64))
    };
    let eos_id = if config.eos { vocab.id(EOS) } else { None };
    let shared = Engine {
        config,
        alpha: config.alpha(),
        min_alpha: config.min_alpha(),
        inputs,
        syn0: Shared::new(&mut syn0, dim),
        syn1neg: (config.negative > 0).then(|| Shared::new(&mut syn1neg, dim)),
        syn1: config.hs.then(|| Shared::new(&mut syn1, dim)),
        noise: AliasTable::unigram(vocab.counts(), config.ns_exponent),
        huffman: if config.hs {
            Huffman::new(vocab.counts())
        } else {
            Huffman::new(&[])
        },
        keep: keep_thresholds_over(vocab.counts(), config.sample, all),
        sigmoid: SigmoidTable::new(config.sigmoid),
        eos_id,
        ids,
        tokenizer: *corpus.tokenizer(),
        words_done: AtomicU64::new(0),
        per_pass: vocab.total_count(),
        total_words,
        lines_done: AtomicU64::new(0),
        total_lines,
        stop_at_total: config.count_all_tokens,
        loss: Mutex::new((0.0, 0)),
        stop: AtomicBool::new(false),
        finished: AtomicBool::new(false),
    };
    let engine = &shared;
    let seed_rng = Rng::new(config.seed ^ 0x7261_696e);
    let run = Run {
        engine,
        corpus,
        control,
        seed_rng,
        chunk_bytes: 256 << 10,
        passes,
        start: Instant::now(),
    };
    let result = if config.spread_readers && threads > 1 {
        run_thread_readers(&run)
    } else {
        run_in_order(&run)
    };
    result?;
    let counted = shared.words_done.load(Ordering::Relaxed);
    drop(shared);
    Ok((syn0, counted))
}

/// What a training run's reading loop needs: the shared state, the corpus, the caller's
/// control, the seed of the workers' random streams, the chunk size, the passes allowed and
/// when training started (for the reported rates).
struct Run<'r, 'a> {
    engine: &'r Engine<'a>,
    corpus: &'r Corpus,
    control: Control<'r>,
    seed_rng: Rng,
    chunk_bytes: usize,
    passes: u32,
    start: Instant,
}

/// One reader feeds every worker through a queue: each pass reads the corpus from its start,
/// in order (gensim's order, and any run with one thread).
fn run_in_order(run: &Run<'_, '_>) -> Result<()> {
    let Run {
        engine,
        corpus,
        control,
        ref seed_rng,
        chunk_bytes,
        passes,
        start,
    } = *run;
    let threads = engine.config.resolved_threads();
    let dim = engine.config.dim;
    let (tx, queue) = pipeline::queue::<String>(threads * 2);
    let queue = &queue;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let mut rng = seed_rng.fork(t as u64);
                scope.spawn(move || {
                    // Drains the queue if this worker panics, so the reader never blocks.
                    let _guard = queue.consumer();
                    let mut worker = Worker::new(engine, dim);
                    while let Some(text) = queue.recv() {
                        if engine.stop.load(Ordering::Relaxed) {
                            continue;
                        }
                        worker.chunk(&text, &mut rng);
                    }
                    worker.flush();
                })
            })
            .collect();
        let mut last_report = Instant::now();
        let mut outcome = Ok(());
        'epochs: for epoch in 1..=passes {
            for chunk in corpus.chunks(chunk_bytes) {
                if engine.finished.load(Ordering::Relaxed) {
                    break 'epochs;
                }
                if control.cancelled() {
                    outcome = Err(Error::Cancelled);
                    break 'epochs;
                }
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        outcome = Err(e);
                        break 'epochs;
                    }
                };
                if queue.failed() || tx.send(chunk.text).is_err() {
                    break 'epochs;
                }
                if last_report.elapsed().as_millis() >= 250 {
                    last_report = Instant::now();
                    engine.report(control, epoch, start);
                }
            }
        }
        if outcome.is_err() {
            engine.stop.store(true, Ordering::Relaxed);
        }
        drop(tx);
        for w in workers {
            w.join()
                .map_err(|_| Error::Other("training worker panicked".into()))?;
        }
        finish_run(engine, control, outcome, start)
    })
}

/// The end of a run whose workers have all stopped: a cancellation seen by then is the
/// outcome; a run that went through reports once more, at its end.
fn finish_run(
    engine: &Engine<'_>,
    control: Control<'_>,
    outcome: Result<()>,
    start: Instant,
) -> Result<()> {
    let outcome = match outcome {
        Ok(()) if control.cancelled() => Err(Error::Cancelled),
        other => other,
    };
    if outcome.is_ok() {
        engine.report(control, engine.config.epochs, start);
    }
    outcome
}

/// fastText's reading ([`Word2VecConfig::spread_readers`]): every worker reads the corpus
/// itself, worker t from chunk `t·chunks/threads` on, starting again at the first chunk after
/// the last, each at its own pace, until the schedule's count is reached (fastText's
/// accounting) or it has read its share of `passes` passes. The calling thread reports
/// progress and passes on a cancellation.
fn run_thread_readers(run: &Run<'_, '_>) -> Result<()> {
    let Run {
        engine,
        corpus,
        control,
        ref seed_rng,
        chunk_bytes,
        passes,
        start,
    } = *run;
    let threads = engine.config.resolved_threads();
    let dim = engine.config.dim;
    // The starting points need the number of chunks: one read of the corpus.
    let mut total_chunks = 0u64;
    for chunk in corpus.chunks(chunk_bytes) {
        if control.cancelled() {
            return Err(Error::Cancelled);
        }
        chunk?;
        total_chunks += 1;
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let mut rng = seed_rng.fork(t as u64);
                let (first, budget) =
                    thread_share(t, threads, total_chunks, passes, engine.stop_at_total);
                scope.spawn(move || -> Result<()> {
                    let mut worker = Worker::new(engine, dim);
                    let mut outcome = Ok(());
                    for chunk in ThreadChunks::new(corpus, chunk_bytes, first, budget) {
                        if engine.stop.load(Ordering::Relaxed)
                            || engine.finished.load(Ordering::Relaxed)
                        {
                            break;
                        }
                        match chunk {
                            Ok(c) => worker.chunk(&c.text, &mut rng),
                            Err(e) => {
                                engine.stop.store(true, Ordering::Relaxed);
                                outcome = Err(e);
                                break;
                            }
                        }
                    }
                    worker.flush();
                    outcome
                })
            })
            .collect();
        let mut outcome = Ok(());
        let mut last_report = Instant::now();
        let per_pass = engine.per_pass.max(1);
        while !workers.iter().all(|w| w.is_finished()) {
            if control.cancelled() {
                engine.stop.store(true, Ordering::Relaxed);
            }
            if last_report.elapsed().as_millis() >= 250 {
                last_report = Instant::now();
                let done = engine.words_done.load(Ordering::Relaxed);
                let epoch = (done / per_pass).saturating_add(1).min(passes as u64) as u32;
                engine.report(control, epoch, start);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for w in workers {
            match w.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    if outcome.is_ok() {
                        outcome = Err(e);
                    }
                }
                Err(_) => return Err(Error::Other("training worker panicked".into())),
            }
        }
        finish_run(engine, control, outcome, start)
    })
}

/// Where worker `t` of `threads` starts reading (chunk `t·chunks/threads`, as fastText's
/// thread t seeks to t/threads of the file) and how many chunks it may read: its share of
/// `passes` passes (so every chunk is read about `passes` times), or, when training stops at
/// the schedule's count (`until_count`), one pass more than all of `passes`, a bound that is
/// not reached unless the corpus holds no vocabulary word.
fn thread_share(
    t: usize,
    threads: usize,
    chunks: u64,
    passes: u32,
    until_count: bool,
) -> (u64, u64) {
    let at = |t: usize| (t as u128 * chunks as u128 / threads.max(1) as u128) as u64;
    let first = at(t);
    let budget = if until_count {
        chunks.saturating_mul(passes as u64 + 1)
    } else {
        (at(t + 1) - first).saturating_mul(passes as u64)
    };
    (first, budget)
}

/// The chunks one worker reads in [`run_thread_readers`]: from chunk `first` on, starting
/// again at the first chunk after the last, `budget` chunks at most (none from a corpus
/// without chunks).
pub(crate) struct ThreadChunks<'c> {
    corpus: &'c Corpus,
    chunk_bytes: usize,
    inner: crate::text::corpus::Chunks<'c>,
    /// Chunks still to pass over before the first one given.
    skip: u64,
    left: u64,
    /// Whether the pass being read has given a chunk yet.
    gave: bool,
}

impl<'c> ThreadChunks<'c> {
    pub(crate) fn new(corpus: &'c Corpus, chunk_bytes: usize, first: u64, budget: u64) -> Self {
        ThreadChunks {
            corpus,
            chunk_bytes,
            inner: corpus.chunks(chunk_bytes),
            skip: first,
            left: budget,
            gave: false,
        }
    }
}

impl Iterator for ThreadChunks<'_> {
    type Item = Result<crate::text::TextChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        loop {
            match self.inner.next() {
                // A chunk before `first`: passed over, unless it could not be read.
                Some(c) if self.skip > 0 => {
                    self.skip -= 1;
                    if c.is_err() {
                        self.left = 0;
                        return Some(c);
                    }
                }
                Some(c) => {
                    self.left -= 1;
                    self.gave = true;
                    return Some(c);
                }
                // A whole pass (or the part after `first`) gave nothing.
                None if !self.gave => return None,
                None => {
                    self.gave = false;
                    self.inner = self.corpus.chunks(self.chunk_bytes);
                }
            }
        }
    }
}

/// Everything the workers share.
struct Engine<'a> {
    config: &'a Word2VecConfig,
    alpha: f32,
    min_alpha: f32,
    inputs: &'a InputRows,
    syn0: Shared,
    syn1neg: Option<Shared>,
    syn1: Option<Shared>,
    noise: AliasTable,
    huffman: Huffman,
    keep: Vec<u32>,
    sigmoid: SigmoidTable,
    /// The id of `</s>` when each line ends with it ([`Word2VecConfig::eos`]).
    eos_id: Option<u32>,
    ids: FxHashMap<&'a str, u32>,
    tokenizer: crate::text::WordTokenizer,
    words_done: AtomicU64,
    /// Tokens the schedule counts in one pass over the corpus (for the epoch of a report).
    per_pass: u64,
    total_words: u64,
    /// Lines read so far, and the count the schedule runs to when the learning rate falls
    /// with the lines ([`Word2VecConfig::decay_by_lines`]; `None`: with the words).
    lines_done: AtomicU64,
    total_lines: Option<u64>,
    /// Training ends when `words_done` reaches `total_words` (fastText's accounting) rather
    /// than after the last pass.
    stop_at_total: bool,
    /// Loss sum and number of predictions since the last report.
    loss: Mutex<(f64, u64)>,
    stop: AtomicBool,
    /// Set by the worker that saw the count reach `total_words` (with `stop_at_total`).
    finished: AtomicBool,
}

impl Engine<'_> {
    /// Whether a prediction with score `f` makes no update (`skip_saturated` and |f| ≥ 6).
    #[inline]
    fn skips(&self, f: f32) -> bool {
        self.config.skip_saturated && !(-MAX_EXP < f && f < MAX_EXP)
    }

    /// The learning rate after `words` words and `lines` lines: falling with the lines when
    /// the schedule counts them, else with the words.
    fn rate(&self, words: u64, lines: u64) -> f32 {
        match self.total_lines {
            Some(total) => learning_rate(self.alpha, self.min_alpha, lines, total),
            None => learning_rate(self.alpha, self.min_alpha, words, self.total_words),
        }
    }

    fn report(&self, control: Control<'_>, epoch: u32, start: Instant) {
        let Some(p) = control.progress else { return };
        let done = self
            .words_done
            .load(Ordering::Relaxed)
            .min(self.total_words);
        let (sum, count) = self
            .loss
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or((0.0, 0));
        let secs = start.elapsed().as_secs_f64();
        let mut ev = Progress::new("train", done, Some(self.total_words), "words");
        ev.epoch = Some(epoch);
        ev.learning_rate = Some(self.rate(done, self.lines_done.load(Ordering::Relaxed)) as f64);
        ev.loss = (count > 0).then(|| sum / count as f64);
        ev.rate = (secs > 0.0).then(|| done as f64 / secs);
        p(&ev);
    }
}

/// Per-thread state.
struct Worker<'e, 'a> {
    e: &'e Engine<'a>,
    sentence: Vec<u32>,
    hidden: Vec<f32>,
    grad: Vec<f32>,
    total: Vec<f32>,
    /// The noise words of the prediction being made, and those drawn ahead for the next one
    /// (their rows are prefetched while this prediction runs: the rows of a 10⁴–10⁵-word
    /// output matrix are mostly not in cache, and waiting for them was half of skip-gram's time).
    negs: Vec<u32>,
    next_negs: Vec<u32>,
    alpha: f32,
    pending_words: u64,
    /// Lines read since the last [`Worker::flush`].
    pending_lines: u64,
    loss: f64,
    predictions: u64,
}

const UPDATE_EVERY: u64 = 10_000;

impl<'e, 'a> Worker<'e, 'a> {
    fn new(e: &'e Engine<'a>, dim: usize) -> Self {
        Worker {
            e,
            sentence: Vec::new(),
            hidden: vec![0.0; dim],
            grad: vec![0.0; dim],
            total: vec![0.0; dim],
            negs: vec![0; e.config.negative],
            next_negs: Vec::new(),
            alpha: e.alpha,
            pending_words: 0,
            pending_lines: 0,
            loss: 0.0,
            predictions: 0,
        }
    }

    /// Publishes the word count and loss, and refreshes the learning rate.
    fn flush(&mut self) {
        let done = self
            .e
            .words_done
            .fetch_add(self.pending_words, Ordering::Relaxed)
            + self.pending_words;
        self.pending_words = 0;
        let lines = self
            .e
            .lines_done
            .fetch_add(self.pending_lines, Ordering::Relaxed)
            + self.pending_lines;
        self.pending_lines = 0;
        self.alpha = self.e.rate(done, lines);
        if let Ok(mut l) = self.e.loss.lock() {
            l.0 += self.loss;
            l.1 += self.predictions;
        }
        self.loss = 0.0;
        self.predictions = 0;
    }

    fn chunk(&mut self, text: &str, rng: &mut Rng) {
        let e = self.e;
        let mut sentence = std::mem::take(&mut self.sentence);
        for_each_line_piece_in(&e.tokenizer, text, &mut |tokens: &[&str], line_end| {
            if e.stop.load(Ordering::Relaxed) || e.finished.load(Ordering::Relaxed) {
                return;
            }
            if e.stop_at_total
                && e.words_done.load(Ordering::Relaxed) + self.pending_words >= e.total_words
            {
                // fastText's `keepTraining`: the count has reached epochs × all tokens.
                e.finished.store(true, Ordering::Relaxed);
                return;
            }
            if line_end {
                self.pending_lines += 1;
            }
            let eos = if line_end { e.eos_id } else { None };
            if tokens.is_empty() && eos.is_none() {
                return;
            }
            sentence.clear();
            for id in tokens
                .iter()
                .filter_map(|t| e.ids.get(t).copied())
                .chain(eos)
            {
                self.pending_words += 1;
                let k = e.keep[id as usize];
                if k == u32::MAX || (rng.next_u64() as u32) < k {
                    sentence.push(id);
                }
            }
            match e.config.model {
                Model::SkipGram => self.skipgram(&sentence, rng),
                Model::Cbow => self.cbow(&sentence, rng),
            }
            if self.pending_words >= UPDATE_EVERY {
                self.flush();
            }
        });
        self.sentence = sentence;
    }

    /// Mean of the rows of `w` into `hidden`.
    fn load_input(&mut self, w: u32) {
        let rows = self.e.inputs.of(w);
        if rows.len() == 1 {
            self.e.syn0.copy_row_to(rows[0], &mut self.hidden);
            return;
        }
        self.hidden.fill(0.0);
        for &r in rows {
            self.e.syn0.add_row_to(1.0, r, &mut self.hidden);
        }
        let inv = 1.0 / rows.len() as f32;
        self.hidden.iter_mut().for_each(|x| *x *= inv);
    }

    /// Starts loading the input rows of word `w` (see [`Shared::prefetch`]).
    #[inline]
    fn prefetch_input(&self, w: u32) {
        for &r in self.e.inputs.of(w) {
            self.e.syn0.prefetch(r);
        }
    }

    /// Starts loading the output row of `target` for negative sampling.
    #[inline]
    fn prefetch_output(&self, target: u32) {
        if let Some(syn1neg) = &self.e.syn1neg {
            syn1neg.prefetch(target);
        }
    }

    /// Adds the input-side gradient to every input row of word `w` (the inverse of
    /// [`Worker::load_input`]: each row receives the full gradient).
    fn store_input_grad(&self, w: u32) {
        for &r in self.e.inputs.of(w) {
            self.e.syn0.add_to_row(1.0, &self.grad, r);
        }
    }

    fn skipgram(&mut self, s: &[u32], rng: &mut Rng) {
        let window = self.e.config.window;
        for i in 0..s.len() {
            let b = window - rng.below(window as u64) as usize;
            let lo = i.saturating_sub(b);
            let hi = (i + b + 1).min(s.len());
            if hi - lo < 2 {
                continue;
            }
            let shared = self.e.config.shared_negatives && self.e.syn1neg.is_some();
            if self.e.config.context_input && !shared {
                // word2vec C and gensim: each context word's input vector predicts the centre
                // word and moves at once. The centre's output row serves the whole window; the
                // next context word's input rows are fetched while this pair computes.
                self.prefetch_output(s[i]);
                for (j, &w) in s.iter().enumerate().take(hi).skip(lo) {
                    if j != i {
                        if let Some(next) = next_context(j, i, hi) {
                            self.prefetch_input(s[next]);
                        }
                        self.load_input(w);
                        self.grad.fill(0.0);
                        self.predict(s[i], rng);
                        self.store_input_grad(w);
                    }
                }
                continue;
            }
            if let Some(&next) = s.get(i + 1) {
                self.prefetch_input(next);
            }
            self.load_input(s[i]);
            self.grad.fill(0.0);
            if shared {
                self.window_shared(s, i, lo, hi, rng);
            } else {
                // One update per (centre, context) pair, in order, as word2vec, gensim and
                // fastText do: each pair's input-side gradient moves the input vector before the
                // next pair is scored. The input rows are written once per window with the sum;
                // since the input vector is the mean of its rows and every row receives the full
                // gradient, adding each pair's gradient to `hidden` gives exactly the vector a
                // per-pair write would have produced.
                self.total.fill(0.0);
                for (j, &target) in s.iter().enumerate().take(hi).skip(lo) {
                    if j != i {
                        if let Some(next) = next_context(j, i, hi) {
                            self.prefetch_output(s[next]);
                        }
                        self.grad.fill(0.0);
                        self.predict(target, rng);
                        axpy(1.0, &self.grad, &mut self.hidden);
                        axpy(1.0, &self.grad, &mut self.total);
                    }
                }
                std::mem::swap(&mut self.grad, &mut self.total);
            }
            self.store_input_grad(s[i]);
        }
    }

    fn cbow(&mut self, s: &[u32], rng: &mut Rng) {
        let window = self.e.config.window;
        for i in 0..s.len() {
            let b = window - rng.below(window as u64) as usize;
            let lo = i.saturating_sub(b);
            let hi = (i + b + 1).min(s.len());
            if hi - lo < 2 {
                continue;
            }
            self.hidden.fill(0.0);
            let mut count = 0usize;
            for (j, &w) in s.iter().enumerate().take(hi).skip(lo) {
                if j != i {
                    for &r in self.e.inputs.of(w) {
                        self.e.syn0.add_row_to(1.0, r, &mut self.hidden);
                        count += 1;
                    }
                }
            }
            if self.e.config.cbow_mean {
                let inv = 1.0 / count as f32;
                self.hidden.iter_mut().for_each(|x| *x *= inv);
            }
            if let Some(&next) = s.get(i + 1) {
                self.prefetch_output(next);
            }
            self.grad.fill(0.0);
            self.predict(s[i], rng);
            for (j, &w) in s.iter().enumerate().take(hi).skip(lo) {
                if j != i {
                    self.store_input_grad(w);
                }
            }
        }
    }

    /// Skip-gram window with shared noise words: positives for every context word of
    /// `s[lo..hi]` (but `i`), then `negative` noise words weighted by the context size. Also
    /// runs hierarchical softmax per context word when it is on.
    fn window_shared(&mut self, s: &[u32], i: usize, lo: usize, hi: usize, rng: &mut Rng) {
        let e = self.e;
        let Some(syn1neg) = &e.syn1neg else { return };
        let alpha = self.alpha;
        let mut loss = 0.0f32;
        let mut m = 0usize;
        for (j, &t) in s.iter().enumerate().take(hi).skip(lo) {
            if j == i {
                continue;
            }
            m += 1;
            if e.syn1.is_some() {
                self.predict_hs(t);
            }
            let f = syn1neg.dot(&self.hidden, t);
            loss += e.sigmoid.neg_log_sigmoid(f);
            if e.skips(f) {
                continue;
            }
            let g = (1.0 - e.sigmoid.sigmoid(f)) * alpha;
            syn1neg.exchange(g, &self.hidden, t, &mut self.grad);
        }
        let weight = m as f32;
        for _ in 0..e.config.negative {
            let t = e.noise.sample(rng);
            if t == s[i] {
                continue;
            }
            let f = syn1neg.dot(&self.hidden, t);
            loss += weight * e.sigmoid.neg_log_sigmoid(-f);
            if e.skips(f) {
                continue;
            }
            let g = -e.sigmoid.sigmoid(f) * alpha * weight;
            syn1neg.exchange(g, &self.hidden, t, &mut self.grad);
        }
        self.loss += loss as f64;
        self.predictions += m as u64;
    }

    /// Hierarchical softmax for one target (nothing without `--hs`); adds its loss.
    fn predict_hs(&mut self, target: u32) {
        let e = self.e;
        let Some(syn1) = &e.syn1 else { return };
        let (points, codes) = e.huffman.path(target);
        let mut loss = 0.0f32;
        for (&p, &c) in points.iter().zip(codes) {
            let f = syn1.dot(&self.hidden, p);
            loss += e.sigmoid.neg_log_sigmoid(if c == 0 { f } else { -f });
            if e.skips(f) {
                continue;
            }
            let g = (1.0 - c as f32 - e.sigmoid.sigmoid(f)) * self.alpha;
            syn1.exchange(g, &self.hidden, p, &mut self.grad);
        }
        self.loss += loss as f64;
    }

    /// One prediction of `target` from `hidden`: updates output rows, adds the input-side
    /// gradient to `grad`, and accumulates the loss.
    #[inline]
    fn predict(&mut self, target: u32, rng: &mut Rng) {
        let e = self.e;
        let alpha = self.alpha;
        let mut loss = 0.0f32;
        self.predict_hs(target);
        if let Some(syn1neg) = &e.syn1neg {
            // This prediction's noise words were drawn by the previous one (or are drawn now,
            // the first time); the next prediction's are drawn here and their rows prefetched.
            let k = e.config.negative;
            if self.next_negs.len() != k {
                self.next_negs.clear();
                self.next_negs.extend((0..k).map(|_| e.noise.sample(rng)));
            }
            std::mem::swap(&mut self.negs, &mut self.next_negs);
            for slot in self.next_negs.iter_mut() {
                *slot = e.noise.sample(rng);
                syn1neg.prefetch(*slot);
            }
            for d in 0..=k {
                let (t, label) = if d == 0 {
                    (target, 1.0f32)
                } else {
                    let mut t = self.negs[d - 1];
                    if t == target {
                        if !e.config.resample_negatives {
                            continue;
                        }
                        // fastText draws again (a vocabulary of one word has nothing else).
                        let mut tries = 0;
                        while t == target && tries < 64 {
                            t = e.noise.sample(rng);
                            tries += 1;
                        }
                        if t == target {
                            continue;
                        }
                    }
                    (t, 0.0)
                };
                let f = syn1neg.dot(&self.hidden, t);
                loss += e.sigmoid.neg_log_sigmoid(if d == 0 { f } else { -f });
                if e.skips(f) {
                    continue;
                }
                let g = (label - e.sigmoid.sigmoid(f)) * alpha;
                syn1neg.exchange(g, &self.hidden, t, &mut self.grad);
            }
        }
        self.loss += loss as f64;
        self.predictions += 1;
    }
}

/// The position of the context word after `j` in a window ending before `hi` around the
/// centre `i` (the centre skipped), if there is one: the row to fetch ahead.
fn next_context(j: usize, i: usize, hi: usize) -> Option<usize> {
    let next = if j + 1 == i { j + 2 } else { j + 1 };
    (next < hi).then_some(next)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernels::{axpy, dot};
    use crate::train::synthetic::{analogies, Synthetic, SyntheticConfig};

    /// Top-1 analogy accuracy over the planted questions (3CosAdd on unit vectors, the three
    /// question words excluded), as gensim's `evaluate_word_analogies` computes it.
    pub(crate) fn planted_accuracy(emb: &Embeddings) -> f64 {
        let unit: Vec<Vec<f32>> = (0..emb.len() as u32)
            .map(|i| {
                let mut v = emb.vector(i).unwrap();
                crate::kernels::normalize(&mut v);
                v
            })
            .collect();
        let qs = analogies();
        let mut right = 0;
        for q in &qs {
            let id = |w| emb.vocab().id(w).unwrap();
            let (a, b, c) = (id(q.a), id(q.b), id(q.c));
            let mut target = vec![0.0f32; emb.dims()];
            axpy(1.0, &unit[b as usize], &mut target);
            axpy(-1.0, &unit[a as usize], &mut target);
            axpy(1.0, &unit[c as usize], &mut target);
            let best = (0..unit.len() as u32)
                .filter(|&i| i != a && i != b && i != c)
                .max_by(|&i, &j| {
                    dot(&unit[i as usize], &target).total_cmp(&dot(&unit[j as usize], &target))
                })
                .unwrap();
            if emb.vocab().token(best) == Some(q.d) {
                right += 1;
            }
        }
        right as f64 / qs.len() as f64
    }

    /// Runs `f` on a worker over the given matrices (dim 2, word rows only, no hierarchical
    /// softmax, learning rate 0.5 throughout), noise drawn from `noise_counts` as they are.
    fn with_worker(
        config: &Word2VecConfig,
        syn0: &mut [f32],
        syn1neg: &mut [f32],
        noise_counts: &[u64],
        f: impl FnOnce(&mut Worker<'_, '_>),
    ) {
        with_schedule(config, syn0, syn1neg, noise_counts, (0.5, 0.5), None, f)
    }

    /// [`with_worker`] with the learning rate falling from `rates.0` to `rates.1` over one
    /// word, or over `total_lines` lines.
    fn with_schedule(
        config: &Word2VecConfig,
        syn0: &mut [f32],
        syn1neg: &mut [f32],
        noise_counts: &[u64],
        rates: (f32, f32),
        total_lines: Option<u64>,
        f: impl FnOnce(&mut Worker<'_, '_>),
    ) {
        let inputs = InputRows::words(syn0.len() / 2);
        let engine = Engine {
            config,
            alpha: rates.0,
            min_alpha: rates.1,
            inputs: &inputs,
            syn0: Shared::new(syn0, 2),
            syn1neg: Some(Shared::new(syn1neg, 2)),
            syn1: None,
            noise: AliasTable::unigram(noise_counts, 1.0),
            huffman: Huffman::new(&[]),
            keep: vec![u32::MAX; noise_counts.len()],
            sigmoid: SigmoidTable::new(config.sigmoid),
            eos_id: None,
            ids: FxHashMap::default(),
            tokenizer: Default::default(),
            words_done: AtomicU64::new(0),
            per_pass: 1,
            total_words: 1,
            lines_done: AtomicU64::new(0),
            total_lines,
            stop_at_total: false,
            loss: Mutex::new((0.0, 0)),
            stop: AtomicBool::new(false),
            finished: AtomicBool::new(false),
        };
        let mut worker = Worker::new(&engine, 2);
        f(&mut worker);
    }

    /// The vocabulary pass counts the lines a training pass reads, so `train` needs no extra
    /// read of the corpus and trains exactly as `train_with`, which counts them in one.
    #[test]
    fn the_vocabulary_pass_counts_the_lines_the_schedule_needs() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = planted_corpus(dir.path());
        let config = Word2VecConfig {
            epochs: 1,
            ..small(Model::SkipGram, 3, false)
        };
        assert!(config.decay_by_lines);
        let (vocab, totals) = build_vocab_counted(&corpus, &config, Control::default()).unwrap();
        assert!(totals.lines > 0);
        assert_eq!(
            Some(totals.lines),
            lines_per_pass(&corpus, Control::default()).unwrap()
        );
        let inputs = InputRows::words(vocab.len());
        let run = |totals: Option<CorpusTotals>| {
            train_with_total(
                &corpus,
                &config,
                &vocab,
                &inputs,
                totals,
                Control::default(),
            )
            .unwrap()
        };
        let given = run(Some(totals));
        assert_eq!(given, run(None));
        // The totals are what the schedule uses: twice the lines, a slower fall of the rate.
        let doubled = CorpusTotals {
            lines: 2 * totals.lines,
            ..totals
        };
        assert_ne!(given, run(Some(doubled)));
    }

    #[test]
    fn the_learning_rate_falls_with_the_lines_read_when_asked() {
        // Words outside the vocabulary: nothing is trained, but every newline is a line read
        // (empty lines and a last line without a newline: not counted by the trainer nor by
        // `lines_per_pass`).
        let text = "x y\n\nz\nw w w w w w w w\nv";
        let config = Word2VecConfig::default();
        let (mut syn0, mut syn1neg) = (vec![0.0f32; 4], vec![0.0f32; 4]);
        for (total_lines, want) in [(Some(9), learning_rate(1.0, 0.0, 4, 9)), (None, 1.0)] {
            with_schedule(
                &config,
                &mut syn0,
                &mut syn1neg,
                &[1, 1],
                (1.0, 0.0),
                total_lines,
                |w| {
                    w.chunk(text, &mut Rng::new(1));
                    w.flush();
                    assert_eq!(w.alpha, want, "total_lines {total_lines:?}");
                },
            );
        }
        assert!((learning_rate(1.0, 0.0, 4, 9) - 0.6).abs() < 1e-6);
        // `lines_per_pass` counts the same newlines; a corpus without one falls back to words.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        std::fs::write(&path, text).unwrap();
        let corpus = Corpus::new(std::slice::from_ref(&path), Default::default()).unwrap();
        assert_eq!(
            lines_per_pass(&corpus, Control::default()).unwrap(),
            Some(4)
        );
        std::fs::write(&path, "one line").unwrap();
        let corpus = Corpus::new(&[path], Default::default()).unwrap();
        assert_eq!(lines_per_pass(&corpus, Control::default()).unwrap(), None);
    }

    /// One positive prediction (input word 1 → target word 0; the noise distribution only
    /// holds the target, so no negative is scored) with the rows set so the score is `f`.
    /// Returns the target's output row and the input-side gradient afterwards.
    fn one_prediction(skip_saturated: bool, f: f32) -> (Vec<f32>, Vec<f32>) {
        let config = Word2VecConfig {
            dim: 2,
            negative: 1,
            skip_saturated,
            ..Word2VecConfig::default()
        };
        let mut syn0 = vec![0.0, 0.0, 2.0, 0.0];
        let mut syn1neg = vec![f / 2.0, 1.0, 0.0, 0.0];
        let mut grad = Vec::new();
        with_worker(&config, &mut syn0, &mut syn1neg, &[1, 0], |w| {
            w.load_input(1);
            w.grad.fill(0.0);
            w.predict(0, &mut Rng::new(1));
            grad = w.grad.clone();
        });
        (syn1neg[..2].to_vec(), grad)
    }

    #[test]
    fn saturated_scores_are_skipped_as_gensim_does_or_get_the_full_gradient() {
        // A positive pair scored −8: beyond the table, as wrong as it can be.
        let (out, grad) = one_prediction(true, -8.0);
        assert_eq!(out, vec![-4.0, 1.0], "gensim: no update of the output row");
        assert_eq!(grad, vec![0.0, 0.0], "gensim: no input-side gradient");
        // word2vec C / fastText: g = (1 − σ(−8→0)) · alpha = 0.5.
        let (out, grad) = one_prediction(false, -8.0);
        assert_eq!(out, vec![-4.0 + 0.5 * 2.0, 1.0]);
        assert_eq!(grad, vec![0.5 * -4.0, 0.5 * 1.0]);
        // Inside the table both conventions update the same way.
        let (a, ga) = one_prediction(true, -2.0);
        let (b, gb) = one_prediction(false, -2.0);
        assert_eq!((a.clone(), ga.clone()), (b, gb));
        let g = 0.5 * (1.0 - SigmoidTable::default().sigmoid(-2.0));
        assert!((a[0] - (-1.0 + g * 2.0)).abs() < 1e-6, "{a:?}");
        assert!(
            (ga[0] + g).abs() < 1e-6 && (ga[1] - g).abs() < 1e-6,
            "{ga:?}"
        );
    }

    /// The skip-gram loops of the reference tools on one sentence with window 1 and one noise
    /// word (always `noise`), in f32 with the same sigmoid table: gensim's `train_sentence_sg`
    /// / `fast_sentence_sg_neg` (the context word's input row predicts the centre word, and moves
    /// after each pair), or fastText's `skipgram` (the centre word's input predicts each context
    /// word; its gradient summed and applied after the window). Saturated scores skipped.
    fn reference_sg(
        s: &[u32],
        noise: u32,
        context_input: bool,
        syn0: &mut [[f32; 2]],
        syn1: &mut [[f32; 2]],
    ) {
        let table = SigmoidTable::default();
        let alpha = 0.5f32;
        let dot = |a: &[f32; 2], b: &[f32; 2]| a[0] * b[0] + a[1] * b[1];
        for i in 0..s.len() {
            let mut window_grad = [0.0f32; 2];
            let mut hidden = syn0[s[i] as usize];
            for j in i.saturating_sub(1)..(i + 2).min(s.len()) {
                if j == i {
                    continue;
                }
                let (input, target) = if context_input {
                    (s[j], s[i])
                } else {
                    (s[i], s[j])
                };
                if context_input {
                    hidden = syn0[input as usize];
                }
                let mut work = [0.0f32; 2];
                for (t, label) in [(target, 1.0f32), (noise, 0.0)] {
                    if label == 0.0 && t == target {
                        continue;
                    }
                    let f = dot(&hidden, &syn1[t as usize]);
                    if !(-MAX_EXP < f && f < MAX_EXP) {
                        continue;
                    }
                    let g = (label - table.sigmoid(f)) * alpha;
                    for k in 0..2 {
                        work[k] += g * syn1[t as usize][k];
                        syn1[t as usize][k] += g * hidden[k];
                    }
                }
                for k in 0..2 {
                    if context_input {
                        syn0[input as usize][k] += work[k];
                    } else {
                        hidden[k] += work[k];
                        window_grad[k] += work[k];
                    }
                }
            }
            if !context_input {
                for k in 0..2 {
                    syn0[s[i] as usize][k] += window_grad[k];
                }
            }
        }
    }

    #[test]
    fn skipgram_input_side_follows_gensim_or_fasttext() {
        let s = [0u32, 1, 2, 1];
        for context_input in [true, false] {
            let config = Word2VecConfig {
                dim: 2,
                window: 1,
                negative: 1,
                context_input,
                ..Word2VecConfig::default()
            };
            let start0 = [[0.3f32, -0.2], [0.1, 0.4], [-0.5, 0.2], [0.2, 0.2]];
            let start1 = [[0.2f32, 0.1], [-0.3, 0.5], [0.4, -0.1], [0.1, -0.4]];
            let mut syn0: Vec<f32> = start0.iter().flatten().copied().collect();
            let mut syn1neg: Vec<f32> = start1.iter().flatten().copied().collect();
            with_worker(&config, &mut syn0, &mut syn1neg, &[0, 0, 0, 1], |w| {
                w.skipgram(&s, &mut Rng::new(3));
            });
            let (mut r0, mut r1) = (start0, start1);
            reference_sg(&s, 3, context_input, &mut r0, &mut r1);
            let flat = |m: [[f32; 2]; 4]| m.iter().flatten().copied().collect::<Vec<f32>>();
            for (got, want) in [(&syn0, flat(r0)), (&syn1neg, flat(r1))] {
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() < 1e-6,
                        "context_input {context_input}: {got:?} vs {want:?}"
                    );
                }
            }
            // The two orders give different vectors (the test tells them apart).
            let (mut o0, mut o1) = (start0, start1);
            reference_sg(&s, 3, !context_input, &mut o0, &mut o1);
            assert!(syn0.iter().zip(flat(o0)).any(|(a, b)| (a - b).abs() > 1e-4));
        }
    }

    pub(crate) fn planted_corpus(dir: &std::path::Path) -> Corpus {
        let path = dir.join("planted.txt");
        Synthetic::write(
            SyntheticConfig {
                sentences: 20_000,
                ..Default::default()
            },
            &path,
        )
        .unwrap();
        Corpus::new(&[path], Default::default()).unwrap()
    }

    fn small(model: Model, negative: usize, hs: bool) -> Word2VecConfig {
        Word2VecConfig {
            model,
            dim: 40,
            window: 4,
            negative,
            hs,
            sample: 1e-3,
            min_count: 5,
            epochs: 5,
            threads: 1,
            seed: 7,
            ..Default::default()
        }
    }

    #[test]
    fn planted_analogies_are_learned_by_all_four_variants() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = planted_corpus(dir.path());
        let shared = Word2VecConfig {
            shared_negatives: true,
            ..small(Model::SkipGram, 5, false)
        };
        let acc = planted_accuracy(&train(&corpus, &shared, Control::default()).unwrap());
        eprintln!("SkipGram shared negatives: {acc:.3}");
        assert!(acc >= 0.6, "shared negatives: accuracy {acc}");
        for (model, neg, hs) in [
            (Model::SkipGram, 5, false),
            (Model::Cbow, 5, false),
            (Model::SkipGram, 0, true),
            (Model::Cbow, 0, true),
        ] {
            let emb = train(&corpus, &small(model, neg, hs), Control::default()).unwrap();
            let acc = planted_accuracy(&emb);
            eprintln!("{model:?} neg={neg} hs={hs}: {acc:.3}");
            assert!(acc >= 0.6, "{model:?} neg={neg} hs={hs}: accuracy {acc}");
        }
        // The check can fail: untrained vectors (one epoch at a learning rate too small to move
        // them) answer almost nothing.
        let untrained = Word2VecConfig {
            alpha: Some(1e-7),
            epochs: 1,
            ..small(Model::SkipGram, 5, false)
        };
        let acc = planted_accuracy(&train(&corpus, &untrained, Control::default()).unwrap());
        assert!(acc < 0.1, "untrained accuracy {acc}");
    }

    #[test]
    fn thread_readers_start_at_evenly_spaced_points_and_read_on_around_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.txt");
        let text: String = (0..3000)
            .map(|i| format!("line {i} of the corpus\n"))
            .collect();
        std::fs::write(&path, text).unwrap();
        let corpus = Corpus::new(&[path], Default::default()).unwrap();
        let chunk_bytes = 4096;
        let in_order: Vec<u64> = corpus
            .chunks(chunk_bytes)
            .map(|c| c.unwrap().first_line)
            .collect();
        let n = in_order.len();
        assert!(n >= 10, "{n} chunks");
        let read = |first: u64, budget: u64| -> Vec<u64> {
            ThreadChunks::new(&corpus, chunk_bytes, first, budget)
                .map(|c| c.unwrap().first_line)
                .collect()
        };
        for threads in [2usize, 3, 7, n, n + 5] {
            let mut total = 0u64;
            for t in 0..threads {
                // fastText's loop: thread t seeks to t/T of the input and reads on, starting
                // again at the top after the end.
                let (first, budget) = thread_share(t, threads, n as u64, 3, false);
                assert_eq!(
                    first as usize,
                    t * n / threads,
                    "{threads} threads, thread {t}"
                );
                let want: Vec<u64> = (0..budget as usize)
                    .map(|k| in_order[(first as usize + k) % n])
                    .collect();
                assert_eq!(read(first, budget), want, "{threads} threads, thread {t}");
                total += budget;
            }
            // Three passes' worth of chunks in all.
            assert_eq!(total, 3 * n as u64, "{threads} threads");
            // Stopping at the schedule's count: a bound of one pass more than all passes.
            assert_eq!(thread_share(1, threads, n as u64, 3, true).1, 4 * n as u64);
        }
        // Two threads: the second starts at the middle of the corpus.
        assert_eq!(
            read(thread_share(1, 2, n as u64, 1, false).0, 1),
            [in_order[n / 2]]
        );
        // A corpus without chunks gives none, whatever the budget.
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        let corpus = Corpus::new(&[empty], Default::default()).unwrap();
        assert_eq!(ThreadChunks::new(&corpus, chunk_bytes, 0, 100).count(), 0);
    }

    #[test]
    fn spread_readers_with_one_thread_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = planted_corpus(dir.path());
        let mut c = small(Model::SkipGram, 5, false);
        c.epochs = 1;
        let a = train(&corpus, &c, Control::default()).unwrap();
        c.spread_readers = true;
        let b = train(&corpus, &c, Control::default()).unwrap();
        assert_eq!(a.vector(0).unwrap(), b.vector(0).unwrap());
        assert_eq!(b.metadata()["train.spread_readers"], "1");
        // Two threads with spread readers still learn the planted structure.
        c.threads = 2;
        c.epochs = 5;
        let acc = planted_accuracy(&train(&corpus, &c, Control::default()).unwrap());
        assert!(acc >= 0.5, "spread readers, 2 threads: {acc}");
    }

    #[test]
    fn one_thread_is_bit_identical_run_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        Synthetic::write(
            SyntheticConfig {
                sentences: 2000,
                ..Default::default()
            },
            &path,
        )
        .unwrap();
        let corpus = Corpus::new(&[path], Default::default()).unwrap();
        for model in [Model::SkipGram, Model::Cbow] {
            let cfg = Word2VecConfig {
                hs: true,
                ..small(model, 3, true)
            };
            let a = train(&corpus, &cfg, Control::default()).unwrap();
            // The default schedule (gensim's), recorded with the model.
            assert_eq!(a.metadata()["train.lr_decay"], "lines");
            let b = train(&corpus, &cfg, Control::default()).unwrap();
            let bits = |e: &Embeddings| -> Vec<u32> {
                e.storage()
                    .as_dense()
                    .unwrap()
                    .as_slice()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect()
            };
            assert_eq!(bits(&a), bits(&b));
            let c = train(
                &corpus,
                &Word2VecConfig { seed: 8, ..cfg },
                Control::default(),
            )
            .unwrap();
            assert_ne!(bits(&a), bits(&c));
            assert_eq!(a.metadata()["train.model"], model.name());
            assert_eq!(a.metadata()["train.seed"], "7");
        }
    }

    /// fastText's accounting on a corpus where one token in five is out of the vocabulary:
    /// `</s>` is counted once per newline (empty lines too, not after a last line without
    /// one), is a vocabulary word, and is counted with each line while training; the schedule
    /// runs to epochs × every token, so training reads 6/5 of `epochs` passes and stops there.
    #[test]
    fn eos_and_all_token_accounting_follow_fasttext() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        let mut text = String::new();
        for i in 0..1000 {
            // u{i} occurs once: under min_count, out of the vocabulary.
            text.push_str(&format!("a b c d u{i}\n"));
            if i % 100 == 0 {
                text.push('\n');
            }
        }
        text.push_str("a b");
        std::fs::write(&path, &text).unwrap();
        let corpus = Corpus::new(&[path], Default::default()).unwrap();
        let base = Word2VecConfig {
            dim: 8,
            window: 2,
            negative: 2,
            sample: 0.0,
            min_count: 2,
            epochs: 2,
            threads: 1,
            ..Default::default()
        };
        let run = |config: &Word2VecConfig| {
            let (vocab, totals) = build_vocab_counted(&corpus, config, Control::default()).unwrap();
            let inputs = InputRows::words(vocab.len());
            let (_, counted) = train_counted(
                &corpus,
                config,
                &vocab,
                &inputs,
                Some(totals),
                Control::default(),
            )
            .unwrap();
            (vocab, totals.tokens, counted)
        };
        // word2vec: no `</s>`, exactly 2 passes of the 4,002 in-vocabulary tokens.
        let (vocab, tokens, counted) = run(&base);
        assert_eq!(vocab.id(EOS), None);
        assert_eq!(tokens, 5_002);
        assert_eq!(vocab.total_count(), 4_002);
        assert_eq!(counted, 2 * 4_002);
        // `</s>` alone: 1,010 newlines, counted with their lines; still exactly 2 passes.
        let eos = Word2VecConfig {
            eos: true,
            ..base.clone()
        };
        let (vocab, tokens, counted) = run(&eos);
        let id = vocab.id(EOS).expect("</s> is a word");
        assert_eq!(vocab.count(id), 1_010);
        assert_eq!(tokens, 5_002 + 1_010);
        assert_eq!(counted, 2 * 5_012);
        // fastText's accounting: the schedule runs to 2 × 6,012 tokens, read in 5,012-token
        // passes: 2.4 passes, stopping at the first line that reaches the total.
        let all = Word2VecConfig {
            count_all_tokens: true,
            ..eos.clone()
        };
        assert_eq!(schedule(&all, 5_012, Some(6_012)), (6_012, 12_024, 3));
        assert_eq!(schedule(&eos, 5_012, Some(6_012)), (5_012, 10_024, 2));
        let (_, _, counted) = run(&all);
        assert!((12_024..12_024 + 5).contains(&counted), "{counted}");
        assert_eq!(
            all.metadata()
                .iter()
                .filter(|(k, _)| k == "train.eos" || k == "train.count_all_tokens")
                .count(),
            2
        );
    }

    /// Subsampling with fastText's accounting divides by every token: a frequent word is kept
    /// more often than over the vocabulary's total.
    #[test]
    fn all_token_subsampling_keeps_frequent_words_more_often() {
        let counts = [5_000u64, 100];
        let vocab_only = keep_thresholds_over(&counts, 1e-3, 5_100);
        let all = keep_thresholds_over(&counts, 1e-3, 6_000);
        assert_eq!(
            vocab_only,
            crate::train::sampling::keep_thresholds(&counts, 1e-3)
        );
        let p = |t: u32| t as f64 / 4_294_967_296.0;
        let f = 5_000.0 / 6_000.0;
        let want = (1e-3f64 / f).sqrt() + 1e-3 / f;
        assert!((p(all[0]) - want).abs() < 1e-6, "{} vs {want}", p(all[0]));
        assert!(p(all[0]) > p(vocab_only[0]) * 1.08);
    }

    #[test]
    fn bad_input_is_rejected_before_work() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "\n  \n").unwrap();
        let rare = dir.path().join("rare.txt");
        std::fs::write(&rare, "a b c d\n").unwrap();
        let cfg = Word2VecConfig::default();
        let run = |path: &std::path::Path, cfg: &Word2VecConfig| {
            let corpus = Corpus::new(&[path], Default::default()).unwrap();
            train(&corpus, cfg, Control::default())
                .unwrap_err()
                .to_string()
        };
        assert!(
            run(&empty, &cfg).contains("no words"),
            "{}",
            run(&empty, &cfg)
        );
        assert!(run(&rare, &cfg).contains("min_count"));
        let bad = [
            (
                Word2VecConfig {
                    dim: 0,
                    ..cfg.clone()
                },
                "dim",
            ),
            (
                Word2VecConfig {
                    window: 0,
                    ..cfg.clone()
                },
                "window",
            ),
            (
                Word2VecConfig {
                    negative: 0,
                    hs: false,
                    ..cfg.clone()
                },
                "negative",
            ),
            (
                Word2VecConfig {
                    epochs: 0,
                    ..cfg.clone()
                },
                "epochs",
            ),
            (
                Word2VecConfig {
                    alpha: Some(-1.0),
                    ..cfg.clone()
                },
                "alpha",
            ),
            (
                Word2VecConfig {
                    sample: f64::NAN,
                    ..cfg.clone()
                },
                "sample",
            ),
            (
                Word2VecConfig {
                    alpha: Some(0.025),
                    min_alpha: Some(0.03),
                    ..cfg.clone()
                },
                "min_alpha",
            ),
            (
                Word2VecConfig {
                    min_alpha: Some(f32::NAN),
                    ..cfg.clone()
                },
                "min_alpha",
            ),
        ];
        for (c, name) in bad {
            let e = run(&rare, &c);
            assert!(e.contains(name), "{e}");
        }
        assert!(Corpus::new(&[dir.path().join("missing.txt")], Default::default()).is_err());
        // Cancellation: a raised flag stops the run with Error::Cancelled.
        let corpus = Corpus::new(&[&rare], Default::default()).unwrap();
        let flag = AtomicBool::new(true);
        let ctl = Control {
            cancel: Some(&flag),
            progress: None,
        };
        let cfg1 = Word2VecConfig {
            min_count: 1,
            ..cfg
        };
        assert!(matches!(train(&corpus, &cfg1, ctl), Err(Error::Cancelled)));
    }

    #[test]
    fn progress_reports_words_rate_and_finite_loss() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = planted_corpus(dir.path());
        // The trained model and every progress event of one run.
        let run = |cfg: &Word2VecConfig| {
            let events = Mutex::new(Vec::new());
            let sink = |p: &Progress| events.lock().unwrap().push(p.clone());
            let ctl = Control {
                progress: Some(&sink),
                cancel: None,
            };
            let emb = train(&corpus, cfg, ctl).unwrap();
            (emb, events.into_inner().unwrap())
        };
        // The word schedule, whose rate this test computes (the lines schedule has its own).
        let cfg = Word2VecConfig {
            epochs: 2,
            decay_by_lines: false,
            ..small(Model::Cbow, 5, false)
        };
        let (emb, events) = run(&cfg);
        assert_eq!(emb.metadata()["train.lr_decay"], "words");
        let last = events.iter().rev().find(|p| p.stage == "train").unwrap();
        let total = emb.vocab().total_count() * 2;
        assert_eq!(last.done, total);
        assert_eq!(last.total, Some(total));
        assert!(last.loss.unwrap().is_finite() && last.loss.unwrap() > 0.0);
        assert!(last.learning_rate.unwrap() < 0.05 * 0.01);
        assert!(events.iter().any(|p| p.stage == "count"));
        // With gensim's `min_alpha` the rate ends there instead (the last event is at the end).
        let cfg = Word2VecConfig {
            min_alpha: Some(0.01),
            ..cfg
        };
        let (emb, events) = run(&cfg);
        assert_eq!(emb.metadata()["train.min_alpha"], "0.01");
        let last = events.iter().rev().find(|p| p.stage == "train").unwrap();
        let (alpha, done, total) = (0.05f64, last.done as f64, total as f64);
        let want = alpha - (alpha - 0.01) * done / (total + 1.0);
        assert!(
            (last.learning_rate.unwrap() - want).abs() < 1e-6,
            "{last:?}"
        );
        assert!((last.learning_rate.unwrap() - 0.01).abs() < 1e-3);
    }
}
