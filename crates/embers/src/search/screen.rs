//! Exact single queries that read a quarter of the bytes: an int8 copy of a dense f32 matrix
//! screens the rows, with a bound on its error, and only the rows that might rank are scored
//! again in f32.
//!
//! Row `r` is stored as codes `c` with a scale `s` (`x ≈ s·c`, `|x_i − s·c_i| ≤ s/2`); the query
//! `q` as codes `d` with a scale `t` (`|q_i − t·d_i| ≤ t/2`). Then
//! `x·q − s·t·(c·d) = Σ (x_i − s·c_i)·q_i + s·Σ c_i·(q_i − t·d_i)`, so
//! `|x·q − s·t·(c·d)| ≤ (s/2)·(‖q‖₁ + t·‖c‖₁)`: every row gets an interval that holds its true
//! dot product. The screen keeps the k-th best lower end `T` (over rows that are not excluded)
//! and every row whose upper end reaches `T`; the true top-k rows are among them, because each
//! has a true score of at least `T`. Those rows are then scored exactly as [`super::exact::top_k`]
//! scores every row, so the answer is the same, bit for bit. The integer dot product `c·d` is
//! exact; the bound is widened by a relative margin far above the rounding of the float steps.
//! A batch of queries is screened together: each block of rows is read once for a tile of
//! queries ([`kernels::screen_rows16`], 64 products an instruction with AVX-512 VNNI).

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use crate::kernels::{self, ScreenQuery, ScreenRows, SCREEN_BLOCK_ROWS as ROWS};
use crate::search::exact::{merged, Hit, TopK};
use crate::storage::quantize_into;
use crate::storage::DenseMatrix;

/// Rows screened per parallel piece (a multiple of [`ROWS`]).
const CHUNK: usize = 1 << 13;

/// Most dims the screen serves: beyond, `255 · 128 · dims` could leave i32.
pub(crate) const MAX_DIMS: usize = 60_000;

/// Queries of a batch that share one pass over a block of rows.
const TILE: usize = 64;

/// The int8 copy of a dense matrix used to screen rows: blocks of 16 rows with their dimensions
/// interleaved by quads, the layout [`kernels::screen_rows16`] reads.
#[derive(Debug, Clone)]
pub(crate) struct Screen {
    dims: usize,
    /// Quads of dimensions (the last one padded with zeros).
    quads: usize,
    codes: Vec<i8>,
    /// `128 · Σ c` per row: the query's codes are offset by 128 to make them unsigned, and this
    /// takes the offset back out of the integer dot product, exactly.
    offset: Vec<i32>,
    /// `s / norm` per row (so the screen works on the cosine scale); 0 for the rows below.
    a: Vec<f32>,
    /// `0.5005 · s · ‖c‖₁ / norm` per row: with `a`, the error bound of a query. +inf for a row
    /// with an infinite value (always scored exactly), NaN for a row of norm zero or NaN (never
    /// ranks).
    b: Vec<f32>,
}

/// Half of the quantization step, with 0.1% added for the rounding of the float steps.
const HALF: f32 = 0.5005;

/// True when a row whose score is at most `upper` may reach `floor` (never for NaN: a row that
/// never ranks).
#[inline]
fn reaches(upper: f32, floor: f32) -> bool {
    upper >= floor
}

/// A row that may rank: its id and the upper end of its interval.
type Candidate = (u32, f32);

/// What a piece of rows keeps of one query: the k best lower ends and the candidates.
type Kept = (TopK, Vec<Candidate>);

/// `f32` → `u32` keeping the order of the numbers (NaN excluded), for a shared running maximum.
fn floor_key(f: f32) -> u32 {
    let b = f.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 1 << 31
    }
}

/// The inverse of [`floor_key`].
fn floor_value(key: u32) -> f32 {
    f32::from_bits(if key >> 31 == 1 {
        key & !(1 << 31)
    } else {
        !key
    })
}

