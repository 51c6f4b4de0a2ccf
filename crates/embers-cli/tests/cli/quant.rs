//! `embers quantize` and `embers info` on compressed files.

use crate::common::{fails, ok, s, testdata};

fn vector(json_line: &str) -> Vec<f64> {
    let v: serde_json::Value = serde_json::from_str(json_line).unwrap();
    v["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A 40-dim seeded model over the vocabulary of gensim's Lee corpus (`vocab build
/// --min-count MIN_COUNT`, then `init --seed SEED`), written in `dir`: its path.
fn lee_model(dir: &std::path::Path, min_count: &str, seed: &str) -> std::path::PathBuf {
    let vocab = dir.join("vocab.tsv");
    ok(&[
        "vocab",
        "build",
        s(&testdata().join("gensim/lee_background.cor")),
        "-o",
        s(&vocab),
        "--min-count",
        min_count,
    ]);
    let emb = dir.join("emb.embers");
    ok(&[
        "init",
        "--vocab",
        s(&vocab),
        "--dim",
        "40",
        "--seed",
        seed,
        "-o",
        s(&emb),
    ]);
    emb
}

#[test]
fn quantize_every_kind_then_info_and_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let emb = lee_model(dir.path(), "3", "3");
    let original = vector(ok(&["lookup", s(&emb), "the", "--json"]).trim());
    let max = original.iter().fold(0.0f64, |a, v| a.max(v.abs()));

    let cases: &[(&str, &[&str], f64, f64)] = &[
        // kind, extra flags, largest size ratio (all bytes counted; compressed files store no
        // norms: f16 is exactly half, int8 a byte a value plus 4 or 8 bytes of scale and
        // offset a row of 160), per-value error bound on "the"
        ("f16", &[], 0.5, 1e-3 * max),
        ("int8", &[], 0.276, max / 127.0),
        ("int8", &["--affine"], 0.301, max / 127.0),
        (
            "pq",
            &["--subquantizers", "8", "--bits", "8", "--seed", "1"],
            0.17,
            f64::INFINITY,
        ),
    ];
    for (kind, extra, ratio, bound) in cases {
        let out = dir.path().join(format!("{kind}.embers"));
        let mut args = vec!["quantize", s(&emb), s(&out), "--to", kind, "--json"];
        args.extend_from_slice(extra);
        let report: serde_json::Value = serde_json::from_str(ok(&args).trim()).unwrap();
        assert_eq!(report["storage"], *kind);
        assert!(report["ratio"].as_f64().unwrap() <= *ratio, "{report}");

        let info: serde_json::Value =
            serde_json::from_str(ok(&["info", s(&out), "--json"]).trim()).unwrap();
        assert_eq!(info["storage"], *kind);
        assert_eq!(info["dims"], 40);
        let compression = info["compression"].as_f64().unwrap();
        assert!(
            (compression * report["ratio"].as_f64().unwrap() - 1.0).abs() < 1e-9,
            "info and quantize disagree: {info} {report}"
        );
        assert!(ok(&["info", s(&out)]).contains(&format!("storage   {kind}")));
        ok(&["verify", s(&out)]);

        let v = vector(ok(&["lookup", s(&out), "the", "--json"]).trim());
        assert_eq!(v.len(), 40);
        for (a, b) in original.iter().zip(&v) {
            assert!((a - b).abs() <= *bound, "{kind}: {a} vs {b}");
        }
        if *kind == "pq" {
            // Bytes: 8 code bytes a row and 8 codebooks of 256 × 5 f32, nothing else (the
            // norms are derived from the codes when the file is opened).
            let rows = info["rows"].as_u64().unwrap();
            assert_eq!(info["vector_bytes"], rows * 8 + 8 * 256 * 5 * 4, "{info}");
            let err = report["relative_squared_error"].as_f64().unwrap();
            assert!(err > 0.0 && err < 0.5, "{report}");
        }
    }
    // --normalize: unit rows, recorded in the metadata.
    let n = dir.path().join("norm.embers");
    let report: serde_json::Value = serde_json::from_str(
        ok(&[
            "quantize",
            s(&emb),
            s(&n),
            "--to",
            "int8",
            "--normalize",
            "--json",
        ])
        .trim(),
    )
    .unwrap();
    assert_eq!(report["quantizer"]["normalized"], true);
    let v = vector(ok(&["lookup", s(&n), "the", "--json"]).trim());
    let len = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((len - 1.0).abs() < 0.01, "{len}");

    // Decompressing gives back f32 storage with the decoded rows.
    let back = dir.path().join("back.embers");
    ok(&[
        "quantize",
        s(&dir.path().join("int8.embers")),
        s(&back),
        "--to",
        "f32",
    ]);
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&back), "--json"]).trim()).unwrap();
    assert_eq!(info["storage"], "f32");

    // The same seed gives the same file.
    let a = dir.path().join("a.embers");
    let b = dir.path().join("b.embers");
    for p in [&a, &b] {
        ok(&[
            "quantize",
            s(&emb),
            s(p),
            "--to",
            "pq",
            "-m",
            "4",
            "--bits",
            "6",
            "--seed",
            "9",
        ]);
    }
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    // OPQ: the rotation is stored, shown by `info`, and lookups and neighbour queries work on
    // the rotated codes; its error on this model is no worse than plain PQ's at the same
    // settings (the same codebooks are its starting point).
    // `quantize --to pq -m 8 --bits 6` with `extra` options: its JSON report and the file.
    let pq = |extra: &[&str]| -> (serde_json::Value, std::path::PathBuf) {
        let out = dir.path().join(format!("pq{}.embers", extra.len()));
        let mut args = vec![
            "quantize",
            s(&emb),
            s(&out),
            "--to",
            "pq",
            "-m",
            "8",
            "--bits",
            "6",
            "--seed",
            "2",
            "--json",
        ];
        args.extend_from_slice(extra);
        (serde_json::from_str(ok(&args).trim()).unwrap(), out)
    };
    let err = |report: &serde_json::Value| report["relative_squared_error"].as_f64().unwrap();
    let plain = err(&pq(&[]).0);
    let (report, opq) = pq(&["--rotation", "opq", "--opq-iterations", "3"]);
    let rotated = err(&report);
    assert!(rotated <= plain * 1.01, "OPQ {rotated} vs PQ {plain}");
    let text = ok(&["info", s(&opq)]);
    assert!(text.contains("rotation  opq, 40 × 40 orthogonal"), "{text}");
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&opq), "--json"]).trim()).unwrap();
    assert_eq!(info["rotation"]["kind"], "opq");
    assert_eq!(info["rotation"]["shape"], serde_json::json!([40, 40]));
    // The settings, then (default --opq-start auto) the start kept and both starts' errors on
    // the training sample; the kept one is the lower.
    let quantizer: serde_json::Value =
        serde_json::from_str(info["metadata"]["quantizer"].as_str().unwrap()).unwrap();
    let rot = &quantizer["rotation"];
    assert_eq!(rot["kind"], "opq");
    assert_eq!(rot["iterations"], 3);
    assert!(rot["start"].is_null(), "{rot}");
    let errs = &rot["sample_errors"];
    let (er, ep) = (
        errs["random"].as_f64().unwrap(),
        errs["pca"].as_f64().unwrap(),
    );
    let kept = if ep < er { "pca" } else { "random" };
    assert_eq!(rot["kept"], kept, "{rot}");
    assert_eq!(quantizer["subquantizers"], 8);
    // A forced start trains that start only and gives the file auto gave when it kept it.
    let (report, forced) = pq(&[
        "--rotation",
        "opq",
        "--opq-iterations",
        "3",
        "--opq-start",
        kept,
    ]);
    assert_eq!(err(&report), rotated);
    assert_eq!(report["quantizer"]["rotation"]["start"], kept);
    assert_eq!(
        report["quantizer"]["rotation"]["sample_errors"],
        serde_json::json!({ kept: errs[kept] })
    );
    let vecs = |f: &std::path::Path| ok(&["lookup", s(f), "the", "of", "and", "--json"]);
    assert_eq!(vecs(&forced), vecs(&opq));
    let plain_info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&dir.path().join("pq0.embers")), "--json"]).trim())
            .unwrap();
    assert!(plain_info["rotation"].is_null());
    ok(&["verify", s(&opq)]);
    let v = vector(ok(&["lookup", s(&opq), "the", "--json"]).trim());
    let (e2, n2) = v.iter().zip(&original).fold((0.0, 0.0), |(e, n), (a, b)| {
        (e + (a - b) * (a - b), n + b * b)
    });
    assert!(
        e2 / n2 < 0.5,
        "decoded 'the' is far from the original: {}",
        e2 / n2
    );
    // Neighbour scores come from the codes (ADC on the rotated query); each must equal the
    // cosine of the decoded vectors, which lookups rotate back with Rᵀ.
    let similar: serde_json::Value =
        serde_json::from_str(ok(&["similar", s(&opq), "the", "-k", "3", "--json"]).trim()).unwrap();
    let neighbours = similar["neighbors"].as_array().unwrap();
    assert_eq!(neighbours.len(), 3);
    for n in neighbours {
        let w = vector(ok(&["lookup", s(&opq), n["word"].as_str().unwrap(), "--json"]).trim());
        let dot: f64 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
        let norm = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
        let cos = dot / (norm(&v) * norm(&w));
        let score = n["score"].as_f64().unwrap();
        assert!(
            (cos - score).abs() < 1e-4,
            "{n}: cosine of decoded rows {cos}"
        );
    }

    // Bad arguments.
    let q = |extra: &[&str]| {
        let out = dir.path().join("bad.embers");
        let mut args = vec!["quantize", s(&emb), s(&out)];
        args.extend_from_slice(extra);
        let e = fails(&args);
        assert!(!out.exists(), "no output on error");
        e
    };
    assert!(q(&["--to", "pq", "-m", "7"]).contains("does not divide"));
    assert!(q(&["--to", "pq", "--bits", "9"]).contains("1..=8"));
    assert!(q(&["--to", "pq", "--bits", "8", "--sample", "100"]).contains("cannot train"));
    assert!(q(&["--to", "pq", "--iterations", "0"]).contains("iterations"));
    assert!(q(&["--to", "int4"]).contains("unknown storage kind"));
    assert!(q(&["--to", "int8", "--bits", "4"]).contains("only apply to --to pq"));
    assert!(q(&["--to", "pq", "--affine"]).contains("--affine"));
    assert!(q(&["--to", "int8", "--rotation", "opq"]).contains("only apply to --to pq"));
    assert!(q(&["--to", "pq", "--opq-iterations", "3"]).contains("--rotation opq"));
    assert!(
        q(&["--to", "pq", "--rotation", "opq", "--opq-iterations", "0"]).contains("opq-iterations")
    );
    assert!(q(&["--to", "pq", "--rotation", "pca"]).contains("expected none or opq"));
    let e = q(&["--to", "pq", "--rotation", "opq", "--opq-start", "best"]);
    assert!(
        e.contains("--opq-start") && e.contains("auto, random or pca"),
        "{e}"
    );
    let e = q(&["--to", "pq", "--opq-start", "pca"]);
    assert!(
        e.contains("--opq-start only applies with --rotation opq"),
        "{e}"
    );
    let e = q(&["--to", "int8", "--opq-start", "pca"]);
    assert!(e.contains("only apply to --to pq"), "{e}");
    let missing = fails(&["quantize", "/nonexistent/x.embers", s(&a), "--to", "f16"]);
    assert!(missing.contains("/nonexistent/x.embers"), "{missing}");
}

