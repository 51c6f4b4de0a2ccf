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

/// RQ codes (rows × m bytes) and codebooks (m × 2^bits × dims f32).
#[derive(Debug, Clone)]
pub struct RqMatrix {
    rows: usize,
    dims: usize,
    m: usize,
    bits: u32,
    codes: Buffer<u8>,
    codebooks: Buffer<f32>,
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
        })
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

    /// Bytes of codes and codebooks.
    pub fn stored_bytes(&self) -> usize {
        self.rows * self.m + self.codebooks.len() * 4
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
