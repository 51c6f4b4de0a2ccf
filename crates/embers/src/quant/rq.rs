//! Training residual quantizers (additive codes): `m` stages of `2^bits` full-length codewords;
//! stage `j`'s codebook is trained by k-means on what the first `j` stages leave over, and rows
//! are encoded by beam search (the `beam` best partial encodings of a row kept at every stage,
//! as in Babenko and Lempitsky's additive quantization and faiss's `ResidualQuantizer`).
//! Optionally the codebooks are then refined for the final codes: each pass re-encodes the
//! training sample and sets every codebook, one stage at a time, to the least-squares optimum
//! given the other stages (block coordinate descent on `Σ ‖x − Σ_j C_j[c_j]‖²`).

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kmeans::{kmeans, Codebook};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn};
use crate::rng::Rng;
use crate::storage::{check_rq_settings, DenseMatrix, RqMatrix};

/// Settings of residual quantization, stored in the native file's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RqConfig {
    /// Number of stages `m` (code bytes per row).
    pub subquantizers: usize,
    /// Bits per code: codebooks have `2^bits` codewords (1..=8).
    pub bits: u32,
    /// Partial encodings kept per row at every stage (1: greedy).
    pub beam: usize,
    /// Rows sampled to train the codebooks (at least `2^bits`; capped at the row count).
    pub sample: usize,
    /// Most Lloyd iterations per stage's k-means.
    pub iterations: usize,
    /// Codebook refinement passes after the stages are trained (0: none).
    pub refine: usize,
    /// Seed of the sample and of k-means++.
    pub seed: u64,
}

impl RqConfig {
    /// Default beam width (faiss's `max_beam_size` is 5 too).
    pub const DEFAULT_BEAM: usize = 5;
    /// Default refinement passes.
    pub const DEFAULT_REFINE: usize = 2;
    /// Block coordinate-descent sweeps over the stages in one refinement pass.
    const REFINE_SWEEPS: usize = 4;

    /// Defaults for `dims`: as many stages as PQ's default subquantizers (the same bytes a
    /// row), 8 bits, beam 5, 65,536 training rows, 25 iterations, 2 refinement passes, seed 42.
    pub fn for_dims(dims: usize) -> Self {
        let pq = super::PqConfig::for_dims(dims);
        RqConfig {
            subquantizers: pq.subquantizers,
            bits: 8,
            beam: Self::DEFAULT_BEAM,
            sample: pq.sample,
            iterations: pq.iterations,
            refine: Self::DEFAULT_REFINE,
            seed: pq.seed,
        }
    }
}

/// Checks the settings against a matrix of `rows × dims` before any work is done.
pub fn check_config(rows: usize, dims: usize, cfg: &RqConfig) -> Result<()> {
    check_rq_settings(cfg.subquantizers, cfg.bits)?;
    if dims == 0 {
        return Err(Error::invalid("dims", "cannot quantize 0-dimensional rows"));
    }
    crate::size::check_range("beam", cfg.beam, 1, 256)?;
    crate::size::check_range("refine", cfg.refine, 0, 100)?;
    super::pq::check_training(rows, cfg.sample, cfg.bits, cfg.iterations, "codewords")?;
    Ok(())
}

