//! Queries and benchmarks against gensim 4.4, computed in the same test run: the Python script
//! `gensim_reference.py` loads (or generates) a model with gensim, prints its vectors and
//! gensim's answers, and these tests check that embers gives the same answers on the same rows
//! (third-party files are read with embers' own reader, checked against what gensim read).
//! Needs the reference Python (gensim 4.4) and the fetched test data; fails (not skips) without them.

use std::path::{Path, PathBuf};

use embers::eval::{self, AnalogyOptions, PairsOptions};
use embers::query;
use embers::{DenseMatrix, Embeddings, Vocab};
use serde_json::Value;

fn testdata() -> PathBuf {
    embers_testkit::testdata("gensim/questions-words.txt")
}

/// Runs the reference script; returns gensim's answers.
fn gensim(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/gensim_reference.py");
    let td = testdata();
    let out = embers_testkit::python()
        .arg(&script)
        .arg(&td)
        .args(args)
        .output()
        .expect("the reference Python runs (scripts/test.sh sets it up)");
    assert!(
        out.status.success(),
        "gensim reference failed (is gensim 4.4 installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from the reference script")
}

fn model(v: &Value) -> Embeddings {
    let words: Vec<String> = v["words"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    let rows = v["vectors"].as_array().unwrap();
    let dims = rows[0].as_array().unwrap().len();
    let data: Vec<f32> = rows
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
        })
        .collect();
    Embeddings::new(
        Vocab::from_words(words).unwrap(),
        DenseMatrix::new(rows.len(), dims, data).unwrap(),
    )
    .unwrap()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect()
}

/// Same neighbours in the same order, except where gensim's scores are tied to rounding.
fn same_neighbors(got: &[query::Neighbor], want: &Value, what: &str) {
    let want: Vec<(&str, f64)> = want
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap(), p[1].as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), want.len(), "{what}: number of neighbours");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let tol = 1e-5 * w.1.abs().max(1.0);
        assert!(
            (g.score as f64 - w.1).abs() < tol,
            "{what}: score {i}: {} {} vs gensim {} {}",
            g.word,
            g.score,
            w.0,
            w.1
        );
        if g.word != w.0 {
            let tied = want
                .iter()
                .any(|(ww, s)| *ww == g.word && (s - w.1).abs() < 1e-6);
            assert!(tied, "{what}: neighbour {i}: {} vs gensim {}", g.word, w.0);
        }
    }
}

