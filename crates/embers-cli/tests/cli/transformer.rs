//! `embers tokens`: the input embedding layer of the all-MiniLM-L6-v2 folder through the CLI
//! (JSON, .npy, batch over a file of lines, vocabulary export, errors).

use crate::common::{fails, ok, s, testdata};

fn minilm() -> String {
    let dir = testdata().join("minilm");
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 missing at {}: run scripts/fetch-testdata.sh",
        dir.display()
    );
    s(&dir).to_string()
}

fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Reads a float32 C-order .npy file: (shape, values).
fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<f32>) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
    let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
    let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
    assert!(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"));
    assert_eq!((10 + hlen) % 64, 0);
    let shape = header.split('(').nth(1).unwrap().split(')').next().unwrap();
    let shape: Vec<usize> = shape
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| x.trim().parse().unwrap())
        .collect();
    let values = b[10 + hlen..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    (shape, values)
}

#[test]
fn tokens_json_pair_and_npy_agree() {
    let model = minilm();
    let out = ok(&[
        "tokens",
        "--model",
        &model,
        "How old are you?",
        "--pair",
        "I am six years old.",
        "--json",
    ]);
    let v = &json_lines(&out)[0];
    let tokens: Vec<&str> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        tokens,
        [
            "[CLS]", "how", "old", "are", "you", "?", "[SEP]", "i", "am", "six", "years", "old",
            ".", "[SEP]"
        ]
    );
    assert_eq!(v["ids"][0], 101);
    let types: Vec<u64> = v["type_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert_eq!(types, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    let emb = v["embeddings"].as_array().unwrap();
    assert_eq!(emb.len(), 14);
    assert_eq!(emb[0].as_array().unwrap().len(), 384);

    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("v.npy");
    let out = ok(&[
        "tokens",
        "--model",
        &model,
        "How old are you?",
        "--pair",
        "I am six years old.",
        "--json",
        "--npy",
        s(&npy),
    ]);
    let w = &json_lines(&out)[0];
    assert_eq!(w["rows"], serde_json::json!([0, 14]));
    assert!(w.get("embeddings").is_none());
    let (shape, values) = read_npy(&npy);
    assert_eq!(shape, [14, 384]);
    for (t, row) in emb.iter().enumerate() {
        for (j, x) in row.as_array().unwrap().iter().enumerate() {
            assert_eq!(values[t * 384 + j], x.as_f64().unwrap() as f32);
        }
    }

    // The text form lists position, token, id, type id and the vector.
    let text = ok(&["tokens", "--model", &model, "king"]);
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(rows.len(), 3);
    let fields: Vec<&str> = rows[1].split('\t').collect();
    assert_eq!(&fields[..4], ["1", "king", "2332", "0"]);
    assert_eq!(fields[4].split(' ').count(), 384);
}

#[test]
fn tokens_batch_over_lines_matches_single_texts() {
    let model = minilm();
    let dir = tempfile::tempdir().unwrap();
    let lines = dir.path().join("lines.txt");
    std::fs::write(
        &lines,
        "the first line\r\nsecond, with punctuation!\n\nünïcödé\n",
    )
    .unwrap();
    let out = ok(&[
        "tokens",
        "--model",
        &model,
        "--file",
        s(&lines),
        "--json",
        "--threads",
        "2",
    ]);
    let batch = json_lines(&out);
    assert_eq!(batch.len(), 4);
    for (v, text) in
        batch
            .iter()
            .zip(["the first line", "second, with punctuation!", "", "ünïcödé"])
    {
        let single = json_lines(&ok(&["tokens", "--model", &model, text, "--json"]));
        assert_eq!(v, &single[0]);
    }
    let stats = json_lines(&ok(&[
        "tokens",
        "--model",
        &model,
        "--file",
        s(&lines),
        "--stats",
        "--limit",
        "2",
    ]));
    assert_eq!(stats[0]["lines"], 2);
    let first_two: usize = batch[..2]
        .iter()
        .map(|v| v["ids"].as_array().unwrap().len())
        .sum();
    assert_eq!(stats[0]["tokens"], first_two);

    // Tab-separated pairs.
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(&pairs, "How old are you?\tI am six years old.\n").unwrap();
    let v = json_lines(&ok(&[
        "tokens",
        "--model",
        &model,
        "--file",
        s(&pairs),
        "--tab-pairs",
        "--json",
    ]));
    let single = json_lines(&ok(&[
        "tokens",
        "--model",
        &model,
        "How old are you?",
        "--pair",
        "I am six years old.",
        "--json",
    ]));
    assert_eq!(v[0], single[0]);

    // Padding on request: tokenizer.json pads to 128.
    let padded = json_lines(&ok(&["tokens", "--model", &model, "hi", "--json", "--pad"]));
    assert_eq!(padded[0]["ids"].as_array().unwrap().len(), 128);
    assert_eq!(
        padded[0]["attention_mask"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| **x == 1)
            .count(),
        3
    );
}

#[test]
fn tokens_export_vocab_then_lookup() {
    let model = minilm();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("minilm-vocab.safetensors");
    let msg = ok(&["tokens", "--model", &model, "--export-vocab", s(&out)]);
    assert!(msg.contains("30522") && msg.contains("384"), "{msg}");
    let info = ok(&["info", s(&out), "--json"]);
    let info: serde_json::Value = serde_json::from_str(info.trim()).unwrap();
    assert_eq!(info["rows"], 30522);
    assert_eq!(info["dims"], 384);
    let v = json_lines(&ok(&["lookup", s(&out), "king", "##ing", "--json"]));
    assert_eq!(v[0]["id"], 2332);
    assert_eq!(v[1]["vector"].as_array().unwrap().len(), 384);
    ok(&["verify", s(&out)]);
}

#[test]
fn tokens_errors_are_one_line() {
    let model = minilm();
    let e = fails(&["tokens", "--model", "/nonexistent/model", "hi"]);
    assert!(e.contains("/nonexistent/model"), "{e}");
    let e = fails(&["tokens", "--model", &model]);
    assert!(e.contains("--file"), "{e}");
    let long = "word ".repeat(600);
    let e = fails(&["tokens", "--model", &model, &long, "--truncate", "off"]);
    assert!(e.contains("602 tokens") && e.contains("512"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("cut.npy");
    let cut = json_lines(&ok(&[
        "tokens",
        "--model",
        &model,
        &long,
        "--truncate",
        "model",
        "--json",
        "--npy",
        s(&npy),
    ]));
    assert_eq!(cut[0]["ids"].as_array().unwrap().len(), 512);
    assert_eq!(cut[0]["truncated"], true);
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, b"fine\n\xff\xfe\n").unwrap();
    let e = fails(&["tokens", "--model", &model, "--file", s(&bad)]);
    assert!(e.contains("bad.txt") && e.contains("line 2"), "{e}");
}
