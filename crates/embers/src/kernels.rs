//! Vector kernels shared by queries, training, quantization and the server: dot products,
//! squared distances, `y += a·x` and scaling, with runtime CPU dispatch (AVX2+FMA on x86_64) and
//! a portable fallback that also serves as the oracle in tests. No `target-cpu=native` needed.

use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2Fma,
}

fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::env::var_os("EMBERS_NO_SIMD").is_none()
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                return Level::Avx2Fma;
            }
        }
        Level::Scalar
    })
}

/// Name of the kernel set in use (`avx2+fma` or `scalar`), for reports.
pub fn active() -> &'static str {
    match level() {
        Level::Scalar => "scalar",
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => "avx2+fma",
    }
}

/// Dot product of two slices of equal length.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime.
        Level::Avx2Fma => unsafe { x86::dot(a, b) },
        Level::Scalar => scalar::dot(a, b),
    }
}

/// Squared Euclidean distance.
#[inline]
pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime.
        Level::Avx2Fma => unsafe { x86::l2_sq(a, b) },
        Level::Scalar => scalar::l2_sq(a, b),
    }
}

/// `y += a * x`.
#[inline]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime.
        Level::Avx2Fma => unsafe { x86::axpy(a, x, y) },
        Level::Scalar => scalar::axpy(a, x, y),
    }
}

/// [`dot`] over `n` values behind raw pointers, for memory that other threads write without
/// synchronisation (Hogwild training), where no reference to it may be formed.
///
/// # Safety
/// `a` and `b` must be valid for reads of `n` `f32` values.
#[inline]
pub(crate) unsafe fn dot_ptr(a: *const f32, b: *const f32, n: usize) -> f32 {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; the caller vouches for the pointers.
        Level::Avx2Fma => unsafe { x86::dot_ptr(a, b, n) },
        // SAFETY: the caller vouches for the pointers.
        Level::Scalar => unsafe { scalar::dot_ptr(a, b, n) },
    }
}

/// [`axpy`] over `n` values behind raw pointers (`y += a * x`); see [`dot_ptr`].
///
/// # Safety
/// `x` must be valid for reads and `y` for reads and writes of `n` `f32` values; the two ranges
/// must not overlap.
#[inline]
pub(crate) unsafe fn axpy_ptr(a: f32, x: *const f32, y: *mut f32, n: usize) {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; the caller vouches for the pointers.
        Level::Avx2Fma => unsafe { x86::axpy_ptr(a, x, y, n) },
        // SAFETY: the caller vouches for the pointers.
        Level::Scalar => unsafe { scalar::axpy_ptr(a, x, y, n) },
    }
}

/// Dot product of two i8 slices of equal length, accumulated exactly in i32 (for int8 storage).
/// Exact as long as `len * 128 * 128` fits in i32 (rows of up to 131,071 dims).
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime.
        Level::Avx2Fma => unsafe { x86::dot_i8(a, b) },
        Level::Scalar => scalar::dot_i8(a, b),
    }
}

/// Exact i32 dot products of 8 rows of i8 codes with one i8 query, rows interleaved by pairs of
/// dimensions: `block[16 * p + 2 * j + h]` is dimension `2p + h` of row `j` (so `block` holds
/// `16 × pairs` bytes), and `qpairs[p]` packs dimensions `2p` (low 16 bits) and `2p + 1` (high
/// 16 bits) of the query as i16. Eight rows share every load of the query, and no horizontal
/// sum is needed: the screen of exact single queries scans with it.
#[inline]
pub fn dot_i8_rows8(block: &[i8], qpairs: &[i32]) -> [i32; 8] {
    assert_eq!(
        block.len(),
        16 * qpairs.len(),
        "8 rows of interleaved pairs"
    );
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; lengths were checked above.
        Level::Avx2Fma => unsafe { x86::dot_i8_rows8(block, qpairs) },
        Level::Scalar => scalar::dot_i8_rows8(block, qpairs),
    }
}

/// Dot product of half-precision `a` with `b`, widening in registers (F16C on x86_64 when the
/// CPU has it, with AVX2/FMA).
#[inline]
pub fn dot_f16(a: &[half::f16], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if level() == Level::Avx2Fma && has_f16c() {
        // SAFETY: AVX2, FMA and F16C were detected at runtime.
        return unsafe { x86::dot_f16(a, b) };
    }
    scalar::dot_f16(a, b)
}

