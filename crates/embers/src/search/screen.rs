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

use rayon::prelude::*;

use crate::kernels;
use crate::search::exact::{merged, Hit, TopK};
use crate::storage::quantize_into;
use crate::storage::DenseMatrix;

/// Rows screened per parallel piece (a multiple of 8).
const CHUNK: usize = 1 << 13;

/// The int8 copy of a dense matrix used to screen rows: blocks of 8 rows with their dimensions
/// interleaved by pairs, the layout [`kernels::dot_i8_rows8`] reads.
#[derive(Debug, Clone)]
pub(crate) struct Screen {
    dims: usize,
    /// Pairs of dimensions (the last one padded with a zero when `dims` is odd).
    pairs: usize,
    codes: Vec<i8>,
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

impl Screen {
    /// The int8 copy of `m`, whose row norms are `norms` (on all cores).
    pub(crate) fn build(m: &DenseMatrix, norms: &[f32]) -> Self {
        let dims = m.dims().max(1);
        let pairs = dims.div_ceil(2);
        let rows = m.rows();
        let blocks = rows.div_ceil(8);
        let mut codes = vec![0i8; blocks * 16 * pairs];
        let mut a = vec![0f32; blocks * 8];
        let mut b = vec![f32::NAN; blocks * 8];
        codes
            .par_chunks_mut(16 * pairs)
            .zip(a.par_chunks_mut(8).zip(b.par_chunks_mut(8)))
            .enumerate()
            .for_each(|(blk, (block, (a, b)))| {
                let mut row = vec![0i8; dims];
                for j in 0..8 {
                    let r = blk * 8 + j;
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
                    for (d, &c) in row.iter().enumerate() {
                        block[16 * (d / 2) + 2 * j + d % 2] = c;
                    }
                }
            });
        Screen {
            dims,
            pairs,
            codes,
            a,
            b,
        }
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
        let dims = self.dims;
        let mut qcodes = vec![0i8; 2 * self.pairs];
        let t = quantize_into(query, &mut qcodes[..dims]);
        if !(t.is_finite() && t > 0.0) || k == 0 {
            return None;
        }
        let qpairs: Vec<i32> = qcodes
            .chunks_exact(2)
            .map(|p| i32::from(p[0] as i16 as u16) | (i32::from(p[1] as i16) << 16))
            .collect();
        let q1 = HALF * query.iter().map(|v| v.abs()).sum::<f32>();
        // The exact score's own rounding, on the cosine scale: at most about dims · 2⁻²⁴ ·
        // ‖q‖₂ (Cauchy–Schwarz bounds Σ|x_i·q_i| by ‖x‖·‖q‖); taken 16 times over.
        let slack = 1e-6 * dims as f32 * kernels::norm(query);
        debug_assert!(norms.len() >= limit);
        let block_bytes = 16 * self.pairs;
        let blocks = limit.div_ceil(8);
        // Pass 1: an interval per row; per piece, the k best lower ends and the rows whose
        // upper end reaches the piece's running k-th lower end.
        let (lows, maybe): (Vec<TopK>, Vec<Vec<(u32, f32)>>) = self.codes[..blocks * block_bytes]
            .par_chunks(CHUNK / 8 * block_bytes)
            .enumerate()
            .map(|(p, codes)| {
                let mut lows = TopK::new(k);
                let mut floor = lows.threshold();
                let mut maybe = Vec::new();
                for (blk, block) in codes.chunks_exact(block_bytes).enumerate() {
                    let dots = kernels::dot_i8_rows8(block, &qpairs);
                    let first = p * CHUNK + blk * 8;
                    // Cosine estimates and error bounds of the 8 rows (the compiler keeps
                    // these in vector registers); most blocks stop at the test below.
                    let (a, b) = (&self.a[first..first + 8], &self.b[first..first + 8]);
                    let mut cos = [0f32; 8];
                    let mut err = [0f32; 8];
                    for j in 0..8 {
                        cos[j] = a[j] * (t * dots[j] as f32);
                        // The relative term covers the rounding of the float steps here.
                        err[j] = a[j] * q1 + b[j] * t + cos[j].abs() * 1e-4 + slack;
                    }
                    if !(0..8).any(|j| reaches(cos[j] + err[j], floor)) {
                        continue;
                    }
                    for j in 0..8 {
                        let r = first + j;
                        let upper = cos[j] + err[j];
                        if r >= limit || !reaches(upper, floor) || exclude.contains(&(r as u32)) {
                            continue;
                        }
                        lows.push(r as u32, cos[j] - err[j]);
                        floor = lows.threshold();
                        maybe.push((r as u32, upper));
                    }
                }
                maybe.retain(|&(_, upper)| reaches(upper, floor));
                (lows, maybe)
            })
            .unzip();
        // The k-th best lower end over all pieces.
        let floor = merged(lows, k).threshold();
        // Pass 2: exact scores of the rows that may rank, as the full scan computes them.
        let mut top = TopK::new(k);
        for maybe in &maybe {
            for &(r, upper) in maybe {
                if reaches(upper, floor) {
                    let row = &matrix[r as usize * dims..(r as usize + 1) * dims];
                    top.push(r, kernels::dot_exact(row, query) / norms[r as usize]);
                }
            }
        }
        Some(top.into_sorted())
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
            let screen = Screen::build(&m, &norms);
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
            // A zero query is not screened.
            let zero = vec![0.0; dims];
            assert!(screen
                .top_k(m.as_slice(), &norms, &zero, 5, rows, &[])
                .is_none());
        }
    }
}
