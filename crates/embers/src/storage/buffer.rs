//! Typed element buffers for compressed storage: owned vectors, or zero-copy views into a memory
//! map (like [`super::DenseMatrix`]'s), so quantized files open without decoding.

use std::sync::Arc;

use memmap2::Mmap;

use crate::error::{Error, Result};
use crate::io::safetensors::bytemuck_free::Pod;

/// A slice of plain numbers that either owns its memory or borrows it from a memory map.
#[derive(Debug, Clone)]
pub enum Buffer<T: Pod> {
    /// Values in memory.
    Owned(Vec<T>),
    /// `len` values starting at byte `offset` of `mmap` (aligned for `T`).
    Mapped {
        mmap: Arc<Mmap>,
        offset: usize,
        len: usize,
    },
}

impl<T: Pod> Buffer<T> {
    /// A view of `len` values of `T` at byte `offset` of `mmap`, without copying. Fails when the
    /// range is not aligned for `T`, overflows, or runs past the end of the map.
    pub fn mapped(mmap: Arc<Mmap>, offset: usize, len: usize) -> Result<Self> {
        let size = std::mem::size_of::<T>();
        let bytes = len
            .checked_mul(size)
            .ok_or_else(|| Error::invalid("shape", "tensor size overflows"))?;
        if !(mmap.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<T>()) {
            return Err(Error::invalid(
                "offset",
                format!("tensor is not {size}-byte aligned in the file"),
            ));
        }
        if offset.checked_add(bytes).is_none_or(|end| end > mmap.len()) {
            return Err(Error::invalid(
                "offset",
                "tensor extends past the end of the file",
            ));
        }
        if !cfg!(target_endian = "little") {
            return Err(Error::invalid(
                "endianness",
                "memory-mapped tensors need a little-endian machine",
            ));
        }
        Ok(Buffer::Mapped { mmap, offset, len })
    }

    /// The values.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Mapped { mmap, offset, len } => {
                let bytes = &mmap[*offset..*offset + len * std::mem::size_of::<T>()];
                // SAFETY: bounds and alignment were checked in `mapped`; `T: Pod` accepts any bits.
                unsafe { std::slice::from_raw_parts(bytes.as_ptr() as *const T, *len) }
            }
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Buffer::Owned(v) => v.len(),
            Buffer::Mapped { len, .. } => *len,
        }
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the values are a view into a memory map.
    pub fn is_mapped(&self) -> bool {
        matches!(self, Buffer::Mapped { .. })
    }

    /// Keeps the first `n` values.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Buffer::Owned(v) => v.truncate(n),
            Buffer::Mapped { len, .. } => *len = (*len).min(n),
        }
    }
}

impl<T: Pod> From<Vec<T>> for Buffer<T> {
    fn from(v: Vec<T>) -> Self {
        Buffer::Owned(v)
    }
}

/// Zeroed values in anonymous memory for which the kernel is asked for transparent huge pages
/// (`madvise(MADV_HUGEPAGE)` on Linux before the first touch; elsewhere, or when the kernel
/// declines, ordinary pages). For tables read at random, such as the rows and links an HNSW walk
/// visits: with 4 KiB pages nearly every such read also misses the TLB and waits for a page
/// walk, with 2 MiB pages a 50 MB table is 25 entries. The length of the map is rounded up to
/// whole 2 MiB so that the kernel can place and back it with huge pages.
pub struct HugeBuffer<T: Pod> {
    map: memmap2::MmapMut,
    len: usize,
    _values: std::marker::PhantomData<T>,
}

impl<T: Pod> std::fmt::Debug for HugeBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HugeBuffer")
            .field("len", &self.len)
            .finish()
    }
}

/// The size of a transparent huge page on x86-64 and aarch64 with 4 KiB base pages.
const HUGE_PAGE: usize = 2 << 20;

/// An empty vector with room for `len` values (an error naming `what` when that cannot be
/// allocated), whose memory the kernel is asked to back with transparent huge pages, as
/// [`HugeBuffer`] does for its map. For a matrix that is about to be filled and then read and
/// written at random rows, as the word2vec and fastText trainers' are: each aligned 2 MiB of it
/// becomes one page when first written, so random row accesses stop missing the TLB. The hint
/// is given here, before any value is written, because pages touched before it stay ordinary
/// ones; elsewhere than Linux, or when the kernel declines, the pages are ordinary.
pub fn with_huge_capacity<T>(what: &str, len: usize) -> Result<Vec<T>> {
    let mut v = crate::size::with_capacity(what, len)?;
    advise_huge_pages(&mut v);
    Ok(v)
}

