//! Exact re-ranking: take the best candidates of a fast approximate search on compressed rows,
//! and re-score them with exact cosines against the f32 original (or the decoded rows).

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Orders `(id, score)` pairs best first: higher score, then lower id; NaN scores last.
fn by_score(a: &(u32, f32), b: &(u32, f32)) -> std::cmp::Ordering {
    let key = |s: f32| if s.is_nan() { f32::NEG_INFINITY } else { s };
    key(b.1).total_cmp(&key(a.1)).then(a.0.cmp(&b.0))
}

/// Keeps the `n` best pairs, best first.
fn top(mut scored: Vec<(u32, f32)>, n: usize) -> Vec<(u32, f32)> {
    if n < scored.len() {
        if n > 0 {
            scored.select_nth_unstable_by(n - 1, by_score);
        }
        scored.truncate(n);
    }
    scored.sort_by(by_score);
    scored
}

/// The `n` rows with the highest cosine to `query` as the storage scores them (`dot_all` over
/// the stored norms; rows of norm 0 score 0), best first, skipping the ids in `exclude`.
pub fn candidates(
    embeddings: &Embeddings,
    query: &[f32],
    n: usize,
    exclude: &[u32],
) -> Result<Vec<(u32, f32)>> {
    if query.len() != embeddings.dims() {
        return Err(Error::shape("query", embeddings.dims(), query.len()));
    }
    let qn = crate::kernels::norm(query);
    let mut scores = vec![0.0f32; embeddings.len()];
    embeddings.storage().dot_all(query, &mut scores);
    let norms = embeddings.norms();
    let scored: Vec<(u32, f32)> = scores
        .iter()
        .zip(norms)
        .enumerate()
        .filter(|(i, _)| !exclude.contains(&(*i as u32)))
        .map(|(i, (&s, &rn))| {
            let d = rn * qn;
            (i as u32, if d > 0.0 { s / d } else { 0.0 })
        })
        .collect();
    Ok(top(scored, n))
}

/// Re-scores `ids` by exact cosine between `query` and the rows of `exact`, and returns the `k`
/// best, best first. `exact` is usually the f32 original of a compressed model.
pub fn rerank(query: &[f32], ids: &[u32], exact: &Storage, k: usize) -> Result<Vec<(u32, f32)>> {
    if query.len() != exact.dims() {
        return Err(Error::shape("query", exact.dims(), query.len()));
    }
    let mut row = vec![0.0f32; exact.dims()];
    let mut scored = Vec::with_capacity(ids.len());
    for &id in ids {
        if id as usize >= exact.rows() {
            return Err(Error::invalid(
                "id",
                format!("{id} is out of range for {} rows", exact.rows()),
            ));
        }
        exact.row_into(id as usize, &mut row);
        scored.push((id, crate::kernels::cosine(query, &row)));
    }
    Ok(top(scored, k))
}

/// Nearest neighbours of `query` by cosine: the `candidates` best by the compressed scores, then
/// re-ranked exactly against `exact` (the rows of the original model; when `None`, the decoded
/// compressed rows, which removes the query-rounding error of int8 scoring). `k ≤ candidates`.
pub fn search_reranked(
    embeddings: &Embeddings,
    exact: Option<&Storage>,
    query: &[f32],
    k: usize,
    candidates_n: usize,
    exclude: &[u32],
) -> Result<Vec<(u32, f32)>> {
    let exact = exact.unwrap_or(embeddings.storage());
    if exact.rows() != embeddings.len() {
        return Err(Error::shape("exact rows", embeddings.len(), exact.rows()));
    }
    let first = candidates(embeddings, query, candidates_n.max(k), exclude)?;
    let ids: Vec<u32> = first.iter().map(|c| c.0).collect();
    rerank(query, &ids, exact, k)
}
