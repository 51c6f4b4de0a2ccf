//! The format readers and writers against files written by other tools (word2vec C, GloVe,
//! fastText, gensim — fetched by `scripts/fetch-testdata.sh`), with references parsed here by a
//! deliberately naive reader or computed by the original tools.

use std::path::{Path, PathBuf};

use embers::io::{self, Format, ReadOptions};
use embers::Embeddings;

fn testdata() -> PathBuf {
    let dir = std::env::var_os("EMBERS_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata-fetched"));
    assert!(
        dir.join("gensim").is_dir(),
        "test data missing at {}: run scripts/fetch-testdata.sh",
        dir.display()
    );
    dir
}

fn gensim(name: &str) -> PathBuf {
    testdata().join("gensim").join(name)
}

/// A naive reference reader of `word v1 .. vd` text: `str::split_whitespace` and `str::parse`.
fn naive_text(path: &Path, header: bool) -> Vec<(String, Vec<f32>)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(usize::from(header))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.split_whitespace();
            let w = f.next().unwrap().to_string();
            (w, f.map(|v| v.parse::<f32>().unwrap()).collect())
        })
        .collect()
}

/// A naive reference reader of word2vec binary.
fn naive_binary(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..nl]).unwrap();
    let mut h = header.split(' ').map(|x| x.parse::<usize>().unwrap());
    let (rows, dims) = (h.next().unwrap(), h.next().unwrap());
    let mut pos = nl + 1;
    let mut out = Vec::new();
    for _ in 0..rows {
        while bytes[pos] == b'\n' {
            pos += 1;
        }
        let sp = pos + bytes[pos..].iter().position(|&b| b == b' ').unwrap();
        let word = String::from_utf8(bytes[pos..sp].to_vec()).unwrap();
        let v = (0..dims)
            .map(|k| {
                let o = sp + 1 + 4 * k;
                f32::from_le_bytes(bytes[o..o + 4].try_into().unwrap())
            })
            .collect();
        out.push((word, v));
        pos = sp + 1 + 4 * dims;
    }
    out
}

fn assert_matches(e: &Embeddings, reference: &[(String, Vec<f32>)]) {
    assert_eq!(e.len(), reference.len());
    for (i, (w, v)) in reference.iter().enumerate() {
        assert_eq!(e.vocab().token(i as u32), Some(w.as_str()), "row {i}");
        assert_eq!(&e.vector(i as u32).unwrap(), v, "row {i} ({w})");
    }
}

fn assert_same(a: &Embeddings, b: &Embeddings) {
    assert_eq!(a.vocab().words(), b.vocab().words());
    assert_eq!(
        a.storage().to_dense().unwrap(),
        b.storage().to_dense().unwrap()
    );
}

/// Every writer's output reads back identically, in every text/binary format that can hold it.
fn assert_writers_round_trip(e: &Embeddings) {
    let dir = tempfile::tempdir().unwrap();
    for (format, name) in [
        (Format::Word2VecText, "x.txt"),
        (Format::Word2VecBinary, "x.bin"),
        (Format::Glove, "x.glove"),
        (Format::Native, "x.embers"),
    ] {
        let p = dir.path().join(name);
        io::write(&p, e, format).unwrap();
        assert_eq!(io::sniff(&p).unwrap(), format, "{name}");
        let back = io::read(&p, &ReadOptions::default()).unwrap();
        assert_same(e, &back);
    }
}

#[test]
fn word2vec_c_text_files() {
    for name in [
        "word2vec_pre_kv_c",
        "EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt",
        "lee_fasttext.vec",
        "crime-and-punishment.vec",
    ] {
        let p = gensim(name);
        assert_eq!(io::sniff(&p).unwrap(), Format::Word2VecText, "{name}");
        let (e, report) = io::read_with_report(&p, &ReadOptions::default()).unwrap();
        assert!(report.duplicates.is_empty(), "{name}");
        assert_matches(&e, &naive_text(&p, true));
        assert_writers_round_trip(&e);
    }
    let e = io::read(gensim("word2vec_pre_kv_c"), &ReadOptions::default()).unwrap();
    assert_eq!((e.len(), e.dims()), (1750, 10));
}

