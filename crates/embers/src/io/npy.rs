//! numpy `.npy` matrices with a vocabulary file beside them: `X.npy` holds the `rows × dims`
//! matrix (float32, float64 or float16, C order, either byte order; written as little-endian
//! float32) and `X.vocab.txt` the words, one a line, in row order. A little-endian float32 file
//! is memory-mapped, not copied.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::embeddings::Embeddings;
use crate::error::{Error, Position, Result};
use crate::io::atomic::AtomicFile;
use crate::io::input::{self, decode_word, ReadReport};
use crate::io::ReadOptions;
use crate::storage::DenseMatrix;
use crate::vocab::{Vocab, WordList};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The vocabulary file that goes with `npy`: `X.npy` → `X.vocab.txt`.
pub fn vocab_path(npy: &Path) -> PathBuf {
    let stem = npy
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".npy").unwrap_or(&stem);
    npy.with_file_name(format!("{stem}.vocab.txt"))
}

/// Element type and byte order of an `.npy` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    F16,
    F32,
    F64,
}

/// The parsed header: element type, little-endian or not, shape, data offset.
struct Header {
    elem: Elem,
    little: bool,
    rows: usize,
    dims: usize,
    offset: usize,
}

/// True when `head` starts with the `.npy` magic.
pub fn is_npy(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header> {
    if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
        return Err(Error::at_byte(
            path,
            0,
            "not a .npy file (no \\x93NUMPY magic)",
        ));
    }
    let major = bytes[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
        _ => {
            return Err(Error::at_byte(
                path,
                6,
                format!("unsupported .npy version {major}"),
            ))
        }
    };
    let end = start + len;
    if end > bytes.len() {
        return Err(Error::at_byte(
            path,
            8,
            "the header runs past the end of the file",
        ));
    }
    let text = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| Error::at_byte(path, start as u64, "the header is not text"))?;
    let field = |key: &str| -> Result<&str> {
        let k = format!("'{key}'");
        let at = text
            .find(&k)
            .ok_or_else(|| Error::at_field(path, key, "missing from the .npy header"))?;
        let rest = text[at + k.len()..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .ok_or_else(|| Error::at_field(path, key, "malformed .npy header"))
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| Error::at_field(path, "descr", "malformed"))?;
    // The byte-order character is ASCII; anything else (even a multi-byte first character)
    // falls through to the error below.
    let (order, kind) = descr.split_at_checked(1).unwrap_or(("", descr));
    let little = match order {
        "<" | "|" | "=" => true,
        ">" => false,
        _ => {
            return Err(Error::at_field(
                path,
                "descr",
                format!("unsupported dtype {descr:?}"),
            ))
        }
    };
    let elem = match kind {
        "f2" => Elem::F16,
        "f4" => Elem::F32,
        "f8" => Elem::F64,
        _ => {
            return Err(Error::at_field(
                path,
                "descr",
                format!("dtype {descr:?} is not float16, float32 or float64"),
            ))
        }
    };
    if field("fortran_order")?.starts_with("True") {
        return Err(Error::at_field(
            path,
            "fortran_order",
            "the array is in Fortran (column-major) order; save it with np.ascontiguousarray",
        ));
    }
    let shape = field("shape")?;
    let shape = shape
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| Error::at_field(path, "shape", "malformed"))?;
    let dimsv: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::at_field(path, "shape", format!("bad shape ({shape})")))?;
    if dimsv.len() != 2 || dimsv[1] == 0 {
        return Err(Error::at_field(
            path,
            "shape",
            format!("expected a 2-D array rows × dims, got shape ({shape})"),
        ));
    }
    Ok(Header {
        elem,
        little,
        rows: dimsv[0],
        dims: dimsv[1],
        offset: end,
    })
}

