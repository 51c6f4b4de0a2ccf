//! Training product quantizers: a seeded sample of rows, one k-means codebook per subspace
//! (trained in parallel from k-means++ and from splitting seeds, the better kept), optionally
//! an orthogonal rotation learned as in optimised PQ, then every row encoded as its nearest
//! centroid in each subspace.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kmeans::{kmeans_best, refine, Codebook};
use super::linalg;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFn};
use crate::rng::Rng;
use crate::storage::{check_pq_settings, Buffer, DenseMatrix, PqMatrix};

/// An orthogonal rotation `R` learned before splitting rows into subspaces: rows are encoded as
/// `x · R`, so that correlated dimensions can be spread over the subquantizers.
///
/// Stored in the `quantizer` metadata as `{"kind":"opq","iterations":N}` (both starts tried) or
/// with `"start":"random"` / `"start":"pca"` (one start forced).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "RotationRepr", try_from = "RotationRepr")]
pub enum Rotation {
    /// Optimised product quantization (the non-parametric method of Ge, He, Ke and Sun, 2013,
    /// as faiss's `OPQMatrix` runs it): on the training sample `X`, centred, starting from an
    /// orthogonal `R` and PQ codebooks trained on `X · R`, each of `iterations` rounds encodes
    /// `X · R`, sets `R = U · Vᵀ` from the SVD of `Xᵀ · Ŷ` (`Ŷ` the reconstruction: the
    /// orthogonal Procrustes step), and refines the codebooks on the new `X · R` by a few
    /// warm-started Lloyd steps; the final codebooks get the full `iterations` of the config on
    /// the rows as encoded (not centred).
    ///
    /// Trained from `start`; [`OpqStart::Auto`] trains from both starts on the same sample (at
    /// the same time, on the shared thread pool) and keeps the rotation and codebooks with the
    /// lower reconstruction error on that sample.
    Opq {
        /// Rounds of alternation between the codebooks and the rotation (≥ 1).
        iterations: usize,
        /// The rotation the alternation starts from ([`OpqStart::Auto`]: both, the better kept).
        start: OpqStart,
    },
}

impl Rotation {
    /// Rounds of OPQ by default (faiss's `OPQMatrix::niter`).
    pub const DEFAULT_OPQ_ITERATIONS: usize = 50;

    /// OPQ with `iterations` rounds from `start` ([`OpqStart::Auto`]: both, the better kept).
    pub fn opq(iterations: usize, start: OpqStart) -> Self {
        Rotation::Opq { iterations, start }
    }

    /// Rounds of alternation.
    pub fn iterations(&self) -> usize {
        match self {
            Rotation::Opq { iterations, .. } => *iterations,
        }
    }

    /// The start asked for ([`OpqStart::Auto`]: both tried).
    pub fn start(&self) -> OpqStart {
        match self {
            Rotation::Opq { start, .. } => *start,
        }
    }
}

/// Where OPQ's alternation starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpqStart {
    /// Both starts trained on the same sample; the one with the lower reconstruction error on
    /// the sample is kept.
    #[default]
    Auto,
    /// A seeded random orthogonal matrix (faiss's `OPQMatrix`). On GloVe 6B 50d the better
    /// start at 10 subquantizers (5 dims each).
    Random,
    /// The principal axes of the sample dealt to the subspaces by eigenvalue allocation (Ge et
    /// al.'s parametric solution). On GloVe 6B 50d the better start at 25 subquantizers (2 dims
    /// each).
    Pca,
}

impl OpqStart {
    /// The names accepted by [`OpqStart::from_name`].
    pub const NAMES: &'static str = "auto, random or pca";

    /// Parses `auto`, `random` or `pca`; anything else is an error naming the option
    /// `opq-start`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "auto" => Ok(OpqStart::Auto),
            "random" => Ok(OpqStart::Random),
            "pca" => Ok(OpqStart::Pca),
            other => Err(Error::invalid(
                "opq-start",
                format!("unknown start {other:?}: expected {}", Self::NAMES),
            )),
        }
    }

    /// The name as parsed by [`OpqStart::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            OpqStart::Auto => "auto",
            OpqStart::Random => "random",
            OpqStart::Pca => "pca",
        }
    }
}

