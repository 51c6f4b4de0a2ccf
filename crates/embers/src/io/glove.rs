//! GloVe's text format: `word v1 .. vd` per line, no header; the dimension is the number of
//! values on the first line.

use std::path::Path;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::io::input::{self, ReadReport};
use crate::io::textvec;
use crate::io::ReadOptions;

/// Reads a GloVe text file (parsed in parallel; `.gz` accepted).
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<(Embeddings, ReadReport)> {
    let path = path.as_ref();
    if input::is_gzip(path) {
        // Inflated while it is parsed, a piece at a time (see `textvec::parse_rows_stream`).
        let head = input::head(path, 1 << 20)?;
        let (first, _) = textvec::first_line(&head);
        let dims = textvec::count_values(first);
        if dims == 0 {
            return Err(no_values(path));
        }
        let stream = input::gzip_stream(path)?;
        return textvec::parse_rows_stream(path, stream, false, 1, dims, None, options);
    }
    let bytes = input::open(path)?;
    let (first, _) = textvec::first_line(&bytes);
    let dims = textvec::count_values(first);
    if dims == 0 {
        return Err(no_values(path));
    }
    textvec::parse_rows(path, &bytes, &bytes, 1, dims, None, options)
}

fn no_values(path: &Path) -> Error {
    Error::at_line(
        path,
        1,
        "the first line has no values after the word (empty file, or not GloVe text)",
    )
}

/// Writes a GloVe text file (no header). Words with whitespace are refused.
pub fn write(path: impl AsRef<Path>, embeddings: &Embeddings) -> Result<()> {
    textvec::write_rows(path.as_ref(), embeddings, None, "GloVe text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_infers_dims() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.txt");
        std::fs::write(&p, "the 0.1 -0.2 3e-2\nof 1 2 3 \r\n\n").unwrap();
        let (e, _) = read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.dims(), 3);
        assert_eq!(e.get("the"), Some(vec![0.1, -0.2, 0.03]));
        assert_eq!(e.get("of"), Some(vec![1.0, 2.0, 3.0]));
        let o = ReadOptions {
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(read(&p, &o).unwrap().0.len(), 1);
        let q = dir.path().join("h.txt");
        write(&q, &e).unwrap();
        let (back, _) = read(&q, &ReadOptions::default()).unwrap();
        assert_eq!(back.get("of"), e.get("of"));
        // A word with spaces is read from the right; a row with one value too many is not.
        std::fs::write(&p, "the 0.1 -0.2\n. . . 1 2\nat x@y.z 3 4\n").unwrap();
        let (e, _) = read(&p, &ReadOptions::default()).unwrap();
        assert_eq!(e.get(". . ."), Some(vec![1.0, 2.0]));
        assert_eq!(e.get("at x@y.z"), Some(vec![3.0, 4.0]));
        std::fs::write(&p, "the 0.1 -0.2\nof 1 2 3\n").unwrap();
        let err = read(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(
            err.contains("line 2: the row has 3 values, expected 2"),
            "{err}"
        );
    }
}
