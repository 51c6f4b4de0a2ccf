//! fastText-style subword training: a word's input vector is the mean of its own row and the rows
//! of its character n-grams (hashed into `bucket` rows with fastText's hash), trained with the
//! word2vec engine (skip-gram or CBOW, negative sampling or hierarchical softmax). Words never
//! seen in training still get a vector from their n-grams.

use crate::error::{Error, Result};
use crate::storage::DenseMatrix;
use crate::subword::{SubwordConfig, Subwords};
use crate::text::Corpus;
use crate::train::sampling::SigmoidKind;
use crate::train::word2vec::{
    build_vocab_counted, train_with_total, Control, InputRows, Word2VecConfig, EOS,
};
use crate::Embeddings;

/// How the input matrix starts: the word rows and the n-gram bucket rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NgramInit {
    /// Every row uniform in ±1/dim: what fastText's `uniform(1/dim)` is meant to do (and
    /// does with 10 or more threads).
    #[default]
    Uniform,
    /// Word rows uniform in ±1/dim, n-gram rows zero: an n-gram row holds only what training
    /// put there.
    Zero,
    /// What fastText 0.9.2 does with `-thread T`: its matrix initialisation fills
    /// `min(T, 10)` blocks of a tenth of the matrix each (`DenseMatrix::uniform`, one block per
    /// thread, block size fixed at a tenth; upstream issues #935 and #1061), so the first
    /// `min(T, 10)/10` of the values (row-major) are uniform in ±1/dim and the rest zero. With
    /// 2 threads, the word rows and the first ~18% of the n-gram rows are random.
    FastText,
}

impl NgramInit {
    /// `uniform`, `zero` or `fasttext`.
    pub fn name(self) -> &'static str {
        match self {
            NgramInit::Uniform => "uniform",
            NgramInit::Zero => "zero",
            NgramInit::FastText => "fasttext",
        }
    }

    /// How many leading values of a `words + buckets` × `dim` input matrix start uniform
    /// (the rest start at zero), with `threads` worker threads.
    pub fn uniform_values(
        self,
        words: usize,
        total_values: usize,
        dim: usize,
        threads: usize,
    ) -> usize {
        match self {
            NgramInit::Uniform => total_values,
            NgramInit::Zero => (words * dim).min(total_values),
            NgramInit::FastText => {
                // fastText: block b (b < T, or only b = 0 with one thread) covers values
                // [b·size, (b+1)·size) ∩ [0, total), size = total / 10.
                let block = total_values / 10;
                threads.max(1).saturating_mul(block).min(total_values)
            }
        }
    }
}

/// Settings: the word2vec ones plus the n-gram settings.
#[derive(Debug, Clone)]
pub struct FastTextConfig {
    /// Architecture, dims, window, sampling, schedule, threads, seed.
    pub word2vec: Word2VecConfig,
    /// `minn`, `maxn` and `bucket` (fastText's names); `maxn = 0` trains plain word vectors.
    pub subwords: SubwordConfig,
    /// How the word and n-gram rows start.
    pub ngram_init: NgramInit,
}

impl Default for FastTextConfig {
    /// fastText's defaults for `skipgram`: lr 0.05, t 1e-4, noise distribution unigram^0.5 with
    /// a noise word equal to the target drawn again, the full gradient for saturated scores,
    /// the centre word's input predicting each context word,
    /// fastText's sigmoid table (±8, 512 steps), one corpus reader per thread started at evenly
    /// spaced points, each read at its thread's pace (fastText's thread t reads on from
    /// t/threads of the file, around the end and on), `</s>` ending
    /// each line, the schedule and subsampling counted against every token of the corpus
    /// (fastText's accounting) with the rate falling with those tokens, n-grams of 3..6
    /// characters in 2,000,000 buckets, every input row uniform in ±1/dim, and the word2vec
    /// defaults otherwise.
    fn default() -> Self {
        FastTextConfig {
            word2vec: Word2VecConfig {
                alpha: Some(0.05),
                sample: 1e-4,
                ns_exponent: 0.5,
                resample_negatives: true,
                skip_saturated: false,
                context_input: false,
                spread_readers: true,
                decay_by_lines: false,
                eos: true,
                count_all_tokens: true,
                sigmoid: SigmoidKind::FastText,
                ..Word2VecConfig::default()
            },
            subwords: SubwordConfig::default(),
            ngram_init: NgramInit::default(),
        }
    }
}

