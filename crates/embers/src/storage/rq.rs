//! Residual-quantized rows (additive codes): a row is the sum of `m` codewords, one from each of
//! `m` codebooks of `2^bits` full-length vectors, `x̂ = Σ_j C_j[c_j]`. Codebook `j` was trained
//! on what the first `j` left over (the residuals), and codes were chosen by beam search
//! (`quant::rq`). Inner products are exact on the codes: `q · x̂ = Σ_j q · C_j[c_j]`, so a query
//! is scored by one table of `m × 2^bits` dot products and one lookup per code, as PQ is. The
//! codewords are not orthogonal, so the norm of a row needs its decoded vector: norms are
//! computed once when a file is opened ([`RqMatrix::row_norms`]), not stored.

use super::buffer::Buffer;
use super::pq::{adc_all, adc_range, check_settings as check_pq_settings, interleave_tables};
use crate::error::{Error, Result};

/// How RQ codebooks are stored in a file (in memory they are always f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodebookDtype {
    /// 4 bytes a value.
    #[default]
    F32,
    /// Half precision, 2 bytes a value (every value exactly an f16).
    F16,
    /// 8-bit integers times one f32 scale a codeword (1 byte a value, 4 a codeword).
    Int8,
}

impl CodebookDtype {
    /// Bytes a stored value (int8: without the scales).
    pub fn bytes(self) -> usize {
        match self {
            CodebookDtype::F32 => 4,
            CodebookDtype::F16 => 2,
            CodebookDtype::Int8 => 1,
        }
    }

    /// `f32`, `f16` or `int8`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "f32" => Ok(CodebookDtype::F32),
            "f16" => Ok(CodebookDtype::F16),
            "int8" => Ok(CodebookDtype::Int8),
            other => Err(Error::invalid(
                "codebook_dtype",
                format!("unknown codebook dtype {other:?}: expected f32, f16 or int8"),
            )),
        }
    }

    /// The value of `codeword` this dtype stores (f16: rounded; int8: `q · s` with
    /// `s = max|v| / 127` and `q = round(v / s)`), and the scale for int8. `None` when a value
    /// does not fit.
    pub fn round(self, codeword: &mut [f32]) -> Option<f32> {
        match self {
            CodebookDtype::F32 => Some(1.0),
            CodebookDtype::F16 => {
                for v in codeword.iter_mut() {
                    *v = half::f16::from_f32(*v).to_f32();
                }
                codeword.iter().all(|v| v.is_finite()).then_some(1.0)
            }
            CodebookDtype::Int8 => {
                let max = codeword.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                if !max.is_finite() {
                    return None;
                }
                let s = max / 127.0;
                for v in codeword.iter_mut() {
                    *v = if s > 0.0 {
                        (*v / s).round().clamp(-127.0, 127.0) * s
                    } else {
                        0.0
                    };
                }
                Some(s)
            }
        }
    }
}

/// RQ codes (rows × m bytes) and codebooks (m × 2^bits × dims, f32 in memory; stored as
/// `codebook_dtype`).
#[derive(Debug, Clone)]
pub struct RqMatrix {
    rows: usize,
    dims: usize,
    m: usize,
    bits: u32,
    codes: Buffer<u8>,
    codebooks: Buffer<f32>,
    codebook_dtype: CodebookDtype,
    /// Int8 codebooks: the scale of every codeword (m × 2^bits).
    codebook_scales: Vec<f32>,
}

/// Checks RQ settings: `m ≥ 1` stages (at most 256), `1 ≤ bits ≤ 8`.
pub fn check_settings(m: usize, bits: u32) -> Result<()> {
    if !(1..=256).contains(&m) {
        return Err(Error::invalid(
            "subquantizers",
            format!("{m} stages: expected 1..=256"),
        ));
    }
    // Any dims is fine for RQ; the bits rule is PQ's.
    check_pq_settings(m, m, bits)
}

