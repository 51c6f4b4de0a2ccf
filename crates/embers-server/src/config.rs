//! Limits the server enforces on every request, set from the command line.

use std::time::Duration;

/// What one request may ask for. Requests beyond a limit get a 4xx answer, never a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes (larger bodies get 413 `body_too_large`).
    pub max_body: usize,
    /// Most items in one batch: words, pairs, projected words (more get 413 `batch_too_large`).
    pub max_batch: usize,
    /// Largest `k` of a neighbour query (larger gets 422 `k_out_of_range`).
    pub max_k: usize,
    /// Longest time a request may take before it is answered 503 `timeout`.
    pub timeout: Duration,
    /// Candidate list size of approximate (`ann: true`) searches (at least `k` is used).
    pub ef: usize,
    /// Threads of the heavy-work pool (subword vectors, projections, ANN searches, `/embed`).
    pub heavy_threads: usize,
    /// Heavy requests that may wait for a thread; more get 503 `busy` at once.
    pub heavy_queue: usize,
    /// Largest answer, in bytes, estimated before it is computed (larger gets 413
    /// `answer_too_large`).
    pub max_answer: usize,
    /// Longest word, in bytes, given a subword vector (longer unknown words get the per-word
    /// error `word too long`; the cost of a subword vector grows with the word).
    pub max_word: usize,
    /// Most tokens in one input of `/v1/embeddings` (more get 400 `input_too_long`).
    pub max_input_tokens: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1 << 20,
            max_batch: 1024,
            max_k: 1000,
            timeout: Duration::from_secs(10),
            ef: 100,
            heavy_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            heavy_queue: 64,
            max_answer: 64 << 20,
            max_word: 1024,
            max_input_tokens: 8192,
        }
    }
}