fn check_queries(emb: &Embeddings, r: &Value) {
    for q in r["most_similar"].as_array().unwrap() {
        let (pos, neg, k) = (
            strs(&q["positive"]),
            strs(&q["negative"]),
            q["k"].as_u64().unwrap(),
        );
        let got = query::most_similar(emb, &pos, &neg, k as usize, None).unwrap();
        same_neighbors(
            &got,
            &q["neighbors"],
            &format!("most_similar {pos:?} {neg:?}"),
        );
    }
    for q in r["cosmul"].as_array().unwrap() {
        let (pos, neg, k) = (
            strs(&q["positive"]),
            strs(&q["negative"]),
            q["k"].as_u64().unwrap(),
        );
        let got = query::most_similar_cosmul(emb, &pos, &neg, k as usize, None).unwrap();
        same_neighbors(&got, &q["neighbors"], &format!("cosmul {pos:?} {neg:?}"));
    }
    for q in r["restricted"].as_array().unwrap() {
        let (pos, neg) = (strs(&q["positive"]), strs(&q["negative"]));
        let restrict = q["restrict"].as_u64().unwrap() as usize;
        let got = query::most_similar(emb, &pos, &neg, 3, Some(restrict)).unwrap();
        same_neighbors(&got, &q["neighbors"], &format!("restricted {pos:?}"));
        // The batched path gives the same answer as the single one.
        let ids = query::ids_of(emb, &[pos.clone(), neg.clone()].concat()).unwrap();
        let (p, n) = ids.split_at(pos.len());
        let mean = query::mean_query(emb, p, n).unwrap();
        let batch = query::top_k_batch(emb, &mean, 3, restrict, std::slice::from_ref(&ids));
        let single: Vec<u32> = got.iter().map(|n| n.id).collect();
        assert_eq!(batch[0].iter().map(|h| h.id).collect::<Vec<_>>(), single);
    }
    let bv = &r["by_vector"];
    let v: Vec<f32> = bv["vector"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    let got = query::similar_by_vector(emb, &v, 5, None).unwrap();
    same_neighbors(&got, &bv["neighbors"], "similar_by_vector");
    for s in r["similarity"].as_array().unwrap() {
        let got = query::similarity(emb, s[0].as_str().unwrap(), s[1].as_str().unwrap()).unwrap();
        assert!(
            (got as f64 - s[2].as_f64().unwrap()).abs() < 1e-5,
            "similarity {s}"
        );
    }
    for d in r["doesnt_match"].as_array().unwrap() {
        let words = strs(&d[0]);
        assert_eq!(
            query::doesnt_match(emb, &words).unwrap(),
            d[1].as_str().unwrap()
        );
    }
}

fn check_benchmarks(emb: &Embeddings, r: &Value, restrict: usize) {
    let td = testdata();
    let opts = AnalogyOptions {
        restrict_vocab: restrict,
        ..Default::default()
    };
    let got = eval::evaluate_analogies(emb, td.join("gensim/questions-words.txt"), &opts).unwrap();
    let want = &r["analogies"];
    let sections = want["sections"].as_array().unwrap();
    assert_eq!(got.sections.len() + 1, sections.len());
    for (g, w) in got.sections.iter().zip(sections) {
        assert_eq!(g.section, w["section"].as_str().unwrap());
        let wc = w["correct"].as_array().unwrap().len();
        let wi = w["incorrect"].as_u64().unwrap() as usize;
        assert_eq!((g.correct, g.total), (wc, wc + wi), "section {}", g.section);
    }
    // The very questions answered right, not only their number.
    let total = sections.last().unwrap();
    assert_eq!(total["section"], "Total accuracy");
    let want_right: Vec<Vec<&str>> = total["correct"]
        .as_array()
        .unwrap()
        .iter()
        .map(strs)
        .collect();
    let got_right: Vec<Vec<&str>> = got
        .answers
        .iter()
        .filter(|a| !a[4].is_empty() && a[3] == a[4])
        .map(|a| a[..4].iter().map(String::as_str).collect())
        .collect();
    assert_eq!(got_right, want_right);
    let score = want["score"].as_f64().unwrap();
    assert!(
        (got.accuracy - score).abs() < 5e-5,
        "{} vs {score}",
        got.accuracy
    );
    let dummy = AnalogyOptions {
        dummy4unknown: true,
        ..opts
    };
    let got = eval::evaluate_analogies(emb, td.join("gensim/questions-words.txt"), &dummy).unwrap();
    let want = &r["analogies_dummy"];
    assert_eq!(got.total as u64, want["total"].as_u64().unwrap());
    assert!((got.accuracy - want["score"].as_f64().unwrap()).abs() < 5e-5);

    for p in r["pairs"].as_array().unwrap() {
        let opts = PairsOptions {
            restrict_vocab: restrict,
            dummy4unknown: p["dummy"].as_bool().unwrap(),
            ..Default::default()
        };
        let got = eval::evaluate_pairs(emb, p["file"].as_str().unwrap(), &opts);
        if p.get("error").is_some() {
            assert!(got.is_err(), "{p}");
            continue;
        }
        let got = got.unwrap();
        for (name, value) in [("pearson", got.pearson), ("spearman", got.spearman)] {
            match p[name].as_f64() {
                Some(want) => assert!((value - want).abs() < 5e-5, "{name} {p}: {value}"),
                None => assert!(
                    value.is_nan(),
                    "{name} {p}: undefined in gensim, {value} here"
                ),
            }
        }
        assert!(
            (got.oov_ratio - p["oov_ratio"].as_f64().unwrap()).abs() < 1e-9,
            "{p}"
        );
    }
}

/// Reads a third-party file with embers' own reader and checks it holds what gensim read.
fn read_file(path: &Path, r: &Value) -> Embeddings {
    let emb = embers::io::read(path, &embers::io::ReadOptions::default()).unwrap();
    let gensim = model(r);
    assert_eq!(emb.vocab().words(), gensim.vocab().words());
    for id in 0..emb.len() as u32 {
        assert_eq!(emb.vector(id).unwrap(), gensim.vector(id).unwrap());
    }
    emb
}

#[test]
fn word2vec_c_file_matches_gensim() {
    let path = testdata().join("gensim/word2vec_pre_kv_c");
    let r = gensim(&["file", path.to_str().unwrap(), "300000"]);
    let emb = read_file(&path, &r);
    check_queries(&emb, &r);
    check_benchmarks(&emb, &r, 300_000);
}

#[test]
fn word2vec_300d_file_matches_gensim() {
    let path = testdata().join("gensim/EN.1-10.cbow1_wind5_hs0_neg10_size300_smpl1e-05.txt");
    let r = gensim(&["file", path.to_str().unwrap(), "300000"]);
    let emb = read_file(&path, &r);
    check_queries(&emb, &r);
    check_benchmarks(&emb, &r, 300_000);
}

#[test]
fn generated_model_with_benchmark_words_matches_gensim() {
    // Vocabulary of all benchmark words (with case variants), analogy structure in the vectors,
    // and a restricted vocabulary that leaves some questions out.
    let r = gensim(&["generate", "3", "2500"]);
    let emb = model(&r);
    check_queries(&emb, &r);
    check_benchmarks(&emb, &r, 2500);
}
