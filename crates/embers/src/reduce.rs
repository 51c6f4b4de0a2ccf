//! Fewer dimensions: principal component analysis (PCA) or plain truncation of the rows.
//!
//! [`Projection::fit`] learns the map from `d` to `D` dimensions; [`reduce`] applies it to every
//! row and returns a normal [`Embeddings`] whose metadata carries the projection (key
//! [`PROJECTION_KEY`]), so a query vector of the original space can be projected the same way
//! ([`Projection::from_embeddings`], [`Projection::project`]).
//!
//! PCA centres the rows on their mean, accumulates the covariance in f64 and takes its leading
//! eigenvectors (faer's self-adjoint eigendecomposition); the components are those of numpy's
//! `eigh(cov(X.T))` up to sign, and their signs are fixed so that each component's largest
//! entry is positive. The components of a smaller `D` are the leading rows of a larger one, so
//! one fit serves every dimension ([`Projection::leading`]). Truncation keeps the first `D`
//! coordinates, for models trained to front-load them (Matryoshka).

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par, Side};
use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::storage::DenseMatrix;

/// Metadata key under which a reduced model stores its projection (JSON).
pub const PROJECTION_KEY: &str = "projection";

/// How rows are reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Principal components of the centred rows.
    Pca,
    /// The first `D` coordinates as they are.
    Truncate,
}

impl Method {
    /// Parses `pca` or `truncate`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "pca" => Ok(Method::Pca),
            "truncate" => Ok(Method::Truncate),
            other => Err(Error::invalid(
                "method",
                format!("unknown method {other:?}: expected pca or truncate"),
            )),
        }
    }

    /// The name used on the command line and in metadata.
    pub fn name(self) -> &'static str {
        match self {
            Method::Pca => "pca",
            Method::Truncate => "truncate",
        }
    }
}

/// Settings of a fit.
#[derive(Debug, Clone)]
pub struct ReduceOptions {
    /// Output dimensions `D` (1 ..= input dimensions).
    pub dims: usize,
    pub method: Method,
    /// Fit PCA on this many rows drawn without replacement (seeded); `None` = all rows.
    pub sample: Option<usize>,
    pub seed: u64,
}

/// A learned map from `input_dims` to `dims` coordinates: `y = C (x - mean)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub method: Method,
    pub input_dims: usize,
    pub dims: usize,
    /// The centre subtracted first (`input_dims` values; empty for truncation).
    pub mean: Vec<f32>,
    /// `dims × input_dims`, row-major: one component a row (empty for truncation).
    pub components: Vec<f32>,
    /// Variance along each component, largest first (`dims` values; sample variance with
    /// `n - 1` as numpy's `cov`); empty for truncation.
    pub explained_variance: Vec<f64>,
    /// Total variance of the fitted rows (the trace of the covariance); 0 for truncation.
    pub total_variance: f64,
    /// Rows the fit used.
    pub fitted_rows: usize,
}

/// Rows converted to f64 and centred a block at a time while the covariance accumulates.
const BLOCK_ROWS: usize = 2048;

