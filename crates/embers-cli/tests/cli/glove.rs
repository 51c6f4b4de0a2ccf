//! `embers train glove` end to end: counting, training, output file, progress events, errors.

use crate::common::{embers, fails, ok, s, testdata};

#[test]
fn train_glove_on_lee_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = testdata().join("gensim/lee_background.cor");
    let out = dir.path().join("glove.safetensors");
    // A 256 KiB budget forces the counts to disk and the entries into bucket files.
    let run = embers(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--dim",
        "16",
        "--window",
        "5",
        "--min-count",
        "5",
        "--iter",
        "3",
        "--threads",
        "2",
        "--memory",
        "256K",
        "--progress",
        "json",
    ]);
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(run.status.success(), "{stderr}");
    let losses: Vec<f64> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "iteration")
        .map(|v| v["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 3, "{stderr}");
    assert!(losses[2] < losses[0], "{losses:?}");
    assert!(stderr.contains("sorted runs on disk"), "{stderr}");
    assert!(stderr.contains("buckets on disk"), "{stderr}");
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&out), "--json"]).trim()).unwrap();
    // Python's Counter over line.split() finds 1762 tokens seen at least 5 times.
    assert_eq!(info["rows"], 1762);
    assert_eq!(info["dims"], 16);
    assert_eq!(info["metadata"]["trainer"], "glove");
    // No temporary files left next to the output.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["glove.safetensors".to_string()]);
}

#[test]
fn train_glove_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("c.txt");
    std::fs::write(&corpus, "a b c\n").unwrap();
    let out = dir.path().join("o.safetensors");
    let err = fails(&[
        "train",
        "glove",
        s(&dir.path().join("missing.txt")),
        "-o",
        s(&out),
    ]);
    assert!(err.contains("missing.txt"), "{err}");
    let err = fails(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--min-count",
        "5",
    ]);
    assert!(err.contains("min_count"), "{err}");
    let err = fails(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--min-count",
        "1",
        "--x-max",
        "0",
    ]);
    assert!(err.contains("x_max"), "{err}");
    let bad = embers(&[
        "train",
        "glove",
        s(&corpus),
        "-o",
        s(&out),
        "--memory",
        "12Q",
    ]);
    assert!(!bad.status.success());
    assert!(!out.exists());
}
