//! Training embeddings from a corpus: word2vec, fastText-style subwords, GloVe (co-occurrence
//! counting and AdaGrad training), and the planted-structure corpus the tests and the demo use.

pub mod cooccur;
pub mod fasttext;
pub mod glove;
pub mod sampling;
pub mod synthetic;
pub mod word2vec;

/// The documented ranges of the trainers' numeric settings; values outside are
/// [`crate::Error::InvalidArgument`] before any work starts.
pub mod limits {
    /// Worker threads: `0` (all cores) to this many.
    pub const MAX_THREADS: usize = 1024;
    /// Vector dimensions: 1 to this many.
    pub const MAX_DIM: usize = 1 << 16;
    /// word2vec/fastText window: 1 to this many words (a sentence has at most
    /// [`crate::text::MAX_SENTENCE_TOKENS`]).
    pub const MAX_WINDOW: usize = 10_000;
    /// GloVe window: 1 to this many words.
    pub const MAX_GLOVE_WINDOW: usize = 100_000;
    /// Negative samples per example: 0 to this many.
    pub const MAX_NEGATIVE: usize = 1_000;
    /// Passes over the corpus (word2vec epochs, GloVe iterations): 1 to this many.
    pub const MAX_EPOCHS: u32 = 10_000;
    /// Character n-gram lengths (`minn`, `maxn`): up to this many characters.
    pub const MAX_NGRAM: u32 = 64;
    /// GloVe memory budget: at least this many bytes.
    pub const MIN_MEMORY: usize = 16 << 10;
}
