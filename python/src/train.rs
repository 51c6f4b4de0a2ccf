//! Training from Python: word2vec, fastText and GloVe run on a worker thread while the calling
//! thread, detached from the interpreter, waits for progress; every 100 ms, and at each progress
//! event, it attaches to deliver the event to the user's callback and to check for signals, so
//! Ctrl-C (KeyboardInterrupt) and an exception raised by the callback stop training soon.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use embers::progress::{Progress, ProgressFn};
use embers::subword::SubwordConfig;
use embers::text::{Corpus, Punctuation, WordTokenizer};
use embers::train::cooccur::{self, CooccurConfig};
use embers::train::fasttext::{self, FastTextConfig};
use embers::train::glove::{self, GloveConfig, GloveVectors};
use embers::train::word2vec::{self, Control, Model, Word2VecConfig};
use embers::{Embeddings, Error, VocabBuilder};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{internal, to_py};
use crate::PyEmbeddings;

enum Msg<T> {
    Progress(Progress),
    Done(embers::Result<T>),
    Panicked,
}

/// Events closer than this are coalesced (the last one is delivered), except those that end
/// an epoch or iteration (they carry a loss).
const MIN_INTERVAL: Duration = Duration::from_millis(50);
const POLL: Duration = Duration::from_millis(100);

fn event<'py>(py: Python<'py>, p: &Progress) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("stage", p.stage)?;
    d.set_item("done", p.done)?;
    d.set_item("total", p.total)?;
    d.set_item("unit", p.unit)?;
    d.set_item("epoch", p.epoch)?;
    d.set_item("learning_rate", p.learning_rate)?;
    d.set_item("loss", p.loss)?;
    d.set_item("rate", p.rate)?;
    Ok(d)
}

