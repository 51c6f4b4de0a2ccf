//! Element-wise encodings: f32 → f16 and f32 → int8 (symmetric or affine, one scale per row).

use half::f16;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::storage::{Buffer, DenseMatrix, F16Matrix, Int8Matrix};

fn check_finite(m: &DenseMatrix) -> Result<()> {
    if let Some(p) = m.as_slice().iter().position(|v| !v.is_finite()) {
        let d = m.dims().max(1);
        return Err(Error::invalid(
            "embeddings",
            format!(
                "row {} has a non-finite value at dimension {}",
                p / d,
                p % d
            ),
        ));
    }
    Ok(())
}

/// Rounds every value to the nearest f16 (ties to even). Values beyond the f16 range (±65504)
/// or not finite are refused rather than turned into infinities.
pub fn to_f16(m: &DenseMatrix) -> Result<F16Matrix> {
    check_finite(m)?;
    if let Some(p) = m.as_slice().iter().position(|v| v.abs() > 65504.0) {
        let d = m.dims().max(1);
        return Err(Error::invalid(
            "embeddings",
            format!(
                "row {} dimension {} is {}, beyond the f16 range ±65504",
                p / d,
                p % d,
                m.as_slice()[p]
            ),
        ));
    }
    let data: Vec<f16> = m.as_slice().par_iter().map(|&v| f16::from_f32(v)).collect();
    F16Matrix::new(m.rows(), m.dims(), data)
}

/// Quantizes each row to i8. Symmetric: `scale = max|x| / 127`, codes in -127..=127, so every
/// value is within `max|x| / 254` of its decoding. Affine: `scale = (max − min) / 255`, codes
/// in -128..=127 with `offset = min + 128 · scale`, error at most `(max − min) / 510`.
pub fn to_int8(m: &DenseMatrix, affine: bool) -> Result<Int8Matrix> {
    check_finite(m)?;
    let (rows, dims) = (m.rows(), m.dims());
    let mut codes = vec![0i8; rows * dims];
    let mut scales = vec![0.0f32; rows];
    let mut offsets = vec![0.0f32; rows];
    codes
        .par_chunks_mut(dims.max(1))
        .zip(scales.par_iter_mut())
        .zip(offsets.par_iter_mut())
        .enumerate()
        .for_each(|(i, ((c, s), o))| {
            let row = m.row(i);
            if affine {
                let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let scale = (hi - lo) / 255.0;
                if scale > 0.0 && scale.is_finite() {
                    let inv = 1.0 / scale;
                    for (q, &x) in c.iter_mut().zip(row) {
                        *q = (((x - lo) * inv).round().clamp(0.0, 255.0) - 128.0) as i8;
                    }
                    *s = scale;
                    *o = lo + 128.0 * scale;
                } else {
                    // A constant row (or an empty one): all codes 0, the offset is the value.
                    *o = if lo.is_finite() { lo } else { 0.0 };
                }
            } else {
                let (q, scale) = crate::storage::quantize_query(row);
                c.copy_from_slice(&q);
                *s = scale;
            }
        });
    Int8Matrix::new(
        rows,
        dims,
        codes,
        scales,
        affine.then_some(Buffer::Owned(offsets)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn int8_error_bounds_and_extremes() {
        let mut rng = Rng::new(9);
        let rows = 50;
        let dims = 37;
        let mut data: Vec<f32> = (0..rows * dims).map(|_| rng.normal() * 3.0).collect();
        data[..dims].fill(0.25); // a constant row
        data[dims..2 * dims].fill(0.0); // a zero row
        let m = DenseMatrix::new(rows, dims, data).unwrap();
        for affine in [false, true] {
            let q = to_int8(&m, affine).unwrap();
            let mut out = vec![0.0; dims];
            for i in 0..rows {
                q.row_into(i, &mut out);
                let row = m.row(i);
                let max = row.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                for (a, b) in row.iter().zip(&out) {
                    assert!(
                        (a - b).abs() <= max / 127.0 + 1e-6,
                        "affine={affine} row {i}: {a} vs {b}"
                    );
                }
                // The extremes are represented (almost) exactly.
                let imax = row
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .unwrap()
                    .0;
                assert!((row[imax] - out[imax]).abs() <= max * 1e-5 + 1e-7);
            }
        }
        let mut bad = m.clone();
        bad.row_mut(3)[4] = f32::NAN;
        let e = to_int8(&bad, false).unwrap_err().to_string();
        assert!(e.contains("row 3") && e.contains("dimension 4"), "{e}");
        let mut big = m.clone();
        big.row_mut(1)[0] = 1e6;
        assert!(to_f16(&big).unwrap_err().to_string().contains("f16 range"));
    }
}
