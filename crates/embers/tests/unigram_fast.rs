//! embers' Unigram tokenizer path (crates/embers/src/transformer/unigram.rs) against the
//! `tokenizers` crate on the same `tokenizer.json`: the ids of every text must be the crate's.
//! The model is tokenlearn-static-model (a 276,326-piece Unigram vocabulary, Precompiled
//! normalizer, WhitespaceSplit + Metaspace), and the same folder with its pre-tokenizer
//! rewritten to Metaspace alone (spaces kept as `▁` pieces).

use std::path::Path;

use embers::sentence::StaticModel;

fn texts() -> Vec<String> {
    let mut texts: Vec<String> = [
        "",
        " ",
        "   ",
        "a",
        " a",
        "a ",
        "  leading and trailing  ",
        "double  spaces   between    words",
        "The quick brown fox jumps over the lazy dog.",
        "How old are you?",
        "punctuation!!! ... ,,, ;;; ::: ??? --- ___ ((( ))) [[[ ]]] {{{ }}}",
        "~`^|\\@#$%&*+=<>/\"'",
        "<unk> <pad> a<pad>b <unk><unk> literal added tokens",
        "x<pad>",
        "ALL CAPS SHOUTING AND numbers 1234567890 3.14159 1e-9 0x1F",
        "e-mail: someone@example.com, url: https://example.org/a/b?c=d&e=f#g",
        "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "zzzzqqqqxxxx qxqxqxqx jjjjjjjj",
        "naïve café déjà vu — Ünïcödé",
        "日本語のテキストと emoji 🙂🙂",
        "▁already▁has▁the▁marker",
        "tab\tseparated\twords and\nnew lines\r\n",
        "control\u{1}chars\u{7f}here",
        "non\u{a0}breaking\u{2009}spaces",
        "ﬁ ligature and ① circled and ＦＵＬＬＷＩＤＴＨ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    texts.push("word ".repeat(700));
    texts.push("x".repeat(5000));
    // Real sentences (the Lee corpus, gensim's test data).
    let lee = std::fs::read_to_string(
        embers_testkit::testdata("gensim/lee_background.cor").join("gensim/lee_background.cor"),
    )
    .expect("Lee corpus");
    texts.extend(lee.lines().map(|l| l.to_string()));
    // Random printable ASCII (every character, runs of spaces), from a fixed seed.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let len = (next() % 60) as usize;
        let s: String = (0..len)
            .map(|_| {
                let r = next() % 100;
                if r < 15 {
                    ' '
                } else if r < 70 {
                    (b'a' + (next() % 26) as u8) as char
                } else {
                    (0x20 + (next() % 95) as u8) as char
                }
            })
            .collect();
        texts.push(s);
    }
    texts
}

fn check(dir: &Path) {
    let model = StaticModel::load(dir).unwrap();
    assert_eq!(model.fast_tokenizer(), Some("unigram"), "{}", dir.display());
    let texts = texts();
    let mut tokens = 0;
    for text in &texts {
        let fast = model.tokenize(text).unwrap();
        let reference = model.tokenize_with_crate(text).unwrap();
        assert_eq!(fast, reference, "{}: {text:?}", dir.display());
        tokens += fast.len();
    }
    assert!(tokens > 50_000, "{tokens} tokens");
    // The batch path (rayon, reused buffers, word cache) gives the same vectors as one by one.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all = model.encode(&refs).unwrap();
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(all.row(i), &model.encode_one(text).unwrap()[..], "{text:?}");
    }
}

fn tokenlearn() -> std::path::PathBuf {
    embers_testkit::testdata("static-tokenlearn").join("static-tokenlearn")
}

#[test]
fn unigram_ids_equal_the_crate() {
    check(&tokenlearn());
}

#[test]
fn unigram_ids_equal_the_crate_with_metaspace_alone() {
    let src = tokenlearn();
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("tokenizer.json")).unwrap()).unwrap();
    json["pre_tokenizer"] = serde_json::json!({
        "type": "Metaspace", "replacement": "\u{2581}", "prepend_scheme": "always", "split": true
    });
    std::fs::write(
        tmp.path().join("tokenizer.json"),
        serde_json::to_vec(&json).unwrap(),
    )
    .unwrap();
    check(tmp.path());
}