/// Runs `job` on a worker thread; see the module comment.
fn run_job<T: Send>(
    py: Python<'_>,
    callback: Option<&Bound<'_, PyAny>>,
    job: impl FnOnce(&ProgressFn, &AtomicBool) -> embers::Result<T> + Send,
) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    let (tx, rx) = channel::<Msg<T>>();
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        let cancel_ref = &cancel;
        scope.spawn(move || {
            let last = Mutex::new(None::<Instant>);
            let events = tx.clone();
            let progress = move |p: &Progress| {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if p.loss.is_none() && last.is_some_and(|t| now - t < MIN_INTERVAL) {
                    return;
                }
                *last = Some(now);
                let _ = events.send(Msg::Progress(p.clone()));
            };
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job(&progress, cancel_ref)
            }));
            let _ = tx.send(match run {
                Ok(r) => Msg::Done(r),
                Err(_) => Msg::Panicked,
            });
        });
        let mut failure: Option<PyErr> = None;
        loop {
            let msg = py.detach(|| {
                rx.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .recv_timeout(POLL)
            });
            if failure.is_none() {
                if let Err(e) = py.check_signals() {
                    failure = Some(e);
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            match msg {
                Ok(Msg::Progress(p)) => {
                    if let (None, Some(cb)) = (&failure, callback) {
                        if let Err(e) = event(py, &p).and_then(|d| cb.call1((d,))) {
                            failure = Some(e);
                            cancel.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Ok(Msg::Done(r)) => {
                    return match (failure, r) {
                        (Some(e), _) => Err(e),
                        (None, r) => r.map_err(to_py),
                    }
                }
                Ok(Msg::Panicked) | Err(RecvTimeoutError::Disconnected) => {
                    return Err(failure.unwrap_or_else(|| internal("training")))
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    })
}

fn tokenizer(lowercase: bool, punctuation: &str) -> PyResult<WordTokenizer> {
    let p = match punctuation {
        "keep" => Punctuation::Keep,
        "split" => Punctuation::Split,
        "strip" => Punctuation::Strip,
        other => {
            return Err(to_py(Error::invalid(
                "punctuation",
                format!("must be keep, split or strip, got {other:?}"),
            )))
        }
    };
    Ok(WordTokenizer::new(lowercase, p))
}

#[allow(clippy::too_many_arguments)]
fn w2v_config(
    base: Word2VecConfig,
    model: &str,
    cbow_mean: bool,
    dim: usize,
    window: usize,
    negative: usize,
    hs: bool,
    sample: f64,
    min_count: u64,
    max_vocab: Option<usize>,
    epochs: u32,
    alpha: Option<f32>,
    min_alpha: Option<f32>,
    threads: usize,
    seed: u64,
    shared_negatives: bool,
) -> PyResult<Word2VecConfig> {
    let model = match model {
        "sg" | "skipgram" | "skip-gram" => Model::SkipGram,
        "cbow" => Model::Cbow,
        other => {
            return Err(to_py(Error::invalid(
                "model",
                format!("must be sg or cbow, got {other:?}"),
            )))
        }
    };
    Ok(Word2VecConfig {
        model,
        cbow_mean,
        dim,
        window,
        negative,
        hs,
        sample,
        min_count,
        max_vocab,
        epochs,
        alpha,
        min_alpha: min_alpha.or(base.min_alpha),
        threads,
        seed,
        shared_negatives,
        ..base
    })
}

fn finish(emb: Embeddings) -> PyEmbeddings {
    PyEmbeddings::owned(emb)
}

/// Trains word2vec (skip-gram or CBOW) on corpus files; see `embers.train_word2vec`.
#[pyfunction]
#[pyo3(signature = (corpus, *, model="sg", cbow_mean=true, dim=100, window=5, negative=5, hs=false,
    sample=1e-3, min_count=5, max_vocab=None, epochs=5, alpha=None, min_alpha=None, threads=0, seed=1,
    shared_negatives=false, lr_decay="lines", lowercase=false, punctuation="keep", progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn train_word2vec(
    py: Python<'_>,
    corpus: Vec<PathBuf>,
    model: &str,
    cbow_mean: bool,
    dim: usize,
    window: usize,
    negative: usize,
    hs: bool,
    sample: f64,
    min_count: u64,
    max_vocab: Option<usize>,
    epochs: u32,
    alpha: Option<f32>,
    min_alpha: Option<f32>,
    threads: usize,
    seed: u64,
    shared_negatives: bool,
    lr_decay: &str,
    lowercase: bool,
    punctuation: &str,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyEmbeddings> {
    let decay_by_lines = match lr_decay {
        "lines" => true,
        "words" => false,
        other => {
            return Err(to_py(Error::invalid(
                "lr_decay",
                format!("must be lines or words, got {other:?}"),
            )))
        }
    };
    let mut config = w2v_config(
        Word2VecConfig::default(),
        model,
        cbow_mean,
        dim,
        window,
        negative,
        hs,
        sample,
        min_count,
        max_vocab,
        epochs,
        alpha,
        min_alpha,
        threads,
        seed,
        shared_negatives,
    )?;
    config.decay_by_lines = decay_by_lines;
    config.validate().map_err(to_py)?;
    let corpus = Corpus::new(&corpus, tokenizer(lowercase, punctuation)?).map_err(to_py)?;
    run_job(py, progress.as_ref(), |p, cancel| {
        let control = Control {
            progress: Some(p),
            cancel: Some(cancel),
        };
        word2vec::train(&corpus, &config, control)
    })
    .map(finish)
}

/// Trains fastText-style subword vectors; see `embers.train_fasttext`.
#[pyfunction]
#[pyo3(signature = (corpus, *, model="sg", cbow_mean=true, dim=100, window=5, negative=5, hs=false,
    sample=1e-4, min_count=5, max_vocab=None, epochs=5, alpha=0.05, min_alpha=None, threads=0, seed=1,
    minn=3, maxn=6, bucket=2_000_000, lowercase=false, punctuation="keep", progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn train_fasttext(
    py: Python<'_>,
    corpus: Vec<PathBuf>,
    model: &str,
    cbow_mean: bool,
    dim: usize,
    window: usize,
    negative: usize,
    hs: bool,
    sample: f64,
    min_count: u64,
    max_vocab: Option<usize>,
    epochs: u32,
    alpha: Option<f32>,
    min_alpha: Option<f32>,
    threads: usize,
    seed: u64,
    minn: u32,
    maxn: u32,
    bucket: u32,
    lowercase: bool,
    punctuation: &str,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyEmbeddings> {
    // The settings given here over fastText's own training rules (noise distribution, `</s>`,
    // token accounting, sigmoid, reading order: `FastTextConfig::default()`), as the CLI does.
    let fasttext = FastTextConfig::default();
    let config = FastTextConfig {
        word2vec: w2v_config(
            fasttext.word2vec.clone(),
            model,
            cbow_mean,
            dim,
            window,
            negative,
            hs,
            sample,
            min_count,
            max_vocab,
            epochs,
            alpha,
            min_alpha,
            threads,
            seed,
            false,
        )?,
        subwords: SubwordConfig {
            minn,
            maxn,
            buckets: bucket,
        },
        ..fasttext
    };
    config.validate().map_err(to_py)?;
    let corpus = Corpus::new(&corpus, tokenizer(lowercase, punctuation)?).map_err(to_py)?;
    run_job(py, progress.as_ref(), |p, cancel| {
        let control = Control {
            progress: Some(p),
            cancel: Some(cancel),
        };
        fasttext::train(&corpus, &config, control)
    })
    .map(finish)
}

/// Trains GloVe: vocabulary, co-occurrence counts, AdaGrad; see `embers.train_glove`.
#[pyfunction]
#[pyo3(signature = (corpus, *, dim=100, window=15, min_count=5, max_vocab=None, x_max=100.0,
    alpha=0.75, iter=15, eta=0.05, threads=0, seed=1, memory=1usize << 30, symmetric=true,
    vectors="word+context", temp_dir=None, lowercase=false, punctuation="keep", progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn train_glove(
    py: Python<'_>,
    corpus: Vec<PathBuf>,
    dim: usize,
    window: usize,
    min_count: u64,
    max_vocab: Option<usize>,
    x_max: f64,
    alpha: f64,
    iter: u32,
    eta: f32,
    threads: usize,
    seed: u64,
    memory: usize,
    symmetric: bool,
    vectors: &str,
    temp_dir: Option<PathBuf>,
    lowercase: bool,
    punctuation: &str,
    progress: Option<Bound<'_, PyAny>>,
) -> PyResult<PyEmbeddings> {
    let vectors = match vectors {
        "word+context" => GloveVectors::WordPlusContext,
        "word" => GloveVectors::Word,
        other => {
            return Err(to_py(Error::invalid(
                "vectors",
                format!("must be word+context or word, got {other:?}"),
            )))
        }
    };
    let config = GloveConfig {
        dim,
        x_max,
        alpha,
        iter,
        eta,
        threads,
        seed,
        memory,
        vectors,
        temp_dir: temp_dir.clone(),
    };
    config.validate().map_err(to_py)?;
    let cooc_config = CooccurConfig {
        window,
        symmetric,
        memory,
        threads,
        temp_dir,
    };
    let corpus = Corpus::new(&corpus, tokenizer(lowercase, punctuation)?).map_err(to_py)?;
    run_job(py, progress.as_ref(), |p, cancel| {
        let mut builder = VocabBuilder::new()
            .min_count(min_count)
            .max_size(max_vocab)
            .threads(threads);
        builder.count_corpus(&corpus, |done| {
            p(&Progress::new(
                "count",
                done,
                Some(corpus.size_on_disk()),
                "bytes",
            ))
        })?;
        if cancel.load(Ordering::Relaxed) {
            return Err(Error::Cancelled);
        }
        let vocab = builder.build()?;
        let cooc = cooccur::count(&corpus, &vocab, &cooc_config, p, Some(cancel))?;
        glove::train(vocab, cooc, &config, p, Some(cancel)).map(|(emb, _)| emb)
    })
    .map(finish)
}
