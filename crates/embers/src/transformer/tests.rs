//! Tests of the transformer input layer: all-MiniLM-L6-v2 against an independent reference
//! (Python `tokenizers` + numpy in float64, run by `scripts/transformer_reference.py` in the
//! test), and small GPT-2, RoBERTa and Llama checkpoints built here with known weights, checked
//! against the same reference and against values computed by hand.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use half::{bf16, f16};
use serde_json::{json, Value};

use super::*;
use crate::io::safetensors::{bytes_of, write, Dtype, TensorOut};

fn testdata() -> PathBuf {
    embers_testkit::testdata("minilm/model.safetensors")
}

/// Runs the independent Python reference on `cases` for the model folder `dir`.
fn python_reference(dir: &Path, cases: &Value) -> Vec<Value> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/transformer_reference.py");
    let mut child = embers_testkit::python()
        .arg(&script)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the reference Python runs (scripts/test.sh sets it up)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(cases.to_string().as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "reference failed (needs: pip install tokenizers numpy): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Compares one of our outputs with a reference case: tokens, ids, type ids exactly, vectors
/// within `tol`. Returns the largest absolute difference.
fn compare(model: &InputEmbeddings, case: &Value, reference: &Value, tol: f64) -> f64 {
    let text = case["text"].as_str().unwrap();
    let pair = case["pair"].as_str();
    let (enc, m) = model.embed_text(text, pair).unwrap();
    let tokens: Vec<String> = serde_json::from_value(reference["tokens"].clone()).unwrap();
    assert_eq!(enc.tokens, tokens, "{text}");
    assert_eq!(enc.ids, u32s(&reference["ids"]), "{text}");
    assert_eq!(enc.type_ids, u32s(&reference["type_ids"]), "{text}");
    match model.position_ids(&enc.ids) {
        Some(p) => assert_eq!(p, u32s(&reference["position_ids"]), "{text}"),
        None => assert!(reference["position_ids"].is_null()),
    }
    let rows = reference["embeddings"].as_array().unwrap();
    assert_eq!(m.rows(), rows.len());
    let mut worst = 0f64;
    for (t, row) in rows.iter().enumerate() {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), m.dims());
        for (j, v) in row.iter().enumerate() {
            let d = (m.row(t)[j] as f64 - v.as_f64().unwrap()).abs();
            assert!(
                d <= tol,
                "{text}: token {t} dim {j}: {} vs {v}",
                m.row(t)[j]
            );
            worst = worst.max(d);
        }
    }
    worst
}

#[test]
fn minilm_matches_python_tokenizers_and_numpy() {
    let dir = testdata().join("minilm");
    let mut model = InputEmbeddings::from_dir(&dir).unwrap();
    assert_eq!(model.family(), Family::Bert);
    assert_eq!(model.hidden_size(), 384);
    let long = "the quick brown fox jumps over the lazy dog again and again ".repeat(20);
    let cases = json!([
        {"text": "The king spoke to the queen.", "pair": null},
        {"text": "Embedding layers map token ids to dense vectors.", "pair": null},
        {"text": "How old are you?", "pair": "I am six years old."},
        {"text": "Unbelievably, tokenization splits rare words into word-pieces!", "pair": null},
        {"text": "Café déjà vu: naïve façade.", "pair": null},
        {"text": "1234567890 + 42 = ?", "pair": null},
        {"text": "日本語のテキストと emoji 🙂 and [MASK] tokens", "pair": null},
        {"text": long, "pair": "a second segment that is also cut"},
        {"text": "", "pair": null},
    ]);
    let reference = python_reference(&dir, &cases);
    let mut worst = 0f64;
    for (case, r) in cases.as_array().unwrap().iter().zip(&reference) {
        worst = worst.max(compare(&model, case, r, 1e-5));
    }
    assert!(worst < 1e-5, "{worst}");
    // The long pair is cut to tokenizer.json's 128 tokens, and says so.
    let enc = model
        .encode(&long, Some("a second segment that is also cut"))
        .unwrap();
    assert_eq!(enc.len(), 128);
    assert!(enc.truncated);

    // Padding is off by default and available on request (tokenizer.json pads to 128).
    assert_eq!(model.encode("hello", None).unwrap().len(), 3);
    model.set_padding(true).unwrap();
    let padded = json!([{"text": "hello world", "pair": null, "pad": true}]);
    let reference = python_reference(&dir, &padded);
    compare(&model, &padded[0], &reference[0], 1e-5);
    let enc = model.encode("hello world", None).unwrap();
    assert_eq!(enc.len(), 128);
    assert_eq!(enc.attention_mask.iter().sum::<u32>(), 4);

    // Without truncation, text longer than 512 positions is a clear error.
    model.set_padding(false).unwrap();
    model.set_truncation(Truncation::Off).unwrap();
    let very_long = "word ".repeat(600);
    let e = model.encode(&very_long, None).unwrap_err().to_string();
    assert!(e.contains("602 tokens") && e.contains("512"), "{e}");
    let enc = model.encode(&long, None).unwrap();
    assert!(enc.len() > 128 && !enc.truncated);
    model.set_truncation(Truncation::ToModel).unwrap();
    assert_eq!(model.encode(&very_long, None).unwrap().len(), 512);
}

