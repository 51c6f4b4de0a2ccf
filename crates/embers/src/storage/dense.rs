//! Dense row-major f32 matrices, either owned or a zero-copy view into a memory map.

use std::sync::Arc;

use memmap2::Mmap;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
enum Buffer {
    Owned(Vec<f32>),
    Mapped {
        mmap: Arc<Mmap>,
        /// Byte offset of the first element; a multiple of 4.
        offset: usize,
    },
}

/// A rows × dims matrix of f32 in row-major order.
#[derive(Debug, Clone)]
pub struct DenseMatrix {
    rows: usize,
    dims: usize,
    data: Buffer,
}

impl DenseMatrix {
    /// A matrix owning `data` (length `rows * dims`).
    pub fn new(rows: usize, dims: usize, data: Vec<f32>) -> Result<Self> {
        if rows.checked_mul(dims) != Some(data.len()) {
            return Err(Error::shape(
                "matrix data",
                format!("{rows} × {dims}"),
                format!("{} values", data.len()),
            ));
        }
        Ok(DenseMatrix {
            rows,
            dims,
            data: Buffer::Owned(data),
        })
    }

    /// A zero matrix.
    ///
    /// # Panics
    /// If `rows × dims` overflows `usize` (a size no allocation could hold); sizes from files
    /// or arguments are checked by their readers before they get here.
    pub fn zeros(rows: usize, dims: usize) -> Self {
        let n = rows
            .checked_mul(dims)
            .unwrap_or_else(|| panic!("DenseMatrix::zeros: {rows} × {dims} overflows"));
        DenseMatrix {
            rows,
            dims,
            data: Buffer::Owned(vec![0.0; n]),
        }
    }

    /// A view of `rows * dims` f32 values starting at byte `offset` of `mmap`, without copying.
    /// The offset must be 4-byte aligned and the range inside the map.
    pub fn mapped(mmap: Arc<Mmap>, offset: usize, rows: usize, dims: usize) -> Result<Self> {
        let len = rows
            .checked_mul(dims)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| Error::invalid("shape", "matrix size overflows"))?;
        if !offset.is_multiple_of(4) || !(mmap.as_ptr() as usize + offset).is_multiple_of(4) {
            return Err(Error::invalid(
                "offset",
                "matrix is not 4-byte aligned in the file",
            ));
        }
        if offset.checked_add(len).is_none_or(|end| end > mmap.len()) {
            return Err(Error::invalid(
                "offset",
                "matrix extends past the end of the file",
            ));
        }
        Ok(DenseMatrix {
            rows,
            dims,
            data: Buffer::Mapped { mmap, offset },
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// True when the rows are a view into a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Buffer::Mapped { .. })
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        match &self.data {
            Buffer::Owned(v) => v,
            Buffer::Mapped { mmap, offset } => {
                let bytes = &mmap[*offset..*offset + self.rows * self.dims * 4];
                // SAFETY: alignment and bounds were checked in `mapped`; any bits are a valid f32.
                unsafe {
                    std::slice::from_raw_parts(bytes.as_ptr() as *const f32, self.rows * self.dims)
                }
            }
        }
    }

    /// All values, mutable; a mapped matrix is copied into memory first.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        if let Buffer::Mapped { .. } = self.data {
            self.data = Buffer::Owned(self.as_slice().to_vec());
        }
        match &mut self.data {
            Buffer::Owned(v) => v,
            Buffer::Mapped { .. } => unreachable!("converted to owned above"),
        }
    }

    /// Row `i`. Panics when `i >= rows()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.as_slice()[i * self.dims..(i + 1) * self.dims]
    }

    /// Row `i`, mutable. Panics when `i >= rows()`.
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        let d = self.dims;
        &mut self.as_mut_slice()[i * d..(i + 1) * d]
    }

    /// The values as a vector (copies a mapped matrix).
    pub fn into_vec(self) -> Vec<f32> {
        match self.data {
            Buffer::Owned(v) => v,
            Buffer::Mapped { .. } => self.as_slice().to_vec(),
        }
    }

    /// Keeps the first `n` rows.
    pub fn truncate_rows(&mut self, n: usize) {
        if n < self.rows {
            if let Buffer::Owned(v) = &mut self.data {
                v.truncate(n * self.dims);
            }
            self.rows = n;
        }
    }

    /// The L2 norm of each row.
    pub fn row_norms(&self) -> Vec<f32> {
        let mut norms = vec![0.0; self.rows];
        self.row_norms_into(0, &mut norms);
        norms
    }

    /// The L2 norms of rows `first..first + out.len()` into `out`, on all cores.
    pub fn row_norms_into(&self, first: usize, out: &mut [f32]) {
        use rayon::prelude::*;
        if self.dims == 0 {
            out.fill(0.0);
            return;
        }
        let rows = &self.as_slice()[first * self.dims..(first + out.len()) * self.dims];
        out.par_iter_mut()
            .zip(rows.par_chunks(self.dims))
            .with_min_len(1024)
            .for_each(|(n, r)| *n = crate::kernels::dot(r, r).sqrt());
    }
}

impl PartialEq for DenseMatrix {
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows && self.dims == other.dims && self.as_slice() == other.as_slice()
    }
}
