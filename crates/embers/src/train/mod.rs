//! Training embeddings from a corpus: word2vec, fastText-style subwords, GloVe (co-occurrence
//! counting and AdaGrad training), and the planted-structure corpus the tests and the demo use.

pub mod cooccur;
pub mod fasttext;
pub mod glove;
pub mod sampling;
pub mod synthetic;
pub mod word2vec;