#[test]
fn minilm_batch_equals_one_by_one_and_export_stays_mapped() {
    let dir = testdata().join("minilm");
    let model = InputEmbeddings::from_dir(&dir).unwrap();
    let lines = ["first line", "the second line is longer", "", "ünïcödé"];
    let batch = model.embed_lines(&lines);
    for (line, r) in lines.iter().zip(batch) {
        let (enc, m) = r.unwrap();
        let (enc1, m1) = model.embed_text(line, None).unwrap();
        assert_eq!(enc, enc1);
        assert_eq!(m.as_slice(), m1.as_slice());
    }
    let emb = export_token_embeddings(&dir).unwrap();
    assert_eq!(emb.len(), 30522);
    assert_eq!(emb.dims(), 384);
    assert!(emb.storage().as_dense().unwrap().is_mapped());
    let king = emb.vocab().id("king").unwrap();
    assert_eq!(king, 2332);
    assert_eq!(
        emb.vector(king).unwrap(),
        model.word_embeddings().row_f32(2332)
    );
    assert_eq!(emb.vocab().unk_id(), Some(100));
}

// ---- small checkpoints with known weights ----

fn write_model(dir: &Path, config: Value, tokenizer: &Value, tensors: &[TensorOut<'_>]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    write(
        dir.join("model.safetensors"),
        tensors,
        &Default::default(),
        None,
    )
    .unwrap();
}

fn f16_bytes(v: &[f32]) -> Vec<u8> {
    let h: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
    bytes_of(&h).to_vec()
}

fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    let h: Vec<bf16> = v.iter().map(|&x| bf16::from_f32(x)).collect();
    bytes_of(&h).to_vec()
}

/// A value per (row, column) that is not exactly representable in 16-bit floats.
fn weight(seed: usize, i: usize, j: usize) -> f32 {
    (((seed * 31 + i * 7 + j * 3) % 11) as f32) / 9.0 - 0.5
}

fn gpt2_tokenizer() -> Value {
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 0, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": {"<|endoftext|>": 0, "h": 1, "e": 2, "l": 3, "o": 4, "Ġ": 5, "w": 6, "r": 7,
                            "d": 8, "he": 9, "ll": 10, "hell": 11, "hello": 12, "Ġw": 13, "or": 14,
                            "Ġwor": 15, "ld": 16, "Ġworld": 17},
                  "merges": ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld"]}
    })
}

fn gpt2_model(dir: &Path) -> (Vec<f32>, Vec<f32>) {
    let (vocab, positions, h) = (18, 8, 4);
    let wte: Vec<f32> = (0..vocab * h).map(|k| weight(1, k / h, k % h)).collect();
    let wpe: Vec<f32> = (0..positions * h)
        .map(|k| weight(2, k / h, k % h))
        .collect();
    write_model(
        dir,
        json!({"model_type": "gpt2", "n_embd": h, "n_positions": positions, "vocab_size": vocab,
               "layer_norm_epsilon": 1e-5}),
        &gpt2_tokenizer(),
        &[
            TensorOut::new(
                "transformer.wte.weight",
                Dtype::F16,
                vec![vocab, h],
                f16_bytes(&wte),
            ),
            TensorOut::new(
                "transformer.wpe.weight",
                Dtype::F16,
                vec![positions, h],
                f16_bytes(&wpe),
            ),
            TensorOut::new(
                "transformer.ln_f.weight",
                Dtype::F16,
                vec![h],
                f16_bytes(&[1.0; 4]),
            ),
        ],
    );
    (wte, wpe)
}

