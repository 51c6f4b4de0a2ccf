//! Sparse optimisers: SGD (with momentum), Adagrad and lazy Adam, updating only the rows of a gradient.
//!
//! Each follows the update formulas of its `torch.optim` namesake. The state (momentum buffers,
//! sums of squares, moments) is one value per element of the weight, allocated on the first step;
//! a step reads and writes only the state and weight rows present in the [`SparseGrad`].

use super::grad::SparseGrad;
use crate::error::{Error, Result};
use crate::storage::DenseMatrix;

/// An optimiser that applies a [`SparseGrad`] to a weight matrix, touching only its rows.
pub trait SparseOptimizer {
    /// One update of `weight` by `grad`. The first step fixes the matrix shape the optimiser's
    /// state belongs to; a later weight of another shape, or a gradient that does not fit the
    /// weight, is an error (and nothing is changed).
    fn step(&mut self, weight: &mut DenseMatrix, grad: &SparseGrad) -> Result<()>;
}

/// Per-element state for a `rows × dims` matrix, allocated on first use.
#[derive(Debug, Clone, Default)]
struct State {
    rows: usize,
    dims: usize,
    buffers: Vec<Vec<f32>>,
}

impl State {
    /// Checks shapes and makes sure `n` buffers filled with `init` exist.
    fn prepare(
        &mut self,
        weight: &DenseMatrix,
        grad: &SparseGrad,
        n: usize,
        init: f32,
    ) -> Result<()> {
        grad.check_fits(weight.rows(), weight.dims())?;
        if self.buffers.is_empty() {
            let len = weight.rows() * weight.dims();
            self.rows = weight.rows();
            self.dims = weight.dims();
            self.buffers = (0..n).map(|_| vec![init; len]).collect();
        } else if (self.rows, self.dims) != (weight.rows(), weight.dims()) {
            return Err(Error::shape(
                "optimiser weight",
                format!(
                    "{} × {} (the shape of the first step)",
                    self.rows, self.dims
                ),
                format!("{} × {}", weight.rows(), weight.dims()),
            ));
        }
        Ok(())
    }
}

fn check_param(name: &str, value: f32, ok: bool) -> Result<()> {
    if value.is_finite() && ok {
        Ok(())
    } else {
        Err(Error::invalid(name, format!("invalid value {value}")))
    }
}

/// Stochastic gradient descent, `torch.optim.SGD`'s formulas applied lazily per row:
/// `d = g + weight_decay·w`; with momentum, `buf = d` on the row's first update and
/// `buf = momentum·buf + (1 − dampening)·d` afterwards, `d = buf` (or `d + momentum·buf` with
/// Nesterov); `w −= lr·d`. Unlike dense SGD, a row's momentum buffer neither decays nor moves the
/// row in steps where the row has no gradient.
#[derive(Debug, Clone)]
pub struct Sgd {
    lr: f32,
    momentum: f32,
    dampening: f32,
    nesterov: bool,
    weight_decay: f32,
    state: State,
    started: Vec<bool>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Result<Self> {
        check_param("lr", lr, lr >= 0.0)?;
        Ok(Sgd {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            state: State::default(),
            started: Vec::new(),
        })
    }

    /// Momentum factor and dampening (both in [0, 1]).
    pub fn momentum(mut self, momentum: f32, dampening: f32) -> Result<Self> {
        check_param("momentum", momentum, (0.0..=1.0).contains(&momentum))?;
        check_param("dampening", dampening, (0.0..=1.0).contains(&dampening))?;
        self.momentum = momentum;
        self.dampening = dampening;
        Ok(self)
    }

    /// Nesterov momentum (needs momentum > 0 and no dampening, as in torch).
    pub fn nesterov(mut self, on: bool) -> Result<Self> {
        if on && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::invalid(
                "nesterov",
                "requires a momentum and zero dampening",
            ));
        }
        self.nesterov = on;
        Ok(self)
    }

    /// L2 penalty added to the gradient of the rows being updated.
    pub fn weight_decay(mut self, wd: f32) -> Result<Self> {
        check_param("weight_decay", wd, wd >= 0.0)?;
        self.weight_decay = wd;
        Ok(self)
    }
}

impl SparseOptimizer for Sgd {
    fn step(&mut self, weight: &mut DenseMatrix, grad: &SparseGrad) -> Result<()> {
        let with_momentum = self.momentum != 0.0;
        self.state
            .prepare(weight, grad, usize::from(with_momentum), 0.0)?;
        if with_momentum && self.started.len() != weight.rows() {
            self.started = vec![false; weight.rows()];
        }
        let d = weight.dims();
        for (k, &r) in grad.rows().iter().enumerate() {
            let g = grad.row(k);
            let w = weight.row_mut(r);
            for j in 0..d {
                let mut dp = g[j] + self.weight_decay * w[j];
                if with_momentum {
                    let buf = &mut self.state.buffers[0][r * d + j];
                    *buf = if self.started[r] {
                        self.momentum * *buf + (1.0 - self.dampening) * dp
                    } else {
                        dp
                    };
                    dp = if self.nesterov {
                        dp + self.momentum * *buf
                    } else {
                        *buf
                    };
                }
                w[j] -= self.lr * dp;
            }
            if with_momentum {
                self.started[r] = true;
            }
        }
        Ok(())
    }
}