/// The hint of [`with_huge_capacity`] for the whole 2 MiB pages of `v`'s allocation (its
/// capacity, written or not); the values do not move.
fn advise_huge_pages<T>(v: &mut Vec<T>) {
    #[cfg(target_os = "linux")]
    {
        let start = v.as_mut_ptr() as usize;
        let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
        let Some(first) = start.checked_next_multiple_of(HUGE_PAGE) else {
            return;
        };
        let last = start.saturating_add(bytes) / HUGE_PAGE * HUGE_PAGE;
        if last > first {
            // SAFETY: `[first, last)` lies inside `v`'s own allocation (its capacity) and is
            // page aligned, as madvise requires. MADV_HUGEPAGE changes neither the values nor
            // the access rights of the range, only how the kernel may back it with pages, so no
            // Rust reference to these bytes sees any change; the call's result is ignored, since
            // a kernel without transparent huge pages refusing it leaves ordinary pages.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

impl<T: Pod> HugeBuffer<T> {
    /// `len` zero values (every `Pod` type reads all-zero bits as a valid value).
    pub fn zeroed(len: usize) -> Result<Self> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .and_then(|b| b.checked_next_multiple_of(HUGE_PAGE))
            .ok_or_else(|| Error::invalid("len", format!("{len} values overflow a buffer")))?;
        let map = memmap2::MmapOptions::new()
            .len(bytes.max(HUGE_PAGE))
            .map_anon()
            .map_err(|e| Error::invalid("len", format!("{bytes} bytes of memory: {e}")))?;
        #[cfg(target_os = "linux")]
        {
            // A hint: a kernel without transparent huge pages refuses it and ordinary pages serve.
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        Ok(HugeBuffer {
            map,
            len,
            _values: std::marker::PhantomData,
        })
    }

    /// The values.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the map is page aligned (so aligned for any `T`), holds at least
        // `len · size_of::<T>()` bytes (checked in `zeroed`), is initialised (zero-filled by the
        // kernel, then written only through `as_mut_slice`), and `T: Pod` accepts any bits. The
        // returned borrow of `self` keeps the map alive and unmodified.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr() as *const T, self.len) }
    }

    /// The values, to write.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`; the map is owned by `self`, so the exclusive borrow of
        // `self` makes this the only reference to its bytes while it lives.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr() as *mut T, self.len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_page_advice_keeps_values_and_takes_any_vector() {
        // Empty, smaller than a huge page, unaligned and several huge pages long.
        for n in [0usize, 3, 100_000, 3 * HUGE_PAGE / 4 + 5] {
            let mut v: Vec<f32> = Vec::with_capacity(n);
            advise_huge_pages(&mut v);
            v.extend((0..n).map(|i| i as f32));
            let mut again = v.clone();
            advise_huge_pages(&mut again);
            assert!(again.iter().enumerate().all(|(i, &x)| x == i as f32));
            assert_eq!(again.len(), n);
        }
        let mut none: Vec<u8> = Vec::new();
        advise_huge_pages(&mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn huge_buffers_start_zeroed_keep_what_is_written_and_refuse_overflowing_sizes() {
        let mut b = HugeBuffer::<u32>::zeroed(1_000_003).unwrap();
        assert_eq!(b.as_slice().len(), 1_000_003);
        assert!(b.as_slice().iter().all(|&v| v == 0));
        for (i, v) in b.as_mut_slice().iter_mut().enumerate() {
            *v = i as u32 ^ 0x5a5a;
        }
        assert!(b
            .as_slice()
            .iter()
            .enumerate()
            .all(|(i, &v)| v == i as u32 ^ 0x5a5a));
        assert_eq!(b.as_slice().as_ptr() as usize % 4096, 0, "page aligned");
        let h = HugeBuffer::<half::f16>::zeroed(0).unwrap();
        assert!(h.as_slice().is_empty());
        let err = HugeBuffer::<f32>::zeroed(usize::MAX / 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("overflow"), "{err}");
    }
}