#[test]
fn gpt2_f16_layout_matches_reference_and_hand_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gpt2");
    let (wte, wpe) = gpt2_model(&dir);
    let model = InputEmbeddings::from_dir(&dir).unwrap();
    assert_eq!(model.family(), Family::Gpt2);
    let cases =
        json!([{"text": "hello world", "pair": null}, {"text": "hello hello world", "pair": null}]);
    let reference = python_reference(&dir, &cases);
    for (case, r) in cases.as_array().unwrap().iter().zip(&reference) {
        compare(&model, case, r, 1e-6);
    }
    // By hand: "hello world" is [hello, Ġworld] = [12, 17]; output = f16(wte[id]) + f16(wpe[t]).
    let (enc, m) = model.embed_text("hello world", None).unwrap();
    assert_eq!(enc.tokens, ["hello", "Ġworld"]);
    assert_eq!(enc.ids, [12, 17]);
    let r = |x: f32| f16::from_f32(x).to_f32();
    for (t, &id) in [12usize, 17].iter().enumerate() {
        for j in 0..4 {
            assert_eq!(m.row(t)[j], r(wte[id * 4 + j]) + r(wpe[t * 4 + j]));
        }
    }
    // Longer than 8 positions and no truncation in tokenizer.json: a clear error...
    let e = model
        .embed_text(&"hello ".repeat(9), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("18 tokens") && e.contains("positions for 8"),
        "{e}"
    );
    // ...or cut to the model's length on request.
    let mut model = model;
    model.set_truncation(Truncation::ToModel).unwrap();
    let (enc, m) = model.embed_text(&"hello ".repeat(9), None).unwrap();
    assert_eq!((enc.len(), m.rows(), enc.truncated), (8, 8, true));

    // Export: the vocabulary in id order, rows converted from f16.
    let out = tmp.path().join("gpt2-vocab.safetensors");
    export_vocab(&dir, &out).unwrap();
    let emb = crate::io::native::open(&out).unwrap();
    assert_eq!(emb.len(), 18);
    assert_eq!(emb.vocab().token(17), Some("Ġworld"));
    assert_eq!(emb.vocab().token(0), Some("<|endoftext|>"));
    let v = emb.get("Ġworld").unwrap();
    assert_eq!(v, (0..4).map(|j| r(wte[17 * 4 + j])).collect::<Vec<_>>());
    assert_eq!(emb.metadata()["source.dtype"], "F16");
}

fn roberta_tokenizer(pad_to: usize) -> Value {
    json!({
        "version": "1.0", "truncation": null,
        "padding": {"strategy": {"Fixed": pad_to}, "direction": "Right", "pad_to_multiple_of": null,
                    "pad_id": 1, "pad_type_id": 0, "pad_token": "<pad>"},
        "added_tokens": [
            {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0],
                           "trim_offsets": true, "add_prefix_space": false},
        "decoder": null,
        "model": {"type": "WordLevel", "unk_token": "<unk>",
                  "vocab": {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "the": 4, "cat": 5, "sat": 6,
                            "on": 7, "mat": 8}}
    })
}

/// RoBERTa with hidden 6, 14 positions (12 usable after padding_idx 1), one token type.
fn roberta_model(dir: &Path) {
    let (vocab, positions, h) = (9, 14, 6);
    let word: Vec<f32> = (0..vocab * h).map(|k| weight(3, k / h, k % h)).collect();
    let pos: Vec<f32> = (0..positions * h)
        .map(|k| weight(4, k / h, k % h) * 0.5)
        .collect();
    let ty: Vec<f32> = (0..h).map(|j| 0.01 * j as f32).collect();
    let gamma: Vec<f32> = (0..h).map(|j| 1.0 + 0.1 * j as f32).collect();
    let beta: Vec<f32> = (0..h).map(|j| -0.05 * j as f32).collect();
    let b = |v: &[f32]| bytes_of(v).to_vec();
    write_model(
        dir,
        json!({"model_type": "roberta", "hidden_size": h, "vocab_size": vocab,
               "max_position_embeddings": positions, "type_vocab_size": 1, "pad_token_id": 1,
               "layer_norm_eps": 1e-5}),
        &roberta_tokenizer(10),
        &[
            TensorOut::new(
                "roberta.embeddings.word_embeddings.weight",
                Dtype::F32,
                vec![vocab, h],
                b(&word),
            ),
            TensorOut::new(
                "roberta.embeddings.position_embeddings.weight",
                Dtype::F32,
                vec![positions, h],
                b(&pos),
            ),
            TensorOut::new(
                "roberta.embeddings.token_type_embeddings.weight",
                Dtype::F32,
                vec![1, h],
                b(&ty),
            ),
            TensorOut::new(
                "roberta.embeddings.LayerNorm.weight",
                Dtype::F32,
                vec![h],
                b(&gamma),
            ),
            TensorOut::new(
                "roberta.embeddings.LayerNorm.bias",
                Dtype::F32,
                vec![h],
                b(&beta),
            ),
        ],
    );
}

