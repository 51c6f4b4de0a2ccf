//! `EmbeddingLayer`: a trainable lookup table with the semantics of `torch.nn.Embedding`.

use rustc_hash::FxHashMap;

use super::grad::{GradAccumulator, SparseGrad};
use super::init::{init_matrix, Init};
use crate::error::{Error, Result};
use crate::storage::DenseMatrix;

/// Settings of an [`EmbeddingLayer`], named and defaulted as in `torch.nn.Embedding`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingOptions {
    /// This row is zero after [`EmbeddingLayer::new`] and never receives a gradient.
    pub padding_idx: Option<usize>,
    /// Rows looked up whose `norm_type`-norm exceeds this are rescaled in place to this norm.
    pub max_norm: Option<f32>,
    /// The p of the p-norm used with `max_norm` (default 2; `f32::INFINITY` for the max norm).
    pub norm_type: f32,
    /// Divide each row's gradient by how often its id occurs in the mini-batch.
    pub scale_grad_by_freq: bool,
    /// A frozen layer still looks rows up but its backward pass yields no gradient.
    pub frozen: bool,
}

impl Default for EmbeddingOptions {
    fn default() -> Self {
        EmbeddingOptions {
            padding_idx: None,
            max_norm: None,
            norm_type: 2.0,
            scale_grad_by_freq: false,
            frozen: false,
        }
    }
}

/// A `rows × dims` weight matrix looked up by id, with a sparse backward pass.
///
/// Semantics follow `torch.nn.Embedding`: `forward` gathers rows (after renormalising the looked-up
/// rows in place when `max_norm` is set); `backward` returns the gradient of the weight as a
/// [`SparseGrad`] (unique sorted rows, repeated ids summed), leaving out `padding_idx`, divided by
/// the id's frequency in the batch when `scale_grad_by_freq` is set, and empty when frozen.
/// Ids out of range and gradients of the wrong shape are errors, never panics.
#[derive(Debug, Clone)]
pub struct EmbeddingLayer {
    weight: DenseMatrix,
    options: EmbeddingOptions,
}

impl EmbeddingLayer {
    /// A new layer of `rows × dims` filled by `init` from `seed`; the padding row, if any, is
    /// zeroed afterwards (as `torch.nn.Embedding` does on construction).
    pub fn new(
        rows: usize,
        dims: usize,
        init: Init,
        seed: u64,
        options: EmbeddingOptions,
    ) -> Result<Self> {
        let weight = initial_weight(rows, dims, init, seed, &options)?;
        Ok(EmbeddingLayer { weight, options })
    }

    /// A layer over an existing weight, taken as it is (the padding row is not zeroed, as with
    /// `torch.nn.Embedding(_weight=...)` and `from_pretrained`).
    pub fn from_weight(weight: DenseMatrix, options: EmbeddingOptions) -> Result<Self> {
        let weight = checked_weight(weight, &options)?;
        Ok(EmbeddingLayer { weight, options })
    }

    /// Like `torch.nn.Embedding.from_pretrained(embeddings, freeze)`: the given matrix, frozen
    /// when `freeze` is true, other options at their defaults.
    pub fn from_pretrained(embeddings: DenseMatrix, freeze: bool) -> Result<Self> {
        Self::from_weight(
            embeddings,
            EmbeddingOptions {
                frozen: freeze,
                ..Default::default()
            },
        )
    }

    /// Number of rows (ids `0..rows()`).
    pub fn rows(&self) -> usize {
        self.weight.rows()
    }

    /// Width of a row.
    pub fn dims(&self) -> usize {
        self.weight.dims()
    }

    /// The settings.
    pub fn options(&self) -> &EmbeddingOptions {
        &self.options
    }

    /// True when the layer yields no gradient.
    pub fn is_frozen(&self) -> bool {
        self.options.frozen
    }

    /// Freezes or unfreezes the layer.
    pub fn set_frozen(&mut self, frozen: bool) {
        self.options.frozen = frozen;
    }

    /// The weight matrix.
    pub fn weight(&self) -> &DenseMatrix {
        &self.weight
    }

    /// The weight matrix, mutable (for an optimiser step).
    pub fn weight_mut(&mut self) -> &mut DenseMatrix {
        &mut self.weight
    }

    /// The weight matrix, giving up the layer.
    pub fn into_weight(self) -> DenseMatrix {
        self.weight
    }