/// The serialised form of [`Rotation`]: `kind` `opq`, its rounds, and the start when forced.
#[derive(Serialize, Deserialize)]
struct RotationRepr {
    kind: String,
    iterations: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<OpqStart>,
}

impl From<Rotation> for RotationRepr {
    fn from(r: Rotation) -> Self {
        let start = match r.start() {
            OpqStart::Auto => None,
            s => Some(s),
        };
        RotationRepr {
            kind: "opq".into(),
            iterations: r.iterations(),
            start,
        }
    }
}

impl TryFrom<RotationRepr> for Rotation {
    type Error = String;
    fn try_from(r: RotationRepr) -> std::result::Result<Self, String> {
        if r.kind != "opq" {
            return Err(format!("unknown rotation kind {:?}: expected opq", r.kind));
        }
        Ok(Rotation::opq(r.iterations, r.start.unwrap_or_default()))
    }
}

/// What OPQ's training did: the start kept and the relative squared error on the training
/// sample of every start trained (in the order random, pca).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpqReport {
    /// The start whose rotation and codebooks were kept (never [`OpqStart::Auto`]).
    pub kept: OpqStart,
    /// `(start, ‖X − X̂‖² / ‖X‖²)` on the training sample, for every start trained.
    pub sample_errors: Vec<(OpqStart, f64)>,
}

/// Lloyd steps that refine the codebooks between two rotation updates (warm started).
const OPQ_INNER_ITERATIONS: usize = 4;

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
    /// Seed of the sample and of k-means' seedings.
    pub seed: u64,
    /// A rotation learned before encoding (none: the subspaces are the plain dimension blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<Rotation>,
}

impl PqConfig {
    /// Defaults for `dims`: the most subquantizers that keep at least 5 values each (a code of
    /// 1/20 of the f32 row), 8 bits, 65,536 training rows, 25 iterations, seed 42.
    pub fn for_dims(dims: usize) -> Self {
        let m = (1..=(dims / 5).max(1))
            .rev()
            .find(|m| dims.is_multiple_of(*m))
            .unwrap_or(1);
        PqConfig {
            subquantizers: m,
            bits: 8,
            sample: 65_536,
            iterations: 25,
            seed: 42,
            rotation: None,
        }
    }
}

/// Checks the settings against a matrix of `rows × dims` before any work is done.
pub fn check_config(rows: usize, dims: usize, cfg: &PqConfig) -> Result<()> {
    check_pq_settings(dims, cfg.subquantizers, cfg.bits)?;
    check_training(rows, cfg.sample, cfg.bits, cfg.iterations, "centroids")?;
    if cfg.rotation.as_ref().is_some_and(|r| r.iterations() == 0) {
        return Err(Error::invalid("opq-iterations", "must be at least 1"));
    }
    Ok(())
}

/// The k-means settings of a codebook of 2^`bits` entries (`what`: centroids, codewords) trained
/// on `sample` of a matrix's `rows`: enough rows for every entry, at least one iteration.
pub(super) fn check_training(
    rows: usize,
    sample: usize,
    bits: u32,
    iterations: usize,
    what: &str,
) -> Result<()> {
    let ksub = 1usize << bits;
    if sample < ksub {
        return Err(Error::invalid(
            "sample",
            format!("{sample} training rows cannot train 2^{bits} = {ksub} {what}"),
        ));
    }
    if rows < ksub {
        return Err(Error::invalid(
            "bits",
            format!(
                "the matrix has {rows} rows, fewer than the 2^{bits} = {ksub} {what}; use fewer bits"
            ),
        ));
    }
    if iterations == 0 {
        return Err(Error::invalid("iterations", "must be at least 1"));
    }
    Ok(())
}