#[test]
fn roberta_positions_start_after_padding_and_padding_keeps_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("roberta");
    roberta_model(&dir);
    let mut model = InputEmbeddings::from_dir(&dir).unwrap();
    assert_eq!(model.family(), Family::Roberta);
    assert_eq!(model.config().max_tokens(), 12);
    let cases = json!([
        {"text": "the cat sat", "pair": null},
        {"text": "the cat", "pair": "sat on the mat"},
    ]);
    let reference = python_reference(&dir, &cases);
    for (case, r) in cases.as_array().unwrap().iter().zip(&reference) {
        compare(&model, case, r, 1e-5);
    }
    // Padding on request: pads keep padding_idx as their position.
    model.set_padding(true).unwrap();
    let enc = model.encode("the cat sat", None).unwrap();
    assert_eq!(enc.ids, [0, 4, 5, 6, 2, 1, 1, 1, 1, 1]);
    assert_eq!(
        model.position_ids(&enc.ids).unwrap(),
        [2, 3, 4, 5, 6, 1, 1, 1, 1, 1]
    );
    let padded = json!([{"text": "the cat sat", "pair": null, "pad": true}]);
    let reference = python_reference(&dir, &padded);
    compare(&model, &padded[0], &reference[0], 1e-5);
    // 11 words + 2 specials = 13 tokens > 12 usable positions.
    model.set_padding(false).unwrap();
    let long = "the cat sat on the mat the cat sat on the";
    let e = model.encode(long, None).unwrap_err().to_string();
    assert!(e.contains("13 tokens") && e.contains("12"), "{e}");
    model.set_truncation(Truncation::ToModel).unwrap();
    let (enc, m) = model.embed_text(long, None).unwrap();
    assert_eq!(enc.len(), 12);
    assert_eq!(*model.position_ids(&enc.ids).unwrap().last().unwrap(), 13);
    assert_eq!(m.rows(), 12);
}

fn llama_tokenizer() -> Value {
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [
            {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": null,
        "model": {"type": "WordLevel", "unk_token": "<unk>",
                  "vocab": {"<unk>": 0, "<s>": 1, "rotary": 2, "positions": 3, "live": 4, "in": 5, "attention": 6}}
    })
}

/// Llama with BF16 weights and a matrix padded to 8 rows (the tokenizer knows 7).
fn llama_model(dir: &Path) -> Vec<f32> {
    let (vocab, h) = (8, 4);
    let w: Vec<f32> = (0..vocab * h).map(|k| weight(5, k / h, k % h)).collect();
    write_model(
        dir,
        json!({"model_type": "llama", "hidden_size": h, "vocab_size": vocab,
               "max_position_embeddings": 16, "rope_theta": 10000.0}),
        &llama_tokenizer(),
        &[
            TensorOut::new(
                "model.embed_tokens.weight",
                Dtype::BF16,
                vec![vocab, h],
                bf16_bytes(&w),
            ),
            TensorOut::new(
                "model.norm.weight",
                Dtype::BF16,
                vec![h],
                bf16_bytes(&[1.0; 4]),
            ),
        ],
    );
    w
}

