//! `Embeddings`: a vocabulary, the rows of its vectors, cached norms and optional subwords —
//! what every reader returns, every writer takes, and every search runs on. It is a value: no
//! query state lives here (the caches of search, such as the int8 screen, belong to the
//! search objects of [`crate::search`]).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::subword::Subwords;
use crate::vocab::Vocab;

/// How a vector was found for a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The word is in the vocabulary at this id.
    Vocab(u32),
    /// Built from the word's character n-grams (fastText-style).
    Subwords,
    /// The word is unknown; this is the `<unk>` row.
    Unk(u32),
}

/// An embedding model: vocabulary + storage (+ subwords), with the row norms cached.
#[derive(Debug, Clone)]
pub struct Embeddings {
    vocab: Vocab,
    storage: Storage,
    norms: OnceLock<Vec<f32>>,
    subwords: Option<Subwords>,
    metadata: BTreeMap<String, String>,
}

impl Embeddings {
    /// Pairs a vocabulary with its rows; the row count must equal the vocabulary size.
    pub fn new(vocab: Vocab, storage: impl Into<Storage>) -> Result<Self> {
        let storage = storage.into();
        if vocab.len() != storage.rows() {
            return Err(Error::shape(
                "embedding rows",
                format!("{} (vocabulary size)", vocab.len()),
                storage.rows(),
            ));
        }
        Ok(Embeddings {
            vocab,
            storage,
            norms: OnceLock::new(),
            subwords: None,
            metadata: BTreeMap::new(),
        })
    }

    /// Adds subword information; its dims must match.
    pub fn with_subwords(mut self, subwords: Subwords) -> Result<Self> {
        if subwords.matrix.dims() != self.dims() {
            return Err(Error::shape(
                "subword matrix dims",
                self.dims(),
                subwords.matrix.dims(),
            ));
        }
        self.subwords = Some(subwords);
        Ok(self)
    }

    /// Sets precomputed row norms (as stored in a native file); must have one per row.
    pub fn with_norms(self, norms: Vec<f32>) -> Result<Self> {
        if norms.len() != self.len() {
            return Err(Error::shape("norms", self.len(), norms.len()));
        }
        let _ = self.norms.set(norms);
        Ok(self)
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The vocabulary, mutable (e.g. to set the unknown token).
    pub fn vocab_mut(&mut self) -> &mut Vocab {
        &mut self.vocab
    }

    /// The rows.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Replaces the rows (same shape), dropping cached norms.
    pub fn set_storage(&mut self, storage: Storage) -> Result<()> {
        if storage.rows() != self.len() || storage.dims() != self.dims() {
            return Err(Error::shape(
                "storage",
                format!("{} × {}", self.len(), self.dims()),
                format!("{} × {}", storage.rows(), storage.dims()),
            ));
        }
        self.storage = storage;
        self.norms = OnceLock::new();
        Ok(())
    }

    /// Subword information, when the model has it.
    pub fn subwords(&self) -> Option<&Subwords> {
        self.subwords.as_ref()
    }

    /// Free-form metadata (training settings, provenance), stored in native files.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Metadata, mutable.
    pub fn metadata_mut(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.metadata
    }

    /// Number of rows (vocabulary size).
    pub fn len(&self) -> usize {
        self.vocab.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.vocab.is_empty()
    }

    /// Vector dimensionality.
    pub fn dims(&self) -> usize {
        self.storage.dims()
    }

    /// The vector of row `id`, or an error when out of range.
    pub fn vector(&self, id: u32) -> Result<Vec<f32>> {
        if id as usize >= self.len() {
            return Err(Error::invalid(
                "id",
                format!("{id} is out of range for {} rows", self.len()),
            ));
        }
        Ok(self.storage.row_vec(id as usize))
    }

    /// The vector of `word`: its row when in the vocabulary, else its subword vector when the
    /// model has subwords, else `None`.
    pub fn get(&self, word: &str) -> Option<Vec<f32>> {
        self.lookup(word, false).map(|(v, _)| v)
    }

    /// Like [`Embeddings::get`], and says where the vector came from. With `use_unk`, an
    /// unknown word without subwords gets the `<unk>` row when the vocabulary has one.
    pub fn lookup(&self, word: &str, use_unk: bool) -> Option<(Vec<f32>, Source)> {
        if let Some(id) = self.vocab.id(word) {
            return Some((self.storage.row_vec(id as usize), Source::Vocab(id)));
        }
        if let Some(v) = self.subwords.as_ref().and_then(|s| s.oov_vector(word)) {
            return Some((v, Source::Subwords));
        }
        if use_unk {
            if let Some(unk) = self.vocab.unk_id() {
                return Some((self.storage.row_vec(unk as usize), Source::Unk(unk)));
            }
        }
        None
    }

    /// L2 norm of every row, computed once and cached.
    pub fn norms(&self) -> &[f32] {
        self.norms.get_or_init(|| self.storage.row_norms())
    }

    /// True when row norms are already known (stored or computed).
    pub fn has_norms(&self) -> bool {
        self.norms.get().is_some()
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.len() {
            return;
        }
        self.vocab.truncate(n);
        self.storage.truncate(n);
        if let Some(norms) = self.norms.get_mut() {
            norms.truncate(n);
        }
    }

    /// Row `id` scaled to unit length by its cached norm (a zero row stays zero): the query
    /// vector of a word. Panics when `id` is out of range.
    pub fn unit_row(&self, id: u32) -> Vec<f32> {
        let mut v = self.storage.row_vec(id as usize);
        let n = self.norms()[id as usize];
        if n > 0.0 {
            crate::kernels::scale(1.0 / n, &mut v);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DenseMatrix;
    use crate::subword::SubwordConfig;

    #[test]
    fn lookup_in_vocab_subwords_and_unk() {
        let vocab = Vocab::from_words(vec!["<unk>".into(), "king".into()]).unwrap();
        let m = DenseMatrix::new(2, 2, vec![0.0, 0.0, 3.0, 4.0]).unwrap();
        let mut e = Embeddings::new(vocab, m).unwrap();
        assert_eq!(e.get("king"), Some(vec![3.0, 4.0]));
        assert_eq!(e.get("queen"), None);
        assert_eq!(e.lookup("queen", true), None);
        e.vocab_mut().set_unk("<unk>").unwrap();
        assert_eq!(e.lookup("queen", true).unwrap().1, Source::Unk(0));
        assert_eq!(e.norms(), &[0.0, 5.0]);
        assert!(e.vector(2).is_err());

        let sub = Subwords {
            config: SubwordConfig {
                minn: 1,
                maxn: 1,
                buckets: 4,
            },
            matrix: DenseMatrix::new(4, 2, vec![1.0; 8]).unwrap(),
        };
        let e = e.with_subwords(sub).unwrap();
        assert_eq!(
            e.lookup("queen", true).unwrap(),
            (vec![1.0, 1.0], Source::Subwords)
        );
        let bad = Vocab::from_words(vec!["a".into()]).unwrap();
        assert!(Embeddings::new(bad, DenseMatrix::zeros(2, 3)).is_err());
    }
}