impl RqMatrix {
    /// Wraps codes and codebooks, checking every length, that every code is below `2^bits`
    /// and that the codebooks are finite.
    pub fn new(
        rows: usize,
        dims: usize,
        m: usize,
        bits: u32,
        codes: impl Into<Buffer<u8>>,
        codebooks: impl Into<Buffer<f32>>,
    ) -> Result<Self> {
        check_settings(m, bits)?;
        let (codes, codebooks) = (codes.into(), codebooks.into());
        if crate::size::product("rq codes", &[rows, m])? != codes.len() {
            return Err(Error::shape(
                "rq codes",
                format!("{rows} × {m}"),
                format!("{} codes", codes.len()),
            ));
        }
        let ksub = 1usize << bits;
        if crate::size::product("rq codebooks", &[m, ksub, dims])? != codebooks.len() {
            return Err(Error::shape(
                "rq codebooks",
                format!("{m} × {ksub} × {dims}"),
                format!("{} values", codebooks.len()),
            ));
        }
        if !codebooks.as_slice().iter().all(|c| c.is_finite()) {
            return Err(Error::invalid("codebooks", "not all finite"));
        }
        if bits < 8 {
            if let Some(p) = codes.as_slice().iter().position(|&c| c as usize >= ksub) {
                return Err(Error::invalid(
                    "codes",
                    format!(
                        "code {} of row {} is {}, not below 2^{bits}",
                        p % m,
                        p / m,
                        codes.as_slice()[p]
                    ),
                ));
            }
        }
        Ok(RqMatrix {
            rows,
            dims,
            m,
            bits,
            codes,
            codebooks,
            codebook_dtype: CodebookDtype::F32,
            codebook_scales: Vec::new(),
        })
    }

    /// The same matrix, its codebooks to be stored as `dtype`: for f16, every codebook value
    /// must be exactly an f16 (rounded by the trainer, or read from an f16 tensor).
    pub fn with_codebook_dtype(mut self, dtype: CodebookDtype) -> Result<Self> {
        if dtype == CodebookDtype::Int8 {
            return Err(Error::invalid(
                "codebook_dtype",
                "int8 codebooks need their scales (with_int8_codebooks)",
            ));
        }
        if dtype == CodebookDtype::F16 {
            if let Some(p) = self
                .codebooks
                .as_slice()
                .iter()
                .position(|&v| half::f16::from_f32(v).to_f32().to_bits() != v.to_bits())
            {
                return Err(Error::invalid(
                    "codebooks",
                    format!(
                        "value {} (at {p}) is not exactly a half-precision number",
                        self.codebooks.as_slice()[p]
                    ),
                ));
            }
        }
        self.codebook_dtype = dtype;
        Ok(self)
    }

    /// The same matrix, its codebooks to be stored as 8-bit integers times `scales` (one a
    /// codeword, finite and ≥ 0): every value must be exactly `q · s` with `q` an integer in
    /// −127..=127 (rounded so by the trainer, or read from an int8 tensor).
    pub fn with_int8_codebooks(mut self, scales: Vec<f32>) -> Result<Self> {
        let (k, d) = (self.ksub(), self.dims);
        if scales.len() != self.m * k {
            return Err(Error::shape(
                "codebook_scales",
                format!("{} × {k}", self.m),
                format!("{} values", scales.len()),
            ));
        }
        if let Some(p) = scales.iter().position(|s| !s.is_finite() || *s < 0.0) {
            return Err(Error::invalid(
                "codebook_scales",
                format!("scale {p} is {}: expected a finite number ≥ 0", scales[p]),
            ));
        }
        for (c, &s) in scales.iter().enumerate() {
            for &v in &self.codebooks.as_slice()[c * d..(c + 1) * d] {
                let q = if s > 0.0 { (v / s).round() } else { 0.0 };
                if q.abs() > 127.0 || (q * s).to_bits() != v.to_bits() && !(q == 0.0 && v == 0.0) {
                    return Err(Error::invalid(
                        "codebooks",
                        format!(
                            "value {v} of codeword {c} is not an 8-bit multiple of its scale {s}"
                        ),
                    ));
                }
            }
        }
        self.codebook_dtype = CodebookDtype::Int8;
        self.codebook_scales = scales;
        Ok(self)
    }

    /// Int8 codebooks: the scale of every codeword (empty otherwise).
    pub fn codebook_scales(&self) -> &[f32] {
        &self.codebook_scales
    }

    /// The codebooks as 8-bit integers (exact when [`RqMatrix::codebook_dtype`] is int8).
    pub fn codebooks_i8(&self) -> Vec<i8> {
        let d = self.dims.max(1);
        self.codebooks
            .as_slice()
            .chunks(d)
            .zip(self.codebook_scales.iter().chain(std::iter::repeat(&0.0)))
            .flat_map(|(w, &s)| {
                w.iter()
                    .map(move |&v| if s > 0.0 { (v / s).round() as i8 } else { 0 })
            })
            .collect()
    }

    /// How the codebooks are stored.
    pub fn codebook_dtype(&self) -> CodebookDtype {
        self.codebook_dtype
    }

