//! `embers convert` and reading every format from the command line.

use crate::common::{fails, ok, s, testdata};

#[test]
fn convert_between_formats_without_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let glove = testdata().join("gensim/test_glove.txt");
    let native = dir.path().join("g.embers");
    let out = ok(&["convert", s(&glove), s(&native)]);
    assert!(out.contains("(glove)") && out.contains("(native)"), "{out}");
    let bin = dir.path().join("g.bin");
    ok(&["convert", s(&native), s(&bin)]);
    let npy = dir.path().join("g.npy");
    ok(&["convert", s(&bin), s(&npy)]);
    assert!(dir.path().join("g.vocab.txt").is_file());
    let vec = dir.path().join("g.vec");
    ok(&["convert", s(&npy), s(&vec), "--quiet"]);
    // The text written at the end holds the numbers of the GloVe file.
    let original = std::fs::read_to_string(&glove).unwrap();
    let written = std::fs::read_to_string(&vec).unwrap();
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("76 50"));
    for (a, b) in original.lines().zip(lines) {
        let fa: Vec<&str> = a.split_whitespace().collect();
        let fb: Vec<&str> = b.split_whitespace().collect();
        assert_eq!(fa[0], fb[0]);
        let va: Vec<f32> = fa[1..].iter().map(|x| x.parse().unwrap()).collect();
        let vb: Vec<f32> = fb[1..].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!(va, vb);
    }
    // Overrides: read as GloVe, the header line is taken for a row of one value.
    let err = fails(&["convert", s(&vec), s(&native), "--from", "glove"]);
    assert!(
        err.contains("line 2: the row has 50 values, expected 1"),
        "{err}"
    );
    let err = fails(&["convert", s(&vec), s(&dir.path().join("x.unknown"))]);
    assert!(err.contains("--to"), "{err}");
    ok(&[
        "convert",
        s(&vec),
        s(&dir.path().join("x.unknown")),
        "--to",
        "glove",
    ]);
}

#[test]
fn fasttext_bin_lookup_and_lossy() {
    let bin = testdata().join("gensim/lee_fasttext_new.bin");
    let out = ok(&["lookup", s(&bin), "the", "overwhelmingly"]);
    assert!(out.contains("(from subwords)"), "{out}");
    let info = ok(&["info", s(&bin)]);
    assert!(
        info.contains("fasttext") && info.contains("buckets"),
        "{info}"
    );
    let cp852 = testdata().join("gensim/cp852_fasttext.bin");
    let err = fails(&["info", s(&cp852)]);
    assert!(err.contains("byte") && err.contains("--lossy"), "{err}");
    ok(&["info", s(&cp852), "--lossy"]);
}

#[test]
fn safetensors_checkpoint_with_tensor() {
    let model = testdata().join("minilm/model.safetensors");
    let err = fails(&["info", s(&model)]);
    assert!(err.contains("--tensor"), "{err}");
    let out = ok(&[
        "info",
        s(&model),
        "--tensor",
        "embeddings.word_embeddings.weight",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"], 30522);
    assert_eq!(v["dims"], 384);
}

#[test]
fn broken_input_is_one_line_with_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.vec");
    std::fs::write(&p, "3 2\na 1 2\nb 1 x\nc 1 2\n").unwrap();
    let err = fails(&["convert", s(&p), s(&dir.path().join("o.embers"))]);
    assert!(
        err.contains("line 3") && err.contains("not a number"),
        "{err}"
    );
    assert!(!dir.path().join("o.embers").exists());
    std::fs::write(&p, "3 2\na 1 2\nb 1 3\na 1 4\n").unwrap();
    let out = crate::common::embers(&["convert", s(&p), s(&dir.path().join("o.embers"))]);
    assert!(out.status.success());
    let warn = String::from_utf8(out.stderr).unwrap();
    assert!(warn.contains("line 4: duplicate word \"a\""), "{warn}");
}

#[test]
fn tokens_with_spaces_need_a_replacement_for_text_formats() {
    let dir = tempfile::tempdir().unwrap();
    // GloVe 840B-style rows whose word contains spaces, read from the right.
    let glove = dir.path().join("g.txt");
    std::fs::write(&glove, "the 1 2\n. . . 3 4\nnew york 5 6\n").unwrap();
    let vec = dir.path().join("o.vec");
    let err = fails(&["convert", s(&glove), s(&vec), "--from", "glove"]);
    assert!(
        err.contains("\". . .\"") && err.contains("--replace-spaces"),
        "{err}"
    );
    assert!(!vec.exists());
    ok(&[
        "convert",
        s(&glove),
        s(&vec),
        "--from",
        "glove",
        "--replace-spaces",
        "_",
    ]);
    let text = std::fs::read_to_string(&vec).unwrap();
    assert_eq!(text, "3 2\nthe 1.0 2.0\n._._. 3.0 4.0\nnew_york 5.0 6.0\n");
    // The native format keeps the tokens as they are.
    let native = dir.path().join("o.embers");
    ok(&["convert", s(&glove), s(&native), "--from", "glove"]);
    let out = ok(&["lookup", s(&native), "new york"]);
    assert!(out.contains('5') && out.contains('6'), "{out}");
    // A replacement that makes two tokens equal is refused.
    let clash = dir.path().join("c.txt");
    std::fs::write(&clash, "x 0\na b 1\na_b 2\n").unwrap();
    let err = fails(&[
        "convert",
        s(&clash),
        s(&vec),
        "--from",
        "glove",
        "--replace-spaces",
        "_",
    ]);
    assert!(err.contains("both become \"a_b\""), "{err}");
}
