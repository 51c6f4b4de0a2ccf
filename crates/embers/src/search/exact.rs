//! Exact top-k search by cosine, scored by one kernel ([`kernels::dot_exact`] and its blocked
//! forms) whatever the path: one query scans the rows (or, through an int8 [`Screen`], only the
//! rows that may rank), many queries run as a blocked product with a running top-k per query.
//! Every path divides the same dot product by the same cached norm, so single, batched and
//! screened answers are the same bit for bit, ties by id ascending.
//!
//! [`Exact`] is the search object: it holds the embeddings (borrowed or shared) and owns the
//! screen, its only cache. The free functions [`top_k`] and [`top_k_batch`] answer without a
//! screen.

use std::borrow::Borrow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::Result;
use crate::kernels;
use crate::search::fastscan::{FastScan, PqScan};
use crate::search::screen::Screen;
use crate::search::Search;
use crate::storage::{
    int8_score, quantize_into, F16Matrix, Int8Matrix, PqMatrix, RqMatrix, Storage, EXACT_F32_DIMS,
};

/// Queries scored together by [`kernels::dot_exact_block`] in a batch.
pub const TILE_QUERIES: usize = 16;

/// One search result: a row id and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub id: u32,
    pub score: f32,
}

/// True when `(s, id)` ranks before `(t, jd)`: higher score first, then lower id.
#[inline]
fn before(s: f32, id: u32, t: f32, jd: u32) -> bool {
    s > t || (s == t && id < jd)
}

/// The best `k` (score, id) pairs seen so far, kept sorted best first. NaN scores never enter.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    items: Vec<Hit>,
}

impl TopK {
    /// An empty list keeping at most `k` hits. Room grows with the hits pushed, so any `k`
    /// (even `usize::MAX`, meaning "all") costs nothing up front.
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            items: Vec::with_capacity(k.min(1024).saturating_add(1)),
        }
    }

    /// The score a new hit must beat (strictly, at a higher id) to enter; `-inf` while not full.
    #[inline]
    pub fn threshold(&self) -> f32 {
        if self.items.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.items.last().map_or(f32::INFINITY, |h| h.score)
        }
    }

    /// Offers a hit; keeps it when it ranks among the best `k`.
    #[inline]
    pub fn push(&mut self, id: u32, score: f32) {
        if self.k == 0 || score.is_nan() {
            return;
        }
        if self.items.len() == self.k {
            let last = self.items[self.k - 1];
            if !before(score, id, last.score, last.id) {
                return;
            }
            self.items.pop();
        }
        let pos = self
            .items
            .partition_point(|h| before(h.score, h.id, score, id));
        self.items.insert(pos, Hit { id, score });
    }

    /// The hits, best first.
    pub fn into_sorted(self) -> Vec<Hit> {
        self.items
    }
}

/// Cosine of `query` (any length-`dims` vector) with each of the first `limit` rows, as gensim
/// computes it: `row · query / ‖row‖` (so `query` should be unit length). Rows of norm zero get
/// NaN, which never ranks.
pub fn cosines(emb: &Embeddings, query: &[f32], limit: usize) -> Vec<f32> {
    let mut scores = vec![0.0; emb.len()];
    emb.storage().dot_all(query, &mut scores);
    scores.truncate(limit);
    let norms = emb.norms();
    scores
        .par_iter_mut()
        .zip(&norms[..limit])
        .for_each(|(s, n)| *s /= n);
    scores
}

/// The best `k` of `scores` (index = row id) that are not in `exclude`, ties by lower id.
pub fn select(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<Hit> {
    const CHUNK: usize = 1 << 15;
    let parts: Vec<TopK> = scores
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut top = TopK::new(k);
            let base = c * CHUNK;
            let mut thr = top.threshold();
            for (i, &s) in chunk.iter().enumerate() {
                if s > thr {
                    let id = (base + i) as u32;
                    if !exclude.contains(&id) {
                        top.push(id, s);
                        thr = top.threshold();
                    }
                }
            }
            top
        })
        .collect();
    merge(parts, k)
}

fn merge(parts: Vec<TopK>, k: usize) -> Vec<Hit> {
    merged(parts, k).into_sorted()
}

/// The best `k` of several partial top-k lists.
pub(crate) fn merged(parts: Vec<TopK>, k: usize) -> TopK {
    let mut top = TopK::new(k);
    for p in parts {
        for h in p.into_sorted() {
            top.push(h.id, h.score);
        }
    }
    top
}

/// Exact top-`k` rows by cosine with the unit vector `query` among the first `limit` rows,
/// skipping `exclude`, by scanning every row (no screen). Works on every storage kind.
pub fn top_k(emb: &Embeddings, query: &[f32], k: usize, limit: usize, exclude: &[u32]) -> Vec<Hit> {
    let limit = limit.min(emb.len());
    let scores = cosines(emb, query, limit);
    select(&scores, k, exclude)
}

