//! `POST /v1/models/{name}/predict` on the real language-identification model `lid.176.ftz`:
//! the answers equal what fastText's own tool (Debian's `fasttext predict-prob`) prints for the
//! same lines, and every malformed request gets a clear 4xx.

use std::path::{Path, PathBuf};
use std::process::Command;

use embers::supervised::Classifier;
use embers_server::{Limits, Registry};
use serde_json::{json, Value};

use crate::common::*;

fn lid_path() -> PathBuf {
    embers_testkit::testdata("lid/lid.176.ftz").join("lid/lid.176.ftz")
}

/// The toy embedding model and `lid.176.ftz` served as `lid`.
fn lid_app(limits: Limits) -> axum::Router {
    let mut r = Registry::new();
    r.add_embeddings("toy", "toy.embers", toy()).unwrap();
    let path = lid_path();
    r.add_classifier("lid", &path, Classifier::read(&path).unwrap())
        .unwrap();
    embers_server::router(embers_server::state(r, limits))
}

/// Multilingual lines, some awkward for the tokeniser (tabs, runs of spaces, carriage return,
/// label-looking tokens, an empty line), then real lines of the fortunes corpus.
fn lines() -> Vec<String> {
    let mut v: Vec<String> = [
        "Das ist ein Haus",
        "Bonjour tout le monde, comment allez-vous ?",
        "The quick brown fox jumps over the lazy dog",
        "¿Dónde está la biblioteca municipal?",
        "Это очень интересная книга",
        "これは日本語の文です",
        "Dit is een zin in het Nederlands",
        "Questa è una frase italiana",
        "Η γλώσσα είναι ελληνική",
        "Bu bir Türkçe cümledir",
        "tabs\tand  double  spaces\r",
        "hello __label__fr monde",
        "",
        "a",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let corpus = embers_testkit::testdata("fortunes/lines.txt").join("fortunes/lines.txt");
    let text = std::fs::read(corpus).unwrap();
    v.extend(
        text.split(|&b| b == b'\n')
            .filter_map(|l| std::str::from_utf8(l).ok())
            .filter(|l| !l.is_empty())
            .take(60)
            .map(str::to_string),
    );
    v
}

/// `fasttext predict-prob` on `lines` (each ending in a newline, so each gets the end-of-line
/// token as a request's text does), parsed into labels and probabilities per line.
fn fasttext(lines: &[String], k: usize, threshold: f32) -> Vec<(Vec<String>, Vec<f64>)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lines.txt");
    let mut body = lines.join("\n");
    body.push('\n');
    std::fs::write(&file, body).unwrap();
    let out = Command::new("fasttext")
        .arg("predict-prob")
        .args([lid_path().as_path(), Path::new(&file)])
        .args([k.to_string(), threshold.to_string()])
        .output()
        .expect("the fastText tool (Debian package fasttext) runs; scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "fasttext predict-prob: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed: Vec<_> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').filter(|s| !s.is_empty()).collect();
            let labels = f.iter().step_by(2).map(|s| s.to_string()).collect();
            let probs = f
                .iter()
                .skip(1)
                .step_by(2)
                .map(|s| s.parse().unwrap())
                .collect();
            (labels, probs)
        })
        .collect();
    assert_eq!(
        parsed.len(),
        lines.len(),
        "fastText printed one line per input"
    );
    parsed
}

/// Asserts the server's `results` equal fastText's lines: same labels in the same order,
/// probabilities within 1e-5 (fastText prints 6 significant digits).
fn assert_same(results: &Value, want: &[(Vec<String>, Vec<f64>)], lines: &[String]) {
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), want.len());
    for (i, (r, (labels, probs))) in results.iter().zip(want).enumerate() {
        let got: Vec<&str> = r["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(got, *labels, "line {i} {:?}", lines[i]);
        let p = r["probs"].as_array().unwrap();
        assert_eq!(p.len(), probs.len());
        for (a, b) in p.iter().zip(probs) {
            let a = a.as_f64().unwrap();
            assert!((a - b).abs() <= 1e-5, "line {i}: {a} vs fastText {b}");
        }
    }
}