/// Trains the codebooks on a sample of `matrix` and encodes every row by beam search.
/// Deterministic for a seed, independent of the thread count.
pub fn train(matrix: &DenseMatrix, cfg: &RqConfig, progress: &ProgressFn) -> Result<RqMatrix> {
    let (rows, dims) = (matrix.rows(), matrix.dims());
    check_config(rows, dims, cfg)?;
    if let Some(p) = matrix.as_slice().iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "embeddings",
            format!(
                "row {} has a non-finite value at dimension {}",
                p / dims,
                p % dims
            ),
        ));
    }
    let (m, ksub) = (cfg.subquantizers, 1usize << cfg.bits);
    let root = Rng::new(cfg.seed);
    let sample = super::pq::sample_rows(rows, cfg.sample, &mut root.fork(0));
    let mut x = crate::size::with_capacity("rq training sample", sample.len() * dims)?;
    for &i in &sample {
        x.extend_from_slice(matrix.row(i));
    }

    // Stage by stage: k-means on the residuals of each training row's best partial encoding,
    // then one beam-search step of every training row with the new codebook.
    let mut books: Vec<Codebook> = Vec::with_capacity(m);
    let mut beams: Vec<Beam> = x.chunks_exact(dims).map(Beam::start).collect();
    for s in 0..m {
        let residuals: Vec<f32> = beams
            .iter()
            .flat_map(|b| b.best_residual(dims).iter().copied())
            .collect();
        let book = kmeans(
            &residuals,
            dims,
            ksub,
            cfg.iterations,
            &mut root.fork(s as u64 + 1),
        );
        drop(residuals);
        beams.par_iter_mut().for_each_init(
            || vec![0.0f32; cfg.beam * ksub],
            |dist, b| b.step(&book, cfg.beam, dims, dist),
        );
        books.push(book);
        progress(&Progress::new(
            "train",
            s as u64 + 1,
            Some(m as u64),
            "stages",
        ));
    }
    let mut codes: Vec<u8> = beams.iter().flat_map(|b| b.best_codes(m)).collect();
    drop(beams);

    for pass in 0..cfg.refine {
        refine_codebooks(&x, dims, &codes, &mut books, RqConfig::REFINE_SWEEPS);
        codes = encode_rows(&x, dims, &books, cfg.beam);
        progress(&Progress::new(
            "refine",
            pass as u64 + 1,
            Some(cfg.refine as u64),
            "passes",
        ));
    }
    drop(codes);
    drop(x);

    let codes = encode(matrix, &books, cfg.beam, progress);
    let mut codebooks = crate::size::with_capacity("rq codebooks", m * ksub * dims)?;
    for b in &books {
        codebooks.extend_from_slice(&b.centroids);
    }
    RqMatrix::new(rows, dims, m, cfg.bits, codes, codebooks)
}

/// The partial encodings of one row kept by beam search: up to `beam` of them, each with its
/// codes so far, its residual and its squared error, best first.
struct Beam {
    /// Codes of each kept encoding, `stage` a piece.
    codes: Vec<u8>,
    /// Residual of each kept encoding, `dims` a piece.
    residuals: Vec<f32>,
    /// Squared norm of each residual.
    errors: Vec<f32>,
    /// Stages encoded so far.
    stage: usize,
}

impl Beam {
    /// The empty encoding of row `x`: residual `x`.
    fn start(x: &[f32]) -> Self {
        Beam {
            codes: Vec::new(),
            residuals: x.to_vec(),
            errors: vec![x.iter().map(|v| v * v).sum()],
            stage: 0,
        }
    }

    fn best_residual(&self, dims: usize) -> &[f32] {
        &self.residuals[..dims]
    }

    fn best_codes(&self, m: usize) -> impl Iterator<Item = u8> + '_ {
        self.codes[..m].iter().copied()
    }

    /// One stage of beam search with `book`: every kept encoding extended by every codeword,
    /// the `beam` extensions of least squared error kept (ties: earlier encoding, then lower
    /// codeword). `dist` holds `beam × book.k` values.
    fn step(&mut self, book: &Codebook, beam: usize, dims: usize, dist: &mut [f32]) {
        let (k, kept) = (book.k, self.errors.len());
        for (b, r) in self.residuals.chunks_exact(dims).enumerate() {
            book.distances(r, &mut dist[b * k..(b + 1) * k]);
        }
        let best = smallest(&dist[..kept * k], beam);
        let stage = self.stage;
        let mut codes = Vec::with_capacity(best.len() * (stage + 1));
        let mut residuals = Vec::with_capacity(best.len() * dims);
        let mut errors = Vec::with_capacity(best.len());
        for &(e, at) in &best {
            let (b, c) = (at / k, at % k);
            codes.extend_from_slice(&self.codes[b * stage..(b + 1) * stage]);
            codes.push(c as u8);
            let w = &book.centroids[c * dims..(c + 1) * dims];
            residuals.extend(
                self.residuals[b * dims..(b + 1) * dims]
                    .iter()
                    .zip(w)
                    .map(|(r, w)| r - w),
            );
            errors.push(e);
        }
        self.codes = codes;
        self.residuals = residuals;
        self.errors = errors;
        self.stage += 1;
    }
}

/// The `n` smallest values of `v` with their indices, in increasing order (ties: lower index
/// first; NaN never chosen before a number).
fn smallest(v: &[f32], n: usize) -> Vec<(f32, usize)> {
    let mut best: Vec<(f32, usize)> = Vec::with_capacity(n + 1);
    for (i, &e) in v.iter().enumerate() {
        if best.len() == n && e.partial_cmp(&best[n - 1].0) != Some(std::cmp::Ordering::Less) {
            continue;
        }
        // After every kept value ≤ e: equal values keep their index order.
        let at = best.partition_point(|&(b, _)| b <= e || e.is_nan());
        best.insert(at, (e, i));
        best.truncate(n);
    }
    best
}

