//! Initialisers for embedding matrices, seeded and reproducible (independent of thread count).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::storage::DenseMatrix;

/// How to fill a new matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// Normal(mean, std); `Normal { mean: 0, std: 1 }` is what `torch.nn.Embedding` uses.
    Normal { mean: f32, std: f32 },
    /// Uniform in (−a, a).
    Uniform { a: f32 },
    /// Xavier/Glorot uniform: bound = gain · √(6 / (rows + dims)), as `torch.nn.init.xavier_uniform_`
    /// computes it for a `rows × dims` weight.
    XavierUniform { gain: f32 },
    /// word2vec's input vectors: uniform in (−0.5/dims, 0.5/dims).
    Word2Vec,
    /// All zeros (word2vec's output vectors).
    Zeros,
}

impl Init {
    /// Parses a name from the command line: `normal`, `uniform`, `xavier`, `word2vec`, `zeros`.
    pub fn from_name(name: &str, scale: Option<f32>) -> Result<Self> {
        Ok(match name {
            "normal" => Init::Normal {
                mean: 0.0,
                std: scale.unwrap_or(1.0),
            },
            "uniform" => Init::Uniform {
                a: scale.unwrap_or(0.1),
            },
            "xavier" | "glorot" => Init::XavierUniform {
                gain: scale.unwrap_or(1.0),
            },
            "word2vec" => Init::Word2Vec,
            "zeros" => Init::Zeros,
            other => {
                return Err(Error::invalid(
                    "init",
                    format!(
                        "unknown initialiser {other:?} (normal, uniform, xavier, word2vec, zeros)"
                    ),
                ))
            }
        })
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Init::Normal { .. } => "normal",
            Init::Uniform { .. } => "uniform",
            Init::XavierUniform { .. } => "xavier",
            Init::Word2Vec => "word2vec",
            Init::Zeros => "zeros",
        }
    }
}

/// Rows per independently seeded block, so results do not depend on the number of threads.
const BLOCK_ROWS: usize = 1024;

/// A new `rows × dims` matrix filled by `init` from `seed`.
pub fn init_matrix(rows: usize, dims: usize, init: Init, seed: u64) -> Result<DenseMatrix> {
    if dims == 0 {
        return Err(Error::invalid("dims", "must be at least 1"));
    }
    let total = crate::size::product("rows", &[rows, dims])?;
    match init {
        Init::Normal { std, .. } if !(std.is_finite() && std >= 0.0) => {
            return Err(Error::invalid("std", "must be finite and non-negative"))
        }
        Init::Uniform { a } if !(a.is_finite() && a >= 0.0) => {
            return Err(Error::invalid("a", "must be finite and non-negative"))
        }
        Init::XavierUniform { gain } if !(gain.is_finite() && gain >= 0.0) => {
            return Err(Error::invalid("gain", "must be finite and non-negative"))
        }
        _ => {}
    }
    let mut data = crate::size::filled("matrix", total, 0.0f32)?;
    if init == Init::Zeros {
        return DenseMatrix::new(rows, dims, data);
    }
    let base = Rng::new(seed);
    use rayon::prelude::*;
    data.par_chunks_mut(BLOCK_ROWS * dims)
        .enumerate()
        .for_each(|(block, chunk)| {
            let mut rng = base.fork(block as u64);
            match init {
                Init::Normal { mean, std } => chunk
                    .iter_mut()
                    .for_each(|v| *v = mean + std * rng.normal()),
                Init::Uniform { a } => chunk.iter_mut().for_each(|v| *v = rng.range(-a, a)),
                Init::XavierUniform { gain } => {
                    let bound = gain * (6.0 / (rows + dims) as f32).sqrt();
                    chunk.iter_mut().for_each(|v| *v = rng.range(-bound, bound))
                }
                Init::Word2Vec => {
                    let a = 0.5 / dims as f32;
                    chunk.iter_mut().for_each(|v| *v = rng.range(-a, a))
                }
                Init::Zeros => {}
            }
        });
    DenseMatrix::new(rows, dims, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_and_within_bounds() {
        let a = init_matrix(
            3000,
            8,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            42,
        )
        .unwrap();
        let b = init_matrix(
            3000,
            8,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            42,
        )
        .unwrap();
        let c = init_matrix(
            3000,
            8,
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
            43,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let s = a.as_slice();
        let mean = s.iter().map(|&x| x as f64).sum::<f64>() / s.len() as f64;
        let var = s.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / s.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );

        let x = init_matrix(100, 50, Init::XavierUniform { gain: 1.0 }, 1).unwrap();
        let bound = (6.0f32 / 150.0).sqrt();
        assert!(x.as_slice().iter().all(|v| v.abs() <= bound));
        assert!(x.as_slice().iter().any(|v| v.abs() > bound * 0.9));
        let w = init_matrix(10, 100, Init::Word2Vec, 1).unwrap();
        assert!(w.as_slice().iter().all(|v| v.abs() <= 0.005));
        let z = init_matrix(4, 4, Init::Zeros, 1).unwrap();
        assert!(z.as_slice().iter().all(|&v| v == 0.0));
        assert!(init_matrix(4, 0, Init::Zeros, 1).is_err());
        assert!(Init::from_name("bogus", None).is_err());
    }
}