/// Exact top-`k` for many unit-length queries at once (`queries` holds `n × dims` values),
/// among the first `limit` rows, skipping `exclude[q]` for query `q` (`exclude` is empty or has
/// one list per query). Same answers as calling [`top_k`] per query, bit for bit; on dense f32
/// rows it runs as a blocked matrix product with a running top-k per query, on all cores.
///
/// # Panics
/// If `queries.len()` is not a multiple of the dims, or `exclude` is neither empty nor one
/// list per query: a caller's bug (the server and the query functions build both).
pub fn top_k_batch(
    emb: &Embeddings,
    queries: &[f32],
    k: usize,
    limit: usize,
    exclude: &[Vec<u32>],
) -> Vec<Vec<Hit>> {
    let dims = emb.dims();
    let n = queries.len().checked_div(dims).unwrap_or(0);
    assert_eq!(queries.len(), n * dims, "whole queries");
    assert!(
        exclude.is_empty() || exclude.len() == n,
        "one exclusion list per query"
    );
    let limit = limit.min(emb.len());
    let none: Vec<u32> = Vec::new();
    let excl = |q: usize| -> &[u32] { exclude.get(q).map_or(&none[..], |v| &v[..]) };
    let rows = match emb.storage() {
        Storage::Dense(m) => Rows::Dense(m.as_slice()),
        Storage::F16(m) => Rows::F16(m),
        Storage::Int8(m) if dims <= EXACT_F32_DIMS => Rows::Int8(m),
        Storage::Pq(m) => Rows::Pq(m),
        Storage::Rq(m) => Rows::Rq(m),
        // int8 rows wider than f32 adds exactly: a query at a time (the calls of `top_k`).
        _ => {
            return (0..n)
                .into_par_iter()
                .map(|q| top_k(emb, &queries[q * dims..(q + 1) * dims], k, limit, excl(q)))
                .collect();
        }
    };
    if n == 0 || dims == 0 {
        return vec![Vec::new(); n];
    }
    if limit == 0 {
        return vec![Vec::new(); n];
    }
    let norms = &emb.norms()[..limit];
    let tiles = n.div_ceil(TILE_QUERIES);
    let threads = rayon::current_num_threads().max(1);
    // A job scores a group of query tiles against a range of rows, a block of rows at a time:
    // every tile of the group goes over a block while it is in cache (compressed rows are
    // decoded once a block for all of them), so the matrix is read from memory once per
    // group instead of once per tile (a large batch is bound by memory reads otherwise).
    // Groups are up to 8 tiles, fewer when that leaves threads idle; rows are split too when
    // there are fewer groups than threads.
    let group = (tiles / (2 * threads)).clamp(1, 8);
    let groups = tiles.div_ceil(group);
    let row_parts = (2 * threads)
        .div_ceil(groups)
        .clamp(1, limit.div_ceil(4096).max(1));
    let part_rows = limit.div_ceil(row_parts).max(1);
    // Rows per block: about 256 KiB of them as f32.
    let block = ((256 << 10) / (dims * 4)).clamp(16, 1024);
    let jobs: Vec<(usize, usize)> = (0..groups)
        .flat_map(|g| (0..row_parts).map(move |p| (g, p)))
        .collect();
    let results: Vec<Vec<Vec<TopK>>> = jobs
        .par_iter()
        .map(|&(g, p)| {
            let mut states: Vec<TileState> = (g * group..((g + 1) * group).min(tiles))
                .map(|t| TileState::new(&rows, queries, dims, n, t, k))
                .collect();
            let r_start = (p * part_rows).min(limit);
            let r_end = ((p + 1) * part_rows).min(limit);
            let mut buf = vec![0.0f32; block * TILE_QUERIES];
            let mut decoded = match rows {
                Rows::F16(_) | Rows::Int8(_) | Rows::Int8Decoded(_) => vec![0.0f32; block * dims],
                Rows::Dense(_) | Rows::Pq(_) | Rows::Rq(_) => Vec::new(),
            };
            let mut r0 = r_start;
            while r0 < r_end {
                let r1 = (r0 + block).min(r_end);
                let block_rows: &[f32] = match rows {
                    Rows::Dense(m) => &m[r0 * dims..r1 * dims],
                    Rows::F16(m) => {
                        let d = &mut decoded[..(r1 - r0) * dims];
                        m.decode_rows(r0, r1, d);
                        d
                    }
                    Rows::Int8(m) => {
                        let d = &mut decoded[..(r1 - r0) * dims];
                        m.widen_codes(r0, r1, d);
                        d
                    }
                    Rows::Int8Decoded(m) => {
                        let d = &mut decoded[..(r1 - r0) * dims];
                        m.decode_rows(r0, r1, d);
                        d
                    }
                    Rows::Pq(_) | Rows::Rq(_) => &[],
                };
                for st in &mut states {
                    let qn = st.tops.len();
                    let out = &mut buf[..(r1 - r0) * qn];
                    st.score(&rows, block_rows, dims, r0, r1, out);
                    st.scan(out, r0, &norms[r0..r1], |q| excl(q));
                }
                r0 = r1;
            }
            states.into_iter().map(|st| st.tops).collect()
        })
        .collect();
    let mut out: Vec<Vec<TopK>> = (0..n).map(|_| Vec::with_capacity(row_parts)).collect();
    for ((g, _), group_tops) in jobs.iter().zip(results) {
        for (i, tops) in group_tops.into_iter().enumerate() {
            let q0 = (g * group + i) * TILE_QUERIES;
            for (j, top) in tops.into_iter().enumerate() {
                out[q0 + j].push(top);
            }
        }
    }
    out.into_iter().map(|parts| merge(parts, k)).collect()
}

