//! 8-bit rows: one signed byte per value and a per-row scale (symmetric), plus a per-row offset
//! (affine). Row `i` decodes to `offset_i + scale_i · code`; similarity scores come from exact
//! integer dot products against a quantized query.

use super::buffer::Buffer;
use crate::error::{Error, Result};

/// A rows × dims matrix of i8 codes with per-row scales (and offsets when affine).
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    dims: usize,
    codes: Buffer<i8>,
    scales: Buffer<f32>,
    offsets: Option<Buffer<f32>>,
}

impl Int8Matrix {
    /// Wraps `rows * dims` codes, `rows` scales and, for the affine kind, `rows` offsets.
    /// Scales and offsets must be finite.
    pub fn new(
        rows: usize,
        dims: usize,
        codes: impl Into<Buffer<i8>>,
        scales: impl Into<Buffer<f32>>,
        offsets: Option<Buffer<f32>>,
    ) -> Result<Self> {
        let (codes, scales) = (codes.into(), scales.into());
        if rows.checked_mul(dims) != Some(codes.len()) {
            return Err(Error::shape(
                "int8 codes",
                format!("{rows} × {dims}"),
                format!("{} values", codes.len()),
            ));
        }
        if scales.len() != rows {
            return Err(Error::shape("int8 scales", rows, scales.len()));
        }
        if !scales.as_slice().iter().all(|s| s.is_finite()) {
            return Err(Error::invalid("scales", "not all finite"));
        }
        if let Some(o) = &offsets {
            if o.len() != rows {
                return Err(Error::shape("int8 offsets", rows, o.len()));
            }
            if !o.as_slice().iter().all(|s| s.is_finite()) {
                return Err(Error::invalid("offsets", "not all finite"));
            }
        }
        Ok(Int8Matrix {
            rows,
            dims,
            codes,
            scales,
            offsets,
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

    /// True when rows carry an offset (affine quantization).
    pub fn is_affine(&self) -> bool {
        self.offsets.is_some()
    }

    /// True when the codes are a view into a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        self.codes.is_mapped()
    }

    /// All codes, row-major.
    pub fn codes(&self) -> &[i8] {
        &self.codes.as_slice()[..self.rows * self.dims]
    }

    /// The scale of every row.
    pub fn scales(&self) -> &[f32] {
        &self.scales.as_slice()[..self.rows]
    }

    /// The offset of every row (affine kind only).
    pub fn offsets(&self) -> Option<&[f32]> {
        self.offsets.as_ref().map(|o| &o.as_slice()[..self.rows])
    }

    /// Bytes of codes, scales and offsets.
    pub fn stored_bytes(&self) -> usize {
        self.rows * self.dims + self.rows * 4 * (1 + self.is_affine() as usize)
    }

    /// Row `i` decoded: `offset + scale · code`. Panics when `i >= rows()`.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        let s = self.scales()[i];
        let o = self.offsets().map_or(0.0, |o| o[i]);
        let codes = &self.codes()[i * self.dims..(i + 1) * self.dims];
        for (y, &c) in out.iter_mut().zip(codes) {
            *y = o + s * c as f32;
        }
    }

    /// `out[i] ≈ row_i · query`: the query is quantized symmetrically to i8, each score is the
    /// exact integer dot product times both scales, plus `offset_i · Σ query` for affine rows.
    /// The only error beyond the stored codes is the query's rounding (≤ max|query|/254 per value).
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        let (q, qscale) = quantize_query(query);
        let qsum: f32 = query.iter().sum();
        let d = self.dims.max(1);
        let scales = self.scales();
        let offsets = self.offsets();
        out.par_chunks_mut(4096)
            .zip(self.codes().par_chunks(4096 * d))
            .enumerate()
            .for_each(|(chunk, (o, rows))| {
                let base = chunk * 4096;
                for (j, (s, r)) in o.iter_mut().zip(rows.chunks_exact(d)).enumerate() {
                    let i = base + j;
                    let dot = crate::kernels::dot_i8(r, &q) as f32;
                    *s = score(scales[i], offsets.map(|o| o[i]), qscale, qsum, dot);
                }
            });
    }

