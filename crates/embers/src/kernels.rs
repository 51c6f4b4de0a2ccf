//! Vector kernels shared by queries, training, quantization and the server: dot products,
//! squared distances, `y += a·x` and scaling, with runtime CPU dispatch (AVX2+FMA on x86_64) and
//! a portable fallback that also serves as the oracle in tests. No `target-cpu=native` needed.

use crate::cpu::{level, Level};

/// Name of the kernel set in use (`avx2+fma` or `scalar`), for reports.
pub fn active() -> &'static str {
    crate::cpu::active()
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

/// One output row's exchange in a word2vec update, in one pass over the row: `acc += g · row`
/// with the row's old values, then `row += g · x` (see [`dot_ptr`] for why raw pointers).
///
/// # Safety
/// `x` must be valid for reads, `acc` for reads and writes and `row` for reads and writes of
/// `n` `f32` values; `acc` must not overlap `x` or `row`.
#[inline]
pub(crate) unsafe fn exchange_ptr(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; the caller vouches for the pointers.
        Level::Avx2Fma => unsafe { x86::exchange_ptr(g, x, row, acc, n) },
        // SAFETY: the caller vouches for the pointers.
        Level::Scalar => unsafe { scalar::exchange_ptr(g, x, row, acc, n) },
    }
}

/// Asks the CPU to start loading the cache line of `p` (a hint: a prefetch reads nothing
/// architecturally and never faults, whatever the address).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is defined for any address; nothing is dereferenced.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Starts loading every cache line of `bytes` bytes from `p` (see [`prefetch`]).
#[inline(always)]
pub(crate) fn prefetch_range<T>(p: *const T, bytes: usize) {
    let p = p as *const u8;
    let mut off = 0;
    while off < bytes {
        prefetch(p.wrapping_add(off));
        off += 64;
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

/// Rows in one block of the int8 screen's layout (see [`screen_rows16`]).
pub const SCREEN_BLOCK_ROWS: usize = 16;

/// What the int8 screen knows of the 16 rows of one block: `a` (scale over norm), `b` (the
/// row's share of the error bound) and `offset` (`128 · Σ c`, which the unsigned query codes
/// add to the integer dot product).
#[derive(Debug, Clone, Copy)]
pub struct ScreenRows<'a> {
    pub a: &'a [f32; 16],
    pub b: &'a [f32; 16],
    pub offset: &'a [i32; 16],
}

/// What the int8 screen knows of one query: its scale `t`, its share `q1` of the error bound,
/// the slack for the exact score's rounding, and the floor a row's upper end must reach.
#[derive(Debug, Clone, Copy)]
pub struct ScreenQuery {
    pub t: f32,
    pub q1: f32,
    pub slack: f32,
    pub floor: f32,
}

/// The interval `(cosine estimate, error bound)` the screen gives a row (terms `a`, `b`) whose
/// integer dot product with the query is `dot`: the true cosine lies in `cos ± err`. Every path
/// computes it in this order of operations, so the vector kernels' masks equal this test.
#[inline]
pub fn screen_interval(a: f32, b: f32, dot: i32, q: &ScreenQuery) -> (f32, f32) {
    let cos = a * (q.t * dot as f32);
    let err = ((a * q.q1 + b * q.t) + cos.abs() * 1e-4) + q.slack;
    (cos, err)
}

/// The int8 screen's inner step, for one block of 16 rows and `queries.len()` queries: the
/// rows' i8 codes are interleaved by quads of dimensions (`block[64 * p + 4 * j + h]` is
/// dimension `4p + h` of row `j`, `64 × quads` bytes), and `qquads[i * quads + p]` packs
/// dimensions `4p .. 4p + 4` of query `i` as unsigned bytes (code + 128), low byte first.
/// Sets `dots[i][j]` to the exact integer dot product of query `i`'s codes with row `j`'s
/// (`rows.offset[j]` must be `128 · Σ c` of row `j`, which takes the 128 back out; codes lie in
/// −127 ..= 127, as `quantize_into` makes them), and bit `j` of `masks[i]` when the row's upper end
/// ([`screen_interval`]: `cos + err`) reaches the query's floor. With AVX-512 VNNI one
/// instruction does 64 of the products and the bounds of 16 rows; the AVX2 and portable forms
/// give the same integers and masks.
///
/// Exact while `255 · 128 · dims` fits in i32 (dims below 65,000).
#[inline]
pub fn screen_rows16(
    block: &[i8],
    qquads: &[u32],
    rows: ScreenRows<'_>,
    queries: &[ScreenQuery],
    dots: &mut [[i32; 16]],
    masks: &mut [u16],
) {
    let quads = block.len() / 64;
    let nq = queries.len();
    assert_eq!(block.len(), 64 * quads, "16 rows of interleaved quads");
    assert_eq!(qquads.len(), nq * quads, "one set of quads per query");
    assert!(
        dots.len() >= nq && masks.len() >= nq,
        "room for every query"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::avx512_vnni() {
        // SAFETY: AVX-512 F/BW/VNNI were detected at runtime; lengths were checked above.
        return unsafe { x86::screen_rows16_vnni(block, qquads, rows, queries, dots, masks) };
    }
    match level() {
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => {
            // SAFETY: AVX2 and FMA were detected at runtime; lengths were checked above.
            return unsafe { x86::screen_rows16_avx2(block, qquads, rows, queries, dots, masks) };
        }
        Level::Scalar => scalar::dot_u8i8_rows16(block, qquads, &mut dots[..nq]),
    }
    for ((d, m), q) in dots.iter_mut().zip(masks.iter_mut()).zip(queries) {
        let mut mask = 0u16;
        for (j, d) in d.iter_mut().enumerate() {
            *d -= rows.offset[j];
            let (cos, err) = screen_interval(rows.a[j], rows.b[j], *d, q);
            mask |= u16::from(cos + err >= q.floor) << j;
        }
        *m = mask;
    }
}

/// Dot product of half-precision `a` with `b`, widening in registers (F16C on x86_64 when the
/// CPU has it, with AVX2/FMA).
#[inline]
pub fn dot_f16(a: &[half::f16], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    if crate::cpu::f16c() {
        // SAFETY: AVX2, FMA and F16C were detected at runtime.
        return unsafe { x86::dot_f16(a, b) };
    }
    scalar::dot_f16(a, b)
}

/// Dot product of i8 `a` with f32 `b` (the shorter length), each byte widened to f32 in
/// registers (AVX2 and FMA when the CPU has them).
#[inline]
pub fn dot_i8_f32(a: &[i8], b: &[f32]) -> f32 {
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime.
        Level::Avx2Fma => unsafe { x86::dot_i8_f32(a, b) },
        Level::Scalar => scalar::dot_i8_f32(a, b),
    }
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

/// The score of exact search, [`dot_exact`], for one row and one query. It is defined by its
/// order of operations so that every path of exact search computes it bit for bit the same:
/// eight lanes, lane `l` accumulating `a[8c + l] · b[8c + l]` over chunks `c` in order (one
/// fused multiply-add per step with AVX2/FMA, multiply then add in the portable code), the last
/// chunk padded with zeros, and the lanes summed as `((l0 + l1) + (l2 + l3)) + ((l4 + l5) +
/// (l6 + l7))`. [`dot_exact_rows`] (one query, many rows) and [`dot_exact_block`] (many
/// queries, many rows) keep many such sums in flight at once, and each equals `dot_exact` of
/// its pair exactly: single, batched and screened queries rank near-ties the same way.
#[inline]
pub fn dot_exact(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "equal lengths");
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; lengths are equal.
        Level::Avx2Fma => unsafe { x86::dot_exact(a, b) },
        Level::Scalar => scalar::dot_exact(a, b),
    }
}

