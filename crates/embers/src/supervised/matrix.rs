//! The matrices of a fastText model: dense rows, or product-quantized rows with an optional
//! quantized norm per row (fastText's `QuantMatrix`: `qnorm`, codes, one `ProductQuantizer` of
//! 256 centroids per sub-space, and for `qnorm` a one-dimensional quantizer of the row norms).
//!
//! The arithmetic follows fastText's operation order in `f32` (row sums and dot products are
//! sequential), so hidden vectors and scores come out as fastText computes them.

use crate::error::{Error, Result};
use crate::io::fasttext::Cursor;
use crate::storage::DenseMatrix;

/// Centroids per sub-quantizer (fastText's `ksub_`: codes are bytes).
pub const KSUB: usize = 256;

/// fastText's product quantizer: `nsubq` sub-spaces of `dsub` columns (the last one
/// `lastdsub`), 256 centroids each. Centroids are stored sub-space after sub-space; within
/// one, centroid after centroid.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductQuantizer {
    /// Columns of the quantized vectors.
    pub dim: usize,
    /// Number of sub-spaces.
    pub nsubq: usize,
    /// Columns of each sub-space but the last.
    pub dsub: usize,
    /// Columns of the last sub-space.
    pub lastdsub: usize,
    /// `dim × 256` values.
    pub centroids: Vec<f32>,
}

impl ProductQuantizer {
    /// The layout fastText gives a quantizer of `dim` columns in sub-spaces of `dsub`.
    pub fn layout(dim: usize, dsub: usize) -> Result<Self> {
        if dim == 0 || dsub == 0 {
            return Err(Error::invalid("dsub", "dim and dsub must be positive"));
        }
        let mut nsubq = dim / dsub;
        let mut lastdsub = dim % dsub;
        if lastdsub == 0 {
            lastdsub = dsub;
        } else {
            nsubq += 1;
        }
        let len = dim
            .checked_mul(KSUB)
            .ok_or_else(|| Error::invalid("dim", "too large"))?;
        Ok(ProductQuantizer {
            dim,
            nsubq,
            dsub,
            lastdsub,
            centroids: vec![0.0; len],
        })
    }

    /// Offset of centroid `i` of sub-space `m` in `centroids`.
    #[inline]
    pub fn centroid_at(&self, m: usize, i: u8) -> usize {
        if m + 1 == self.nsubq {
            m * KSUB * self.dsub + i as usize * self.lastdsub
        } else {
            (m * KSUB + i as usize) * self.dsub
        }
    }

    /// Columns of sub-space `m`.
    #[inline]
    pub fn width(&self, m: usize) -> usize {
        if m + 1 == self.nsubq {
            self.lastdsub
        } else {
            self.dsub
        }
    }

    /// `x += alpha · decode(code)` (fastText's `addcode`).
    #[inline]
    pub fn add_code(&self, x: &mut [f32], code: &[u8], alpha: f32) {
        for (m, &c) in code.iter().enumerate().take(self.nsubq) {
            let at = self.centroid_at(m, c);
            let d = self.width(m);
            let cent = &self.centroids[at..at + d];
            let xs = &mut x[m * self.dsub..m * self.dsub + d];
            for (xv, cv) in xs.iter_mut().zip(cent) {
                *xv += alpha * cv;
            }
        }
    }

    /// `alpha · (x · decode(code))` (fastText's `mulcode`, same summation order).
    #[inline]
    pub fn mul_code(&self, x: &[f32], code: &[u8], alpha: f32) -> f32 {
        let mut res = 0f32;
        for (m, &c) in code.iter().enumerate().take(self.nsubq) {
            let at = self.centroid_at(m, c);
            let d = self.width(m);
            let cent = &self.centroids[at..at + d];
            for (xv, cv) in x[m * self.dsub..m * self.dsub + d].iter().zip(cent) {
                res += xv * cv;
            }
        }
        res * alpha
    }

