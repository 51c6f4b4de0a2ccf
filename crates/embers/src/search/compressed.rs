//! Search on compressed rows (f16, int8, product-quantized): every row is scored as stored
//! (`Storage::dot_all`, no decompression), and, when the f32 rows are at hand, the best
//! `candidates` are re-scored exactly with the kernel of [`super::Exact`] — the same cosines
//! the exact search would give them.

use std::borrow::Borrow;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::kernels;
use crate::search::exact::{top_k_batch, Hit, TopK};
use crate::search::fastscan::{FastScan, PqScan};
use crate::search::{check_request, Search};

/// Scan of compressed rows, with optional exact re-scoring.
#[derive(Debug)]
pub struct Compressed<E> {
    emb: E,
    exact: Option<E>,
    candidates: usize,
    fast: FastScan,
}

impl<E: Borrow<Embeddings>> Compressed<E> {
    /// Searches `emb` as stored; with `exact` (the f32 original: same rows and dims), the
    /// best `candidates` (at least `k`) of the scan are re-scored against it.
    pub fn new(emb: E, exact: Option<E>, candidates: usize) -> Self {
        Compressed {
            emb,
            exact,
            candidates,
            fast: FastScan::new(PqScan::Fast),
        }
    }

    /// How 4-bit PQ rows are scanned (the fast scan by default: same answers as the f32
    /// tables, faster).
    pub fn with_pq_scan(mut self, pq_scan: PqScan) -> Self {
        self.fast = FastScan::new(pq_scan);
        self
    }

    /// Checks that the f32 rows match the compressed model.
    pub fn checked(self) -> Result<Self> {
        if let Some(x) = &self.exact {
            let (x, e) = (x.borrow(), self.emb.borrow());
            if x.len() != e.len() || x.dims() != e.dims() {
                return Err(Error::shape(
                    "exact rows",
                    format!("{} × {}", e.len(), e.dims()),
                    format!("{} × {}", x.len(), x.dims()),
                ));
            }
        }
        Ok(self)
    }
}

/// The best `first` of a scan re-scored against the f32 rows `exact`: the best `k` of them by
/// the exact cosine.
fn rescore(exact: &Embeddings, query: &[f32], k: usize, first: Vec<Hit>) -> Vec<Hit> {
    let mut top = TopK::new(k);
    let norms = exact.norms();
    let mut row = vec![0.0f32; exact.dims()];
    for h in first {
        exact.storage().row_into(h.id as usize, &mut row);
        top.push(h.id, kernels::dot_exact(&row, query) / norms[h.id as usize]);
    }
    top.into_sorted()
}

impl<E: Borrow<Embeddings> + Send + Sync> Search for Compressed<E> {
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
        check_request(emb, queries, exclude)?;
        let limit = limit.min(emb.len());
        let want = if self.exact.is_some() {
            self.candidates.max(k)
        } else {
            k
        };
        // The whole batch at once: 4-bit PQ by the fast scan (groups of queries share each pass
        // over the codes), the other kinds by the blocked scan of `exact::top_k_batch` (lookup
        // tables of several queries a row for PQ/RQ); both answer as `select(cosines(..))`.
        let first = self
            .fast
            .try_top_k_batch(emb, queries, want, limit, exclude)
            .unwrap_or_else(|| top_k_batch(emb, queries, want, limit, exclude));
        let Some(exact) = &self.exact else {
            return Ok(first);
        };
        let exact: &Embeddings = exact.borrow();
        let dims = emb.dims();
        Ok(first
            .into_iter()
            .enumerate()
            .map(|(q, hits)| rescore(exact, &queries[q * dims..(q + 1) * dims], k, hits))
            .collect())
    }

    fn kind(&self) -> &'static str {
        if self.exact.is_some() {
            "compressed+rescored"
        } else {
            "compressed"
        }
    }
}