    /// The codes of rows `r0..r1` as f32 into `out` (`(r1 - r0) × dims` values; exact). With
    /// the query's codes widened the same way, exact search's f32 kernel gives the integer dot
    /// products exactly while `dims ≤` [`EXACT_F32_DIMS`] (every partial sum stays below 2^24),
    /// which is how the blocked many-query path scores int8 rows.
    ///
    /// # Panics
    /// If the range is out of bounds or `out` has the wrong length.
    pub fn widen_codes(&self, r0: usize, r1: usize, out: &mut [f32]) {
        let codes = &self.codes()[r0 * self.dims..r1 * self.dims];
        assert_eq!(out.len(), codes.len(), "one value a code");
        for (y, &c) in out.iter_mut().zip(codes) {
            *y = f32::from(c);
        }
    }

    /// Rows `r0..r1` decoded into `out` (`(r1 - r0) × dims` values), each value as
    /// [`Int8Matrix::row_into`] gives it (`offset + scale · code`): the stored rows as f32.
    ///
    /// # Panics
    /// If the range is out of bounds or `out` has the wrong length.
    pub fn decode_rows(&self, r0: usize, r1: usize, out: &mut [f32]) {
        let d = self.dims;
        let codes = &self.codes()[r0 * d..r1 * d];
        assert_eq!(out.len(), codes.len(), "one value a code");
        if d == 0 {
            return;
        }
        let scales = &self.scales()[r0..r1];
        let offsets = self.offsets().map(|o| &o[r0..r1]);
        for (i, (y, c)) in out
            .chunks_exact_mut(d)
            .zip(codes.chunks_exact(d))
            .enumerate()
        {
            let (s, o) = (scales[i], offsets.map_or(0.0, |o| o[i]));
            for (y, &c) in y.iter_mut().zip(c) {
                *y = o + s * c as f32;
            }
        }
    }

    /// The score of row `i` from the integer dot product `dot` of its codes with a query
    /// quantized by [`quantize_query`] (`qscale`, and `qsum` the sum of the query's values):
    /// the arithmetic of [`Int8Matrix::dot_all`], shared so that every path scores alike.
    #[inline]
    pub fn score(&self, i: usize, qscale: f32, qsum: f32, dot: f32) -> f32 {
        score(
            self.scales()[i],
            self.offsets().map(|o| o[i]),
            qscale,
            qsum,
            dot,
        )
    }

    /// Keeps the first `n` rows.
    pub fn truncate_rows(&mut self, n: usize) {
        if n < self.rows {
            self.rows = n;
            self.codes.truncate(n * self.dims);
            self.scales.truncate(n);
            if let Some(o) = &mut self.offsets {
                o.truncate(n);
            }
        }
    }
}

/// Up to this many dims, integer dot products of i8 codes (|code| ≤ 128) are exact in f32
/// arithmetic: `dims · 128² ≤ 2^24`.
pub const EXACT_F32_DIMS: usize = 1024;

/// `scale · qscale · dot + offset · qsum` (no offset term for symmetric rows).
#[inline]
pub(crate) fn score(scale: f32, offset: Option<f32>, qscale: f32, qsum: f32, dot: f32) -> f32 {
    scale * qscale * dot + offset.map_or(0.0, |o| o * qsum)
}

/// Symmetric quantization of one vector: codes in -127..=127 and the scale `max|x| / 127`
/// (0 for a zero vector, NaN for a non-finite one), so that `x ≈ scale · code`.
pub fn quantize_query(x: &[f32]) -> (Vec<i8>, f32) {
    let mut codes = vec![0; x.len()];
    let scale = quantize_into(x, &mut codes);
    (codes, scale)
}

/// [`quantize_query`] into `codes` (as long as `x`), returning the scale.
pub fn quantize_into(x: &[f32], codes: &mut [i8]) -> f32 {
    let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        // An infinite vector has no meaningful scores; let them come out NaN.
        codes.fill(0);
        return if max == 0.0 { 0.0 } else { f32::NAN };
    }
    let inv = 127.0 / max;
    for (c, &v) in codes.iter_mut().zip(x) {
        *c = (v * inv).round().clamp(-127.0, 127.0) as i8;
    }
    max / 127.0
}
