//! How files are brought into memory: mapped in place (the default) or copied into private
//! memory ([`MapMode::Copy`], what a long-running server wants).
//!
//! A memory map shares the file's pages. If another process rewrites the file *in place*
//! (`cp new.safetensors served.safetensors` truncates and rewrites the same inode), pages of the
//! map past the new end raise `SIGBUS` when touched, and pages inside it change under readers
//! that validated them when the file was opened. Neither can be guarded against from inside a
//! read: the first kills the process, the second breaks the invariants checked at open (offsets
//! in order, ids in range). The contract is therefore:
//!
//! - every writer of embers replaces files by rename (`io::atomic`), which never touches the
//!   inode a map holds: a mapped reader keeps the old contents, intact;
//! - a process that must survive in-place writes by others (the server, by default) opens files
//!   with [`MapMode::Copy`]: the bytes are read once into an anonymous private map and the file
//!   is never looked at again, so no later write to it can reach the process. A file rewritten
//!   *while* it is being copied gives a short read (an error naming the file) or bytes that the
//!   format checks refuse (or, if they happen to be a valid file, that file).
//!
//! The mode is process-wide because every reader that keeps a map (safetensors and native
//! files, HNSW indexes, npy matrices, transformer weights) goes through [`map_file`]; set it
//! once, before opening files. Text and binary formats that are parsed into owned matrices
//! (word2vec, GloVe, fastText `.bin`) are read through a map that lives only while they are
//! parsed, whatever the mode; a process holds none of those maps once loading ends.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};

use memmap2::{Mmap, MmapMut};

use crate::error::{Error, Result};

/// How [`map_file`] brings a file into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    /// Map the file's pages in place (shared with the page cache; nothing is read up front).
    /// The file must not be rewritten in place while it is open: replace it by rename.
    Map,
    /// Read the whole file into private anonymous memory at open. Costs the file's size in
    /// memory and one read; afterwards nothing done to the file affects the process.
    Copy,
}

static MODE: AtomicU8 = AtomicU8::new(0);

/// Sets how every later open brings files into memory (process-wide).
pub fn set_map_mode(mode: MapMode) {
    MODE.store(
        match mode {
            MapMode::Map => 0,
            MapMode::Copy => 1,
        },
        Ordering::Relaxed,
    );
}

/// The current [`MapMode`].
pub fn map_mode() -> MapMode {
    match MODE.load(Ordering::Relaxed) {
        0 => MapMode::Map,
        _ => MapMode::Copy,
    }
}

/// Brings `file` (opened from `path`) into memory as a read-only, page-aligned [`Mmap`]:
/// mapped in place or copied, as [`map_mode`] says.
pub(crate) fn map_file(path: &Path, file: &File) -> Result<Mmap> {
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if map_mode() == MapMode::Copy && len > 0 {
        let len = usize::try_from(len).map_err(|_| {
            Error::io(
                path,
                std::io::Error::other(format!("{len} bytes do not fit in memory")),
            )
        })?;
        let mut anon = MmapMut::map_anon(len).map_err(|e| Error::io(path, e))?;
        let mut reader = file;
        reader.read_exact(&mut anon).map_err(|e| {
            Error::io(
                path,
                std::io::Error::new(
                    e.kind(),
                    format!("{e} (reading {len} bytes: the file changed while it was read)"),
                ),
            )
        })?;
        return anon.make_read_only().map_err(|e| Error::io(path, e));
    }
    // SAFETY: the map is read-only. Its contents stay valid as long as no other process
    // rewrites the file in place, which is the contract of `MapMode::Map` stated above (every
    // embers writer replaces files by rename, which leaves the mapped inode untouched).
    unsafe { Mmap::map(file) }.map_err(|e| Error::io(path, e))
}
