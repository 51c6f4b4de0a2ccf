//! Half-precision rows: f16 values, decoded to f32 one row at a time (2 bytes per value).

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::buffer::Buffer;
use crate::error::{Error, Result};

/// Rows widened at a time by [`F16Matrix::dot_all`].
const DECODE_ROWS: usize = 256;

/// A rows × dims matrix of f16 in row-major order, owned or memory-mapped.
#[derive(Debug, Clone)]
pub struct F16Matrix {
    rows: usize,
    dims: usize,
    data: Buffer<f16>,
}

impl F16Matrix {
    /// Wraps `rows * dims` half-precision values.
    pub fn new(rows: usize, dims: usize, data: impl Into<Buffer<f16>>) -> Result<Self> {
        let data = data.into();
        if rows.checked_mul(dims) != Some(data.len()) {
            return Err(Error::shape(
                "f16 matrix data",
                format!("{rows} × {dims}"),
                format!("{} values", data.len()),
            ));
        }
        Ok(F16Matrix { rows, dims, data })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f16] {
        &self.data.as_slice()[..self.rows * self.dims]
    }

    /// True when the values are a view into a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        self.data.is_mapped()
    }

    /// Row `i` as stored. Panics when `i >= rows()`.
    pub fn row(&self, i: usize) -> &[f16] {
        &self.as_slice()[i * self.dims..(i + 1) * self.dims]
    }

    /// Row `i` widened to f32 into `out` (exact: every f16 is an f32).
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        self.row(i).convert_to_f32_slice(out);
    }

    /// Rows `r0..r1` widened to f32 into `out` (`(r1 - r0) × dims` values; exact).
    ///
    /// # Panics
    /// If the range is out of bounds or `out` has the wrong length.
    pub fn decode_rows(&self, r0: usize, r1: usize, out: &mut [f32]) {
        self.as_slice()[r0 * self.dims..r1 * self.dims].convert_to_f32_slice(out);
    }

    /// `out[i] = row_i · query`: blocks of rows are widened to f32 (exactly) and scored by
    /// exact search's kernel, [`crate::kernels::dot_exact_rows`]. So every score equals
    /// [`crate::kernels::dot_exact`] of the widened row and the query, bit for bit, as the
    /// blocked many-query path of [`crate::query::top_k_batch`] computes it too.
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        if self.dims == 0 {
            out.fill(0.0);
            return;
        }
        let d = self.dims;
        out.par_chunks_mut(4096)
            .zip(self.as_slice().par_chunks(4096 * d))
            .for_each(|(o, rows)| {
                let mut buf = vec![0.0f32; DECODE_ROWS * d];
                for (o, rows) in o.chunks_mut(DECODE_ROWS).zip(rows.chunks(DECODE_ROWS * d)) {
                    let b = &mut buf[..rows.len()];
                    rows.convert_to_f32_slice(b);
                    crate::kernels::dot_exact_rows(b, d, query, o);
                }
            });
    }

    /// Keeps the first `n` rows.
    pub fn truncate_rows(&mut self, n: usize) {
        if n < self.rows {
            self.rows = n;
            self.data.truncate(n * self.dims);
        }
    }
}
