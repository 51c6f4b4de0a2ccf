//! The OpenAPI document kept in the repository matches the router: the same (method, path)
//! pairs, every documented route is really routed, and every `$ref` resolves.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;

fn document() -> Value {
    serde_json::from_str(embers_server::OPENAPI).expect("openapi.json is JSON")
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            out.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn document_lists_exactly_the_api_routes() {
    let doc = document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let documented = documented_routes(&doc);
    let routed: BTreeSet<(String, String)> = embers_server::API_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routes not in openapi.json: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not routed: {extra:?}");
}

#[tokio::test]
async fn every_documented_route_is_routed() {
    let app = app();
    for (method, path) in documented_routes(&document()) {
        let concrete = path.replace("{model}", "toy");
        let a = if method == "GET" {
            get(&app, &concrete).await
        } else {
            post(&app, &concrete, json!({})).await
        };
        if !a.status.is_success() {
            let code = a.json()["error"]["code"].as_str().unwrap_or("").to_string();
            assert!(
                code != "not_found" && code != "method_not_allowed",
                "{method} {path} is documented but answers {code}"
            );
        }
    }
}

#[tokio::test]
async fn served_document_is_the_file_and_refs_resolve() {
    let a = get(&app(), "/openapi.json").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type, "application/json");
    assert_eq!(a.text, embers_server::OPENAPI);

    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 10);
    for r in refs {
        let pointer = r.strip_prefix('#').expect("local $ref");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref" {
                    out.push(x.as_str().unwrap().to_string());
                } else {
                    collect_refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}
