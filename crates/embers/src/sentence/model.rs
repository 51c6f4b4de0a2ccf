//! [`SentenceModel`]: one entry point for every kind of sentence model a path can hold.

use std::path::Path;

use super::{
    is_static_model_dir, is_transformer_dir, Pooler, Pooling, SentenceTransformer, StaticModel,
};
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::storage::DenseMatrix;
use crate::text::WordTokenizer;

/// A sentence model, chosen by what the path holds:
///
/// - a static model folder (model2vec, sentence-transformers `StaticEmbedding`) → [`StaticModel`];
/// - a folder with a BERT-family `config.json` (sentence-transformers or plain Hugging Face) →
///   [`SentenceTransformer`];
/// - any embedding file embers reads → its word vectors, mean- or SIF-pooled ([`Pooler`]).
#[derive(Debug)]
pub enum SentenceModel {
    Static(Box<StaticModel>),
    Transformer(Box<SentenceTransformer>),
    Words {
        embeddings: Box<Embeddings>,
        tokenizer: WordTokenizer,
        pooling: Pooling,
        normalize: bool,
    },
}

impl SentenceModel {
    /// Loads whatever sentence model `path` holds (word models are mean-pooled with the
    /// default word tokenizer; build [`SentenceModel::Words`] directly for other settings).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if path.is_dir() {
            if is_static_model_dir(path) {
                return Ok(SentenceModel::Static(Box::new(StaticModel::load(path)?)));
            }
            if is_transformer_dir(path) {
                return Ok(SentenceModel::Transformer(Box::new(
                    SentenceTransformer::load(path)?,
                )));
            }
            if !path.join("model.safetensors").is_file() {
                return Err(Error::io(
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "not a sentence model folder: expected a static model (config.json, \
                         model.safetensors with `embeddings`, tokenizer.json) or a transformer \
                         (config.json, model.safetensors, tokenizer.json; modules.json for \
                         sentence-transformers)",
                    ),
                ));
            }
        }
        let embeddings = crate::io::read(path, &crate::io::ReadOptions::default())?;
        Ok(SentenceModel::Words {
            embeddings: Box::new(embeddings),
            tokenizer: WordTokenizer::default(),
            pooling: Pooling::Mean,
            normalize: false,
        })
    }

    /// A short name of the kind: `static`, `transformer` or `words`.
    pub fn kind(&self) -> &'static str {
        match self {
            SentenceModel::Static(_) => "static",
            SentenceModel::Transformer(_) => "transformer",
            SentenceModel::Words { .. } => "words",
        }
    }

    /// Width of the vectors.
    pub fn dims(&self) -> usize {
        match self {
            SentenceModel::Static(m) => m.dims(),
            SentenceModel::Transformer(m) => m.dims(),
            SentenceModel::Words { embeddings, .. } => embeddings.dims(),
        }
    }

    /// Switches normalisation of the output vectors on or off.
    pub fn set_normalize(&mut self, on: bool) {
        match self {
            SentenceModel::Static(m) => m.set_normalize(on),
            SentenceModel::Transformer(m) => m.set_normalize(on),
            SentenceModel::Words { normalize, .. } => *normalize = on,
        }
    }

    /// One vector per text, in order, on all cores of the current rayon pool.
    pub fn encode(&self, texts: &[&str]) -> Result<DenseMatrix> {
        match self {
            SentenceModel::Static(m) => m.encode(texts),
            SentenceModel::Transformer(m) => m.encode(texts),
            SentenceModel::Words {
                embeddings,
                tokenizer,
                pooling,
                normalize,
            } => {
                let mut p = Pooler::new(embeddings, *tokenizer, *pooling)?;
                p.set_normalize(*normalize);
                p.encode(texts)
            }
        }
    }
}