    /// The rows of `ids`, concatenated: `ids.len() × dims` values. With `max_norm` set, the
    /// looked-up rows whose norm exceeds it are first rescaled in place (each distinct row once),
    /// which changes the weight, as in torch.
    pub fn forward(&mut self, ids: &[usize]) -> Result<Vec<f32>> {
        check_ids(ids, self.rows())?;
        if let Some(max_norm) = self.options.max_norm {
            renorm_rows(&mut self.weight, ids, max_norm, self.options.norm_type);
        }
        let d = self.dims();
        let mut out = Vec::with_capacity(ids.len() * d);
        for &id in ids {
            out.extend_from_slice(self.weight.row(id));
        }
        Ok(out)
    }

    /// The gradient of the weight given the gradient of the output of `forward(ids)`
    /// (`ids.len() × dims` values). Does not change the layer.
    pub fn backward(&self, ids: &[usize], grad_output: &[f32]) -> Result<SparseGrad> {
        check_ids(ids, self.rows())?;
        let d = self.dims();
        if grad_output.len() != ids.len() * d {
            return Err(Error::shape(
                "grad_output",
                format!("{} × {d} values", ids.len()),
                format!("{} values", grad_output.len()),
            ));
        }
        if self.options.frozen {
            return Ok(SparseGrad::empty(d));
        }
        let freq = self
            .options
            .scale_grad_by_freq
            .then(|| frequencies(ids.iter().copied()));
        let mut acc = GradAccumulator::new(d);
        for (i, &id) in ids.iter().enumerate() {
            if Some(id) == self.options.padding_idx {
                continue;
            }
            let scale = match &freq {
                Some(f) => 1.0 / f[&id] as f32,
                None => 1.0,
            };
            acc.add_scaled(id, scale, &grad_output[i * d..(i + 1) * d]);
        }
        Ok(acc.finish())
    }
}

/// How often each id occurs.
pub(crate) fn frequencies(ids: impl Iterator<Item = usize>) -> FxHashMap<usize, u32> {
    let mut f = FxHashMap::default();
    for id in ids {
        *f.entry(id).or_insert(0) += 1;
    }
    f
}

/// Validates `padding_idx`, `max_norm` and `norm_type` for a matrix of `rows` rows.
/// `weight` after checking `options` against it and that it has at least one column (shared
/// by the layer and the bag).
pub(crate) fn checked_weight(
    weight: DenseMatrix,
    options: &EmbeddingOptions,
) -> Result<DenseMatrix> {
    check_options(options, weight.rows())?;
    if weight.dims() == 0 {
        return Err(Error::invalid("dims", "must be at least 1"));
    }
    Ok(weight)
}

/// A new weight: `init` with `seed`, checked like [`checked_weight`], the padding row zeroed
/// (as torch does).
pub(crate) fn initial_weight(
    rows: usize,
    dims: usize,
    init: Init,
    seed: u64,
    options: &EmbeddingOptions,
) -> Result<DenseMatrix> {
    let mut weight = checked_weight(init_matrix(rows, dims, init, seed)?, options)?;
    if let Some(p) = options.padding_idx {
        weight.row_mut(p).fill(0.0);
    }
    Ok(weight)
}

pub(crate) fn check_options(options: &EmbeddingOptions, rows: usize) -> Result<()> {
    if let Some(p) = options.padding_idx {
        if p >= rows {
            return Err(Error::invalid(
                "padding_idx",
                format!("{p} is out of range for {rows} rows"),
            ));
        }
    }
    if let Some(m) = options.max_norm {
        if !(m.is_finite() && m >= 0.0) {
            return Err(Error::invalid(
                "max_norm",
                "must be finite and non-negative",
            ));
        }
    }
    if options.norm_type.is_nan() || options.norm_type <= 0.0 {
        return Err(Error::invalid(
            "norm_type",
            "must be positive (or infinity for the max norm)",
        ));
    }
    Ok(())
}

/// An error naming the first id that is not below `rows`.
pub(crate) fn check_ids(ids: &[usize], rows: usize) -> Result<()> {
    if let Some((pos, id)) = ids.iter().enumerate().find(|(_, &id)| id >= rows) {
        return Err(Error::invalid(
            "ids",
            format!("id {id} at position {pos} is out of range for {rows} rows"),
        ));
    }
    Ok(())
}

