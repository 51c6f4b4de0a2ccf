//! The API's answers on good requests, checked against the fixtures' known vectors and against
//! cosine similarities computed here in f64.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn health_and_models() {
    let app = app();
    let a = get(&app, "/healthz").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({"status": "ok"}));

    let v = get(&app, "/v1/models").await.json();
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    // Sorted by name: "sub", then "toy".
    assert_eq!(
        models[0],
        json!({"name": "sub", "rows": 2, "dims": 3, "storage": "f32",
               "subwords": {"minn": 3, "maxn": 4, "buckets": 1}, "sweep": false})
    );
    assert_eq!(
        models[1],
        json!({"name": "toy", "rows": TOY.len(), "dims": 4, "storage": "f32", "subwords": null,
               "sweep": false})
    );
}

#[tokio::test]
async fn a_sweep_chart_beside_the_model_file_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let chart = toy_sweep_chart();
    std::fs::write(dir.path().join("toy.sweep.svg"), &chart).unwrap();
    // FILE.sweep.svg is found too.
    std::fs::write(dir.path().join("other.embers.sweep.svg"), &chart).unwrap();
    let mut reg = embers_server::Registry::new();
    reg.add_embeddings("toy", dir.path().join("toy.embers"), toy())
        .unwrap();
    reg.add_embeddings("other", dir.path().join("other.embers"), toy())
        .unwrap();
    reg.add_embeddings("bare", dir.path().join("bare.embers"), toy())
        .unwrap();
    let app = embers_server::router(embers_server::state(reg, Default::default()));
    let v = get(&app, "/v1/models").await.json();
    let sweeps: Vec<(String, bool)> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["sweep"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sweeps,
        [
            ("bare".into(), false),
            ("other".into(), true),
            ("toy".into(), true)
        ]
    );
    for name in ["toy", "other"] {
        let a = get(&app, &format!("/v1/models/{name}/sweep.svg")).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.content_type, "image/svg+xml");
        assert_eq!(a.text, chart);
    }
    get(&app, "/v1/models/bare/sweep.svg")
        .await
        .assert_error(404, "no_sweep");
    get(&app, "/v1/models/nope/sweep.svg")
        .await
        .assert_error(404, "unknown_model");
}

#[test]
fn a_bad_sweep_chart_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 3] = [
        (
            "not-svg",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("not-utf8", b"<svg>\xff</svg>".to_vec()),
        ("too-large", {
            let mut v = b"<svg>".to_vec();
            v.resize(embers_server::registry::MAX_SWEEP_CHART as usize + 1, b' ');
            v
        }),
    ];
    for (name, bytes) in cases {
        let chart = dir.path().join(format!("{name}.sweep.svg"));
        std::fs::write(&chart, bytes).unwrap();
        let mut reg = embers_server::Registry::new();
        let err = reg
            .add_embeddings(name, dir.path().join(format!("{name}.embers")), toy())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&chart.display().to_string()), "{name}: {err}");
        assert!(!reg.contains(name), "{name}");
    }
}

#[tokio::test]
async fn vectors_known_unknown_unk_and_subwords() {
    let app = app();
    let v = post(
        &app,
        "/v1/models/toy/vectors",
        json!({"words": ["queen", "dragon", "king"]}),
    )
    .await
    .json();
    let r = v["results"].as_array().unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["word"], "queen");
    assert_eq!(r[0]["id"], 1);
    assert_eq!(r[0]["source"], "vocab");
    let got: Vec<f32> = serde_json::from_value(r[0]["vector"].clone()).unwrap();
    assert_eq!(got, toy_vec("queen"));
    assert_eq!(r[1], json!({"word": "dragon", "error": "unknown word"}));
    assert_eq!(r[2]["word"], "king");

    // With `unk`, the unknown word gets the <unk> row (id 8, all zeros).
    let v = post(
        &app,
        "/v1/models/toy/vectors",
        json!({"words": ["dragon"], "unk": true}),
    )
    .await
    .json();
    assert_eq!(
        v["results"][0],
        json!({"word": "dragon", "id": 8, "source": "unk", "vector": [0.0, 0.0, 0.0, 0.0]})
    );

    // A model with subwords builds unknown words from their n-grams (one bucket: its row).
    let v = post(
        &app,
        "/v1/models/sub/vectors",
        json!({"words": ["cats", "dog"]}),
    )
    .await
    .json();
    assert_eq!(
        v["results"][0],
        json!({"word": "cats", "source": "subwords", "vector": [0.25, -0.5, 2.0]})
    );
    assert_eq!(
        v["results"][1],
        json!({"word": "dog", "id": 1, "source": "vocab", "vector": [0.0, 1.0, 0.0]})
    );
}