/// Rows of a block in [`top_k_combined`] at most: the cosines of a block with every unit stay
/// in the core's cache (256 rows × 900 units × 4 bytes ≈ 0.9 MiB), fewer with more units.
const COMBINED_BLOCK: usize = 256;
/// Rows a bound covers in [`top_k_combined`] (and a step of its scan).
const COMBINED_SUB: usize = 32;
/// Rows scored first by [`top_k_combined`], whose top-k scores then prune the rest.
const COMBINED_HEAD: usize = 16_384;

/// Exact top-`k` by 3CosAdd from cosines: for question `q` with `terms[q] = [a, b, c]` (indices
/// of unit vectors in `units`, `m × dims` values), the first `limit` rows ranked by
/// `(cos(row, b) + cos(row, c)) − cos(row, a)`, skipping `exclude[q]` (empty, or one list a
/// question), ties by id. Each cosine is the one [`top_k`] ranks by (`row · unit / ‖row‖`, the
/// row's storage scoring the unit as a single query would), so a row's score is three
/// additions instead of a dot product a question: on analogy benchmarks many questions share
/// few distinct words (19,544 questions, about 900 words in `questions-words.txt`).
///
/// gensim ranks by the cosine with `normalize(b + c − a)` (of unit vectors), the same order
/// up to rounding: the sum of three cosines is not bit-equal to that dot product, so rows
/// whose scores differ by a few units in the last place may swap.
///
/// Rows go by blocks: the block's cosines with every unit, then for each question and each
/// run of [`COMBINED_SUB`] rows the bound `(max b + max c) − min a` of its scores (f32 sums are
/// monotonic, so the bound is exact); runs whose bound does not beat the question's k-th score
/// are skipped. The first [`COMBINED_HEAD`] rows are scored first so that the rest start from
/// their k-th scores.
///
/// # Panics
/// If `units.len()` is not a multiple of the dims, a term is not a unit's index, or `exclude`
/// is neither empty nor one list per question: a caller's bug.
pub fn top_k_combined(
    emb: &Embeddings,
    units: &[f32],
    terms: &[[u32; 3]],
    k: usize,
    limit: usize,
    exclude: &[Vec<u32>],
) -> Vec<Vec<Hit>> {
    let dims = emb.dims();
    let m = units.len().checked_div(dims).unwrap_or(0);
    assert_eq!(units.len(), m * dims, "whole units");
    assert!(
        terms.iter().flatten().all(|&u| (u as usize) < m),
        "terms index the units"
    );
    assert!(
        exclude.is_empty() || exclude.len() == terms.len(),
        "one exclusion list per question"
    );
    let n = terms.len();
    let limit = limit.min(emb.len());
    if n == 0 || dims == 0 || limit == 0 || k == 0 {
        return vec![Vec::new(); n];
    }
    let rows = match emb.storage() {
        Storage::Dense(m) => Rows::Dense(m.as_slice()),
        Storage::F16(m) => Rows::F16(m),
        Storage::Int8(m) => Rows::Int8Decoded(m),
        Storage::Pq(m) => Rows::Pq(m),
        Storage::Rq(m) => Rows::Rq(m),
    };
    let tiles: Vec<Tile> = (0..m.div_ceil(TILE_QUERIES))
        .map(|t| Tile::new(&rows, units, dims, m, t))
        .collect();
    let job = Combined {
        rows,
        tiles: &tiles,
        dims,
        units: tiles.len() * TILE_QUERIES,
        norms: &emb.norms()[..limit],
        terms,
        exclude,
        k,
        // Rows a block: a multiple of the bound's run, the cosines within about 1 MiB.
        block: ((1 << 20) / (4 * tiles.len() * TILE_QUERIES)).clamp(COMBINED_SUB, COMBINED_BLOCK)
            / COMBINED_SUB
            * COMBINED_SUB,
    };
    let threads = rayon::current_num_threads().max(1);
    // Parts of a range, for the threads (at least a block each).
    let parts = |r0: usize, r1: usize, per_thread: usize| -> Vec<(usize, usize)> {
        let count = (threads * per_thread).clamp(1, (r1 - r0).div_ceil(job.block).max(1));
        let size = (r1 - r0).div_ceil(count);
        (0..count)
            .map(|p| (r0 + p * size, (r0 + (p + 1) * size).min(r1)))
            .filter(|(a, b)| a < b)
            .collect()
    };
    let head = limit.min(COMBINED_HEAD);
    let floor = vec![f32::NEG_INFINITY; n];
    let first: Vec<Vec<TopK>> = parts(0, head, 1)
        .into_par_iter()
        .map(|(a, b)| job.run(a, b, &floor))
        .collect();
    let mut tops: Vec<TopK> = merge_parts(first, n, k);
    if head < limit {
        // Rows after the head rank only above its k-th score (a tie loses: a higher id).
        let floor: Vec<f32> = tops.iter().map(TopK::threshold).collect();
        let rest: Vec<Vec<TopK>> = parts(head, limit, 4)
            .into_par_iter()
            .map(|(a, b)| job.run(a, b, &floor))
            .collect();
        let mut all = vec![tops];
        all.extend(rest);
        tops = merge_parts(all, n, k);
    }
    tops.into_iter().map(TopK::into_sorted).collect()
}

