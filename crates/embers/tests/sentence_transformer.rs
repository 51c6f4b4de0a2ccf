//! sentence-transformers' all-MiniLM-L6-v2 run by embers' encoder against an independent float64
//! numpy forward pass of the same folder (scripts/sentence_transformer_reference.py: Python
//! `tokenizers`, one padded batch with an attention mask, no torch), on texts chosen to cover
//! short, empty, unicode and over-long inputs.

use std::path::{Path, PathBuf};

use embers::sentence::{SentenceTransformer, TokenPooling};
use serde_json::Value;

fn minilm() -> PathBuf {
    embers_testkit::testdata("minilm/modules.json").join("minilm")
}

fn reference(dir: &Path, texts: &[String]) -> (Vec<Vec<u32>>, Vec<Vec<f64>>) {
    let out = embers_testkit::run_script(
        "sentence_transformer_reference.py",
        &[dir.as_os_str()],
        serde_json::to_string(texts).unwrap().as_bytes(),
    );
    let v: Value = serde_json::from_slice(&out).unwrap();
    (
        serde_json::from_value(v["ids"].clone()).unwrap(),
        serde_json::from_value(v["vectors"].clone()).unwrap(),
    )
}

fn texts() -> Vec<String> {
    let mut t: Vec<String> = [
        "",
        "a",
        "Hello world!",
        "The quick brown fox jumps over the lazy dog.",
        "A man is playing a guitar.",
        "Someone is playing an instrument.",
        "The cat sits outside",
        "The new movie is awesome",
        "I love pasta.",
        "Do you like pizza?",
        "naïve café résumé façade",
        "Übergrößenträger straße",
        "東京は日本の首都です。",
        "北京欢迎你",
        "Привет, как дела?",
        "مرحبا بالعالم",
        "emoji 🎉🚀 party",
        "   leading and trailing spaces   ",
        "tabs\tand\nnewlines",
        "UPPER CASE TEXT",
        "numbers 1234567890 and 3.14159",
        "punctuation!!! ??? ... ,,, ;;;",
        "e-mail: someone@example.com, url: https://example.org/path?q=1",
        "unbelievably antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "[CLS] [SEP] [PAD] [MASK] special tokens in text",
        "x",
        "?",
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
        "Machine learning models encode sentences into vectors.",
        "Vectors close in space have similar meanings.",
        "ÀÉÎÕÜ àéîõü",
        "ﬁ ligature and ﬀ",
        "zero\u{200b}width space",
        "Ελληνικά κείμενα",
        "한국어 문장입니다",
        "mixed English и русский 和中文",
        "1",
        "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Past max_seq_length (256 tokens) and past the tokenizer.json's own 128.
    t.push("word ".repeat(300));
    t.push("The history of the city goes back centuries, ".repeat(30));
    t.push("token ".repeat(127));
    t.push("token ".repeat(200));
    t.push("unicode überall ✓ ".repeat(80));
    for k in 0..5 {
        t.push(format!(
            "sentence number {k} with some words about {}",
            ["cats", "dogs", "stocks", "rain", "music"][k]
        ));
    }
    t
}

#[test]
fn minilm_matches_numpy_forward() {
    let dir = minilm();
    let model = SentenceTransformer::load(&dir).unwrap();
    assert_eq!(model.dims(), 384);
    assert_eq!(model.max_seq_length(), 256);
    assert_eq!(model.pooling(), &[TokenPooling::Mean]);
    assert!(model.normalize());
    let texts = texts();
    assert!(texts.len() >= 50);
    let (ids, want) = reference(&dir, &texts);
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(model.tokenize(t).unwrap().ids, ids[i], "{t:?}");
    }
    assert_eq!(
        ids[texts.len() - 10].len(),
        256,
        "the long texts are cut at 256"
    );
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = model.encode(&refs).unwrap();
    let mut worst = 0f64;
    for (i, w) in want.iter().enumerate() {
        for (j, &x) in w.iter().enumerate() {
            let d = (got.row(i)[j] as f64 - x).abs();
            assert!(d < 1e-4, "{:?} dim {j}: {} vs {x}", texts[i], got.row(i)[j]);
            worst = worst.max(d);
        }
    }
    eprintln!(
        "minilm: {} texts, worst |embers - numpy float64| = {worst:.3e}",
        texts.len()
    );
    // Batching does not change a text's vector beyond rounding: one at a time.
    for (i, t) in refs.iter().enumerate().step_by(7) {
        let one = model.encode_one(t).unwrap();
        for (a, b) in one.iter().zip(got.row(i)) {
            assert!((a - b).abs() < 1e-5);
        }
    }
}