impl Projection {
    /// Learns the projection of `matrix` to `opts.dims` coordinates.
    pub fn fit(matrix: &DenseMatrix, opts: &ReduceOptions) -> Result<Projection> {
        let (rows, d) = (matrix.rows(), matrix.dims());
        if opts.dims == 0 || opts.dims > d {
            return Err(Error::invalid(
                "dims",
                format!(
                    "must be between 1 and the input's {d} dimensions, got {}",
                    opts.dims
                ),
            ));
        }
        if opts.method == Method::Truncate {
            return Ok(Projection {
                method: Method::Truncate,
                input_dims: d,
                dims: opts.dims,
                mean: Vec::new(),
                components: Vec::new(),
                explained_variance: Vec::new(),
                total_variance: 0.0,
                fitted_rows: rows,
            });
        }
        let ids = sample_rows(rows, opts.sample, opts.seed);
        let n = ids.as_ref().map_or(rows, Vec::len);
        if n < 2 {
            return Err(Error::invalid(
                "sample",
                format!("PCA needs at least 2 rows, have {n}"),
            ));
        }
        let row = |i: usize| matrix.row(ids.as_ref().map_or(i, |v| v[i]));
        // Mean in f64, in parallel over blocks of rows.
        let mut mean = (0..n.div_ceil(BLOCK_ROWS))
            .into_par_iter()
            .map(|b| {
                let mut s = vec![0f64; d];
                for i in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n) {
                    for (a, &x) in s.iter_mut().zip(row(i)) {
                        *a += x as f64;
                    }
                }
                s
            })
            .reduce(
                || vec![0f64; d],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        mean.iter_mut().for_each(|m| *m /= n as f64);
        // Covariance: the sum over blocks of Xcᵀ Xc, each block centred in f64.
        let mut cov = Mat::<f64>::zeros(d, d);
        let mut block = vec![0f64; BLOCK_ROWS * d];
        for b in 0..n.div_ceil(BLOCK_ROWS) {
            let (lo, hi) = (b * BLOCK_ROWS, ((b + 1) * BLOCK_ROWS).min(n));
            let len = hi - lo;
            block[..len * d]
                .par_chunks_mut(d)
                .enumerate()
                .for_each(|(k, out)| {
                    for ((o, &x), m) in out.iter_mut().zip(row(lo + k)).zip(&mean) {
                        *o = x as f64 - m;
                    }
                });
            let xc = MatRef::from_row_major_slice(&block[..len * d], len, d);
            matmul(
                cov.as_mut(),
                Accum::Add,
                xc.transpose(),
                xc,
                1.0,
                Par::rayon(0),
            );
        }
        let scale = 1.0 / (n - 1) as f64;
        let total_variance: f64 = (0..d).map(|i| cov[(i, i)] * scale).sum();
        if !total_variance.is_finite() {
            return Err(Error::invalid(
                "matrix",
                "the rows hold NaN or infinite values: PCA is undefined",
            ));
        }
        let eig = cov
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::invalid("matrix", format!("eigendecomposition failed: {e:?}")))?;
        let (values, vectors) = (eig.S().column_vector(), eig.U());
        // Eigenvalues come in increasing order: the last `dims` columns, largest first.
        let mut components = Vec::with_capacity(opts.dims * d);
        let mut explained_variance = Vec::with_capacity(opts.dims);
        for c in (d - opts.dims..d).rev() {
            let col: Vec<f64> = (0..d).map(|i| vectors[(i, c)]).collect();
            // Sign: the entry of largest magnitude is positive (ties: the first).
            let big = col
                .iter()
                .copied()
                .fold(0f64, |best, v| if v.abs() > best.abs() { v } else { best });
            let sign = if big < 0.0 { -1.0 } else { 1.0 };
            components.extend(col.iter().map(|&v| (v * sign) as f32));
            explained_variance.push((values[c] * scale).max(0.0));
        }
        Ok(Projection {
            method: Method::Pca,
            input_dims: d,
            dims: opts.dims,
            mean: mean.iter().map(|&m| m as f32).collect(),
            components,
            explained_variance,
            total_variance,
            fitted_rows: n,
        })
    }

    /// The same projection keeping only its first `dims` output coordinates (the leading
    /// components of a PCA; the first coordinates of a truncation).
    pub fn leading(&self, dims: usize) -> Result<Projection> {
        if dims == 0 || dims > self.dims {
            return Err(Error::invalid(
                "dims",
                format!("must be between 1 and {}, got {dims}", self.dims),
            ));
        }
        let mut p = self.clone();
        p.dims = dims;
        if p.method == Method::Pca {
            p.components.truncate(dims * self.input_dims);
            p.explained_variance.truncate(dims);
        }
        Ok(p)
    }

    /// Share of the total variance kept (1 for truncation, where it is not measured).
    pub fn explained_ratio(&self) -> f64 {
        match self.method {
            Method::Truncate => 1.0,
            Method::Pca if self.total_variance > 0.0 => {
                self.explained_variance.iter().sum::<f64>() / self.total_variance
            }
            Method::Pca => 0.0,
        }
    }

    /// Projects one vector of `input_dims` values into `out` (`dims` values).
    pub fn project(&self, x: &[f32], out: &mut [f32]) -> Result<()> {
        if x.len() != self.input_dims || out.len() != self.dims {
            return Err(Error::invalid(
                "vector",
                format!(
                    "projection takes {} values to {}, got {} to {}",
                    self.input_dims,
                    self.dims,
                    x.len(),
                    out.len()
                ),
            ));
        }
        match self.method {
            Method::Truncate => out.copy_from_slice(&x[..self.dims]),
            Method::Pca => {
                let d = self.input_dims;
                for (o, c) in out.iter_mut().zip(self.components.chunks_exact(d)) {
                    *o = c
                        .iter()
                        .zip(x)
                        .zip(&self.mean)
                        .map(|((&c, &x), &m)| c as f64 * (x as f64 - m as f64))
                        .sum::<f64>() as f32;
                }
            }
        }
        Ok(())
    }

    /// Projects every row of `matrix` (`rows × input_dims`) to a new `rows × dims` matrix.
    pub fn apply(&self, matrix: &DenseMatrix) -> Result<DenseMatrix> {
        let (rows, d) = (matrix.rows(), matrix.dims());
        if d != self.input_dims {
            return Err(Error::invalid(
                "dims",
                format!(
                    "the projection takes {} dimensions, the rows have {d}",
                    self.input_dims
                ),
            ));
        }
        let total = rows
            .checked_mul(self.dims)
            .ok_or_else(|| Error::invalid("dims", "rows × dims overflows"))?;
        let mut out = vec![0f32; total];
        match self.method {
            Method::Truncate => out
                .par_chunks_mut(self.dims.max(1))
                .enumerate()
                .for_each(|(i, o)| o.copy_from_slice(&matrix.row(i)[..self.dims])),
            Method::Pca => {
                // Y = (X - mean) Cᵀ, a block of rows at a time in f32 through faer's product.
                let c = MatRef::from_row_major_slice(&self.components, self.dims, d);
                let mut centred = vec![0f32; BLOCK_ROWS * d];
                for (b, dst) in out.chunks_mut(BLOCK_ROWS * self.dims).enumerate() {
                    let len = dst.len() / self.dims;
                    centred[..len * d]
                        .par_chunks_mut(d)
                        .enumerate()
                        .for_each(|(k, o)| {
                            let x = matrix.row(b * BLOCK_ROWS + k);
                            for ((o, &x), &m) in o.iter_mut().zip(x).zip(&self.mean) {
                                *o = x - m;
                            }
                        });
                    let xc = MatRef::from_row_major_slice(&centred[..len * d], len, d);
                    let mut y = Mat::<f32>::zeros(len, self.dims);
                    matmul(
                        y.as_mut(),
                        Accum::Replace,
                        xc,
                        c.transpose(),
                        1.0,
                        Par::rayon(0),
                    );
                    for (k, o) in dst.chunks_exact_mut(self.dims).enumerate() {
                        for (j, v) in o.iter_mut().enumerate() {
                            *v = y[(k, j)];
                        }
                    }
                }
            }
        }
        DenseMatrix::new(rows, self.dims, out)
    }

    /// The projection as stored in metadata: JSON with the float arrays as base64 of their
    /// little-endian f32 bytes.
    pub fn to_metadata(&self) -> String {
        use base64::Engine;
        let b64 = |v: &[f32]| {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            base64::engine::general_purpose::STANDARD.encode(bytes)
        };
        serde_json::json!({
            "method": self.method,
            "input_dims": self.input_dims,
            "dims": self.dims,
            "mean": b64(&self.mean),
            "components": b64(&self.components),
            "explained_variance": self.explained_variance,
            "total_variance": self.total_variance,
            "fitted_rows": self.fitted_rows,
        })
        .to_string()
    }

    /// Reads a projection written by [`Projection::to_metadata`], checking every size.
    pub fn from_metadata(text: &str) -> Result<Projection> {
        use base64::Engine;
        let bad = |m: String| Error::invalid(PROJECTION_KEY, m);
        #[derive(serde::Deserialize)]
        struct Raw {
            method: Method,
            input_dims: usize,
            dims: usize,
            mean: String,
            components: String,
            #[serde(default)]
            explained_variance: Vec<f64>,
            #[serde(default)]
            total_variance: f64,
            #[serde(default)]
            fitted_rows: usize,
        }
        let raw: Raw = serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let floats = |name: &str, s: &str, want: usize| -> Result<Vec<f32>> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| bad(format!("{name}: invalid base64: {e}")))?;
            if bytes.len() != want * 4 {
                return Err(bad(format!(
                    "{name}: {} bytes, expected {want} f32 values",
                    bytes.len()
                )));
            }
            Ok(bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect())
        };
        if raw.dims == 0 || raw.dims > raw.input_dims {
            return Err(bad(format!(
                "dims {} must be between 1 and input_dims {}",
                raw.dims, raw.input_dims
            )));
        }
        let (mean_len, comp_len) = match raw.method {
            Method::Truncate => (0, 0),
            Method::Pca => (
                raw.input_dims,
                raw.dims
                    .checked_mul(raw.input_dims)
                    .ok_or_else(|| bad("dims × input_dims overflows".into()))?,
            ),
        };
        Ok(Projection {
            method: raw.method,
            input_dims: raw.input_dims,
            dims: raw.dims,
            mean: floats("mean", &raw.mean, mean_len)?,
            components: floats("components", &raw.components, comp_len)?,
            explained_variance: raw.explained_variance,
            total_variance: raw.total_variance,
            fitted_rows: raw.fitted_rows,
        })
    }

    /// The projection stored in a reduced model's metadata, if any.
    pub fn from_embeddings(emb: &Embeddings) -> Result<Option<Projection>> {
        emb.metadata()
            .get(PROJECTION_KEY)
            .map(|t| Projection::from_metadata(t))
            .transpose()
    }
}