impl Screen {
    /// The int8 copy of `m`, whose row norms are `norms` (on all cores); `None` for a matrix
    /// without rows or dims, or wider than [`MAX_DIMS`].
    pub(crate) fn build(m: &DenseMatrix, norms: &[f32]) -> Option<Self> {
        let dims = m.dims();
        if dims == 0 || dims > MAX_DIMS || m.rows() == 0 {
            return None;
        }
        let quads = dims.div_ceil(4);
        let rows = m.rows();
        let blocks = rows.div_ceil(ROWS);
        let mut codes = vec![0i8; blocks * 64 * quads];
        let mut offset = vec![0i32; blocks * ROWS];
        let mut a = vec![0f32; blocks * ROWS];
        let mut b = vec![f32::NAN; blocks * ROWS];
        codes
            .par_chunks_mut(64 * quads)
            .zip(offset.par_chunks_mut(ROWS))
            .zip(a.par_chunks_mut(ROWS).zip(b.par_chunks_mut(ROWS)))
            .enumerate()
            .for_each(|(blk, ((block, offset), (a, b)))| {
                let mut row = vec![0i8; dims];
                for j in 0..ROWS {
                    let r = blk * ROWS + j;
                    if r >= rows {
                        break;
                    }
                    let s = quantize_into(m.row(r), &mut row);
                    let norm = norms[r];
                    if norm.is_nan() || norm <= 0.0 {
                        continue; // b stays NaN: never ranks
                    }
                    if s.is_nan() {
                        b[j] = f32::INFINITY;
                        continue;
                    }
                    let l1 = row.iter().map(|&v| i32::from(v).abs()).sum::<i32>() as f32;
                    a[j] = s / norm;
                    b[j] = HALF * a[j] * l1;
                    offset[j] = 128 * row.iter().map(|&v| i32::from(v)).sum::<i32>();
                    for (d, &c) in row.iter().enumerate() {
                        block[64 * (d / 4) + 4 * j + d % 4] = c;
                    }
                }
            });
        Some(Screen {
            dims,
            quads,
            codes,
            offset,
            a,
            b,
        })
    }