#[test]
fn pooling_modes_cls_and_max_match_numpy() {
    // The same folder with a different Pooling config and no Normalize.
    let src = minilm();
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentence_bert_config.json",
    ] {
        std::os::unix::fs::symlink(src.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::create_dir(tmp.path().join("1_Pooling")).unwrap();
    std::fs::write(
        tmp.path().join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": true,
            "pooling_mode_max_tokens": true, "pooling_mode_mean_tokens": false}"#,
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#,
    )
    .unwrap();
    let model = SentenceTransformer::load(tmp.path()).unwrap();
    assert_eq!(model.pooling(), &[TokenPooling::Cls, TokenPooling::Max]);
    assert!(!model.normalize());
    assert_eq!(model.dims(), 768);
    let texts: Vec<String> = [
        "",
        "short",
        "a somewhat longer sentence, with commas",
        "ünïcödé",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (_, want) = reference(tmp.path(), &texts);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = model.encode(&refs).unwrap();
    for (i, w) in want.iter().enumerate() {
        for (j, &x) in w.iter().enumerate() {
            assert!((got.row(i)[j] as f64 - x).abs() < 1e-4, "{i} {j}");
        }
    }
}

#[test]
fn bad_folders_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(SentenceTransformer::load(tmp.path()).is_err());
    std::fs::write(tmp.path().join("modules.json"), "not json").unwrap();
    let e = SentenceTransformer::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("modules.json"), "{e}");
    std::fs::write(
        tmp.path().join("modules.json"),
        r#"[{"path":"../x","type":"sentence_transformers.models.Transformer"}]"#,
    )
    .unwrap();
    let e = SentenceTransformer::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a folder inside"), "{e}");
    std::fs::write(
        tmp.path().join("modules.json"),
        r#"[{"path":"","type":"sentence_transformers.models.Transformer"},
            {"path":"2_Dense","type":"sentence_transformers.models.Dense"}]"#,
    )
    .unwrap();
    // A Dense module whose folder is missing.
    let e = SentenceTransformer::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("2_Dense"), "{e}");
    std::fs::write(
        tmp.path().join("modules.json"),
        r#"[{"path":"","type":"sentence_transformers.models.Transformer"},
            {"path":"2_LayerNorm","type":"sentence_transformers.models.LayerNorm"}]"#,
    )
    .unwrap();
    let e = SentenceTransformer::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not supported"), "{e}");
}

/// A `model.safetensors` of F32 tensors (name, shape, values), written here.
fn write_safetensors(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for (name, shape, values) in tensors {
        let end = offset + values.len() * 4;
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}),
        );
        offset = end;
    }
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut bytes = (h.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&h);
    for (_, _, values) in tensors {
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn dense_modules_match_numpy() {
    // all-MiniLM-L6-v2 with mean pooling, Dense 384→96 (Tanh, bias), Dense 96→32 (GELU, no
    // bias), Normalize: sentence-transformers' Dense modules with random weights.
    let src = minilm();
    let tmp = tempfile::tempdir().unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "sentence_bert_config.json",
    ] {
        std::os::unix::fs::symlink(src.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::create_dir(tmp.path().join("1_Pooling")).unwrap();
    std::fs::write(
        tmp.path().join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#,
    )
    .unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = |n: usize, scale: f32| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    };
    for (folder, cfg, tensors) in [
        (
            "2_Dense",
            r#"{"in_features": 384, "out_features": 96, "bias": true,
                "activation_function": "torch.nn.modules.activation.Tanh"}"#,
            vec![
                ("linear.weight", vec![96, 384], uniform(96 * 384, 0.3)),
                ("linear.bias", vec![96], uniform(96, 0.1)),
            ],
        ),
        (
            "3_Dense",
            r#"{"in_features": 96, "out_features": 32, "bias": false,
                "activation_function": "torch.nn.modules.activation.GELU"}"#,
            vec![("linear.weight", vec![32, 96], uniform(32 * 96, 0.3))],
        ),
    ] {
        let d = tmp.path().join(folder);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("config.json"), cfg).unwrap();
        write_safetensors(&d.join("model.safetensors"), &tensors);
    }
    std::fs::write(
        tmp.path().join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
            {"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"},
            {"idx":3,"name":"3","path":"3_Dense","type":"sentence_transformers.models.Dense"},
            {"idx":4,"name":"4","path":"4_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
    )
    .unwrap();
    let model = SentenceTransformer::load(tmp.path()).unwrap();
    assert_eq!(model.dims(), 32);
    assert_eq!(model.dense().len(), 2);
    let texts = texts();
    let (_, want) = reference(tmp.path(), &texts);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = model.encode(&refs).unwrap();
    let mut worst = 0f64;
    for (i, w) in want.iter().enumerate() {
        assert_eq!(w.len(), 32);
        for (j, &x) in w.iter().enumerate() {
            worst = worst.max((got.row(i)[j] as f64 - x).abs());
        }
    }
    eprintln!(
        "Dense modules: worst difference {worst:.2e} over {} texts",
        texts.len()
    );
    assert!(worst < 1e-4, "{worst}");

    // Bad Dense modules are clear errors.
    std::fs::write(
        tmp.path().join("3_Dense/config.json"),
        r#"{"in_features": 95, "out_features": 32, "bias": false}"#,
    )
    .unwrap();
    let err = SentenceTransformer::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linear.weight") && err.contains("shape"),
        "{err}"
    );
    std::fs::write(
        tmp.path().join("3_Dense/config.json"),
        r#"{"in_features": 96, "out_features": 32, "bias": false,
            "activation_function": "torch.nn.modules.activation.Softsign"}"#,
    )
    .unwrap();
    let err = SentenceTransformer::load(tmp.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Softsign"), "{err}");
}