#[tokio::test]
async fn predict_equals_fasttext_predict_prob_on_lid176() {
    let app = lid_app(Limits::default());
    let lines = lines();
    // Default k = 1, threshold 0.
    let a = post(&app, "/v1/models/lid/predict", json!({ "texts": lines })).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_same(&a.json()["results"], &fasttext(&lines, 1, 0.0), &lines);
    // Top 3 above 0.05.
    let a = post(
        &app,
        "/v1/models/lid/predict",
        json!({ "texts": lines, "k": 3, "threshold": 0.05 }),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let want = fasttext(&lines, 3, 0.05);
    assert_same(&a.json()["results"], &want, &lines);
    assert!(
        want.iter().any(|(l, _)| l.len() > 1) && want.iter().any(|(l, _)| l.len() == 1),
        "the threshold cuts some lines and not others"
    );
    // One `text` answers as one entry of `texts`.
    let a = post(
        &app,
        "/v1/models/lid/predict",
        json!({ "text": "Das ist ein Haus", "k": 3, "threshold": 0.05 }),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let v = a.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["results"][0]["labels"][0], "__label__de");
    assert_same(&v["results"], &want[..1], &lines[..1]);
    // /v1/models lists the classifier.
    let m = get(&app, "/v1/models").await.json();
    let c = &m["classifiers"][0];
    assert_eq!(c["name"], "lid");
    assert_eq!(c["labels"], 176);
    assert_eq!(c["loss"], "hs");
    assert_eq!(c["quantized"], true);
    assert!(m["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == "lid" && d["kind"] == "classifier"));
}

#[tokio::test]
async fn predict_refuses_bad_requests_with_clear_errors() {
    let limits = Limits {
        max_batch: 4,
        max_k: 50,
        max_body: 4096,
        ..Limits::default()
    };
    let app = lid_app(limits);
    let url = "/v1/models/lid/predict";
    for (body, status, code) in [
        (json!({}), 422, "invalid_request"),
        (
            json!({ "text": "a", "texts": ["b"] }),
            422,
            "invalid_request",
        ),
        (json!({ "text": 3 }), 422, "invalid_request"),
        (json!({ "texts": "not a list" }), 422, "invalid_request"),
        (json!({ "texts": ["ok", 5] }), 422, "invalid_request"),
        (json!({ "texts": [] }), 422, "empty_batch"),
        (
            json!({ "texts": ["a", "b", "c", "d", "e"] }),
            413,
            "batch_too_large",
        ),
        (json!({ "text": "a", "k": 0 }), 422, "k_out_of_range"),
        (json!({ "text": "a", "k": 51 }), 422, "k_out_of_range"),
        (json!({ "text": "a", "k": -1 }), 422, "invalid_request"),
        (json!({ "text": "a", "k": 1.5 }), 422, "invalid_request"),
        (json!({ "text": "a", "k": "3" }), 422, "invalid_request"),
        (json!({ "text": "a", "k": 1e30 }), 422, "invalid_request"),
        (
            json!({ "text": "a", "threshold": -0.1 }),
            422,
            "threshold_out_of_range",
        ),
        (
            json!({ "text": "a", "threshold": 1.5 }),
            422,
            "threshold_out_of_range",
        ),
        (
            json!({ "text": "a", "threshold": "0.1" }),
            422,
            "invalid_request",
        ),
        (json!({ "text": "a", "extra": 1 }), 422, "invalid_request"),
        (json!({ "text": "two\nlines" }), 422, "invalid_request"),
        (
            json!({ "texts": ["one", "two\nlines"] }),
            422,
            "invalid_request",
        ),
        (json!({ "text": "x".repeat(5000) }), 413, "body_too_large"),
    ] {
        let a = post(&app, url, body.clone()).await;
        a.assert_error(status, code);
        let _ = body;
    }
    let a = post(&app, url, json!({ "texts": ["a", "b\nc"] })).await;
    assert!(a.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("texts[1]"));
    let a = post(&app, url, json!({ "text": "a", "k": 0 })).await;
    assert_eq!(a.json()["error"]["param"], "k");
    // Malformed JSON, wrong content type, unknown model, a model that is not a classifier.
    post_text(&app, url, "{\"text\": ")
        .await
        .assert_error(400, "malformed_json");
    call_raw(&app, "POST", url, Some("text/plain"), b"{}".to_vec())
        .await
        .assert_error(415, "unsupported_media_type");
    post(&app, "/v1/models/nope/predict", json!({ "text": "a" }))
        .await
        .assert_error(404, "unknown_model");
    post(&app, "/v1/models/toy/predict", json!({ "text": "a" }))
        .await
        .assert_error(422, "not_a_classifier");
    // A classifier answers no word-vector route.
    post(&app, "/v1/models/lid/similar", json!({ "word": "a" }))
        .await
        .assert_error(404, "unknown_model");
}
