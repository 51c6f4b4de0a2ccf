//! word2vec's two formats: text (`ROWS DIMS` header, then `word v1 .. vd` per line; fastText's
//! `.vec` is the same) and binary (the same header, then per row the word, a space and DIMS
//! little-endian `f32`s, with or without a newline between rows).

use std::path::Path;

use crate::embeddings::Embeddings;
use crate::error::{Error, Position, Result};
use crate::io::atomic::AtomicFile;
use crate::io::input::{self, check_plain_word, decode_word, ReadReport};
use crate::io::profile;
use crate::io::textvec;
use crate::io::ReadOptions;
use crate::vocab::WordList;

/// Reads a word2vec (or fastText `.vec`) text file.
pub fn read_text(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<(Embeddings, ReadReport)> {
    let path = path.as_ref();
    if input::is_gzip(path) {
        // Inflated while it is parsed, a piece at a time (see `textvec::parse_rows_stream`).
        let header = match input::first_line_of(path, 1 << 16)? {
            Some(h) => h,
            None if input::head(path, 1)?.is_empty() => {
                return Err(Error::at_line(path, 1, "the file is empty"))
            }
            None => {
                return Err(Error::at_line(
                    path,
                    1,
                    "no header line `ROWS DIMS` ending in a newline in the first 64 KiB",
                ))
            }
        };
        let (rows, dims) = textvec::parse_header(path, &header)?;
        let stream = input::gzip_stream(path)?;
        return textvec::parse_rows_stream(path, stream, true, 2, dims, Some(rows), options);
    }
    let bytes = input::open(path)?;
    if bytes.is_empty() {
        return Err(Error::at_line(path, 1, "the file is empty"));
    }
    let (header, body) = textvec::first_line(&bytes);
    let (rows, dims) = textvec::parse_header(path, header)?;
    textvec::parse_rows(path, &bytes, body, 2, dims, Some(rows), options)
}

/// Writes a word2vec text file. Words with whitespace are refused.
pub fn write_text(path: impl AsRef<Path>, embeddings: &Embeddings) -> Result<()> {
    let header = format!("{} {}\n", embeddings.len(), embeddings.dims());
    textvec::write_rows(path.as_ref(), embeddings, Some(header), "word2vec text")
}

/// Bytes of a mapped binary file read before their pages are given back.
const RELEASE_EVERY: usize = 1 << 20;

/// Reads a word2vec binary file (by memory map; `.gz` files are decompressed first).
pub fn read_binary(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<(Embeddings, ReadReport)> {
    let path = path.as_ref();
    let mut phases = profile::Phases::start("binary read");
    let bytes = input::open(path)?;
    let (header, _) = textvec::first_line(&bytes);
    if header.len() == bytes.len() {
        return Err(Error::at_byte(
            path,
            0,
            "no header line `ROWS DIMS` ending in a newline",
        ));
    }
    let (rows, dims) = textvec::parse_header(path, header)?;
    let rows_wanted = options.limit.map_or(rows, |l| l.min(rows));
    let row_bytes = dims
        .checked_mul(4)
        .filter(|&b| b < bytes.len())
        .ok_or_else(|| Error::at_line(path, 1, format!("{dims} dims cannot fit in this file")))?;
    let mut pos = header.len() + 1;
    let cap = rows_wanted.min(bytes.len() / (row_bytes + 2) + 1);
    let mut words = WordList::with_capacity(cap, 0);
    let mut report = ReadReport::default();
    let mut data = Vec::with_capacity(cap * dims);
    let mut sweep = input::Sweep::new(0, RELEASE_EVERY);
    for r in 0..rows_wanted {
        let start = record_start(&bytes, pos);
        if start >= bytes.len() {
            return Err(Error::at_byte(
                path,
                start as u64,
                format!(
                    "the header promises {rows} rows but the file ends after {r} (truncated file?)"
                ),
            ));
        }
        let space = match memchr::memchr(b' ', &bytes[start..]) {
            Some(i) => start + i,
            None => {
                return Err(Error::at_byte(
                    path,
                    start as u64,
                    format!("row {}: no space after the word (truncated file?)", r + 1),
                ))
            }
        };
        if space == start {
            return Err(Error::at_byte(
                path,
                start as u64,
                format!("row {}: empty word", r + 1),
            ));
        }
        let word = decode_word(&bytes[start..space], options.lossy, path, || {
            Position::Byte(start as u64)
        })?;
        let vstart = space + 1;
        let vend = vstart + row_bytes;
        if vend > bytes.len() {
            return Err(Error::at_byte(
                path,
                vstart as u64,
                format!(
                    "row {} ({word:?}): needs {row_bytes} bytes of values, the file has {} left (truncated file?)",
                    r + 1,
                    bytes.len() - vstart
                ),
            ));
        }
        for (k, c) in bytes[vstart..vend].chunks_exact(4).enumerate() {
            let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            if !v.is_finite() && !options.allow_nonfinite {
                return Err(Error::at_byte(
                    path,
                    (vstart + 4 * k) as u64,
                    format!(
                        "row {} ({word:?}) value {} is {v}; use --allow-nonfinite to accept it",
                        r + 1,
                        k + 1
                    ),
                ));
            }
            data.push(v);
        }
        words.push(&word);
        sweep.reached(&bytes, &bytes, vend);
        pos = vend;
    }
    if options.limit.is_none_or(|l| l >= rows) {
        let rest = &bytes[pos.min(bytes.len())..];
        if rest.iter().any(|b| !b.is_ascii_whitespace()) {
            return Err(Error::at_byte(
                path,
                pos as u64,
                format!("the header promises {rows} rows but more data follows them"),
            ));
        }
    }
    sweep.finish(&bytes, &bytes);
    phases.end("rows");
    // Repeated words are dropped (the first is kept) once all rows are read; the byte position
    // of each repeat is found again by walking the records up to it, in one pass for all.
    let (mut row, mut at) = (0, header.len() + 1);
    let mut sweep = input::Sweep::new(at, RELEASE_EVERY);
    let position = |wanted: usize| loop {
        let start = record_start(&bytes, at);
        if row == wanted {
            return Position::Byte(start as u64);
        }
        let space = memchr::memchr(b' ', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        at = space + 1 + row_bytes;
        row += 1;
        sweep.reached(&bytes, &bytes, at);
    };
    let (vocab, matrix) = input::dedup_rows(words, None, data, dims, &mut report, position)?;
    let embeddings = Embeddings::new(vocab, matrix)?;
    phases.end("repeats");
    Ok((embeddings, report))
}

/// Where the record at or after `pos` starts: past the newline (and stray CR) that may end
/// the previous record.
fn record_start(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && matches!(bytes[pos], b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// Writes a word2vec binary file (`word`, space, little-endian `f32`s, newline), as word2vec's
/// C tool does. Words with whitespace are refused: the reader could not find where they end.
pub fn write_binary(path: impl AsRef<Path>, embeddings: &Embeddings) -> Result<()> {
    let words = embeddings.vocab().words();
    for (i, w) in words.iter().enumerate() {
        check_plain_word(w, i, "word2vec binary")?;
    }
    let mut file = AtomicFile::create(path)?;
    file.write_all(format!("{} {}\n", embeddings.len(), embeddings.dims()).as_bytes())?;
    let mut row = vec![0f32; embeddings.dims()];
    let mut buf = Vec::with_capacity(row.len() * 4 + 64);
    for (i, w) in words.iter().enumerate() {
        embeddings.storage().row_into(i, &mut row);
        buf.clear();
        buf.extend_from_slice(w.as_bytes());
        buf.push(b' ');
        for v in &row {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        buf.push(b'\n');
        file.write_all(&buf)?;
    }
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    fn sample() -> Embeddings {
        let long = "ü".repeat(80); // 160 bytes of two-byte characters
        let words = vec!["the".into(), long, "日本語".into(), "x".into()];
        let m = DenseMatrix::new(
            4,
            3,
            vec![
                1.0, -2.5, 3.25e-8, 0.1, 0.2, 0.3, -1e30, 7.0, 0.0, 1.0, 2.0, 3.0,
            ],
        )
        .unwrap();
        Embeddings::new(Vocab::from_words(words).unwrap(), m).unwrap()
    }

    fn same(a: &Embeddings, b: &Embeddings) {
        assert_eq!(a.vocab().words(), b.vocab().words());
        assert_eq!(
            a.storage().to_dense().unwrap(),
            b.storage().to_dense().unwrap()
        );
    }

    #[test]
    fn text_and_binary_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let e = sample();
        let t = dir.path().join("a.txt");
        write_text(&t, &e).unwrap();
        let (back, rep) = read_text(&t, &ReadOptions::default()).unwrap();
        same(&e, &back);
        assert!(rep.duplicates.is_empty());
        let b = dir.path().join("a.bin");
        write_binary(&b, &e).unwrap();
        same(&e, &read_binary(&b, &ReadOptions::default()).unwrap().0);
        let lim = ReadOptions {
            limit: Some(2),
            ..Default::default()
        };
        assert_eq!(read_binary(&b, &lim).unwrap().0.len(), 2);
        assert_eq!(read_text(&t, &lim).unwrap().0.len(), 2);
    }

    #[test]
    fn binary_without_newlines_and_hand_made_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.bin");
        let mut bytes = b"2 2\n".to_vec();
        bytes.extend_from_slice(b"a ");
        bytes.extend_from_slice(&1.5f32.to_le_bytes());
        bytes.extend_from_slice(&(-2.0f32).to_le_bytes());
        bytes.extend_from_slice(b"bb ");
        bytes.extend_from_slice(&0.25f32.to_le_bytes());
        bytes.extend_from_slice(&4.0f32.to_le_bytes());
        std::fs::write(&p, &bytes).unwrap();
        let (e, _) = read_binary(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.get("a"), Some(vec![1.5, -2.0]));
        assert_eq!(e.get("bb"), Some(vec![0.25, 4.0]));
        // Truncated in the last vector: an error at the byte where its values start.
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        let err = read_binary(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("byte 17") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn bad_text_gives_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        let case = |text: &[u8], want: &str| {
            std::fs::write(&p, text).unwrap();
            let err = read_text(&p, &ReadOptions::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        };
        case(b"3 2\na 1 2\nb 3 4\n", "line 4: the header promises 3 rows");
        case(
            b"1 2\na 1 2\nb 3 4\n",
            "line 3: the header promises 1 rows but the file has more",
        );
        case(
            b"2 2\na 1 2\nb 3\n",
            "line 3: the row has 1 values, expected 2",
        );
        case(
            b"2 2\na 1 2\nb 3 4 5\n",
            "line 3: the row has 3 values, expected 2",
        );
        case(b"2 2\na 1 2\nb 3 x4\n", "line 3: value 2 is not a number");
        case(b"2 2\na 1 2\nb 3 4x\n", "line 3: value 2 is not a number");
        case(b"2 2\na 1 nan\nb 3 4\n", "line 2: value 2 is NaN");
        case(b"2 x\na 1 2\n", "line 1: expected a header");
        case(b"2 2\na 1 2\n\xff 3 4\n", "line 3: the word");
        std::fs::write(&p, b"2 2\na 1 nan\nb 3 inf\n").unwrap();
        let o = ReadOptions {
            allow_nonfinite: true,
            ..Default::default()
        };
        let (e, _) = read_text(&p, &o).unwrap();
        assert!(e.get("a").unwrap()[1].is_nan() && e.get("b").unwrap()[1].is_infinite());
        std::fs::write(&p, b"2 2\na 1 2\n\xff 3 4\n").unwrap();
        let o = ReadOptions {
            lossy: true,
            ..Default::default()
        };
        assert_eq!(
            read_text(&p, &o).unwrap().0.get("\u{fffd}"),
            Some(vec![3.0, 4.0])
        );
    }

    #[test]
    fn duplicates_keep_the_first_and_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.txt");
        std::fs::write(&p, "3 1\na 1\nb 2\na 3\n").unwrap();
        let (e, rep) = read_text(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e.get("a"), Some(vec![1.0]));
        assert_eq!(rep.duplicates.len(), 1);
        assert_eq!(rep.duplicates[0].position, Position::Line(4));

        // Binary: rows `a`, `b`, `a`, `c`, `b` of one value each (with the optional newlines);
        // the second `a` starts at byte 4 + 2 × 7 = 18, the second `b` at 4 + 4 × 7 = 32, and
        // both are dropped with their values.
        let p = dir.path().join("d.bin");
        let mut bytes = b"5 1\n".to_vec();
        for (w, v) in [("a", 1f32), ("b", 2.0), ("a", 3.0), ("c", 4.0), ("b", 5.0)] {
            bytes.extend_from_slice(w.as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(&v.to_le_bytes());
            bytes.push(b'\n');
        }
        std::fs::write(&p, &bytes).unwrap();
        let (e, rep) = read_binary(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.vocab().words(), &["a", "b", "c"]);
        assert_eq!(e.get("a"), Some(vec![1.0]));
        assert_eq!(e.get("b"), Some(vec![2.0]));
        assert_eq!(e.get("c"), Some(vec![4.0]));
        assert_eq!(rep.duplicates.len(), 2);
        assert_eq!(rep.duplicates[0].word, "a");
        assert_eq!(rep.duplicates[0].position, Position::Byte(18));
        assert_eq!(rep.duplicates[1].word, "b");
        assert_eq!(rep.duplicates[1].position, Position::Byte(32));
    }

    #[test]
    fn writers_refuse_words_with_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let e = Embeddings::new(
            Vocab::from_words(vec!["new york".into()]).unwrap(),
            DenseMatrix::zeros(1, 2),
        )
        .unwrap();
        let err = write_text(dir.path().join("x"), &e)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"new york\"") && err.contains("whitespace"),
            "{err}"
        );
        assert!(write_binary(dir.path().join("y"), &e).is_err());
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn gzip_input() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.txt.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"2 2\na 1 2\nb 3 4\n").unwrap();
        std::fs::write(&p, gz.finish().unwrap()).unwrap();
        let (e, _) = read_text(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.get("b"), Some(vec![3.0, 4.0]));
        // Cut short: an error naming the file, never a partial matrix.
        let mut text = b"20000 2\n".to_vec();
        text.extend((0..20000).flat_map(|i| format!("w{i} {i}.5 -{i}.25\n").into_bytes()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let whole_with_header = gz.finish().unwrap();
        std::fs::write(&p, &whole_with_header[..whole_with_header.len() / 2]).unwrap();
        let err = read_text(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("v.txt.gz") && err.contains("gzip"), "{err}");
        std::fs::write(&p, &whole_with_header).unwrap();
        let (e, _) = read_text(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.len(), 20000);
        assert_eq!(e.get("w1999"), Some(vec![1999.5, -1999.25]));
    }
}
