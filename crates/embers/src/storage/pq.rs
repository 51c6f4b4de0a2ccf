//! Product-quantized rows: each row is split into `m` sub-vectors of `dims / m` values, and each
//! sub-vector is stored as the index of its nearest centroid among `2^bits` in that subspace's
//! codebook (one byte a code; 4-bit codes two a byte, see [`PqMatrix::is_packed`]). An optional
//! orthogonal rotation is applied before splitting (optimised PQ). Scores use asymmetric
//! distance computation: one table of `m × 2^bits` dot products per query, then one table
//! lookup per code. 4-bit codes can also be scanned by the fast scan ([`ScanTables`],
//! [`ScanCodes`]): the tables quantized to bytes, 32 rows' codes looked up by one AVX2 shuffle.

use std::borrow::Cow;

use super::buffer::Buffer;
use crate::error::{Error, Result};

/// PQ codes (rows × m codes), codebooks (m × 2^bits × dims/m f32) and an optional rotation
/// (dims × dims f32, row-major, orthogonal: a row `x` is encoded as `x · R`).
#[derive(Debug, Clone)]
pub struct PqMatrix {
    rows: usize,
    dims: usize,
    m: usize,
    bits: u32,
    /// The codes as stored, row-major: one a byte, or (when `packed`) two a byte.
    codes: Buffer<u8>,
    /// 4-bit codes two a byte: `ceil(m / 2)` bytes a row, code `2i` in the low nibble of byte
    /// `i` and code `2i + 1` in its high nibble (0 past the last code when `m` is odd).
    packed: bool,
    centroids: Buffer<f32>,
    rotation: Option<Buffer<f32>>,
}

/// Queries scored side by side by [`PqMatrix::adc_block`].
pub const ADC_LANES: usize = 16;

/// Rows of a fast-scan block: the codes of 32 rows for two subquantizers fill one AVX2 register.
pub const SCAN_BLOCK: usize = 32;

/// Most queries [`ScanCodes::sums_group`] scores in one pass over the codes. Three: each
/// query keeps four 16-bit accumulators, and with four queries the 16 AVX2 registers no longer
/// hold them beside the codes and lookups (the compiler spills to the stack; measured 0.30
/// against 0.41 ms a query at m = 25, BENCHMARKS.md issue 18).
pub const SCAN_GROUP: usize = 3;

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

/// Bytes a row of 4-bit codes takes packed two a byte.
pub fn packed_row_bytes(m: usize) -> usize {
    m.div_ceil(2)
}

/// Packs one-a-byte 4-bit codes (`m` a row, each below 16) two a byte, as
/// [`PqMatrix::is_packed`] describes.
pub fn pack_codes(codes: &[u8], m: usize) -> Vec<u8> {
    let m1 = m.max(1);
    let mut out = Vec::with_capacity(codes.len() / m1 * packed_row_bytes(m));
    for row in codes.chunks_exact(m1) {
        for pair in row.chunks(2) {
            out.push((pair[0] & 15) | (pair.get(1).copied().unwrap_or(0) << 4));
        }
    }
    out
}

/// Unpacks rows of packed 4-bit codes (`ceil(m / 2)` bytes a row) into `out`, `m` bytes a row.
fn unpack_into(packed: &[u8], m: usize, out: &mut [u8]) {
    let pb = packed_row_bytes(m).max(1);
    for (row, o) in packed.chunks_exact(pb).zip(out.chunks_exact_mut(m.max(1))) {
        for (pair, &b) in o.chunks_exact_mut(2).zip(row) {
            pair[0] = b & 15;
            pair[1] = b >> 4;
        }
        if m % 2 == 1 {
            o[m - 1] = row[pb - 1] & 15;
        }
    }
}

