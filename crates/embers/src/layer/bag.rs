//! `EmbeddingBag`: sums, means or maxima of bags of rows, with the semantics of `torch.nn.EmbeddingBag`.

use std::ops::Range;

use super::embedding::{check_ids, checked_weight, initial_weight, renorm_rows, EmbeddingOptions};
use super::grad::{GradAccumulator, SparseGrad};
use super::init::Init;
use crate::error::{Error, Result};
use crate::storage::DenseMatrix;

/// How the rows of a bag are reduced to one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BagMode {
    /// The (optionally weighted) sum.
    Sum,
    /// The mean over the bag's non-padding ids (torch's default).
    #[default]
    Mean,
    /// The maximum of each dimension.
    Max,
}

/// Settings of an [`EmbeddingBag`], named and defaulted as in `torch.nn.EmbeddingBag`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmbeddingBagOptions {
    /// The reduction.
    pub mode: BagMode,
    /// Ids equal to this are left out of the reduction (and of the mean's count); the row is zero
    /// after [`EmbeddingBag::new`] and never receives a gradient.
    pub padding_idx: Option<usize>,
    /// Rows looked up whose `norm_type`-norm exceeds this are rescaled in place to this norm.
    pub max_norm: Option<f32>,
    /// The p of the p-norm used with `max_norm`.
    pub norm_type: f32,
    /// `offsets` has one more element than there are bags, the last being `ids.len()` (CSR style).
    pub include_last_offset: bool,
    /// A frozen bag yields no gradient.
    pub frozen: bool,
}

impl Default for EmbeddingBagOptions {
    fn default() -> Self {
        EmbeddingBagOptions {
            mode: BagMode::Mean,
            padding_idx: None,
            max_norm: None,
            norm_type: 2.0,
            include_last_offset: false,
            frozen: false,
        }
    }
}

impl EmbeddingBagOptions {
    fn as_embedding_options(&self) -> EmbeddingOptions {
        EmbeddingOptions {
            padding_idx: self.padding_idx,
            max_norm: self.max_norm,
            norm_type: self.norm_type,
            scale_grad_by_freq: false,
            frozen: self.frozen,
        }
    }
}

/// A weight matrix whose rows are looked up in bags and reduced per bag, with a sparse backward.
///
/// The ids of a mini-batch are one flat list; `offsets[b]` is where bag `b` starts (the first
/// offset must be 0, offsets never decrease, and without `include_last_offset` the last bag runs
/// to the end of `ids`). An empty bag, or one holding only padding ids, gives a zero row.
/// `per_sample_weights` (one weight per id) are allowed with [`BagMode::Sum`] only.
#[derive(Debug, Clone)]
pub struct EmbeddingBag {
    weight: DenseMatrix,
    options: EmbeddingBagOptions,
}

impl EmbeddingBag {
    /// A new bag layer of `rows × dims` filled by `init` from `seed`, padding row zeroed.
    pub fn new(
        rows: usize,
        dims: usize,
        init: Init,
        seed: u64,
        options: EmbeddingBagOptions,
    ) -> Result<Self> {
        let weight = initial_weight(rows, dims, init, seed, &options.as_embedding_options())?;
        Ok(EmbeddingBag { weight, options })
    }

    /// A bag layer over an existing weight, taken as it is.
    pub fn from_weight(weight: DenseMatrix, options: EmbeddingBagOptions) -> Result<Self> {
        let weight = checked_weight(weight, &options.as_embedding_options())?;
        Ok(EmbeddingBag { weight, options })
    }

    /// Like `torch.nn.EmbeddingBag.from_pretrained(embeddings, freeze, mode=...)`.
    pub fn from_pretrained(embeddings: DenseMatrix, freeze: bool, mode: BagMode) -> Result<Self> {
        Self::from_weight(
            embeddings,
            EmbeddingBagOptions {
                mode,
                frozen: freeze,
                ..Default::default()
            },
        )
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.weight.rows()
    }

    /// Width of a row.
    pub fn dims(&self) -> usize {
        self.weight.dims()
    }

    /// The settings.
    pub fn options(&self) -> &EmbeddingBagOptions {
        &self.options
    }

    /// The weight matrix.
    pub fn weight(&self) -> &DenseMatrix {
        &self.weight
    }

