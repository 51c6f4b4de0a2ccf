//! The fast path of the text readers' row parser (`textvec::parse_chunk`): a chunk's separators
//! (spaces and newlines) are found 64 bytes at a time — AVX2 when [`crate::cpu::avx2_fma`] says
//! so, portable u64 SWAR otherwise — and walked as bits, so every field's start and end are
//! known before its number is read: the numbers of a row do not wait for each other, and the
//! line end is not looked for separately. A field of the form `-?D+.D+` (at most 6 integer and
//! 8 fraction digits, all digits together ≤ 2^24) is read from 16 bytes in one pass of u64
//! arithmetic: the integer part and the fraction each as up to 8 digits with three
//! multiplications, then one division of two exact `f32`s, which IEEE rounds correctly
//! (Clinger's fast path). Anything else — exponents, long mantissas, `inf`/`nan`, tabs, two
//! spaces — makes the field or the row go to the general parser, which gives the same values
//! and the same errors.

/// Spaces and newlines of 64 bytes: bit `i` of each mask is set when byte `i` is one.
#[inline]
pub(crate) fn masks_portable(block: &[u8; 64]) -> (u64, u64) {
    let mut space = 0;
    let mut newline = 0;
    for (k, w) in block.chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        space |= byte_eq_bits(w, b' ') << (8 * k);
        newline |= byte_eq_bits(w, b'\n') << (8 * k);
    }
    (space, newline)
}

/// Bit `k` set when byte `k` of `w` (first byte lowest) is `c`.
#[inline]
fn byte_eq_bits(w: u64, c: u8) -> u64 {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let t = w ^ (LOW * u64::from(c));
    // The high bit of a byte is set exactly when the byte of `t` is zero (no carries between
    // bytes: `t & 0x7F + 0x7F` stays within the byte).
    let zero = !(((t & LOW7) + LOW7) | t) & (LOW << 7);
    // Bits 8k + 7 gathered into bits 56 + k: each product term lands on its own bit.
    (zero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// [`masks_portable`] with AVX2: two 32-byte compares per mask.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn masks_avx2(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::*;
    // SAFETY: both 32-byte unaligned loads lie inside the 64 bytes of `block`.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast()),
        )
    };
    let bits = |c: u8| {
        let c = _mm256_set1_epi8(c as i8);
        let l = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32;
        let h = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32;
        u64::from(l) | u64::from(h) << 32
    };
    (bits(b' '), bits(b'\n'))
}

/// The separators (spaces and newlines) of a chunk in order, from a position on.
pub(crate) struct Seps<'a> {
    bytes: &'a [u8],
    /// Start of the current 64-byte block.
    base: usize,
    /// Separators of the block not yet returned, and which of them are newlines.
    any: u64,
    newline: u64,
    avx2: bool,
}

impl<'a> Seps<'a> {
    /// The separators of `bytes`, found with AVX2 when `avx2` is asked for and the CPU has it
    /// (`cpu::avx2_fma`), so that no caller can select the AVX2 path on a CPU without it.
    pub(crate) fn new(bytes: &'a [u8], avx2: bool) -> Self {
        let mut s = Seps {
            bytes,
            base: 0,
            any: 0,
            newline: 0,
            avx2: avx2 && crate::cpu::avx2_fma(),
        };
        s.seek(0);
        s
    }

    /// The separators at `pos` and after.
    pub(crate) fn seek(&mut self, pos: usize) {
        self.base = pos & !63;
        self.load();
        let below = (1u64 << (pos - self.base)) - 1;
        self.any &= !below;
        self.newline &= !below;
    }

    fn load(&mut self) {
        let (space, newline) = match self.bytes.get(self.base..self.base + 64) {
            Some(b) => self.masks(b.try_into().expect("64 bytes")),
            None => {
                // The last, partial block, padded with bytes that are not separators.
                let mut b = [0u8; 64];
                let rest = self.bytes.get(self.base..).unwrap_or(&[]);
                b[..rest.len()].copy_from_slice(rest);
                self.masks(&b)
            }
        };
        self.any = space | newline;
        self.newline = newline;
    }

    #[inline]
    fn masks(&self, block: &[u8; 64]) -> (u64, u64) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is only true when `cpu::avx2_fma` detected AVX2 (`Seps::new`
            // ANDs the caller's wish with it, and nothing else sets the field).
            return unsafe { masks_avx2(block) };
        }
        masks_portable(block)
    }

    /// The next separator: its position and whether it is a newline; `None` after the end.
    #[inline]
    pub(crate) fn next(&mut self) -> Option<(usize, bool)> {
        while self.any == 0 {
            self.base += 64;
            if self.base >= self.bytes.len() {
                self.base = self.bytes.len();
                return None;
            }
            self.load();
        }
        let t = self.any.trailing_zeros();
        self.any &= self.any - 1;
        Some((self.base + t as usize, (self.newline >> t) & 1 == 1))
    }
}

