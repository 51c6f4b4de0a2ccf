//! Vocabulary, init, lookup, info, verify and demo from the command line.

use crate::common::{fails, ok, s, testdata};

#[test]
fn vocab_init_lookup_info_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("gensim/lee_background.cor");
    let vocab = dir.path().join("vocab.tsv");
    ok(&[
        "vocab",
        "build",
        s(&corpus),
        "-o",
        s(&vocab),
        "--min-count",
        "5",
        "--specials",
        "<pad>,<unk>",
    ]);
    let text = std::fs::read_to_string(&vocab).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        &lines[..3],
        &["<pad>\t0", "<unk>\t0", "the\t3523"],
        "{:?}",
        &lines[..3]
    );
    // Reference: Python's collections.Counter over line.split() (what gensim's LineSentence
    // does) gives "the" 3523 times and 1762 distinct tokens seen at least 5 times.
    assert_eq!(lines.len(), 2 + 1762);
    // Counts descend after the specials, every count ≥ min_count.
    let counts: Vec<u64> = lines[2..]
        .iter()
        .map(|l| l.rsplit('\t').next().unwrap().parse().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]));
    assert!(counts.iter().all(|&c| c >= 5));

    let emb = dir.path().join("emb.safetensors");
    ok(&[
        "init",
        "--vocab",
        s(&vocab),
        "--dim",
        "16",
        "--seed",
        "7",
        "--unk",
        "<unk>",
        "-o",
        s(&emb),
    ]);
    let info = ok(&["info", s(&emb), "--json"]);
    let v: serde_json::Value = serde_json::from_str(info.trim()).unwrap();
    assert_eq!(v["rows"].as_u64().unwrap() as usize, lines.len());
    assert_eq!(v["dims"], 16);
    ok(&["verify", s(&emb)]);

    let out = ok(&["lookup", s(&emb), "the", "zzzq", "--json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows[0]["id"], 2);
    assert_eq!(rows[0]["vector"].as_array().unwrap().len(), 16);
    assert_eq!(rows[1]["error"], "unknown word");
    let unk = ok(&["lookup", s(&emb), "zzzq", "--unk", "--json"]);
    assert!(unk.contains("\"source\":\"unk\""), "{unk}");
    let err = fails(&["lookup", s(&emb), "zzzq"]);
    assert!(err.contains("zzzq"), "{err}");

    // Same seed, same matrix; the file is the safetensors numpy and torch read.
    let emb2 = dir.path().join("emb2.safetensors");
    ok(&[
        "init",
        "--vocab",
        s(&vocab),
        "--dim",
        "16",
        "--seed",
        "7",
        "-o",
        s(&emb2),
    ]);
    let a = ok(&["lookup", s(&emb), "the"]);
    let b = ok(&["lookup", s(&emb2), "the"]);
    assert_eq!(a, b);
}

#[test]
fn wordlist_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("words");
    std::fs::write(&list, "king\nqueen\nman\nwoman\nking\n").unwrap();
    let vocab = dir.path().join("v.tsv");
    ok(&[
        "vocab",
        "from-wordlist",
        s(&list),
        "-o",
        s(&vocab),
        "--specials",
        "<unk>",
    ]);
    assert_eq!(
        std::fs::read_to_string(&vocab).unwrap(),
        "<unk>\t0\nking\t0\nqueen\t0\nman\t0\nwoman\t0\n"
    );
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let e = fails(&[
        "vocab",
        "build",
        s(&missing),
        "-o",
        s(&dir.path().join("v")),
    ]);
    assert!(e.contains("missing.txt"), "{e}");

    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let e = fails(&["vocab", "build", s(&empty), "-o", s(&dir.path().join("v"))]);
    assert!(e.contains("empty"), "{e}");

    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "a\t1\nb\tnot-a-number\n").unwrap();
    let e = fails(&["init", "--vocab", s(&bad), "-o", s(&dir.path().join("e"))]);
    assert!(e.contains("bad.tsv") && e.contains("line 2"), "{e}");

    let good = dir.path().join("good.tsv");
    std::fs::write(&good, "a\t1\n").unwrap();
    let e = fails(&[
        "init",
        "--vocab",
        s(&good),
        "--dim",
        "0",
        "-o",
        s(&dir.path().join("e")),
    ]);
    assert!(e.contains("dims"), "{e}");
    assert!(!dir.path().join("e").exists());

    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x01\x02not an embedding file").unwrap();
    let e = fails(&["info", s(&junk)]);
    assert!(e.contains("junk.bin"), "{e}");
}

#[test]
fn demo_runs_on_built_in_data() {
    let out = ok(&["demo"]);
    assert!(out.contains("e_king"), "{out}");
    assert!(out.contains("not in the vocabulary"), "{out}");
}