impl PqMatrix {
    /// Wraps codes (one a byte, `rows × m`), codebooks and an optional rotation, checking every
    /// length and that every code is below `2^bits`. 4-bit codes are packed two a byte.
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
        let codes = codes.into();
        if rows.checked_mul(m) != Some(codes.len()) {
            return Err(Error::shape(
                "pq codes",
                format!("{rows} × {m}"),
                format!("{} codes", codes.len()),
            ));
        }
        let ksub = 1usize << bits;
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
        let (codes, packed) = if bits == 4 {
            (Buffer::from(pack_codes(codes.as_slice(), m)), true)
        } else {
            (codes, false)
        };
        Self::assemble(
            rows,
            dims,
            m,
            bits,
            codes,
            packed,
            centroids.into(),
            rotation,
        )
    }

    /// Wraps 4-bit codes packed two a byte (`rows × ceil(m / 2)` bytes, as
    /// [`PqMatrix::is_packed`] describes), codebooks of 16 centroids and an optional rotation,
    /// checking every length and that the padding nibble of an odd `m` is 0.
    pub fn from_packed(
        rows: usize,
        dims: usize,
        m: usize,
        codes: impl Into<Buffer<u8>>,
        centroids: impl Into<Buffer<f32>>,
        rotation: Option<Buffer<f32>>,
    ) -> Result<Self> {
        check_settings(dims, m, 4)?;
        let codes = codes.into();
        let pb = packed_row_bytes(m);
        if rows.checked_mul(pb) != Some(codes.len()) {
            return Err(Error::shape(
                "pq codes",
                format!("{rows} × {pb} bytes ({m} 4-bit codes two a byte)"),
                format!("{} bytes", codes.len()),
            ));
        }
        if m % 2 == 1 {
            let bad = codes
                .as_slice()
                .chunks_exact(pb)
                .position(|r| r[pb - 1] >> 4 != 0);
            if let Some(r) = bad {
                return Err(Error::invalid(
                    "codes",
                    format!(
                        "row {r}: the high nibble of its last byte pads the {m} codes and must be 0, found {}",
                        codes.as_slice()[r * pb + pb - 1] >> 4
                    ),
                ));
            }
        }
        Self::assemble(rows, dims, m, 4, codes, true, centroids.into(), rotation)
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        rows: usize,
        dims: usize,
        m: usize,
        bits: u32,
        codes: Buffer<u8>,
        packed: bool,
        centroids: Buffer<f32>,
        rotation: Option<Buffer<f32>>,
    ) -> Result<Self> {
        let ksub = 1usize << bits;
        if crate::size::product("pq centroids", &[ksub, dims]).ok() != Some(centroids.len()) {
            return Err(Error::shape(
                "pq centroids",
                format!("{m} × {ksub} × {}", dims / m),
                format!("{} values", centroids.len()),
            ));
        }
        if !centroids.as_slice().iter().all(|c| c.is_finite()) {
            return Err(Error::invalid("centroids", "not all finite"));
        }
        if let Some(r) = &rotation {
            if crate::size::product("pq rotation", &[dims, dims]).ok() != Some(r.len()) {
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
            packed,
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

    /// Number of subquantizers (codes per row).
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

    /// True when the codes are stored two a byte (every 4-bit PQ matrix): `ceil(m / 2)` bytes a
    /// row, code `2i` in the low nibble of byte `i`, code `2i + 1` in its high nibble, the
    /// high nibble of the last byte 0 when `m` is odd.
    pub fn is_packed(&self) -> bool {
        self.packed
    }

    /// Bytes of codes a row as stored: `m`, or `ceil(m / 2)` when packed.
    pub fn code_bytes(&self) -> usize {
        if self.packed {
            packed_row_bytes(self.m)
        } else {
            self.m
        }
    }

    /// The codes as stored (`rows × code_bytes()` bytes, see [`PqMatrix::is_packed`]).
    pub fn stored_codes(&self) -> &[u8] {
        &self.codes.as_slice()[..self.rows * self.code_bytes()]
    }

    /// All codes one a byte, row-major (rows × m): borrowed when stored so, unpacked otherwise.
    pub fn codes(&self) -> Cow<'_, [u8]> {
        if self.packed {
            let mut out = vec![0u8; self.rows * self.m];
            unpack_into(self.stored_codes(), self.m, &mut out);
            Cow::Owned(out)
        } else {
            Cow::Borrowed(self.stored_codes())
        }
    }

    /// The codes of rows `r0..r1`, one a byte (`(r1 - r0) × m`), into `out`.
    ///
    /// # Panics
    /// If the range is out of bounds or `out` has the wrong length.
    pub fn codes_into(&self, r0: usize, r1: usize, out: &mut [u8]) {
        let cb = self.code_bytes();
        let stored = &self.stored_codes()[r0 * cb..r1 * cb];
        assert_eq!(out.len(), (r1 - r0) * self.m, "one byte a code");
        if self.packed {
            unpack_into(stored, self.m, out);
        } else {
            out.copy_from_slice(stored);
        }
    }

    /// Calls `f` with the codes (one a byte) of successive runs of at most `chunk` rows from
    /// row `r0` (borrowed when stored so, unpacked into a reused buffer otherwise), and the
    /// run's first row.
    fn for_code_runs(&self, r0: usize, r1: usize, chunk: usize, mut f: impl FnMut(usize, &[u8])) {
        let mut buf = Vec::new();
        let mut a = r0;
        while a < r1 {
            let b = (a + chunk.max(1)).min(r1);
            if self.packed {
                buf.resize((b - a) * self.m, 0);
                self.codes_into(a, b, &mut buf);
                f(a, &buf);
            } else {
                f(a, &self.stored_codes()[a * self.m..b * self.m]);
            }
            a = b;
        }
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

    /// Bytes of codes (as stored), codebooks and rotation.
    pub fn stored_bytes(&self) -> usize {
        self.rows * self.code_bytes()
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
        let mut out = vec![0.0f32; self.rows];
        out.par_chunks_mut(4096).enumerate().for_each(|(c, o)| {
            let r0 = c * 4096;
            self.for_code_runs(r0, r0 + o.len(), 4096, |_, codes| {
                for (n, codes) in o.iter_mut().zip(codes.chunks_exact(m)) {
                    let sq: f32 = codes
                        .iter()
                        .enumerate()
                        .map(|(j, &c)| table[j * ksub + c as usize])
                        .sum();
                    *n = sq.sqrt();
                }
            });
        });
        out
    }

    /// Row `i` decoded: its centroids concatenated, rotated back. Panics when `i >= rows()`.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        let mut codes = vec![0u8; self.m];
        self.codes_into(i, i + 1, &mut codes);
        match self.rotation() {
            None => self.gather(&codes, out),
            Some(r) => {
                let mut y = vec![0.0f32; self.dims];
                self.gather(&codes, &mut y);
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
    /// remaining codes one by one. [`PqMatrix::adc_block`] and [`PqMatrix::adc_row`] sum in the
    /// same order, so single, blocked and one-row scores are the same bit for bit.
    pub fn dot_all(&self, query: &[f32], out: &mut [f32]) {
        let table = self.lookup_table(query);
        if !self.packed {
            return adc_all(&table, self.ksub(), self.m, self.stored_codes(), out);
        }
        use rayon::prelude::*;
        let (pb, m) = (self.code_bytes(), self.m);
        out[..self.rows]
            .par_chunks_mut(4096)
            .zip(self.stored_codes().par_chunks(4096 * pb))
            .for_each(|(o, rows)| {
                for (s, row) in o.iter_mut().zip(rows.chunks_exact(pb)) {
                    *s = adc_packed_one(&table, m, row);
                }
            });
    }

    /// The score [`PqMatrix::dot_all`] gives row `i` for the query whose
    /// [`PqMatrix::lookup_table`] is `table`, bit for bit.
    ///
    /// # Panics
    /// If `i >= rows()` or `table` is not `m × 2^bits` entries.
    pub fn adc_row(&self, table: &[f32], i: usize) -> f32 {
        assert_eq!(table.len(), self.m * self.ksub(), "one table a code");
        let cb = self.code_bytes();
        let row = &self.stored_codes()[i * cb..(i + 1) * cb];
        if self.packed {
            adc_packed_one(table, self.m, row)
        } else {
            adc_one(table, self.ksub(), self.m, row)
        }
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
        if !self.packed {
            return adc_range(
                tables,
                qn,
                self.ksub(),
                self.m,
                self.stored_codes(),
                r0,
                r1,
                out,
            );
        }
        assert!(r0 <= r1 && r1 <= self.rows, "rows in range");
        let mut codes = vec![0u8; (r1 - r0) * self.m];
        self.codes_into(r0, r1, &mut codes);
        adc_range(tables, qn, self.ksub(), self.m, &codes, 0, r1 - r0, out)
    }

    /// Keeps the first `n` rows.
    pub fn truncate_rows(&mut self, n: usize) {
        if n < self.rows {
            self.rows = n;
            self.codes.truncate(n * self.code_bytes());
        }
    }

    /// True when the fast scan can score these codes (4-bit codes).
    pub fn fast_scan_ready(&self) -> bool {
        self.packed && self.bits == 4
    }

    /// The codes in the fast-scan layout, rows in the given `order` (position `i` of the layout
    /// holds row `order[i]`; `order` lists rows, each at most once). `None` unless
    /// [`PqMatrix::fast_scan_ready`]. Costs `ceil(order.len() / 32) × 32 × ceil(m / 2)` bytes.
    ///
    /// # Panics
    /// If a row of `order` is out of range.
    pub fn scan_codes(&self, order: &[u32]) -> Option<ScanCodes> {
        if !self.fast_scan_ready() {
            return None;
        }
        Some(ScanCodes::build(self.stored_codes(), self.m, order))
    }
}

/// 4-bit PQ codes laid out for the fast scan, rows in a chosen order (see
/// [`PqMatrix::scan_codes`]; a "row" below is a position of that order): blocks of
/// [`SCAN_BLOCK`] rows; in a block, one
/// 32-byte group for each pair of subquantizers `(2p, 2p + 1)`. Byte `i < 16` of a group holds
/// the code of subquantizer `2p` for row `i` of the block (low nibble) and for row `16 + i`
/// (high nibble); byte `16 + i` the same for subquantizer `2p + 1`. Rows past the last and the
/// subquantizer past an odd `m` hold code 0. So the low nibbles of a group are, lane by lane,
/// the codes one `_mm256_shuffle_epi8` looks up for rows 0–15 (the first 128-bit lane in the
/// table of `2p`, the second in that of `2p + 1`), the high nibbles those of rows 16–31.
#[derive(Debug, Clone)]
pub struct ScanCodes {
    bytes: Vec<u8>,
    rows: usize,
    pairs: usize,
}

impl ScanCodes {
    /// The layout of the packed 4-bit codes (`ceil(m / 2)` bytes a row) of the rows `order`.
    fn build(packed: &[u8], m: usize, order: &[u32]) -> Self {
        let pairs = packed_row_bytes(m);
        let rows = order.len();
        let blocks = rows.div_ceil(SCAN_BLOCK);
        let mut bytes = vec![0u8; blocks * pairs * SCAN_BLOCK];
        for (r, &id) in order.iter().enumerate() {
            let at = id as usize * pairs;
            let row = &packed[at..at + pairs];
            let (b, i) = (r / SCAN_BLOCK, r % SCAN_BLOCK);
            let (at, shift) = (i % 16, if i < 16 { 0 } else { 4 });
            for (p, &byte) in row.iter().enumerate() {
                let g = (b * pairs + p) * SCAN_BLOCK;
                bytes[g + at] |= (byte & 15) << shift;
                bytes[g + 16 + at] |= (byte >> 4) << shift;
            }
        }
        ScanCodes { bytes, rows, pairs }
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Bytes of memory the layout takes.
    pub fn bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The integer sums `Σ_j lut_j[code_j]` of the rows of blocks `b0..b1` (`out[(b - b0) · 32 +
    /// i]` for row `b · 32 + i`; rows past the last sum code 0 of every table), with AVX2 when
    /// available: the same sums as [`ScanCodes::sums_scalar`] (integers that cannot overflow).
    ///
    /// # Panics
    /// If the blocks are out of range, `tables` was made for another `m`, or `out` is not 32
    /// sums a block.
    pub fn sums(&self, tables: &ScanTables, b0: usize, b1: usize, out: &mut [u16]) {
        self.check(tables, b0, b1, out);
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx2_fma() {
            // SAFETY: AVX2 was detected at run time (`cpu::avx2_fma`), and `check` has verified
            // the lengths the kernel's unchecked 32-byte loads and stores rely on.
            return unsafe { self.sums_avx2::<1>(&[tables], b0, b1, &mut [out], None) };
        }
        self.sums_scalar(tables, b0, b1, out)
    }

    /// [`ScanCodes::sums`] for up to [`SCAN_GROUP`] queries at once (`out[q]` for
    /// `tables[q]`), and each block's largest sum (`maxs[q][b - b0]`, rows past the last
    /// included): each group of codes is loaded and split into nibbles once for all of them.
    /// The same sums as one call per query.
    ///
    /// # Panics
    /// As [`ScanCodes::sums`] for any query, if `tables`, `out` and `maxs` differ in length or
    /// hold more than [`SCAN_GROUP`], or if a `maxs[q]` is not one entry a block.
    pub fn sums_group(
        &self,
        tables: &[&ScanTables],
        b0: usize,
        b1: usize,
        out: &mut [&mut [u16]],
        maxs: &mut [&mut [u16]],
    ) {
        assert!(
            tables.len() == out.len() && out.len() == maxs.len(),
            "one output a query"
        );
        assert!(tables.len() <= SCAN_GROUP, "at most {SCAN_GROUP} queries");
        for ((t, o), m) in tables.iter().zip(out.iter_mut()).zip(maxs.iter()) {
            self.check(t, b0, b1, o);
            assert_eq!(m.len(), b1 - b0, "one maximum a block");
        }
        #[cfg(target_arch = "x86_64")]
        if crate::cpu::avx2_fma() {
            // SAFETY: AVX2 was detected at run time; `check` has verified every query's
            // lengths, which are the kernel's only unchecked accesses.
            unsafe {
                match tables.len() {
                    3 => self.sums_avx2::<3>(tables, b0, b1, out, Some(maxs)),
                    2 => self.sums_avx2::<2>(tables, b0, b1, out, Some(maxs)),
                    1 => self.sums_avx2::<1>(tables, b0, b1, out, Some(maxs)),
                    _ => {}
                }
            }
            return;
        }
        for ((t, o), m) in tables.iter().zip(out.iter_mut()).zip(maxs.iter_mut()) {
            self.sums_scalar(t, b0, b1, o);
            for (x, block) in m.iter_mut().zip(o.chunks_exact(SCAN_BLOCK)) {
                *x = block.iter().copied().max().unwrap_or(0);
            }
        }
    }

    fn check(&self, tables: &ScanTables, b0: usize, b1: usize, out: &mut [u16]) {
        assert_eq!(tables.pairs, self.pairs, "tables for this m");
        assert_eq!(
            tables.lut.len(),
            self.pairs * SCAN_BLOCK,
            "32 entries a pair"
        );
        assert!(
            b0 <= b1 && b1 * self.pairs * SCAN_BLOCK <= self.bytes.len(),
            "blocks in range"
        );
        assert_eq!(out.len(), (b1 - b0) * SCAN_BLOCK, "32 sums a block");
    }

    /// The portable [`ScanCodes::sums`] (and its reference).
    pub fn sums_scalar(&self, tables: &ScanTables, b0: usize, b1: usize, out: &mut [u16]) {
        self.check(tables, b0, b1, out);
        let pairs = self.pairs;
        for (b, o) in (b0..b1).zip(out.chunks_exact_mut(SCAN_BLOCK)) {
            let groups = &self.bytes[b * pairs * SCAN_BLOCK..(b + 1) * pairs * SCAN_BLOCK];
            let mut acc = [0u32; SCAN_BLOCK];
            for (g, t) in groups
                .chunks_exact(SCAN_BLOCK)
                .zip(tables.lut.chunks_exact(SCAN_BLOCK))
            {
                for (i, a) in acc.iter_mut().enumerate() {
                    let shift = if i < 16 { 0 } else { 4 };
                    let c0 = (g[i % 16] >> shift) & 15;
                    let c1 = (g[16 + i % 16] >> shift) & 15;
                    *a += u32::from(t[c0 as usize]) + u32::from(t[16 + c1 as usize]);
                }
            }
            for (x, a) in o.iter_mut().zip(acc) {
                // The tables' entries are capped so that no row's sum exceeds u16::MAX.
                *x = a as u16;
            }
        }
    }

    /// [`ScanCodes::sums`] with AVX2 for `G` queries: per pair of subquantizers, one 32-byte
    /// load of codes split into low and high nibbles (shared by the queries), then per query two
    /// shuffles (rows 0–15 from the low nibbles, 16–31 from the high), and the looked-up bytes
    /// added into 16-bit lanes (whole lanes, and the odd bytes apart; the even bytes' sums are
    /// their difference at the end); the two 128-bit lanes (the pair's two subquantizers) are
    /// added at the end of the block. With `maxs`, each block's largest sum too.
    ///
    /// # Safety
    /// AVX2 must be available, `tables` and `out` (and `maxs`) must hold `G` entries each,
    /// `self.check(tables[q], b0, b1, out[q])` must hold for every query, and `maxs[q]` hold
    /// `b1 - b0` entries.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn sums_avx2<const G: usize>(
        &self,
        tables: &[&ScanTables],
        b0: usize,
        b1: usize,
        out: &mut [&mut [u16]],
        mut maxs: Option<&mut [&mut [u16]]>,
    ) {
        use std::arch::x86_64::*;
        let pairs = self.pairs;
        let nib = _mm256_set1_epi8(15);
        // Each query's tables, `pairs` groups of 32 bytes (`check`), as a base pointer read at
        // offsets `p · 32` for `p < pairs` below.
        let luts: [*const u8; G] = std::array::from_fn(|q| tables[q].lut.as_ptr());
        for (k, b) in (b0..b1).enumerate() {
            let groups = &self.bytes[b * pairs * SCAN_BLOCK..(b + 1) * pairs * SCAN_BLOCK];
            let zero = _mm256_setzero_si256();
            // Per query: low-nibble rows (whole lanes, odd bytes), high-nibble rows (same).
            let mut acc = [[zero; 4]; G];
            for (p, g) in groups.chunks_exact(SCAN_BLOCK).enumerate() {
                // SAFETY: `g` is a 32-byte slice (chunks_exact), read unaligned.
                let c = unsafe { _mm256_loadu_si256(g.as_ptr() as *const __m256i) };
                let lo = _mm256_and_si256(c, nib);
                let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(c), nib);
                for (a, &t) in acc.iter_mut().zip(&luts) {
                    // SAFETY: `p < pairs` (`groups` holds `pairs` chunks) and every table holds
                    // `pairs × 32` bytes (`check`), so the 32 bytes at `t + p · 32` are in
                    // its `lut`, which `tables` borrows for the whole call; read unaligned.
                    let lut =
                        unsafe { _mm256_loadu_si256(t.add(p * SCAN_BLOCK) as *const __m256i) };
                    let vlo = _mm256_shuffle_epi8(lut, lo);
                    let vhi = _mm256_shuffle_epi8(lut, hi);
                    // Whole 16-bit lanes (even byte + 256 × odd byte, wrapping) and odd bytes.
                    a[0] = _mm256_add_epi16(a[0], vlo);
                    a[1] = _mm256_add_epi16(a[1], _mm256_srli_epi16::<8>(vlo));
                    a[2] = _mm256_add_epi16(a[2], vhi);
                    a[3] = _mm256_add_epi16(a[3], _mm256_srli_epi16::<8>(vhi));
                }
            }
            for (q, (a, o)) in acc.iter().zip(out.iter_mut()).enumerate() {
                // The even bytes' sums: lanes minus 256 × the odd sums, modulo 2^16, exact
                // because every sum is below 2^16.
                let lo_e = _mm256_sub_epi16(a[0], _mm256_slli_epi16::<8>(a[1]));
                let hi_e = _mm256_sub_epi16(a[2], _mm256_slli_epi16::<8>(a[3]));
                // Lane sums: the pair's two subquantizers; then even and odd rows interleaved.
                let fold = |x: __m256i| {
                    _mm_add_epi16(_mm256_castsi256_si128(x), _mm256_extracti128_si256::<1>(x))
                };
                let (le, lo_) = (fold(lo_e), fold(a[1]));
                let (he, ho) = (fold(hi_e), fold(a[3]));
                let parts = [
                    _mm_unpacklo_epi16(le, lo_),
                    _mm_unpackhi_epi16(le, lo_),
                    _mm_unpacklo_epi16(he, ho),
                    _mm_unpackhi_epi16(he, ho),
                ];
                let o = &mut o[k * SCAN_BLOCK..(k + 1) * SCAN_BLOCK];
                for (chunk, v) in o.chunks_exact_mut(8).zip(parts) {
                    // SAFETY: `chunk` is 8 u16 (16 bytes, chunks_exact), written unaligned.
                    unsafe { _mm_storeu_si128(chunk.as_mut_ptr() as *mut __m128i, v) };
                }
                if let Some(m) = maxs.as_deref_mut() {
                    // The largest of the 32: lanes' maxima, then the smallest of their
                    // complements (`minpos`) complemented back.
                    let v = _mm_max_epu16(
                        _mm_max_epu16(parts[0], parts[1]),
                        _mm_max_epu16(parts[2], parts[3]),
                    );
                    let low = _mm_minpos_epu16(_mm_xor_si128(v, _mm_set1_epi16(-1)));
                    m[q][k] = !(_mm_cvtsi128_si32(low) as u16);
                }
            }
        }
    }
}

/// A query's lookup tables quantized to bytes for the fast scan. Each subquantizer's 16 f32
/// entries have their minimum subtracted and are scaled by one factor `a` shared by all
/// tables (the widest table spans `0..=qmax`, `qmax` = 255 or less when `m × 255` would not fit
/// in 16 bits), then rounded: a row's score is about `Σ_j min_j + S / a` with `S` the integer
/// sum of its entries, and off by at most [`ScanTables::error`].
#[derive(Debug, Clone)]
pub struct ScanTables {
    /// One 32-byte group a pair of subquantizers: the 16 entries of `2p`, then those of `2p + 1`
    /// (zeros past an odd `m`).
    lut: Vec<u8>,
    pairs: usize,
    /// `1 / a`.
    unit: f32,
    /// `Σ_j min_j`.
    bias: f32,
    /// Bound on `|Σ_j table_j[code_j] − (bias + S · unit)|` for every row, with a margin for
    /// the f32 rounding of either side.
    error: f32,
}

/// Smallest entry cap of a quantized table: beyond `m = 4096` subquantizers (`65535 / m < 16`)
/// the fast scan gives up (the f32 tables are used).
const MIN_QMAX: usize = 16;

impl ScanTables {
    /// Quantizes the f32 table of a 4-bit PQ query (`m × 16` entries, as
    /// [`PqMatrix::lookup_table`] makes). `None` when the entries are not finite or `m` is too
    /// large for 16-bit sums with at least 16 levels an entry.
    pub fn new(table: &[f32], m: usize) -> Option<Self> {
        if m == 0 || table.len() != m * 16 || !table.iter().all(|v| v.is_finite()) {
            return None;
        }
        let qmax = (usize::from(u16::MAX) / m).min(255);
        if qmax < MIN_QMAX {
            return None;
        }
        let mins: Vec<f64> = table
            .chunks_exact(16)
            .map(|t| t.iter().fold(f64::INFINITY, |a, &v| a.min(f64::from(v))))
            .collect();
        let span = table
            .chunks_exact(16)
            .zip(&mins)
            .map(|(t, &lo)| t.iter().fold(0.0f64, |a, &v| a.max(f64::from(v) - lo)))
            .fold(0.0f64, f64::max);
        let a = if span > 0.0 { qmax as f64 / span } else { 1.0 };
        let pairs = packed_row_bytes(m);
        let mut lut = vec![0u8; pairs * SCAN_BLOCK];
        // The bound is the sum over tables of each one's largest rounding error, exact in f64.
        let mut error = 0.0f64;
        let mut magnitude = 0.0f64;
        for (j, (t, &lo)) in table.chunks_exact(16).zip(&mins).enumerate() {
            let mut worst = 0.0f64;
            for (c, &v) in t.iter().enumerate() {
                let x = (f64::from(v) - lo) * a;
                let q = x.round().clamp(0.0, qmax as f64);
                worst = worst.max((q - x).abs() / a);
                lut[(j / 2) * SCAN_BLOCK + (j % 2) * 16 + c] = q as u8;
            }
            error += worst;
            magnitude += t.iter().fold(0.0f64, |acc, &v| acc.max(f64::from(v).abs()));
        }
        let bias: f64 = mins.iter().sum();
        // f32 rounding: the f32 ADC sum and the estimate each round at most m + 4 times, each
        // time by at most 2^-24 of a value no larger than `magnitude` (the sum of the tables'
        // largest entries) plus the scaled sum; 4 ulps an operation keeps a wide margin.
        let slop = (m as f64 + 8.0) * 4.0 * f64::from(f32::EPSILON) * (magnitude + span * m as f64);
        Some(ScanTables {
            lut,
            pairs,
            unit: (1.0 / a) as f32,
            bias: bias as f32,
            error: (error * (1.0 + 1e-6) + slop) as f32,
        })
    }

    /// The estimate of a row's score from its integer sum: `bias + S / a`.
    #[inline]
    pub fn estimate(&self, sum: u16) -> f32 {
        f32::from(sum) * self.unit + self.bias
    }

    /// `1 / a`: the score one integer step stands for.
    pub fn unit(&self) -> f32 {
        self.unit
    }

    /// `Σ_j min_j`.
    pub fn bias(&self) -> f32 {
        self.bias
    }

    /// How far [`ScanTables::estimate`] may be from the f32 ADC score, any row.
    pub fn error(&self) -> f32 {
        self.error
    }

    /// The quantized entry of subquantizer `j` for code `c`.
    pub fn entry(&self, j: usize, c: usize) -> u8 {
        self.lut[(j / 2) * SCAN_BLOCK + (j % 2) * 16 + c]
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
    if ksub == 256 && m > 0 {
        // 8-bit codes: tables typed as arrays of 256, so no lookup needs a bounds check.
        let (tables, _) = table.as_chunks::<256>();
        return out
            .par_chunks_mut(4096)
            .zip(codes.par_chunks(4096 * m))
            .for_each(|(o, rows)| {
                for (s, codes) in o.iter_mut().zip(rows.chunks_exact(m)) {
                    *s = adc_one_256(&tables[..m], codes);
                }
            });
    }
    out.par_chunks_mut(4096)
        .zip(codes.par_chunks(4096 * m.max(1)))
        .for_each(|(o, rows)| {
            for (s, codes) in o.iter_mut().zip(rows.chunks_exact(m.max(1))) {
                *s = adc_one(table, ksub, m, codes);
            }
        });
}

/// [`adc_one`] on a row of 4-bit codes packed two a byte (16 entries a table): the same
/// additions in the same order (codes `4s .. 4s + 3` are the nibbles of bytes `2s` and `2s + 1`).
#[inline(always)]
fn adc_packed_one(table: &[f32], m: usize, row: &[u8]) -> f32 {
    let mut acc = [0.0f32; 4];
    let mut j = 0;
    while j + 4 <= m {
        let (b0, b1) = (row[j / 2], row[j / 2 + 1]);
        acc[0] += table[j * 16 + (b0 & 15) as usize];
        acc[1] += table[(j + 1) * 16 + (b0 >> 4) as usize];
        acc[2] += table[(j + 2) * 16 + (b1 & 15) as usize];
        acc[3] += table[(j + 3) * 16 + (b1 >> 4) as usize];
        j += 4;
    }
    let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    while j < m {
        let b = row[j / 2];
        let c = if j % 2 == 0 { b & 15 } else { b >> 4 };
        sum += table[j * 16 + c as usize];
        j += 1;
    }
    sum
}

/// [`adc_one`] for 8-bit codes (`tables.len() == codes.len()`): the same additions in the same
/// order.
#[inline(always)]
fn adc_one_256(tables: &[[f32; 256]], codes: &[u8]) -> f32 {
    let whole = codes.len() / 4 * 4;
    let mut acc = [0.0f32; 4];
    for (t, c) in tables[..whole]
        .chunks_exact(4)
        .zip(codes[..whole].chunks_exact(4))
    {
        acc[0] += t[0][c[0] as usize];
        acc[1] += t[1][c[1] as usize];
        acc[2] += t[2][c[2] as usize];
        acc[3] += t[3][c[3] as usize];
    }
    let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (t, &c) in tables[whole..].iter().zip(&codes[whole..]) {
        sum += t[c as usize];
    }
    sum
}

/// One row's score in the order of [`adc_all`]: four running sums over the codes in steps of
/// four, added as `(s0 + s1) + (s2 + s3)`, then the remaining codes one by one.
#[inline(always)]
fn adc_one(table: &[f32], ksub: usize, m: usize, codes: &[u8]) -> f32 {
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
    sum
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A 4-bit PQ matrix of random codes and centroids.
    fn random_pq(rows: usize, m: usize, dsub: usize, seed: u64) -> PqMatrix {
        let mut rng = Rng::new(seed);
        let codes: Vec<u8> = (0..rows * m).map(|_| rng.below(16) as u8).collect();
        let cents: Vec<f32> = (0..m * 16 * dsub).map(|_| rng.normal()).collect();
        PqMatrix::new(rows, m * dsub, m, 4, codes, cents, None).unwrap()
    }

    fn identity(rows: usize) -> Vec<u32> {
        (0..rows as u32).collect()
    }

    /// `Σ_j entry_j[code_j]` of every row, straight from the codes one a byte.
    fn direct_sums(pq: &PqMatrix, t: &ScanTables) -> Vec<u32> {
        let m = pq.subquantizers();
        pq.codes()
            .chunks_exact(m)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .map(|(j, &x)| u32::from(t.entry(j, x as usize)))
                    .sum()
            })
            .collect()
    }

    fn check_sums(pq: &PqMatrix, tables: &ScanTables, what: &str) {
        let codes = pq.scan_codes(&identity(pq.rows())).unwrap();
        let blocks = pq.rows().div_ceil(SCAN_BLOCK);
        let mut fast = vec![0u16; blocks * SCAN_BLOCK];
        let mut scalar = vec![1u16; blocks * SCAN_BLOCK];
        codes.sums(tables, 0, blocks, &mut fast);
        codes.sums_scalar(tables, 0, blocks, &mut scalar);
        assert_eq!(fast, scalar, "{what}: dispatched and scalar sums");
        let direct = direct_sums(pq, tables);
        for (i, &d) in direct.iter().enumerate() {
            assert_eq!(u32::from(scalar[i]), d, "{what}: row {i}");
        }
        // A group of queries: each gets the sums it gets alone (the table itself, and a copy
        // with one entry raised so the queries differ).
        let mut other = tables.clone();
        other.lut[0] ^= 1;
        for n in 1..=SCAN_GROUP {
            let group: Vec<&ScanTables> = (0..n)
                .map(|i| if i % 2 == 0 { tables } else { &other })
                .collect();
            let mut outs = vec![vec![7u16; blocks * SCAN_BLOCK]; n];
            let mut maxs = vec![vec![7u16; blocks]; n];
            let mut refs: Vec<&mut [u16]> = outs.iter_mut().map(|o| &mut o[..]).collect();
            let mut mrefs: Vec<&mut [u16]> = maxs.iter_mut().map(|o| &mut o[..]).collect();
            codes.sums_group(&group, 0, blocks, &mut refs, &mut mrefs);
            for (i, o) in outs.iter().enumerate() {
                let mut alone = vec![0u16; blocks * SCAN_BLOCK];
                codes.sums_scalar(group[i], 0, blocks, &mut alone);
                assert_eq!(*o, alone, "{what}: group of {n}, query {i}");
                let want: Vec<u16> = alone
                    .chunks_exact(SCAN_BLOCK)
                    .map(|b| *b.iter().max().unwrap())
                    .collect();
                assert_eq!(maxs[i], want, "{what}: group of {n}, query {i}: maxima");
            }
        }
        // A range of blocks gives the same sums as the whole.
        if blocks > 2 {
            let mut part = vec![0u16; SCAN_BLOCK];
            codes.sums(tables, 1, 2, &mut part);
            assert_eq!(part, scalar[SCAN_BLOCK..2 * SCAN_BLOCK], "{what}: block 1");
            // From block 1 to the end.
            let mut rest = vec![0u16; (blocks - 1) * SCAN_BLOCK];
            codes.sums(tables, 1, blocks, &mut rest);
            assert_eq!(rest, scalar[SCAN_BLOCK..], "{what}: blocks 1..");
        }
        // Rows in another order (reversed, every other row left out): position i sums row
        // order[i].
        let order: Vec<u32> = (0..pq.rows() as u32).rev().step_by(2).collect();
        let codes = pq.scan_codes(&order).unwrap();
        let blocks = order.len().div_ceil(SCAN_BLOCK);
        let mut sums = vec![0u16; blocks * SCAN_BLOCK];
        codes.sums(tables, 0, blocks, &mut sums);
        for (i, &r) in order.iter().enumerate() {
            assert_eq!(
                u32::from(sums[i]),
                direct[r as usize],
                "{what}: position {i}"
            );
        }
    }

    #[test]
    fn avx2_and_scalar_sums_agree_with_the_codes() {
        // m odd, m = 1, rows not a multiple of 32, large m (entries capped below 255).
        for (rows, m, seed) in [
            (1, 1, 1),
            (31, 1, 2),
            (33, 3, 3),
            (100, 25, 4),
            (64, 50, 5),
            (130, 7, 10),
        ]
        .into_iter()
        .chain([(70, 257, 6), (45, 300, 7), (40, 8, 8), (5, 2, 9)])
        {
            let pq = random_pq(rows, m, 2, seed);
            let mut rng = Rng::new(seed + 100);
            let q: Vec<f32> = (0..pq.dims()).map(|_| rng.normal()).collect();
            let table = pq.lookup_table(&q);
            let t = ScanTables::new(&table, m).unwrap();
            check_sums(&pq, &t, &format!("rows {rows} m {m}"));
            // The estimate is within the bound of the f32 ADC score on every row.
            let mut s = vec![0u16; SCAN_BLOCK * rows.div_ceil(SCAN_BLOCK)];
            let codes = pq.scan_codes(&identity(rows)).unwrap();
            codes.sums(&t, 0, rows.div_ceil(SCAN_BLOCK), &mut s);
            for (i, &sum) in s.iter().enumerate().take(rows) {
                let gap = (t.estimate(sum) - pq.adc_row(&table, i)).abs();
                assert!(gap <= t.error(), "m {m} row {i}: {gap} > {}", t.error());
            }
        }
    }

    #[test]
    fn extreme_tables_fill_the_sixteen_bit_sums_without_overflow() {
        // Tables whose entries are all 0 but code 15 (huge): every row of code 15 sums
        // m × qmax, the most a u16 lane holds for m = 257 (257 × 255 = 65535).
        for m in [1usize, 2, 31, 257, 258, 4095] {
            let rows = 37;
            let codes = vec![15u8; rows * m];
            let cents = vec![0.0f32; m * 16];
            let pq = PqMatrix::new(rows, m, m, 4, codes, cents, None).unwrap();
            let mut table = vec![-1.0e30f32; m * 16];
            for j in 0..m {
                table[j * 16 + 15] = 1.0e30;
            }
            let t = ScanTables::new(&table, m).unwrap();
            check_sums(&pq, &t, &format!("extreme m {m}"));
            let qmax = (65535 / m).min(255) as u32;
            assert_eq!(direct_sums(&pq, &t)[0], m as u32 * qmax, "m {m}");
        }
        // Too many subquantizers for 16 levels an entry, or a non-finite table: no fast scan.
        assert!(ScanTables::new(&vec![0.0; 4097 * 16], 4097).is_none());
        assert!(ScanTables::new(&[f32::NAN; 16], 1).is_none());
        // A constant table: every estimate exact.
        let t = ScanTables::new(&[0.5; 32], 2).unwrap();
        assert_eq!(t.estimate(0), 1.0);
    }

    #[test]
    fn packed_codes_round_trip_and_bad_ones_are_refused() {
        let pq = random_pq(77, 5, 3, 11);
        assert!(pq.is_packed());
        assert_eq!(pq.code_bytes(), 3);
        assert_eq!(pq.stored_codes().len(), 77 * 3);
        assert_eq!(pq.stored_bytes(), 77 * 3 + 5 * 16 * 3 * 4);
        let again = PqMatrix::from_packed(
            77,
            15,
            5,
            pq.stored_codes().to_vec(),
            pq.centroids().to_vec(),
            None,
        )
        .unwrap();
        assert_eq!(again.codes(), pq.codes());
        // Codes one a byte out of range, a padding nibble set, a truncated buffer.
        let e = PqMatrix::new(1, 2, 2, 4, vec![3u8, 16], vec![0.0; 32], None).unwrap_err();
        assert!(e.to_string().contains("code 1 of row 0 is 16"), "{e}");
        let mut bad = pq.stored_codes().to_vec();
        bad[3 * 10 + 2] |= 0x30;
        let e = PqMatrix::from_packed(77, 15, 5, bad, pq.centroids().to_vec(), None).unwrap_err();
        assert!(e.to_string().contains("row 10"), "{e}");
        let short = pq.stored_codes()[..77 * 3 - 1].to_vec();
        let e = PqMatrix::from_packed(77, 15, 5, short, pq.centroids().to_vec(), None).unwrap_err();
        assert!(e.to_string().contains("pq codes"), "{e}");
        // Float scores through packed codes: blocked and single-row scores equal dot_all's.
        let q: Vec<f32> = (0..15).map(|i| i as f32 * 0.1 - 0.7).collect();
        let mut all = vec![0.0f32; 77];
        pq.dot_all(&q, &mut all);
        let table = pq.lookup_table(&q);
        let tables = pq.lookup_tables(&q, 1);
        let mut block = vec![0.0f32; 40];
        pq.adc_block(&tables, 1, 30, 70, &mut block);
        for (i, &score) in all.iter().enumerate() {
            assert_eq!(pq.adc_row(&table, i).to_bits(), score.to_bits(), "row {i}");
            let mut row = vec![0.0f32; 15];
            pq.row_into(i, &mut row);
            let d: f32 = row.iter().zip(&q).map(|(a, b)| a * b).sum();
            assert!((d - score).abs() < 1e-4, "row {i}");
        }
        assert_eq!(block, all[30..70]);
        let mut t = pq.clone();
        t.truncate_rows(40);
        assert_eq!(t.stored_codes().len(), 40 * 3);
        assert_eq!(t.scan_codes(&identity(40)).unwrap().rows(), 40);
    }
}