/// The codes of one row `x` by beam search over `books` with `beam` encodings kept (and its
/// squared error). `dist` holds `beam × 2^bits` values.
pub(crate) fn encode_row(
    x: &[f32],
    books: &[Codebook],
    beam: usize,
    out: &mut [u8],
    dist: &mut [f32],
) -> f32 {
    let dims = x.len();
    let mut b = Beam::start(x);
    for book in books {
        b.step(book, beam, dims, dist);
    }
    out.copy_from_slice(&b.codes[..books.len()]);
    b.errors[0]
}

/// The codes of every row of `x` (rows of `dims` values), on all cores.
fn encode_rows(x: &[f32], dims: usize, books: &[Codebook], beam: usize) -> Vec<u8> {
    let m = books.len();
    let mut codes = vec![0u8; x.len() / dims * m];
    codes
        .par_chunks_mut(256 * m)
        .zip(x.par_chunks(256 * dims))
        .for_each(|(out, rows)| {
            let mut dist = vec![0.0f32; beam * books[0].k];
            for (o, r) in out.chunks_exact_mut(m).zip(rows.chunks_exact(dims)) {
                encode_row(r, books, beam, o, &mut dist);
            }
        });
    codes
}

/// The codes of every row of `matrix`, with progress.
fn encode(matrix: &DenseMatrix, books: &[Codebook], beam: usize, progress: &ProgressFn) -> Vec<u8> {
    let (rows, dims, m) = (matrix.rows(), matrix.dims(), books.len());
    let mut codes = vec![0u8; rows * m];
    let done = AtomicU64::new(0);
    const CHUNK: usize = 1024;
    codes
        .par_chunks_mut(CHUNK * m)
        .zip(matrix.as_slice().par_chunks(CHUNK * dims))
        .for_each(|(out, x)| {
            let mut dist = vec![0.0f32; beam * books[0].k];
            for (o, r) in out.chunks_exact_mut(m).zip(x.chunks_exact(dims)) {
                encode_row(r, books, beam, o, &mut dist);
            }
            let n = (out.len() / m) as u64;
            let total = done.fetch_add(n, Ordering::Relaxed) + n;
            progress(&Progress::new("encode", total, Some(rows as u64), "rows"));
        });
    codes
}

/// Least-squares refinement of the codebooks for fixed `codes` of the rows `x`: `sweeps`
/// rounds over the stages, each setting every codeword of stage `j` to the mean of
/// `x − Σ_{j'≠j} C_j'[c_j']` over the rows that use it (the exact minimiser for that stage
/// given the others, so the error never grows); unused codewords stay as they are. Sums in
/// f64, in row order.
fn refine_codebooks(x: &[f32], dims: usize, codes: &[u8], books: &mut [Codebook], sweeps: usize) {
    let m = books.len();
    let k = books[0].k;
    let n = x.len() / dims;
    // The current reconstruction of every row.
    let mut recon = vec![0.0f32; x.len()];
    for (r, c) in recon.chunks_exact_mut(dims).zip(codes.chunks_exact(m)) {
        for (j, book) in books.iter().enumerate() {
            let w = &book.centroids[c[j] as usize * dims..][..dims];
            r.iter_mut().zip(w).for_each(|(a, b)| *a += b);
        }
    }
    for _ in 0..sweeps {
        for j in 0..m {
            let mut sums = vec![0.0f64; k * dims];
            let mut counts = vec![0usize; k];
            for i in 0..n {
                let c = codes[i * m + j] as usize;
                let w = &books[j].centroids[c * dims..(c + 1) * dims];
                counts[c] += 1;
                let s = &mut sums[c * dims..(c + 1) * dims];
                for t in 0..dims {
                    let target = x[i * dims + t] - recon[i * dims + t] + w[t];
                    s[t] += target as f64;
                }
            }
            let old = books[j].centroids.clone();
            let mut new = old.clone();
            for c in 0..k {
                if counts[c] > 0 {
                    for t in 0..dims {
                        new[c * dims + t] = (sums[c * dims + t] / counts[c] as f64) as f32;
                    }
                }
            }
            for i in 0..n {
                let c = codes[i * m + j] as usize;
                for t in 0..dims {
                    recon[i * dims + t] += new[c * dims + t] - old[c * dims + t];
                }
            }
            books[j] = Codebook::new(dims, k, new);
        }
    }
}