    pub(crate) fn read(c: &mut Cursor, what: &str) -> Result<Self> {
        let at = c.pos;
        let mut v = [0i32; 4];
        for x in v.iter_mut() {
            *x = c.i32(what)?;
        }
        let [dim, nsubq, dsub, lastdsub] = v;
        let bad = |msg: String| c.err(at, format!("{what}: {msg}"));
        if dim <= 0 || dsub <= 0 {
            return Err(bad(format!("dim {dim} and dsub {dsub} must be positive")));
        }
        let mut pq = ProductQuantizer::layout(dim as usize, dsub as usize)?;
        if pq.nsubq as i64 != nsubq as i64 || pq.lastdsub as i64 != lastdsub as i64 {
            return Err(bad(format!(
                "{nsubq} sub-quantizers with last width {lastdsub} do not fit dim {dim} and dsub {dsub}"
            )));
        }
        let bytes = (dim as usize)
            .checked_mul(KSUB * 4)
            .filter(|&b| b <= c.bytes.len() - c.pos)
            .ok_or_else(|| {
                c.err(
                    c.pos,
                    format!("{what}: the file ends inside the centroids (truncated file?)"),
                )
            })?;
        let start = c.pos;
        let raw = c.take(bytes, what)?;
        for (k, (dst, b)) in pq.centroids.iter_mut().zip(raw.chunks_exact(4)).enumerate() {
            *dst = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if !dst.is_finite() {
                return Err(c.err(start + 4 * k, format!("{what}: centroid value {dst}")));
            }
        }
        Ok(pq)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        for v in [self.dim, self.nsubq, self.dsub, self.lastdsub] {
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        for v in &self.centroids {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A product-quantized matrix (fastText's `QuantMatrix`).
#[derive(Debug, Clone, PartialEq)]
pub struct QuantMatrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub dims: usize,
    /// `rows × pq.nsubq` codes.
    pub codes: Vec<u8>,
    /// The quantizer of the (normalised, when `norms` is set) rows.
    pub pq: ProductQuantizer,
    /// With `qnorm`: one code per row and the one-dimensional quantizer of the norms.
    pub norms: Option<(Vec<u8>, ProductQuantizer)>,
}

impl QuantMatrix {
    #[inline]
    fn norm(&self, i: usize) -> f32 {
        match &self.norms {
            Some((codes, npq)) => npq.centroids[npq.centroid_at(0, codes[i])],
            None => 1.0,
        }
    }

    #[inline]
    fn code(&self, i: usize) -> &[u8] {
        &self.codes[i * self.pq.nsubq..(i + 1) * self.pq.nsubq]
    }

    /// Decodes row `i` (times its norm) into `out`.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        out.fill(0.0);
        self.pq.add_code(out, self.code(i), self.norm(i));
    }

    pub(crate) fn read(c: &mut Cursor, name: &str) -> Result<Self> {
        let at = c.pos;
        let what = format!("the quantized {name} matrix");
        let qnorm = match c.u8(&what)? {
            0 => false,
            1 => true,
            b => return Err(c.err(at, format!("{what}: qnorm flag is {b}, not 0 or 1"))),
        };
        let m = c.i64(&what)?;
        let n = c.i64(&what)?;
        let codesize = c.i32(&what)?;
        if m < 0 || n <= 0 || codesize < 0 || m > i32::MAX as i64 || n > i32::MAX as i64 {
            return Err(c.err(
                at,
                format!("{what}: shape {m} × {n} with {codesize} codes is impossible"),
            ));
        }
        if codesize as usize > c.bytes.len() - c.pos {
            return Err(c.err(
                c.pos,
                format!("{what}: {codesize} codes but the file ends before (truncated file?)"),
            ));
        }
        let codes = c.take(codesize as usize, &what)?.to_vec();
        let pq = ProductQuantizer::read(c, &format!("{what}'s quantizer"))?;
        if pq.dim as i64 != n {
            return Err(c.err(
                at,
                format!("{what}: {n} columns but its quantizer has {}", pq.dim),
            ));
        }
        if (m as u64).checked_mul(pq.nsubq as u64) != Some(codesize as u64) {
            return Err(c.err(
                at,
                format!(
                    "{what}: {codesize} codes, expected {m} rows × {} sub-quantizers",
                    pq.nsubq
                ),
            ));
        }
        let norms = if qnorm {
            let what = format!("{what}'s norm codes");
            if m as usize > c.bytes.len() - c.pos {
                return Err(c.err(c.pos, format!("{what}: truncated file")));
            }
            let codes = c.take(m as usize, &what)?.to_vec();
            let npq = ProductQuantizer::read(c, &format!("{what}' quantizer"))?;
            if npq.dim != 1 {
                return Err(c.err(
                    c.pos,
                    format!("{what}: the norm quantizer has {} columns, not 1", npq.dim),
                ));
            }
            Some((codes, npq))
        } else {
            None
        };
        Ok(QuantMatrix {
            rows: m as usize,
            dims: n as usize,
            codes,
            pq,
            norms,
        })
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.norms.is_some() as u8);
        out.extend_from_slice(&(self.rows as i64).to_le_bytes());
        out.extend_from_slice(&(self.dims as i64).to_le_bytes());
        out.extend_from_slice(&(self.codes.len() as i32).to_le_bytes());
        out.extend_from_slice(&self.codes);
        self.pq.write(out);
        if let Some((codes, npq)) = &self.norms {
            out.extend_from_slice(codes);
            npq.write(out);
        }
    }
}

/// The input or output matrix of a model.
#[derive(Debug, Clone, PartialEq)]
pub enum Matrix {
    /// Plain `f32` rows.
    Dense(DenseMatrix),
    /// Product-quantized rows.
    Quant(QuantMatrix),
}

impl Matrix {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        match self {
            Matrix::Dense(d) => d.rows(),
            Matrix::Quant(q) => q.rows,
        }
    }

    /// Number of columns.
    pub fn dims(&self) -> usize {
        match self {
            Matrix::Dense(d) => d.dims(),
            Matrix::Quant(q) => q.dims,
        }
    }

    /// `x += row i` (fastText's `addRowToVector`).
    #[inline]
    pub fn add_row(&self, i: usize, x: &mut [f32]) {
        match self {
            Matrix::Dense(d) => {
                for (xv, v) in x.iter_mut().zip(d.row(i)) {
                    *xv += v;
                }
            }
            Matrix::Quant(q) => q.pq.add_code(x, q.code(i), q.norm(i)),
        }
    }

    /// `row i · x` (fastText's `dotRow`, sequential sum).
    #[inline]
    pub fn dot_row(&self, i: usize, x: &[f32]) -> f32 {
        match self {
            Matrix::Dense(d) => {
                let mut s = 0f32;
                for (a, b) in d.row(i).iter().zip(x) {
                    s += a * b;
                }
                s
            }
            Matrix::Quant(q) => q.pq.mul_code(x, q.code(i), q.norm(i)),
        }
    }

    /// True for product-quantized rows.
    pub fn is_quantized(&self) -> bool {
        matches!(self, Matrix::Quant(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_fasttext_rules() {
        let pq = ProductQuantizer::layout(10, 4).unwrap();
        assert_eq!((pq.nsubq, pq.dsub, pq.lastdsub), (3, 4, 2));
        assert_eq!(pq.centroids.len(), 2560);
        // Last sub-space: centroids of width 2 after 2 × 256 centroids of width 4.
        assert_eq!(pq.centroid_at(2, 3), 2 * 256 * 4 + 3 * 2);
        assert_eq!(pq.centroid_at(1, 3), (256 + 3) * 4);
        let pq = ProductQuantizer::layout(8, 2).unwrap();
        assert_eq!((pq.nsubq, pq.lastdsub), (4, 2));
    }

    #[test]
    fn add_and_mul_code_agree() {
        let mut pq = ProductQuantizer::layout(3, 2).unwrap();
        for (i, c) in pq.centroids.iter_mut().enumerate() {
            *c = (i % 7) as f32 - 3.0;
        }
        let code = [5u8, 9];
        let mut x = vec![0f32; 3];
        pq.add_code(&mut x, &code, 2.0);
        let a = pq.centroid_at(0, 5);
        let b = pq.centroid_at(1, 9);
        let want = [
            2.0 * pq.centroids[a],
            2.0 * pq.centroids[a + 1],
            2.0 * pq.centroids[b],
        ];
        assert_eq!(x, want);
        let y = [1.0f32, -1.0, 0.5];
        let dot = pq.mul_code(&y, &code, 2.0);
        let direct: f32 = want.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((dot - direct).abs() < 1e-5);
    }
}
