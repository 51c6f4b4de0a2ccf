//! Sentence vectors from word models (mean and SIF) against a numpy reference run in the test
//! (scripts/sif_reference.py): a vocabulary counted on the Lee corpus (gensim's test data) with a
//! seeded random matrix, SIF fitted on the corpus's lines, texts from the corpus and made up.


use embers::layer::{init_matrix, Init};
use embers::sentence::{fit_sif, store_sif, stored_sif, Pooler, Pooling};
use embers::text::WordTokenizer;
use embers::{Embeddings, Vocab, VocabBuilder};

fn lee_lines() -> Vec<String> {
    let dir = embers_testkit::testdata("gensim/lee_background.cor");
    std::fs::read_to_string(dir.join("gensim/lee_background.cor"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn model(lines: &[String]) -> Embeddings {
    let mut b = VocabBuilder::new().min_count(2);
    for l in lines {
        b.add_tokens(l.split_whitespace());
    }
    let vocab: Vocab = b.build().unwrap();
    let m = init_matrix(
        vocab.len(),
        24,
        Init::Normal {
            mean: 0.3,
            std: 1.0,
        },
        7,
    )
    .unwrap();
    Embeddings::new(vocab, m).unwrap()
}

#[test]
fn mean_and_sif_match_numpy() {
    let lines = lee_lines();
    let mut emb = model(&lines);
    let tok = WordTokenizer::default();
    let fit: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut texts: Vec<&str> = fit.iter().copied().step_by(7).take(40).collect();
    texts.extend([
        "",
        "zzzz-unknown qqqq",
        "the the the",
        "Australia  cricket\tteam",
    ]);
    let a = 1e-3;
    let sif = fit_sif(&emb, &tok, &fit, a).unwrap();
    store_sif(&mut emb, &sif).unwrap();
    assert_eq!(stored_sif(&emb).unwrap().unwrap(), sif);

    // The reference, in float64.
    let d = emb.dims();
    let words: Vec<&str> = (0..emb.len() as u32)
        .map(|i| emb.vocab().token(i).unwrap())
        .collect();
    let vectors: Vec<Vec<f32>> = (0..emb.len() as u32)
        .map(|i| emb.vector(i).unwrap())
        .collect();
    let req = serde_json::json!({
        "words": words, "counts": emb.vocab().counts(), "vectors": vectors,
        "fit": fit, "texts": texts, "a": a,
    });
    let out = embers_testkit::run_script("sif_reference.py", &[], req.to_string().as_bytes());
    let reference: serde_json::Value = serde_json::from_slice(&out).unwrap();

    // The component, up to sign.
    let u: Vec<f64> = serde_json::from_value(reference["component"].clone()).unwrap();
    let dot: f64 = u
        .iter()
        .zip(&sif.component)
        .map(|(x, &y)| x * y as f64)
        .sum();
    assert!(dot.abs() > 1.0 - 1e-6, "component differs: |u·u'| = {dot}");

    for (kind, pooling) in [("mean", Pooling::Mean), ("sif", Pooling::Sif)] {
        let pooler = Pooler::new(&emb, tok, pooling).unwrap();
        let ours = pooler.encode(&texts).unwrap();
        let want: Vec<Vec<f64>> = serde_json::from_value(reference[kind].clone()).unwrap();
        let mut worst = 0f64;
        for (i, w) in want.iter().enumerate() {
            assert_eq!(w.len(), d);
            for (x, y) in ours.row(i).iter().zip(w) {
                let diff = (*x as f64 - y).abs() / y.abs().max(1.0);
                assert!(diff < 1e-5, "{kind} text {i} {:?}: {x} vs {y}", texts[i]);
                worst = worst.max(diff);
            }
            assert_eq!(pooler.encode_one(texts[i]), ours.row(i));
        }
        eprintln!(
            "{kind}: {} texts, worst relative difference {worst:e}",
            texts.len()
        );
    }

    // SIF without a stored component, or without counts, is a clear error.
    let bare = model(&lines[..50]);
    let err = Pooler::new(&bare, tok, Pooling::Sif)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--fit-sif"), "{err}");
    let no_counts = Embeddings::new(
        Vocab::from_words(vec!["a".into(), "b".into()]).unwrap(),
        init_matrix(2, 4, Init::Zeros, 1).unwrap(),
    )
    .unwrap();
    let err = fit_sif(&no_counts, &tok, &["a b"], a)
        .unwrap_err()
        .to_string();
    assert!(err.contains("counts"), "{err}");
}