impl FastTextConfig {
    /// Checks the settings; called before any work.
    pub fn validate(&self) -> Result<()> {
        self.word2vec.validate()?;
        let s = &self.subwords;
        if s.maxn > crate::train::limits::MAX_NGRAM {
            return Err(Error::invalid(
                "maxn",
                format!(
                    "must be at most {}, got {}",
                    crate::train::limits::MAX_NGRAM,
                    s.maxn
                ),
            ));
        }
        if s.maxn > 0 {
            if s.minn == 0 || s.minn > s.maxn {
                return Err(Error::invalid(
                    "minn",
                    format!(
                        "need 1 <= minn <= maxn, got minn {} maxn {}",
                        s.minn, s.maxn
                    ),
                ));
            }
            if s.buckets == 0 {
                return Err(Error::invalid("bucket", "must be at least 1 when maxn > 0"));
            }
        }
        Ok(())
    }
}

/// Trains subword embeddings on `corpus`. The result holds one vector per vocabulary word (the
/// mean of its row and its n-gram rows, as fastText's `getWordVector`) and, when `maxn > 0`,
/// the n-gram matrix as [`Subwords`], so out-of-vocabulary words get the mean of their n-gram
/// rows.
pub fn train(corpus: &Corpus, config: &FastTextConfig, control: Control<'_>) -> Result<Embeddings> {
    config.validate()?;
    let w2v = &config.word2vec;
    let (vocab, totals) = build_vocab_counted(corpus, w2v, control)?;
    let n = vocab.len();
    let sub = config.subwords;
    let use_subwords = sub.maxn > 0 && sub.buckets > 0;
    let buckets = if use_subwords {
        sub.buckets as usize
    } else {
        0
    };
    let lists: Vec<Vec<u32>> = vocab
        .words()
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut rows = vec![i as u32];
            // fastText gives `</s>` no n-grams (`Dictionary::initNgrams`).
            if use_subwords && !(w2v.eos && w == EOS) {
                sub.for_each_bucket(w, |b| rows.push(n as u32 + b));
            }
            rows
        })
        .collect();
    let total_rows = n
        .checked_add(buckets)
        .filter(|t| *t <= u32::MAX as usize)
        .ok_or_else(|| Error::invalid("bucket", "too many rows"))?;
    let mut inputs = InputRows::from_lists(lists, total_rows)?;
    inputs.uniform_values = config.ngram_init.uniform_values(
        n,
        total_rows.saturating_mul(w2v.dim),
        w2v.dim,
        w2v.resolved_threads(),
    );
    let mut matrix = train_with_total(corpus, w2v, &vocab, &inputs, Some(totals), control)?;
    let dim = w2v.dim;
    let mut words = vec![0.0f32; n * dim];
    for (i, out) in words.chunks_exact_mut(dim).enumerate() {
        let rows = inputs.of(i as u32);
        for &r in rows {
            let r = r as usize;
            crate::kernels::axpy(1.0, &matrix[r * dim..(r + 1) * dim], out);
        }
        crate::kernels::scale(1.0 / rows.len() as f32, out);
    }
    // Keep the n-gram rows without a second copy: shift them to the front in place.
    matrix.drain(..n * dim);
    let mut emb = Embeddings::new(vocab, DenseMatrix::new(n, dim, words)?)?;
    if use_subwords {
        emb = emb.with_subwords(Subwords {
            config: sub,
            matrix: DenseMatrix::new(buckets, dim, matrix)?,
        })?;
    }
    let meta = emb.metadata_mut();
    meta.insert("train.algorithm".into(), "fasttext".into());
    for (k, v) in w2v.metadata() {
        meta.insert(k, v);
    }
    meta.insert("train.minn".into(), sub.minn.to_string());
    meta.insert("train.maxn".into(), sub.maxn.to_string());
    meta.insert("train.bucket".into(), sub.buckets.to_string());
    meta.insert("train.ngram_init".into(), config.ngram_init.name().into());
    Ok(emb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cosine;
    use crate::train::word2vec::tests::{planted_accuracy, planted_corpus};
    use crate::train::word2vec::Model;

    fn small(model: Model) -> FastTextConfig {
        FastTextConfig {
            word2vec: Word2VecConfig {
                model,
                dim: 40,
                window: 4,
                sample: 1e-3,
                epochs: 5,
                threads: 1,
                seed: 3,
                alpha: None,
                ..Default::default()
            },
            subwords: SubwordConfig {
                minn: 3,
                maxn: 5,
                buckets: 50_000,
            },
            ngram_init: NgramInit::default(),
        }
    }

    #[test]
    fn subword_models_learn_planted_analogies_and_cover_unknown_words() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = planted_corpus(dir.path());
        for model in [Model::SkipGram, Model::Cbow] {
            let emb = train(&corpus, &small(model), Control::default()).unwrap();
            let acc = planted_accuracy(&emb);
            eprintln!("fasttext {model:?}: {acc:.3}");
            assert!(acc >= 0.5, "{model:?}: accuracy {acc}");
            let sub = emb.subwords().unwrap();
            assert_eq!(sub.matrix.rows(), 50_000);
            // An unknown word gets a vector from its n-grams, nearer its relatives than others.
            assert!(emb.vocab().id("princesses").is_none());
            let oov = sub.oov_vector("princesses").unwrap();
            let near = cosine(&oov, &emb.get("princess").unwrap());
            let far = cosine(&oov, &emb.get("tokyo").unwrap());
            assert!(near > far + 0.2, "{model:?}: {near} vs {far}");
            // The word vector is the mean of its row and n-gram rows: n-grams alone are close.
            let kv = emb.get("queen").unwrap();
            assert!(cosine(&kv, &sub.oov_vector("queen").unwrap()) > 0.5);
            assert_eq!(emb.metadata()["train.maxn"], "5");
        }
    }

    /// fastText 0.9.2's `DenseMatrix::uniform` / `uniformThread`, written out: with `thread > 1`
    /// it runs blocks `0..thread`, with one thread block 0; block `b` fills values
    /// `[b·size, (b+1)·size) ∩ [0, m·n)`, `size = m·n / 10`. Returns which values it fills.
    fn fasttext_filled(total: usize, thread: usize) -> Vec<bool> {
        let mut filled = vec![false; total];
        let blocks = if thread > 1 { thread } else { 1 };
        let size = total / 10;
        for block in 0..blocks {
            let mut i = size * block;
            while i < total && i < size * (block + 1) {
                filled[i] = true;
                i += 1;
            }
        }
        filled
    }

    #[test]
    fn fasttext_init_layout_is_its_block_loop() {
        for total in [0usize, 7, 10, 99, 1000, 12_345] {
            for threads in [0usize, 1, 2, 3, 9, 10, 11, 12, 40] {
                let got = NgramInit::FastText.uniform_values(0, total, 1, threads);
                let want = fasttext_filled(total, threads);
                assert_eq!(
                    got,
                    want.iter().filter(|&&f| f).count(),
                    "{total} {threads}"
                );
                assert!(
                    want[..got].iter().all(|&f| f),
                    "{total} {threads}: not a prefix"
                );
            }
        }
        // en-mix with 2 threads: 45,435 words + 2M buckets, dim 100: the first fifth is random.
        let total = (45_435 + 2_000_000) * 100;
        assert_eq!(
            NgramInit::FastText.uniform_values(45_435, total, 100, 2),
            total / 10 * 2
        );
        assert_eq!(
            NgramInit::Zero.uniform_values(45_435, total, 100, 2),
            4_543_500
        );
        assert_eq!(
            NgramInit::Uniform.uniform_values(45_435, total, 100, 2),
            total
        );
    }

    #[test]
    fn ngram_rows_start_as_the_init_says() {
        // Rows no word's n-gram hashes to are never trained: they keep their initial values.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        std::fs::write(&path, "alpha beta gamma delta\n".repeat(50)).unwrap();
        let corpus = Corpus::new(&[path], Default::default()).unwrap();
        let buckets = 1_000u32;
        let used: std::collections::HashSet<u32> = ["alpha", "beta", "gamma", "delta"]
            .iter()
            .flat_map(|w| {
                SubwordConfig {
                    minn: 3,
                    maxn: 5,
                    buckets,
                }
                .buckets_of(w)
            })
            .collect();
        for (init, threads) in [
            (NgramInit::Uniform, 1),
            (NgramInit::Zero, 1),
            (NgramInit::FastText, 2),
        ] {
            let mut c = small(Model::SkipGram);
            c.word2vec.dim = 10;
            c.word2vec.min_count = 1;
            c.word2vec.threads = threads;
            c.subwords.buckets = buckets;
            c.ngram_init = init;
            let emb = train(&corpus, &c, Control::default()).unwrap();
            assert_eq!(emb.metadata()["train.ngram_init"], init.name());
            let m = &emb.subwords().unwrap().matrix;
            let words = emb.len();
            // fastText's layout counts over the whole matrix (word rows first): rows from
            // this one on hold no random value.
            let filled = init.uniform_values(words, (words + buckets as usize) * 10, 10, threads);
            let first_zero_row = filled.div_ceil(10);
            for b in 0..buckets {
                let row = m.row(b as usize);
                let zero = row.iter().all(|&x| x == 0.0);
                if used.contains(&b) {
                    assert!(!zero, "{init:?}: trained row {b} is zero");
                    continue;
                }
                let want_zero = match init {
                    NgramInit::Uniform => false,
                    NgramInit::Zero => true,
                    NgramInit::FastText => words + b as usize >= first_zero_row,
                };
                assert_eq!(zero, want_zero, "{init:?}: row {b}");
                assert!(row.iter().all(|x| x.abs() <= 0.1), "{init:?}: row {b}");
            }
        }
    }

    /// fastText's defaults: `</s>` ends every line and is a vocabulary word with one count per
    /// newline, but has no n-grams (`Dictionary::initNgrams`): with n-gram rows starting at
    /// zero, the rows of its n-grams that no other word shares are never trained.
    #[test]
    fn eos_is_a_word_without_ngrams() {
        let d = FastTextConfig::default().word2vec;
        assert!(d.eos && d.count_all_tokens && d.sigmoid == SigmoidKind::FastText);
        // fastText's rate falls with the tokens, not the lines (the word2vec default).
        assert!(!d.decay_by_lines && Word2VecConfig::default().decay_by_lines);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.txt");
        std::fs::write(&path, "alpha beta gamma delta\n".repeat(50)).unwrap();
        let corpus = Corpus::new(&[path], Default::default()).unwrap();
        let mut c = small(Model::SkipGram);
        c.word2vec.min_count = 1;
        c.word2vec.eos = true;
        c.word2vec.count_all_tokens = true;
        c.subwords.buckets = 1_000;
        c.ngram_init = NgramInit::Zero;
        let emb = train(&corpus, &c, Control::default()).unwrap();
        let id = emb.vocab().id(EOS).expect("</s> is a word");
        assert_eq!(emb.vocab().count(id), 50);
        assert_eq!(emb.metadata()["train.eos"], "1");
        let used: std::collections::HashSet<u32> = ["alpha", "beta", "gamma", "delta"]
            .iter()
            .flat_map(|w| c.subwords.buckets_of(w))
            .collect();
        let own: Vec<u32> = c
            .subwords
            .buckets_of(EOS)
            .into_iter()
            .filter(|b| !used.contains(b))
            .collect();
        assert!(own.len() >= 5, "{own:?}");
        let m = &emb.subwords().unwrap().matrix;
        for b in own {
            assert!(
                m.row(b as usize).iter().all(|&x| x == 0.0),
                "row {b} trained"
            );
        }
        // The other words' n-gram rows were trained.
        assert!(used
            .iter()
            .any(|&b| m.row(b as usize).iter().any(|&x| x != 0.0)));
    }

    #[test]
    fn bad_ngram_settings_are_rejected() {
        let mut c = small(Model::SkipGram);
        c.subwords.minn = 7;
        assert!(c.validate().unwrap_err().to_string().contains("minn"));
        c.subwords.minn = 3;
        c.subwords.buckets = 0;
        assert!(c.validate().unwrap_err().to_string().contains("bucket"));
        c.subwords.maxn = 0;
        assert!(c.validate().is_ok());
    }
}