#[test]
fn quantize_to_rq_then_info_lookup_similar_and_analogy() {
    let dir = tempfile::tempdir().unwrap();
    let emb = lee_model(dir.path(), "3", "3");
    // `quantize --to rq -m 6 --beam 3 --refine 1 --iterations 8 --seed 1` into `out` with
    // `extra` options: its JSON report.
    let rq = |out: &std::path::Path, extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "quantize",
            s(&emb),
            s(out),
            "--to",
            "rq",
            "-m",
            "6",
            "--beam",
            "3",
            "--refine",
            "1",
            "--iterations",
            "8",
            "--seed",
            "1",
            "--json",
        ];
        args.extend_from_slice(extra);
        serde_json::from_str(ok(&args).trim()).unwrap()
    };
    let out = dir.path().join("rq.embers");
    let report = rq(&out, &[]);
    assert_eq!(report["storage"], "rq");
    assert_eq!(
        report["quantizer"],
        serde_json::json!({"kind": "rq", "subquantizers": 6, "bits": 8, "beam": 3,
            "sample": 65536, "iterations": 8, "refine": 1, "seed": 1,
            "objective": {"kind": "l2"}, "codebook_dtype": "f32"})
    );
    let err = report["relative_squared_error"].as_f64().unwrap();
    assert!(err > 0.0 && err < 0.9, "{report}");
    // The same codes trained by local search (what `--to lsq` sets to 25 rounds).
    let lsq = rq(&dir.path().join("lsq.embers"), &["--local-search", "2"]);
    assert_eq!(lsq["quantizer"]["local_search"], 2, "{lsq}");
    let e2 = lsq["relative_squared_error"].as_f64().unwrap();
    assert!(e2 > 0.0 && e2 < 0.9, "{lsq}");
    let bad = fails(&[
        "quantize",
        s(&emb),
        s(&dir.path().join("x.embers")),
        "--to",
        "lsq",
        "--objective",
        "cosine",
    ]);
    assert!(bad.contains("local_search") && bad.contains("l2"), "{bad}");

    // Bytes: 6 code bytes a row and 6 codebooks of 256 × 40 f32, nothing else (no norms).
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&out), "--json"]).trim()).unwrap();
    assert_eq!(info["storage"], "rq");
    assert_eq!(info["dims"], 40);
    let rows = info["rows"].as_u64().unwrap();
    assert_eq!(info["vector_bytes"], rows * 6 + 6 * 256 * 40 * 4, "{info}");
    assert!(ok(&["info", s(&out)]).contains("storage   rq"));
    ok(&["verify", s(&out)]);

    // Neighbour scores come from the codes (one lookup table a query); each must equal the
    // cosine of the decoded vectors that lookups return.
    let v = vector(ok(&["lookup", s(&out), "the", "--json"]).trim());
    assert_eq!(v.len(), 40);
    let similar: serde_json::Value =
        serde_json::from_str(ok(&["similar", s(&out), "the", "-k", "3", "--json"]).trim()).unwrap();
    let neighbours = similar["neighbors"].as_array().unwrap();
    assert_eq!(neighbours.len(), 3);
    let norm = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
    for n in neighbours {
        let w = vector(ok(&["lookup", s(&out), n["word"].as_str().unwrap(), "--json"]).trim());
        let dot: f64 = v.iter().zip(&w).map(|(a, b)| a * b).sum();
        let cos = dot / (norm(&v) * norm(&w));
        let score = n["score"].as_f64().unwrap();
        assert!(
            (cos - score).abs() < 1e-4,
            "{n}: cosine of decoded rows {cos}"
        );
    }
    // Analogies run on the codes too.
    let a: serde_json::Value =
        serde_json::from_str(ok(&["analogy", s(&out), "the", "of", "and", "--json"]).trim())
            .unwrap();
    assert!(!a.to_string().is_empty());

    // Decompressing gives the decoded rows.
    let back = dir.path().join("back.embers");
    ok(&["quantize", s(&out), s(&back), "--to", "f32"]);
    let w = vector(ok(&["lookup", s(&back), "the", "--json"]).trim());
    for (a, b) in v.iter().zip(&w) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }

    // Bad arguments.
    let q = |extra: &[&str]| {
        let bad = dir.path().join("bad.embers");
        let mut args = vec!["quantize", s(&emb), s(&bad)];
        args.extend_from_slice(extra);
        let e = fails(&args);
        assert!(!bad.exists(), "no output on error");
        e
    };
    assert!(q(&["--to", "rq", "--beam", "0"]).contains("beam"));
    assert!(q(&["--to", "rq", "-m", "0"]).contains("subquantizers"));
    assert!(q(&["--to", "rq", "--bits", "9"]).contains("1..=8"));
    assert!(q(&["--to", "pq", "--beam", "3"]).contains("only apply to --to rq"));
    assert!(q(&["--to", "rq", "--rotation", "opq"]).contains("only apply to --to pq"));
    assert!(q(&["--to", "rq", "--objective", "angle"]).contains("--objective"));
    assert!(q(&["--to", "rq", "--codebook-dtype", "f8"]).contains("--codebook-dtype"));
    assert!(q(&[
        "--to",
        "rq",
        "--objective",
        "cosine",
        "--parallel-weight",
        "2"
    ])
    .contains("--parallel-weight"));
    assert!(q(&["--to", "rq", "--parallel-weight", "0.5"]).contains("--objective cosine"));
    assert!(q(&["--to", "pq", "--codebook-dtype", "f16"]).contains("only apply to --to rq"));

    // Half-precision codebooks and the cosine objective: 2 bytes a codebook value, all counted.
    let half = dir.path().join("rq16.embers");
    let report = rq(
        &half,
        &[
            "--objective",
            "cosine",
            "--parallel-weight",
            "0.25",
            "--codebook-dtype",
            "f16",
        ],
    );
    assert_eq!(
        report["quantizer"]["objective"],
        serde_json::json!({"kind": "cosine", "parallel_weight": 0.25})
    );
    assert_eq!(report["quantizer"]["codebook_dtype"], "f16");
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&half), "--json"]).trim()).unwrap();
    assert_eq!(info["vector_bytes"], rows * 6 + 6 * 256 * 40 * 2, "{info}");
    ok(&["verify", s(&half)]);
    let h = vector(ok(&["lookup", s(&half), "the", "--json"]).trim());
    assert_eq!(h.len(), 40);
    // A truncated RQ file is an error naming it, for every command that opens it.
    let bytes = std::fs::read(&out).unwrap();
    let cut = dir.path().join("cut.embers");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    for cmd in [
        vec!["lookup", s(&cut), "the"],
        vec!["similar", s(&cut), "the"],
        vec!["info", s(&cut)],
    ] {
        let e = fails(&cmd);
        assert!(e.contains("cut.embers"), "{cmd:?}: {e}");
    }
}

