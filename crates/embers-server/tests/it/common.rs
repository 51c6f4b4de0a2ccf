//! Fixtures and helpers shared by the server tests: small models with known vectors, a way to
//! call the router in-process, a real server on a free port, and a tiny HTTP/1.1 client.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use embers::storage::DenseMatrix;
use embers::subword::{SubwordConfig, Subwords};
use embers::{Embeddings, Vocab};
use embers_server::{Limits, Registry};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Words and vectors of the toy model (4 dims), chosen so neighbours are easy to reason about.
pub const TOY: &[(&str, [f32; 4])] = &[
    ("king", [0.9, 0.8, 0.1, 0.0]),
    ("queen", [0.9, 0.1, 0.8, 0.0]),
    ("man", [0.1, 0.9, 0.0, 0.1]),
    ("woman", [0.1, 0.1, 0.9, 0.1]),
    ("prince", [0.7, 0.7, 0.0, 0.2]),
    ("princess", [0.7, 0.0, 0.7, 0.2]),
    ("apple", [0.0, 0.1, 0.1, 1.0]),
    ("pear", [0.1, 0.0, 0.1, 0.9]),
    ("<unk>", [0.0, 0.0, 0.0, 0.0]),
];

/// The toy model (with `<unk>` set as the unknown token).
pub fn toy() -> Embeddings {
    let words = TOY.iter().map(|(w, _)| w.to_string()).collect();
    let data = TOY.iter().flat_map(|(_, v)| *v).collect();
    let mut emb = Embeddings::new(
        Vocab::from_words(words).unwrap(),
        DenseMatrix::new(TOY.len(), 4, data).unwrap(),
    )
    .unwrap();
    emb.vocab_mut().set_unk("<unk>").unwrap();
    emb
}

/// A 2-word, 3-dim model with subwords: one bucket, so every n-gram maps to row 0 of the
/// subword matrix and an unknown word's vector (the mean of its n-gram rows) is that row.
pub fn with_subwords() -> Embeddings {
    let vocab = Vocab::from_words(vec!["cat".into(), "dog".into()]).unwrap();
    let m = DenseMatrix::new(2, 3, vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]).unwrap();
    let sub = Subwords {
        config: SubwordConfig {
            minn: 3,
            maxn: 4,
            buckets: 1,
        },
        matrix: DenseMatrix::new(1, 3, vec![0.25, -0.5, 2.0]).unwrap(),
    };
    Embeddings::new(vocab, m)
        .unwrap()
        .with_subwords(sub)
        .unwrap()
}

/// A chart written by the library's sweep of the toy model (its real output, not a stand-in).
pub fn toy_sweep_chart() -> String {
    let opts = embers::sweep::SweepOptions {
        dims: vec![2, 4],
        kinds: vec![embers::sweep::Kind::F32, embers::sweep::Kind::Int8],
        queries: 4,
        ..Default::default()
    };
    let points = embers::sweep::sweep(&toy(), &opts, &|_| {}).unwrap();
    let metric = embers::sweep::svg::Metric::default_for(&points);
    embers::sweep::svg::render(&points, &metric, "toy")
}

/// A registry serving `toy` and `sub`.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    r.add_embeddings("toy", "toy.embers", toy()).unwrap();
    r.add_embeddings("sub", "sub.embers", with_subwords())
        .unwrap();
    r
}

/// The router over [`registry`] with `limits`.
pub fn app_with(limits: Limits) -> axum::Router {
    embers_server::router(embers_server::state(registry(), limits))
}

/// The router over [`registry`] with default limits.
pub fn app() -> axum::Router {
    app_with(Limits::default())
}

/// An answer: status, content type and body (parsed as JSON when it is JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts a structured error with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{}", self.text);
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}",
            self.text
        );
        assert_eq!(
            v.as_object().unwrap().len(),
            1,
            "only `error`: {}",
            self.text
        );
    }
}

/// Calls `router` in-process.
pub async fn call_raw(
    router: &axum::Router,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// `GET path`.
pub async fn get(router: &axum::Router, path: &str) -> Answer {
    call_raw(router, "GET", path, None, Vec::new()).await
}

/// `POST path` with a JSON body.
pub async fn post(router: &axum::Router, path: &str, body: serde_json::Value) -> Answer {
    post_text(router, path, &body.to_string()).await
}

/// `POST path` with raw text as a JSON body.
pub async fn post_text(router: &axum::Router, path: &str, body: &str) -> Answer {
    call_raw(
        router,
        "POST",
        path,
        Some("application/json"),
        body.as_bytes().to_vec(),
    )
    .await
}

/// Cosine similarity in f64: the reference the server's scores are checked against.
pub fn cosine64(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The toy vector of `word`.
pub fn toy_vec(word: &str) -> [f32; 4] {
    TOY.iter().find(|(w, _)| *w == word).unwrap().1
}

/// A real server on a free loopback port, running on its own runtime thread until dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn start(registry: Registry, limits: Limits) -> Running {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let router = embers_server::router(embers_server::state(registry, limits));
                embers_server::serve(listener, router, async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(30)).unwrap();
        Running {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A blocking HTTP/1.1 request over a fresh connection (`Connection: close`); returns the
/// status and the body (chunked bodies are decoded).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    // Read until the response is complete (by Content-Length, chunked end, or EOF): some
    // servers keep the connection open despite `Connection: close`.
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if response_complete(&raw) {
            break;
        }
    }
    parse_response(&raw)
}

fn response_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    for line in head.lines() {
        if let Some(v) = line.strip_prefix("content-length:") {
            return v.trim().parse::<usize>().is_ok_and(|n| body.len() >= n);
        }
        if line.starts_with("transfer-encoding:") && line.contains("chunked") {
            return body.ends_with(b"0\r\n\r\n");
        }
    }
    false
}

/// Splits a raw HTTP/1.1 response into status and body.
pub fn parse_response(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        body.to_string()
    };
    (status, body)
}

/// Folder of third-party test data fetched by `scripts/fetch-testdata.sh` (fails when missing).
pub fn testdata() -> std::path::PathBuf {
    embers_testkit::testdata("minilm")
}

/// Brute-force reference in f64: the `k` rows of the toy model closest by cosine to `query`,
/// skipping `exclude` and rows of norm zero, best first, ties by lower id.
pub fn toy_reference(query: &[f64], k: usize, exclude: &[&str]) -> Vec<(String, f64)> {
    let qn: f64 = query.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mut scored: Vec<(usize, f64)> = TOY
        .iter()
        .enumerate()
        .filter(|(_, (w, v))| !exclude.contains(w) && v.iter().any(|x| *x != 0.0))
        .map(|(i, (_, v))| {
            let dot: f64 = v.iter().zip(query).map(|(a, b)| *a as f64 * b).sum();
            let n: f64 = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            (i, dot / (n * qn))
        })
        .collect();
    scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    scored
        .into_iter()
        .take(k)
        .map(|(i, s)| (TOY[i].0.to_string(), s))
        .collect()
}

/// The unit vector of a toy word, in f64.
pub fn toy_unit(word: &str) -> Vec<f64> {
    let v = toy_vec(word);
    let n: f64 = v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|x| *x as f64 / n).collect()
}