/// Row ids of a seeded sample without replacement, sorted (`None` when all rows are used).
fn sample_rows(rows: usize, sample: Option<usize>, seed: u64) -> Option<Vec<usize>> {
    let k = sample?;
    if k >= rows {
        return None;
    }
    // Floyd's algorithm: k draws, each id at most once.
    let mut rng = Rng::new(seed);
    let mut chosen = rustc_hash::FxHashSet::default();
    for j in rows - k..rows {
        let t = rng.below(j as u64 + 1) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut ids: Vec<usize> = chosen.into_iter().collect();
    ids.sort_unstable();
    Some(ids)
}

/// The model with every row projected by `projection`: same vocabulary and counts, dense f32
/// rows, metadata carried over plus the projection. Subwords are projected too (a reduced
/// fastText-style model still builds vectors for unknown words). A projection stored by an
/// earlier reduction is composed with the new one only in the sense that the new one replaces
/// it (its input is the earlier output), so a reduced model is reduced again from its rows.
pub fn apply(emb: &Embeddings, projection: &Projection) -> Result<Embeddings> {
    let dense = emb.storage().to_dense()?;
    let rows = projection.apply(&dense)?;
    drop(dense);
    let mut out = Embeddings::new(emb.vocab().clone(), rows)?;
    if let Some(s) = emb.subwords() {
        let matrix = projection.apply(&s.matrix)?;
        out = out.with_subwords(crate::subword::Subwords {
            config: s.config,
            matrix,
        })?;
    }
    for (k, v) in emb.metadata() {
        if k != "quantizer" {
            out.metadata_mut().insert(k.clone(), v.clone());
        }
    }
    out.metadata_mut()
        .insert(PROJECTION_KEY.into(), projection.to_metadata());
    Ok(out)
}

/// Fits a projection on `emb`'s rows and applies it: `embers reduce`.
pub fn reduce(emb: &Embeddings, opts: &ReduceOptions) -> Result<(Embeddings, Projection)> {
    let dense = emb.storage().to_dense()?;
    let projection = Projection::fit(&dense, opts)?;
    drop(dense);
    let out = apply(emb, &projection)?;
    Ok((out, projection))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Vocab;

    /// Rows with correlated columns and distinct variances (a seeded linear mix of normals).
    fn correlated(rows: usize, d: usize, seed: u64) -> DenseMatrix {
        let mut rng = Rng::new(seed);
        let mix: Vec<f32> = (0..d * d).map(|_| rng.normal()).collect();
        let mut data = vec![0f32; rows * d];
        for r in 0..rows {
            let z: Vec<f32> = (0..d).map(|j| rng.normal() * (d - j) as f32).collect();
            for c in 0..d {
                data[r * d + c] =
                    (0..d).map(|j| z[j] * mix[j * d + c]).sum::<f32>() + c as f32 * 0.5;
            }
        }
        DenseMatrix::new(rows, d, data).unwrap()
    }

    fn opts(dims: usize) -> ReduceOptions {
        ReduceOptions {
            dims,
            method: Method::Pca,
            sample: None,
            seed: 7,
        }
    }

    /// numpy's PCA of the same rows: eigh of np.cov, largest first; returns (variances,
    /// components row-major, projected rows row-major).
    fn numpy_pca(m: &DenseMatrix, dims: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("x.f32");
        let bytes: Vec<u8> = m.as_slice().iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&input, bytes).unwrap();
        let out = embers_testkit::python()
            .arg("-c")
            .arg(
                "import numpy as np, sys\n\
                 n, d, k = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])\n\
                 x = np.fromfile(sys.argv[1], dtype='<f4').reshape(n, d).astype(np.float64)\n\
                 w, v = np.linalg.eigh(np.cov(x.T))\n\
                 order = np.argsort(w)[::-1][:k]\n\
                 comps = v[:, order].T\n\
                 y = (x - x.mean(0)) @ comps.T\n\
                 for a in (w[order], comps.ravel(), y.ravel()):\n\
                 \x20   print(' '.join(repr(float(t)) for t in a))\n",
            )
            .arg(&input)
            .arg(m.rows().to_string())
            .arg(m.dims().to_string())
            .arg(dims.to_string())
            .output()
            .expect("the reference Python runs (scripts/test.sh sets it up)");
        assert!(
            out.status.success(),
            "numpy PCA failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines().map(|l| {
            l.split(' ')
                .map(|t| t.parse::<f64>().unwrap())
                .collect::<Vec<f64>>()
        });
        (
            lines.next().unwrap(),
            lines.next().unwrap(),
            lines.next().unwrap(),
        )
    }

    #[test]
    fn pca_matches_numpy_variances_components_and_rows() {
        let (n, d, k) = (600, 12, 5);
        let m = correlated(n, d, 3);
        let p = Projection::fit(&m, &opts(k)).unwrap();
        let (var, comps, rows) = numpy_pca(&m, k);
        for (a, b) in p.explained_variance.iter().zip(&var) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "variance {a} vs numpy {b}"
            );
        }
        let y = p.apply(&m).unwrap();
        for c in 0..k {
            let ours = &p.components[c * d..(c + 1) * d];
            let theirs = &comps[c * d..(c + 1) * d];
            let dot: f64 = ours.iter().zip(theirs).map(|(&a, &b)| a as f64 * b).sum();
            let sign = dot.signum();
            assert!(
                (dot.abs() - 1.0).abs() < 1e-5,
                "component {c}: |cos| = {}",
                dot.abs()
            );
            for (a, b) in ours.iter().zip(theirs) {
                assert!(
                    (*a as f64 - sign * b).abs() < 1e-4,
                    "component {c}: {a} vs {b}"
                );
            }
            for r in 0..n {
                let (a, b) = (y.row(r)[c] as f64, sign * rows[r * k + c]);
                assert!(
                    (a - b).abs() <= 1e-3 * b.abs().max(1.0),
                    "row {r} coord {c}: {a} vs {b}"
                );
            }
        }
        // The total variance is the trace of numpy's covariance: all components kept = 100%.
        let full = Projection::fit(&m, &opts(d)).unwrap();
        assert!((full.explained_ratio() - 1.0).abs() < 1e-9);
        assert!(p.explained_ratio() < 1.0 && p.explained_ratio() > 0.5);
    }

    #[test]
    fn leading_components_equal_a_smaller_fit_and_project_matches_apply() {
        let m = correlated(300, 10, 5);
        let big = Projection::fit(&m, &opts(8)).unwrap();
        let small = Projection::fit(&m, &opts(3)).unwrap();
        assert_eq!(
            big.leading(3).unwrap(),
            Projection {
                fitted_rows: 300,
                ..small
            }
        );
        let y = big.apply(&m).unwrap();
        let mut out = vec![0f32; 8];
        big.project(m.row(17), &mut out).unwrap();
        for (a, b) in out.iter().zip(y.row(17)) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn metadata_round_trip_and_bad_metadata_is_an_error() {
        let m = correlated(100, 6, 1);
        let p = Projection::fit(&m, &opts(4)).unwrap();
        assert_eq!(Projection::from_metadata(&p.to_metadata()).unwrap(), p);
        let t = Projection::fit(
            &m,
            &ReduceOptions {
                method: Method::Truncate,
                ..opts(2)
            },
        )
        .unwrap();
        assert_eq!(Projection::from_metadata(&t.to_metadata()).unwrap(), t);
        let text = p.to_metadata().replace("\"dims\":4", "\"dims\":5");
        let err = Projection::from_metadata(&text).unwrap_err().to_string();
        assert!(err.contains("components"), "{err}");
        assert!(Projection::from_metadata("{").is_err());
        let huge = p
            .to_metadata()
            .replace("\"input_dims\":6", "\"input_dims\":18446744073709551615");
        assert!(Projection::from_metadata(&huge).is_err());
    }

    #[test]
    fn reduce_keeps_vocabulary_and_stores_the_projection() {
        let m = correlated(50, 8, 2);
        let words: Vec<String> = (0..50).map(|i| format!("w{i}")).collect();
        let emb = Embeddings::new(Vocab::from_words(words).unwrap(), m.clone()).unwrap();
        let (out, p) = reduce(&emb, &opts(3)).unwrap();
        assert_eq!((out.len(), out.dims()), (50, 3));
        assert_eq!(out.vocab().token(4), Some("w4"));
        assert_eq!(Projection::from_embeddings(&out).unwrap(), Some(p.clone()));
        let t = ReduceOptions {
            method: Method::Truncate,
            ..opts(3)
        };
        let (trunc, _) = reduce(&emb, &t).unwrap();
        assert_eq!(trunc.vector(9).unwrap(), m.row(9)[..3].to_vec());
        // A seeded sample fits on that many rows, the same way twice.
        let s = ReduceOptions {
            sample: Some(20),
            ..opts(3)
        };
        let (a, b) = (
            Projection::fit(&m, &s).unwrap(),
            Projection::fit(&m, &s).unwrap(),
        );
        assert_eq!(a.fitted_rows, 20);
        assert_eq!(a, b);
    }

    #[test]
    fn bad_arguments_and_values_are_errors() {
        let m = correlated(20, 4, 9);
        for dims in [0, 5] {
            let e = Projection::fit(&m, &opts(dims)).unwrap_err().to_string();
            assert!(e.contains("dims"), "{e}");
        }
        let mut bad = m.clone();
        bad.as_mut_slice()[5] = f32::NAN;
        let e = Projection::fit(&bad, &opts(2)).unwrap_err().to_string();
        assert!(e.contains("NaN"), "{e}");
        let one = DenseMatrix::new(1, 4, vec![1.0; 4]).unwrap();
        assert!(Projection::fit(&one, &opts(2)).is_err());
        let p = Projection::fit(&m, &opts(2)).unwrap();
        assert!(p.project(&[1.0; 3], &mut [0.0; 2]).is_err());
        assert!(p.leading(3).is_err());
    }
}