/// For each question, the best `k` of its lists in `parts` (one list a question in each).
fn merge_parts(parts: Vec<Vec<TopK>>, n: usize, k: usize) -> Vec<TopK> {
    let mut by_question: Vec<Vec<TopK>> = (0..n).map(|_| Vec::with_capacity(parts.len())).collect();
    for part in parts {
        for (q, top) in part.into_iter().enumerate() {
            by_question[q].push(top);
        }
    }
    by_question.into_iter().map(|p| merged(p, k)).collect()
}

/// What every part of [`top_k_combined`] shares.
struct Combined<'a> {
    rows: Rows<'a>,
    tiles: &'a [Tile],
    dims: usize,
    /// Units, padded to whole tiles.
    units: usize,
    norms: &'a [f32],
    terms: &'a [[u32; 3]],
    exclude: &'a [Vec<u32>],
    k: usize,
    block: usize,
}

impl Combined<'_> {
    /// The top-k of every question among rows `r_start..r_end`, entering only above `floor`.
    fn run(&self, r_start: usize, r_end: usize, floor: &[f32]) -> Vec<TopK> {
        let (dims, b, units) = (self.dims, self.block, self.units);
        let runs = b / COMBINED_SUB;
        let mut tops: Vec<TopK> = (0..self.terms.len()).map(|_| TopK::new(self.k)).collect();
        let mut thr = floor.to_vec();
        let mut buf = vec![0.0f32; b * TILE_QUERIES];
        let mut decoded = match self.rows {
            Rows::F16(_) | Rows::Int8(_) | Rows::Int8Decoded(_) => vec![0.0f32; b * dims],
            Rows::Dense(_) | Rows::Pq(_) | Rows::Rq(_) => Vec::new(),
        };
        // cos[u · b + i]: the cosine of row r0 + i with unit u (NaN past the block's end).
        let mut cos = vec![f32::NAN; units * b];
        // The largest and smallest cosine of each unit over each run of rows.
        let mut hi = vec![f32::NEG_INFINITY; units * runs];
        let mut lo = vec![f32::INFINITY; units * runs];
        let none: Vec<u32> = Vec::new();
        let mut r0 = r_start;
        while r0 < r_end {
            let r1 = (r0 + b).min(r_end);
            let len = r1 - r0;
            let block_rows: &[f32] = match self.rows {
                Rows::Dense(m) => &m[r0 * dims..r1 * dims],
                Rows::F16(m) => {
                    let d = &mut decoded[..len * dims];
                    m.decode_rows(r0, r1, d);
                    d
                }
                Rows::Int8(m) => {
                    let d = &mut decoded[..len * dims];
                    m.widen_codes(r0, r1, d);
                    d
                }
                Rows::Int8Decoded(m) => {
                    let d = &mut decoded[..len * dims];
                    m.decode_rows(r0, r1, d);
                    d
                }
                Rows::Pq(_) | Rows::Rq(_) => &[],
            };
            let norms = &self.norms[r0..r1];
            for (t, tile) in self.tiles.iter().enumerate() {
                let qn = tile.qn;
                let out = &mut buf[..len * qn];
                tile.score(&self.rows, block_rows, dims, r0, r1, out);
                // Cosines: a row's scores are contiguous, so the divisions run 8 lanes a time.
                for (row, &norm) in out.chunks_exact_mut(qn).zip(norms) {
                    for x in row {
                        *x /= norm;
                    }
                }
                for j in 0..qn {
                    let u = t * TILE_QUERIES + j;
                    let c = &mut cos[u * b..(u + 1) * b];
                    for (i, x) in c[..len].iter_mut().enumerate() {
                        *x = out[i * qn + j];
                    }
                    c[len..].fill(f32::NAN);
                    for (run, vals) in c.chunks_exact(COMBINED_SUB).enumerate() {
                        // NaN (a zero row, or past the block's end) is never the largest or
                        // smallest: its comparisons are false.
                        let (mut h, mut l) = (f32::NEG_INFINITY, f32::INFINITY);
                        for &x in vals {
                            h = if x > h { x } else { h };
                            l = if x < l { x } else { l };
                        }
                        hi[u * runs + run] = h;
                        lo[u * runs + run] = l;
                    }
                }
            }
            let used = len.div_ceil(COMBINED_SUB);
            for (q, &[a, bb, c]) in self.terms.iter().enumerate() {
                let (a, bb, c) = (a as usize, bb as usize, c as usize);
                let excl = self.exclude.get(q).unwrap_or(&none);
                for run in 0..used {
                    let bound = (hi[bb * runs + run] + hi[c * runs + run]) - lo[a * runs + run];
                    if bound <= thr[q] {
                        continue;
                    }
                    let at = run * COMBINED_SUB;
                    let ca = &cos[a * b + at..a * b + at + COMBINED_SUB];
                    let cb = &cos[bb * b + at..bb * b + at + COMBINED_SUB];
                    let cc = &cos[c * b + at..c * b + at + COMBINED_SUB];
                    let mut scores = [0.0f32; COMBINED_SUB];
                    let mut mask = combine_run(ca, cb, cc, thr[q], &mut scores);
                    while mask != 0 {
                        let i = mask.trailing_zeros() as usize;
                        mask &= mask - 1;
                        let s = scores[i];
                        let id = (r0 + at + i) as u32;
                        if s > thr[q] && !excl.contains(&id) {
                            tops[q].push(id, s);
                            thr[q] = tops[q].threshold().max(floor[q]);
                        }
                    }
                }
            }
            r0 = r1;
        }
        tops
    }
}

