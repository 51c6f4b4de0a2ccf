//! The trainable embedding layer (`torch.nn.Embedding` semantics), `EmbeddingBag`, initialisers
//! and sparse optimisers.
//!
//! - [`EmbeddingLayer`]: `forward(ids)` gathers rows, `backward(ids, grad_output)` returns a
//!   [`SparseGrad`]; `padding_idx`, `max_norm`/`norm_type`, `scale_grad_by_freq`, frozen mode.
//! - [`EmbeddingBag`]: sums, means or maxima of bags of rows given by offsets.
//! - [`Sgd`], [`Adagrad`], [`SparseAdam`]: [`SparseOptimizer`]s that touch only the rows of a
//!   gradient.
//! - [`init_matrix`] with [`Init`]: seeded initialisers.
//!
//! ```
//! use embers::layer::{EmbeddingLayer, EmbeddingOptions, Init, SparseAdam, SparseOptimizer};
//! let opts = EmbeddingOptions { padding_idx: Some(0), ..Default::default() };
//! let mut layer = EmbeddingLayer::new(1000, 64, Init::Normal { mean: 0.0, std: 1.0 }, 42, opts)?;
//! let mut adam = SparseAdam::new(1e-3)?;
//! let ids = [5, 17, 5, 0];
//! let out = layer.forward(&ids)?;
//! assert_eq!(out.len(), 4 * 64);
//! let grad = layer.backward(&ids, &vec![1.0; out.len()])?;
//! assert_eq!(grad.rows(), &[5, 17]); // id 5 twice, summed; 0 is padding
//! assert_eq!(grad.get(5).unwrap()[0], 2.0);
//! let before = layer.weight().row(17).to_vec();
//! adam.step(layer.weight_mut(), &grad)?;
//! assert_ne!(layer.weight().row(17), &before[..]);
//! # Ok::<(), embers::Error>(())
//! ```

pub mod bag;
pub mod embedding;
pub mod grad;
pub mod init;
pub mod optim;

pub use bag::{BagMode, EmbeddingBag, EmbeddingBagOptions};
pub use embedding::{EmbeddingLayer, EmbeddingOptions};
pub use grad::SparseGrad;
pub use init::{init_matrix, Init};
pub use optim::{Adagrad, Sgd, SparseAdam, SparseOptimizer};

/// Helpers shared by the gradient tests of this folder.
#[cfg(test)]
pub(crate) mod testutil {
    use super::SparseGrad;
    use crate::rng::Rng;
    use crate::storage::DenseMatrix;

    /// `n` draws from N(0, 1).
    pub fn normals(seed: u64, n: usize) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..n).map(|_| rng.normal()).collect()
    }

    /// The loss `Σ c·o + ½ Σ o²` of an output `o` (in f64) and its gradient `c + o`.
    pub fn quad_loss(out: &[f32], c: &[f32]) -> (f64, Vec<f32>) {
        assert_eq!(out.len(), c.len());
        let loss = out
            .iter()
            .zip(c)
            .map(|(&o, &c)| c as f64 * o as f64 + 0.5 * o as f64 * o as f64)
            .sum();
        (loss, out.iter().zip(c).map(|(o, c)| o + c).collect())
    }

    pub fn assert_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len(), "lengths differ: {got:?} vs {want:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "element {i}: got {g}, want {w} (tolerance {tol})\n got {got:?}\nwant {want:?}"
            );
        }
    }

    /// Compares `grad` with central finite differences of `loss` at `weight`, for every element
    /// of `rows` (rows absent from `grad` must have a zero numerical gradient).
    pub fn fd_check(
        weight: DenseMatrix,
        grad: &SparseGrad,
        rows: &[usize],
        loss: impl Fn(DenseMatrix) -> f64,
    ) {
        let eps = 1e-2f32;
        let d = weight.dims();
        for &r in rows {
            for j in 0..d {
                let at = |delta: f32| {
                    let mut w = weight.clone();
                    w.row_mut(r)[j] += delta;
                    loss(w)
                };
                let numeric = ((at(eps) - at(-eps)) / (2.0 * eps as f64)) as f32;
                let analytic = grad.get(r).map_or(0.0, |g| g[j]);
                assert!(
                    (numeric - analytic).abs() <= 2e-3 * (1.0 + numeric.abs()),
                    "row {r} dim {j}: finite difference {numeric}, backward {analytic}"
                );
            }
        }
    }
}
