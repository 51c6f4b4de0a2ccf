//! Analogy answers by gensim's query (the dot product with normalize(b + c − a)) against the sum
//! of cosines that `evaluate_analogies` ranks by, for a model stored in several ways: how many
//! questions' answers differ, and the time of each.
//!
//! ```sh
//! cargo run --release -p embers --example analogy_paths -- MODEL questions-words.txt [KIND...] \
//!     [--gensim GENSIM.json]
//! ```
//! KIND: f32, f16, int8, pq:N (as `embers sweep --to`); f32 by default. `--gensim` takes the
//! output of `bench/analogy_gensim.py` for the (decoded) rows of the last KIND and compares the
//! questions answered right, question by question (`bench/analogy_gensim.sh` runs both).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use embers::eval::{self, evaluate_analogies, AnalogyOptions};
use embers::query::{self, exact};
use embers::sweep::Kind;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let gensim = match args.iter().position(|a| a == "--gensim") {
        Some(i) => {
            let path = args.get(i + 1).ok_or("--gensim FILE")?.clone();
            args.drain(i..i + 2);
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
            let right: HashSet<String> = v["correct"]
                .as_array()
                .ok_or("a `correct` list")?
                .iter()
                .filter_map(|q| q.as_str().map(String::from))
                .collect();
            Some((v["score"].as_f64().unwrap_or(f64::NAN), right))
        }
        None => None,
    };
    let [model, questions, kinds @ ..] = &args[..] else {
        return Err(
            "usage: analogy_paths MODEL questions-words.txt [KIND...] [--gensim FILE]".into(),
        );
    };
    let emb = embers::io::read(model, &Default::default())?;
    let kinds: Vec<&str> = if kinds.is_empty() {
        vec!["f32"]
    } else {
        kinds.iter().map(String::as_str).collect()
    };
    let opts = AnalogyOptions::default();
    let limit = opts.restrict_vocab.min(emb.len());
    for &name in &kinds {
        let kind = Kind::from_name(name)?;
        let v = embers::quant::quantize(
            &emb,
            &kind.target(emb.dims(), 42),
            &embers::progress::silent,
        )?;
        let t = Instant::now();
        let new = evaluate_analogies(&v, questions, &opts)?;
        let t_new = t.elapsed().as_secs_f64();
        // gensim's query: one dot product a question and row.
        let vocab = eval::ok_vocab(&v, opts.restrict_vocab, true);
        let t = Instant::now();
        let mut queries = Vec::new();
        let mut exclude = Vec::new();
        let mut asked = Vec::new();
        for (i, a) in new.answers.iter().enumerate() {
            if !new.answer_sections[i].1 {
                continue;
            }
            let ids: Vec<u32> = a[..3].iter().map(|w| vocab[w]).collect();
            queries.extend(query::mean_query(&v, &ids[1..], &ids[..1])?);
            exclude.push(ids);
            asked.push(i);
        }
        let hits = exact::top_k_batch(&v, &queries, 5, limit, &exclude);
        let t_old = t.elapsed().as_secs_f64();
        let mut old_answers: HashMap<usize, String> = HashMap::new();
        for (&i, h) in asked.iter().zip(&hits) {
            let ignore: HashSet<&str> = new.answers[i][..3].iter().map(String::as_str).collect();
            let mut predicted = String::new();
            for h in h {
                predicted = eval::upper(v.vocab().token(h.id).unwrap_or_default());
                if vocab.contains_key(&predicted) && !ignore.contains(predicted.as_str()) {
                    break;
                }
            }
            old_answers.insert(i, predicted);
        }
        let mut differ = 0;
        let mut old_correct = 0;
        for &i in &asked {
            let a = &new.answers[i];
            let o = &old_answers[&i];
            if *o == a[3] {
                old_correct += 1;
            }
            if *o != a[4] {
                differ += 1;
                println!(
                    "  {name}: {} {} {} {}: query {o}, cosines {}",
                    a[0], a[1], a[2], a[3], a[4]
                );
            }
        }
        if let (Some((score, right)), true) = (&gensim, Some(&name) == kinds.last()) {
            let ours: HashSet<String> = new
                .answers
                .iter()
                .filter(|a| !a[4].is_empty() && a[3] == a[4])
                .map(|a| a[..4].join(" "))
                .collect();
            println!(
                "{name}: gensim {score:.6} ({} right), cosines {:.6} ({} right): {} right only \
                 in gensim, {} only here",
                right.len(),
                new.accuracy,
                ours.len(),
                right.difference(&ours).count(),
                ours.difference(right).count()
            );
        }
        println!(
            "{name} {} dims: cosines {:.6} ({} right, {:.1} s), query {:.6} ({} right, {:.1} s), {} of {} answers differ",
            v.dims(),
            new.accuracy,
            new.correct,
            t_new,
            old_correct as f64 / new.total as f64,
            old_correct,
            t_old,
            differ,
            asked.len()
        );
    }
    Ok(())
}
