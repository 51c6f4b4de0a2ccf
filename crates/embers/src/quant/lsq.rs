//! Local search over additive codes (the "LSQ" family of Martinez et al., ECCV 2016 and
//! LSQ++, ECCV 2018), trained from random codes.
//!
//! A row `x` is encoded as the sum `Σ_j C_j[c_j]` of one codeword per codebook. Residual
//! quantization picks the codes stage after stage; here they are improved jointly:
//!
//! - **Codebooks**: for fixed codes the codebooks minimising `Σ ‖x − Σ_j C_j[c_j]‖² + λ‖C‖²`
//!   solve one linear system, `(BᵀB + λI) C = BᵀX` with `B` the rows' one-hot codes
//!   (`m·K` unknown codewords; Cholesky, faer).
//! - **Codes**: for fixed codebooks the error of a row is a sum of unary terms
//!   `‖C_j[a]‖² − 2 x·C_j[a]` and pairwise terms `2 C_i[a]·C_j[b]`. Iterated conditional modes
//!   (ICM) sets one code at a time to its best value given the others (the error never grows);
//!   iterated local search (ILS) perturbs a few codes at random, runs ICM and keeps the result
//!   only if the row's error fell. Every row keeps a *field*, the error of each value of each
//!   code given the others, updated when a code changes, so a sweep costs `m·K` comparisons
//!   plus `m·K` additions per changed code.
//!
//! Everything is deterministic for a seed: each row draws its perturbations from its own
//! generator, forked from the seed by the row's index.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::kmeans::Codebook;
use crate::rng::Rng;

/// Regularisation `λ` of the codebook least squares (faiss's LSQ uses the same value).
const LAMBDA: f64 = 1e-2;
/// ICM sweeps over the codes after each perturbation.
const ICM_SWEEPS: usize = 4;
/// Codes set at random by one perturbation.
const PERTURBED: usize = 4;
/// Most codewords (`m·K`) solved for at once: the system is that square in f64.
pub const MAX_UNKNOWNS: usize = 8192;

/// The codebooks as one `m·K × d` matrix, their Gram matrix
/// `G[(i,a),(j,b)] = C_i[a]·C_j[b]` (`m·K` square, f32) and everything a row's local search
/// reads from them.
pub(crate) struct Icm {
    m: usize,
    k: usize,
    d: usize,
    /// `m·K × d`, row-major: codeword `a` of codebook `j` is row `j·K + a`.
    cents: Vec<f32>,
    /// `m·K × m·K`, row-major.
    gram: Vec<f32>,
}

impl Icm {
    /// The pairwise terms of `books` (all with the same `k` and dimension).
    pub(crate) fn new(books: &[Codebook]) -> Self {
        let (m, k, d) = (books.len(), books[0].k, books[0].d);
        let mk = m * k;
        let cents: Vec<f32> = books
            .iter()
            .flat_map(|b| b.centroids.iter().copied())
            .collect();
        let mut gram = vec![0.0f32; mk * mk];
        {
            let c = MatRef::from_row_major_slice(&cents, mk, d);
            let g = MatMut::from_row_major_slice_mut(&mut gram, mk, mk);
            matmul(g, Accum::Replace, c, c.transpose(), 1.0, Par::rayon(0));
        }
        Icm {
            m,
            k,
            d,
            cents,
            gram,
        }
    }

    fn row(&self, stage: usize, code: usize) -> &[f32] {
        let mk = self.m * self.k;
        &self.gram[(stage * self.k + code) * mk..][..mk]
    }

    /// The unary terms `‖C_j[a]‖² − 2 x·C_j[a]` of `rows` (`n × d`) into `out` (`n × m·K`):
    /// one matrix product on the calling thread.
    fn unary(&self, rows: &[f32], out: &mut [f32]) {
        let (mk, n) = (self.m * self.k, rows.len() / self.d);
        let x = MatRef::from_row_major_slice(rows, n, self.d);
        let c = MatRef::from_row_major_slice(&self.cents, mk, self.d);
        let o = MatMut::from_row_major_slice_mut(&mut out[..n * mk], n, mk);
        matmul(o, Accum::Replace, x, c.transpose(), -2.0, Par::Seq);
        for u in out[..n * mk].chunks_exact_mut(mk) {
            for (p, v) in u.iter_mut().enumerate() {
                *v += self.gram[p * mk + p];
            }
        }
    }

