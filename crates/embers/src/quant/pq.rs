//! Training product quantizers: a seeded sample of rows, one k-means codebook per subspace
//! (trained in parallel), then every row encoded as its nearest centroid in each subspace.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kmeans::{kmeans, Codebook};
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn};
use crate::rng::Rng;
use crate::storage::{check_pq_settings, DenseMatrix, PqMatrix};

/// Settings of product quantization, stored in the native file's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PqConfig {
    /// Number of subquantizers `m` (code bytes per row); must divide the dims.
    pub subquantizers: usize,
    /// Bits per code: codebooks have `2^bits` centroids (1..=8).
    pub bits: u32,
    /// Rows sampled to train the codebooks (at least `2^bits`; capped at the row count).
    pub sample: usize,
    /// Most Lloyd iterations per codebook.
    pub iterations: usize,
    /// Seed of the sample and of k-means++.
    pub seed: u64,
}

impl PqConfig {
    /// Defaults for `dims`: the most subquantizers that keep at least 5 values each (a code of
    /// 1/20 of the f32 row), 8 bits, 65,536 training rows, 25 iterations, seed 42.
    pub fn for_dims(dims: usize) -> Self {
        let m = (1..=(dims / 5).max(1))
            .rev()
            .find(|m| dims % m == 0)
            .unwrap_or(1);
        PqConfig {
            subquantizers: m,
            bits: 8,
            sample: 65_536,
            iterations: 25,
            seed: 42,
        }
    }
}

/// Checks the settings against a matrix of `rows × dims` before any work is done.
pub fn check_config(rows: usize, dims: usize, cfg: &PqConfig) -> Result<()> {
    check_pq_settings(dims, cfg.subquantizers, cfg.bits)?;
    let ksub = 1usize << cfg.bits;
    if cfg.sample < ksub {
        return Err(Error::invalid(
            "sample",
            format!(
                "{} training rows cannot train 2^{} = {ksub} centroids",
                cfg.sample, cfg.bits
            ),
        ));
    }
    if rows < ksub {
        return Err(Error::invalid(
            "bits",
            format!(
                "the matrix has {rows} rows, fewer than the 2^{} = {ksub} centroids; use fewer bits",
                cfg.bits
            ),
        ));
    }
    if cfg.iterations == 0 {
        return Err(Error::invalid("iterations", "must be at least 1"));
    }
    Ok(())
}

/// `n` distinct row indices out of `rows`, chosen by a seeded partial Fisher–Yates shuffle and
/// returned in increasing order.
fn sample_rows(rows: usize, n: usize, rng: &mut Rng) -> Vec<usize> {
    if n >= rows {
        return (0..rows).collect();
    }
    let mut idx: Vec<u32> = (0..rows as u32).collect();
    for i in 0..n {
        let j = i + rng.below((rows - i) as u64) as usize;
        idx.swap(i, j);
    }
    let mut out: Vec<usize> = idx[..n].iter().map(|&i| i as usize).collect();
    out.sort_unstable();
    out
}

/// Trains codebooks on a sample of `matrix` and encodes every row. Deterministic for a seed.
pub fn train(matrix: &DenseMatrix, cfg: &PqConfig, progress: &ProgressFn) -> Result<PqMatrix> {
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
    let m = cfg.subquantizers;
    let dsub = dims / m;
    let ksub = 1usize << cfg.bits;
    let root = Rng::new(cfg.seed);
    let sample = sample_rows(rows, cfg.sample, &mut root.fork(0));

    let trained = AtomicU64::new(0);
    let books: Vec<Codebook> = (0..m)
        .into_par_iter()
        .map(|j| {
            let mut points = Vec::with_capacity(sample.len() * dsub);
            for &i in &sample {
                points.extend_from_slice(&matrix.row(i)[j * dsub..(j + 1) * dsub]);
            }
            let book = kmeans(
                &points,
                dsub,
                ksub,
                cfg.iterations,
                &mut root.fork(j as u64 + 1),
            );
            let done = trained.fetch_add(1, Ordering::Relaxed) + 1;
            progress(&Progress::new("train", done, Some(m as u64), "codebooks"));
            book
        })
        .collect();

    let codes = encode(matrix, &books, progress);
    let mut centroids = Vec::with_capacity(m * ksub * dsub);
    for b in &books {
        centroids.extend_from_slice(&b.centroids);
    }
    PqMatrix::new(rows, dims, m, cfg.bits, codes, centroids, None)
}

