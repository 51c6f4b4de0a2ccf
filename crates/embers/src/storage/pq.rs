//! Product-quantized rows: each row is split into `m` sub-vectors of `dims / m` values, and each
//! sub-vector is stored as the index (one byte) of its nearest centroid among `2^bits` in that
//! subspace's codebook. An optional orthogonal rotation is applied before splitting (optimised
//! PQ). Scores use asymmetric distance computation: one table of `m × 2^bits` dot products per
//! query, then one table lookup per code.

use super::buffer::Buffer;
use crate::error::{Error, Result};

/// PQ codes (rows × m bytes), codebooks (m × 2^bits × dims/m f32) and an optional rotation
/// (dims × dims f32, row-major, orthogonal: a row `x` is encoded as `x · R`).
#[derive(Debug, Clone)]
pub struct PqMatrix {
    rows: usize,
    dims: usize,
    m: usize,
    bits: u32,
    codes: Buffer<u8>,
    centroids: Buffer<f32>,
    rotation: Option<Buffer<f32>>,
}

/// Queries scored side by side by [`PqMatrix::adc_block`].
pub const ADC_LANES: usize = 16;

/// Checks PQ settings: `m ≥ 1` divides `dims`, `1 ≤ bits ≤ 8`.
pub fn check_settings(dims: usize, m: usize, bits: u32) -> Result<()> {
    if m == 0 || !dims.is_multiple_of(m) {
        return Err(Error::invalid(
            "subquantizers",
            format!("{m} does not divide the {dims} dimensions"),
        ));
    }
    if !(1..=8).contains(&bits) {
        return Err(Error::invalid(
            "bits",
            format!("{bits} is outside 1..=8 (codes are single bytes)"),
        ));
    }
    Ok(())
}