    /// Adds `sign · 2 G[(stage, code), ·]` to the field of every other stage.
    fn apply(&self, field: &mut [f32], stage: usize, code: usize, sign: f32) {
        let k = self.k;
        let g = self.row(stage, code);
        let s = 2.0 * sign;
        for (j, (f, g)) in field.chunks_exact_mut(k).zip(g.chunks_exact(k)).enumerate() {
            if j != stage {
                f.iter_mut().zip(g).for_each(|(f, g)| *f += s * g);
            }
        }
    }

    /// `‖x − x̂‖² − ‖x‖²` of `codes` from its field and unary terms.
    fn energy(&self, unary: &[f32], field: &[f32], codes: &[u8]) -> f32 {
        let k = self.k;
        codes
            .iter()
            .enumerate()
            .map(|(j, &c)| 0.5 * (unary[j * k + c as usize] + field[j * k + c as usize]))
            .sum()
    }

    /// ICM sweeps: each code in turn set to its least-error value given the others (ties: the
    /// current value, then the lower code), until a sweep changes nothing or `sweeps` ran.
    fn sweep(&self, field: &mut [f32], codes: &mut [u8], sweeps: usize) {
        let k = self.k;
        for _ in 0..sweeps {
            let mut changed = false;
            for j in 0..self.m {
                let f = &field[j * k..(j + 1) * k];
                let cur = codes[j] as usize;
                // The least value, then where it is: the current code if it holds it, else the
                // first code that does (as a scan for a strictly smaller value would find).
                let least = least(f);
                if f[cur] > least {
                    let best = f.iter().position(|&v| v == least).unwrap_or(cur);
                    self.apply(field, j, cur, -1.0);
                    self.apply(field, j, best, 1.0);
                    codes[j] = best as u8;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Improves the `codes` of a row with unary terms `unary` ([`Icm::unary`]) in place: ICM,
    /// then `ils` rounds of perturbation and ICM, each kept only if it lowered the error.
    /// Returns `‖x − x̂‖² − ‖x‖²` of the codes left (never more than that of the codes given).
    fn search(
        &self,
        unary: &[f32],
        codes: &mut [u8],
        ils: usize,
        rng: &mut Rng,
        sc: &mut LocalScratch,
    ) -> f32 {
        let (m, k) = (self.m, self.k);
        let LocalScratch {
            field,
            saved,
            trial,
        } = sc;
        field.copy_from_slice(unary);
        for (j, &c) in codes.iter().enumerate() {
            self.apply(field, j, c as usize, 1.0);
        }
        self.sweep(field, codes, ICM_SWEEPS);
        let mut best = self.energy(unary, field, codes);
        for _ in 0..ils {
            saved.copy_from_slice(field);
            trial.copy_from_slice(codes);
            for _ in 0..PERTURBED.min(m) {
                let j = rng.below(m as u64) as usize;
                let a = rng.below(k as u64) as usize;
                self.apply(field, j, trial[j] as usize, -1.0);
                self.apply(field, j, a, 1.0);
                trial[j] = a as u8;
            }
            self.sweep(field, trial, ICM_SWEEPS);
            let e = self.energy(unary, field, trial);
            if e < best {
                best = e;
                codes.copy_from_slice(trial);
            } else {
                field.copy_from_slice(saved);
            }
        }
        best
    }
}

/// The least of `v` (`+∞` if empty), by 16 lanes at a time (element-wise minima the compiler
/// turns into vector instructions; min is exact, so the order does not change the result).
fn least(v: &[f32]) -> f32 {
    let mut lanes = [f32::INFINITY; 16];
    let chunks = v.chunks_exact(16);
    let tail = chunks
        .remainder()
        .iter()
        .fold(f32::INFINITY, |a, &b| a.min(b));
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = l.min(x);
        }
    }
    lanes.iter().fold(tail, |a, &b| a.min(b))
}

/// Per-thread buffers of [`Icm::search`].
struct LocalScratch {
    field: Vec<f32>,
    saved: Vec<f32>,
    trial: Vec<u8>,
}

impl LocalScratch {
    fn new(m: usize, k: usize) -> Self {
        LocalScratch {
            field: vec![0.0; m * k],
            saved: vec![0.0; m * k],
            trial: vec![0; m],
        }
    }
}

/// Runs [`Icm::search`] on every row of `x` (rows of `dims` values) with `ils` rounds, on all
/// cores; row `i` draws from `rng.fork(i)`, so the result does not depend on the threads.
pub(crate) fn search_rows(
    x: &[f32],
    dims: usize,
    books: &[Codebook],
    codes: &mut [u8],
    ils: usize,
    rng: &Rng,
) {
    let (m, k) = (books.len(), books[0].k);
    let icm = Icm::new(books);
    const CHUNK: usize = 256;
    codes
        .par_chunks_mut(CHUNK * m)
        .zip(x.par_chunks(CHUNK * dims))
        .enumerate()
        .for_each(|(ci, (out, rows))| {
            let mut sc = LocalScratch::new(m, k);
            let mut unary = vec![0.0f32; rows.len() / dims * m * k];
            icm.unary(rows, &mut unary);
            for (i, (o, u)) in out
                .chunks_exact_mut(m)
                .zip(unary.chunks_exact(m * k))
                .enumerate()
            {
                let mut rng = rng.fork((ci * CHUNK + i) as u64);
                icm.search(u, o, ils, &mut rng, &mut sc);
            }
        });
}

/// LSQ++ training on the rows `x`: codes drawn at random, then `rounds` rounds of the
/// codebooks solved by least squares ([`solve_codebooks`]), noise added to them that shrinks
/// to nothing by the last round (per dimension, the rows' standard deviation times
/// `√(1 − (r+1)/rounds) / m`: "stochastic relaxation", LSQ++), and every row's codes improved
/// by `ils` rounds of local search; `m` codebooks of `k` codewords. Returns the codebooks that
/// fit the last codes best (solved once more, no noise on them).
pub(crate) fn train(
    x: &[f32],
    dims: usize,
    (m, k): (usize, usize),
    rounds: usize,
    ils: usize,
    rng: &Rng,
    progress: &dyn Fn(usize),
) -> Option<Vec<Codebook>> {
    let n = x.len() / dims;
    let mut start = rng.fork(0);
    let mut codes: Vec<u8> = (0..n * m).map(|_| start.below(k as u64) as u8).collect();
    let mut mean = vec![0.0f64; dims];
    for r in x.chunks_exact(dims) {
        mean.iter_mut().zip(r).for_each(|(a, v)| *a += *v as f64);
    }
    mean.iter_mut().for_each(|a| *a /= n.max(1) as f64);
    let mut var = vec![0.0f64; dims];
    for r in x.chunks_exact(dims) {
        for ((s, v), mu) in var.iter_mut().zip(r).zip(&mean) {
            *s += (*v as f64 - mu).powi(2);
        }
    }
    let stddev: Vec<f32> = var
        .iter()
        .map(|s| (s / n.max(1) as f64).sqrt() as f32)
        .collect();
    for round in 0..rounds {
        let mut b = solve_codebooks(x, dims, &codes, m, k)?;
        if round + 1 < rounds {
            let t = (1.0 - (round as f32 + 1.0) / rounds as f32).sqrt() / m as f32;
            let mut noise = rng.fork(1 + 2 * round as u64);
            b = b
                .into_iter()
                .map(|book| {
                    let mut c = book.centroids;
                    for w in c.chunks_exact_mut(dims) {
                        for (v, s) in w.iter_mut().zip(&stddev) {
                            *v += noise.normal() * s * t;
                        }
                    }
                    Codebook::new(dims, k, c)
                })
                .collect();
        }
        search_rows(
            x,
            dims,
            &b,
            &mut codes,
            ils,
            &rng.fork(2 + 2 * round as u64),
        );
        progress(round + 1);
    }
    // The codebooks that fit the final codes best.
    solve_codebooks(x, dims, &codes, m, k)
}

/// The codebooks minimising `Σ ‖x − Σ_j C_j[c_j]‖² + λ‖C‖²` for fixed `codes` of the rows
/// `x`: the normal equations `(BᵀB + λI) C = BᵀX` in f64, solved by Cholesky (faer). Returns
/// `None` if the factorisation fails or a codeword comes out non-finite (neither happens for
/// λ > 0 and finite rows; the caller reports it as an error).
pub(crate) fn solve_codebooks(
    x: &[f32],
    dims: usize,
    codes: &[u8],
    m: usize,
    k: usize,
) -> Option<Vec<Codebook>> {
    use faer::linalg::solvers::Solve;
    let mk = m * k;
    // BᵀB is symmetric, so each count goes to `(q, p)`: down one column of faer's
    // column-major matrix. A codeword's sums `BᵀX` are accumulated in a row-major buffer
    // (contiguous, where faer's layout would stride by `m·K`), then copied.
    let mut btb = faer::Mat::<f64>::zeros(mk, mk);
    let mut sums = vec![0.0f64; mk * dims];
    for (r, c) in x.chunks_exact(dims).zip(codes.chunks_exact(m)) {
        for (j, &a) in c.iter().enumerate() {
            let p = j * k + a as usize;
            for (l, &b) in c.iter().enumerate() {
                btb[(l * k + b as usize, p)] += 1.0;
            }
            let acc = &mut sums[p * dims..(p + 1) * dims];
            acc.iter_mut().zip(r).for_each(|(s, &v)| *s += v as f64);
        }
    }
    for p in 0..mk {
        btb[(p, p)] += LAMBDA;
    }
    let btx = faer::Mat::<f64>::from_fn(mk, dims, |p, t| sums[p * dims + t]);
    drop(sums);
    let llt = btb.llt(faer::Side::Lower).ok()?;
    let sol = llt.solve(&btx);
    let books = (0..m)
        .map(|j| {
            let cents = (0..k * dims)
                .map(|i| sol[(j * k + i / dims, i % dims)] as f32)
                .collect::<Vec<f32>>();
            Codebook::new(dims, k, cents)
        })
        .collect::<Vec<_>>();
    books
        .iter()
        .all(|b| b.centroids.iter().all(|v| v.is_finite()))
        .then_some(books)
}

/// Squared error `Σ ‖x − x̂‖²` of `codes` (f64 sum, row order).
#[cfg(test)]
fn total_error(x: &[f32], dims: usize, books: &[Codebook], codes: &[u8]) -> f64 {
    let m = books.len();
    let mut recon = vec![0.0f32; dims];
    let mut total = 0.0f64;
    for (r, c) in x.chunks_exact(dims).zip(codes.chunks_exact(m)) {
        recon.iter_mut().for_each(|v| *v = 0.0);
        for (book, &a) in books.iter().zip(c) {
            let w = &book.centroids[a as usize * dims..][..dims];
            recon.iter_mut().zip(w).for_each(|(v, w)| *v += w);
        }
        total += r
            .iter()
            .zip(&recon)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_books(m: usize, k: usize, d: usize, seed: u64) -> Vec<Codebook> {
        let mut rng = Rng::new(seed);
        (0..m)
            .map(|j| {
                let scale = 1.0 / (j + 1) as f32;
                Codebook::new(d, k, (0..k * d).map(|_| rng.normal() * scale).collect())
            })
            .collect()
    }

    fn decode(books: &[Codebook], codes: &[u8]) -> Vec<f32> {
        let d = books[0].d;
        let mut out = vec![0.0f32; d];
        for (b, &c) in books.iter().zip(codes) {
            out.iter_mut()
                .zip(&b.centroids[c as usize * d..][..d])
                .for_each(|(o, w)| *o += w);
        }
        out
    }

    fn sq_err(x: &[f32], books: &[Codebook], codes: &[u8]) -> f32 {
        x.iter()
            .zip(decode(books, codes))
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    }

    /// The unary terms of one row.
    fn unary_of(icm: &Icm, x: &[f32]) -> Vec<f32> {
        let mut u = vec![0.0; icm.m * icm.k];
        icm.unary(x, &mut u);
        u
    }

    #[test]
    fn the_field_gives_the_error_of_every_single_code_change() {
        let (m, k, d) = (4, 8, 6);
        let books = random_books(m, k, d, 1);
        let icm = Icm::new(&books);
        let x: Vec<f32> = (0..d).map(|t| t as f32 * 0.3 - 0.7).collect();
        let codes = [3u8, 0, 7, 5];
        let unary = unary_of(&icm, &x);
        let mut field = unary.clone();
        for (j, &c) in codes.iter().enumerate() {
            icm.apply(&mut field, j, c as usize, 1.0);
        }
        let xx: f32 = x.iter().map(|v| v * v).sum();
        let e = xx + icm.energy(&unary, &field, &codes);
        assert!((e - sq_err(&x, &books, &codes)).abs() < 1e-3);
        // The field of stage j at value a is the error with c_j = a, up to terms without c_j.
        for j in 0..m {
            for a in 0..k {
                let mut c2 = codes;
                c2[j] = a as u8;
                let want = sq_err(&x, &books, &c2) - sq_err(&x, &books, &codes);
                let got = field[j * k + a] - field[j * k + codes[j] as usize];
                assert!(
                    (want - got).abs() < 1e-3,
                    "stage {j} value {a}: {want} vs {got}"
                );
            }
        }
    }

    #[test]
    fn local_search_never_worsens_a_row_and_finds_the_optimum_of_a_small_problem() {
        let (m, k, d) = (3, 4, 5);
        let books = random_books(m, k, d, 7);
        let icm = Icm::new(&books);
        let mut rng = Rng::new(3);
        let mut sc = LocalScratch::new(m, k);
        let mut found = 0;
        for row in 0..40 {
            let x: Vec<f32> = (0..d).map(|_| rng.normal()).collect();
            let start = [(row % k) as u8, ((row / k) % k) as u8, 1];
            let mut codes = start;
            let xx: f32 = x.iter().map(|v| v * v).sum();
            let e = xx + icm.search(&unary_of(&icm, &x), &mut codes, 30, &mut rng, &mut sc);
            assert!((e - sq_err(&x, &books, &codes)).abs() < 1e-3);
            assert!(e <= sq_err(&x, &books, &start) + 1e-4);
            // Exhaustive optimum over all k^m codes.
            let mut best = f32::INFINITY;
            for a in 0..k * k * k {
                let c = [(a % k) as u8, ((a / k) % k) as u8, (a / (k * k)) as u8];
                best = best.min(sq_err(&x, &books, &c));
            }
            if e <= best + 1e-4 {
                found += 1;
            }
        }
        // 30 rounds of perturbation over 64 encodings find the optimum almost always.
        assert!(found >= 38, "optimum found for {found} of 40 rows");
    }

    #[test]
    fn rows_searched_in_parallel_equal_rows_searched_one_by_one_and_never_worsen() {
        let (m, k, d, n) = (3, 16, 7, 700);
        let books = random_books(m, k, d, 5);
        let mut rng = Rng::new(9);
        let x: Vec<f32> = (0..n * d).map(|_| rng.normal()).collect();
        let start: Vec<u8> = (0..n * m).map(|_| rng.below(k as u64) as u8).collect();
        let mut par = start.clone();
        let root = Rng::new(4);
        search_rows(&x, d, &books, &mut par, 3, &root);
        let icm = Icm::new(&books);
        let mut sc = LocalScratch::new(m, k);
        for i in 0..n {
            let r = &x[i * d..(i + 1) * d];
            let mut c = start[i * m..(i + 1) * m].to_vec();
            icm.search(
                &unary_of(&icm, r),
                &mut c,
                3,
                &mut root.fork(i as u64),
                &mut sc,
            );
            assert_eq!(&c[..], &par[i * m..(i + 1) * m], "row {i}");
            assert!(sq_err(r, &books, &c) <= sq_err(r, &books, &start[i * m..(i + 1) * m]) + 1e-4);
        }
    }

    #[test]
    fn lsq_training_beats_random_codebooks_and_improves_with_rounds() {
        // Rows with structure in every direction: sums of two clustered parts.
        let (m, k, d, n) = (2, 16, 8, 2000);
        let mut rng = Rng::new(21);
        let parts: Vec<Vec<f32>> = (0..8)
            .map(|_| (0..d).map(|_| rng.normal()).collect())
            .collect();
        let x: Vec<f32> = (0..n)
            .flat_map(|_| {
                let (a, b) = (rng.below(8) as usize, rng.below(8) as usize);
                (0..d)
                    .map(|t| parts[a][t] + 0.5 * parts[b][t] + 0.05 * rng.normal())
                    .collect::<Vec<_>>()
            })
            .collect();
        let err = |rounds: usize| {
            let books = train(&x, d, (m, k), rounds, 4, &Rng::new(1), &|_| {}).unwrap();
            let mut codes = vec![0u8; n * m];
            search_rows(&x, d, &books, &mut codes, 8, &Rng::new(2));
            total_error(&x, d, &books, &codes) / x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>()
        };
        let (one, ten) = (err(1), err(10));
        assert!(ten < one, "10 rounds {ten} vs 1 round {one}");
        // 64 = 8 × 8 combinations fit in 16 + 16 codewords: nearly exact.
        assert!(ten < 0.05, "relative error {ten}");
    }

    #[test]
    fn solved_codebooks_are_the_least_squares_optimum_for_the_codes() {
        let (m, k, d, n) = (2, 4, 3, 200);
        let mut rng = Rng::new(11);
        let x: Vec<f32> = (0..n * d).map(|_| rng.normal()).collect();
        let codes: Vec<u8> = (0..n * m).map(|_| rng.below(k as u64) as u8).collect();
        let books = solve_codebooks(&x, d, &codes, m, k).unwrap();
        let e0 = total_error(&x, d, &books, &codes);
        // Any small move of any codeword raises the (nearly unregularised) error.
        for j in 0..m {
            for i in 0..k * d {
                for delta in [-1e-2f32, 1e-2] {
                    let mut b2 = books.clone();
                    b2[j].centroids[i] += delta;
                    let b2: Vec<Codebook> = b2
                        .into_iter()
                        .map(|b| Codebook::new(d, k, b.centroids))
                        .collect();
                    assert!(total_error(&x, d, &b2, &codes) > e0 - 1e-6);
                }
            }
        }
    }
}
