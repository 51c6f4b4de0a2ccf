//! Neighbours, analogies and transformer embeddings over HTTP, checked against brute-force
//! cosine in f64 computed here, against the BERT vocabulary's well-known ids, and against
//! sequential answers when many requests are batched together.

use serde_json::{json, Value};

use crate::common::*;

fn neighbours(v: &Value) -> Vec<(String, f64)> {
    v["neighbors"]
        .as_array()
        .unwrap_or_else(|| panic!("no neighbours: {v}"))
        .iter()
        .map(|n| {
            (
                n["word"].as_str().unwrap().to_string(),
                n["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn assert_same(got: &[(String, f64)], want: &[(String, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "{got:?} vs {want:?}");
        assert!((g.1 - w.1).abs() < 1e-5, "{got:?} vs {want:?}");
    }
}

#[tokio::test]
async fn similar_word_matches_brute_force() {
    let app = app();
    for (word, k) in [("king", 3), ("apple", 5), ("woman", 7)] {
        let v = post(
            &app,
            "/v1/models/toy/similar",
            json!({"word": word, "k": k}),
        )
        .await
        .json();
        let want = toy_reference(&toy_unit(word), k, &[word]);
        assert_same(&neighbours(&v), &want);
    }
    // Default k is 10; the toy has 8 rows with a direction besides the query (and <unk> is
    // zero), so the answer is every other non-zero row.
    let v = post(&app, "/v1/models/toy/similar", json!({"word": "king"}))
        .await
        .json();
    assert_same(
        &neighbours(&v),
        &toy_reference(&toy_unit("king"), 10, &["king"]),
    );
    assert_eq!(neighbours(&v).len(), 7);
}

#[tokio::test]
async fn similar_vector_and_subword_word() {
    let app = app();
    let q = [0.2f32, 0.1, 0.9, 0.3];
    let v = post(&app, "/v1/models/toy/similar", json!({"vector": q, "k": 4}))
        .await
        .json();
    let q64: Vec<f64> = q.iter().map(|x| *x as f64).collect();
    // Nothing is excluded for a vector query.
    assert_same(&neighbours(&v), &toy_reference(&q64, 4, &[]));

    // An unknown word with subwords searches by its subword vector ([0.25, -0.5, 2]).
    let v = post(
        &app,
        "/v1/models/sub/similar",
        json!({"word": "kitten", "k": 2}),
    )
    .await
    .json();
    let got = neighbours(&v);
    let cat = cosine64(&[0.25, -0.5, 2.0], &[1.0, 0.0, 0.0]);
    let dog = cosine64(&[0.25, -0.5, 2.0], &[0.0, 1.0, 0.0]);
    assert_eq!(got[0].0, "cat");
    assert!((got[0].1 - cat).abs() < 1e-6 && (got[1].1 - dog).abs() < 1e-6);

    post(
        &app,
        "/v1/models/toy/similar",
        json!({"vector": [0, 0, 0, 0]}),
    )
    .await
    .assert_error(422, "invalid_request");
}

#[tokio::test]
async fn analogy_is_3cosadd_over_unit_vectors() {
    let app = app();
    let v = post(
        &app,
        "/v1/models/toy/analogy",
        json!({"a": "man", "b": "king", "c": "woman", "k": 3}),
    )
    .await
    .json();
    // king - man + woman, each a unit vector (the mean's scale does not change cosines).
    let (m, k, w) = (toy_unit("man"), toy_unit("king"), toy_unit("woman"));
    let q: Vec<f64> = (0..4).map(|i| k[i] - m[i] + w[i]).collect();
    let want = toy_reference(&q, 3, &["man", "king", "woman"]);
    assert_same(&neighbours(&v), &want);
}

#[tokio::test]
async fn concurrent_queries_are_batched_with_the_same_answers() {
    let app = app();
    let words = [
        "king", "queen", "man", "woman", "prince", "princess", "apple", "pear",
    ];
    let mut sequential = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let k = 1 + i % 5;
        let v = post(&app, "/v1/models/toy/similar", json!({"word": w, "k": k})).await;
        sequential.push(neighbours(&v.json()));
    }
    // 400 requests at once, on a multi-threaded runtime: the search thread answers them in
    // batches of mixed k; each answer must equal the one given alone.
    let mut tasks = Vec::new();
    for r in 0..400 {
        let app = app.clone();
        let i = r % words.len();
        tasks.push(tokio::spawn(async move {
            let k = 1 + i % 5;
            let v = post(
                &app,
                "/v1/models/toy/similar",
                json!({"word": words[i], "k": k}),
            )
            .await;
            (i, neighbours(&v.json()))
        }));
    }
    for t in tasks {
        let (i, got) = t.await.unwrap();
        assert_eq!(got, sequential[i]);
    }
}

#[tokio::test]
async fn transformer_embed_gives_tokens_ids_and_layer_output() {
    let dir = testdata().join("minilm");
    let layer = embers::transformer::InputEmbeddings::from_dir(&dir).unwrap();
    let mut registry = registry();
    registry
        .add_transformer("minilm", &dir, layer.clone())
        .unwrap();
    let app = embers_server::router(embers_server::state(registry, Default::default()));

    let models = get(&app, "/v1/models").await.json();
    assert_eq!(
        models["transformers"],
        json!([{"name": "minilm", "family": layer.family().name(), "vocab_size": 30522, "hidden_size": 384}])
    );

    let v = post(
        &app,
        "/v1/transformers/minilm/embed",
        json!({"text": "Hello world"}),
    )
    .await
    .json();
    // bert-base-uncased's vocabulary: [CLS] 101, hello 7592, world 2088, [SEP] 102.
    assert_eq!(v["tokens"], json!(["[CLS]", "hello", "world", "[SEP]"]));
    assert_eq!(v["ids"], json!([101, 7592, 2088, 102]));
    assert_eq!(v["type_ids"], json!([0, 0, 0, 0]));
    assert_eq!(v["truncated"], false);
    let rows: Vec<Vec<f32>> = serde_json::from_value(v["embeddings"].clone()).unwrap();
    let (_, want) = layer.embed_text("Hello world", None).unwrap();
    assert_eq!(rows.len(), 4);
    for (r, row) in rows.iter().enumerate() {
        assert_eq!(row.as_slice(), want.row(r));
    }

    let v = post(
        &app,
        "/v1/transformers/minilm/embed",
        json!({"text": "a", "pair": "b"}),
    )
    .await
    .json();
    assert_eq!(v["type_ids"], json!([0, 0, 0, 1, 1]));

    post(&app, "/v1/transformers/toy/embed", json!({"text": "a"}))
        .await
        .assert_error(404, "unknown_model");
    post(
        &app,
        "/v1/transformers/minilm/embed",
        json!({"words": ["a"]}),
    )
    .await
    .assert_error(422, "invalid_request");
    // This model's tokenizer.json truncates to 128 tokens: the answer says it was cut.
    let long = "word ".repeat(600);
    let v = post(&app, "/v1/transformers/minilm/embed", json!({"text": long}))
        .await
        .json();
    assert_eq!(v["ids"].as_array().unwrap().len(), 128);
    assert_eq!(v["truncated"], true);
    assert_eq!(v["ids"][127], 102);
}

#[tokio::test]
async fn ann_queries_use_the_models_hnsw_index() {
    use embers::query::hnsw::{Hnsw, HnswParams};
    // Without an index, `ann: true` is refused with a hint.
    post(
        &app(),
        "/v1/models/toy/similar",
        json!({"word": "king", "ann": true}),
    )
    .await
    .assert_error(422, "ann_unavailable");

    // With one (single-threaded build: deterministic), on this 9-row model the candidate list
    // covers every row, so the answers equal the exact ones.
    let emb = toy();
    let params = HnswParams {
        threads: 1,
        ..HnswParams::default()
    };
    let index = Hnsw::build(&emb, &params).unwrap();
    let mut registry = embers_server::Registry::new();
    registry
        .add_embeddings_with_index("toy", "toy.embers", emb, Some(index))
        .unwrap();
    let app = embers_server::router(embers_server::state(registry, Default::default()));
    for word in ["king", "pear", "woman"] {
        let v = post(
            &app,
            "/v1/models/toy/similar",
            json!({"word": word, "k": 4, "ann": true}),
        )
        .await
        .json();
        assert_same(&neighbours(&v), &toy_reference(&toy_unit(word), 4, &[word]));
    }
    let v = post(
        &app,
        "/v1/models/toy/analogy",
        json!({"a": "man", "b": "king", "c": "woman", "k": 3, "ann": true}),
    )
    .await
    .json();
    let (m, k, w) = (toy_unit("man"), toy_unit("king"), toy_unit("woman"));
    let q: Vec<f64> = (0..4).map(|i| k[i] - m[i] + w[i]).collect();
    assert_same(
        &neighbours(&v),
        &toy_reference(&q, 3, &["man", "king", "woman"]),
    );

    // An index built for other embeddings is refused when registering.
    let other = Hnsw::build(&with_subwords(), &params).unwrap();
    let mut registry = embers_server::Registry::new();
    assert!(registry
        .add_embeddings_with_index("toy", "toy.embers", toy(), Some(other))
        .is_err());
}

/// A model full of exact ties (duplicated rows, rows scaled by powers of two) and
/// near-duplicates, 2,000 × 50.
fn tie_model() -> embers::Embeddings {
    let (rows, dims) = (2000usize, 50usize);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let mut data: Vec<f32> = (0..rows * dims).map(|_| next()).collect();
    let groups: [&[(usize, f32)]; 2] = [
        &[
            (37, 1.0),
            (100, 1.0),
            (640, 2.0),
            (641, 0.5),
            (1500, 4.0),
            (1999, 0.125),
        ],
        &[(5, 1.0), (6, 1.0), (7, 2.0)],
    ];
    for group in groups {
        let base: Vec<f32> = (0..dims).map(|_| next()).collect();
        for &(id, scale) in group {
            for d in 0..dims {
                data[id * dims + d] = base[d] * scale;
            }
        }
    }
    data.copy_within(37 * dims..38 * dims, 300 * dims);
    data[300 * dims] = f32::from_bits(data[300 * dims].to_bits() + 1);
    let words = (0..rows).map(|i| format!("w{i}")).collect();
    embers::Embeddings::new(
        embers::Vocab::from_words(words).unwrap(),
        embers::DenseMatrix::new(rows, dims, data).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn served_answers_equal_library_answers_on_near_ties() {
    use embers::search::{Exact, Screening};
    let emb = tie_model();
    let alone = Exact::new(&emb, Screening::Off);
    let words = ["w37", "w100", "w640", "w5", "w7", "w300", "w11", "w1999"];
    let ks = [1usize, 3, 4, 10];
    let want = |w: &str, k: usize| -> Vec<(String, f32)> {
        let id = emb.vocab().id(w).unwrap();
        embers::query::named(&emb, alone.top_k(&emb.unit_row(id), k, emb.len(), &[id]))
            .into_iter()
            .map(|n| (n.word, n.score))
            .collect()
    };
    for screen in [true, false] {
        let mut registry = embers_server::registry::Registry::new();
        registry.set_query_screen(screen);
        registry
            .add_embeddings("ties", "ties.embers", tie_model())
            .unwrap();
        let app = embers_server::router(embers_server::state(registry, Default::default()));
        // 256 requests at once: batches of every size (one by one through the screen when
        // small, blocked when large), mixed k.
        let mut tasks = Vec::new();
        for r in 0..256 {
            let app = app.clone();
            let (w, k) = (words[r % words.len()], ks[r % ks.len()]);
            tasks.push(tokio::spawn(async move {
                let v = post(&app, "/v1/models/ties/similar", json!({"word": w, "k": k})).await;
                (w, k, v.json())
            }));
        }
        for t in tasks {
            let (w, k, v) = t.await.unwrap();
            let got: Vec<(String, f32)> = neighbours(&v)
                .into_iter()
                .map(|(word, s)| (word, s as f32))
                .collect();
            assert_eq!(got, want(w, k), "screen {screen}, {w} k {k}");
        }
    }
    // Ties by id: w37's direction is shared by five other rows at exactly the same cosine
    // (w300, one ulp away, ranks by its own score).
    let top: Vec<String> = want("w37", 4)
        .into_iter()
        .map(|p| p.0)
        .filter(|w| w != "w300")
        .take(3)
        .collect();
    assert_eq!(top, ["w100", "w640", "w641"]);
}
