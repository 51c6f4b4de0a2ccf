//! Half-precision rows: f16 values, decoded to f32 one row at a time (2 bytes per value).

use half::f16;
use half::slice::HalfFloatSliceExt;

use super::buffer::Buffer;
use crate::error::{Error, Result};

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

    /// `out[i] = row_i · query`, widening each row in registers (F16C when the CPU has it).
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        let d = self.dims.max(1);
        out.par_chunks_mut(4096)
            .zip(self.as_slice().par_chunks(4096 * d))
            .for_each(|(o, rows)| {
                for (s, r) in o.iter_mut().zip(rows.chunks_exact(d)) {
                    *s = crate::kernels::dot_f16(r, query);
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