/// `n` distinct row indices out of `rows`, chosen by a seeded partial Fisher–Yates shuffle and
/// returned in increasing order.
pub(super) fn sample_rows(rows: usize, n: usize, rng: &mut Rng) -> Vec<usize> {
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

/// Trains codebooks (and the rotation, if configured) on a sample of `matrix` and encodes every
/// row. Deterministic for a seed, independent of the thread count.
pub fn train(matrix: &DenseMatrix, cfg: &PqConfig, progress: &ProgressFn) -> Result<PqMatrix> {
    train_reporting(matrix, cfg, progress).map(|(p, _)| p)
}

/// [`train`], also telling which OPQ start was kept and the sample errors of the starts trained
/// (`None` without a rotation).
///
/// Progress: `train` counts the initial codebooks and `rotation` the OPQ rounds of all the
/// starts trained (with both starts, `2 m` codebooks and `2 × iterations` rounds: the two run
/// at the same time), then `encode` the rows, once, with the kept rotation.
pub fn train_reporting(
    matrix: &DenseMatrix,
    cfg: &PqConfig,
    progress: &ProgressFn,
) -> Result<(PqMatrix, Option<OpqReport>)> {
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
    let ksub = 1usize << cfg.bits;
    let root = Rng::new(cfg.seed);
    let sample = sample_rows(rows, cfg.sample, &mut root.fork(0));
    let mut x = Vec::with_capacity(sample.len() * dims);
    for &i in &sample {
        x.extend_from_slice(matrix.row(i));
    }

    let (books, rotation, report) = match &cfg.rotation {
        None => {
            let counter = Counter::new("train", m as u64, "codebooks", progress);
            (
                codebooks(&x, dims, m, ksub, cfg, &root, &counter),
                None,
                None,
            )
        }
        Some(rot) => {
            // With OPQ the start decides which optimum the alternation ends in: on GloVe 6B
            // 50d a random orthogonal start (faiss's) is far better at 10 subquantizers (error
            // 0.115 against 0.137 from the principal axes) and worse at 25 (0.0081 against
            // 0.0066). So both are trained on the same sample, at the same time on the shared
            // pool (each one's steps are parallel too), and the better on the sample kept.
            let starts: &[OpqStart] = match rot.start() {
                OpqStart::Auto => &[OpqStart::Random, OpqStart::Pca],
                OpqStart::Random => &[OpqStart::Random],
                OpqStart::Pca => &[OpqStart::Pca],
            };
            let n = starts.len() as u64;
            let books_done = Counter::new("train", n * m as u64, "codebooks", progress);
            let rounds_done =
                Counter::new("rotation", n * rot.iterations() as u64, "rounds", progress);
            let run = |start: OpqStart| {
                opq_from(
                    &x,
                    dims,
                    ksub,
                    cfg,
                    &root,
                    start,
                    rot.iterations(),
                    &books_done,
                    &rounds_done,
                )
            };
            let trained: Vec<Trained> = if let [a, b] = starts {
                let (ta, tb) = rayon::join(|| run(*a), || run(*b));
                vec![ta, tb]
            } else {
                starts.iter().map(|&s| run(s)).collect()
            };
            let sample_errors: Vec<(OpqStart, f64)> =
                trained.iter().map(|t| (t.start, t.sample_error)).collect();
            // The lower sample error wins; a tie keeps the first (random, faiss's start).
            let best = trained
                .into_iter()
                .reduce(|a, b| {
                    if b.sample_error < a.sample_error {
                        b
                    } else {
                        a
                    }
                })
                .expect("at least one start");
            let report = OpqReport {
                kept: best.start,
                sample_errors,
            };
            (best.books, Some(best.rotation), Some(report))
        }
    };
    drop(x);

    let codes = encode(matrix, &books, rotation.as_deref(), progress);
    let mut centroids = Vec::with_capacity(m * ksub * (dims / m));
    for b in &books {
        centroids.extend_from_slice(&b.centroids);
    }
    let pq = PqMatrix::new(
        rows,
        dims,
        m,
        cfg.bits,
        codes,
        centroids,
        rotation.map(Buffer::Owned),
    )?;
    Ok((pq, report))
}

/// A progress counter shared by parallel work: every `tick` reports the total so far.
struct Counter<'a> {
    stage: &'static str,
    total: u64,
    unit: &'static str,
    done: AtomicU64,
    progress: &'a ProgressFn<'a>,
}

impl<'a> Counter<'a> {
    fn new(
        stage: &'static str,
        total: u64,
        unit: &'static str,
        progress: &'a ProgressFn<'a>,
    ) -> Self {
        Counter {
            stage,
            total,
            unit,
            done: AtomicU64::new(0),
            progress,
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.progress)(&Progress::new(
            self.stage,
            done,
            Some(self.total),
            self.unit,
        ));
    }
}