    /// The codebooks as half-precision values (exact when [`RqMatrix::codebook_dtype`] is f16).
    pub fn codebooks_f16(&self) -> Vec<half::f16> {
        self.codebooks
            .as_slice()
            .iter()
            .map(|&v| half::f16::from_f32(v))
            .collect()
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns of the decoded rows.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of stages (code bytes per row).
    pub fn stages(&self) -> usize {
        self.m
    }

    /// Bits per code (codebooks have `2^bits` codewords).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Codewords per codebook.
    pub fn ksub(&self) -> usize {
        1 << self.bits
    }

    /// All codes, row-major (rows × m).
    pub fn codes(&self) -> &[u8] {
        &self.codes.as_slice()[..self.rows * self.m]
    }

    /// Codebooks, m × 2^bits × dims.
    pub fn codebooks(&self) -> &[f32] {
        self.codebooks.as_slice()
    }

    /// Codeword `c` of codebook `j` (`dims` values).
    pub fn codeword(&self, j: usize, c: usize) -> &[f32] {
        let at = (j * self.ksub() + c) * self.dims;
        &self.codebooks()[at..at + self.dims]
    }

    /// True when the codes are a view into a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        self.codes.is_mapped()
    }

    /// Bytes of codes and codebooks (as stored).
    pub fn stored_bytes(&self) -> usize {
        self.rows * self.m
            + self.codebooks.len() * self.codebook_dtype.bytes()
            + self.codebook_scales.len() * 4
    }

    /// Row `i` decoded: the sum of its codewords, added in stage order. Panics when
    /// `i >= rows()`.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        decode_into(self, &self.codes()[i * self.m..(i + 1) * self.m], out);
    }

    /// The L2 norm of every decoded row, on all cores (each row decoded once: additive
    /// codewords are not orthogonal, so no table of codeword norms gives it).
    pub fn row_norms(&self) -> Vec<f32> {
        use rayon::prelude::*;
        let (m, dims) = (self.m, self.dims);
        self.codes()
            .par_chunks(4096 * m)
            .flat_map_iter(|rows| {
                let mut buf = vec![0.0f32; dims];
                rows.chunks_exact(m)
                    .map(|codes| {
                        decode_into(self, codes, &mut buf);
                        crate::kernels::norm(&buf)
                    })
                    .collect::<Vec<f32>>()
            })
            .collect()
    }

    /// The lookup table of a query: `table[j · 2^bits + c]` is the dot product of the query
    /// with codeword `c` of codebook `j` (the whole query: codewords span all dimensions).
    pub fn lookup_table(&self, query: &[f32]) -> Vec<f32> {
        let ksub = self.ksub();
        let mut table = vec![0.0f32; self.m * ksub];
        for (t, w) in table
            .iter_mut()
            .zip(self.codebooks().chunks_exact(self.dims.max(1)))
        {
            *t = crate::kernels::dot(w, query);
        }
        table
    }

    /// `out[i] = decoded row_i · query` (up to rounding), by table lookups on the codes, summed
    /// in the order of [`PqMatrix::dot_all`](super::PqMatrix::dot_all).
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        let table = self.lookup_table(query);
        adc_all(&table, self.ksub(), self.m, self.codes(), out);
    }

    /// The lookup tables of up to [`ADC_LANES`](super::pq::ADC_LANES) queries, interleaved as
    /// [`PqMatrix::lookup_tables`](super::PqMatrix::lookup_tables) lays them out.
    ///
    /// # Panics
    /// If `qn > ADC_LANES` or `queries` is not `qn` whole queries.
    pub fn lookup_tables(&self, queries: &[f32], qn: usize) -> Vec<f32> {
        interleave_tables(queries, qn, self.dims, self.m * self.ksub(), |q| {
            self.lookup_table(q)
        })
    }

    /// The scores [`RqMatrix::dot_all`] gives rows `r0..r1` for the `qn` queries of `tables`
    /// (from [`RqMatrix::lookup_tables`]), bit for bit: `out[(r - r0) · qn + q]`.
    ///
    /// # Panics
    /// If the range is out of bounds, or `tables` or `out` has the wrong length.
    pub fn adc_block(&self, tables: &[f32], qn: usize, r0: usize, r1: usize, out: &mut [f32]) {
        adc_range(tables, qn, self.ksub(), self.m, self.codes(), r0, r1, out)
    }

    /// Keeps the first `n` rows.
    pub fn truncate_rows(&mut self, n: usize) {
        if n < self.rows {
            self.rows = n;
            self.codes.truncate(n * self.m);
        }
    }
}

/// `out` = the sum of the codewords named by `codes` (one a stage), added in stage order.
fn decode_into(rq: &RqMatrix, codes: &[u8], out: &mut [f32]) {
    out.fill(0.0);
    for (j, &c) in codes.iter().enumerate() {
        for (o, w) in out.iter_mut().zip(rq.codeword(j, c as usize)) {
            *o += w;
        }
    }
}
