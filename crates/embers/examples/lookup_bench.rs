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
    for _ in 0..3 {
        let t = Instant::now();
        let found = (0..5)
            .flat_map(|_| &words)
            .filter(|w| vocab.id(w).is_some())
            .count();
        let hit = t.elapsed().as_secs_f64() * 1e9 / found as f64;
        let t = Instant::now();
        let missing = (0..5)
            .flat_map(|_| &misses)
            .filter(|w| vocab.id(w).is_none())
            .count();
        let miss = t.elapsed().as_secs_f64() * 1e9 / missing as f64;
        println!("hit {hit:.1} ns, miss {miss:.1} ns");
    }
}
