//! Training embeddings from a corpus: GloVe (co-occurrence counting and AdaGrad training).

pub mod cooccur;
pub mod glove;