/// Adagrad as `torch.optim.Adagrad` does it for sparse gradients: `t += 1` per step,
/// `clr = lr / (1 + (t − 1)·lr_decay)`, per element `sum += g²`, `w −= clr·g / (√sum + eps)`,
/// only for the rows in the gradient. (torch refuses weight decay with sparse gradients; so does
/// this type by not offering it.)
#[derive(Debug, Clone)]
pub struct Adagrad {
    lr: f32,
    lr_decay: f32,
    eps: f32,
    initial_accumulator_value: f32,
    step: u64,
    state: State,
}

impl Adagrad {
    /// Adagrad with learning rate `lr`, no decay, eps 1e-10, sums starting at 0 (torch's defaults).
    pub fn new(lr: f32) -> Result<Self> {
        check_param("lr", lr, lr >= 0.0)?;
        Ok(Adagrad {
            lr,
            lr_decay: 0.0,
            eps: 1e-10,
            initial_accumulator_value: 0.0,
            step: 0,
            state: State::default(),
        })
    }

    /// Learning-rate decay per step.
    pub fn lr_decay(mut self, lr_decay: f32) -> Result<Self> {
        check_param("lr_decay", lr_decay, lr_decay >= 0.0)?;
        self.lr_decay = lr_decay;
        Ok(self)
    }

    /// The term added to the square root of the sum.
    pub fn eps(mut self, eps: f32) -> Result<Self> {
        check_param("eps", eps, eps >= 0.0)?;
        self.eps = eps;
        Ok(self)
    }

    /// The value every sum of squares starts from.
    pub fn initial_accumulator_value(mut self, v: f32) -> Result<Self> {
        check_param("initial_accumulator_value", v, v >= 0.0)?;
        self.initial_accumulator_value = v;
        Ok(self)
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl SparseOptimizer for Adagrad {
    fn step(&mut self, weight: &mut DenseMatrix, grad: &SparseGrad) -> Result<()> {
        self.state
            .prepare(weight, grad, 1, self.initial_accumulator_value)?;
        self.step += 1;
        let clr = (self.lr as f64 / (1.0 + (self.step - 1) as f64 * self.lr_decay as f64)) as f32;
        let d = weight.dims();
        let sum = &mut self.state.buffers[0];
        for (k, &r) in grad.rows().iter().enumerate() {
            let g = grad.row(k);
            let w = weight.row_mut(r);
            for j in 0..d {
                let s = &mut sum[r * d + j];
                *s += g[j] * g[j];
                w[j] -= clr * g[j] / (s.sqrt() + self.eps);
            }
        }
        Ok(())
    }
}

/// The lazy Adam of `torch.optim.SparseAdam`: only the moments of rows in the gradient are
/// updated (`m += (1 − β1)(g − m)`, `v += (1 − β2)(g² − v)`), and only those rows move, by
/// `step_size · m / (√v + eps)` with `step_size = lr·√(1 − β2^t) / (1 − β1^t)`. As in torch, `t`
/// is one count for the whole matrix, incremented on every step, so a row updated for the first
/// time at step t gets step t's bias correction.
#[derive(Debug, Clone)]
pub struct SparseAdam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step: u64,
    state: State,
}

impl SparseAdam {
    /// Lazy Adam with learning rate `lr`, betas (0.9, 0.999), eps 1e-8 (torch's defaults).
    pub fn new(lr: f32) -> Result<Self> {
        check_param("lr", lr, lr >= 0.0)?;
        Ok(SparseAdam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            state: State::default(),
        })
    }

    /// The decay rates of the first and second moments, each in [0, 1).
    pub fn betas(mut self, beta1: f32, beta2: f32) -> Result<Self> {
        check_param("beta1", beta1, (0.0..1.0).contains(&beta1))?;
        check_param("beta2", beta2, (0.0..1.0).contains(&beta2))?;
        self.beta1 = beta1;
        self.beta2 = beta2;
        Ok(self)
    }

    /// The term added to √v.
    pub fn eps(mut self, eps: f32) -> Result<Self> {
        check_param("eps", eps, eps >= 0.0)?;
        self.eps = eps;
        Ok(self)
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.step
    }
}

