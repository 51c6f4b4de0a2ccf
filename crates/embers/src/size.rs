//! Checked sizes: every element count or byte size computed from an argument, a configuration
//! field or a file header goes through here, so an overflow or an allocation the machine cannot
//! make is an [`Error`] naming the field, never a wrapped size or an abort.

use crate::error::{Error, Result};

/// The product of `factors`, or an error naming `what` when it does not fit in `usize`.
///
/// ```
/// assert_eq!(embers::size::product("matrix", &[3, 4, 5]).unwrap(), 60);
/// assert!(embers::size::product("matrix", &[usize::MAX, 2]).is_err());
/// ```
pub fn product(what: &str, factors: &[usize]) -> Result<usize> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .ok_or_else(|| {
            let shown: Vec<String> = factors.iter().map(|f| f.to_string()).collect();
            Error::invalid(what, format!("size {} overflows", shown.join(" × ")))
        })
}

/// The sum of `terms`, or an error naming `what` when it does not fit in `usize`.
pub fn sum(what: &str, terms: &[usize]) -> Result<usize> {
    terms
        .iter()
        .try_fold(0usize, |acc, &t| acc.checked_add(t))
        .ok_or_else(|| Error::invalid(what, "size overflows"))
}

/// `n` rounded up to a multiple of `m` (`m` ≥ 1), checked.
pub fn round_up(what: &str, n: usize, m: usize) -> Result<usize> {
    n.div_ceil(m.max(1))
        .checked_mul(m.max(1))
        .ok_or_else(|| Error::invalid(what, format!("size {n} overflows")))
}

/// A vector of `len` copies of `value`, or an error naming `what` when the allocation overflows
/// or cannot be made (instead of the allocator aborting the process).
pub fn filled<T: Clone>(what: &str, len: usize, value: T) -> Result<Vec<T>> {
    let mut v = with_capacity(what, len)?;
    v.resize(len, value);
    Ok(v)
}

/// An empty vector with room for `len` elements, or an error naming `what` when the allocation
/// overflows or cannot be made.
pub fn with_capacity<T>(what: &str, len: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        let bytes = (len as u128) * std::mem::size_of::<T>() as u128;
        Error::invalid(
            what,
            format!("cannot allocate {} ({bytes} bytes)", human(bytes)),
        )
    })?;
    Ok(v)
}

/// A ceiling on a value from a user: `value` must be in `lo..=hi`, else an error naming `what`
/// and the range.
pub fn check_range<T>(what: &str, value: T, lo: T, hi: T) -> Result<()>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if value < lo || value > hi {
        return Err(Error::invalid(
            what,
            format!("must be between {lo} and {hi}, got {value}"),
        ));
    }
    Ok(())
}

fn human(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_and_impossible_allocations_are_errors() {
        assert_eq!(product("x", &[]).unwrap(), 1);
        assert_eq!(product("x", &[7, 0, usize::MAX]).unwrap(), 0);
        let e = product("dim", &[2, 2305843009213693952, 16]).unwrap_err();
        assert!(e.to_string().contains("`dim`"), "{e}");
        assert!(sum("rows", &[usize::MAX, 1]).is_err());
        assert_eq!(round_up("dim", 13, 8).unwrap(), 16);
        assert!(round_up("dim", usize::MAX - 2, 8).is_err());
        // Past isize::MAX bytes: refused by the checked reservation, no abort.
        let e = filled::<f32>("model", usize::MAX / 2, 0.0).unwrap_err();
        assert!(e.to_string().contains("cannot allocate"), "{e}");
        assert_eq!(filled("ok", 3, 1.5f32).unwrap(), vec![1.5; 3]);
        assert!(check_range("threads", 0usize, 0, 1024).is_ok());
        let e = check_range("threads", 100_000usize, 0, 1024).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid argument `threads`: must be between 0 and 1024, got 100000"
        );
    }
}
