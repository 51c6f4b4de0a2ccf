//! Reading and writing embedding files: one module per format, format sniffing, atomic writes.

pub mod atomic;
pub mod fasttext;
pub mod glove;
pub mod hf;
mod input;
pub mod mapping;
pub mod native;
pub mod npy;
mod profile;
mod rowscan;
pub mod safetensors;
mod textvec;
pub mod word2vec;

pub use atomic::write_bytes;
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
    /// fastText `.bin` model (current or pre-0.9 layout), with subwords.
    FastTextBin,
    /// numpy `X.npy` matrix with its vocabulary `X.vocab.txt` (one word a line).
    Npy,
    /// One tensor of any safetensors checkpoint (read only; name it with `tensor`).
    Safetensors,
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
            "fasttext" | "fasttext-bin" | "ft" => Ok(Format::FastTextBin),
            "npy" | "numpy" => Ok(Format::Npy),
            "safetensors" | "hf" => Ok(Format::Safetensors),
            other => Err(Error::invalid(
                "format",
                format!("unknown format {other:?}; known: {}", Format::NAMES),
            )),
        }
    }

    /// The names accepted by [`Format::from_name`], for messages.
    pub const NAMES: &'static str =
        "native, word2vec (= vec), word2vec-binary, glove, fasttext, npy, safetensors";

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Word2VecText => "word2vec",
            Format::Word2VecBinary => "word2vec-binary",
            Format::Glove => "glove",
            Format::FastTextBin => "fasttext",
            Format::Npy => "npy",
            Format::Safetensors => "safetensors",
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
    /// For safetensors checkpoints: the tensor holding the embedding rows.
    pub tensor: Option<String>,
    /// For safetensors checkpoints: the vocabulary file (`tokenizer.json` or `vocab.txt`);
    /// by default the one in the checkpoint's folder.
    pub vocab: Option<std::path::PathBuf>,
}

/// Guesses the format of `path` from its first bytes (gzip files are looked into) and, where
/// the content alone cannot tell, its extension.
pub fn sniff(path: &Path) -> Result<Format> {
    if native::is_native(path) {
        return Ok(Format::Native);
    }
    if safetensors::SafetensorsFile::open(path).is_ok() {
        return Ok(Format::Safetensors);
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
    if npy::is_npy(head) {
        return Some(Format::Npy);
    }
    if fasttext::looks_like_bin(head) {
        return Some(Format::FastTextBin);
    }
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
            dims.checked_add(1) == Some(f.len())
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

/// The format to write `path` in, from its extension: `.embers`/`.safetensors` native,
/// `.vec`/`.txt`/`.w2v` word2vec text, `.glove` GloVe text, `.npy` numpy (+ `.vocab.txt`),
/// `.ftbin` fastText, and `.bin` fastText when the embeddings have subwords, word2vec binary
/// otherwise. Anything else is an error asking for an explicit format.
pub fn output_format(path: &Path, embeddings: &Embeddings) -> Result<Format> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "embers" | "safetensors" => Format::Native,
        "vec" | "txt" | "w2v" => Format::Word2VecText,
        "glove" => Format::Glove,
        "npy" => Format::Npy,
        "ftbin" => Format::FastTextBin,
        "bin" if embeddings.subwords().is_some() => Format::FastTextBin,
        "bin" => Format::Word2VecBinary,
        _ => {
            return Err(Error::invalid(
                "output",
                format!(
                    "cannot tell the output format from the name {}; name it with --to ({})",
                    path.display(),
                    Format::NAMES
                ),
            ))
        }
    })
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
    input::regular_file(path)?;
    let format = match options.format {
        Some(f) => f,
        None => sniff(path)?,
    };
    let (mut emb, report) = match format {
        Format::Native => (native::open(path)?, ReadReport::default()),
        Format::Word2VecText => word2vec::read_text(path, options)?,
        Format::Word2VecBinary => word2vec::read_binary(path, options)?,
        Format::Glove => glove::read(path, options)?,
        Format::FastTextBin => fasttext::read(path, options)?,
        Format::Npy => npy::read(path, options)?,
        Format::Safetensors => hf::read(path, options)?,
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
        Format::FastTextBin => fasttext::write(path, embeddings),
        Format::Npy => npy::write(path, embeddings),
        Format::Safetensors => Err(Error::invalid(
            "format",
            "embers writes safetensors as its native format: use --to native",
        )),
    }
}