/// `scores[i] = (b[i] + c[i]) − a[i]` for a run of [`COMBINED_SUB`] rows; bit `i` of the
/// answer is set when `scores[i] > thr` (never for NaN).
#[inline]
fn combine_run(a: &[f32], b: &[f32], c: &[f32], thr: f32, scores: &mut [f32; COMBINED_SUB]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx2_fma() {
        // SAFETY: AVX2 was detected at run time; the slices hold COMBINED_SUB values.
        return unsafe { combine_run_avx2(a, b, c, thr, scores) };
    }
    let mut mask = 0u32;
    for i in 0..COMBINED_SUB {
        scores[i] = (b[i] + c[i]) - a[i];
        mask |= u32::from(scores[i] > thr) << i;
    }
    mask
}

/// [`combine_run`] eight lanes at a time: the same additions (no fused operations), so the
/// same scores bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn combine_run_avx2(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    thr: f32,
    scores: &mut [f32; COMBINED_SUB],
) -> u32 {
    use std::arch::x86_64::*;
    assert!(a.len() >= COMBINED_SUB && b.len() >= COMBINED_SUB && c.len() >= COMBINED_SUB);
    let t = _mm256_set1_ps(thr);
    let mut mask = 0u32;
    for v in 0..COMBINED_SUB / 8 {
        // SAFETY: v · 8 + 8 ≤ COMBINED_SUB ≤ the length of every slice (checked above).
        let s = unsafe {
            let x = _mm256_add_ps(
                _mm256_loadu_ps(b.as_ptr().add(v * 8)),
                _mm256_loadu_ps(c.as_ptr().add(v * 8)),
            );
            let s = _mm256_sub_ps(x, _mm256_loadu_ps(a.as_ptr().add(v * 8)));
            _mm256_storeu_ps(scores.as_mut_ptr().add(v * 8), s);
            s
        };
        let gt = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GT_OQ>(s, t)) as u32;
        mask |= gt << (v * 8);
    }
    mask
}

