//! `embers serve` as a process: it serves a real word2vec text file (gensim's test data), its
//! vectors equal the file's numbers, a request in flight when SIGTERM arrives is still
//! answered before the process exits 0, and bad arguments fail with one line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A running `embers serve` and the address it printed.
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

/// One request over a fresh connection; returns status and body.
fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    read_response(&mut s)
}

fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The numbers of `word` in a word2vec text file.
fn vector_in_file(path: &std::path::Path, word: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find(|l| l.split(' ').next() == Some(word))
        .unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect()
}

#[test]
fn serves_a_word2vec_file_and_finishes_requests_on_sigterm() {
    let file = testdata().join("gensim/lee_fasttext.vec");
    let spec = format!("lee={}", s(&file));
    let server = Server::start(&[spec.as_str(), "--threads", "2", "--max-batch", "8"]);
    let (status, body) = request(server.addr, "GET", "/healthz", "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (_, body) = request(server.addr, "GET", "/v1/models", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["models"][0]["name"], "lee");
    assert_eq!(v["models"][0]["rows"], 1762);
    assert_eq!(v["models"][0]["dims"], 10);

    // --max-batch 8 is enforced.
    let nine = serde_json::json!({ "words": vec!["the"; 9] }).to_string();
    let (status, _) = request(server.addr, "POST", "/v1/models/lee/vectors", &nine);
    assert_eq!(status, 413);

    // A request in flight: headers and half the body sent before SIGTERM.
    let body = r#"{"words": ["government", "zzzunknown"]}"#;
    let (first, rest) = body.split_at(10);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /v1/models/lee/vectors HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(rest.as_bytes()).unwrap();
    let (status, answer) = read_response(&mut s);
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let got: Vec<f32> = serde_json::from_value(v["results"][0]["vector"].clone()).unwrap();
    assert_eq!(got, vector_in_file(&file, "government"));
    assert_eq!(v["results"][1]["error"], "unknown word");

    // Then the process exits by itself, successfully.
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(TcpStream::connect(server.addr).is_err(), "still accepting");
}

#[test]
fn serve_rejects_bad_arguments_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.vec");
    let err = fails(&["serve", s(&missing), "--addr", "127.0.0.1:0"]);
    assert!(err.contains("missing.vec"), "{err}");
    let file = testdata().join("gensim/lee_fasttext.vec");
    let err = fails(&["serve", s(&file), "--threads", "0", "--addr", "127.0.0.1:0"]);
    assert!(err.contains("--threads"), "{err}");
    let err = fails(&["serve", s(&file), "--timeout=0", "--addr", "127.0.0.1:0"]);
    assert!(err.contains("--timeout"), "{err}");
    let a = format!("x={}", s(&file));
    let err = fails(&["serve", &a, &a, "--addr", "127.0.0.1:0"]);
    assert!(err.contains("used twice"), "{err}");
    let b = format!("bad/name={}", s(&file));
    let err = fails(&["serve", &b, "--addr", "127.0.0.1:0"]);
    assert!(err.contains("bad/name"), "{err}");
}