/// torch's `embedding_renorm_`: each distinct row of `ids` whose `norm_type`-norm exceeds
/// `max_norm` is multiplied by `max_norm / (norm + 1e-7)`.
pub(crate) fn renorm_rows(weight: &mut DenseMatrix, ids: &[usize], max_norm: f32, norm_type: f32) {
    let mut unique: Vec<usize> = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    for id in unique {
        let row = weight.row_mut(id);
        let norm = p_norm(row, norm_type);
        if norm > max_norm as f64 {
            let scale = (max_norm as f64 / (norm + 1e-7)) as f32;
            row.iter_mut().for_each(|v| *v *= scale);
        }
    }
}

/// The p-norm of `x`, computed in f64 (p = ∞: the largest absolute value).
pub(crate) fn p_norm(x: &[f32], p: f32) -> f64 {
    if p.is_infinite() {
        return x.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
    }
    let p = p as f64;
    if p == 2.0 {
        return x
            .iter()
            .map(|&v| (v as f64) * (v as f64))
            .sum::<f64>()
            .sqrt();
    }
    if p == 1.0 {
        return x.iter().map(|&v| (v as f64).abs()).sum();
    }
    x.iter()
        .map(|&v| (v as f64).abs().powf(p))
        .sum::<f64>()
        .powf(1.0 / p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::testutil::{assert_close, fd_check, normals, quad_loss};

    fn layer(rows: usize, dims: usize, options: EmbeddingOptions) -> EmbeddingLayer {
        EmbeddingLayer::new(
            rows,
            dims,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            7,
            options,
        )
        .unwrap()
    }

    #[test]
    fn forward_gathers_rows() {
        let w = DenseMatrix::new(3, 2, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let mut l = EmbeddingLayer::from_pretrained(w, false).unwrap();
        assert_eq!(l.forward(&[2, 0, 2]).unwrap(), vec![5., 6., 1., 2., 5., 6.]);
        assert!(l.forward(&[]).unwrap().is_empty());
        assert!(matches!(
            l.forward(&[0, 3]),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn gradient_matches_finite_differences_with_repeated_ids() {
        let mut l = layer(6, 4, EmbeddingOptions::default());
        let ids = [3, 1, 3, 3, 5];
        let c = normals(1, ids.len() * 4);
        let out = l.forward(&ids).unwrap();
        let (_, grad_out) = quad_loss(&out, &c);
        let g = l.backward(&ids, &grad_out).unwrap();
        assert_eq!(g.rows(), &[1, 3, 5]);
        fd_check(l.weight().clone(), &g, &[1, 3, 5, 0], |w| {
            let mut l = EmbeddingLayer::from_weight(w, EmbeddingOptions::default()).unwrap();
            quad_loss(&l.forward(&ids).unwrap(), &c).0
        });
    }

    #[test]
    fn padding_row_is_zero_and_gets_no_gradient() {
        let opts = EmbeddingOptions {
            padding_idx: Some(2),
            ..Default::default()
        };
        let mut l = layer(5, 3, opts);
        assert_eq!(l.weight().row(2), &[0.0; 3]);
        assert!(l.weight().row(1).iter().any(|&v| v != 0.0));
        let ids = [2, 4, 2, 0];
        let out = l.forward(&ids).unwrap();
        assert_eq!(&out[0..3], &[0.0; 3]);
        let c = normals(2, ids.len() * 3);
        let (_, grad_out) = quad_loss(&out, &c);
        let g = l.backward(&ids, &grad_out).unwrap();
        assert_eq!(g.rows(), &[0, 4]);
        fd_check(l.weight().clone(), &g, &[0, 4], |w| {
            let mut l = EmbeddingLayer::from_weight(w, opts).unwrap();
            quad_loss(&l.forward(&ids).unwrap(), &c).0
        });
        // from_pretrained keeps a non-zero padding row, as torch does.
        let w = DenseMatrix::new(2, 1, vec![1.0, 2.0]).unwrap();
        let l = EmbeddingLayer::from_weight(w, opts_pad(1)).unwrap();
        assert_eq!(l.weight().row(1), &[2.0]);
        assert!(EmbeddingLayer::new(2, 2, Init::Zeros, 0, opts).is_err());
    }

    fn opts_pad(p: usize) -> EmbeddingOptions {
        EmbeddingOptions {
            padding_idx: Some(p),
            ..Default::default()
        }
    }

    #[test]
    fn scale_grad_by_freq_divides_by_batch_frequency() {
        let opts = EmbeddingOptions {
            scale_grad_by_freq: true,
            ..Default::default()
        };
        let mut l = layer(4, 3, opts);
        let ids = [1, 2, 1, 1, 3, 2];
        let c = normals(3, ids.len() * 3);
        let out = l.forward(&ids).unwrap();
        let (_, grad_out) = quad_loss(&out, &c);
        let g = l.backward(&ids, &grad_out).unwrap();
        // The scaled gradient is the true gradient divided by the id's count: 3, 2, 1.
        let mut unscaled = g.clone();
        let mut values = unscaled.values().to_vec();
        for (i, f) in [3.0f32, 2.0, 1.0].iter().enumerate() {
            values[i * 3..(i + 1) * 3].iter_mut().for_each(|v| *v *= f);
        }
        unscaled = SparseGrad::from_parts(unscaled.rows().to_vec(), 3, values).unwrap();
        fd_check(l.weight().clone(), &unscaled, &[0, 1, 2, 3], |w| {
            let mut l = EmbeddingLayer::from_weight(w, opts).unwrap();
            quad_loss(&l.forward(&ids).unwrap(), &c).0
        });
    }

    #[test]
    fn max_norm_renormalises_looked_up_rows_in_place() {
        // Rows: norm 5, norm 0.5, norm 13 (L2); row 2 is not looked up.
        let w = DenseMatrix::new(3, 2, vec![3., 4., 0.3, 0.4, 5., 12.]).unwrap();
        let opts = EmbeddingOptions {
            max_norm: Some(1.0),
            ..Default::default()
        };
        let mut l = EmbeddingLayer::from_weight(w, opts).unwrap();
        let out = l.forward(&[0, 1, 0]).unwrap();
        let s = (1.0 / (5.0 + 1e-7)) as f32;
        assert_close(&out, &[3. * s, 4. * s, 0.3, 0.4, 3. * s, 4. * s], 1e-7);
        assert_close(l.weight().row(0), &[3. * s, 4. * s], 1e-7);
        assert_eq!(l.weight().row(2), &[5., 12.]);
        // A second lookup leaves the row as it is (its norm is now just under max_norm).
        let again = l.forward(&[0]).unwrap();
        assert_close(&again, &[3. * s, 4. * s], 1e-7);

        // norm_type 1 and infinity.
        let w = DenseMatrix::new(1, 2, vec![3., -4.]).unwrap();
        let mut l1 = EmbeddingLayer::from_weight(
            w.clone(),
            EmbeddingOptions {
                max_norm: Some(2.0),
                norm_type: 1.0,
                ..Default::default()
            },
        )
        .unwrap();
        let s1 = (2.0 / (7.0 + 1e-7)) as f32;
        assert_close(&l1.forward(&[0]).unwrap(), &[3. * s1, -4. * s1], 1e-7);
        let mut linf = EmbeddingLayer::from_weight(
            w,
            EmbeddingOptions {
                max_norm: Some(2.0),
                norm_type: f32::INFINITY,
                ..Default::default()
            },
        )
        .unwrap();
        let si = (2.0 / (4.0 + 1e-7)) as f32;
        assert_close(&linf.forward(&[0]).unwrap(), &[3. * si, -4. * si], 1e-7);
    }

    #[test]
    fn frozen_layer_has_no_gradient() {
        let w = DenseMatrix::new(2, 2, vec![1., 2., 3., 4.]).unwrap();
        let mut l = EmbeddingLayer::from_pretrained(w, true).unwrap();
        assert!(l.is_frozen());
        assert_eq!(l.forward(&[1]).unwrap(), vec![3., 4.]);
        let g = l.backward(&[1], &[1.0, 1.0]).unwrap();
        assert!(g.is_empty());
        l.set_frozen(false);
        assert_eq!(l.backward(&[1], &[1.0, 1.0]).unwrap().rows(), &[1]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let l = layer(3, 2, EmbeddingOptions::default());
        assert!(matches!(
            l.backward(&[0, 1], &[1.0; 3]),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            l.backward(&[0, 7], &[1.0; 4]),
            Err(Error::InvalidArgument { .. })
        ));
        let bad = |o: EmbeddingOptions| EmbeddingLayer::new(3, 2, Init::Zeros, 0, o).is_err();
        assert!(bad(opts_pad(3)));
        assert!(bad(EmbeddingOptions {
            max_norm: Some(f32::NAN),
            ..Default::default()
        }));
        assert!(bad(EmbeddingOptions {
            norm_type: 0.0,
            ..Default::default()
        }));
        assert!(EmbeddingLayer::new(3, 0, Init::Zeros, 0, EmbeddingOptions::default()).is_err());
    }
}
