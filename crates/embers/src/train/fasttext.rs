//! fastText-style subword training: a word's input vector is the mean of its own row and the rows
//! of its character n-grams (hashed into `bucket` rows with fastText's hash), trained with the
//! word2vec engine (skip-gram or CBOW, negative sampling or hierarchical softmax). Words never
//! seen in training still get a vector from their n-grams.

use crate::error::{Error, Result};
use crate::storage::DenseMatrix;
use crate::subword::{SubwordConfig, Subwords};
use crate::text::Corpus;
use crate::train::word2vec::{build_vocab, train_with, Control, InputRows, Word2VecConfig};
use crate::Embeddings;

/// Settings: the word2vec ones plus the n-gram settings.
#[derive(Debug, Clone)]
pub struct FastTextConfig {
    /// Architecture, dims, window, sampling, schedule, threads, seed.
    pub word2vec: Word2VecConfig,
    /// `minn`, `maxn` and `bucket` (fastText's names); `maxn = 0` trains plain word vectors.
    pub subwords: SubwordConfig,
}

impl Default for FastTextConfig {
    /// fastText's defaults for `skipgram`: lr 0.05, t 1e-4, noise distribution unigram^0.5 with
    /// a noise word equal to the target drawn again, the full gradient for saturated scores,
    /// n-grams of 3..6 characters in 2,000,000 buckets, and the word2vec defaults otherwise.
    fn default() -> Self {
        FastTextConfig {
            word2vec: Word2VecConfig {
                alpha: Some(0.05),
                sample: 1e-4,
                ns_exponent: 0.5,
                resample_negatives: true,
                skip_saturated: false,
                ..Word2VecConfig::default()
            },
            subwords: SubwordConfig::default(),
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
    let vocab = build_vocab(corpus, w2v, control)?;
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
            if use_subwords {
                sub.for_each_bucket(w, |b| rows.push(n as u32 + b));
            }
            rows
        })
        .collect();
    let total_rows = n
        .checked_add(buckets)
        .filter(|t| *t <= u32::MAX as usize)
        .ok_or_else(|| Error::invalid("bucket", "too many rows"))?;
    let inputs = InputRows::from_lists(lists, total_rows)?;
    let mut matrix = train_with(corpus, w2v, &vocab, &inputs, control)?;
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
