//! Sentence embeddings: one vector per text.
//!
//! - [`StaticModel`]: model2vec / sentence-transformers `StaticEmbedding` folders, encoded
//!   exactly as model2vec's `StaticModel.encode` (`static_model.rs`).
//! - [`SentenceTransformer`]: sentence-transformers folders with a BERT-family encoder
//!   (`modules.json`: Transformer, Pooling, Dense, Normalize), run on the CPU
//!   (`transformer_model.rs`).
//! - [`Pooler`]: any embers word model, pooled by mean or SIF (`pooled.rs`).
//! - [`SentenceModel`]: whichever of the three a path holds, with one `encode`.
//! - [`distill()`]: model2vec's distillation of a transformer into a static model.
//!
//! ```no_run
//! let model = embers::sentence::SentenceModel::load("potion-base-8M").unwrap();
//! let vectors = model.encode(&["a first sentence", "another one"]).unwrap();
//! assert_eq!(vectors.rows(), 2);
//! ```

mod distill;
mod model;
mod pooled;
mod static_model;
mod transformer_model;

pub use distill::{distill, DistillOptions, Distilled, Weighting, DEFAULT_SIF_COEFFICIENT};
pub use model::SentenceModel;
pub use pooled::{
    fit_sif, store_sif, stored_sif, Pooler, Pooling, Sif, DEFAULT_SIF_A, SIF_A_KEY,
    SIF_COMPONENT_KEY,
};
pub use static_model::{is_static_model_dir, normalize_in_place, StaticModel, DEFAULT_MAX_LENGTH};
pub use transformer_model::{
    is_transformer_dir, Dense, DenseActivation, SentenceTransformer, TokenPooling,
    DEFAULT_BATCH_SIZE,
};