/// Powers of ten that are exact in `f32` (5^10 < 2^24): the divisors `scale` is tested against.
#[cfg(test)]
const POW10: [f32; 9] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];
const LOW: u64 = 0x0101_0101_0101_0101;

/// How many of the 8 bytes of `w` (first byte lowest) are ASCII digits before the first byte
/// that is not (8 when all are).
#[inline]
fn digit_run(w: u64) -> usize {
    // A byte is a digit when its high nibble is 3 and adding 6 keeps it 3 (0x30..=0x39). A
    // carry out of a non-digit byte only changes bytes after it, which are not looked at.
    let high = (w & (0xF0 * LOW)) ^ (0x30 * LOW);
    let plus6 = (w.wrapping_add(0x06 * LOW) & (0xF0 * LOW)) ^ (0x30 * LOW);
    ((high | plus6).trailing_zeros() / 8) as usize
}

/// The value of the first `n` bytes of `w` (1 ≤ n ≤ 8), which are ASCII digits.
#[inline]
fn digits_value(w: u64, n: usize) -> u64 {
    // The n digits moved to the last bytes (the first ones become leading zeros; no borrow
    // reaches them from the bytes dropped, which are above them), then combined pairwise in
    // three multiplications.
    let d = w.wrapping_sub(0x30 * LOW) << (8 * (8 - n));
    let v = d.wrapping_mul(10).wrapping_add(d >> 8);
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 0x000F_4240_0000_0064; // 100 + (1,000,000 << 32)
    const MUL2: u64 = 0x0000_2710_0000_0001; // 1 + (10,000 << 32)
    ((v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2)))
        >> 32
}

/// The field of `len` bytes at the start of `w` (the bytes after it are anything) when it is
/// `-?D+.D+` with 1–6 integer and 1–8 fraction digits whose digits form an integer ≤ 2^24:
/// its value, correctly rounded (the one `str::parse::<f32>` gives). `None` for anything else.
#[inline(always)]
pub(crate) fn short_decimal(w: &[u8; 16], len: usize) -> Option<f32> {
    let neg = w[0] == b'-';
    let s = usize::from(neg);
    let n = len.wrapping_sub(s);
    let lo = u64::from_le_bytes(w[s..s + 8].try_into().expect("8 bytes"));
    let ni = digit_run(lo);
    if ni == 0 || ni > 6 {
        return None;
    }
    let dot = w[s + ni] == b'.';
    let nf = n.wrapping_sub(ni + 1);
    let f = u64::from_le_bytes(w[s + ni + 1..s + ni + 9].try_into().expect("8 bytes"));
    // One test for all: a point after the integer digits, 1–8 fraction digits up to the end.
    if !(dot & (nf.wrapping_sub(1) < 8) & (digit_run(f) >= nf)) {
        return None;
    }
    let m = digits_value(lo, ni) * POW10_U64[nf] + digits_value(f, nf);
    if m > 1 << 24 {
        return None;
    }
    Some(f32::from_bits(
        scale(m, nf).to_bits() | u32::from(neg) << 31,
    ))
}

/// `m / 10^k` correctly rounded to `f32`, for `m ≤ 2^24` and `k ≤ 8`: the product of `m` and
/// the `f64` nearest `10^-k`, rounded to `f32`. The `f64` product is within 2^-52 of `m / 10^k`
/// (relative), while `m / 10^k` is never a rounding midpoint of `f32` (its odd part would be
/// at least 2^24·5^k) and never nearer to one than 1/(2^25·10^k) > 2^-51.6 (relative), so the
/// product rounds to the same `f32`; a multiplication, unlike an `f32` division, does not hold
/// up the numbers that follow. Test `scale_is_the_correctly_rounded_quotient` checks every
/// `m` and `k`.
#[inline(always)]
fn scale(m: u64, k: usize) -> f32 {
    (m as f64 * INV_POW10[k]) as f32
}

/// The `f64`s nearest `10^-k`.
const INV_POW10: [f64; 9] = [1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8];