#[test]
fn llama_bf16_token_rows_only_also_from_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llama");
    let w = llama_model(&dir);
    let model = InputEmbeddings::from_dir(&dir).unwrap();
    assert_eq!(model.family(), Family::Rotary);
    assert!(model.positions_note().contains("rotary"));
    let cases = json!([
        {"text": "rotary positions live in attention", "pair": null},
        {"text": "rotary", "pair": "in attention"},
    ]);
    let reference = python_reference(&dir, &cases);
    for (case, r) in cases.as_array().unwrap().iter().zip(&reference) {
        compare(&model, case, r, 0.0);
    }
    let r = |x: f32| bf16::from_f32(x).to_f32();
    let (enc, m) = model.embed_text("attention in", None).unwrap();
    assert_eq!(enc.ids, [1, 6, 5]);
    for (t, &id) in enc.ids.iter().enumerate() {
        for j in 0..4 {
            assert_eq!(m.row(t)[j], r(w[id as usize * 4 + j]));
        }
    }

    // The same weights split over two shards with an index.
    let sharded = tmp.path().join("llama-sharded");
    std::fs::create_dir_all(&sharded).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), sharded.join(f)).unwrap();
    }
    write(
        sharded.join("model-00001-of-00002.safetensors"),
        &[TensorOut::new(
            "model.norm.weight",
            Dtype::BF16,
            vec![4],
            bf16_bytes(&[1.0; 4]),
        )],
        &Default::default(),
        None,
    )
    .unwrap();
    write(
        sharded.join("model-00002-of-00002.safetensors"),
        &[TensorOut::new(
            "model.embed_tokens.weight",
            Dtype::BF16,
            vec![8, 4],
            bf16_bytes(&w),
        )],
        &Default::default(),
        None,
    )
    .unwrap();
    std::fs::write(
        sharded.join("model.safetensors.index.json"),
        json!({"metadata": {}, "weight_map": {
            "model.norm.weight": "model-00001-of-00002.safetensors",
            "model.embed_tokens.weight": "model-00002-of-00002.safetensors"}})
        .to_string(),
    )
    .unwrap();
    let from_shards = InputEmbeddings::from_dir(&sharded).unwrap();
    let (_, m2) = from_shards.embed_text("attention in", None).unwrap();
    assert_eq!(m.as_slice(), m2.as_slice());

    // Export: row 7 has no token and gets a placeholder name.
    let emb = export_token_embeddings(&sharded).unwrap();
    assert_eq!(emb.len(), 8);
    assert_eq!(emb.vocab().token(7), Some("<row:7>"));
    assert_eq!(emb.vocab().token(6), Some("attention"));
    assert_eq!(emb.vocab().unk_id(), Some(0));
}

#[test]
fn sinusoidal_positions_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("llama");
    let w = llama_model(&dir);
    let mut model = InputEmbeddings::from_dir(&dir).unwrap();
    model.set_positions(PositionMode::Sinusoidal { scale: true });
    let (enc, m) = model.embed_text("rotary in", None).unwrap();
    let r = |x: f32| bf16::from_f32(x).to_f32();
    // d = 4: PE[p] = [sin p, cos p, sin(p/100), cos(p/100)]; token rows scaled by sqrt(4) = 2.
    for (p, &id) in enc.ids.iter().enumerate() {
        let p = p as f64;
        let pe = [p.sin(), p.cos(), (p / 100.0).sin(), (p / 100.0).cos()];
        for j in 0..4 {
            let want = 2.0 * r(w[id as usize * 4 + j]) as f64 + pe[j];
            assert!((m.row(p as usize)[j] as f64 - want).abs() < 1e-6);
        }
    }
}

// ---- bad input ----

fn err_of(dir: &Path) -> String {
    InputEmbeddings::from_dir(dir).unwrap_err().to_string()
}