#[test]
fn serve_uses_the_files_hnsw_index_like_similar_ann() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lee.vec");
    std::fs::copy(testdata().join("gensim/lee_fasttext.vec"), &file).unwrap();
    ok(&["index", "build", s(&file), "--progress", "none"]);
    let cli = ok(&[
        "similar",
        s(&file),
        "government",
        "-k",
        "5",
        "--ann",
        "--json",
    ]);
    let cli: serde_json::Value = serde_json::from_str(cli.trim()).unwrap();

    let server = Server::start(&[s(&file)]);
    let (status, body) = request(
        server.addr,
        "POST",
        "/v1/models/lee/similar",
        r#"{"word": "government", "k": 5, "ann": true}"#,
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let words = |v: &serde_json::Value| -> Vec<String> {
        v["neighbors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["word"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(words(&v), words(&cli));
    for (a, b) in v["neighbors"]
        .as_array()
        .unwrap()
        .iter()
        .zip(cli["neighbors"].as_array().unwrap())
    {
        assert!((a["score"].as_f64().unwrap() - b["score"].as_f64().unwrap()).abs() < 1e-6);
    }
}

/// Findings 6 and 9 of issue 15: `cp other.safetensors served.safetensors` rewrote a served,
/// memory-mapped file in place and the next request died of SIGBUS, taking every model down.
/// By default the server now holds private copies: each served file (native model, its HNSW
/// index, the transformer's weights) is truncated and rewritten in place, and every request
/// still answers exactly as before.
#[test]
fn files_rewritten_in_place_do_not_reach_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let native = dir.path().join("lee.embers");
    ok(&[
        "convert",
        s(&testdata().join("gensim/lee_fasttext.vec")),
        s(&native),
    ]);
    ok(&["index", "build", s(&native), "--progress", "none"]);
    let minilm = dir.path().join("minilm");
    std::fs::create_dir(&minilm).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(testdata().join("minilm").join(f), minilm.join(f)).unwrap();
    }
    let t = format!("mini={}", s(&minilm));
    let server = Server::start(&[s(&native), &t]);
    let asks = [
        (
            "/v1/models/lee/vectors",
            r#"{"words": ["government", "the"]}"#,
        ),
        (
            "/v1/models/lee/similar",
            r#"{"word": "government", "k": 5, "ann": true}"#,
        ),
        (
            "/v1/models/lee/similar",
            r#"{"word": "government", "k": 5}"#,
        ),
        (
            "/v1/transformers/mini/embed",
            r#"{"text": "How old are you?"}"#,
        ),
    ];
    let before: Vec<(u16, String)> = asks
        .iter()
        .map(|(p, b)| request(server.addr, "POST", p, b))
        .collect();
    for (status, body) in &before {
        assert_eq!(*status, 200, "{body}");
    }
    // Rewrite every served file in place, as `cp` does: same inode, truncated, new bytes.
    let hnsw = dir.path().join("lee.embers.hnsw");
    for f in [&native, &hnsw, &minilm.join("model.safetensors")] {
        let mut w = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(f)
            .unwrap();
        w.write_all(b"not the file any more").unwrap();
    }
    for ((p, b), want) in asks.iter().zip(&before) {
        let got = request(server.addr, "POST", p, b);
        assert_eq!(&got, want, "{p} after the rewrite");
    }
    let mut server = server;
    assert!(server.child.try_wait().unwrap().is_none(), "server died");
}

/// `embers serve` loads fastText supervised models (a quantized `.ftz` and a `.bin` trained by
/// embers) as classifiers, an unsupervised fastText `.bin` still as word vectors, and
/// `/predict` answers what `fasttext predict-prob` prints for the same lines.
#[test]
fn serve_predict_answers_as_fasttext_for_ftz_and_bin() {
    let lid = embers_testkit::testdata("lid/lid.176.ftz").join("lid/lid.176.ftz");
    let data = embers_testkit::testdata("fortunes/train.txt");
    let dir = tempfile::tempdir().unwrap();
    let sup = dir.path().join("sup.bin");
    ok(&[
        "train",
        "supervised",
        s(&data.join("fortunes/train.txt")),
        "-o",
        s(&sup),
        "--dim",
        "8",
        "--epoch",
        "1",
        "--lr",
        "0.5",
        "--thread",
        "1",
        "--progress",
        "none",
    ]);
    let lee = testdata().join("gensim/lee_fasttext_new.bin");
    let specs = [
        format!("lid={}", s(&lid)),
        s(&sup).to_string(),
        format!("lee={}", s(&lee)),
    ];
    let args: Vec<&str> = specs.iter().map(|x| x.as_str()).collect();
    let server = Server::start(&args);
    let (_, body) = request(server.addr, "GET", "/v1/models", "");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = v["classifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lid", "sup"], "{body}");
    assert_eq!(v["models"][0]["name"], "lee", "{body}");

    let text = std::fs::read_to_string(data.join("fortunes/test.txt")).unwrap();
    let lines: Vec<&str> = text.lines().take(40).collect();
    let file = dir.path().join("lines.txt");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    for (name, model, k) in [("lid", &lid, 3), ("sup", &sup, 2)] {
        let body = serde_json::json!({ "texts": lines, "k": k }).to_string();
        let (status, answer) = request(
            server.addr,
            "POST",
            &format!("/v1/models/{name}/predict"),
            &body,
        );
        assert_eq!(status, 200, "{answer}");
        let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
        // As `label prob label prob` lines, the shape `fasttext predict-prob` prints.
        let ours: String = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let labels = r["labels"].as_array().unwrap();
                let probs = r["probs"].as_array().unwrap();
                let pairs: Vec<String> = labels
                    .iter()
                    .zip(probs)
                    .map(|(l, p)| format!("{} {}", l.as_str().unwrap(), p))
                    .collect();
                pairs.join(" ") + "\n"
            })
            .collect();
        let theirs = crate::supervised::fasttext_predict(model, &file, k);
        assert_eq!(
            crate::supervised::assert_same_predictions(&ours, &theirs, 1e-5),
            40
        );
    }
    let (status, answer) = request(
        server.addr,
        "POST",
        "/v1/models/lee/predict",
        r#"{"text": "hello"}"#,
    );
    assert_eq!(status, 422, "{answer}");
    assert!(answer.contains("not_a_classifier"), "{answer}");
}
