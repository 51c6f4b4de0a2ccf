//! Text in: a word tokenizer and a streaming corpus reader (plain or gzip, one or many files).

pub(crate) mod corpus;
mod tokenizer;

pub use corpus::{open_maybe_gz, Corpus, TextChunk, MAX_SENTENCE_TOKENS};
pub use tokenizer::{Punctuation, WordTokenizer};