/// The code of every row: per subspace, the index of the nearest centroid.
fn encode(matrix: &DenseMatrix, books: &[Codebook], progress: &ProgressFn) -> Vec<u8> {
    let m = books.len();
    let dsub = matrix.dims() / m;
    let rows = matrix.rows();
    let mut codes = vec![0u8; rows * m];
    let done = AtomicU64::new(0);
    const CHUNK: usize = 4096;
    codes
        .par_chunks_mut(CHUNK * m)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut scratch = vec![0.0f32; books[0].k];
            for (r, code) in out.chunks_exact_mut(m).enumerate() {
                let row = matrix.row(chunk * CHUNK + r);
                for (j, (c, book)) in code.iter_mut().zip(books).enumerate() {
                    *c = book.nearest(&row[j * dsub..(j + 1) * dsub], &mut scratch).0 as u8;
                }
            }
            let n =
                done.fetch_add((out.len() / m) as u64, Ordering::Relaxed) + (out.len() / m) as u64;
            progress(&Progress::new("encode", n, Some(rows as u64), "rows"));
        });
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::silent;

    /// Rows drawn around 32 cluster centres with small noise.
    fn clustered(rows: usize, dims: usize, seed: u64) -> DenseMatrix {
        let mut rng = Rng::new(seed);
        let centres: Vec<Vec<f32>> = (0..32)
            .map(|_| (0..dims).map(|_| rng.normal()).collect())
            .collect();
        let mut data = Vec::with_capacity(rows * dims);
        for i in 0..rows {
            let c = &centres[(rng.below(32) as usize + i) % 32];
            data.extend(c.iter().map(|v| v + 0.05 * rng.normal()));
        }
        DenseMatrix::new(rows, dims, data).unwrap()
    }

    #[test]
    fn bad_settings_are_refused() {
        let m = clustered(300, 12, 1);
        let mut cfg = PqConfig::for_dims(12);
        assert_eq!(cfg.subquantizers, 2);
        cfg.subquantizers = 5;
        let e = train(&m, &cfg, &silent).unwrap_err().to_string();
        assert!(e.contains("does not divide"), "{e}");
        cfg.subquantizers = 3;
        cfg.bits = 9;
        assert!(train(&m, &cfg, &silent)
            .unwrap_err()
            .to_string()
            .contains("1..=8"));
        cfg.bits = 8;
        cfg.sample = 100;
        assert!(train(&m, &cfg, &silent)
            .unwrap_err()
            .to_string()
            .contains("cannot train"));
        cfg.sample = 1000;
        // 300 rows < 256? no: 300 ≥ 256 works; 200 rows do not.
        let small = clustered(200, 12, 1);
        assert!(train(&small, &cfg, &silent)
            .unwrap_err()
            .to_string()
            .contains("fewer bits"));
        cfg.bits = 4;
        assert!(train(&small, &cfg, &silent).is_ok());
    }

    #[test]
    fn codes_are_nearest_centroids_and_deterministic() {
        let m = clustered(2000, 16, 2);
        let cfg = PqConfig {
            subquantizers: 4,
            bits: 5,
            sample: 1000,
            iterations: 20,
            seed: 3,
        };
        let a = train(&m, &cfg, &silent).unwrap();
        let b = train(&m, &cfg, &silent).unwrap();
        assert_eq!(a.codes(), b.codes());
        assert_eq!(a.centroids(), b.centroids());
        let c = train(
            &m,
            &PqConfig {
                seed: 4,
                ..cfg.clone()
            },
            &silent,
        )
        .unwrap();
        assert_ne!(a.centroids(), c.centroids());
        // Oracle: each code is the arg-min over the codebook, recomputed in f64.
        let (dsub, ksub) = (a.dsub(), a.ksub());
        for i in (0..2000).step_by(37) {
            for j in 0..4 {
                let x = &m.row(i)[j * dsub..(j + 1) * dsub];
                let d2 = |c: usize| -> f64 {
                    let cen = &a.centroids()[(j * ksub + c) * dsub..][..dsub];
                    x.iter()
                        .zip(cen)
                        .map(|(p, q)| (*p as f64 - *q as f64).powi(2))
                        .sum()
                };
                let best = (0..ksub).map(d2).fold(f64::INFINITY, f64::min);
                let got = d2(a.codes()[i * 4 + j] as usize);
                assert!(got <= best + 1e-6, "row {i} sub {j}: {got} > {best}");
            }
        }
    }
}