/// `out[r] = dot_exact(row r, query)` for the rows of `rows` (`dims` values each, row-major).
pub fn dot_exact_rows(rows: &[f32], dims: usize, query: &[f32], out: &mut [f32]) {
    assert_eq!(query.len(), dims, "query dims");
    let n = rows.len().checked_div(dims).unwrap_or(0);
    assert_eq!(rows.len(), n * dims, "whole rows");
    assert_eq!(out.len(), n, "one score per row");
    if dims == 0 {
        out.fill(0.0);
        return;
    }
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; lengths were checked above.
        Level::Avx2Fma => unsafe { x86::dot_exact_rows(rows, dims, query, out) },
        Level::Scalar => {
            for (o, r) in out.iter_mut().zip(rows.chunks_exact(dims)) {
                *o = scalar::dot_exact(r, query);
            }
        }
    }
}

/// `out[r * nq + j] = dot_exact(row r, query j)` for the rows of `rows` and the `nq` queries of
/// `queries` (both `dims` values each, row-major): the inner step of batched exact search.
pub fn dot_exact_block(rows: &[f32], dims: usize, queries: &[f32], nq: usize, out: &mut [f32]) {
    assert_eq!(queries.len(), nq * dims, "whole queries");
    let n = rows.len().checked_div(dims).unwrap_or(0);
    assert_eq!(rows.len(), n * dims, "whole rows");
    assert_eq!(out.len(), n * nq, "one score per row and query");
    if dims == 0 {
        out.fill(0.0);
        return;
    }
    match level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the features were detected at runtime; lengths were checked above.
        Level::Avx2Fma => unsafe { x86::dot_exact_block(rows, dims, queries, nq, out) },
        Level::Scalar => {
            for (o, r) in out.chunks_exact_mut(nq).zip(rows.chunks_exact(dims)) {
                for (x, q) in o.iter_mut().zip(queries.chunks_exact(dims)) {
                    *x = scalar::dot_exact(r, q);
                }
            }
        }
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

    /// [`super::exchange_ptr`].
    ///
    /// # Safety
    /// As [`super::exchange_ptr`].
    pub(crate) unsafe fn exchange_ptr(
        g: f32,
        x: *const f32,
        row: *mut f32,
        acc: *mut f32,
        n: usize,
    ) {
        for i in 0..n {
            // SAFETY: i < n; `acc` overlaps neither `x` nor `row`.
            unsafe {
                let r = *row.add(i);
                *acc.add(i) += g * r;
                *row.add(i) = r + g * *x.add(i);
            }
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

    /// See [`super::dot_exact`]: eight lanes, multiply then add, fixed reduction tree.
    pub fn dot_exact(a: &[f32], b: &[f32]) -> f32 {
        let mut acc = [0.0f32; 8];
        let mut ca = a.chunks_exact(8);
        let mut cb = b.chunks_exact(8);
        for (x, y) in (&mut ca).zip(&mut cb) {
            for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
                *s += x * y;
            }
        }
        for (l, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
            acc[l] += x * y;
        }
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
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

    /// Dot product of i8 values with f32 values, 8 accumulators like [`dot`].
    pub fn dot_i8_f32(a: &[i8], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let mut acc = [0.0f32; 8];
        let chunks = n / 8;
        for i in 0..chunks {
            for k in 0..8 {
                acc[k] += a[i * 8 + k] as f32 * b[i * 8 + k];
            }
        }
        let mut s =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for i in chunks * 8..n {
            s += a[i] as f32 * b[i];
        }
        s
    }

    /// Integer dot product of i8 slices.
    pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        a.iter().zip(b).map(|(&x, &y)| x as i32 * y as i32).sum()
    }

    /// The integer part of [`super::screen_rows16`] (offset not taken out).
    pub fn dot_u8i8_rows16(block: &[i8], qquads: &[u32], out: &mut [[i32; 16]]) {
        let quads = block.len() / 64;
        for (i, o) in out.iter_mut().enumerate() {
            *o = [0; 16];
            let q = &qquads[i * quads..(i + 1) * quads];
            for (quad, &qq) in block.chunks_exact(64).zip(q) {
                let qb = qq.to_le_bytes();
                for (j, slot) in o.iter_mut().enumerate() {
                    for h in 0..4 {
                        *slot += i32::from(qb[h]) * i32::from(quad[4 * j + h]);
                    }
                }
            }
        }
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

    /// [`super::screen_rows16`] with AVX2: per quad of dimensions the block's two halves (rows
    /// 0–7 and 8–15, a row's four codes a lane) are multiplied with the query's four codes
    /// broadcast, as `|c| · (d · sign c)` by `vpmaddubsw` (unsigned by signed bytes; `|c|,
    /// |d| ≤ 127`, so a pair sums to at most 32,258 and never saturates) and `vpmaddwd` with
    /// ones, which leaves each row's four products summed in its i32 lane. Up to four queries
    /// share every load of the block. The bounds of the 16 rows then come from two registers,
    /// in [`super::screen_interval`]'s order of operations, so the masks equal its test.
    /// Needs query bytes of at least 1 (codes ≥ −127, as `quantize_into` gives) and row codes
    /// above −128; the caller checked the lengths.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn screen_rows16_avx2(
        block: &[i8],
        qquads: &[u32],
        rows: super::ScreenRows<'_>,
        queries: &[super::ScreenQuery],
        dots: &mut [[i32; 16]],
        masks: &mut [u16],
    ) {
        let quads = block.len() / 64;
        let pb = block.as_ptr();
        let pq = qquads.as_ptr();
        let mut i = 0;
        while i < queries.len() {
            let g = (queries.len() - i).min(4);
            let acc = match g {
                4 => dots_avx2::<4>(pb, quads, pq.add(i * quads)),
                3 => pad2(dots_avx2::<3>(pb, quads, pq.add(i * quads))),
                2 => pad2(dots_avx2::<2>(pb, quads, pq.add(i * quads))),
                _ => pad2(dots_avx2::<1>(pb, quads, pq.add(i * quads))),
            };
            for (gi, halves) in acc.iter().enumerate().take(g) {
                let q = &queries[i + gi];
                let out = dots[i + gi].as_mut_ptr();
                let mut mask = 0u16;
                for (h, &dot) in halves.iter().enumerate() {
                    _mm256_storeu_si256(out.add(8 * h) as *mut __m256i, dot);
                    let a = _mm256_loadu_ps(rows.a.as_ptr().add(8 * h));
                    let b = _mm256_loadu_ps(rows.b.as_ptr().add(8 * h));
                    let t = _mm256_set1_ps(q.t);
                    let cos = _mm256_mul_ps(a, _mm256_mul_ps(t, _mm256_cvtepi32_ps(dot)));
                    let abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0), cos);
                    let err = _mm256_add_ps(
                        _mm256_add_ps(
                            _mm256_add_ps(
                                _mm256_mul_ps(a, _mm256_set1_ps(q.q1)),
                                _mm256_mul_ps(b, t),
                            ),
                            _mm256_mul_ps(abs, _mm256_set1_ps(1e-4)),
                        ),
                        _mm256_set1_ps(q.slack),
                    );
                    let upper = _mm256_add_ps(cos, err);
                    let hit = _mm256_cmp_ps::<_CMP_GE_OQ>(upper, _mm256_set1_ps(q.floor));
                    mask |= (_mm256_movemask_ps(hit) as u16) << (8 * h);
                }
                masks[i + gi] = mask;
            }
            i += g;
        }
    }

    /// The integer dot products of `G` consecutive queries (quads at `pq`, `quads` each, bytes
    /// `code + 128`) with the 16 rows of the block at `pb`: rows 0–7 and 8–15 per query.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn dots_avx2<const G: usize>(
        pb: *const i8,
        quads: usize,
        pq: *const u32,
    ) -> [[__m256i; 2]; G] {
        let ones = _mm256_set1_epi16(1);
        let flip = _mm256_set1_epi8(-128);
        let mut acc = [[_mm256_setzero_si256(); 2]; G];
        for p in 0..quads {
            let x0 = _mm256_loadu_si256(pb.add(64 * p) as *const __m256i);
            let x1 = _mm256_loadu_si256(pb.add(64 * p + 32) as *const __m256i);
            let (a0, a1) = (_mm256_abs_epi8(x0), _mm256_abs_epi8(x1));
            for (g, acc) in acc.iter_mut().enumerate() {
                // The query's codes as signed bytes: `code + 128` with the top bit flipped.
                let d = _mm256_xor_si256(_mm256_set1_epi32(*pq.add(g * quads + p) as i32), flip);
                let s0 = _mm256_maddubs_epi16(a0, _mm256_sign_epi8(d, x0));
                let s1 = _mm256_maddubs_epi16(a1, _mm256_sign_epi8(d, x1));
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(s0, ones));
                acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(s1, ones));
            }
        }
        acc
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn pad2<const G: usize>(acc: [[__m256i; 2]; G]) -> [[__m256i; 2]; 4] {
        let mut out = [[_mm256_setzero_si256(); 2]; 4];
        out[..G].copy_from_slice(&acc);
        out
    }

    /// [`super::screen_rows16`]: one `vpdpbusd` a quad of dimensions (the query's four bytes
    /// broadcast to the sixteen lanes, each lane a row; two accumulators hide the latency), then
    /// the bounds of the 16 rows in one register, in [`super::screen_interval`]'s order of
    /// operations. Caller checked the lengths.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn screen_rows16_vnni(
        block: &[i8],
        qquads: &[u32],
        rows: super::ScreenRows<'_>,
        queries: &[super::ScreenQuery],
        dots: &mut [[i32; 16]],
        masks: &mut [u16],
    ) {
        let quads = block.len() / 64;
        let pb = block.as_ptr();
        let a = _mm512_loadu_ps(rows.a.as_ptr());
        let b = _mm512_loadu_ps(rows.b.as_ptr());
        let off = _mm512_loadu_si512(rows.offset.as_ptr() as *const _);
        let tiny = _mm512_set1_ps(1e-4);
        let pq = qquads.as_ptr();
        // Four queries at a time: four independent chains of `vpdpbusd` (its latency would
        // bind one chain) sharing every load of the block.
        let mut i = 0;
        while i < queries.len() {
            let g = (queries.len() - i).min(4);
            let acc = match g {
                4 => dots_vnni::<4>(pb, quads, pq.add(i * quads)),
                3 => pad(dots_vnni::<3>(pb, quads, pq.add(i * quads))),
                2 => pad(dots_vnni::<2>(pb, quads, pq.add(i * quads))),
                _ => pad([dot_vnni(pb, quads, pq.add(i * quads))]),
            };
            for (gi, &acc) in acc.iter().enumerate().take(g) {
                let q = &queries[i + gi];
                let dot = _mm512_sub_epi32(acc, off);
                _mm512_storeu_si512(dots[i + gi].as_mut_ptr() as *mut _, dot);
                let t = _mm512_set1_ps(q.t);
                let cos = _mm512_mul_ps(a, _mm512_mul_ps(t, _mm512_cvtepi32_ps(dot)));
                let err = _mm512_add_ps(
                    _mm512_add_ps(
                        _mm512_add_ps(_mm512_mul_ps(a, _mm512_set1_ps(q.q1)), _mm512_mul_ps(b, t)),
                        _mm512_mul_ps(_mm512_abs_ps(cos), tiny),
                    ),
                    _mm512_set1_ps(q.slack),
                );
                let upper = _mm512_add_ps(cos, err);
                masks[i + gi] = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(upper, _mm512_set1_ps(q.floor));
            }
            i += g;
        }
    }

    /// The integer dot products of `G` consecutive queries (quads at `pq`, `quads` each) with
    /// the 16 rows of the block at `pb`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn dots_vnni<const G: usize>(
        pb: *const i8,
        quads: usize,
        pq: *const u32,
    ) -> [__m512i; G] {
        let mut acc = [_mm512_setzero_si512(); G];
        for p in 0..quads {
            let x = _mm512_loadu_si512(pb.add(64 * p) as *const _);
            for (g, a) in acc.iter_mut().enumerate() {
                *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(*pq.add(g * quads + p) as i32), x);
            }
        }
        acc
    }

    /// The integer dot products of one query with the 16 rows: four chains over the quads
    /// taken in turn (one chain would wait on the instruction's latency).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn dot_vnni(pb: *const i8, quads: usize, pq: *const u32) -> __m512i {
        let mut acc = [_mm512_setzero_si512(); 4];
        let mut p = 0;
        while p + 4 <= quads {
            for (c, a) in acc.iter_mut().enumerate() {
                let x = _mm512_loadu_si512(pb.add(64 * (p + c)) as *const _);
                *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(*pq.add(p + c) as i32), x);
            }
            p += 4;
        }
        for (c, a) in acc.iter_mut().enumerate().take(quads - p) {
            let x = _mm512_loadu_si512(pb.add(64 * (p + c)) as *const _);
            *a = _mm512_dpbusd_epi32(*a, _mm512_set1_epi32(*pq.add(p + c) as i32), x);
        }
        _mm512_add_epi32(
            _mm512_add_epi32(acc[0], acc[1]),
            _mm512_add_epi32(acc[2], acc[3]),
        )
    }

    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn pad<const G: usize>(acc: [__m512i; G]) -> [__m512i; 4] {
        let mut out = [_mm512_setzero_si512(); 4];
        out[..G].copy_from_slice(&acc);
        out
    }

    /// [`super::dot_i8_f32`]: eight bytes at a time sign-extended to i32 lanes and converted
    /// to f32 (exact), two accumulators, the tail in scalar code.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_i8_f32(a: &[i8], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let widen = |p: *const i8| {
            _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(p as *const __m128i)))
        };
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            acc0 = _mm256_fmadd_ps(widen(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(widen(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), acc1);
            i += 16;
        }
        if i + 8 <= n {
            acc0 = _mm256_fmadd_ps(widen(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(acc0, acc1));
        while i < n {
            s += *pa.add(i) as f32 * *pb.add(i);
            i += 1;
        }
        s
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

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn exchange_ptr(g: f32, x: *const f32, row: *mut f32, acc: *mut f32, n: usize) {
        let vg = _mm256_set1_ps(g);
        let mut i = 0;
        while i + 8 <= n {
            let r = _mm256_loadu_ps(row.add(i));
            _mm256_storeu_ps(
                acc.add(i),
                _mm256_fmadd_ps(vg, r, _mm256_loadu_ps(acc.add(i))),
            );
            _mm256_storeu_ps(
                row.add(i),
                _mm256_fmadd_ps(vg, _mm256_loadu_ps(x.add(i)), r),
            );
            i += 8;
        }
        while i < n {
            let r = *row.add(i);
            *acc.add(i) += g * r;
            *row.add(i) = r + g * *x.add(i);
            i += 1;
        }
    }

    /// Lanes below `rem` set: the mask of a last, partial chunk of 8.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tail_mask(rem: usize) -> __m256i {
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(rem as i32),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }

    /// `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))` of one accumulator.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn reduce1(v: __m256) -> f32 {
        let h = _mm256_hadd_ps(v, v);
        let h = _mm256_hadd_ps(h, h);
        let lo = _mm256_castps256_ps128(h);
        let hi = _mm256_extractf128_ps(h, 1);
        _mm_cvtss_f32(_mm_add_ss(lo, hi))
    }

    /// The same sum as [`reduce1`] for eight accumulators at once, one per output lane:
    /// `hadd` pairs lanes (0,1) (2,3) within each half, a second `hadd` adds those pairs, and
    /// the low half's sum is added to the high half's.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn reduce8(v: [__m256; 8]) -> __m256 {
        let ab = _mm256_hadd_ps(v[0], v[1]);
        let cd = _mm256_hadd_ps(v[2], v[3]);
        let ef = _mm256_hadd_ps(v[4], v[5]);
        let gh = _mm256_hadd_ps(v[6], v[7]);
        let abcd = _mm256_hadd_ps(ab, cd);
        let efgh = _mm256_hadd_ps(ef, gh);
        let lo = _mm256_permute2f128_ps(abcd, efgh, 0x20);
        let hi = _mm256_permute2f128_ps(abcd, efgh, 0x31);
        _mm256_add_ps(lo, hi)
    }

    /// Chunk `c` of 8 values at `p` (the last one, of `rem` values, masked).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn chunk(p: *const f32, c: usize, full: usize, mask: __m256i) -> __m256 {
        if c < full {
            _mm256_loadu_ps(p.add(8 * c))
        } else {
            _mm256_maskload_ps(p.add(8 * c), mask)
        }
    }

    /// Caller: `a.len() == b.len()`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_exact(a: &[f32], b: &[f32]) -> f32 {
        let dims = a.len();
        let (full, rem) = (dims / 8, dims % 8);
        let chunks = full + usize::from(rem > 0);
        let mask = tail_mask(rem);
        let mut acc = _mm256_setzero_ps();
        for c in 0..chunks {
            let x = chunk(a.as_ptr(), c, full, mask);
            let y = chunk(b.as_ptr(), c, full, mask);
            acc = _mm256_fmadd_ps(x, y, acc);
        }
        reduce1(acc)
    }

    /// Eight rows at a time, eight accumulators; caller checked the lengths.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_exact_rows(rows: &[f32], dims: usize, query: &[f32], out: &mut [f32]) {
        let n = out.len();
        let (full, rem) = (dims / 8, dims % 8);
        let chunks = full + usize::from(rem > 0);
        let mask = tail_mask(rem);
        let (pr, pq) = (rows.as_ptr(), query.as_ptr());
        let mut r = 0;
        while r + 8 <= n {
            let mut acc = [_mm256_setzero_ps(); 8];
            for c in 0..chunks {
                let q = chunk(pq, c, full, mask);
                for (i, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_fmadd_ps(chunk(pr.add((r + i) * dims), c, full, mask), q, *a);
                }
            }
            _mm256_storeu_ps(out.as_mut_ptr().add(r), reduce8(acc));
            r += 8;
        }
        while r < n {
            out[r] = dot_exact(&rows[r * dims..(r + 1) * dims], query);
            r += 1;
        }
    }

    /// Four rows × two queries at a time, eight accumulators; caller checked the lengths.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_exact_block(
        rows: &[f32],
        dims: usize,
        queries: &[f32],
        nq: usize,
        out: &mut [f32],
    ) {
        let n = rows.len() / dims;
        let (full, rem) = (dims / 8, dims % 8);
        let chunks = full + usize::from(rem > 0);
        let mask = tail_mask(rem);
        let (pr, pq) = (rows.as_ptr(), queries.as_ptr());
        let mut r = 0;
        while r + 4 <= n {
            let mut j = 0;
            while j + 2 <= nq {
                let mut acc = [_mm256_setzero_ps(); 8];
                let (q0, q1) = (pq.add(j * dims), pq.add((j + 1) * dims));
                for c in 0..chunks {
                    let y0 = chunk(q0, c, full, mask);
                    let y1 = chunk(q1, c, full, mask);
                    for i in 0..4 {
                        let x = chunk(pr.add((r + i) * dims), c, full, mask);
                        acc[2 * i] = _mm256_fmadd_ps(x, y0, acc[2 * i]);
                        acc[2 * i + 1] = _mm256_fmadd_ps(x, y1, acc[2 * i + 1]);
                    }
                }
                let mut s = [0f32; 8];
                _mm256_storeu_ps(s.as_mut_ptr(), reduce8(acc));
                for i in 0..4 {
                    out[(r + i) * nq + j] = s[2 * i];
                    out[(r + i) * nq + j + 1] = s[2 * i + 1];
                }
                j += 2;
            }
            if j < nq {
                let q = &queries[j * dims..(j + 1) * dims];
                for i in 0..4 {
                    out[(r + i) * nq + j] = dot_exact(&rows[(r + i) * dims..(r + i + 1) * dims], q);
                }
            }
            r += 4;
        }
        while r < n {
            let row = &rows[r * dims..(r + 1) * dims];
            for (j, q) in queries.chunks_exact(dims).enumerate() {
                out[r * nq + j] = dot_exact(row, q);
            }
            r += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The fused output-row update equals its two-step definition (with the row's old value
    /// in the accumulator), for lengths around the vector width, through the dispatched kernel
    /// and the portable one.
    #[test]
    fn exchange_is_accumulate_then_step() {
        let mut rng = Rng::new(11);
        for n in [0usize, 1, 7, 8, 9, 16, 100, 301] {
            let x: Vec<f32> = (0..n).map(|_| rng.uniform() - 0.5).collect();
            let row0: Vec<f32> = (0..n).map(|_| rng.uniform() - 0.5).collect();
            let acc0: Vec<f32> = (0..n).map(|_| rng.uniform() - 0.5).collect();
            let g = 0.37f32;
            let mut want_acc = acc0.clone();
            axpy(g, &row0, &mut want_acc);
            let mut want_row = row0.clone();
            axpy(g, &x, &mut want_row);
            type Exchange = unsafe fn(f32, *const f32, *mut f32, *mut f32, usize);
            let kernels: [Exchange; 2] = [exchange_ptr, scalar::exchange_ptr];
            for (k, f) in kernels.into_iter().enumerate() {
                let (mut row, mut acc) = (row0.clone(), acc0.clone());
                // SAFETY: three distinct buffers of n values.
                unsafe { f(g, x.as_ptr(), row.as_mut_ptr(), acc.as_mut_ptr(), n) };
                for i in 0..n {
                    assert!(
                        (acc[i] - want_acc[i]).abs() <= 1e-6,
                        "kernel {k} n {n} acc {i}"
                    );
                    assert!(
                        (row[i] - want_row[i]).abs() <= 1e-6,
                        "kernel {k} n {n} row {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn screen_kernel_matches_scalar_and_plain_dots() {
        let mut rng = Rng::new(3);
        for quads in [0usize, 1, 2, 3, 13, 75] {
            // Codes as `quantize_into` makes them: −127 ..= 127, the queries' offset by 128.
            let block: Vec<i8> = (0..64 * quads)
                .map(|_| (rng.below(255) as i32 - 127) as i8)
                .collect();
            for nq in [1usize, 2, 3, 4, 5, 9] {
                let q: Vec<u8> = (0..nq * 4 * quads)
                    .map(|_| 1 + rng.below(255) as u8)
                    .collect();
                let qquads: Vec<u32> = q
                    .chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                let mut want = vec![[0i32; 16]; nq];
                scalar::dot_u8i8_rows16(&block, &qquads, &mut want);
                // The full step: integers less the offsets, and the masks of the bound test.
                let a: [f32; 16] = std::array::from_fn(|_| rng.uniform() * 1e-3);
                let b: [f32; 16] = std::array::from_fn(|j| match j {
                    3 => f32::NAN,
                    5 => f32::INFINITY,
                    _ => rng.uniform() * 1e-2,
                });
                // `128 · Σ c` per row, as the screen stores it.
                let offset: [i32; 16] = std::array::from_fn(|j| {
                    (0..4 * quads)
                        .map(|d| 128 * i32::from(block[64 * (d / 4) + 4 * j + d % 4]))
                        .sum()
                });
                let rows = ScreenRows {
                    a: &a,
                    b: &b,
                    offset: &offset,
                };
                let queries: Vec<ScreenQuery> = (0..nq)
                    .map(|_| ScreenQuery {
                        t: rng.uniform() * 0.01,
                        q1: rng.uniform(),
                        slack: 1e-6,
                        floor: rng.uniform() * 0.2 - 0.1,
                    })
                    .collect();
                let mut got = vec![[7i32; 16]; nq];
                let mut masks = vec![0u16; nq];
                screen_rows16(&block, &qquads, rows, &queries, &mut got, &mut masks);
                for i in 0..nq {
                    let mut mask = 0u16;
                    for j in 0..16 {
                        assert_eq!(got[i][j], want[i][j] - offset[j], "quads {quads} nq {nq}");
                        let (cos, err) = screen_interval(a[j], b[j], got[i][j], &queries[i]);
                        mask |= u16::from(cos + err >= queries[i].floor) << j;
                    }
                    assert_eq!(masks[i], mask, "mask quads {quads} query {i}");
                    assert_eq!(mask & (1 << 3), 0, "a NaN bound never reaches");
                    assert_ne!(mask & (1 << 5), 0, "an infinite bound always reaches");
                }
                #[cfg(target_arch = "x86_64")]
                if crate::cpu::avx2_fma() {
                    // The AVX2 form too, when the dispatch above took the VNNI one.
                    let mut avx2 = vec![[0i32; 16]; nq];
                    let mut avx2_masks = vec![0u16; nq];
                    // SAFETY: AVX2 and FMA were detected; lengths as checked by the dispatch.
                    unsafe {
                        x86::screen_rows16_avx2(
                            &block,
                            &qquads,
                            rows,
                            &queries,
                            &mut avx2,
                            &mut avx2_masks,
                        )
                    };
                    assert_eq!(avx2, got, "avx2 quads {quads} nq {nq}");
                    assert_eq!(avx2_masks, masks, "avx2 masks quads {quads} nq {nq}");
                }
                for i in 0..nq {
                    for j in 0..16 {
                        let plain: i32 = (0..4 * quads)
                            .map(|d| {
                                i32::from(q[i * 4 * quads + d])
                                    * i32::from(block[64 * (d / 4) + 4 * j + d % 4])
                            })
                            .sum();
                        assert_eq!(want[i][j], plain, "quads {quads} query {i} row {j}");
                        let signed: i32 = (0..4 * quads)
                            .map(|d| {
                                (i32::from(q[i * 4 * quads + d]) - 128)
                                    * i32::from(block[64 * (d / 4) + 4 * j + d % 4])
                            })
                            .sum();
                        assert_eq!(got[i][j], signed, "quads {quads} query {i} row {j}");
                    }
                }
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
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 33, 50, 56, 300] {
            let a: Vec<i8> = (0..len).map(|_| rng.below(256) as u8 as i8).collect();
            let b: Vec<f32> = (0..len).map(|_| rng.normal()).collect();
            let f64_ref: f64 = a.iter().zip(&b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let tol = 1e-5 * 128.0 * (1.0 + len as f64);
            assert!(
                (dot_i8_f32(&a, &b) as f64 - f64_ref).abs() < tol,
                "dot_i8_f32 {len}"
            );
            assert!((scalar::dot_i8_f32(&a, &b) as f64 - f64_ref).abs() < tol);
            // The shorter length counts.
            let longer: Vec<f32> = b.iter().copied().chain([1e9]).collect();
            assert_eq!(dot_i8_f32(&a, &longer), dot_i8_f32(&a, &b));
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
    fn exact_dots_are_one_kernel_bit_for_bit() {
        let mut rng = Rng::new(11);
        for (n, dims, nq) in [
            (0, 5, 3),
            (1, 1, 1),
            (3, 7, 2),
            (4, 8, 16),
            (9, 50, 5),
            (13, 17, 16),
            (8, 300, 3),
            (21, 301, 1),
        ] {
            let rows: Vec<f32> = (0..n * dims).map(|_| rng.normal()).collect();
            let queries: Vec<f32> = (0..nq * dims).map(|_| rng.normal()).collect();
            let mut block = vec![f32::NAN; n * nq];
            dot_exact_block(&rows, dims, &queries, nq, &mut block);
            for (j, q) in queries.chunks_exact(dims).enumerate() {
                let mut single = vec![f32::NAN; n];
                dot_exact_rows(&rows, dims, q, &mut single);
                for r in 0..n {
                    let row = &rows[r * dims..(r + 1) * dims];
                    let one = dot_exact(row, q);
                    assert_eq!(one.to_bits(), single[r].to_bits(), "rows {n}x{dims} r {r}");
                    assert_eq!(
                        one.to_bits(),
                        block[r * nq + j].to_bits(),
                        "block r {r} q {j}"
                    );
                    let want: f64 = row.iter().zip(q).map(|(a, b)| *a as f64 * *b as f64).sum();
                    let tol = 1e-4 * (1.0 + dims as f64).sqrt();
                    assert!((one as f64 - want).abs() < tol);
                    assert!((scalar::dot_exact(row, q) as f64 - want).abs() < tol);
                }
            }
        }
    }
}
