//! Bad requests of every kind get a structured 4xx answer (`{"error": {"code", "message"}}`),
//! never a crash: malformed JSON, wrong types, unknown fields and models, empty and oversized
//! batches and bodies, bad `k`, unknown routes and methods, slow bodies.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use embers_server::Limits;
use serde_json::json;
use tower::ServiceExt;

use crate::common::*;

const MODEL_ROUTES: &[&str] = &["vectors", "similarity", "similar", "analogy", "projection"];

#[tokio::test]
async fn malformed_json_is_400() {
    let app = app();
    for route in MODEL_ROUTES {
        let path = format!("/v1/models/toy/{route}");
        for body in ["{", "not json", "[1, 2", "", "{\"a\": 1} x"] {
            let a = post_text(&app, &path, body).await;
            a.assert_error(400, "malformed_json");
        }
    }
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_422() {
    let app = app();
    let cases = [
        ("vectors", json!({"words": "king"})),
        ("vectors", json!({"words": [1, 2]})),
        ("vectors", json!({"word": ["king"]})),
        ("vectors", json!({})),
        ("vectors", json!([])),
        ("vectors", json!({"words": ["king"], "unk": "yes"})),
        ("similarity", json!({"pairs": [["a", "b", "c"]]})),
        ("similarity", json!({"pairs": [["a"]]})),
        ("similarity", json!({"pairs": "a,b"})),
        ("similar", json!({"word": 7})),
        ("similar", json!({"word": "king", "k": -1})),
        ("similar", json!({"word": "king", "k": 2.5})),
        ("similar", json!({"vector": ["x"]})),
        ("analogy", json!({"a": "man", "b": "king"})),
        ("projection", json!({"words": null})),
    ];
    for (route, body) in cases {
        let a = post(&app, &format!("/v1/models/toy/{route}"), body.clone()).await;
        assert_eq!(a.status, 422, "{route} {body}: {}", a.text);
        a.assert_error(422, "invalid_request");
    }
}

#[tokio::test]
async fn unknown_models_are_404_on_every_model_route() {
    let app = app();
    for route in MODEL_ROUTES {
        let body = match *route {
            "similarity" => json!({"pairs": [["a", "b"]]}),
            "similar" => json!({"word": "a"}),
            "analogy" => json!({"a": "a", "b": "b", "c": "c"}),
            _ => json!({"words": ["a"]}),
        };
        let a = post(&app, &format!("/v1/models/nope/{route}"), body).await;
        a.assert_error(404, "unknown_model");
        assert!(a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope"));
    }
}

#[tokio::test]
async fn empty_and_oversized_batches() {
    let app = app_with(Limits {
        max_batch: 3,
        ..Limits::default()
    });
    for (route, empty, big) in [
        (
            "vectors",
            json!({"words": []}),
            json!({"words": ["a", "b", "c", "d"]}),
        ),
        (
            "similarity",
            json!({"pairs": []}),
            json!({"pairs": vec![["a", "b"]; 4]}),
        ),
        (
            "projection",
            json!({"words": []}),
            json!({"words": vec!["a"; 4]}),
        ),
    ] {
        let path = format!("/v1/models/toy/{route}");
        post(&app, &path, empty)
            .await
            .assert_error(422, "empty_batch");
        post(&app, &path, big)
            .await
            .assert_error(413, "batch_too_large");
    }
    // Exactly at the limit is fine.
    let a = post(
        &app,
        "/v1/models/toy/vectors",
        json!({"words": ["a", "b", "c"]}),
    )
    .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = app_with(Limits {
        max_body: 64,
        ..Limits::default()
    });
    let words: Vec<String> = (0..20).map(|i| format!("word{i}")).collect();
    let a = post(&app, "/v1/models/toy/vectors", json!({ "words": words })).await;
    a.assert_error(413, "body_too_large");
    let a = post(&app, "/v1/models/toy/vectors", json!({"words": ["king"]})).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn k_out_of_range_and_bad_queries() {
    let app = app_with(Limits {
        max_k: 5,
        ..Limits::default()
    });
    let p = "/v1/models/toy/similar";
    post(&app, p, json!({"word": "king", "k": 0}))
        .await
        .assert_error(422, "k_out_of_range");
    post(&app, p, json!({"word": "king", "k": 6}))
        .await
        .assert_error(422, "k_out_of_range");
    post(
        &app,
        "/v1/models/toy/analogy",
        json!({"a": "man", "b": "king", "c": "woman", "k": 6}),
    )
    .await
    .assert_error(422, "k_out_of_range");
    post(&app, p, json!({"word": "king", "vector": [1, 0, 0, 0]}))
        .await
        .assert_error(422, "invalid_request");
    post(&app, p, json!({"k": 3}))
        .await
        .assert_error(422, "invalid_request");
    post(&app, p, json!({"vector": [1, 0, 0]}))
        .await
        .assert_error(422, "dimension_mismatch");
    post(&app, p, json!({"word": "dragon"}))
        .await
        .assert_error(422, "unknown_word");
    post(
        &app,
        "/v1/models/toy/analogy",
        json!({"a": "man", "b": "dragon", "c": "woman"}),
    )
    .await
    .assert_error(422, "unknown_word");
}

#[tokio::test]
async fn content_type_routes_and_methods() {
    let app = app();
    let a = call_raw(
        &app,
        "POST",
        "/v1/models/toy/vectors",
        None,
        br#"{"words":["king"]}"#.to_vec(),
    )
    .await;
    a.assert_error(415, "unsupported_media_type");
    let a = call_raw(
        &app,
        "POST",
        "/v1/models/toy/vectors",
        Some("text/plain"),
        br#"{"words":["king"]}"#.to_vec(),
    )
    .await;
    a.assert_error(415, "unsupported_media_type");
    get(&app, "/v2/models").await.assert_error(404, "not_found");
    get(&app, "/v1/models/toy")
        .await
        .assert_error(404, "not_found");
    get(&app, "/v1/models/toy/vectors")
        .await
        .assert_error(405, "method_not_allowed");
    post(&app, "/v1/models", json!({}))
        .await
        .assert_error(405, "method_not_allowed");
    // Invalid UTF-8 in a word is malformed JSON, not a crash.
    let a = call_raw(
        &app,
        "POST",
        "/v1/models/toy/vectors",
        Some("application/json"),
        b"{\"words\":[\"\xff\"]}".to_vec(),
    )
    .await;
    assert!(a.status.is_client_error(), "{a:?}");
    // A percent-encoded model name that is not UTF-8.
    let a = post(&app, "/v1/models/%FF/vectors", json!({"words": ["a"]})).await;
    a.assert_error(400, "bad_path");
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out_with_503() {
    let app = app_with(Limits {
        timeout: Duration::from_millis(200),
        ..Limits::default()
    });
    let never = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let req = Request::builder()
        .method("POST")
        .uri("/v1/models/toy/vectors")
        .header("content-type", "application/json")
        .body(Body::from_stream(never))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 503);
    use http_body_util::BodyExt;
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["error"]["code"], "timeout");
    let m = get(&app, "/metrics").await.text;
    assert!(
        m.contains(
            "embers_http_errors_total{route=\"/v1/models/{model}/vectors\",code=\"timeout\"} 1"
        ),
        "{m}"
    );
}
