//! `embers similar`, `analogy`, `eval` and `index build` on small native files written here.

use std::path::Path;

use embers::{DenseMatrix, Embeddings, Vocab};

use crate::common::{fails, ok, s};

/// Hand-made 2-D vectors: angles make the answers obvious (see the library's query tests).
fn toy(path: &Path, shift: f32) {
    let words = ["king", "queen", "man", "woman", "apple", "pear"];
    let data = vec![
        2.0,
        2.0,
        0.0,
        3.0,
        1.0,
        0.0,
        -0.5,
        0.5,
        0.0,
        -1.0,
        0.3 + shift,
        -1.0,
    ];
    let emb = Embeddings::new(
        Vocab::from_words(words.iter().map(|w| w.to_string()).collect()).unwrap(),
        DenseMatrix::new(6, 2, data).unwrap(),
    )
    .unwrap();
    embers::io::native::write(path, &emb).unwrap();
}

#[test]
fn similar_and_analogy() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("toy.embers");
    toy(&f, 0.0);
    let out = ok(&["similar", s(&f), "apple", "-k", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["query"], "apple");
    assert_eq!(v["neighbors"][0]["word"], "pear");
    assert_eq!(v["neighbors"].as_array().unwrap().len(), 2);
    // Two words: two queries, one line each; the batched path agrees with the single one.
    let two = ok(&["similar", s(&f), "apple", "man", "-k", "2", "--json"]);
    assert_eq!(two.lines().count(), 2);
    assert_eq!(two.lines().next().unwrap(), out.trim());
    let table = ok(&["similar", s(&f), "man", "-k", "1"]);
    assert!(table.contains("king"), "{table}");

    let out = ok(&[
        "analogy",
        s(&f),
        "man",
        "woman",
        "king",
        "-k",
        "1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["neighbors"][0]["word"], "queen");
    assert_eq!(v["query"]["c"], "king");
    let out = ok(&[
        "analogy",
        s(&f),
        "man",
        "woman",
        "king",
        "--cosmul",
        "-k",
        "1",
    ]);
    assert!(out.contains("queen"), "{out}");

    let err = fails(&["similar", s(&f), "prince", "duke", "apple"]);
    assert!(err.contains("prince") && err.contains("duke"), "{err}");
    assert!(fails(&["similar", s(&f), "apple", "-k", "0"]).contains("k"));
    assert!(fails(&["similar", s(&f), "apple", "-k", "9"]).contains("k"));
    assert!(fails(&["analogy", s(&f), "man", "woman", "kaiser"]).contains("kaiser"));
}

#[test]
fn eval_table_json_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("toy.embers");
    toy(&f, 0.0);
    let q = dir.path().join("q.txt");
    std::fs::write(
        &q,
        ": family\nman woman king queen\nMan Woman King Prince\n",
    )
    .unwrap();
    let p = dir.path().join("pairs.tsv");
    std::fs::write(
        &p,
        "# c\nking\tqueen\t8\napple\tpear\t9\nman\tapple\t1\nx\ty\t2\n",
    )
    .unwrap();
    let out = ok(&[
        "eval",
        s(&f),
        "--analogies",
        s(&q),
        "--pairs",
        s(&p),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let a = &v["analogies"];
    assert_eq!(
        (
            a["correct"].as_u64(),
            a["total"].as_u64(),
            a["skipped"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(a["accuracy"], 1.0);
    assert_eq!(a["sections"][0]["section"], "family");
    let pr = &v["pairs"][0];
    assert_eq!(pr["pairs"], 3);
    assert!((pr["oov_ratio"].as_f64().unwrap() - 25.0).abs() < 1e-9);
    assert!(
        (pr["spearman"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{pr}"
    );
    let table = ok(&["eval", s(&f), "--analogies", s(&q), "--pairs", s(&p)]);
    assert!(
        table.contains("Total accuracy") && table.contains("100.00%"),
        "{table}"
    );

    std::fs::write(&q, ": family\nman woman king queen\nman woman\n").unwrap();
    let err = fails(&["eval", s(&f), "--analogies", s(&q)]);
    assert!(err.contains("line 3"), "{err}");
    std::fs::write(&p, "king\tqueen\tlots\n").unwrap();
    let err = fails(&["eval", s(&f), "--pairs", s(&p)]);
    assert!(err.contains("line 1"), "{err}");
    fails(&["eval", s(&f)]);
}

#[test]
fn index_build_ann_search_and_foreign_index() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("toy.embers");
    toy(&f, 0.0);
    assert!(fails(&["similar", s(&f), "apple", "-k", "2", "--ann"]).contains("index build"));
    let out = ok(&["index", "build", s(&f), "--json", "--threads", "1"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["recall_at_10"], 1.0,
        "a 6-row graph is searched exhaustively"
    );
    assert!(dir.path().join("toy.embers.hnsw").is_file());
    let exact = ok(&["similar", s(&f), "apple", "-k", "3", "--json"]);
    let ann = ok(&["similar", s(&f), "apple", "-k", "3", "--json", "--ann"]);
    assert_eq!(exact, ann);
    // Other vectors, same shape: the old index is refused.
    let g = dir.path().join("other.embers");
    toy(&g, 0.5);
    let idx = dir.path().join("toy.embers.hnsw");
    let err = fails(&[
        "similar",
        s(&g),
        "apple",
        "-k",
        "2",
        "--ann",
        "--index",
        s(&idx),
    ]);
    assert!(err.contains("fingerprint"), "{err}");
}
