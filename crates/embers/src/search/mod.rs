//! Search: every way to find the neighbours of query vectors among the rows of an
//! [`Embeddings`], behind one interface, [`Search`]: the top-`k` rows by cosine for a batch of
//! unit queries, among the first `limit` rows, with rows excluded per query.
//!
//! - [`Exact`] (`exact.rs`): dense f32 rows, scored by one kernel
//!   ([`crate::kernels::dot_exact`]) on every path, so single, batched and screened answers
//!   are identical; optional int8 screen (`screen.rs`, its cache and its only `unsafe`-free
//!   SIMD user) for single queries.
//! - [`Compressed`] (`compressed.rs`): f16/int8/PQ storage scanned as stored, optionally
//!   re-scored exactly against f32 rows when they are at hand; 4-bit PQ rows through the fast
//!   scan (`fastscan.rs`: byte lookup tables, 32 rows a shuffle, then the rows that may rank
//!   re-scored with the f32 tables: the same answers), unless [`PqScan::Float`] is asked for.
//! - [`Ann`] over an [`Hnsw`] graph (`hnsw.rs`): approximate, owns its memory-mapped file.
//!
//! The layering is data → search → users: this module reads [`Embeddings`] and the kernels and
//! knows nothing of `query`, the CLI or the server; `query` (gensim's semantics), `eval`, the
//! CLI and the server's batching thread all search through it.

pub mod compressed;
pub mod exact;
pub mod fastscan;
pub mod hnsw;
pub(crate) mod screen;

use std::borrow::Borrow;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};

pub use compressed::Compressed;
pub use exact::{Exact, Hit, Screening, TopK};
pub use fastscan::PqScan;
pub use hnsw::{Hnsw, HnswParams};

/// A way to find neighbours. Queries are unit vectors, `n × dims` values; `exclude` is empty or
/// has one list of row ids per query; only rows below `limit` are answered. Each answer is
/// best first, ties by lower id, at most `k` long (shorter when fewer rows can rank: rows of
/// norm zero never do).
pub trait Search: Send + Sync {
    /// The embeddings searched.
    fn embeddings(&self) -> &Embeddings;

    /// The top-`k` rows of every query.
    fn search(
        &self,
        queries: &[f32],
        k: usize,
        limit: usize,
        exclude: &[Vec<u32>],
    ) -> Result<Vec<Vec<Hit>>>;

    /// The top-`k` rows of one query.
    fn search_one(
        &self,
        query: &[f32],
        k: usize,
        limit: usize,
        exclude: &[u32],
    ) -> Result<Vec<Hit>> {
        let mut all = self.search(query, k, limit, &[exclude.to_vec()])?;
        Ok(all.pop().unwrap_or_default())
    }

    /// `exact`, `compressed`, `compressed+rescored` or `hnsw`, for logs and reports.
    fn kind(&self) -> &'static str;
}

/// Checks the shape of a request: whole queries of the model's dims, one exclusion list per
/// query (or none), finite values.
pub fn check_request(emb: &Embeddings, queries: &[f32], exclude: &[Vec<u32>]) -> Result<usize> {
    let dims = emb.dims();
    if dims == 0 {
        return Err(Error::invalid("embeddings", "have zero dimensions"));
    }
    if !queries.len().is_multiple_of(dims) {
        return Err(Error::shape(
            "queries",
            format!("a multiple of {dims} values"),
            queries.len(),
        ));
    }
    let n = queries.len() / dims;
    if !exclude.is_empty() && exclude.len() != n {
        return Err(Error::shape("exclusion lists", n, exclude.len()));
    }
    if queries.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid("queries", "contain NaN or infinite values"));
    }
    Ok(n)
}

/// The search a model gets when nothing else is asked for: [`Exact`] on dense f32 rows,
/// [`Compressed`] (scan as stored, no re-scoring) on other storage kinds.
/// 4-bit PQ rows go through the fast scan ([`PqScan::Fast`], same answers as the f32 tables).
pub fn default_for<'e>(emb: &'e Embeddings, screening: Screening) -> Box<dyn Search + 'e> {
    default_with(emb, screening, PqScan::Fast)
}

/// [`default_for`], with 4-bit PQ rows scanned as `pq_scan` says.
pub fn default_with<'e>(
    emb: &'e Embeddings,
    screening: Screening,
    pq_scan: PqScan,
) -> Box<dyn Search + 'e> {
    if emb.storage().as_dense().is_some() {
        Box::new(Exact::new(emb, screening))
    } else {
        Box::new(Compressed::new(emb, None, 0).with_pq_scan(pq_scan))
    }
}

/// Approximate search through an HNSW graph: `ef` is the candidate list size (at least `k` is
/// used), larger = slower and more accurate.
#[derive(Debug)]
pub struct Ann<E> {
    emb: E,
    index: Hnsw,
    ef: usize,
}

impl<E: Borrow<Embeddings>> Ann<E> {
    /// Pairs an index with the embeddings it was built for (checked by shape and fingerprint;
    /// `path` names the index in errors).
    pub fn new(emb: E, index: Hnsw, ef: usize, path: &std::path::Path) -> Result<Self> {
        index.check_belongs(emb.borrow(), path)?;
        Ok(Ann { emb, index, ef })
    }

    /// The graph.
    pub fn index(&self) -> &Hnsw {
        &self.index
    }

    /// Sets the candidate list size.
    pub fn with_ef(mut self, ef: usize) -> Self {
        self.ef = ef;
        self
    }
}

impl<E: Borrow<Embeddings> + Send + Sync> Search for Ann<E> {
    fn embeddings(&self) -> &Embeddings {
        self.emb.borrow()
    }

    fn search(
        &self,
        queries: &[f32],
        k: usize,
        limit: usize,
        exclude: &[Vec<u32>],
    ) -> Result<Vec<Vec<Hit>>> {
        let emb: &Embeddings = self.emb.borrow();
        let n = check_request(emb, queries, exclude)?;
        let dims = emb.dims();
        let none: Vec<u32> = Vec::new();
        let ex = |q: usize| exclude.get(q).unwrap_or(&none);
        let one = |q: usize| {
            let query = &queries[q * dims..(q + 1) * dims];
            self.index
                .search_limited(emb, query, k, self.ef.max(k), ex(q), limit)
        };
        if n <= 1 {
            (0..n).map(one).collect()
        } else {
            (0..n).into_par_iter().map(one).collect()
        }
    }

    fn kind(&self) -> &'static str {
        "hnsw"
    }
}