impl PqMatrix {
    /// Wraps codes, codebooks and an optional rotation, checking every length and that every
    /// code is below `2^bits`.
    pub fn new(
        rows: usize,
        dims: usize,
        m: usize,
        bits: u32,
        codes: impl Into<Buffer<u8>>,
        centroids: impl Into<Buffer<f32>>,
        rotation: Option<Buffer<f32>>,
    ) -> Result<Self> {
        check_settings(dims, m, bits)?;
        let (codes, centroids) = (codes.into(), centroids.into());
        if rows.checked_mul(m) != Some(codes.len()) {
            return Err(Error::shape(
                "pq codes",
                format!("{rows} × {m}"),
                format!("{} codes", codes.len()),
            ));
        }
        let ksub = 1usize << bits;
        if centroids.len() != ksub * dims {
            return Err(Error::shape(
                "pq centroids",
                format!("{m} × {ksub} × {}", dims / m),
                format!("{} values", centroids.len()),
            ));
        }
        if !centroids.as_slice().iter().all(|c| c.is_finite()) {
            return Err(Error::invalid("centroids", "not all finite"));
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
        if let Some(r) = &rotation {
            if r.len() != dims * dims {
                return Err(Error::shape(
                    "pq rotation",
                    format!("{dims} × {dims}"),
                    format!("{} values", r.len()),
                ));
            }
            if !r.as_slice().iter().all(|c| c.is_finite()) {
                return Err(Error::invalid("rotation", "not all finite"));
            }
        }
        Ok(PqMatrix {
            rows,
            dims,
            m,
            bits,
            codes,
            centroids,
            rotation,
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

    /// Number of subquantizers (code bytes per row).
    pub fn subquantizers(&self) -> usize {
        self.m
    }

    /// Bits per code (codebooks have `2^bits` centroids).
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// Values per sub-vector.
    pub fn dsub(&self) -> usize {
        self.dims / self.m
    }

    /// Centroids per codebook.
    pub fn ksub(&self) -> usize {
        1 << self.bits
    }

    /// All codes, row-major (rows × m).
    pub fn codes(&self) -> &[u8] {
        &self.codes.as_slice()[..self.rows * self.m]
    }

    /// Codebooks, m × 2^bits × dsub.
    pub fn centroids(&self) -> &[f32] {
        self.centroids.as_slice()
    }

    /// The rotation applied before encoding, dims × dims row-major, if any.
    pub fn rotation(&self) -> Option<&[f32]> {
        self.rotation.as_ref().map(Buffer::as_slice)
    }

    /// True when the codes are a view into a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        self.codes.is_mapped()
    }

    /// Bytes of codes, codebooks and rotation.
    pub fn stored_bytes(&self) -> usize {
        self.rows * self.m
            + self.centroids.len() * 4
            + self.rotation.as_ref().map_or(0, |r| r.len() * 4)
    }

    /// The L2 norm of every decoded row, from the codes alone: the subspaces are disjoint and the
    /// rotation orthogonal, so `‖x̂‖² = Σ_j ‖centroid_j‖²` (one table of `m × 2^bits` squared
    /// centroid norms, then `m` lookups a row). This is why PQ files store no norms.
    pub fn row_norms(&self) -> Vec<f32> {
        use rayon::prelude::*;
        let (dsub, m) = (self.dsub(), self.m);
        let table: Vec<f32> = self
            .centroids()
            .chunks_exact(dsub.max(1))
            .map(|c| c.iter().map(|v| v * v).sum())
            .collect();
        let ksub = self.ksub();
        self.codes()
            .par_chunks(4096 * m)
            .flat_map_iter(|rows| {
                rows.chunks_exact(m).map(|codes| {
                    let sq: f32 = codes
                        .iter()
                        .enumerate()
                        .map(|(j, &c)| table[j * ksub + c as usize])
                        .sum();
                    sq.sqrt()
                })
            })
            .collect()
    }

    /// Row `i` decoded: its centroids concatenated, rotated back. Panics when `i >= rows()`.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        let codes = &self.codes()[i * self.m..(i + 1) * self.m];
        match self.rotation() {
            None => self.gather(codes, out),
            Some(r) => {
                let mut y = vec![0.0f32; self.dims];
                self.gather(codes, &mut y);
                // x = y · Rᵀ, i.e. x_i = row_i(R) · y.
                for (xi, ri) in out.iter_mut().zip(r.chunks_exact(self.dims)) {
                    *xi = crate::kernels::dot(ri, &y);
                }
            }
        }
    }

    /// Concatenates the centroids named by `codes` (in the rotated space).
    fn gather(&self, codes: &[u8], out: &mut [f32]) {
        let (dsub, ksub) = (self.dsub(), self.ksub());
        let cents = self.centroids();
        for (j, (&c, o)) in codes.iter().zip(out.chunks_exact_mut(dsub)).enumerate() {
            let at = (j * ksub + c as usize) * dsub;
            o.copy_from_slice(&cents[at..at + dsub]);
        }
    }

    /// The query in the space the codebooks live in (`query · R`, or the query itself).
    pub fn rotate_query(&self, query: &[f32]) -> Vec<f32> {
        match self.rotation() {
            None => query.to_vec(),
            Some(r) => {
                let mut y = vec![0.0f32; self.dims];
                for (&q, ri) in query.iter().zip(r.chunks_exact(self.dims)) {
                    crate::kernels::axpy(q, ri, &mut y);
                }
                y
            }
        }
    }

    /// The asymmetric-distance table of a query: `table[j · 2^bits + c]` is the dot product of
    /// the query's j-th sub-vector with centroid `c` of codebook `j`.
    pub fn lookup_table(&self, query: &[f32]) -> Vec<f32> {
        let q = self.rotate_query(query);
        let (dsub, ksub) = (self.dsub(), self.ksub());
        let cents = self.centroids();
        let mut table = vec![0.0f32; self.m * ksub];
        for j in 0..self.m {
            let qj = &q[j * dsub..(j + 1) * dsub];
            for c in 0..ksub {
                let at = (j * ksub + c) * dsub;
                table[j * ksub + c] = crate::kernels::dot(&cents[at..at + dsub], qj);
            }
        }
        table
    }

    /// `out[i] = decoded row_i · query`, by table lookups on the codes (no row is decoded).
    /// A row's score is summed in one fixed order: four running sums over the codes in steps
    /// of four (sum `l` takes codes `4s + l`), added as `(s0 + s1) + (s2 + s3)`, then the
    /// remaining codes one by one. [`PqMatrix::adc_block`] sums in the same order, so single
    /// and blocked many-query scores are the same bit for bit.
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        let table = self.lookup_table(query);
        adc_all(&table, self.ksub(), self.m, self.codes(), out);
    }

    /// The lookup tables of up to [`ADC_LANES`] queries (`queries` holds `qn × dims` values),
    /// interleaved for [`PqMatrix::adc_block`]: entry `(j · 2^bits + c) · ADC_LANES + q` is
    /// entry `j · 2^bits + c` of [`PqMatrix::lookup_table`] of query `q` (lanes past `qn` are 0).
    ///
    /// # Panics
    /// If `qn > ADC_LANES` or `queries` is not `qn` whole queries.
    pub fn lookup_tables(&self, queries: &[f32], qn: usize) -> Vec<f32> {
        interleave_tables(queries, qn, self.dims, self.m * self.ksub(), |q| {
            self.lookup_table(q)
        })
    }

    /// `out[(r - r0) · qn + q]` = the score [`PqMatrix::dot_all`] gives row `r` for query `q`,
    /// for rows `r0..r1` and the `qn` queries whose tables `tables` holds (from
    /// [`PqMatrix::lookup_tables`]): each row's codes are read once for all the queries, whose
    /// sums run side by side in the order `dot_all` adds them.
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

/// The lookup tables of up to [`ADC_LANES`] queries of `dims` values each, interleaved: entry
/// `e · ADC_LANES + q` is entry `e` (of `entries`) of `table(query q)`; lanes past `qn` are 0.
/// The layout [`adc_codes`] reads, shared by every kind scored by table lookups (PQ, RQ).
///
/// # Panics
/// If `qn > ADC_LANES` or `queries` is not `qn` whole queries.
pub(crate) fn interleave_tables(
    queries: &[f32],
    qn: usize,
    dims: usize,
    entries: usize,
    table: impl Fn(&[f32]) -> Vec<f32>,
) -> Vec<f32> {
    assert!(qn <= ADC_LANES, "at most {ADC_LANES} queries");
    assert_eq!(queries.len(), qn * dims, "whole queries");
    let mut out = vec![0.0f32; entries * ADC_LANES];
    for (q, query) in queries.chunks_exact(dims.max(1)).take(qn).enumerate() {
        for (e, v) in table(query).into_iter().enumerate() {
            out[e * ADC_LANES + q] = v;
        }
    }
    out
}

/// The scores of rows `r0..r1` of `codes` (`m` codes a row) for the `qn` queries of the
/// interleaved `tables` (`m` tables of `ksub` entries a lane): `out[(r - r0) · qn + q]`.
///
/// # Panics
/// If the range is out of bounds, or `tables` or `out` has the wrong length.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adc_range(
    tables: &[f32],
    qn: usize,
    ksub: usize,
    m: usize,
    codes: &[u8],
    r0: usize,
    r1: usize,
    out: &mut [f32],
) {
    assert!(qn <= ADC_LANES, "at most {ADC_LANES} queries");
    assert_eq!(
        tables.len(),
        m * ksub * ADC_LANES,
        "one table a code and lane"
    );
    assert_eq!(out.len(), (r1 - r0) * qn, "one score a row and query");
    adc_codes(tables, ksub, m, &codes[r0 * m..r1 * m], qn, out)
}

/// `out[i]` = the sum of `table[j · ksub + codes[i · m + j]]` over `j`, for every row of `codes`
/// (`m` a row), on all cores: four running sums over the codes in steps of four (sum `l` takes
/// codes `4s + l`), added as `(s0 + s1) + (s2 + s3)`, then the remaining codes one by one. The
/// scan of every kind scored by lookup tables (PQ and RQ); [`adc_codes`] sums in the same order.
pub(crate) fn adc_all(table: &[f32], ksub: usize, m: usize, codes: &[u8], out: &mut [f32]) {
    use rayon::prelude::*;
    out.par_chunks_mut(4096)
        .zip(codes.par_chunks(4096 * m.max(1)))
        .for_each(|(o, rows)| {
            for (s, codes) in o.iter_mut().zip(rows.chunks_exact(m.max(1))) {
                let mut acc = [0.0f32; 4];
                let mut j = 0;
                while j + 4 <= m {
                    for (l, a) in acc.iter_mut().enumerate() {
                        *a += table[(j + l) * ksub + codes[j + l] as usize];
                    }
                    j += 4;
                }
                let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
                while j < m {
                    sum += table[j * ksub + codes[j] as usize];
                    j += 1;
                }
                *s = sum;
            }
        });
}

/// The scores [`adc_all`] gives, for up to [`ADC_LANES`] queries at once from their
/// interleaved `tables` (`(j · ksub + c) · ADC_LANES + q`): `out[r · qn + q]` for every row `r`
/// of `codes`. Same sums in the same order, so single and blocked scores are equal bit for bit.
pub(crate) fn adc_codes(
    tables: &[f32],
    ksub: usize,
    m: usize,
    codes: &[u8],
    qn: usize,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::level() == crate::cpu::Level::Avx2Fma {
        // SAFETY: AVX2 was detected at runtime.
        return unsafe { adc_rows_avx2(tables, ksub, m, codes, qn, out) };
    }
    adc_rows(tables, ksub, m, codes, qn, out)
}

/// [`adc_rows`] compiled for AVX2: the same element-wise additions in the same order, eight
/// lanes a register (no fused operations), so the same sums bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn adc_rows_avx2(
    tables: &[f32],
    ksub: usize,
    m: usize,
    codes: &[u8],
    qn: usize,
    out: &mut [f32],
) {
    adc_rows(tables, ksub, m, codes, qn, out)
}