#[test]
fn bad_folders_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("gpt2");
    gpt2_model(&base);
    let variant = |name: &str| {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::fs::copy(base.join(f), d.join(f)).unwrap();
        }
        d
    };
    assert!(err_of(&tmp.path().join("nowhere")).contains("model folder not found"));
    for missing in ["config.json", "tokenizer.json", "model.safetensors"] {
        let d = variant(&format!("no-{missing}"));
        std::fs::remove_file(d.join(missing)).unwrap();
        let e = err_of(&d);
        assert!(e.contains(missing), "{e}");
    }
    // Config disagreeing with the tensors.
    let d = variant("wrong-vocab");
    std::fs::write(
        d.join("config.json"),
        json!({"model_type": "gpt2", "n_embd": 4, "n_positions": 8, "vocab_size": 20}).to_string(),
    )
    .unwrap();
    let e = err_of(&d);
    assert!(
        e.contains("transformer.wte.weight") && e.contains("[18, 4]") && e.contains("[20, 4]"),
        "{e}"
    );
    let d = variant("wrong-hidden");
    std::fs::write(
        d.join("config.json"),
        json!({"model_type": "gpt2", "n_embd": 8, "n_positions": 8, "vocab_size": 18}).to_string(),
    )
    .unwrap();
    assert!(err_of(&d).contains("does not match config.json"));
    // Unsupported architectures and missing fields.
    let d = variant("t5");
    std::fs::write(
        d.join("config.json"),
        json!({"model_type": "t5", "d_model": 4}).to_string(),
    )
    .unwrap();
    let e = err_of(&d);
    assert!(
        e.contains("\"t5\" is not supported") && e.contains("relative") && e.contains("bert"),
        "{e}"
    );
    let d = variant("no-hidden");
    std::fs::write(
        d.join("config.json"),
        json!({"model_type": "gpt2", "vocab_size": 18}).to_string(),
    )
    .unwrap();
    assert!(err_of(&d).contains("n_embd"));
    let d = variant("bad-json");
    std::fs::write(d.join("config.json"), "{\"model_type\": ").unwrap();
    assert!(err_of(&d).contains("config.json"));
    let d = variant("bad-tokenizer");
    std::fs::write(d.join("tokenizer.json"), "{\"model\": 3}").unwrap();
    assert!(err_of(&d).contains("tokenizer.json"));
    // Unsupported dtype and a missing tensor.
    let d = variant("i8");
    let wte = vec![1u8; 18 * 4];
    write(
        d.join("model.safetensors"),
        &[
            TensorOut::new("wte.weight", Dtype::I8, vec![18, 4], wte),
            TensorOut::new(
                "wpe.weight",
                Dtype::F32,
                vec![8, 4],
                bytes_of(&[0f32; 32]).to_vec(),
            ),
        ],
        &Default::default(),
        None,
    )
    .unwrap();
    let e = err_of(&d);
    assert!(
        e.contains("wte.weight") && e.contains("I8") && e.contains("BF16"),
        "{e}"
    );
    let d = variant("no-wpe");
    write(
        d.join("model.safetensors"),
        &[TensorOut::new(
            "wte.weight",
            Dtype::F32,
            vec![18, 4],
            bytes_of(&[0f32; 72]).to_vec(),
        )],
        &Default::default(),
        None,
    )
    .unwrap();
    let e = err_of(&d);
    assert!(e.contains("wpe.weight") && e.contains("not found"), "{e}");
    // Ids outside the matrix (a tokenizer larger than the model).
    let model = InputEmbeddings::from_dir(&base).unwrap();
    let e = model.embed_ids(&[3, 18], &[]).unwrap_err().to_string();
    assert!(e.contains("id 18") && e.contains("18 rows"), "{e}");
    // Padding requested but not configured.
    let mut model = model;
    assert!(model
        .set_padding(true)
        .unwrap_err()
        .to_string()
        .contains("padding"));
}

#[test]
fn configs_name_what_is_missing_or_unsupported() {
    let p = Path::new("config.json");
    let cfg = |v: Value| ModelConfig::from_json(p, &v);
    let err = |v: Value| cfg(v).unwrap_err().to_string();
    let bert = json!({"model_type": "bert", "hidden_size": 8, "vocab_size": 10,
                      "max_position_embeddings": 16, "type_vocab_size": 2});
    let c = cfg(bert.clone()).unwrap();
    assert_eq!(
        (c.family, c.layer_norm_eps, c.max_tokens()),
        (Family::Bert, Some(1e-12), 16)
    );
    let mut rel = bert.clone();
    rel["position_embedding_type"] = "relative_key".into();
    assert!(err(rel).contains("relative_key"));
    let mut albert = bert.clone();
    albert["model_type"] = "albert".into();
    let e = err(albert);
    assert!(e.contains("albert") && e.contains("projection"), "{e}");
    let mut no_types = bert.clone();
    no_types.as_object_mut().unwrap().remove("type_vocab_size");
    assert!(err(no_types).contains("type_vocab_size"));
    let mut factorised = bert.clone();
    factorised["embedding_size"] = 4.into();
    assert!(err(factorised).contains("embedding_size"));
    // RoBERTa needs its padding id, and loses padding_idx + 1 positions.
    let mut roberta = bert.clone();
    roberta["model_type"] = "xlm-roberta".into();
    assert!(err(roberta.clone()).contains("pad_token_id"));
    roberta["pad_token_id"] = 1.into();
    let c = cfg(roberta).unwrap();
    assert_eq!((c.family, c.max_tokens()), (Family::Roberta, 14));
    // model_type inferred from architectures when absent.
    let c = cfg(
        json!({"architectures": ["MistralForCausalLM"], "hidden_size": 8, "vocab_size": 10,
                       "max_position_embeddings": 32}),
    )
    .unwrap();
    assert_eq!(
        (c.model_type.as_str(), c.family),
        ("mistral", Family::Rotary)
    );
    assert!(err(json!({"architectures": ["FooModel"]})).contains("model_type"));
    assert!(err(json!([1, 2])).contains("not a JSON object"));
    let e = err(json!({"model_type": "gpt2", "n_embd": -3, "vocab_size": 10, "n_positions": 4}));
    assert!(e.contains("n_embd") && e.contains("positive"), "{e}");
}