    /// The weight matrix, mutable (for an optimiser step).
    pub fn weight_mut(&mut self) -> &mut DenseMatrix {
        &mut self.weight
    }

    /// One reduced row per bag: `bags × dims` values. With `max_norm` set, looked-up rows are
    /// first renormalised in place as in [`EmbeddingLayer::forward`](super::EmbeddingLayer::forward).
    pub fn forward(
        &mut self,
        ids: &[usize],
        offsets: &[usize],
        per_sample_weights: Option<&[f32]>,
    ) -> Result<Vec<f32>> {
        let bags = self.check(ids, offsets, per_sample_weights)?;
        if let Some(max_norm) = self.options.max_norm {
            renorm_rows(&mut self.weight, ids, max_norm, self.options.norm_type);
        }
        let d = self.dims();
        let mut out = vec![0.0f32; bags.len() * d];
        for (b, range) in bags.into_iter().enumerate() {
            let dst = &mut out[b * d..(b + 1) * d];
            match self.options.mode {
                BagMode::Sum | BagMode::Mean => {
                    let mut count = 0usize;
                    for i in range {
                        if Some(ids[i]) == self.options.padding_idx {
                            continue;
                        }
                        let w = per_sample_weights.map_or(1.0, |p| p[i]);
                        for (o, v) in dst.iter_mut().zip(self.weight.row(ids[i])) {
                            *o += w * v;
                        }
                        count += 1;
                    }
                    if self.options.mode == BagMode::Mean && count > 0 {
                        let inv = 1.0 / count as f32;
                        dst.iter_mut().for_each(|v| *v *= inv);
                    }
                }
                BagMode::Max => {
                    let arg = self.argmax(ids, range);
                    for (j, a) in arg.into_iter().enumerate() {
                        if let Some(id) = a {
                            dst[j] = self.weight.row(id)[j];
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The gradient of the weight given the gradient of the output of `forward` with the same
    /// arguments (`bags × dims` values). In max mode the gradient of each dimension goes to the row
    /// that held the maximum, found again from the current weight: call it before the weight
    /// changes.
    pub fn backward(
        &self,
        ids: &[usize],
        offsets: &[usize],
        per_sample_weights: Option<&[f32]>,
        grad_output: &[f32],
    ) -> Result<SparseGrad> {
        let bags = self.check(ids, offsets, per_sample_weights)?;
        let d = self.dims();
        if grad_output.len() != bags.len() * d {
            return Err(Error::shape(
                "grad_output",
                format!("{} × {d} values", bags.len()),
                format!("{} values", grad_output.len()),
            ));
        }
        if self.options.frozen {
            return Ok(SparseGrad::empty(d));
        }
        let mut acc = GradAccumulator::new(d);
        for (b, range) in bags.into_iter().enumerate() {
            let g = &grad_output[b * d..(b + 1) * d];
            let kept = || {
                range
                    .clone()
                    .filter(|&i| Some(ids[i]) != self.options.padding_idx)
            };
            match self.options.mode {
                BagMode::Sum => {
                    for i in kept() {
                        acc.add_scaled(ids[i], per_sample_weights.map_or(1.0, |p| p[i]), g);
                    }
                }
                BagMode::Mean => {
                    let count = kept().count();
                    for i in kept() {
                        acc.add_scaled(ids[i], 1.0 / count as f32, g);
                    }
                }
                BagMode::Max => {
                    for (j, a) in self.argmax(ids, range.clone()).into_iter().enumerate() {
                        if let Some(id) = a {
                            acc.row_mut(id)[j] += g[j];
                        }
                    }
                }
            }
        }
        Ok(acc.finish())
    }

    /// The gradient of `per_sample_weights` (sum mode): for id `i` of bag `b`, the dot product of
    /// its row with the bag's output gradient, 0 for padding ids; as torch computes it when the
    /// weights require a gradient (whether or not the layer itself is frozen).
    pub fn per_sample_weights_backward(
        &self,
        ids: &[usize],
        offsets: &[usize],
        per_sample_weights: &[f32],
        grad_output: &[f32],
    ) -> Result<Vec<f32>> {
        let bags = self.check(ids, offsets, Some(per_sample_weights))?;
        let d = self.dims();
        if grad_output.len() != bags.len() * d {
            return Err(Error::shape(
                "grad_output",
                format!("{} × {d} values", bags.len()),
                format!("{} values", grad_output.len()),
            ));
        }
        let mut out = vec![0.0f32; ids.len()];
        for (b, range) in bags.into_iter().enumerate() {
            let g = &grad_output[b * d..(b + 1) * d];
            for i in range {
                if Some(ids[i]) != self.options.padding_idx {
                    out[i] = crate::kernels::dot(self.weight.row(ids[i]), g);
                }
            }
        }
        Ok(out)
    }

    /// For each dimension, the row holding the bag's maximum (the first one on ties, as torch's
    /// CPU kernel), or `None` for an empty or all-padding bag.
    fn argmax(&self, ids: &[usize], range: Range<usize>) -> Vec<Option<usize>> {
        let d = self.dims();
        let mut arg: Vec<Option<usize>> = vec![None; d];
        for i in range {
            let id = ids[i];
            if Some(id) == self.options.padding_idx {
                continue;
            }
            let row = self.weight.row(id);
            for j in 0..d {
                match arg[j] {
                    Some(best) if row[j] <= self.weight.row(best)[j] => {}
                    _ => arg[j] = Some(id),
                }
            }
        }
        arg
    }

    /// Validates the arguments and returns the range of `ids` of each bag.
    fn check(
        &self,
        ids: &[usize],
        offsets: &[usize],
        per_sample_weights: Option<&[f32]>,
    ) -> Result<Vec<Range<usize>>> {
        check_ids(ids, self.rows())?;
        if let Some(p) = per_sample_weights {
            if self.options.mode != BagMode::Sum {
                return Err(Error::invalid(
                    "per_sample_weights",
                    format!("only supported with mode sum (got {:?})", self.options.mode),
                ));
            }
            if p.len() != ids.len() {
                return Err(Error::shape(
                    "per_sample_weights",
                    format!("{} values (one per id)", ids.len()),
                    format!("{} values", p.len()),
                ));
            }
        }
        bag_ranges(ids.len(), offsets, self.options.include_last_offset)
    }
}

/// The range of ids of each bag, following torch's `offsets` rules.
fn bag_ranges(n: usize, offsets: &[usize], include_last_offset: bool) -> Result<Vec<Range<usize>>> {
    if offsets.is_empty() {
        if include_last_offset {
            return Err(Error::invalid(
                "offsets",
                "with include_last_offset, offsets needs at least one element",
            ));
        }
        if n > 0 {
            return Err(Error::invalid("offsets", "no bags, but ids were given"));
        }
        return Ok(Vec::new());
    }
    if offsets[0] != 0 {
        return Err(Error::invalid(
            "offsets",
            format!("offsets[0] must be 0 (got {})", offsets[0]),
        ));
    }
    for (k, w) in offsets.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(Error::invalid(
                "offsets",
                format!(
                    "offsets decrease at position {}: {} < {}",
                    k + 1,
                    w[1],
                    w[0]
                ),
            ));
        }
    }
    let last = *offsets.last().expect("non-empty");
    if last > n {
        return Err(Error::invalid(
            "offsets",
            format!("offset {last} is past the end of {n} ids"),
        ));
    }
    if include_last_offset && last != n {
        return Err(Error::invalid(
            "offsets",
            format!("with include_last_offset, the last offset must be the number of ids ({n}), got {last}"),
        ));
    }
    let mut ends: Vec<usize> = offsets[1..].to_vec();
    if !include_last_offset {
        ends.push(n);
    }
    Ok(offsets.iter().zip(ends).map(|(&s, e)| s..e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::testutil::{assert_close, fd_check, normals, quad_loss};

    fn bag(mode: BagMode, padding_idx: Option<usize>) -> EmbeddingBag {
        let options = EmbeddingBagOptions {
            mode,
            padding_idx,
            ..Default::default()
        };
        EmbeddingBag::new(
            7,
            3,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            11,
            options,
        )
        .unwrap()
    }

    /// Runs forward + backward of the quadratic loss and checks the gradient of every row
    /// against finite differences.
    fn check_grad(
        mut b: EmbeddingBag,
        ids: &[usize],
        offsets: &[usize],
        psw: Option<&[f32]>,
    ) -> SparseGrad {
        let out = b.forward(ids, offsets, psw).unwrap();
        let c = normals(5, out.len());
        let (_, grad_out) = quad_loss(&out, &c);
        let g = b.backward(ids, offsets, psw, &grad_out).unwrap();
        let options = *b.options();
        let rows: Vec<usize> = (0..b.rows())
            .filter(|&r| Some(r) != options.padding_idx)
            .collect();
        fd_check(b.weight().clone(), &g, &rows, |w| {
            let mut b = EmbeddingBag::from_weight(w, options).unwrap();
            quad_loss(&b.forward(ids, offsets, psw).unwrap(), &c).0
        });
        g
    }

    const IDS: [usize; 8] = [1, 2, 4, 4, 3, 1, 5, 6];
    // Bags: [1 2 4], [] (empty), [4 3 1], [5 6].
    const OFFSETS: [usize; 4] = [0, 3, 3, 6];

    #[test]
    fn sum_mean_max_forward_by_hand() {
        let w = DenseMatrix::new(4, 2, vec![0., 0., 1., 5., 2., -1., 3., 2.]).unwrap();
        let ids = [1, 2, 3, 2];
        let offsets = [0, 3, 3];
        let mut sum = EmbeddingBag::from_pretrained(w.clone(), false, BagMode::Sum).unwrap();
        assert_eq!(
            sum.forward(&ids, &offsets, None).unwrap(),
            vec![6., 6., 0., 0., 2., -1.]
        );
        assert_eq!(
            sum.forward(&ids, &offsets, Some(&[1., 0.5, -1., 2.]))
                .unwrap(),
            vec![-1., 2.5, 0., 0., 4., -2.]
        );
        let mut mean = EmbeddingBag::from_pretrained(w.clone(), false, BagMode::Mean).unwrap();
        assert_close(
            &mean.forward(&ids, &offsets, None).unwrap(),
            &[2., 2., 0., 0., 2., -1.],
            1e-7,
        );
        let mut max = EmbeddingBag::from_pretrained(w.clone(), false, BagMode::Max).unwrap();
        assert_eq!(
            max.forward(&ids, &offsets, None).unwrap(),
            vec![3., 5., 0., 0., 2., -1.]
        );
        // include_last_offset: the same bags written CSR style.
        let mut csr = EmbeddingBag::from_weight(
            w,
            EmbeddingBagOptions {
                mode: BagMode::Sum,
                include_last_offset: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            csr.forward(&ids, &[0, 3, 3, 4], None).unwrap(),
            vec![6., 6., 0., 0., 2., -1.]
        );
        assert!(csr.forward(&ids, &[0, 3, 3], None).is_err());
    }

    #[test]
    fn padding_is_left_out_of_sum_mean_and_max() {
        let w = DenseMatrix::new(3, 2, vec![-5., -5., 1., 2., 3., -4.]).unwrap();
        let opts = |mode| EmbeddingBagOptions {
            mode,
            padding_idx: Some(0),
            ..Default::default()
        };
        let ids = [0, 1, 0, 2, 0, 0];
        let offsets = [0, 4];
        let run = |mode| {
            EmbeddingBag::from_weight(w.clone(), opts(mode))
                .unwrap()
                .forward(&ids, &offsets, None)
                .unwrap()
        };
        // The padding row is deliberately non-zero here, to show it is skipped, not added.
        assert_eq!(run(BagMode::Sum), vec![4., -2., 0., 0.]);
        assert_eq!(run(BagMode::Mean), vec![2., -1., 0., 0.]);
        assert_eq!(run(BagMode::Max), vec![3., 2., 0., 0.]);
        let mut b = EmbeddingBag::from_weight(w, opts(BagMode::Mean)).unwrap();
        b.forward(&ids, &offsets, None).unwrap();
        let g = b.backward(&ids, &offsets, None, &[1., 1., 1., 1.]).unwrap();
        assert_eq!(g.rows(), &[1, 2]);
        assert_eq!(g.values(), &[0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let g = check_grad(bag(BagMode::Sum, None), &IDS, &OFFSETS, None);
        assert_eq!(g.rows(), &[1, 2, 3, 4, 5, 6]);
        check_grad(bag(BagMode::Mean, None), &IDS, &OFFSETS, None);
        check_grad(bag(BagMode::Max, None), &IDS, &OFFSETS, None);
        let psw = normals(9, IDS.len());
        check_grad(bag(BagMode::Sum, None), &IDS, &OFFSETS, Some(&psw));
        for mode in [BagMode::Sum, BagMode::Mean, BagMode::Max] {
            let g = check_grad(bag(mode, Some(4)), &IDS, &OFFSETS, None);
            assert!(g.get(4).is_none(), "{mode:?}: padding row got a gradient");
        }
        check_grad(bag(BagMode::Sum, Some(4)), &IDS, &OFFSETS, Some(&psw));
        // Only empty bags: zero output, no gradient.
        let mut b = bag(BagMode::Max, None);
        assert_eq!(b.forward(&[], &[0, 0], None).unwrap(), vec![0.0; 6]);
        assert!(b
            .backward(&[], &[0, 0], None, &[1.0; 6])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn per_sample_weights_gradient_matches_finite_differences() {
        let mut b = bag(BagMode::Sum, Some(4));
        let psw = normals(9, IDS.len());
        let out = b.forward(&IDS, &OFFSETS, Some(&psw)).unwrap();
        let c = normals(5, out.len());
        let (_, grad_out) = quad_loss(&out, &c);
        let g = b
            .per_sample_weights_backward(&IDS, &OFFSETS, &psw, &grad_out)
            .unwrap();
        let eps = 1e-2f32;
        for i in 0..IDS.len() {
            let at = |delta: f32| {
                let mut p = psw.clone();
                p[i] += delta;
                quad_loss(&b.clone().forward(&IDS, &OFFSETS, Some(&p)).unwrap(), &c).0
            };
            let numeric = ((at(eps) - at(-eps)) / (2.0 * eps as f64)) as f32;
            assert!(
                (numeric - g[i]).abs() <= 2e-3 * (1.0 + numeric.abs()),
                "weight {i}: finite difference {numeric}, backward {}",
                g[i]
            );
        }
        // Ids 4 (padding) get 0.
        assert_eq!((g[2], g[3]), (0.0, 0.0));
        assert!(bag(BagMode::Mean, None)
            .per_sample_weights_backward(&IDS, &OFFSETS, &psw, &grad_out)
            .is_err());
    }

    #[test]
    fn max_gradient_goes_to_the_argmax_row_per_dimension() {
        let w = DenseMatrix::new(3, 2, vec![1., 9., 4., 2., 4., 0.]).unwrap();
        let b = EmbeddingBag::from_pretrained(w, false, BagMode::Max).unwrap();
        // Dimension 0: rows 1 and 2 tie at 4, the first one in the bag (2) wins.
        let g = b.backward(&[0, 2, 1], &[0], None, &[10., 20.]).unwrap();
        assert_eq!(g.rows(), &[0, 2]);
        assert_eq!(g.get(0), Some(&[0., 20.][..]));
        assert_eq!(g.get(2), Some(&[10., 0.][..]));
    }

    #[test]
    fn bad_arguments_are_errors() {
        let mut mean = bag(BagMode::Mean, None);
        let mut sum = bag(BagMode::Sum, None);
        let invalid = |r: Result<Vec<f32>>| matches!(r, Err(Error::InvalidArgument { .. }));
        assert!(invalid(mean.forward(&[1, 2], &[0], Some(&[1., 1.]))));
        assert!(invalid(bag(BagMode::Max, None).forward(
            &[1],
            &[0],
            Some(&[1.])
        )));
        assert!(matches!(
            sum.forward(&[1, 2], &[0], Some(&[1.])),
            Err(Error::Shape { .. })
        ));
        assert!(invalid(sum.forward(&[1, 2], &[1], None)));
        assert!(invalid(sum.forward(&[1, 2], &[0, 2, 1], None)));
        assert!(invalid(sum.forward(&[1, 2], &[0, 3], None)));
        assert!(invalid(sum.forward(&[1, 9], &[0], None)));
        assert!(invalid(sum.forward(&[1], &[], None)));
        assert_eq!(sum.forward(&[], &[], None).unwrap(), Vec::<f32>::new());
        assert!(matches!(
            sum.backward(&[1, 2], &[0, 1], None, &[1.0; 3]),
            Err(Error::Shape { .. })
        ));
        let frozen =
            EmbeddingBag::from_pretrained(DenseMatrix::zeros(2, 2), true, BagMode::Sum).unwrap();
        assert!(frozen
            .backward(&[1], &[0], None, &[1., 1.])
            .unwrap()
            .is_empty());
    }
}