/// Rows whose running sums [`adc_rows`] keeps at once (16 KiB of sums, beside one
/// subquantizer's 16 KiB of interleaved tables: both stay in L1).
const ADC_ROWS: usize = 64;

/// The body of [`PqMatrix::adc_block`]: for every row of `codes` (`m` a row), the sums of
/// [`PqMatrix::dot_all`] for all [`ADC_LANES`] lanes of the interleaved `tables` at once. Runs
/// a subquantizer at a time over [`ADC_ROWS`] rows (so its table stays in cache), each row
/// keeping the four running sums of `dot_all`: every sum takes the same values in the same
/// order.
#[inline(always)]
fn adc_rows(tables: &[f32], ksub: usize, m: usize, codes: &[u8], qn: usize, out: &mut [f32]) {
    const L: usize = ADC_LANES;
    let lane = |j: usize, c: u8| -> &[f32; L] {
        let at = (j * ksub + c as usize) * L;
        tables[at..at + L].try_into().expect("L values")
    };
    let whole = m / 4 * 4;
    let mut acc = [[0.0f32; L]; 4 * ADC_ROWS];
    let qn1 = qn.max(1);
    for (codes, out) in codes
        .chunks(ADC_ROWS * m.max(1))
        .zip(out.chunks_mut(ADC_ROWS * qn1))
    {
        let rows = codes.len() / m.max(1);
        let acc = &mut acc[..4 * rows];
        for a in acc.iter_mut() {
            *a = [0.0; L];
        }
        for j in 0..whole {
            let l = j % 4;
            for (r, a) in acc.chunks_exact_mut(4).enumerate() {
                let t = lane(j, codes[r * m + j]);
                for (x, y) in a[l].iter_mut().zip(t) {
                    *x += y;
                }
            }
        }
        for (r, (a, o)) in acc
            .chunks_exact_mut(4)
            .zip(out.chunks_exact_mut(qn1))
            .enumerate()
        {
            let (a0, rest) = a.split_first_mut().expect("four sums a row");
            let sum = a0;
            for (q, s) in sum.iter_mut().enumerate() {
                *s = (*s + rest[0][q]) + (rest[1][q] + rest[2][q]);
            }
            for j in whole..m {
                let t = lane(j, codes[r * m + j]);
                for (x, y) in sum.iter_mut().zip(t) {
                    *x += y;
                }
            }
            for (x, y) in o.iter_mut().zip(sum.iter()) {
                *x = *y;
            }
        }
    }
}