// ---- the BERT WordPiece fast path against the `tokenizers` crate ----

/// Texts for the fast-path comparison: the Lee corpus's lines and sentences (3,000 texts) plus
/// crafted edge cases.
fn fast_path_texts() -> Vec<String> {
    let lee = std::fs::read_to_string(testdata().join("gensim/lee_background.cor")).unwrap();
    let mut texts: Vec<String> = lee.lines().map(str::to_string).collect();
    for line in lee.lines() {
        texts.extend(line.split(". ").map(str::to_string));
    }
    texts.truncate(3000);
    assert_eq!(texts.len(), 3000);
    let long = "supercalifragilistic".repeat(6);
    texts.extend(
        [
            "",
            "   \t  ",
            "Hello,world!!(x)[y]{z}~`|\\^_@#$%&*+-=<>?/;:'\"",
            "don't stop-believing: 3.14 vs 2,718 -- ok...",
            "a\u{b}b\u{1}c\u{7f}d\u{0}e\te\nf\rg\u{c}h",
            "##hash ##tag # #x",
            "[CLS] in the text [SEP] and [MASK] and [cls] [unk]",
            "UPPER Case MiXeD WordPieces unaffable transformers",
            "Café naïve résumé Ångström",
            "日本語のテキスト 中文 한국어",
            "“quoted” – dash … ellipsis",
            "zzzzqqqqxxxx qxqxqxqxqx",
            "x",
        ]
        .into_iter()
        .map(str::to_string),
    );
    texts.push(long.clone());
    texts.push(format!("{long} short {}", "a".repeat(100)));
    texts.push("a".repeat(101));
    texts
}

#[test]
fn wordpiece_fast_path_equals_tokenizers_crate() {
    let dir = testdata().join("minilm");
    let mut tok = ModelTokenizer::from_file(dir.join("tokenizer.json"), 512).unwrap();
    assert!(tok.has_fast_path());
    let texts = fast_path_texts();
    let pairs: Vec<(&str, &str)> = texts
        .iter()
        .zip(texts.iter().skip(1).chain(texts.iter().take(1)))
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let check = |tok: &ModelTokenizer, what: &str, from: usize, n: usize| -> (usize, usize) {
        let (mut fast, mut truncated) = (0, 0);
        let mut one = |a: &str, b: Option<&str>| {
            let expected = tok.encode_with_crate(a, b).unwrap();
            if let Some(got) = tok.encode_fast_path(a, b) {
                fast += 1;
                truncated += usize::from(got.truncated);
                assert_eq!(got.ids, expected.ids, "{what}: {a:?} / {b:?}");
                assert_eq!(got.type_ids, expected.type_ids, "{what}: {a:?} / {b:?}");
                assert_eq!(got.tokens, expected.tokens, "{what}: {a:?} / {b:?}");
                assert_eq!(got.attention_mask, expected.attention_mask);
                assert_eq!(got.truncated, expected.truncated, "{what}: {a:?} / {b:?}");
            } else {
                // Only non-ASCII text or text with an added token leaves the fast path.
                let special = |s: &str| {
                    !s.is_ascii()
                        || ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"]
                            .iter()
                            .any(|t| s.contains(t))
                };
                assert!(
                    special(a) || b.is_some_and(special),
                    "{what}: {a:?} / {b:?}"
                );
            }
        };
        for t in texts[from..n].iter().chain(&texts[3000..]) {
            one(t, None);
        }
        for (a, b) in pairs[from..n].iter().chain(&pairs[3000..]) {
            one(a, Some(b));
        }
        (fast, truncated)
    };
    // As configured (max 128, longest first), off, and to the model's 512 positions.
    let (fast, truncated) = check(&tok, "as configured", 0, 3000);
    assert!(fast >= 2 * 3000, "fast path taken {fast} times");
    assert!(truncated > 100, "only {truncated} truncated");
    tok.set_truncation(Truncation::Off).unwrap();
    check(&tok, "off", 0, 3000);
    tok.set_truncation(Truncation::ToModel).unwrap();
    check(&tok, "to model", 0, 300);
    // Short limits (on sentences: the crate's overflow pieces of pairs of whole documents cut
    // to a few tokens multiply), both directions, a stride, and limits that leave no room for text.
    use tokenizers::{TruncationDirection, TruncationParams, TruncationStrategy};
    for (max_length, direction, stride) in [
        (5, TruncationDirection::Right, 0),
        (10, TruncationDirection::Left, 0),
        (11, TruncationDirection::Right, 2),
        (3, TruncationDirection::Right, 0),
    ] {
        tok.set_truncation_params(Some(TruncationParams {
            max_length,
            direction,
            stride,
            strategy: TruncationStrategy::LongestFirst,
        }));
        let (fast, truncated) = check(&tok, &format!("max {max_length} {direction:?}"), 300, 800);
        assert!(fast >= 2 * 500 && truncated > 300);
    }
    // Other strategies go to the crate.
    tok.set_truncation_params(Some(TruncationParams {
        max_length: 20,
        strategy: TruncationStrategy::OnlyFirst,
        ..Default::default()
    }));
    assert!(tok.encode_fast_path("a text", None).is_none());
    // Padding switches the fast path off.
    tok.set_truncation(Truncation::AsConfigured).unwrap();
    tok.set_padding(true).unwrap();
    assert!(tok.encode_fast_path("a text", None).is_none());
    assert_eq!(tok.encode("a text", None).unwrap().len(), 128);
}