/// The field `bytes[a..e]` by [`short_decimal`], reading 16 bytes from `a` (copied when fewer
/// are left).
#[inline(always)]
pub(crate) fn short_field(bytes: &[u8], a: usize, e: usize) -> Option<f32> {
    match bytes.get(a..a + 16) {
        Some(w) => short_decimal(w.try_into().expect("16 bytes"), e - a),
        None if e - a <= 16 => {
            let mut w = [0u8; 16];
            w[..e - a].copy_from_slice(&bytes[a..e]);
            short_decimal(&w, e - a)
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both mask functions against a byte-by-byte scan, on bytes near and far from ' ' and '\n'
    /// (and 0x7F-0xFF, where a careless zero-byte test carries).
    #[test]
    fn masks_match_a_byte_scan() {
        let mut x = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let alphabet = [
            b' ', b'\n', b'\t', b'\r', 0x21, 0x1F, 0x0B, 0x09, 0xA0, 0x8A, 0xFF, 0x7F, 0, b'0',
        ];
        for _ in 0..20_000 {
            let mut b = [0u8; 64];
            for v in b.iter_mut() {
                let r = x.next_u64();
                *v = if r.is_multiple_of(3) {
                    r as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                };
            }
            let scan = |c: u8| (0..64).filter(|&i| b[i] == c).fold(0u64, |m, i| m | 1 << i);
            let want = (scan(b' '), scan(b'\n'));
            assert_eq!(masks_portable(&b), want, "{b:?}");
            #[cfg(target_arch = "x86_64")]
            if crate::cpu::avx2_fma() {
                // SAFETY: AVX2 was detected.
                assert_eq!(unsafe { masks_avx2(&b) }, want, "{b:?}");
            }
        }
    }

    /// The separators walked from any position, in blocks of both kinds, against a scan.
    #[test]
    fn seps_walks_every_separator_from_any_position() {
        let mut x = crate::rng::Rng::new(0x2545_f491_4f6c_dd1d);
        for len in [0, 1, 5, 63, 64, 65, 127, 128, 129, 300] {
            let text: Vec<u8> = (0..len)
                .map(|_| [b' ', b'\n', b'a', b'1', b'.'][x.next_u64() as usize % 5])
                .collect();
            for from in 0..=len {
                let want: Vec<(usize, bool)> = (from..len)
                    .filter(|&i| text[i] == b' ' || text[i] == b'\n')
                    .map(|i| (i, text[i] == b'\n'))
                    .collect();
                for avx2 in [false, crate::cpu::avx2_fma()] {
                    let mut s = Seps::new(&text, avx2);
                    s.seek(from);
                    let got: Vec<(usize, bool)> = std::iter::from_fn(|| s.next()).collect();
                    assert_eq!(got, want, "len {len} from {from} avx2 {avx2}");
                }
            }
        }
    }

    /// Every field the short path takes has the standard library's value; the fields of
    /// pretrained files (`-?D.D{1,8}`) are all taken.
    #[test]
    fn short_decimal_is_the_standard_parse() {
        let mut x = crate::rng::Rng::new(0x1234_5678_9abc_def1);
        let mut taken = 0;
        for i in 0..300_000 {
            let r = x.next_u64();
            let mut s = String::new();
            if r & 1 == 1 {
                s.push('-');
            }
            let d = x.next_u64();
            let digit = |k: u64| char::from(b'0' + ((d >> (3 * k)) % 10) as u8);
            let ni = (r >> 1) % 9;
            let nf = (r >> 5) % 11;
            s.extend((0..ni).map(digit));
            if !(r >> 9).is_multiple_of(16) {
                s.push('.');
            }
            s.extend((0..nf).map(|k| digit(k + 9)));
            match i % 7 {
                0 => s.push('e'),
                1 => s.insert(0, '+'),
                _ => {}
            }
            let len = s.len();
            for tail in [" 1.5", "\n", "", "5", "e3", "\r"] {
                let mut w = [0u8; 16];
                let t = format!("{s}{tail}");
                let n = t.len().min(16);
                w[..n].copy_from_slice(&t.as_bytes()[..n]);
                if len > 16 {
                    continue;
                }
                if let Some(v) = short_decimal(&w, len) {
                    let want: f32 = s.parse().unwrap_or_else(|_| panic!("{s:?} taken"));
                    assert_eq!(v.to_bits(), want.to_bits(), "{s:?}");
                    taken += 1;
                } else if (1..=6).contains(&ni)
                    && (1..=8).contains(&nf)
                    && s.contains('.')
                    && !s.contains(['e', '+'])
                {
                    let m: u64 = s.replace(['-', '.'], "").parse().unwrap();
                    assert!(m > 1 << 24, "{s:?} not taken");
                }
            }
        }
        assert!(taken > 100_000, "{taken}");
        for (s, bits) in [
            ("-0.0", (-0.0f32).to_bits()),
            ("0.0", 0),
            ("16.777216", 16.777216f32.to_bits()),
        ] {
            let mut w = [b' '; 16];
            w[..s.len()].copy_from_slice(s.as_bytes());
            assert_eq!(
                short_decimal(&w, s.len()).map(f32::to_bits),
                Some(bits),
                "{s}"
            );
        }
    }

    /// `scale` against the correctly rounded `f32` division (Clinger: both operands exact) for
    /// every `m ≤ 2^24` and `k ≤ 8` (a sample of them in a debug build).
    #[test]
    fn scale_is_the_correctly_rounded_quotient() {
        let step = if cfg!(debug_assertions) { 101 } else { 1 };
        for (k, &p) in POW10.iter().enumerate().take(9) {
            for m in (0..=1u64 << 24).step_by(step) {
                let want = m as f32 / p;
                assert_eq!(scale(m, k).to_bits(), want.to_bits(), "{m} / 10^{k}");
            }
        }
    }
}
