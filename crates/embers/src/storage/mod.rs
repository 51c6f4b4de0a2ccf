//! Where the rows live: dense f32 matrices, owned or memory-mapped, and the compressed kinds
//! (f16, int8, product- and residual-quantized), behind one [`Storage`] type so query code does not care.
//! Every kind decodes single rows and scores a query against all rows without decoding the matrix.

mod buffer;
mod dense;
mod f16;
mod int8;
mod pq;
mod rq;

pub use buffer::{with_huge_capacity, Buffer, HugeBuffer};
pub use dense::DenseMatrix;
pub use f16::F16Matrix;
pub(crate) use int8::score as int8_score;
pub use int8::{quantize_into, quantize_query, Int8Matrix, EXACT_F32_DIMS};
pub use pq::{
    check_settings as check_pq_settings, pack_codes, packed_row_bytes, PqMatrix, ScanCodes,
    ScanTables, ADC_LANES, SCAN_BLOCK, SCAN_GROUP,
};
pub use rq::{check_settings as check_rq_settings, CodebookDtype, RqMatrix};

use crate::error::Result;

/// The rows of an embedding matrix, whatever their encoding.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Storage {
    /// Plain f32 rows (owned or memory-mapped).
    Dense(DenseMatrix),
    /// Half-precision rows.
    F16(F16Matrix),
    /// 8-bit codes with per-row scales (and offsets).
    Int8(Int8Matrix),
    /// Product-quantized codes with codebooks.
    Pq(PqMatrix),
    /// Residual-quantized (additive) codes with full-length codebooks.
    Rq(RqMatrix),
}

impl Storage {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Storage::Dense(m) => m.rows(),
            Storage::F16(m) => m.rows(),
            Storage::Int8(m) => m.rows(),
            Storage::Pq(m) => m.rows(),
            Storage::Rq(m) => m.rows(),
        }
    }

    /// Number of dimensions.
    pub fn dims(&self) -> usize {
        match self {
            Storage::Dense(m) => m.dims(),
            Storage::F16(m) => m.dims(),
            Storage::Int8(m) => m.dims(),
            Storage::Pq(m) => m.dims(),
            Storage::Rq(m) => m.dims(),
        }
    }

    /// A short name of the encoding: `f32`, `f16`, `int8`, `pq`, `rq`.
    pub fn kind(&self) -> &'static str {
        match self {
            Storage::Dense(_) => "f32",
            Storage::F16(_) => "f16",
            Storage::Int8(_) => "int8",
            Storage::Pq(_) => "pq",
            Storage::Rq(_) => "rq",
        }
    }

    /// Bytes taken by the stored vectors (matrix or codes, plus codebooks and scales).
    pub fn stored_bytes(&self) -> usize {
        match self {
            Storage::Dense(m) => m.rows() * m.dims() * 4,
            Storage::F16(m) => m.rows() * m.dims() * 2,
            Storage::Int8(m) => m.stored_bytes(),
            Storage::Pq(m) => m.stored_bytes(),
            Storage::Rq(m) => m.stored_bytes(),
        }
    }

    /// Writes row `i` (decoded to f32) into `out`, which must have `dims()` elements.
    ///
    /// # Panics
    /// If `i` is out of range or `out` has the wrong length: callers check ids against the
    /// vocabulary first.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        match self {
            Storage::Dense(m) => out.copy_from_slice(m.row(i)),
            Storage::F16(m) => m.row_into(i, out),
            Storage::Int8(m) => m.row_into(i, out),
            Storage::Pq(m) => m.row_into(i, out),
            Storage::Rq(m) => m.row_into(i, out),
        }
    }

    /// The L2 norm of every (decoded) row, on all cores: PQ from its codes alone
    /// ([`PqMatrix::row_norms`]), the other kinds by decoding each row (RQ:
    /// [`RqMatrix::row_norms`]).
    pub fn row_norms(&self) -> Vec<f32> {
        use rayon::prelude::*;
        match self {
            Storage::Dense(m) => m.row_norms(),
            Storage::Pq(m) => m.row_norms(),
            Storage::Rq(m) => m.row_norms(),
            _ => {
                let dims = self.dims();
                (0..self.rows())
                    .into_par_iter()
                    .map_init(
                        || vec![0.0f32; dims],
                        |buf, i| {
                            self.row_into(i, buf);
                            crate::kernels::norm(buf)
                        },
                    )
                    .collect()
            }
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
    ///
    /// # Panics
    /// If `query.len() != dims()` or `out.len() != rows()`: a caller's bug, not bad input
    /// (the query functions of [`crate::query`] check user-given vectors first).
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        assert_eq!(query.len(), self.dims(), "query dims");
        assert_eq!(out.len(), self.rows(), "one score per row");
        match self {
            Storage::Dense(m) => {
                let d = m.dims().max(1);
                // The kernel of exact search: these scores equal its, bit for bit.
                out.par_chunks_mut(4096)
                    .zip(m.as_slice().par_chunks(4096 * d))
                    .for_each(|(o, rows)| crate::kernels::dot_exact_rows(rows, d, query, o));
            }
            Storage::F16(m) => m.dot_all(query, out),
            Storage::Int8(m) => m.dot_all(query, out),
            Storage::Pq(m) => m.dot_all(query, out),
            Storage::Rq(m) => m.dot_all(query, out),
        }
    }

    /// Keeps the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Storage::Dense(m) => m.truncate_rows(n),
            Storage::F16(m) => m.truncate_rows(n),
            Storage::Int8(m) => m.truncate_rows(n),
            Storage::Pq(m) => m.truncate_rows(n),
            Storage::Rq(m) => m.truncate_rows(n),
        }
    }

    /// The dense matrix, when rows are stored as plain f32.
    pub fn as_dense(&self) -> Option<&DenseMatrix> {
        match self {
            Storage::Dense(m) => Some(m),
            _ => None,
        }
    }

    /// A dense f32 copy (or view) of all rows.
    pub fn to_dense(&self) -> Result<DenseMatrix> {
        match self {
            Storage::Dense(m) => Ok(m.clone()),
            _ => {
                use rayon::prelude::*;
                let (rows, dims) = (self.rows(), self.dims());
                let mut data = vec![0.0f32; rows * dims];
                data.par_chunks_mut(dims.max(1))
                    .enumerate()
                    .for_each(|(i, r)| self.row_into(i, r));
                DenseMatrix::new(rows, dims, data)
            }
        }
    }

    /// True when the rows are a view into a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        match self {
            Storage::Dense(m) => m.is_mapped(),
            Storage::F16(m) => m.is_mapped(),
            Storage::Int8(m) => m.is_mapped(),
            Storage::Pq(m) => m.is_mapped(),
            Storage::Rq(m) => m.is_mapped(),
        }
    }
}

impl From<DenseMatrix> for Storage {
    fn from(m: DenseMatrix) -> Self {
        Storage::Dense(m)
    }
}

impl From<F16Matrix> for Storage {
    fn from(m: F16Matrix) -> Self {
        Storage::F16(m)
    }
}

impl From<Int8Matrix> for Storage {
    fn from(m: Int8Matrix) -> Self {
        Storage::Int8(m)
    }
}

impl From<PqMatrix> for Storage {
    fn from(m: PqMatrix) -> Self {
        Storage::Pq(m)
    }
}

impl From<RqMatrix> for Storage {
    fn from(m: RqMatrix) -> Self {
        Storage::Rq(m)
    }
}