impl SparseOptimizer for SparseAdam {
    fn step(&mut self, weight: &mut DenseMatrix, grad: &SparseGrad) -> Result<()> {
        self.state.prepare(weight, grad, 2, 0.0)?;
        self.step += 1;
        let t = self.step as i32;
        let bc1 = 1.0 - (self.beta1 as f64).powi(t);
        let bc2 = 1.0 - (self.beta2 as f64).powi(t);
        let step_size = (self.lr as f64 * bc2.sqrt() / bc1) as f32;
        let d = weight.dims();
        let (m, v) = self.state.buffers.split_at_mut(1);
        let (m, v) = (&mut m[0], &mut v[0]);
        for (k, &r) in grad.rows().iter().enumerate() {
            let g = grad.row(k);
            let w = weight.row_mut(r);
            for j in 0..d {
                let i = r * d + j;
                m[i] += (g[j] - m[i]) * (1.0 - self.beta1);
                v[i] += (g[j] * g[j] - v[i]) * (1.0 - self.beta2);
                w[j] -= step_size * (m[i] / (v[i].sqrt() + self.eps));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::testutil::assert_close;

    fn weight() -> DenseMatrix {
        DenseMatrix::new(3, 2, vec![1.0, -1.0, 0.5, 2.0, 3.0, 3.0]).unwrap()
    }

    fn grad(rows: Vec<usize>, values: Vec<f32>) -> SparseGrad {
        SparseGrad::from_parts(rows, 2, values).unwrap()
    }

    #[test]
    fn sgd_plain_and_with_momentum_by_hand() {
        let mut w = weight();
        let mut sgd = Sgd::new(0.1).unwrap();
        sgd.step(&mut w, &grad(vec![1], vec![1.0, -2.0])).unwrap();
        assert_close(w.as_slice(), &[1.0, -1.0, 0.4, 2.2, 3.0, 3.0], 1e-7);

        // momentum 0.9, dampening 0.5, weight decay 0.1:
        // step 1 (row 0, g = (1, 1)): d = g + 0.1·w = (1.1, 0.9), buf = d, w = (0.89, -1.09).
        // step 2 (row 2 only): row 0 untouched, buffer kept.
        // step 3 (row 0, g = (1, 1)): d = (1.089, 0.891), buf = 0.9·(1.1, 0.9) + 0.5·d
        //   = (1.5345, 1.2555), w = (0.89 − 0.15345, −1.09 − 0.12555).
        let mut w = weight();
        let mut sgd = Sgd::new(0.1)
            .unwrap()
            .momentum(0.9, 0.5)
            .unwrap()
            .weight_decay(0.1)
            .unwrap();
        sgd.step(&mut w, &grad(vec![0], vec![1.0, 1.0])).unwrap();
        assert_close(w.row(0), &[0.89, -1.09], 1e-6);
        sgd.step(&mut w, &grad(vec![2], vec![0.0, 10.0])).unwrap();
        // Row 2 first update: d = (0.3, 10.3), buf = d.
        assert_close(w.row(2), &[2.97, 1.97], 1e-6);
        sgd.step(&mut w, &grad(vec![0], vec![1.0, 1.0])).unwrap();
        assert_close(w.row(0), &[0.73655, -1.21555], 1e-6);
        assert_close(w.row(1), &[0.5, 2.0], 0.0);

        // Nesterov, momentum 0.5: step 1 buf = g, d = g + 0.5·g; step 2 buf = 0.5·g + g.
        let mut w = DenseMatrix::new(1, 2, vec![0.0, 0.0]).unwrap();
        let mut sgd = Sgd::new(1.0)
            .unwrap()
            .momentum(0.5, 0.0)
            .unwrap()
            .nesterov(true)
            .unwrap();
        sgd.step(&mut w, &grad(vec![0], vec![2.0, -2.0])).unwrap();
        assert_close(w.row(0), &[-3.0, 3.0], 1e-7);
        sgd.step(&mut w, &grad(vec![0], vec![2.0, -2.0])).unwrap();
        // buf = 0.5·2 + 2 = 3, d = 2 + 0.5·3 = 3.5.
        assert_close(w.row(0), &[-6.5, 6.5], 1e-7);
        assert!(Sgd::new(0.1).unwrap().nesterov(true).is_err());
    }

    #[test]
    fn adagrad_by_hand() {
        let mut w = weight();
        let mut opt = Adagrad::new(0.1).unwrap();
        // Step 1, row 1, g = (0.5, -2): sum = (0.25, 4), w −= 0.1·g/√sum = 0.1·(1, −1).
        opt.step(&mut w, &grad(vec![1], vec![0.5, -2.0])).unwrap();
        assert_close(w.as_slice(), &[1.0, -1.0, 0.4, 2.1, 3.0, 3.0], 1e-6);
        // Step 2, rows 0 and 1, g = (0.5, 0) for both: row 1 sum = (0.5, 4).
        opt.step(&mut w, &grad(vec![0, 1], vec![0.5, 0.0, 0.5, 0.0]))
            .unwrap();
        let r1 = 0.4 - 0.1 * 0.5 / 0.5f32.sqrt();
        assert_close(w.as_slice(), &[0.9, -1.0, r1, 2.1, 3.0, 3.0], 1e-6);

        // lr_decay 0.5: step 2 uses lr / (1 + 0.5) ; initial accumulator 1.
        let mut w = DenseMatrix::new(1, 1, vec![0.0]).unwrap();
        let mut opt = Adagrad::new(1.0)
            .unwrap()
            .lr_decay(0.5)
            .unwrap()
            .initial_accumulator_value(1.0)
            .unwrap();
        let g = SparseGrad::from_parts(vec![0], 1, vec![1.0]).unwrap();
        opt.step(&mut w, &g).unwrap(); // sum 2: w = −1/√2
        opt.step(&mut w, &g).unwrap(); // sum 3: w −= (1/1.5)/√3
        let want = -1.0 / 2.0f32.sqrt() - (1.0 / 1.5) / 3.0f32.sqrt();
        assert_close(w.as_slice(), &[want], 1e-6);
        assert_eq!(opt.steps(), 2);
    }

    #[test]
    fn sparse_adam_by_hand() {
        let mut w = weight();
        let mut opt = SparseAdam::new(0.01).unwrap();
        // Step 1 (row 0, g = (2, −0.5)): m = 0.1·g, v = 0.001·g²,
        // step_size = 0.01·√0.001/0.1, update = step_size·m/(√v + 1e-8) ≈ 0.01·sign(g).
        opt.step(&mut w, &grad(vec![0], vec![2.0, -0.5])).unwrap();
        let upd = |g: f32, t: i32| {
            let m = 0.1 * g;
            let v = 0.001 * g * g;
            let step_size = 0.01 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
            step_size as f32 * m / (v.sqrt() + 1e-8)
        };
        assert_close(w.row(0), &[1.0 - upd(2.0, 1), -1.0 - upd(-0.5, 1)], 1e-6);
        assert_close(w.row(0), &[0.99, -0.99], 1e-6);
        // Step 2 touches row 2 for the first time: its moments start from zero but the global
        // step (2) sets the bias correction: √(1 − 0.999²)/(1 − 0.9²)·0.1/√0.001 ≈ 0.74414.
        opt.step(&mut w, &grad(vec![2], vec![1.0, 1.0])).unwrap();
        assert_close(w.row(2), &[3.0 - upd(1.0, 2), 3.0 - upd(1.0, 2)], 1e-6);
        assert_close(&[upd(1.0, 2) / 0.01], &[0.744_137], 1e-5);
        assert_close(w.row(0), &[0.99, -0.99], 1e-6);
        assert_close(w.row(1), &[0.5, 2.0], 0.0);
        // Step 3 on row 0 again: m = 0.9·0.2 + 0.1·g, v = 0.999·0.004 + 0.001·g².
        opt.step(&mut w, &grad(vec![0], vec![1.0, 0.0])).unwrap();
        let m = 0.9 * 0.2 + 0.1 * 1.0f32;
        let v = 0.999 * 0.004 + 0.001 * 1.0f32;
        let ss = (0.01 * (1.0 - 0.999f64.powi(3)).sqrt() / (1.0 - 0.9f64.powi(3))) as f32;
        let m1 = 0.9 * -0.05f32;
        let v1 = 0.999 * 0.00025f32;
        assert_close(
            w.row(0),
            &[
                0.99 - ss * m / (v.sqrt() + 1e-8),
                -0.99 - ss * m1 / (v1.sqrt() + 1e-8),
            ],
            1e-6,
        );
        assert_eq!(opt.steps(), 3);
    }

    #[test]
    fn shape_errors_leave_weights_alone() {
        let mut w = weight();
        let mut opt = SparseAdam::new(0.1).unwrap();
        assert!(opt.step(&mut w, &grad(vec![3], vec![1.0, 1.0])).is_err());
        let g3 = SparseGrad::from_parts(vec![0], 3, vec![1.0; 3]).unwrap();
        assert!(matches!(opt.step(&mut w, &g3), Err(Error::Shape { .. })));
        assert_close(w.as_slice(), weight().as_slice(), 0.0);
        opt.step(&mut w, &grad(vec![0], vec![1.0, 1.0])).unwrap();
        let mut other = DenseMatrix::zeros(4, 2);
        assert!(opt
            .step(&mut other, &grad(vec![0], vec![1.0, 1.0]))
            .is_err());
        assert!(SparseAdam::new(0.1).unwrap().betas(1.0, 0.9).is_err());
        assert!(Adagrad::new(f32::NAN).is_err());
        assert!(Sgd::new(-1.0).is_err());
    }
}