#[tokio::test]
async fn similarity_of_pairs_matches_f64_cosine() {
    let app = app();
    let v = post(
        &app,
        "/v1/models/toy/similarity",
        json!({"pairs": [["king", "queen"], ["apple", "pear"], ["king", "dragon"], ["king", "king"]]}),
    )
    .await
    .json();
    let r = v["results"].as_array().unwrap();
    let want = cosine64(&toy_vec("king"), &toy_vec("queen"));
    assert!((r[0]["score"].as_f64().unwrap() - want).abs() < 1e-6);
    assert_eq!(r[0]["pair"], json!(["king", "queen"]));
    let want = cosine64(&toy_vec("apple"), &toy_vec("pear"));
    assert!((r[1]["score"].as_f64().unwrap() - want).abs() < 1e-6);
    assert_eq!(
        r[2],
        json!({"pair": ["king", "dragon"], "error": "unknown word \"dragon\""})
    );
    assert!((r[3]["score"].as_f64().unwrap() - 1.0).abs() < 1e-6);

    // Subword vectors take part: cos([0.25,-0.5,2], [1,0,0]).
    let v = post(
        &app,
        "/v1/models/sub/similarity",
        json!({"pairs": [["kitten", "cat"]]}),
    )
    .await
    .json();
    let want = cosine64(&[0.25, -0.5, 2.0], &[1.0, 0.0, 0.0]);
    assert!((v["results"][0]["score"].as_f64().unwrap() - want).abs() < 1e-6);
}

#[tokio::test]
async fn projection_places_words_on_principal_axes() {
    let app = app();
    // apple and pear differ mostly from the royals along one direction: the first axis must
    // separate the two groups, and the explained shares are in 0..=1 with x ≥ y.
    let v = post(
        &app,
        "/v1/models/toy/projection",
        json!({"words": ["king", "queen", "prince", "apple", "pear", "dragon"]}),
    )
    .await
    .json();
    assert_eq!(v["unknown"], json!(["dragon"]));
    let pts = v["points"].as_array().unwrap();
    assert_eq!(pts.len(), 5);
    let x = |w: &str| {
        pts.iter().find(|p| p["word"] == w).unwrap()["x"]
            .as_f64()
            .unwrap()
    };
    let royals = [x("king"), x("queen"), x("prince")];
    let fruit = [x("apple"), x("pear")];
    let sep = royals
        .iter()
        .all(|r| fruit.iter().all(|f| r.signum() != f.signum()));
    assert!(sep, "first axis separates royals from fruit: {pts:?}");
    let ex = v["explained"].as_array().unwrap();
    let (ex0, ex1) = (ex[0].as_f64().unwrap(), ex[1].as_f64().unwrap());
    assert!(
        ex0 >= ex1 && ex1 >= 0.0 && ex0 + ex1 <= 1.0 + 1e-9,
        "{ex:?}"
    );
    // The coordinates are centred.
    let sum_x: f64 = pts.iter().map(|p| p["x"].as_f64().unwrap()).sum();
    assert!(sum_x.abs() < 1e-9);
}

