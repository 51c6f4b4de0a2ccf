//! Sparse row gradients: the rows of an embedding matrix a backward pass touched, with their sums.

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// The gradient of a loss with respect to an embedding matrix, holding only the rows that
/// received a contribution: row ids unique and ascending, one `dims`-long gradient row each
/// (duplicate ids of a batch are already summed, like a coalesced `torch.sparse` tensor).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseGrad {
    rows: Vec<usize>,
    dims: usize,
    values: Vec<f32>,
}

impl SparseGrad {
    /// A gradient with no rows (what a frozen layer returns).
    pub fn empty(dims: usize) -> Self {
        SparseGrad {
            rows: Vec::new(),
            dims,
            values: Vec::new(),
        }
    }

    /// A gradient from row ids and their gradient rows (`rows.len() × dims` values, row-major).
    /// Ids may repeat and come in any order: repeated rows are summed and the result sorted.
    pub fn from_parts(rows: Vec<usize>, dims: usize, values: Vec<f32>) -> Result<Self> {
        if dims == 0 {
            return Err(Error::invalid("dims", "must be at least 1"));
        }
        if rows.len().checked_mul(dims) != Some(values.len()) {
            return Err(Error::shape(
                "sparse gradient values",
                format!("{} × {dims}", rows.len()),
                format!("{} values", values.len()),
            ));
        }
        let mut acc = GradAccumulator::new(dims);
        for (i, &r) in rows.iter().enumerate() {
            acc.add_scaled(r, 1.0, &values[i * dims..(i + 1) * dims]);
        }
        Ok(acc.finish())
    }

    /// The row ids, unique and ascending.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// Width of each gradient row.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// All gradient rows, row-major, in the order of [`rows`](Self::rows).
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The gradient row at position `i` of [`rows`](Self::rows). Panics when `i >= len()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dims..(i + 1) * self.dims]
    }

    /// The gradient row of matrix row `id`, if it received one.
    pub fn get(&self, id: usize) -> Option<&[f32]> {
        self.rows.binary_search(&id).ok().map(|i| self.row(i))
    }

    /// Number of rows with a gradient.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row received a gradient.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The gradient as a dense `total_rows × dims` matrix (zeros elsewhere); an error when a row
    /// id is not below `total_rows`.
    pub fn to_dense(&self, total_rows: usize) -> Result<Vec<f32>> {
        let mut out = vec![0.0; total_rows * self.dims];
        for (i, &r) in self.rows.iter().enumerate() {
            if r >= total_rows {
                return Err(Error::invalid(
                    "rows",
                    format!("gradient row {r} is out of range for {total_rows} rows"),
                ));
            }
            out[r * self.dims..(r + 1) * self.dims].copy_from_slice(self.row(i));
        }
        Ok(out)
    }

    /// Checks that this gradient fits a `rows × dims` matrix.
    pub(crate) fn check_fits(&self, rows: usize, dims: usize) -> Result<()> {
        if self.dims != dims {
            return Err(Error::shape("gradient rows", dims, self.dims));
        }
        if let Some(&last) = self.rows.last() {
            if last >= rows {
                return Err(Error::invalid(
                    "gradient",
                    format!("row {last} is out of range for a matrix of {rows} rows"),
                ));
            }
        }
        Ok(())
    }
}

/// Sums contributions per row while a backward pass runs, then sorts them into a [`SparseGrad`].
#[derive(Debug)]
pub(crate) struct GradAccumulator {
    dims: usize,
    slot: FxHashMap<usize, usize>,
    rows: Vec<usize>,
    values: Vec<f32>,
}

impl GradAccumulator {
    pub(crate) fn new(dims: usize) -> Self {
        GradAccumulator {
            dims,
            slot: FxHashMap::default(),
            rows: Vec::new(),
            values: Vec::new(),
        }
    }

    /// The gradient row of `row`, created as zeros on first use.
    pub(crate) fn row_mut(&mut self, row: usize) -> &mut [f32] {
        let d = self.dims;
        let next = self.rows.len();
        let i = *self.slot.entry(row).or_insert(next);
        if i == next {
            self.rows.push(row);
            self.values.resize(self.values.len() + d, 0.0);
        }
        &mut self.values[i * d..(i + 1) * d]
    }

    /// Adds `scale · src` to the gradient of `row`.
    pub(crate) fn add_scaled(&mut self, row: usize, scale: f32, src: &[f32]) {
        let dst = self.row_mut(row);
        for (d, s) in dst.iter_mut().zip(src) {
            *d += scale * s;
        }
    }

    pub(crate) fn finish(self) -> SparseGrad {
        let d = self.dims;
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_unstable_by_key(|&i| self.rows[i]);
        let mut rows = Vec::with_capacity(order.len());
        let mut values = Vec::with_capacity(self.values.len());
        for i in order {
            rows.push(self.rows[i]);
            values.extend_from_slice(&self.values[i * d..(i + 1) * d]);
        }
        SparseGrad {
            rows,
            dims: d,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_parts_sums_repeats_and_sorts() {
        let g =
            SparseGrad::from_parts(vec![5, 1, 5], 2, vec![1.0, 2.0, 3.0, 4.0, 10.0, 20.0]).unwrap();
        assert_eq!(g.rows(), &[1, 5]);
        assert_eq!(g.values(), &[3.0, 4.0, 11.0, 22.0]);
        assert_eq!(g.get(5), Some(&[11.0, 22.0][..]));
        assert_eq!(g.get(2), None);
        assert_eq!(
            g.to_dense(6).unwrap(),
            vec![0., 0., 3., 4., 0., 0., 0., 0., 0., 0., 11., 22.]
        );
        assert!(g.to_dense(5).is_err());
        assert!(matches!(
            SparseGrad::from_parts(vec![1], 2, vec![1.0]),
            Err(Error::Shape { .. })
        ));
        assert!(g.check_fits(6, 2).is_ok());
        assert!(g.check_fits(5, 2).is_err());
        assert!(g.check_fits(6, 3).is_err());
    }
}