/// The codebooks of the `m` subspaces of the rows `y`, in parallel: k-means from both seedings,
/// the one of lower error kept per subspace ([`kmeans_best`]); seeds forked from `root` by
/// subspace.
fn codebooks(
    y: &[f32],
    dims: usize,
    m: usize,
    ksub: usize,
    cfg: &PqConfig,
    root: &Rng,
    counter: &Counter,
) -> Vec<Codebook> {
    (0..m)
        .into_par_iter()
        .map(|j| {
            let book = kmeans_best(
                &subspace(y, dims, m, j),
                dims / m,
                ksub,
                cfg.iterations,
                &mut root.fork(j as u64 + 1),
            );
            counter.tick();
            book
        })
        .collect()
}

/// The outcome of OPQ from one start.
struct Trained {
    start: OpqStart,
    books: Vec<Codebook>,
    rotation: Vec<f32>,
    /// Relative squared error of the training rows encoded with `books` and `rotation`.
    sample_error: f64,
}

/// OPQ on the training rows `x` from `start` (random or pca): the initial rotation, codebooks
/// trained on `x · R₀`, the alternation, and the error of the result on `x`. The k-means seeds
/// are those of plain PQ whatever the start, so a forced start gives the same file as the same
/// start kept by `auto`.
#[allow(clippy::too_many_arguments)]
fn opq_from(
    x: &[f32],
    dims: usize,
    ksub: usize,
    cfg: &PqConfig,
    root: &Rng,
    start: OpqStart,
    rounds: usize,
    books_done: &Counter,
    rounds_done: &Counter,
) -> Trained {
    let m = cfg.subquantizers;
    let r0 = match start {
        OpqStart::Pca => pca_rotation(x, dims, m),
        _ => random_rotation(dims, &mut root.fork(u64::MAX)),
    };
    let y = rotate_rows(x, dims, &r0);
    let books = codebooks(&y, dims, m, ksub, cfg, root, books_done);
    drop(y);
    let (books, rotation) = opq(x, dims, books, r0, rounds, cfg.iterations, rounds_done);
    let sample_error = relative_error(&rotate_rows(x, dims, &rotation), dims, &books);
    Trained {
        start,
        books,
        rotation,
        sample_error,
    }
}

/// `Σ ‖y − ŷ‖² / Σ ‖y‖²` over the rows `y` and their PQ reconstructions by `books`, in f64
/// (per-block sums added in block order, so independent of the thread count).
fn relative_error(y: &[f32], d: usize, books: &[Codebook]) -> f64 {
    let yhat = reconstruct(y, d, books);
    let parts: Vec<(f64, f64)> = y
        .par_chunks(BLOCK * d)
        .zip(yhat.par_chunks(BLOCK * d))
        .map(|(a, b)| {
            a.iter().zip(b).fold((0.0f64, 0.0f64), |(e, t), (&p, &q)| {
                let (p, q) = (p as f64, q as f64);
                (e + (p - q) * (p - q), t + p * p)
            })
        })
        .collect();
    let (err, total) = parts
        .into_iter()
        .fold((0.0, 0.0), |(e, t), (pe, pt)| (e + pe, t + pt));
    if total > 0.0 {
        err / total
    } else {
        0.0
    }
}

/// Sub-vector `j` (of `m`) of every row of `x` (rows of `dims` values), contiguous.
fn subspace(x: &[f32], dims: usize, m: usize, j: usize) -> Vec<f32> {
    let dsub = dims / m;
    x.chunks_exact(dims)
        .flat_map(|r| &r[j * dsub..(j + 1) * dsub])
        .copied()
        .collect()
}

/// Rows per parallel work item in the rotation's matrix products (fixed, so that sums are
/// added in the same order whatever the thread count).
const BLOCK: usize = 1024;

/// `x · r` for every row of `x` (rows of `d` values), `r` row-major `d × d`.
fn rotate_rows(x: &[f32], d: usize, r: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    y.par_chunks_mut(BLOCK * d)
        .zip(x.par_chunks(BLOCK * d))
        .for_each(|(yb, xb)| {
            for (yr, xr) in yb.chunks_exact_mut(d).zip(xb.chunks_exact(d)) {
                rotate_row(xr, r, yr);
            }
        });
    y
}

