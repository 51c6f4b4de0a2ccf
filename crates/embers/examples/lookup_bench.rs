//! Token → id lookups: builds a vocabulary from the first field of every line of a file (e.g. a
//! GloVe text file, or a word list) and times lookups of every token (hits) and of every token
//! with a `#` appended (misses).
//!
//! `cargo run --release --example lookup_bench -p embers -- FILE`
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: lookup_bench FILE");
    let text = std::fs::read_to_string(path).expect("readable UTF-8 file");
    let words: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').next())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    let t = Instant::now();
    let vocab = embers::vocab::Vocab::from_words(words.clone()).expect("distinct words");
    println!(
        "{} tokens indexed in {:.1} ms",
        vocab.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    let misses: Vec<String> = words.iter().map(|w| format!("{w}#")).collect();
    // Nanoseconds per lookup over 5 passes of `tokens`, all of which must be found (or not).
    let per_lookup = |tokens: &[String], found: bool| {
        let t = Instant::now();
        let n = (0..5)
            .flat_map(|_| tokens)
            .filter(|w| vocab.id(w).is_some() == found)
            .count();
        assert_eq!(n, 5 * tokens.len());
        t.elapsed().as_secs_f64() * 1e9 / n as f64
    };
    for _ in 0..3 {
        let hit = per_lookup(&words, true);
        let miss = per_lookup(&misses, false);
        println!("hit {hit:.1} ns, miss {miss:.1} ns");
    }
}
