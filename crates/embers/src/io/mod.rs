//! Reading and writing embedding files: one module per format, format sniffing, atomic writes.

pub mod atomic;
pub mod native;
pub mod safetensors;

use std::path::Path;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};

/// The file formats embers reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The native memory-mapped safetensors layout.
    Native,
}

impl Format {
    /// Parses a `--from`/`--to` name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "native" | "embers" => Ok(Format::Native),
            other => Err(Error::invalid(
                "format",
                format!("unknown format {other:?}"),
            )),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
        }
    }
}

/// Options for reading a file.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The format; sniffed from the file when `None`.
    pub format: Option<Format>,
    /// Keep only the first N rows (without reading the rest when the format allows).
    pub limit: Option<usize>,
    /// Replace invalid UTF-8 in tokens instead of rejecting the file.
    pub lossy: bool,
    /// Accept NaN and infinite values instead of rejecting the file.
    pub allow_nonfinite: bool,
}

/// Guesses the format of `path` from its first bytes and its name.
pub fn sniff(path: &Path) -> Result<Format> {
    if native::is_native(path) {
        return Ok(Format::Native);
    }
    std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    Err(Error::at_byte(
        path,
        0,
        "cannot tell the format of this file; name it with --from",
    ))
}

/// Reads an embedding file in any supported format.
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Embeddings> {
    let path = path.as_ref();
    let format = match options.format {
        Some(f) => f,
        None => sniff(path)?,
    };
    let mut emb = match format {
        Format::Native => native::open(path)?,
    };
    if let Some(limit) = options.limit {
        emb.truncate(limit);
    }
    Ok(emb)
}

/// Writes `embeddings` in `format`, atomically.
pub fn write(path: impl AsRef<Path>, embeddings: &Embeddings, format: Format) -> Result<()> {
    match format {
        Format::Native => native::write(path, embeddings),
    }
}