/// `out = x · r` for one row.
fn rotate_row(x: &[f32], r: &[f32], out: &mut [f32]) {
    let d = x.len();
    out.fill(0.0);
    for (&xk, rk) in x.iter().zip(r.chunks_exact(d)) {
        crate::kernels::axpy(xk, rk, out);
    }
}

/// Every row of `y` replaced by its nearest centroids (its PQ reconstruction).
fn reconstruct(y: &[f32], d: usize, books: &[Codebook]) -> Vec<f32> {
    let dsub = d / books.len();
    let mut out = vec![0.0f32; y.len()];
    out.par_chunks_mut(BLOCK * d)
        .zip(y.par_chunks(BLOCK * d))
        .for_each(|(ob, yb)| {
            let mut scratch = vec![0.0f32; books[0].k];
            for (or, yr) in ob.chunks_exact_mut(d).zip(yb.chunks_exact(d)) {
                for (j, book) in books.iter().enumerate() {
                    let (c, _) = book.nearest(&yr[j * dsub..(j + 1) * dsub], &mut scratch);
                    or[j * dsub..(j + 1) * dsub]
                        .copy_from_slice(&book.centroids[c * dsub..(c + 1) * dsub]);
                }
            }
        });
    out
}

/// `xᵀ · y` in f64 for two matrices of rows of `d` values: per-block partial sums in parallel,
/// added in block order.
fn cross(x: &[f32], y: &[f32], d: usize) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = x
        .par_chunks(BLOCK * d)
        .zip(y.par_chunks(BLOCK * d))
        .map(|(xb, yb)| linalg::at_b(xb, yb, d, d))
        .collect();
    let mut total = vec![0.0f64; d * d];
    for p in parts {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

/// The PCA start of OPQ (row-major `d × d`, orthogonal): the principal axes of the sample `x`,
/// dealt to the `m` subspaces by eigenvalue allocation (Ge et al. 2013, the parametric
/// solution): axes in decreasing order of variance, the first `m` one to each subspace, then
/// each to the subspace not yet full whose product of variances is smallest, so that every
/// subspace gets a balanced share of the variance. Axis signs are fixed (largest entry
/// positive) so the result does not depend on the decomposition's sign choices. Falls back to
/// `I` when the decomposition fails.
fn pca_rotation(x: &[f32], d: usize, m: usize) -> Vec<f32> {
    let dsub = d / m;
    let mut r = vec![0.0f32; d * d];
    let Some((vectors, values)) = linalg::principal_axes(x, d) else {
        for i in 0..d {
            r[i * d + i] = 1.0;
        }
        return r;
    };
    let floor = values
        .first()
        .copied()
        .unwrap_or(1.0)
        .max(f64::MIN_POSITIVE)
        * 1e-12;
    let mut log_product = vec![0.0f64; m];
    let mut members: Vec<Vec<usize>> = vec![Vec::with_capacity(dsub); m];
    for (axis, &v) in values.iter().enumerate() {
        let j = if axis < m {
            axis
        } else {
            (0..m)
                .filter(|&j| members[j].len() < dsub)
                .min_by(|&a, &b| log_product[a].total_cmp(&log_product[b]))
                .expect("d = m · dsub slots")
        };
        members[j].push(axis);
        log_product[j] += v.max(floor).ln();
    }
    for (j, axes) in members.iter().enumerate() {
        for (t, &axis) in axes.iter().enumerate() {
            let col = j * dsub + t;
            let big = (0..d).map(|i| vectors[i * d + axis]).fold(0f64, |b, v| {
                if v.abs() > b.abs() {
                    v
                } else {
                    b
                }
            });
            let sign = if big < 0.0 { -1.0 } else { 1.0 };
            for i in 0..d {
                r[i * d + col] = (sign * vectors[i * d + axis]) as f32;
            }
        }
    }
    r
}

/// Optimised PQ on the training rows `x`, starting from rotation `r` and the codebooks `books`
/// trained on `x · r`: returns the refined codebooks (of the rotated space) and the rotation
/// (row-major `d × d`, orthogonal). The rotation is learned on the centred rows (the codebooks
/// moved along), then the codebooks are refined on the rows as they will be encoded.
fn opq(
    x: &[f32],
    d: usize,
    mut books: Vec<Codebook>,
    mut r: Vec<f32>,
    rounds: usize,
    final_iterations: usize,
    rounds_done: &Counter,
) -> (Vec<Codebook>, Vec<f32>) {
    let m = books.len();
    // The rotation is learned on the centred rows (as faiss's OPQMatrix does).
    let n = x.len() / d;
    let mut mean = vec![0.0f64; d];
    for row in x.chunks_exact(d) {
        mean.iter_mut().zip(row).for_each(|(a, v)| *a += *v as f64);
    }
    mean.iter_mut().for_each(|a| *a /= n.max(1) as f64);
    let mean32: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    let xc: Vec<f32> = x
        .chunks_exact(d)
        .flat_map(|row| row.iter().zip(&mean32).map(|(v, a)| v - a))
        .collect();
    // The codebooks follow the data: centroids of x·R moved by −mean·R.
    books = shift_books(books, &rotate_rows(&mean32, d, &r), -1.0);
    let mut y = rotate_rows(&xc, d, &r);
    for round in 0..rounds {
        // Rotation step: R minimising ‖X·R − Ŷ‖ over orthogonal R, for the current codes.
        let yhat = reconstruct(&y, d, &books);
        let target = cross(&xc, &yhat, d);
        drop(yhat);
        r = linalg::procrustes(&target, d)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        y = rotate_rows(&xc, d, &r);
        // Codebook step: Lloyd iterations on the rotated rows, from the previous centroids.
        if round + 1 < rounds {
            books = books
                .into_par_iter()
                .enumerate()
                .map(|(j, book)| {
                    refine(
                        &subspace(&y, d, m, j),
                        book,
                        OPQ_INNER_ITERATIONS.min(final_iterations),
                    )
                })
                .collect();
        }
        rounds_done.tick();
    }
    // The final codebooks: the rows as they will be encoded (x·R, not centred), from the
    // centroids moved back by +mean·R, with the full iterations.
    books = shift_books(books, &rotate_rows(&mean32, d, &r), 1.0);
    let y = rotate_rows(x, d, &r);
    books = books
        .into_par_iter()
        .enumerate()
        .map(|(j, book)| refine(&subspace(&y, d, m, j), book, final_iterations))
        .collect();
    (books, r)
}

/// Every centroid of subspace `j` moved by `sign ×` the `j`-th piece of `by`.
fn shift_books(books: Vec<Codebook>, by: &[f32], sign: f32) -> Vec<Codebook> {
    books
        .into_iter()
        .enumerate()
        .map(|(j, b)| {
            let dsub = b.d;
            let piece = &by[j * dsub..(j + 1) * dsub];
            let mut c = b.centroids;
            for cen in c.chunks_exact_mut(dsub) {
                cen.iter_mut().zip(piece).for_each(|(v, s)| *v += sign * s);
            }
            Codebook::new(dsub, b.k, c)
        })
        .collect()
}

/// A random orthogonal `d × d` matrix (row-major): the orthogonal polar factor of a matrix of
/// seeded normal values.
fn random_rotation(d: usize, rng: &mut Rng) -> Vec<f32> {
    let g: Vec<f64> = (0..d * d).map(|_| rng.normal() as f64).collect();
    linalg::procrustes(&g, d)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// The code of every row (rotated by `rotation` first, if any): per subspace, the index of the
/// nearest centroid.
fn encode(
    matrix: &DenseMatrix,
    books: &[Codebook],
    rotation: Option<&[f32]>,
    progress: &ProgressFn,
) -> Vec<u8> {
    let m = books.len();
    let dims = matrix.dims();
    let dsub = dims / m;
    let rows = matrix.rows();
    let mut codes = vec![0u8; rows * m];
    let done = AtomicU64::new(0);
    const CHUNK: usize = 4096;
    codes
        .par_chunks_mut(CHUNK * m)
        .enumerate()
        .for_each(|(chunk, out)| {
            let mut scratch = vec![0.0f32; books[0].k];
            let mut rotated = vec![0.0f32; dims];
            for (r, code) in out.chunks_exact_mut(m).enumerate() {
                let mut row = matrix.row(chunk * CHUNK + r);
                if let Some(rot) = rotation {
                    rotate_row(row, rot, &mut rotated);
                    row = &rotated;
                }
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
            rotation: None,
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
    /// Rows whose variance is concentrated in a few latent directions, mixed into all
    /// dimensions by a random orthogonal matrix: strongly correlated dimensions.
    fn correlated(rows: usize, dims: usize, seed: u64) -> DenseMatrix {
        let mut rng = Rng::new(seed);
        let g: Vec<f64> = (0..dims * dims).map(|_| rng.normal() as f64).collect();
        let q = linalg::procrustes(&g, dims);
        let mut data = Vec::with_capacity(rows * dims);
        for _ in 0..rows {
            let z: Vec<f64> = (0..dims)
                .map(|k| rng.normal() as f64 * 0.7f64.powi(k as i32))
                .collect();
            data.extend(
                (0..dims).map(|j| (0..dims).map(|k| z[k] * q[k * dims + j]).sum::<f64>() as f32),
            );
        }
        DenseMatrix::new(rows, dims, data).unwrap()
    }

    fn relative_error(m: &DenseMatrix, p: &PqMatrix) -> f64 {
        let (mut err, mut tot) = (0.0f64, 0.0f64);
        let mut row = vec![0.0f32; m.dims()];
        for i in 0..m.rows() {
            p.row_into(i, &mut row);
            for (a, b) in m.row(i).iter().zip(&row) {
                err += (*a as f64 - *b as f64).powi(2);
                tot += (*a as f64).powi(2);
            }
        }
        err / tot
    }

    #[test]
    fn opq_rotation_is_orthogonal_and_beats_plain_pq_on_correlated_dims() {
        let (rows, dims) = (3000, 16);
        let m = correlated(rows, dims, 4);
        let plain = PqConfig {
            subquantizers: 4,
            bits: 4,
            sample: 3000,
            iterations: 25,
            seed: 7,
            rotation: None,
        };
        let opq_cfg = PqConfig {
            rotation: Some(Rotation::opq(10, OpqStart::Auto)),
            ..plain.clone()
        };
        let p = train(&m, &plain, &silent).unwrap();
        let o = train(&m, &opq_cfg, &silent).unwrap();
        assert!(p.rotation().is_none());
        let r = o.rotation().expect("OPQ stores its rotation");
        // RᵀR = I (the rotation is kept in f32).
        for i in 0..dims {
            for j in 0..dims {
                let dot: f64 = (0..dims)
                    .map(|k| r[k * dims + i] as f64 * r[k * dims + j] as f64)
                    .sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "RᵀR[{i},{j}] = {dot}");
            }
        }
        assert_ne!(r.iter().filter(|&&v| v != 0.0).count(), dims, "not I");
        let (ep, eo) = (relative_error(&m, &p), relative_error(&m, &o));
        // Measured: PQ 0.164, OPQ 0.049 of the squared norm.
        assert!(eo < 0.5 * ep, "OPQ error {eo} not well below PQ error {ep}");
        // Deterministic for a seed.
        let again = train(&m, &opq_cfg, &silent).unwrap();
        assert_eq!(again.codes(), o.codes());
        assert_eq!(again.rotation(), o.rotation());
        // Codes are the nearest centroids of the rotated rows (f64 oracle).
        let (dsub, ksub) = (o.dsub(), o.ksub());
        for i in (0..rows).step_by(61) {
            let y: Vec<f64> = (0..dims)
                .map(|j| {
                    (0..dims)
                        .map(|k| m.row(i)[k] as f64 * r[k * dims + j] as f64)
                        .sum()
                })
                .collect();
            for j in 0..4 {
                let d2 = |c: usize| -> f64 {
                    let cen = &o.centroids()[(j * ksub + c) * dsub..][..dsub];
                    (0..dsub)
                        .map(|t| (y[j * dsub + t] - cen[t] as f64).powi(2))
                        .sum()
                };
                let best = (0..ksub).map(d2).fold(f64::INFINITY, f64::min);
                let got = d2(o.codes()[i * 4 + j] as usize);
                assert!(got <= best + 1e-5, "row {i} sub {j}: {got} > {best}");
            }
        }
        // Zero rounds are refused.
        let zero = PqConfig {
            rotation: Some(Rotation::opq(0, OpqStart::Auto)),
            ..plain
        };
        let e = train(&m, &zero, &silent).unwrap_err().to_string();
        assert!(e.contains("opq-iterations"), "{e}");
    }

    #[test]
    fn opq_auto_keeps_the_start_with_the_lower_sample_error() {
        use std::sync::Mutex;
        let mut kept = std::collections::BTreeSet::new();
        let cases = [
            (correlated(3000, 16, 4), 4usize, 4u32),
            (correlated(3000, 16, 5), 8, 4),
            (clustered(3000, 16, 6), 8, 4),
            (clustered(3000, 16, 7), 4, 5),
        ];
        for (case, (mat, m, bits)) in cases.iter().enumerate() {
            let cfg = |start| PqConfig {
                subquantizers: *m,
                bits: *bits,
                sample: 2000,
                iterations: 10,
                seed: 11,
                rotation: Some(Rotation::opq(6, start)),
            };
            let events = Mutex::new(Vec::new());
            let record = |p: &Progress| events.lock().unwrap().push(p.clone());
            let (auto, report) = train_reporting(mat, &cfg(OpqStart::Auto), &record).unwrap();
            let report = report.expect("OPQ reports its start");
            let errs: Vec<OpqStart> = report.sample_errors.iter().map(|e| e.0).collect();
            assert_eq!(errs, [OpqStart::Random, OpqStart::Pca]);
            let (er, ep) = (report.sample_errors[0].1, report.sample_errors[1].1);
            let want = if ep < er {
                OpqStart::Pca
            } else {
                OpqStart::Random
            };
            assert_eq!(report.kept, want, "case {case}: random {er}, pca {ep}");
            kept.insert(report.kept.name());
            // Each forced start trains alone and reports the error auto saw for it; auto's file
            // is the kept start's, bit for bit, so its sample error is the lower of the two.
            for (start, err) in [(OpqStart::Random, er), (OpqStart::Pca, ep)] {
                let (f, r) = train_reporting(mat, &cfg(start), &silent).unwrap();
                let r = r.unwrap();
                assert_eq!(r.kept, start);
                assert_eq!(r.sample_errors, vec![(start, err)]);
                if start == report.kept {
                    assert_eq!(f.codes(), auto.codes(), "case {case}");
                    assert_eq!(f.centroids(), auto.centroids());
                    assert_eq!(f.rotation(), auto.rotation());
                } else {
                    assert!(err >= er.min(ep));
                }
            }
            // Deterministic for a seed.
            let (again, r2) = train_reporting(mat, &cfg(OpqStart::Auto), &silent).unwrap();
            assert_eq!(again.codes(), auto.codes());
            assert_eq!(r2.unwrap(), report);
            // Progress: both starts' codebooks and rounds on one counter each, then the rows.
            let events = events.into_inner().unwrap();
            for (stage, total) in [("train", 2 * *m as u64), ("rotation", 12), ("encode", 3000)] {
                let seen: Vec<&Progress> = events.iter().filter(|p| p.stage == stage).collect();
                assert!(seen.iter().all(|p| p.total == Some(total)), "{stage}");
                assert_eq!(seen.iter().map(|p| p.done).max(), Some(total), "{stage}");
            }
            let first_encode = events.iter().position(|p| p.stage == "encode").unwrap();
            assert!(events[first_encode..].iter().all(|p| p.stage == "encode"));
        }
        // Measured: the pca start is kept in all four cases (low-dimensional subspaces of
        // strongly structured rows); the random start wins on GloVe 6B 50d at 10
        // subquantizers (BENCHMARKS.md, issue 18). Either way auto equals the better forced
        // start, checked above.
        assert!(!kept.is_empty());
    }

    #[test]
    fn opq_start_names() {
        for s in [OpqStart::Auto, OpqStart::Random, OpqStart::Pca] {
            assert_eq!(OpqStart::from_name(s.name()).unwrap(), s);
        }
        let e = OpqStart::from_name("best").unwrap_err().to_string();
        assert!(
            e.contains("opq-start") && e.contains("auto, random or pca"),
            "{e}"
        );
        assert_eq!(
            Rotation::opq(5, OpqStart::Auto),
            Rotation::Opq {
                iterations: 5,
                start: OpqStart::Auto
            }
        );
        assert_eq!(Rotation::opq(5, OpqStart::Pca).start(), OpqStart::Pca);
        assert_eq!(Rotation::opq(5, OpqStart::Pca).iterations(), 5);
    }
}
