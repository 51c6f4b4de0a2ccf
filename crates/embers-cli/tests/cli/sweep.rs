//! `embers reduce` and `embers sweep`.

use crate::common::*;

/// A small skip-gram model trained on the Lee corpus (40 dims), in `dir`.
fn model(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("lee.safetensors");
    let corpus = testdata().join("gensim/lee_background.cor");
    ok(&[
        "train",
        "word2vec",
        s(&corpus),
        "-o",
        s(&path),
        "--dim",
        "40",
        "--epochs",
        "2",
        "--threads",
        "1",
        "--seed",
        "3",
        "--min-count",
        "3",
        "--progress",
        "none",
    ]);
    path
}

#[test]
fn reduce_pca_and_truncate_write_native_files_every_command_reads() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let out = dir.path().join("r.safetensors");
    let report: serde_json::Value =
        serde_json::from_str(ok(&["reduce", s(&m), s(&out), "--dims", "10", "--json"]).trim())
            .unwrap();
    assert_eq!(report["dims"], 10);
    assert_eq!(report["input_dims"], 40);
    let kept = report["explained_variance_ratio"].as_f64().unwrap();
    assert!(kept > 0.25 && kept < 1.0, "{kept}");
    let info = ok(&["info", s(&out), "--json"]);
    assert!(info.contains("\"dims\":10"), "{info}");
    ok(&["verify", s(&out)]);
    let similar = ok(&["similar", s(&out), "the", "-k", "3"]);
    let ranked = similar
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .count();
    assert_eq!(ranked, 3, "{similar}");
    // Truncation keeps the first coordinates exactly.
    let t = dir.path().join("t.safetensors");
    ok(&[
        "reduce",
        s(&m),
        s(&t),
        "--dims",
        "7",
        "--method",
        "truncate",
    ]);
    let full: Vec<f64> = lookup(&m, "the");
    let cut: Vec<f64> = lookup(&t, "the");
    assert_eq!(cut, full[..7].to_vec());
    // Bad arguments: one-line errors.
    assert!(fails(&["reduce", s(&m), s(&t), "--dims", "41"]).contains("dims"));
    assert!(fails(&["reduce", s(&m), s(&t), "--dims", "4", "--method", "svd"]).contains("method"));
}

fn lookup(file: &std::path::Path, word: &str) -> Vec<f64> {
    let line = ok(&["lookup", s(file), word, "--json"]);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    v["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn sweep_numbers_equal_eval_of_each_written_file_and_the_chart_parses() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path());
    let keep = dir.path().join("variants");
    let svg = dir.path().join("curve.svg");
    let jsonl = dir.path().join("points.jsonl");
    let eval = testdata().join("gensim");
    let table = ok(&[
        "sweep",
        s(&m),
        "--eval",
        s(&eval),
        "--dims",
        "10,20,40",
        "--to",
        "f32,int8,pq:4",
        "--queries",
        "50",
        "--keep",
        s(&keep),
        "--svg",
        s(&svg),
        "--json",
        s(&jsonl),
        "--progress",
        "none",
    ]);
    assert!(table.contains("recall@10"), "{table}");
    let points: Vec<serde_json::Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(points.len(), 9);
    for p in &points {
        let file = p["file"].as_str().unwrap();
        let e: serde_json::Value = serde_json::from_str(
            ok(&[
                "eval",
                file,
                "--analogies",
                s(&eval.join("questions-words.txt")),
                "--pairs",
                s(&eval.join("wordsim353.tsv")),
                s(&eval.join("simlex999.txt")),
                "--json",
            ])
            .trim(),
        )
        .unwrap();
        assert_eq!(p["analogy"], e["analogies"]["accuracy"], "{p} vs {e}");
        let pairs = e["pairs"].as_array().unwrap();
        assert_eq!(p["pairs"]["wordsim353"], pairs[0]["spearman"], "{p} vs {e}");
        assert_eq!(p["pairs"]["simlex999"], pairs[1]["spearman"], "{p} vs {e}");
        // Bytes a row as `embers info` counts them.
        let info: serde_json::Value =
            serde_json::from_str(ok(&["info", file, "--json"]).trim()).unwrap();
        let rows = info["rows"].as_f64().unwrap();
        assert_eq!(
            p["bytes_per_row"].as_f64().unwrap(),
            info["vector_bytes"].as_f64().unwrap() / rows,
            "{p} vs {info}"
        );
        let recall = p["recall_at_10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&recall), "{p}");
    }
    // The unprojected f32 variant finds exactly the original neighbours.
    let original = points
        .iter()
        .find(|p| p["dims"] == 40 && p["kind"] == "f32")
        .unwrap();
    assert_eq!(original["recall_at_10"], 1.0);
    assert_eq!(original["method"], "original");
    // The chart, parsed by Python's XML parser: one line per kind, one point per variant.
    let out = embers_testkit::python()
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as ET\n\
             root = ET.parse(sys.argv[1]).getroot()\n\
             ns = '{http://www.w3.org/2000/svg}'\n\
             lines = [e for e in root.iter(ns + 'polyline') if e.get('class') == 'series']\n\
             points = [e for e in root.iter(ns + 'circle') if e.get('class') == 'point']\n\
             front = [e for e in root.iter(ns + 'circle') if e.get('class') == 'front']\n\
             pareto = [e for e in root.iter(ns + 'polyline') if e.get('class') == 'pareto']\n\
             print(len(lines), len(points), len(front), len(pareto))\n\
             print(' '.join(sorted(set(e.get('data-series') for e in lines))))\n\
             print(' '.join(str(len(e.get('points').split())) for e in lines))\n",
        )
        .arg(&svg)
        .output()
        .expect("the reference Python runs (scripts/test.sh sets it up)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let counts: Vec<usize> = lines
        .next()
        .unwrap()
        .split(' ')
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(counts[0], 3, "{text}");
    assert_eq!(counts[1], 9, "{text}");
    assert!(counts[2] >= 1 && counts[2] <= 9, "{text}");
    assert_eq!(counts[3], 1, "{text}");
    assert_eq!(lines.next().unwrap(), "pca f32 pca int8 pca pq:4");
    assert_eq!(lines.next().unwrap(), "3 3 3");
    // Bad arguments are one-line errors.
    assert!(fails(&["sweep", s(&m), "--eval", s(&eval), "--dims", "0"]).contains("dims"));
    assert!(fails(&["sweep", s(&m), "--eval", s(&eval), "--to", "pq:x"]).contains("kind"));
    assert!(fails(&["sweep", s(&m)]).contains("benchmark"));
}
