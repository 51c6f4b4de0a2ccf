//! Finding 4 of issue 15: CPU-heavy requests (subword vectors of unknown words) ran inline on
//! the async workers, so a few of them stalled `/healthz` and plain lookups, and the time limit
//! could not stop them. Now they run on a bounded pool whose loops check a deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use embers::storage::DenseMatrix;
use embers::subword::{SubwordConfig, Subwords};
use embers::{Embeddings, Vocab};
use embers_server::{Limits, Registry};
use serde_json::json;

use crate::common::*;

const DIMS: usize = 4096;

/// Two vocabulary words and 1024 subword buckets of 4096 dims: an unknown word of 1000
/// characters costs about 4000 bucket rows of 4096 values.
fn big_subwords() -> Registry {
    let vocab = Vocab::from_words(vec!["cat".into(), "dog".into()]).unwrap();
    let mut rows = vec![0f32; 2 * DIMS];
    rows[0] = 1.0;
    rows[DIMS + 1] = 1.0;
    let m = DenseMatrix::new(2, DIMS, rows).unwrap();
    let buckets = 1024;
    let data = (0..buckets * DIMS).map(|i| (i % 7) as f32 * 0.01).collect();
    let sub = Subwords {
        config: SubwordConfig {
            minn: 3,
            maxn: 6,
            buckets: buckets as u32,
        },
        matrix: DenseMatrix::new(buckets, DIMS, data).unwrap(),
    };
    let emb = Embeddings::new(vocab, m)
        .unwrap()
        .with_subwords(sub)
        .unwrap();
    let mut r = Registry::new();
    r.add_embeddings("big", "big.embers", emb).unwrap();
    r
}

/// About 3.6 MB of distinct unknown words of 1000 characters: well over 4 s of subword work
/// even on an idle machine (900 words finished within 4 s there).
fn heavy_body() -> String {
    let words: Vec<String> = (0..3600)
        .map(|i| format!("{i:04}{}", "abcdefghij".repeat(99)))
        .collect();
    json!({ "words": words }).to_string()
}

fn limits(threads: usize, queue: usize, timeout: Duration) -> Limits {
    Limits {
        max_batch: 4096,
        timeout,
        heavy_threads: threads,
        heavy_queue: queue,
        max_body: 8 << 20,
        max_answer: 1 << 30,
        ..Limits::default()
    }
}

#[test]
fn healthz_and_lookups_stay_fast_while_the_heavy_pool_is_full() {
    let server = Running::start(big_subwords(), limits(1, 1, Duration::from_secs(4)));
    let addr = server.addr;
    let body = Arc::new(heavy_body());
    let done = Arc::new(AtomicBool::new(false));
    let mut heavy = Vec::new();
    for _ in 0..2 {
        let (body, done) = (body.clone(), done.clone());
        heavy.push(std::thread::spawn(move || {
            let a = http(addr, "POST", "/v1/models/big/vectors", Some(&body));
            done.store(true, Ordering::SeqCst);
            a
        }));
        std::thread::sleep(Duration::from_millis(300));
    }
    // One running, one waiting: a third heavy request is refused at once.
    let t = Instant::now();
    let (status, text) = http(addr, "POST", "/v1/models/big/vectors", Some(&body));
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("busy"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Meanwhile the cheap routes answer quickly.
    let mut worst = Duration::ZERO;
    for _ in 0..10 {
        let t = Instant::now();
        let (s, text) = http(addr, "GET", "/healthz", None);
        assert_eq!(s, 200, "{text}");
        let (s, text) = http(
            addr,
            "POST",
            "/v1/models/big/vectors",
            Some(r#"{"words": ["cat", "dog"]}"#),
        );
        assert_eq!(s, 200, "{text}");
        worst = worst.max(t.elapsed());
    }
    assert!(
        !done.load(Ordering::SeqCst),
        "the heavy requests ended before the fast ones were measured: make them heavier"
    );
    assert!(worst < Duration::from_millis(1000), "slowest {worst:?}");
    // The heavy ones run out of time (4 s) and are answered 503 timeout.
    for h in heavy {
        let (status, text) = h.join().unwrap();
        assert_eq!(status, 503, "{text}");
        assert!(text.contains("timeout"), "{text}");
    }
}

#[test]
fn a_timed_out_heavy_request_stops_and_frees_its_thread() {
    let server = Running::start(big_subwords(), limits(1, 4, Duration::from_millis(500)));
    let addr = server.addr;
    let t = Instant::now();
    let (status, text) = http(addr, "POST", "/v1/models/big/vectors", Some(&heavy_body()));
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("timeout"), "{text}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // The only heavy thread stopped with it: a small heavy request is answered at once.
    let t = Instant::now();
    let (status, text) = http(
        addr,
        "POST",
        "/v1/models/big/vectors",
        Some(r#"{"words": ["cats"]}"#),
    );
    assert_eq!(status, 200, "{text}");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn answers_have_a_byte_cap_and_long_words_no_subword_vector() {
    let app = app_with(Limits {
        max_answer: 1000,
        max_word: 50,
        ..Limits::default()
    });
    // 3 words × 4 dims fit in 1000 bytes; 20 do not.
    let a = post(
        &app,
        "/v1/models/toy/vectors",
        json!({"words": vec!["king"; 3]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = post(
        &app,
        "/v1/models/toy/vectors",
        json!({"words": vec!["king"; 20]}),
    )
    .await;
    a.assert_error(413, "answer_too_large");
    // An unknown word over 50 bytes gets no subword vector (a per-word error); a shorter one does.
    let long = "x".repeat(51);
    let a = post(
        &app,
        "/v1/models/sub/vectors",
        json!({"words": [long, "xyz"]}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    assert_eq!(
        v["results"][0]["error"],
        "word too long for a subword vector"
    );
    assert_eq!(v["results"][1]["source"], "subwords");
    let a = post(
        &app,
        "/v1/models/sub/similar",
        json!({"word": "y".repeat(60)}),
    )
    .await;
    a.assert_error(422, "word_too_long");
}