#[tokio::test]
async fn metrics_count_requests_latency_and_errors() {
    let app = app();
    get(&app, "/healthz").await;
    get(&app, "/healthz").await;
    post(&app, "/v1/models/nope/vectors", json!({"words": ["a"]})).await;
    get(&app, "/no/such/page").await;
    let m = get(&app, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.content_type.starts_with("text/plain"),
        "{}",
        m.content_type
    );
    let t = m.text;
    assert!(
        t.contains(
            "embers_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
        ),
        "{t}"
    );
    assert!(t.contains(
        "embers_http_requests_total{route=\"/v1/models/{model}/vectors\",method=\"POST\",status=\"404\"} 1"
    ));
    assert!(t.contains(
        "embers_http_errors_total{route=\"/v1/models/{model}/vectors\",code=\"unknown_model\"} 1"
    ));
    assert!(t.contains("embers_http_errors_total{route=\"unmatched\",code=\"not_found\"} 1"));
    assert!(t.contains(
        "embers_http_request_duration_seconds_count{route=\"/healthz\",method=\"GET\"} 2"
    ));
    assert!(t.contains(
        "embers_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",le=\"+Inf\"} 2"
    ));
    // The /metrics request itself is in flight while rendering.
    assert!(t.contains("embers_http_requests_in_flight 1"));
}

#[test]
fn a_real_server_answers_over_tcp() {
    let server = Running::start(registry(), embers_server::Limits::default());
    let (status, body) = http(server.addr, "GET", "/healthz", None);
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = http(
        server.addr,
        "POST",
        "/v1/models/toy/vectors",
        Some(r#"{"words":["man"]}"#),
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let got: Vec<f32> = serde_json::from_value(v["results"][0]["vector"].clone()).unwrap();
    assert_eq!(got, toy_vec("man"));
}

#[tokio::test]
async fn v1_embeddings_serves_a_sentence_transformers_folder() {
    let dir = embers_testkit::testdata("minilm/modules.json").join("minilm");
    let model = embers::sentence::SentenceTransformer::load(&dir).unwrap();
    let texts = [
        "A man is playing a guitar.",
        "",
        "naïve café, 東京",
        "stock markets fell sharply today",
        "The quick brown fox jumps over the lazy dog.",
    ];
    let want = model.encode(&texts).unwrap();
    let tokens: usize = texts.iter().map(|t| model.tokenize(t).unwrap().len()).sum();
    let mut reg = registry();
    reg.add_transformer(
        "mini",
        &dir,
        embers::transformer::InputEmbeddings::from_dir(&dir).unwrap(),
    )
    .unwrap();
    // The folder's encoder shares its input layer's name; no other model's.
    assert!(reg
        .add_sentence_transformer("toy", &dir, model.clone())
        .is_err());
    reg.add_sentence_transformer("mini", &dir, model).unwrap();
    let limits = embers_server::Limits {
        max_input_tokens: 32,
        ..embers_server::Limits::default()
    };
    let app = embers_server::router(embers_server::state(reg, limits));

    let v = post(
        &app,
        "/v1/embeddings",
        json!({"model": "mini", "input": texts, "encoding_format": "float"}),
    )
    .await
    .json();
    assert_eq!(v["model"], "mini");
    assert_eq!(v["usage"]["prompt_tokens"], tokens);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), texts.len());
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["index"], i);
        let got: Vec<f32> = serde_json::from_value(item["embedding"].clone()).unwrap();
        assert_eq!(got.len(), 384);
        let worst = got
            .iter()
            .zip(want.row(i))
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "text {i}: {worst}");
    }
    // One string; `dimensions` cuts and re-normalises.
    let v = post(
        &app,
        "/v1/embeddings",
        json!({"model": "mini", "input": texts[0], "dimensions": 8}),
    )
    .await
    .json();
    let got: Vec<f32> = serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
    let mut cut = want.row(0)[..8].to_vec();
    embers::sentence::normalize_in_place(&mut cut);
    for (a, b) in got.iter().zip(&cut) {
        assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
    }
    // Token ids are refused (a transformer takes text); the per-input token limit holds.
    post(
        &app,
        "/v1/embeddings",
        json!({"model": "mini", "input": [101, 2023, 102]}),
    )
    .await
    .assert_error(400, "invalid_request");
    post(
        &app,
        "/v1/embeddings",
        json!({"model": "mini", "input": ["word ".repeat(40)]}),
    )
    .await
    .assert_error(400, "input_too_long");
    // Listed once in OpenAI's list, as a sentence model with its dimensions.
    let v = get(&app, "/v1/models").await.json();
    let entries: Vec<&serde_json::Value> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["id"] == "mini")
        .collect();
    assert_eq!(entries.len(), 1, "{v}");
    assert_eq!(entries[0]["dims"], 384, "{v}");
}
