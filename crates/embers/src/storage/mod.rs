//! Where the rows live: dense f32 matrices, owned or memory-mapped, behind one [`Storage`] type
//! so query code does not care. Compressed kinds plug in here as further variants.

mod dense;

pub use dense::DenseMatrix;

use crate::error::Result;

/// The rows of an embedding matrix, whatever their encoding.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Storage {
    /// Plain f32 rows (owned or memory-mapped).
    Dense(DenseMatrix),
}

impl Storage {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Storage::Dense(m) => m.rows(),
        }
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        match self {
            Storage::Dense(m) => m.dims(),
        }
    }

    /// A short name of the encoding: `f32`, `f16`, `int8`, `pq`.
    pub fn kind(&self) -> &'static str {
        match self {
            Storage::Dense(_) => "f32",
        }
    }

    /// Bytes taken by the stored vectors (matrix or codes, plus codebooks and scales).
    pub fn stored_bytes(&self) -> usize {
        match self {
            Storage::Dense(m) => m.rows() * m.dims() * 4,
        }
    }

    /// Writes row `i` (decoded to f32) into `out`, which must have `dims()` elements.
    /// Panics if `i` is out of range: callers check ids against the vocabulary first.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        match self {
            Storage::Dense(m) => out.copy_from_slice(m.row(i)),
        }
    }

    /// Row `i` decoded to a new vector.
    pub fn row_vec(&self, i: usize) -> Vec<f32> {
        let mut v = vec![0.0; self.dims()];
        self.row_into(i, &mut v);
        v
    }

    /// Dot product of `query` with every row: `out[i] = row_i · query` (`out.len() == rows()`,
    /// `query.len() == dims()`), on all cores. Compressed kinds answer from their codes without
    /// decoding the matrix; this is the scoring primitive of exact search.
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        assert_eq!(query.len(), self.dims(), "query dims");
        assert_eq!(out.len(), self.rows(), "one score per row");
        match self {
            Storage::Dense(m) => {
                let d = m.dims().max(1);
                out.par_chunks_mut(4096)
                    .zip(m.as_slice().par_chunks(4096 * d))
                    .for_each(|(o, rows)| {
                        for (s, r) in o.iter_mut().zip(rows.chunks_exact(d)) {
                            *s = crate::kernels::dot(r, query);
                        }
                    });
            }
        }
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Storage::Dense(m) => m.truncate_rows(n),
        }
    }

    /// The dense matrix, when rows are stored as plain f32.
    pub fn as_dense(&self) -> Option<&DenseMatrix> {
        match self {
            Storage::Dense(m) => Some(m),
        }
    }

    /// A dense f32 copy (or view) of all rows.
    pub fn to_dense(&self) -> Result<DenseMatrix> {
        match self {
            Storage::Dense(m) => Ok(m.clone()),
        }
    }
}

impl From<DenseMatrix> for Storage {
    fn from(m: DenseMatrix) -> Self {
        Storage::Dense(m)
    }
}