#[cfg(target_arch = "x86_64")]
fn has_f16c() -> bool {
    static F16C: OnceLock<bool> = OnceLock::new();
    *F16C.get_or_init(|| is_x86_feature_detected!("f16c"))
}

/// `x *= a`.
#[inline]
pub fn scale(a: f32, x: &mut [f32]) {
    for v in x {
        *v *= a;
    }
}

/// Euclidean norm.
#[inline]
pub fn norm(x: &[f32]) -> f32 {
    dot(x, x).sqrt()
}

/// Cosine similarity; 0 when either vector is zero.
#[inline]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d = norm(a) * norm(b);
    if d == 0.0 {
        0.0
    } else {
        dot(a, b) / d
    }
}

/// Scales `x` to unit length in place (zero vectors stay zero). Returns the original norm.
#[inline]
pub fn normalize(x: &mut [f32]) -> f32 {
    let n = norm(x);
    if n > 0.0 {
        scale(1.0 / n, x);
    }
    n
}

/// Number of queries a [`dot_tile`] call scores at once: query tiles are laid out transposed
/// with this many columns.
pub const TILE_QUERIES: usize = 16;

/// Blocked dot products of many rows against a tile of [`TILE_QUERIES`] queries, the inner
/// step of batched exact search: `out[r * TILE_QUERIES + j] = rows[r] · query_j`.
///
/// `rows` holds `n` rows of `dims` values (row-major); `queries_t` holds the tile transposed,
/// `dims × TILE_QUERIES` (`queries_t[d * TILE_QUERIES + j]` is dimension `d` of query `j`; unused
/// columns zero); `out` has `n * TILE_QUERIES` elements.
pub fn dot_tile(rows: &[f32], dims: usize, queries_t: &[f32], out: &mut [f32]) {
    assert_eq!(
        queries_t.len(),
        dims * TILE_QUERIES,
        "transposed query tile"
    );
    let n = rows.len().checked_div(dims).unwrap_or(0);
    assert_eq!(rows.len(), n * dims, "whole rows");
    assert_eq!(out.len(), n * TILE_QUERIES, "one score per row and query");
    if dims == 0 {
        out.fill(0.0);
        return;
    }
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; lengths were checked above.
        Level::Avx2Fma => unsafe { x86::dot_tile(rows, dims, queries_t, out) },
        Level::Scalar => scalar::dot_tile(rows, dims, queries_t, out),
    }
}

/// The portable kernels, also the reference the SIMD ones are tested against.
pub mod scalar {
    /// Dot product, 8 independent accumulators.
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let chunks = a.len() / 8;
        for i in 0..chunks {
            for k in 0..8 {
                acc[k] += a[i * 8 + k] * b[i * 8 + k];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for i in chunks * 8..a.len() {
            s += a[i] * b[i];
        }
        s
    }

    /// [`dot`] behind raw pointers, same order of operations.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` values.
    pub(crate) unsafe fn dot_ptr(a: *const f32, b: *const f32, n: usize) -> f32 {
        let mut acc = [0.0f32; 8];
        let chunks = n / 8;
        for i in 0..chunks {
            for (k, slot) in acc.iter_mut().enumerate() {
                // SAFETY: i * 8 + k < n.
                *slot += unsafe { *a.add(i * 8 + k) * *b.add(i * 8 + k) };
            }
        }
        let mut s: f32 = acc.iter().sum();
        for i in chunks * 8..n {
            // SAFETY: i < n.
            s += unsafe { *a.add(i) * *b.add(i) };
        }
        s
    }

    /// [`axpy`] behind raw pointers.
    ///
    /// # Safety
    /// `x` valid for reads, `y` for reads and writes of `n` values, not overlapping.
    pub(crate) unsafe fn axpy_ptr(a: f32, x: *const f32, y: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: i < n.
            unsafe { *y.add(i) += a * *x.add(i) };
        }
    }

