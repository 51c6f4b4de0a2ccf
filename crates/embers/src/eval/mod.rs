//! Benchmarks of embedding quality with gensim 4.4's protocols: word analogies
//! ([`analogy::evaluate_analogies`], `questions-words.txt`) and word-pair similarity
//! ([`pairs::evaluate_pairs`], WordSim-353, SimLex-999), plus the JSON shape of `embers eval`.

pub mod analogy;
pub mod pairs;
pub mod stats;

use std::collections::HashMap;

use crate::embeddings::Embeddings;

pub use analogy::{evaluate_analogies, AnalogyOptions, AnalogyReport, SectionScore};
pub use pairs::{evaluate_pairs, PairsOptions, PairsReport};

/// Uppercases as Python's `str.upper()` does (full Unicode case mapping).
pub fn upper(word: &str) -> String {
    word.to_uppercase()
}

/// gensim's `ok_vocab`: each word of the first `restrict_vocab` rows (uppercased when
/// `case_insensitive`) mapped to the id of its first occurrence.
pub fn ok_vocab(
    emb: &Embeddings,
    restrict_vocab: usize,
    case_insensitive: bool,
) -> HashMap<String, u32> {
    let n = restrict_vocab.min(emb.len());
    let mut map = HashMap::with_capacity(n);
    for (id, w) in emb.vocab().words().iter().take(n).enumerate() {
        let key = if case_insensitive {
            upper(w)
        } else {
            w.to_owned()
        };
        map.entry(key).or_insert(id as u32);
    }
    map
}

/// What both benchmarks start with: the file's text (see [`read_utf8`]), then a check that
/// `restrict_vocab` is at least 1, then [`ok_vocab`].
pub(crate) fn open_benchmark(
    emb: &Embeddings,
    path: &std::path::Path,
    restrict_vocab: usize,
    case_insensitive: bool,
) -> crate::Result<(String, HashMap<String, u32>)> {
    let text = read_utf8(path)?;
    if restrict_vocab == 0 {
        return Err(crate::Error::invalid(
            "restrict_vocab",
            "must be at least 1",
        ));
    }
    Ok((text, ok_vocab(emb, restrict_vocab, case_insensitive)))
}

/// Reads a whole evaluation file as UTF-8; invalid bytes are an error naming the line.
pub(crate) fn read_utf8(path: &std::path::Path) -> crate::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        crate::Error::at_line(path, line as u64, "not valid UTF-8")
    })
}