/// Reads `X.npy` and its vocabulary `X.vocab.txt` (see [`vocab_path`]).
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<(Embeddings, ReadReport)> {
    let path = path.as_ref();
    let vpath = vocab_path(path);
    let vbytes = std::fs::read(&vpath).map_err(|e| {
        Error::io(
            &vpath,
            std::io::Error::new(
                e.kind(),
                format!("{e} (the vocabulary of {})", path.display()),
            ),
        )
    })?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let map = Arc::new(crate::io::mapping::map_file(path, &file)?);
    let h = parse_header(path, &map)?;
    let size = match h.elem {
        Elem::F16 => 2,
        Elem::F32 => 4,
        Elem::F64 => 8,
    };
    let total = h
        .rows
        .checked_mul(h.dims)
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| Error::at_field(path, "shape", "too large"))?;
    if map.len() - h.offset < total {
        return Err(Error::at_byte(
            path,
            map.len() as u64,
            format!(
                "the header promises {} × {} values ({total} bytes) but the file has {} (truncated file?)",
                h.rows,
                h.dims,
                map.len() - h.offset
            ),
        ));
    }
    if map.len() - h.offset > total {
        return Err(Error::at_byte(
            path,
            (h.offset + total) as u64,
            "unexpected data after the array",
        ));
    }
    // Vocabulary: one word a line.
    let mut text = &vbytes[..];
    if text.last() == Some(&b'\n') {
        text = &text[..text.len() - 1];
    }
    let mut words = WordList::with_capacity(h.rows.min(vbytes.len()), vbytes.len());
    if !text.is_empty() {
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() {
                return Err(Error::at_line(&vpath, i as u64 + 1, "empty word"));
            }
            words.push(&decode_word(line, options.lossy, &vpath, || {
                Position::Line(i as u64 + 1)
            })?);
        }
    }
    if words.len() != h.rows {
        return Err(Error::at_line(
            &vpath,
            words.len() as u64 + 1,
            format!(
                "{} words for {} matrix rows in {}",
                words.len(),
                h.rows,
                path.display()
            ),
        ));
    }
    let rows = options.limit.map_or(h.rows, |l| l.min(h.rows));
    words.truncate(rows);
    let n = rows * h.dims;
    let raw = &map[h.offset..h.offset + n * size];
    let check = |data: &[f32]| -> Result<()> {
        if !options.allow_nonfinite {
            if let Some(k) = data.iter().position(|v| !v.is_finite()) {
                return Err(Error::at_byte(
                    path,
                    (h.offset + k * size) as u64,
                    format!(
                        "row {} column {} is {}; use --allow-nonfinite to accept it",
                        k / h.dims,
                        k % h.dims,
                        data[k]
                    ),
                ));
            }
        }
        Ok(())
    };
    let mut report = ReadReport::default();
    if h.elem == Elem::F32 && h.little {
        if let Ok(m) = DenseMatrix::mapped(map.clone(), h.offset, rows, h.dims) {
            check(m.as_slice())?;
            if crate::vocab::repeats(&words).is_empty() {
                let vocab = Vocab::from_trusted_parts(words, Vec::new());
                return Ok((Embeddings::new(vocab, m)?, report));
            }
        }
    }
    let data: Vec<f32> = match (h.elem, h.little) {
        (Elem::F32, l) => raw
            .chunks_exact(4)
            .map(|b| {
                let b = [b[0], b[1], b[2], b[3]];
                if l {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                }
            })
            .collect(),
        (Elem::F64, l) => raw
            .chunks_exact(8)
            .map(|b| {
                let b: [u8; 8] = b.try_into().unwrap();
                (if l {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                }) as f32
            })
            .collect(),
        (Elem::F16, l) => raw
            .chunks_exact(2)
            .map(|b| {
                let b = [b[0], b[1]];
                let h = if l {
                    half::f16::from_le_bytes(b)
                } else {
                    half::f16::from_be_bytes(b)
                };
                h.to_f32()
            })
            .collect(),
    };
    check(&data)?;
    let (vocab, matrix) = input::dedup_rows(words, None, data, h.dims, &mut report, |r| {
        Position::Line(r as u64 + 1)
    })?;
    Ok((Embeddings::new(vocab, matrix)?, report))
}

/// Writes `X.npy` (little-endian float32, C order, format version 1.0) and `X.vocab.txt`.
/// Words containing a line break are refused.
pub fn write(path: impl AsRef<Path>, embeddings: &Embeddings) -> Result<()> {
    let path = path.as_ref();
    let words = embeddings.vocab().words();
    for (i, w) in words.iter().enumerate() {
        if w.is_empty() || w.contains(['\n', '\r']) {
            return Err(Error::invalid(
                "vocabulary",
                format!("word {i} ({w:?}) is empty or contains a line break, which a one-word-a-line vocabulary file cannot hold"),
            ));
        }
    }
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        embeddings.len(),
        embeddings.dims()
    );
    // Pad so that the data starts at a multiple of 64 bytes, ending in a newline.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut f = AtomicFile::create(path)?;
    let mut head = MAGIC.to_vec();
    head.extend_from_slice(&[1, 0]);
    head.extend_from_slice(&(header.len() as u16).to_le_bytes());
    head.extend_from_slice(header.as_bytes());
    f.write_all(&head)?;
    let mut row = vec![0f32; embeddings.dims()];
    for i in 0..embeddings.len() {
        embeddings.storage().row_into(i, &mut row);
        f.write_all(crate::io::safetensors::bytes_of(&row))?;
    }
    let mut v = AtomicFile::create(vocab_path(path))?;
    let mut text = String::with_capacity(words.iter().map(|w| w.len() + 1).sum());
    for w in words {
        text.push_str(w);
        text.push('\n');
    }
    v.write_all(text.as_bytes())?;
    v.commit()?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocab_path_replaces_the_extension() {
        assert_eq!(vocab_path(Path::new("a/X.npy")), Path::new("a/X.vocab.txt"));
        assert_eq!(vocab_path(Path::new("X")), Path::new("X.vocab.txt"));
    }

    #[test]
    fn hand_made_big_endian_f64_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npy");
        let header = "{'descr': '>f8', 'fortran_order': False, 'shape': (2, 2), }\n";
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        for v in [1.5f64, -2.0, 0.25, 8.0] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        std::fs::write(&p, &b).unwrap();
        std::fs::write(vocab_path(&p), "a b\nc\n").unwrap();
        let (e, _) = read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.get("a b"), Some(vec![1.5, -2.0]));
        assert_eq!(e.get("c"), Some(vec![0.25, 8.0]));
        std::fs::write(&p, &b[..b.len() - 1]).unwrap();
        let err = read(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");
        std::fs::write(&p, &b).unwrap();
        std::fs::write(vocab_path(&p), "a\n").unwrap();
        let err = read(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("1 words for 2 matrix rows"), "{err}");
    }

    /// Found by `cargo fuzz` (target `npy`): a dtype whose first character is multi-byte
    /// ('Ǚ', bytes C7 99) made the byte-order split cut inside it and panic.
    #[test]
    fn multibyte_dtype_is_an_error() {
        let header = "{'descr': '\u{1d9}4', 'fortran_order': False, 'shape': (5, 5), }\n";
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&[0; 100]);
        let e = parse_header(Path::new("x.npy"), &b)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("unsupported dtype"), "{e}");
    }
}
