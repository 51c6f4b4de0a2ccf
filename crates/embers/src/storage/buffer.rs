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