    /// Squared distance.
    pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    /// `y += a * x`.
    pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi += a * xi;
        }
    }

    /// Blocked dot products of rows against a transposed tile of queries (see
    /// [`super::dot_tile`]).
    pub fn dot_tile(rows: &[f32], dims: usize, queries_t: &[f32], out: &mut [f32]) {
        const Q: usize = super::TILE_QUERIES;
        for (row, o) in rows.chunks_exact(dims).zip(out.chunks_exact_mut(Q)) {
            let mut acc = [0.0f32; Q];
            for (d, &x) in row.iter().enumerate() {
                let q = &queries_t[d * Q..(d + 1) * Q];
                for j in 0..Q {
                    acc[j] += x * q[j];
                }
            }
            o.copy_from_slice(&acc);
        }
    }

    /// Dot product of f16 values with f32 values, 8 accumulators like [`dot`].
    pub fn dot_f16(a: &[half::f16], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let chunks = a.len() / 8;
        for i in 0..chunks {
            for k in 0..8 {
                acc[k] += a[i * 8 + k].to_f32() * b[i * 8 + k];
            }
        }
        let mut s: f32 = acc.iter().sum();
        for i in chunks * 8..a.len() {
            s += a[i].to_f32() * b[i];
        }
        s
    }

    /// Integer dot product of i8 slices.
    pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
    }

    /// See [`super::dot_i8_rows8`].
    pub fn dot_i8_rows8(block: &[i8], qpairs: &[i32]) -> [i32; 8] {
        let mut out = [0i32; 8];
        for (pair, &q) in block.chunks_exact(16).zip(qpairs) {
            let (q0, q1) = (i32::from(q as i16), i32::from((q >> 16) as i16));
            for (j, o) in out.iter_mut().enumerate() {
                *o += i32::from(pair[2 * j]) * q0 + i32::from(pair[2 * j + 1]) * q1;
            }
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        dot_ptr(a.as_ptr(), b.as_ptr(), a.len().min(b.len()))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_ptr(pa: *const f32, pb: *const f32, n: usize) -> f32 {
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(pa.add(i + 8)),
                _mm256_loadu_ps(pb.add(i + 8)),
                acc1,
            );
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(acc0, acc1));
        while i < n {
            s += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            let d = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc = _mm256_fmadd_ps(d, d, acc);
            i += 8;
        }
        let mut s = hsum(acc);
        while i < n {
            let d = *pa.add(i) - *pb.add(i);
            s += d * d;
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_f16(a: &[half::f16], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr() as *const u16, b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            let x0 = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i) as *const __m128i));
            let x1 = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i + 8) as *const __m128i));
            acc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(pb.add(i + 8)), acc1);
            i += 16;
        }
        if i + 8 <= n {
            let x0 = _mm256_cvtph_ps(_mm_loadu_si128(pa.add(i) as *const __m128i));
            acc0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(acc0, acc1));
        while i < n {
            s += (*a.get_unchecked(i)).to_f32() * *pb.add(i);
            i += 1;
        }
        s
    }

    /// Sign-extends the 16 bytes of a pair of dimensions of 8 rows to i16 and multiplies-adds
    /// them with the broadcast query pair (_mm256_madd_epi16): one i32 lane per row.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_i8_rows8(block: &[i8], qpairs: &[i32]) -> [i32; 8] {
        let pairs = qpairs.len();
        let pb = block.as_ptr();
        let mut acc0 = _mm256_setzero_si256();
        let mut acc1 = _mm256_setzero_si256();
        let mut p = 0;
        while p + 2 <= pairs {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(16 * p) as *const __m128i));
            let x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(16 * p + 16) as *const __m128i));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, _mm256_set1_epi32(qpairs[p])));
            acc1 = _mm256_add_epi32(
                acc1,
                _mm256_madd_epi16(x1, _mm256_set1_epi32(qpairs[p + 1])),
            );
            p += 2;
        }
        if p < pairs {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(16 * p) as *const __m128i));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, _mm256_set1_epi32(qpairs[p])));
        }
        let mut out = [0i32; 8];
        _mm256_storeu_si256(
            out.as_mut_ptr() as *mut __m256i,
            _mm256_add_epi32(acc0, acc1),
        );
        out
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_si256();
        let mut acc1 = _mm256_setzero_si256();
        let mut i = 0;
        // Sign-extend 16 bytes to 16 i16 lanes, multiply pairwise and add adjacent pairs into
        // 8 i32 lanes (_mm256_madd_epi16): exact, since |x·y + x'·y'| ≤ 2·128² fits in i32.
        while i + 32 <= n {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i) as *const __m128i));
            let y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i) as *const __m128i));
            let x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i + 16) as *const __m128i));
            let y1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i + 16) as *const __m128i));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, y1));
            i += 32;
        }
        if i + 16 <= n {
            let x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pa.add(i) as *const __m128i));
            let y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(pb.add(i) as *const __m128i));
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
            i += 16;
        }
        let acc = _mm256_add_epi32(acc0, acc1);
        let s = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256(acc, 1),
        );
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
        let mut total = _mm_cvtsi128_si32(s);
        while i < n {
            total += *pa.add(i) as i32 * *pb.add(i) as i32;
            i += 1;
        }
        total
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
        axpy_ptr(a, x.as_ptr(), y.as_mut_ptr(), x.len().min(y.len()))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn axpy_ptr(a: f32, px: *const f32, py: *mut f32, n: usize) {
        let va = _mm256_set1_ps(a);
        let mut i = 0;
        while i + 8 <= n {
            let r = _mm256_fmadd_ps(va, _mm256_loadu_ps(px.add(i)), _mm256_loadu_ps(py.add(i)));
            _mm256_storeu_ps(py.add(i), r);
            i += 8;
        }
        while i < n {
            *py.add(i) += a * *px.add(i);
            i += 1;
        }
    }

    /// Four rows at a time against 16 queries: 8 accumulators, one broadcast per row value.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_tile(rows: &[f32], dims: usize, queries_t: &[f32], out: &mut [f32]) {
        let n = rows.len() / dims;
        let pr = rows.as_ptr();
        let pq = queries_t.as_ptr();
        let po = out.as_mut_ptr();
        let mut r = 0;
        while r + 4 <= n {
            let (r0, r1, r2, r3) = (
                pr.add(r * dims),
                pr.add((r + 1) * dims),
                pr.add((r + 2) * dims),
                pr.add((r + 3) * dims),
            );
            let mut a00 = _mm256_setzero_ps();
            let mut a01 = _mm256_setzero_ps();
            let mut a10 = _mm256_setzero_ps();
            let mut a11 = _mm256_setzero_ps();
            let mut a20 = _mm256_setzero_ps();
            let mut a21 = _mm256_setzero_ps();
            let mut a30 = _mm256_setzero_ps();
            let mut a31 = _mm256_setzero_ps();
            for d in 0..dims {
                let q0 = _mm256_loadu_ps(pq.add(d * 16));
                let q1 = _mm256_loadu_ps(pq.add(d * 16 + 8));
                let x0 = _mm256_broadcast_ss(&*r0.add(d));
                let x1 = _mm256_broadcast_ss(&*r1.add(d));
                let x2 = _mm256_broadcast_ss(&*r2.add(d));
                let x3 = _mm256_broadcast_ss(&*r3.add(d));
                a00 = _mm256_fmadd_ps(x0, q0, a00);
                a01 = _mm256_fmadd_ps(x0, q1, a01);
                a10 = _mm256_fmadd_ps(x1, q0, a10);
                a11 = _mm256_fmadd_ps(x1, q1, a11);
                a20 = _mm256_fmadd_ps(x2, q0, a20);
                a21 = _mm256_fmadd_ps(x2, q1, a21);
                a30 = _mm256_fmadd_ps(x3, q0, a30);
                a31 = _mm256_fmadd_ps(x3, q1, a31);
            }
            let o = po.add(r * 16);
            _mm256_storeu_ps(o, a00);
            _mm256_storeu_ps(o.add(8), a01);
            _mm256_storeu_ps(o.add(16), a10);
            _mm256_storeu_ps(o.add(24), a11);
            _mm256_storeu_ps(o.add(32), a20);
            _mm256_storeu_ps(o.add(40), a21);
            _mm256_storeu_ps(o.add(48), a30);
            _mm256_storeu_ps(o.add(56), a31);
            r += 4;
        }
        while r < n {
            let r0 = pr.add(r * dims);
            let mut a0 = _mm256_setzero_ps();
            let mut a1 = _mm256_setzero_ps();
            for d in 0..dims {
                let x0 = _mm256_broadcast_ss(&*r0.add(d));
                a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(pq.add(d * 16)), a0);
                a1 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(pq.add(d * 16 + 8)), a1);
            }
            _mm256_storeu_ps(po.add(r * 16), a0);
            _mm256_storeu_ps(po.add(r * 16 + 8), a1);
            r += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn rows8_kernel_matches_scalar_and_plain_dots() {
        let mut rng = Rng::new(3);
        for pairs in [0usize, 1, 2, 3, 25, 150] {
            let block: Vec<i8> = (0..16 * pairs)
                .map(|_| (rng.below(255) as i32 - 127) as i8)
                .collect();
            let q: Vec<i8> = (0..2 * pairs)
                .map(|_| (rng.below(255) as i32 - 127) as i8)
                .collect();
            let qpairs: Vec<i32> = q
                .chunks_exact(2)
                .map(|p| (p[0] as i16 as u16 as i32) | ((p[1] as i16 as i32) << 16))
                .collect();
            let got = dot_i8_rows8(&block, &qpairs);
            assert_eq!(got, scalar::dot_i8_rows8(&block, &qpairs));
            for (j, &g) in got.iter().enumerate() {
                let row: Vec<i8> = (0..2 * pairs)
                    .map(|d| block[16 * (d / 2) + 2 * j + d % 2])
                    .collect();
                assert_eq!(g, scalar::dot_i8(&row, &q), "pairs {pairs} row {j}");
            }
        }
    }

    #[test]
    fn dispatched_kernels_match_scalar_oracle() {
        let mut rng = Rng::new(7);
        for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 50, 100, 300, 301] {
            let a: Vec<f32> = (0..len).map(|_| rng.normal()).collect();
            let b: Vec<f32> = (0..len).map(|_| rng.normal()).collect();
            let tol = 1e-4 * (1.0 + len as f32).sqrt();
            assert!(
                (dot(&a, &b) - scalar::dot(&a, &b)).abs() < tol,
                "dot len {len}"
            );
            assert!(
                (l2_sq(&a, &b) - scalar::l2_sq(&a, &b)).abs() < tol * 4.0,
                "l2 len {len}"
            );
            let mut y1 = b.clone();
            let mut y2 = b.clone();
            axpy(0.3, &a, &mut y1);
            scalar::axpy(0.3, &a, &mut y2);
            for (p, q) in y1.iter().zip(&y2) {
                assert!((p - q).abs() < 1e-5);
            }
        }
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
        for len in [0, 1, 7, 8, 9, 16, 17, 33, 300] {
            let a: Vec<half::f16> = (0..len)
                .map(|_| half::f16::from_f32(rng.normal()))
                .collect();
            let b: Vec<f32> = (0..len).map(|_| rng.normal()).collect();
            let tol = 1e-4 * (1.0 + len as f32).sqrt();
            let f64_ref: f64 = a.iter().zip(&b).map(|(x, y)| x.to_f64() * *y as f64).sum();
            assert!(
                (dot_f16(&a, &b) as f64 - f64_ref).abs() < tol as f64,
                "dot_f16 {len}"
            );
            assert!((scalar::dot_f16(&a, &b) as f64 - f64_ref).abs() < tol as f64);
        }
        // Integer dot products are exact: the SIMD path must equal the scalar oracle bit for bit,
        // including the extremes -128 · -128.
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 48, 100, 300, 1001] {
            let a: Vec<i8> = (0..len).map(|_| rng.below(256) as u8 as i8).collect();
            let b: Vec<i8> = (0..len).map(|_| rng.below(256) as u8 as i8).collect();
            assert_eq!(dot_i8(&a, &b), scalar::dot_i8(&a, &b), "dot_i8 len {len}");
            let lo = vec![-128i8; len];
            assert_eq!(dot_i8(&lo, &lo), 16384 * len as i32);
        }
        assert!((cosine(&[1.0, 0.0], &[2.0, 0.0]) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn dot_tile_matches_row_by_row_dots() {
        let mut rng = Rng::new(11);
        for (n, dims) in [(0, 5), (1, 1), (3, 7), (4, 8), (9, 50), (13, 17), (8, 300)] {
            let rows: Vec<f32> = (0..n * dims).map(|_| rng.normal()).collect();
            let queries: Vec<Vec<f32>> = (0..TILE_QUERIES)
                .map(|_| (0..dims).map(|_| rng.normal()).collect())
                .collect();
            let mut qt = vec![0.0; dims * TILE_QUERIES];
            for (j, q) in queries.iter().enumerate() {
                for d in 0..dims {
                    qt[d * TILE_QUERIES + j] = q[d];
                }
            }
            let mut out = vec![f32::NAN; n * TILE_QUERIES];
            dot_tile(&rows, dims, &qt, &mut out);
            let mut oracle = vec![f32::NAN; n * TILE_QUERIES];
            scalar::dot_tile(&rows, dims, &qt, &mut oracle);
            for r in 0..n {
                for (j, q) in queries.iter().enumerate() {
                    let want: f64 = rows[r * dims..(r + 1) * dims]
                        .iter()
                        .zip(q)
                        .map(|(a, b)| *a as f64 * *b as f64)
                        .sum();
                    let tol = 1e-4 * (1.0 + dims as f64).sqrt();
                    assert!((out[r * TILE_QUERIES + j] as f64 - want).abs() < tol);
                    assert!((oracle[r * TILE_QUERIES + j] as f64 - want).abs() < tol);
                }
            }
        }
    }
}