/// The codebooks of a trained matrix, for re-encoding (tests).
#[cfg(test)]
fn books_of(rq: &RqMatrix) -> Vec<Codebook> {
    let (k, d) = (rq.ksub(), rq.dims());
    rq.codebooks()
        .chunks_exact(k * d)
        .map(|c| Codebook::new(d, k, c.to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::silent;

    /// Rows whose variance is concentrated in a few latent directions, mixed into all
    /// dimensions: strongly correlated dimensions (as real embeddings have).
    fn correlated(rows: usize, dims: usize, seed: u64) -> DenseMatrix {
        let mut rng = Rng::new(seed);
        let g: Vec<f64> = (0..dims * dims).map(|_| rng.normal() as f64).collect();
        let q = super::super::linalg::procrustes(&g, dims);
        let mut data = Vec::with_capacity(rows * dims);
        for _ in 0..rows {
            let z: Vec<f64> = (0..dims)
                .map(|k| rng.normal() as f64 * 0.8f64.powi(k as i32))
                .collect();
            data.extend(
                (0..dims).map(|j| (0..dims).map(|k| z[k] * q[k * dims + j]).sum::<f64>() as f32),
            );
        }
        DenseMatrix::new(rows, dims, data).unwrap()
    }

    fn cfg(m: usize, bits: u32, beam: usize, refine: usize) -> RqConfig {
        RqConfig {
            subquantizers: m,
            bits,
            beam,
            sample: 2000,
            iterations: 15,
            refine,
            seed: 3,
        }
    }

    /// Σ ‖x − x̂‖² / Σ ‖x‖² in f64, x̂ decoded by the matrix.
    fn relative_error(x: &DenseMatrix, rq: &RqMatrix) -> f64 {
        let (mut err, mut tot) = (0.0f64, 0.0f64);
        let mut row = vec![0.0f32; x.dims()];
        for i in 0..x.rows() {
            rq.row_into(i, &mut row);
            for (a, b) in x.row(i).iter().zip(&row) {
                err += (*a as f64 - *b as f64).powi(2);
                tot += (*a as f64).powi(2);
            }
        }
        err / tot
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn decoding_is_the_sum_of_codewords_and_scores_are_dots_with_decoded_rows() {
        let x = correlated(1500, 20, 1);
        let rq = train(&x, &cfg(4, 6, 3, 1), &silent).unwrap();
        assert_eq!(
            (rq.rows(), rq.dims(), rq.stages(), rq.ksub()),
            (1500, 20, 4, 64)
        );
        let mut rng = Rng::new(9);
        let q: Vec<f32> = (0..20).map(|_| rng.normal()).collect();
        let mut scores = vec![0.0f32; 1500];
        rq.dot_all(&q, &mut scores);
        let mut row = vec![0.0f32; 20];
        for i in (0..1500).step_by(7) {
            rq.row_into(i, &mut row);
            // Oracle in f64: Σ_j C_j[c_j], from the codebook tensor as laid out.
            let c = &rq.codes()[i * 4..(i + 1) * 4];
            for t in 0..20 {
                let want: f64 = (0..4)
                    .map(|j| rq.codebooks()[(j * 64 + c[j] as usize) * 20 + t] as f64)
                    .sum();
                assert!((row[t] as f64 - want).abs() < 1e-5, "row {i} dim {t}");
            }
            let dot: f64 = row.iter().zip(&q).map(|(a, b)| *a as f64 * *b as f64).sum();
            let l1: f64 = row.iter().map(|v| v.abs() as f64).sum();
            assert!(
                (scores[i] as f64 - dot).abs() <= 1e-5 * (1.0 + l1),
                "row {i}: {} vs {dot}",
                scores[i]
            );
        }
        // Blocked scores (16 queries side by side) equal single-query scores bit for bit.
        let qs: Vec<f32> = (0..3 * 20).map(|_| rng.normal()).collect();
        let tables = rq.lookup_tables(&qs, 3);
        let mut block = vec![0.0f32; 100 * 3];
        rq.adc_block(&tables, 3, 200, 300, &mut block);
        for qi in 0..3 {
            let mut single = vec![0.0f32; 1500];
            rq.dot_all(&qs[qi * 20..(qi + 1) * 20], &mut single);
            for r in 0..100 {
                assert_eq!(block[r * 3 + qi].to_bits(), single[200 + r].to_bits());
            }
        }
        // Norms: those of the decoded rows.
        let norms = rq.row_norms();
        for i in (0..1500).step_by(11) {
            rq.row_into(i, &mut row);
            let want = row.iter().map(|v| (*v as f64).powi(2)).sum::<f64>().sqrt();
            assert!((norms[i] as f64 - want).abs() <= 1e-5 * want.max(1.0));
        }
    }

    #[test]
    fn wider_beams_never_encode_worse_than_greedy_on_the_same_codebooks() {
        let x = correlated(2000, 16, 2);
        let rq = train(&x, &cfg(6, 5, 1, 0), &silent).unwrap();
        let books = books_of(&rq);
        let total = |beam: usize| -> f64 {
            let mut code = vec![0u8; 6];
            let mut dist = vec![0.0f32; beam * 32];
            x.as_slice()
                .chunks_exact(16)
                .map(|r| encode_row(r, &books, beam, &mut code, &mut dist) as f64)
                .sum()
        };
        let greedy = total(1);
        let mut last = greedy;
        for beam in [2, 4, 8, 16] {
            let t = total(beam);
            assert!(t <= greedy, "beam {beam}: {t} > greedy {greedy}");
            last = last.min(t);
        }
        // And wider beams help measurably here.
        assert!(last < 0.97 * greedy, "{last} vs {greedy}");
        // The error returned is the decoded row's.
        let mut code = vec![0u8; 6];
        let mut dist = vec![0.0f32; 4 * 32];
        let e = encode_row(x.row(5), &books, 4, &mut code, &mut dist) as f64;
        let mut want = 0.0f64;
        for t in 0..16 {
            let s: f64 = (0..6)
                .map(|j| books[j].centroids[code[j] as usize * 16 + t] as f64)
                .sum();
            want += (x.row(5)[t] as f64 - s).powi(2);
        }
        assert!((e - want).abs() <= 1e-4 * (1.0 + want), "{e} vs {want}");
    }

    #[test]
    fn rq_beats_pq_at_equal_bytes_on_correlated_data_and_refinement_helps() {
        let x = correlated(3000, 24, 4);
        let pq = super::super::pq::train(
            &x,
            &super::super::PqConfig {
                subquantizers: 4,
                bits: 6,
                sample: 2000,
                iterations: 15,
                seed: 3,
                rotation: None,
            },
            &silent,
        )
        .unwrap();
        let mut e_pq = 0.0f64;
        let (mut tot, mut row) = (0.0f64, vec![0.0f32; 24]);
        for i in 0..3000 {
            pq.row_into(i, &mut row);
            for (a, b) in x.row(i).iter().zip(&row) {
                e_pq += (*a as f64 - *b as f64).powi(2);
                tot += (*a as f64).powi(2);
            }
        }
        e_pq /= tot;
        let plain = relative_error(&x, &train(&x, &cfg(4, 6, 1, 0), &silent).unwrap());
        let beam = relative_error(&x, &train(&x, &cfg(4, 6, 5, 0), &silent).unwrap());
        let refined = relative_error(&x, &train(&x, &cfg(4, 6, 5, 2), &silent).unwrap());
        assert!(refined < 0.9 * e_pq, "RQ {refined} vs PQ {e_pq}");
        assert!(beam <= plain, "beam {beam} vs greedy {plain}");
        assert!(refined <= beam, "refined {refined} vs {beam}");
        // Deterministic for a seed.
        let a = train(&x, &cfg(3, 4, 3, 1), &silent).unwrap();
        let b = train(&x, &cfg(3, 4, 3, 1), &silent).unwrap();
        assert_eq!(a.codes(), b.codes());
        assert_eq!(a.codebooks(), b.codebooks());
    }

    #[test]
    fn bad_settings_are_refused() {
        let x = correlated(300, 8, 5);
        let bad = [
            (cfg(0, 8, 5, 0), "subquantizers"),
            (cfg(2, 9, 5, 0), "1..=8"),
            (cfg(2, 8, 0, 0), "beam"),
            (
                RqConfig {
                    sample: 100,
                    ..cfg(2, 8, 5, 0)
                },
                "cannot train",
            ),
            (
                RqConfig {
                    iterations: 0,
                    ..cfg(2, 4, 5, 0)
                },
                "iterations",
            ),
        ];
        for (c, want) in bad {
            let e = train(&x, &c, &silent).unwrap_err().to_string();
            assert!(e.contains(want), "{c:?}: {e}");
        }
        let small = correlated(200, 8, 5);
        let e = train(&small, &cfg(2, 8, 5, 0), &silent)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer bits"), "{e}");
        assert!(train(&small, &cfg(2, 4, 5, 1), &silent).is_ok());
    }

    #[test]
    fn smallest_keeps_order_and_ties_by_index() {
        let v = [3.0, 1.0, 2.0, 1.0, f32::NAN, 0.5];
        assert_eq!(smallest(&v, 3), vec![(0.5, 5), (1.0, 1), (1.0, 3)]);
        assert_eq!(smallest(&v, 1), vec![(0.5, 5)]);
        assert_eq!(smallest(&[2.0], 4), vec![(2.0, 0)]);
    }
}