#[test]
fn four_bit_pq_is_packed_and_similar_answers_the_same_by_both_scans() {
    let dir = tempfile::tempdir().unwrap();
    let emb = lee_model(dir.path(), "2", "5");
    // m = 5 (odd): 3 code bytes a row.
    let out = dir.path().join("pq4.embers");
    ok(&[
        "quantize",
        s(&emb),
        s(&out),
        "--to",
        "pq",
        "-m",
        "5",
        "--bits",
        "4",
        "--seed",
        "2",
    ]);
    ok(&["verify", s(&out)]);
    let info: serde_json::Value =
        serde_json::from_str(ok(&["info", s(&out), "--json"]).trim()).unwrap();
    let rows = info["rows"].as_u64().unwrap();
    assert_eq!(info["vector_bytes"], rows * 3 + 5 * 16 * 8 * 4, "{info}");
    let words = ["the", "of", "and", "to", "in", "said"];
    let mut fast = vec!["similar", s(&out), "--json", "-k", "10", "--"];
    fast.extend_from_slice(&words);
    let mut float = vec![
        "similar",
        s(&out),
        "--json",
        "-k",
        "10",
        "--float-adc",
        "--",
    ];
    float.extend_from_slice(&words);
    let (a, b) = (ok(&fast), ok(&float));
    assert_eq!(a.lines().count(), words.len());
    assert_eq!(
        a, b,
        "the fast scan and the f32 tables answer the same, scores included"
    );
}
