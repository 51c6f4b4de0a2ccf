//! The trainable embedding layer (`torch.nn.Embedding` semantics), `EmbeddingBag`, initialisers
//! and sparse optimisers.

pub mod init;

pub use init::{init_matrix, Init};