/// The rows a batch is scored against, by storage kind.
#[derive(Clone, Copy)]
enum Rows<'a> {
    Dense(&'a [f32]),
    F16(&'a F16Matrix),
    Int8(&'a Int8Matrix),
    /// int8 rows decoded to f32 values (`Int8Matrix::decode_rows`) and scored as f32 rows
    /// with f32 queries (only [`top_k_combined`] scores them so).
    Int8Decoded(&'a Int8Matrix),
    Pq(&'a PqMatrix),
    Rq(&'a RqMatrix),
}

/// What a tile's queries become for the rows' kind: f32 values (dense and f16 rows, scored by
/// [`kernels::dot_exact_block`]), i8 codes widened to f32 with their scales and sums (int8
/// rows: the same kernel gives the exact integer dot products), or lookup tables (PQ).
enum Prepared {
    Values,
    Int8 { scales: Vec<f32>, sums: Vec<f32> },
    Pq { tables: Vec<f32> },
}

/// One tile of up to [`TILE_QUERIES`] queries prepared for the rows' kind (as the single-query
/// path of each kind prepares a query, `Storage::dot_all`), scored a block of rows at a time.
struct Tile {
    /// Queries in the tile.
    qn: usize,
    /// The queries as f32 (int8 rows: their codes), row-major for
    /// [`kernels::dot_exact_block`].
    q: Vec<f32>,
    prepared: Prepared,
}

impl Tile {
    /// Tile `t` of the `n` queries (`dims` values each) in `queries`.
    fn new(rows: &Rows, queries: &[f32], dims: usize, n: usize, t: usize) -> Self {
        let q0 = t * TILE_QUERIES;
        let qn = (n - q0).min(TILE_QUERIES);
        let mut q = queries[q0 * dims..(q0 + qn) * dims].to_vec();
        let prepared = match rows {
            Rows::Dense(_) | Rows::F16(_) | Rows::Int8Decoded(_) => Prepared::Values,
            Rows::Int8(_) => {
                let mut scales = Vec::with_capacity(qn);
                let mut sums = Vec::with_capacity(qn);
                let mut codes = vec![0i8; dims];
                for v in q.chunks_exact_mut(dims) {
                    sums.push(v.iter().sum());
                    scales.push(quantize_into(v, &mut codes));
                    for (x, &c) in v.iter_mut().zip(&codes) {
                        *x = f32::from(c);
                    }
                }
                Prepared::Int8 { scales, sums }
            }
            Rows::Pq(m) => Prepared::Pq {
                tables: m.lookup_tables(&q, qn),
            },
            Rows::Rq(m) => Prepared::Pq {
                tables: m.lookup_tables(&q, qn),
            },
        };
        Tile { qn, q, prepared }
    }

    /// `out[(r - r0) · qn + j]` = the score of row `r` for query `j` of the tile, as
    /// `Storage::dot_all` gives it (before the division by the row's norm); `block` holds rows
    /// `r0..r1` as f32 (dense, widened f16, or widened int8 codes; empty for PQ and wide int8).
    fn score(
        &self,
        rows: &Rows,
        block: &[f32],
        dims: usize,
        r0: usize,
        r1: usize,
        out: &mut [f32],
    ) {
        let qn = self.qn;
        match (&self.prepared, rows) {
            (Prepared::Pq { tables }, Rows::Pq(m)) => m.adc_block(tables, qn, r0, r1, out),
            (Prepared::Pq { tables }, Rows::Rq(m)) => m.adc_block(tables, qn, r0, r1, out),
            (Prepared::Int8 { scales, sums }, Rows::Int8(m)) => {
                kernels::dot_exact_block(block, dims, &self.q, qn, out);
                let (rs, ro) = (&m.scales()[r0..r1], m.offsets().map(|o| &o[r0..r1]));
                for (i, row) in out.chunks_exact_mut(qn).enumerate() {
                    let offset = ro.map(|o| o[i]);
                    for ((x, &qs), &qsum) in row.iter_mut().zip(scales).zip(sums) {
                        *x = int8_score(rs[i], offset, qs, qsum, *x);
                    }
                }
            }
            _ => kernels::dot_exact_block(block, dims, &self.q, qn, out),
        }
    }
}

/// One tile of queries in [`top_k_batch`]: the prepared queries and a running top-k per query.
struct TileState {
    q0: usize,
    tile: Tile,
    tops: Vec<TopK>,
    thr: Vec<f32>,
    /// A cheap filter before the exact test `score / norm > thr`: `score >= low * norm` with
    /// `low` a little below `thr`, for all queries of the tile at once (no division). The
    /// margin of 1e-5 relative is far above the rounding of the division, so no row that
    /// passes the exact test is filtered out; the test itself is unchanged.
    low: Vec<f32>,
}

impl TileState {
    /// Tile `t` of the `n` queries (`dims` values each) in `queries`, prepared for `rows`
    /// as the single-query path of each kind prepares a query (`Storage::dot_all`).
    fn new(rows: &Rows, queries: &[f32], dims: usize, n: usize, t: usize, k: usize) -> Self {
        let tile = Tile::new(rows, queries, dims, n, t);
        let tops: Vec<TopK> = (0..tile.qn).map(|_| TopK::new(k)).collect();
        let thr: Vec<f32> = tops.iter().map(TopK::threshold).collect();
        let low = thr.iter().map(|&t| Self::lower(t)).collect();
        TileState {
            q0: t * TILE_QUERIES,
            tile,
            tops,
            thr,
            low,
        }
    }

    /// See [`Tile::score`].
    fn score(
        &self,
        rows: &Rows,
        block: &[f32],
        dims: usize,
        r0: usize,
        r1: usize,
        out: &mut [f32],
    ) {
        self.tile.score(rows, block, dims, r0, r1, out)
    }

    fn lower(t: f32) -> f32 {
        t - t.abs() * 1e-5
    }

    /// Takes the scores of rows `r0..` (one per query of the tile and row, from
    /// [`kernels::dot_exact_block`]) into the top-k.
    fn scan<'e>(
        &mut self,
        scores: &[f32],
        r0: usize,
        norms: &[f32],
        excl: impl Fn(usize) -> &'e [u32],
    ) {
        let qn = self.tops.len();
        for (i, (row_scores, &norm)) in scores.chunks_exact(qn).zip(norms).enumerate() {
            let mut any = false;
            for (&x, &l) in row_scores.iter().zip(&self.low) {
                any |= x >= l * norm;
            }
            if !any {
                continue;
            }
            let id = (r0 + i) as u32;
            for (j, &score) in row_scores.iter().enumerate() {
                let s = score / norm;
                if s > self.thr[j] && !excl(self.q0 + j).contains(&id) {
                    self.tops[j].push(id, s);
                    self.thr[j] = self.tops[j].threshold();
                    self.low[j] = Self::lower(self.thr[j]);
                }
            }
        }
    }
}

/// When an [`Exact`] search screens single queries with an int8 copy of the rows (answers are
/// the same either way; the screen costs a quarter of the matrix's memory and a pass to build,
/// and makes a single query about 2.4× faster on large matrices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screening {
    /// Never: every query scans the f32 rows.
    Off,
    /// Built at the second single query on dense rows of at least a million values (the
    /// library's default: one-shot use never pays for it).
    Lazy,
    /// Built when the search is made, for dense rows of any size (a server).
    Eager,
}

/// Without a vector screen kernel (AVX-512 VNNI or AVX2), batches of at most this many queries
/// go through the screen when there is one; larger batches run as a blocked product over the
/// f32 rows.
pub const SCREEN_MAX_BATCH: usize = 4;

/// Exact search over one model's embeddings: owns the screen (see [`Screening`]). `E` is
/// `&Embeddings` for a borrowed model or `Arc<Embeddings>` for a shared one.
#[derive(Debug)]
pub struct Exact<E> {
    emb: E,
    screening: Screening,
    screen: OnceLock<Option<Screen>>,
    singles: AtomicU32,
    fast: FastScan,
}

impl<E: Borrow<Embeddings>> Exact<E> {
    /// Exact search over `emb` with the given screening.
    pub fn new(emb: E, screening: Screening) -> Self {
        let s = Exact {
            emb,
            screening,
            screen: OnceLock::new(),
            singles: AtomicU32::new(0),
            fast: FastScan::new(PqScan::Fast),
        };
        if screening == Screening::Eager {
            let _ = s.screen();
        }
        s
    }

    /// How 4-bit PQ rows are scanned (the fast scan by default: same answers as the f32
    /// tables, faster).
    pub fn with_pq_scan(mut self, pq_scan: PqScan) -> Self {
        self.fast = FastScan::new(pq_scan);
        self
    }

    /// The screening policy.
    pub fn screening(&self) -> Screening {
        self.screening
    }

    /// True once the int8 screen has been built.
    pub fn has_screen(&self) -> bool {
        self.screen.get().is_some_and(Option::is_some)
    }

    /// The screen, building it when the policy says it is time; `None` for other storage
    /// kinds, with screening off, or (lazy) before the second single query.
    fn screen(&self) -> Option<&Screen> {
        let emb: &Embeddings = self.emb.borrow();
        if self.screening == Screening::Off {
            return None;
        }
        if let Some(s) = self.screen.get() {
            return s.as_ref();
        }
        let m = emb.storage().as_dense()?;
        if m.dims() == 0 || m.rows() == 0 {
            return None;
        }
        if self.screening == Screening::Lazy {
            if m.rows() * m.dims() < 1 << 20 {
                return None;
            }
            if self.singles.fetch_add(1, Ordering::Relaxed) < 1 {
                return None;
            }
        }
        self.screen
            .get_or_init(|| Screen::build(m, emb.norms()))
            .as_ref()
    }

    /// Exact top-`k` of one unit query among the first `limit` rows, skipping `exclude`
    /// (through the screen when there is one).
    pub fn top_k(&self, query: &[f32], k: usize, limit: usize, exclude: &[u32]) -> Vec<Hit> {
        let emb: &Embeddings = self.emb.borrow();
        let limit = limit.min(emb.len());
        if let (Some(dense), Some(screen)) = (emb.storage().as_dense(), self.screen()) {
            if query.len() == dense.dims() {
                let hits = screen.top_k(dense.as_slice(), emb.norms(), query, k, limit, exclude);
                if let Some(hits) = hits {
                    return hits;
                }
            }
        }
        if let Some(hits) = self.fast.try_top_k(emb, query, k, limit, exclude) {
            return hits;
        }
        top_k(emb, query, k, limit, exclude)
    }

    /// Exact top-`k` for `n` unit queries (`n × dims` values), as [`top_k_batch`], through the
    /// screen when there is one: a batch of any size with AVX-512 VNNI or AVX2, up to
    /// [`SCREEN_MAX_BATCH`] queries with the portable kernel (beyond, the blocked f32 product
    /// is faster).
    /// Same answers either way.
    pub fn top_k_batch(
        &self,
        queries: &[f32],
        k: usize,
        limit: usize,
        exclude: &[Vec<u32>],
    ) -> Vec<Vec<Hit>> {
        let emb: &Embeddings = self.emb.borrow();
        let dims = emb.dims();
        let n = queries.len().checked_div(dims).unwrap_or(0);
        // With a vector kernel the screen beats the f32 product at every batch size (AVX2 on a
        // 2-core EPYC: 674 against 1,060 µs of CPU a query in batches of 64, BENCHMARKS).
        let vector_screen =
            crate::cpu::avx512_vnni() || crate::cpu::level() != crate::cpu::Level::Scalar;
        let screened = n <= SCREEN_MAX_BATCH || vector_screen;
        if let (true, Some(dense)) = (screened && dims > 0, emb.storage().as_dense()) {
            if let Some(screen) = self.screen() {
                let limit = limit.min(emb.len());
                let none: Vec<u32> = Vec::new();
                let answers =
                    screen.top_k_batch(dense.as_slice(), emb.norms(), queries, k, limit, exclude);
                return answers
                    .into_iter()
                    .enumerate()
                    .map(|(q, hits)| {
                        hits.unwrap_or_else(|| {
                            let ex = exclude.get(q).unwrap_or(&none);
                            top_k(emb, &queries[q * dims..(q + 1) * dims], k, limit, ex)
                        })
                    })
                    .collect();
            }
            if n == 1 {
                return vec![top_k(
                    emb,
                    queries,
                    k,
                    limit,
                    exclude.first().map_or(&[], |v| v),
                )];
            }
        }
        let limit = limit.min(emb.len());
        if let Some(hits) = self.fast.try_top_k_batch(emb, queries, k, limit, exclude) {
            return hits;
        }
        top_k_batch(emb, queries, k, limit, exclude)
    }
}

impl<E: Borrow<Embeddings> + Send + Sync> Search for Exact<E> {
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
        crate::search::check_request(self.emb.borrow(), queries, exclude)?;
        Ok(self.top_k_batch(queries, k, limit, exclude))
    }

    fn kind(&self) -> &'static str {
        "exact"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    #[test]
    fn repeated_single_queries_use_the_screen_and_answer_the_same() {
        // Over a million values: the second single query builds the int8 screen.
        let emb = random(25_000, 48, 5);
        let mut rng = Rng::new(9);
        let queries: Vec<Vec<f32>> = (0..6)
            .map(|_| {
                let mut q: Vec<f32> = (0..48).map(|_| rng.normal()).collect();
                crate::kernels::normalize(&mut q);
                q
            })
            .collect();
        let full = |q: &[f32], ex: &[u32]| select(&cosines(&emb, q, 20_000), 10, ex);
        let lazy = Exact::new(&emb, Screening::Lazy);
        for (i, q) in queries.iter().enumerate() {
            let ex = [3u32, 7, 11];
            assert_eq!(lazy.top_k(q, 10, 20_000, &ex), full(q, &ex), "query {i}");
        }
        assert!(lazy.has_screen());
        // Off never builds it; the answers stay the same.
        let off = Exact::new(&emb, Screening::Off);
        let (q, ex) = (&queries[0], [3u32]);
        assert_eq!(off.top_k(q, 10, 20_000, &ex), full(q, &ex));
        assert_eq!(off.top_k(q, 10, 20_000, &ex), full(q, &ex));
        assert!(!off.has_screen());
        // Eager builds it at once, whatever the size.
        let small = random(300, 9, 2);
        assert!(Exact::new(&small, Screening::Eager).has_screen());
        assert!(!Exact::new(&small, Screening::Lazy).has_screen());
    }

    fn random(rows: usize, dims: usize, seed: u64) -> Embeddings {
        let mut rng = Rng::new(seed);
        let mut data: Vec<f32> = (0..rows * dims).map(|_| rng.normal()).collect();
        // Duplicate rows make exact ties; a zero row has no direction.
        if rows > 10 {
            let (a, b) = data.split_at_mut(7 * dims);
            b[..dims].copy_from_slice(&a[3 * dims..4 * dims]);
            data[9 * dims..10 * dims].fill(0.0);
        }
        let words = (0..rows).map(|i| format!("w{i}")).collect();
        Embeddings::new(
            Vocab::from_words(words).unwrap(),
            DenseMatrix::new(rows, dims, data).unwrap(),
        )
        .unwrap()
    }

    /// Brute force in f64 with a full sort: the oracle.
    fn oracle(emb: &Embeddings, q: &[f32], k: usize, limit: usize, ex: &[u32]) -> Vec<(u32, f64)> {
        let mut all: Vec<(u32, f64)> = (0..limit)
            .filter(|&i| !ex.contains(&(i as u32)))
            .filter_map(|i| {
                let r = emb.vector(i as u32).unwrap();
                let n = r.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
                if n == 0.0 {
                    return None;
                }
                let d: f64 = r.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum();
                Some((i as u32, d / n))
            })
            .collect();
        all.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    fn unit(v: &mut [f32]) {
        kernels::normalize(v);
    }

    #[test]
    fn single_and_batched_match_the_oracle() {
        let (rows, dims) = (3000, 37);
        let emb = random(rows, dims, 5);
        let mut rng = Rng::new(9);
        let nq = 37;
        let mut queries: Vec<f32> = (0..nq * dims).map(|_| rng.normal()).collect();
        for q in queries.chunks_mut(dims) {
            unit(q);
        }
        // Query 0 points exactly at row 3 (and its duplicate row 7): a tie broken by id.
        let mut r3 = emb.vector(3).unwrap();
        unit(&mut r3);
        queries[..dims].copy_from_slice(&r3);
        let exclude: Vec<Vec<u32>> = (0..nq).map(|q| vec![q as u32 * 11, 5]).collect();
        for (k, limit) in [(1, rows), (10, rows), (25, 2000), (3, 17)] {
            let batch = top_k_batch(&emb, &queries, k, limit, &exclude);
            for q in 0..nq {
                let query = &queries[q * dims..(q + 1) * dims];
                let single = top_k(&emb, query, k, limit, &exclude[q]);
                let want = oracle(&emb, query, k, limit, &exclude[q]);
                assert_eq!(single.len(), want.len());
                for ((s, b), w) in single.iter().zip(&batch[q]).zip(&want) {
                    assert!((s.score as f64 - w.1).abs() < 1e-5);
                    assert!((b.score as f64 - w.1).abs() < 1e-5);
                }
                let ids = |h: &[Hit]| h.iter().map(|h| h.id).collect::<Vec<_>>();
                assert_eq!(ids(&single), ids(&batch[q]), "query {q} k {k}");
                // Scores agree to rounding, so ids may only differ where the oracle is near-tied.
                for (s, w) in single.iter().zip(&want) {
                    if s.id != w.0 {
                        let other = want.iter().find(|x| x.0 == s.id).map(|x| x.1);
                        assert!(other.is_some_and(|o| (o - w.1).abs() < 1e-6));
                    }
                }
            }
            assert_eq!(
                batch[0][0].id, 3,
                "tie between duplicate rows goes to the lower id"
            );
            if k > 1 && limit > 7 {
                assert_eq!(batch[0][1].id, 7);
            }
        }
    }

    #[test]
    fn topk_keeps_best_with_deterministic_ties() {
        let mut t = TopK::new(3);
        for (id, s) in [
            (5, 0.5),
            (2, 0.5),
            (9, 0.9),
            (1, f32::NAN),
            (7, 0.1),
            (3, 0.5),
        ] {
            t.push(id, s);
        }
        let got: Vec<(u32, f32)> = t.into_sorted().iter().map(|h| (h.id, h.score)).collect();
        assert_eq!(got, vec![(9, 0.9), (2, 0.5), (3, 0.5)]);
    }
}