#[test]
fn word2vec_c_binary_file() {
    let p = gensim("euclidean_vectors.bin");
    assert_eq!(io::sniff(&p).unwrap(), Format::Word2VecBinary);
    let e = io::read(&p, &ReadOptions::default()).unwrap();
    assert_matches(&e, &naive_binary(&p));
    assert_writers_round_trip(&e);
    let opts = ReadOptions {
        limit: Some(7),
        ..Default::default()
    };
    let first = io::read(&p, &opts).unwrap();
    assert_matches(&first, &naive_binary(&p)[..7]);
}

#[test]
fn glove_file() {
    let p = gensim("test_glove.txt");
    assert_eq!(io::sniff(&p).unwrap(), Format::Glove);
    let e = io::read(&p, &ReadOptions::default()).unwrap();
    assert_matches(&e, &naive_text(&p, false));
    assert_writers_round_trip(&e);
}

#[test]
fn gzip_copies_read_the_same() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "test_glove.txt",
        "euclidean_vectors.bin",
        "word2vec_pre_kv_c",
    ] {
        let p = gensim(name);
        let gz = dir.path().join(format!("{name}.gz"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&std::fs::read(&p).unwrap()).unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        let a = io::read(&p, &ReadOptions::default()).unwrap();
        let b = io::read(&gz, &ReadOptions::default()).unwrap();
        assert_same(&a, &b);
        let lim = ReadOptions {
            limit: Some(3),
            ..Default::default()
        };
        assert_eq!(io::read(&gz, &lim).unwrap().len(), 3);
    }
}

#[test]
fn broken_copies_fail_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(gensim("word2vec_pre_kv_c")).unwrap();
    let err = |bytes: &[u8], from: Format| {
        let p = dir.path().join("broken");
        std::fs::write(&p, bytes).unwrap();
        let opts = ReadOptions {
            format: Some(from),
            ..Default::default()
        };
        io::read(&p, &opts).unwrap_err().to_string()
    };
    // Truncated in the middle of a line: fewer rows than promised (the count is checked first).
    let cut = &text[..text.len() / 2];
    let e = err(cut, Format::Word2VecText);
    assert!(e.contains("line 881: the header promises 1750 rows"), "{e}");
    // The same cut with the header corrected: the last row is short.
    let fixed = [
        b"879 10".as_slice(),
        &cut[cut.iter().position(|&b| b == b'\n').unwrap()..],
    ]
    .concat();
    let e = err(&fixed, Format::Word2VecText);
    assert!(
        e.contains("line 880: the row has") && e.contains("expected 10"),
        "{e}"
    );
    // Truncated at a line end: fewer rows than the header promises.
    let at = cut.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    let e = err(&text[..at], Format::Word2VecText);
    assert!(e.contains("the header promises 1750 rows"), "{e}");
    // A header promising more dims than the rows have.
    let mut bad = b"1750 11".to_vec();
    bad.extend_from_slice(&text[text.iter().position(|&b| b == b'\n').unwrap()..]);
    let e = err(&bad, Format::Word2VecText);
    assert!(
        e.contains("line 2: the row has 10 values, expected 11"),
        "{e}"
    );
    // NaN in the third row.
    let s = String::from_utf8(text.clone()).unwrap();
    let third = s.lines().nth(3).unwrap();
    let mut fields: Vec<&str> = third.split(' ').collect();
    fields[2] = "nan";
    let nan = s.replacen(third, &fields.join(" "), 1);
    let e = err(nan.as_bytes(), Format::Word2VecText);
    assert!(e.contains("line 4") && e.contains("NaN"), "{e}");
    // Invalid UTF-8 in a word.
    let mut inv = text.clone();
    let o = s.find("\nof ").unwrap() + 1;
    inv[o] = 0xff;
    let e = err(&inv, Format::Word2VecText);
    assert!(e.contains("line 4") && e.contains("UTF-8"), "{e}");

    let bin = std::fs::read(gensim("euclidean_vectors.bin")).unwrap();
    let e = err(&bin[..bin.len() - 10], Format::Word2VecBinary);
    assert!(e.contains("byte") && e.contains("truncated"), "{e}");
    let e = err(&bin[..100], Format::Word2VecBinary);
    assert!(e.contains("byte") && e.contains("truncated"), "{e}");
}
