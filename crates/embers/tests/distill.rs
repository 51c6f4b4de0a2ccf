//! model2vec's distillation recipe run by embers on all-MiniLM-L6-v2 against a float64 numpy
//! reimplementation of the same recipe on the same 300 tokens (scripts/distill_reference.py:
//! numpy forward pass, eigh PCA, model2vec's weights; no torch, no model2vec), and the written
//! folder read back by embers' static model loader.

use std::path::{Path, PathBuf};

use embers::sentence::{distill, DistillOptions, SentenceTransformer, StaticModel, Weighting};
use serde_json::Value;

fn minilm() -> PathBuf {
    embers_testkit::testdata("minilm/modules.json").join("minilm")
}

fn reference(dir: &Path, limit: usize, dims: usize, weighting: &str) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/distill_reference.py");
    let out = embers_testkit::python()
        .arg(&script)
        .arg(dir)
        .args([limit.to_string(), dims.to_string(), weighting.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "distill_reference.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn distilled_vectors_match_numpy_recipe() {
    let dir = minilm();
    let model = SentenceTransformer::load(&dir).unwrap();
    let tok = dir.join("tokenizer.json");
    for (weighting, name) in [(Weighting::Sif(1e-4), "sif"), (Weighting::Zipf, "zipf")] {
        let opts = DistillOptions {
            dims: Some(32),
            weighting,
            vocabulary: Vec::new(),
            limit: Some(300),
        };
        let d = distill(model.encoder(), &tok, &opts, &|_| {}).unwrap();
        let want = reference(&dir, 300, 32, name);
        let tokens: Vec<String> = serde_json::from_value(want["tokens"].clone()).unwrap();
        assert_eq!(d.tokens, tokens);
        assert!(!d.tokens.iter().any(|t| t.starts_with("[unused")));
        let rows: Vec<Vec<f64>> = serde_json::from_value(want["vectors"].clone()).unwrap();
        assert_eq!(d.vectors.rows(), 300);
        assert_eq!(d.vectors.dims(), 32);
        let explained = want["explained"].as_f64().unwrap();
        assert!(
            (d.explained - explained).abs() < 1e-5,
            "{} vs {explained}",
            d.explained
        );
        // Components are defined up to sign: align each column, then compare.
        let mut worst = 0f64;
        let scale = rows.iter().flatten().fold(0f64, |m, &x| m.max(x.abs()));
        for c in 0..32 {
            let dot: f64 = rows
                .iter()
                .enumerate()
                .map(|(r, w)| d.vectors.row(r)[c] as f64 * w[c])
                .sum();
            let sign = dot.signum();
            for (r, w) in rows.iter().enumerate() {
                worst = worst.max((d.vectors.row(r)[c] as f64 - sign * w[c]).abs());
            }
        }
        eprintln!(
            "distill {name}: worst |embers - numpy| = {worst:.3e} (largest |value| {scale:.3})"
        );
        assert!(worst < 1e-3 * scale.max(1.0), "{name}: worst {worst}");
    }
}

#[test]
fn written_folder_loads_as_a_static_model() {
    let dir = minilm();
    let model = SentenceTransformer::load(&dir).unwrap();
    let limited = DistillOptions {
        dims: Some(16),
        weighting: Weighting::Sif(1e-4),
        vocabulary: Vec::new(),
        limit: Some(3000),
    };
    let d = distill(
        model.encoder(),
        &dir.join("tokenizer.json"),
        &limited,
        &|_| {},
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    d.write_model2vec(tmp.path()).unwrap();
    let m = StaticModel::load(tmp.path()).unwrap();
    assert_eq!(m.dims(), 16);
    assert_eq!(m.rows(), 3000);
    // A one-token text is its row, normalised.
    let i = d.tokens.iter().position(|t| t == "!").unwrap();
    let v = m.encode_one("!").unwrap();
    let row = d.vectors.row(i);
    let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
    for (a, b) in v.iter().zip(row) {
        assert!((a - b / n).abs() < 1e-6);
    }
    let emb = d.to_embeddings().unwrap();
    assert_eq!(emb.len(), 3000);
}

#[test]
fn extra_words_join_the_vocabulary() {
    let dir = minilm();
    let model = SentenceTransformer::load(&dir).unwrap();
    let opts = DistillOptions {
        dims: None,
        weighting: Weighting::None,
        vocabulary: vec![
            "Zeppelinesque".into(),
            "".into(),
            "the".into(),
            " ! ".into(),
            "hello world".into(),
            "Zürichesque".into(),
        ],
        limit: Some(20),
    };
    let d = distill(model.encoder(), &dir.join("tokenizer.json"), &opts, &|_| {}).unwrap();
    // "the" and "!" are tokens of the model already; the empty line and the two-word line
    // (never matched whole by the pre-tokenizer) are skipped; words are normalised as the
    // tokenizer does (lower case, accents stripped).
    assert_eq!(d.tokens.len(), 22, "{:?}", &d.tokens[20..]);
    assert_eq!(d.tokens[20], "zeppelinesque");
    assert_eq!(d.tokens[21], "zurichesque");
    let ids = &d.inputs[20];
    assert!(ids.len() > 3, "split into pieces: {ids:?}");
    // Its vector is the mean of its pieces' last hidden states (numpy forward).
    let out = embers_testkit::run_script(
        "sentence_transformer_reference.py",
        &[dir.as_os_str(), "--forward-ids".as_ref()],
        serde_json::to_string(&[ids, &d.inputs[5]])
            .unwrap()
            .as_bytes(),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    let want: Vec<Vec<f64>> = serde_json::from_value(v["mean"].clone()).unwrap();
    for (row, w) in [20, 5].iter().zip(&want) {
        for (a, b) in d.vectors.row(*row).iter().zip(w) {
            assert!((*a as f64 - b).abs() < 1e-4, "{a} vs {b}");
        }
    }
}
