//! Training embeddings from a corpus: word2vec, fastText-style subwords, and the planted-structure
//! corpus the tests and the demo train on.

pub mod fasttext;
pub mod sampling;
pub mod synthetic;
pub mod word2vec;
