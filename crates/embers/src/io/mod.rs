//! Reading and writing embedding files: one module per format, format sniffing, atomic writes.

pub mod atomic;
pub mod glove;
mod input;
pub mod native;
pub mod safetensors;
mod textvec;
pub mod word2vec;

pub use input::{Duplicate, ReadReport};

use std::path::Path;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};

/// The file formats embers reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The native memory-mapped safetensors layout.
    Native,
    /// word2vec text: `ROWS DIMS` header, then `word v1 .. vd` lines (also fastText's `.vec`).
    Word2VecText,
    /// word2vec binary: the same header, then `word ` and DIMS little-endian `f32` per row.
    Word2VecBinary,
    /// GloVe text: `word v1 .. vd` lines without a header.
    Glove,
}

impl Format {
    /// Parses a `--from`/`--to` name.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "native" | "embers" => Ok(Format::Native),
            "word2vec" | "word2vec-text" | "w2v" | "text" | "vec" | "fasttext-vec" => {
                Ok(Format::Word2VecText)
            }
            "word2vec-binary" | "word2vec-bin" | "w2v-bin" | "binary" => Ok(Format::Word2VecBinary),
            "glove" | "glove-text" => Ok(Format::Glove),
            other => Err(Error::invalid(
                "format",
                format!("unknown format {other:?}; known: {}", Format::NAMES),
            )),
        }
    }

    /// The names accepted by [`Format::from_name`], for messages.
    pub const NAMES: &'static str = "native, word2vec (= vec), word2vec-binary, glove";

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Word2VecText => "word2vec",
            Format::Word2VecBinary => "word2vec-binary",
            Format::Glove => "glove",
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

/// Guesses the format of `path` from its first bytes (gzip files are looked into) and, where
/// the content alone cannot tell, its extension.
pub fn sniff(path: &Path) -> Result<Format> {
    if native::is_native(path) {
        return Ok(Format::Native);
    }
    let head = input::head(path, 1 << 16)?;
    if let Some(f) = sniff_bytes(&head) {
        return Ok(f);
    }
    Err(Error::at_byte(
        path,
        0,
        format!(
            "cannot tell the format of this file; name it with --from ({})",
            Format::NAMES
        ),
    ))
}

/// Guesses a format from the first bytes of a (decompressed) file.
fn sniff_bytes(head: &[u8]) -> Option<Format> {
    let (first, rest) = textvec::first_line(head);
    let first_text = std::str::from_utf8(first).ok()?;
    let fields: Vec<&str> = first_text.split_ascii_whitespace().collect();
    let is_header = fields.len() == 2 && fields.iter().all(|f| f.parse::<u64>().is_ok());
    if is_header {
        let dims: usize = fields[1].parse().ok()?;
        // Text when the next line is a word and DIMS numbers; binary otherwise.
        let (second, _) = textvec::first_line(rest);
        let text_row = std::str::from_utf8(second).is_ok_and(|s| {
            let f: Vec<&str> = s.split_ascii_whitespace().collect();
            f.len() == dims + 1
                && f[1..]
                    .iter()
                    .all(|v| fast_float2::parse::<f32, _>(v).is_ok())
        });
        return Some(if text_row || rest.is_empty() {
            Format::Word2VecText
        } else {
            Format::Word2VecBinary
        });
    }
    if fields.len() >= 2
        && fields[1..]
            .iter()
            .all(|v| fast_float2::parse::<f32, _>(v).is_ok())
    {
        return Some(Format::Glove);
    }
    None
}

/// Reads an embedding file in any supported format.
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Embeddings> {
    read_with_report(path, options).map(|(e, _)| e)
}

/// Like [`read`], and also returns what the reader noticed without failing (duplicate words,
/// of which the first occurrence was kept).
pub fn read_with_report(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<(Embeddings, ReadReport)> {
    let path = path.as_ref();
    let format = match options.format {
        Some(f) => f,
        None => sniff(path)?,
    };
    let (mut emb, report) = match format {
        Format::Native => (native::open(path)?, ReadReport::default()),
        Format::Word2VecText => word2vec::read_text(path, options)?,
        Format::Word2VecBinary => word2vec::read_binary(path, options)?,
        Format::Glove => glove::read(path, options)?,
    };
    if let Some(limit) = options.limit {
        emb.truncate(limit);
    }
    Ok((emb, report))
}

/// Writes `embeddings` in `format`, atomically.
pub fn write(path: impl AsRef<Path>, embeddings: &Embeddings, format: Format) -> Result<()> {
    match format {
        Format::Native => native::write(path, embeddings),
        Format::Word2VecText => word2vec::write_text(path, embeddings),
        Format::Word2VecBinary => word2vec::write_binary(path, embeddings),
        Format::Glove => glove::write(path, embeddings),
    }
}
