//! # embers
//!
//! Embedding layers end to end: the part of a language model that turns text into vectors.
//!
//! - [`text`]: word tokenizer and streaming corpus reader (plain or gzip).
//! - [`vocab`]: [`Vocab`] (token ⇄ id, counts) and [`VocabBuilder`] (parallel counting).
//! - [`storage`]: where rows live ([`DenseMatrix`], owned or memory-mapped, or compressed).
//! - [`Embeddings`]: vocabulary + storage + cached norms + optional [`subword`] vectors (a value:
//!   no search state).
//! - [`layer`]: initialisers and the trainable layer.
//! - [`io`]: file formats, among them the native memory-mapped format ([`io::native`]).
//! - [`kernels`]: SIMD vector kernels with runtime dispatch.
//! - [`eval`]: analogy and word-pair benchmarks with gensim's protocols.
//! - [`search`]: every way to find neighbours behind one interface ([`search::Search`]): exact
//!   (f32, optional int8 screen), compressed scan (optional exact re-scoring), HNSW.
//! - [`query`]: similarity, nearest neighbours, analogies with gensim's semantics, over a search.
//! - [`cpu`]: the one place SIMD features are detected.
//! - [`transformer`]: the input embedding layer of Hugging Face checkpoints (BERT, RoBERTa,
//!   GPT-2, Llama-style) and export of their token matrices.
//! - [`quant`]: compression to f16, int8 and product-quantized storage, and exact re-ranking.
//! - [`size`]: checked sizes and allocations for everything computed from arguments or headers.
//! - [`sentence`]: one vector per text: static models (model2vec) and pooled word models.
//! - [`reduce`]: fewer dimensions by PCA or truncation; [`sweep`]: quality against bytes a row
//!   over dimensions and storage kinds, as a table and an SVG chart.
//!
//! ```
//! use embers::{Embeddings, Vocab, layer::{init_matrix, Init}};
//! let vocab = Vocab::from_words(vec!["king".into(), "queen".into()]).unwrap();
//! let matrix = init_matrix(vocab.len(), 8, Init::Normal { mean: 0.0, std: 1.0 }, 42).unwrap();
//! let emb = Embeddings::new(vocab, matrix).unwrap();
//! assert_eq!(emb.get("king").unwrap().len(), 8);
//! assert!(emb.get("prince").is_none());
//! ```

pub mod cpu;
pub mod embeddings;
pub mod error;
pub mod eval;
pub mod io;
pub mod kernels;
pub mod layer;
pub(crate) mod pipeline;
pub mod progress;
pub mod quant;
pub mod query;
pub mod reduce;
pub mod rng;
pub mod search;
pub mod size;
pub mod sentence;
pub mod storage;
pub mod subword;
pub mod supervised;
pub mod sweep;
pub mod text;
pub mod train;
pub mod transformer;
pub mod vocab;

pub use embeddings::{Embeddings, Source};
pub use error::{Error, Position, Result};
pub use storage::{DenseMatrix, Storage};
pub use vocab::{Vocab, VocabBuilder};