#[test]
fn wordpiece_fast_path_only_for_the_exact_bert_pipeline() {
    let dir = testdata().join("minilm");
    let json: Value =
        serde_json::from_slice(&std::fs::read(dir.join("tokenizer.json")).unwrap()).unwrap();
    assert!(super::wordpiece::BertWordPiece::from_json(&json).is_some());
    let changed = |f: &dyn Fn(&mut Value)| {
        let mut j = json.clone();
        f(&mut j);
        super::wordpiece::BertWordPiece::from_json(&j).is_none()
    };
    assert!(changed(&|j| j["normalizer"] = json!({"type": "Lowercase"})));
    assert!(changed(
        &|j| j["pre_tokenizer"] = json!({"type": "Whitespace"})
    ));
    assert!(changed(
        &|j| j["model"]["continuing_subword_prefix"] = json!("@@")
    ));
    assert!(changed(&|j| j["model"]["unk_token"] = json!("<nope>")));
    assert!(changed(
        &|j| j["post_processor"]["pair"][3]["Sequence"]["type_id"] = json!(0)
    ));
    assert!(changed(
        &|j| j["post_processor"]["single"][1]["Sequence"]["id"] = json!("B")
    ));
    assert!(changed(
        &|j| j["added_tokens"][1]["normalized"] = json!(true)
    ));
    assert!(changed(&|j| j["added_tokens"][1]["special"] = json!(false)));
    // BertProcessing is the same pipeline.
    let mut j = json.clone();
    j["post_processor"] =
        json!({"type": "BertProcessing", "sep": ["[SEP]", 102], "cls": ["[CLS]", 101]});
    assert!(super::wordpiece::BertWordPiece::from_json(&j).is_some());
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("tokenizer.json");
    std::fs::write(&path, serde_json::to_vec(&j).unwrap()).unwrap();
    let tok = ModelTokenizer::from_file(&path, 512).unwrap();
    assert!(tok.has_fast_path());
    for (a, b) in [
        ("One text, here.", None),
        ("First part", Some("second PART!")),
    ] {
        let fast = tok.encode_fast_path(a, b).unwrap();
        let slow = tok.encode_with_crate(a, b).unwrap();
        assert_eq!((fast.ids, fast.type_ids), (slow.ids, slow.type_ids));
    }
}

/// The corruption campaign found `tokenizer.json` files on which the `tokenizers` crate panics
/// (kept in tests/data/fault-tokenizer-panics): loading a folder with one of them and encoding
/// text is an error or an answer, never a panic.
#[test]
fn tokenizer_files_that_panic_the_tokenizers_crate_are_errors() {
    let base = testdata().join("minilm");
    let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fault-tokenizer-panics");
    let mut seen = 0;
    for entry in std::fs::read_dir(&cases).unwrap() {
        let bad = entry.unwrap().path();
        let dir = tempfile::tempdir().unwrap();
        for f in ["config.json", "model.safetensors"] {
            std::fs::copy(base.join(f), dir.path().join(f)).unwrap();
        }
        std::fs::copy(&bad, dir.path().join("tokenizer.json")).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            InputEmbeddings::from_dir(dir.path())
                .and_then(|m| m.embed_text("How old are you? ünïcödé 123", None))
                .map(|_| ())
        });
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => assert!(
                e.to_string().contains("tokenizer.json"),
                "{}: {e}",
                bad.display()
            ),
            Err(_) => panic!("{} made loading or encoding panic", bad.display()),
        }
        seen += 1;
    }
    assert_eq!(seen, 4);
}