    /// The screen's terms of the 16 rows of the block starting at row `first`.
    fn rows(&self, first: usize) -> ScreenRows<'_> {
        let terms = first..first + ROWS;
        ScreenRows {
            a: self.a[terms.clone()].try_into().expect("16 rows a block"),
            b: self.b[terms.clone()].try_into().expect("16 rows a block"),
            offset: self.offset[terms].try_into().expect("16 rows a block"),
        }
    }

    /// Codes of `query` offset by 128 and packed by quads into `quads`, and its bound terms;
    /// `None` when the query cannot be screened (zero or not finite).
    fn prepare(&self, query: &[f32], quads: &mut [u32]) -> Option<ScreenQuery> {
        let mut codes = vec![0i8; 4 * self.quads];
        let t = quantize_into(query, &mut codes[..self.dims]);
        if !(t.is_finite() && t > 0.0) {
            return None;
        }
        for (q, c) in quads.iter_mut().zip(codes.chunks_exact(4)) {
            let u = |v: i8| (i16::from(v) + 128) as u8;
            *q = u32::from_le_bytes([u(c[0]), u(c[1]), u(c[2]), u(c[3])]);
        }
        Some(ScreenQuery {
            t,
            q1: HALF * query.iter().map(|v| v.abs()).sum::<f32>(),
            // The exact score's own rounding, on the cosine scale: at most about dims · 2⁻²⁴ ·
            // ‖q‖₂ (Cauchy–Schwarz bounds Σ|x_i·q_i| by ‖x‖·‖q‖); taken 16 times over.
            slack: 1e-6 * self.dims as f32 * kernels::norm(query),
            floor: f32::NEG_INFINITY,
        })
    }

    /// The exact top-`k` rows of the first `limit` rows of `matrix` by cosine with `query`
    /// (`dot / norm`), skipping `exclude`: the same answer as scoring every row. `None` when
    /// the query cannot be screened (a zero or non-finite query).
    pub(crate) fn top_k(
        &self,
        matrix: &[f32],
        norms: &[f32],
        query: &[f32],
        k: usize,
        limit: usize,
        exclude: &[u32],
    ) -> Option<Vec<Hit>> {
        self.top_k_batch(matrix, norms, query, k, limit, &[exclude.to_vec()])
            .pop()
            .flatten()
    }

    /// [`Screen::top_k`] for the `n` queries of `queries` (`n × dims` values), skipping
    /// `exclude[i]` for query `i` (`exclude` is empty or has one list per query): each block of
    /// rows is screened for a tile of queries at once, while it is in cache. `None` for a query
    /// that cannot be screened.
    pub(crate) fn top_k_batch(
        &self,
        matrix: &[f32],
        norms: &[f32],
        queries: &[f32],
        k: usize,
        limit: usize,
        exclude: &[Vec<u32>],
    ) -> Vec<Option<Vec<Hit>>> {
        let dims = self.dims;
        let n = queries.len() / dims;
        let mut out: Vec<Option<Vec<Hit>>> = vec![None; n];
        if k == 0 {
            return out;
        }
        // The queries that can be screened, with their packed codes.
        let mut ids = Vec::with_capacity(n);
        let mut prepared = Vec::with_capacity(n);
        let mut quads = Vec::with_capacity(n * self.quads);
        let mut packed = vec![0u32; self.quads];
        for (i, q) in queries.chunks_exact(dims).enumerate() {
            if let Some(p) = self.prepare(q, &mut packed) {
                ids.push(i);
                prepared.push(p);
                quads.extend_from_slice(&packed);
            }
        }
        let none: Vec<u32> = Vec::new();
        let excl = |i: usize| -> &[u32] { exclude.get(ids[i]).unwrap_or(&none) };
        debug_assert!(norms.len() >= limit);
        let block_bytes = 64 * self.quads;
        let blocks = limit.div_ceil(ROWS);
        let tiles = ids.len().div_ceil(TILE);
        // The best floor any piece has found per query, shared: a piece's k-th best lower end
        // is a floor for all rows (k rows score at least that much), so later pieces start
        // from it instead of from nothing and keep far fewer rows.
        let shared: Vec<AtomicU32> = (0..ids.len())
            .map(|_| AtomicU32::new(floor_key(f32::NEG_INFINITY)))
            .collect();
        let shared_floor = |i: usize| floor_value(shared[i].load(Ordering::Relaxed));
        // Pass 1: an interval per row and query; per piece and query, the k best lower ends and
        // the rows whose upper end reaches the running floor.
        let pieces: Vec<Vec<Kept>> = self.codes[..blocks * block_bytes]
            .par_chunks(CHUNK / ROWS * block_bytes)
            .enumerate()
            .map(|(p, codes)| {
                let mut found = Vec::with_capacity(ids.len());
                let mut dots = [[0i32; ROWS]; TILE];
                let mut masks = [0u16; TILE];
                for t in 0..tiles {
                    let (q0, q1) = (t * TILE, ((t + 1) * TILE).min(ids.len()));
                    let nq = q1 - q0;
                    let mut lows: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
                    let mut params: Vec<ScreenQuery> = prepared[q0..q1].to_vec();
                    for (i, q) in params.iter_mut().enumerate() {
                        q.floor = shared_floor(q0 + i);
                    }
                    let mut maybe: Vec<Vec<(u32, f32)>> = vec![Vec::new(); nq];
                    let tile_quads = &quads[q0 * self.quads..q1 * self.quads];
                    for (blk, block) in codes.chunks_exact(block_bytes).enumerate() {
                        if blk % 32 == 31 {
                            // Trade floors with the other pieces now and then.
                            for (i, q) in params.iter_mut().enumerate() {
                                let own = lows[i].threshold();
                                if own > f32::NEG_INFINITY {
                                    shared[q0 + i].fetch_max(floor_key(own), Ordering::Relaxed);
                                }
                                q.floor = q.floor.max(shared_floor(q0 + i));
                            }
                        }
                        let first = p * CHUNK + blk * ROWS;
                        let rows = self.rows(first);
                        kernels::screen_rows16(
                            block, tile_quads, rows, &params, &mut dots, &mut masks,
                        );
                        // Most blocks stop here: no row's upper end reaches any query's floor.
                        for (i, &mask) in masks[..nq].iter().enumerate() {
                            if mask == 0 {
                                continue;
                            }
                            let ex = excl(q0 + i);
                            let q = &mut params[i];
                            for (j, &dot) in dots[i].iter().enumerate() {
                                let r = first + j;
                                let (cos, err) =
                                    kernels::screen_interval(rows.a[j], rows.b[j], dot, q);
                                let upper = cos + err;
                                if r >= limit
                                    || !reaches(upper, q.floor)
                                    || ex.contains(&(r as u32))
                                {
                                    continue;
                                }
                                lows[i].push(r as u32, cos - err);
                                q.floor = q.floor.max(lows[i].threshold());
                                maybe[i].push((r as u32, upper));
                            }
                        }
                    }
                    for (i, low) in lows.iter().enumerate() {
                        let own = low.threshold();
                        if own > f32::NEG_INFINITY {
                            shared[q0 + i].fetch_max(floor_key(own), Ordering::Relaxed);
                        }
                    }
                    let floors = params.iter().map(|q| q.floor);
                    for ((low, mut m), floor) in lows.into_iter().zip(maybe).zip(floors) {
                        m.retain(|&(_, upper)| reaches(upper, floor));
                        found.push((low, m));
                    }
                }
                found
            })
            .collect();
        // Per query: the k-th best lower end over all pieces, then exact scores of the rows
        // that may rank, as the full scan computes them.
        let mut per_query: Vec<(Vec<TopK>, Vec<Vec<Candidate>>)> = (0..ids.len())
            .map(|_| {
                (
                    Vec::with_capacity(pieces.len()),
                    Vec::with_capacity(pieces.len()),
                )
            })
            .collect();
        for piece in pieces {
            for (slot, (low, maybe)) in per_query.iter_mut().zip(piece) {
                slot.0.push(low);
                slot.1.push(maybe);
            }
        }
        let answers: Vec<Vec<Hit>> = per_query
            .into_par_iter()
            .zip(ids.par_iter())
            .map(|((lows, maybe), &i)| {
                let query = &queries[i * dims..(i + 1) * dims];
                let floor = merged(lows, k).threshold();
                let mut top = TopK::new(k);
                for &(r, upper) in maybe.iter().flatten() {
                    if reaches(upper, floor) {
                        let row = &matrix[r as usize * dims..(r as usize + 1) * dims];
                        top.push(r, kernels::dot_exact(row, query) / norms[r as usize]);
                    }
                }
                top.into_sorted()
            })
            .collect();
        for (i, hits) in ids.into_iter().zip(answers) {
            out[i] = Some(hits);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The answer of scoring every row, as `query::top_k` does without a screen.
    fn full_scan(
        m: &DenseMatrix,
        norms: &[f32],
        q: &[f32],
        k: usize,
        limit: usize,
        ex: &[u32],
    ) -> Vec<Hit> {
        let mut top = TopK::new(k);
        for (r, &norm) in norms.iter().enumerate().take(limit) {
            if !ex.contains(&(r as u32)) {
                top.push(r as u32, kernels::dot_exact(m.row(r), q) / norm);
            }
        }
        top.into_sorted()
    }

    #[test]
    fn screened_answers_equal_the_full_scan() {
        let mut rng = Rng::new(11);
        for &(rows, dims) in &[(3000usize, 50usize), (2000, 7), (500, 300), (40, 3)] {
            // Clustered rows (many near-ties), a few exact duplicates, a zero row, a huge and a
            // tiny row, and a row with a NaN.
            let centres: Vec<f32> = (0..10 * dims).map(|_| rng.normal()).collect();
            let mut data = Vec::with_capacity(rows * dims);
            for r in 0..rows {
                let c = r % 10;
                for d in 0..dims {
                    data.push(centres[c * dims + d] + 0.05 * rng.normal());
                }
            }
            data.copy_within(5 * dims..6 * dims, 17 * dims);
            data[20 * dims..21 * dims].fill(0.0);
            data[21 * dims..22 * dims]
                .iter_mut()
                .for_each(|v| *v *= 1e6);
            data[22 * dims..23 * dims]
                .iter_mut()
                .for_each(|v| *v *= 1e-6);
            data[23 * dims] = f32::NAN;
            let m = DenseMatrix::new(rows, dims, data).unwrap();
            let norms = m.row_norms();
            let screen = Screen::build(&m, &norms).unwrap();
            for trial in 0..20 {
                let mut q: Vec<f32> = if trial % 2 == 0 {
                    m.row(rng.below(rows as u64) as usize).to_vec()
                } else {
                    (0..dims).map(|_| rng.normal()).collect()
                };
                kernels::normalize(&mut q);
                let k = [1, 10, 100][trial % 3];
                let limit = if trial % 4 == 3 { rows / 2 } else { rows };
                let ex: Vec<u32> = (0..trial as u32).map(|i| i * 7 % rows as u32).collect();
                let want = full_scan(&m, &norms, &q, k, limit, &ex);
                let got = screen
                    .top_k(m.as_slice(), &norms, &q, k, limit, &ex)
                    .unwrap();
                assert_eq!(got, want, "{rows}x{dims} trial {trial}");
            }
            // A batch (more queries than a tile, a zero query among them, exclusions per
            // query) answers each query as the full scan does.
            let n = 70;
            let mut queries = Vec::with_capacity(n * dims);
            for i in 0..n {
                let mut q: Vec<f32> = if i % 3 == 0 {
                    m.row(rng.below(rows as u64) as usize).to_vec()
                } else {
                    (0..dims).map(|_| rng.normal()).collect()
                };
                if i == 5 {
                    q.fill(0.0);
                }
                kernels::normalize(&mut q);
                queries.extend(q);
            }
            let ex: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i % rows as u32, 17]).collect();
            let limit = rows - rows / 5;
            let got = screen.top_k_batch(m.as_slice(), &norms, &queries, 10, limit, &ex);
            for (i, got) in got.iter().enumerate() {
                let q = &queries[i * dims..(i + 1) * dims];
                if i == 5 {
                    assert!(got.is_none(), "a zero query is not screened");
                    continue;
                }
                let want = full_scan(&m, &norms, q, 10, limit, &ex[i]);
                assert_eq!(got.as_ref(), Some(&want), "{rows}x{dims} batch query {i}");
            }
            // A zero query is not screened.
            let zero = vec![0.0; dims];
            assert!(screen
                .top_k(m.as_slice(), &norms, &zero, 5, rows, &[])
                .is_none());
        }
    }
}
