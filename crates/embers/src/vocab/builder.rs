//! VocabBuilder: counts tokens of a corpus on all cores and keeps the ones that qualify.

use rustc_hash::FxHashMap;

use super::Vocab;
use crate::error::{Error, Result};
use crate::text::{Corpus, TextChunk};

/// Counts tokens and builds a [`Vocab`] from them.
///
/// Order is deterministic: special tokens first, at ids `0..specials.len()` in the order given,
/// then the other tokens by count descending, ties broken by their UTF-8 bytes ascending.
#[derive(Debug, Clone, Default)]
pub struct VocabBuilder {
    counts: FxHashMap<String, u64>,
    min_count: u64,
    max_size: Option<usize>,
    specials: Vec<String>,
    unk: Option<String>,
    threads: usize,
    end_of_line: Option<String>,
    lines: u64,
}

/// Bytes per chunk handed to one counting worker.
const CHUNK_BYTES: usize = 4 << 20;

impl VocabBuilder {
    /// An empty builder: `min_count` 1, no size limit, no special tokens, all cores.
    pub fn new() -> Self {
        VocabBuilder {
            min_count: 1,
            ..Default::default()
        }
    }

    /// Tokens seen fewer than `n` times are left out.
    pub fn min_count(mut self, n: u64) -> Self {
        self.min_count = n;
        self
    }

    /// At most `n` tokens in all, special tokens included (the most frequent are kept).
    pub fn max_size(mut self, n: Option<usize>) -> Self {
        self.max_size = n;
        self
    }

    /// Special tokens with fixed ids at the front, in this order (e.g. `<pad>`, `<unk>`).
    pub fn specials(mut self, specials: Vec<String>) -> Self {
        self.specials = specials;
        self
    }

    /// Makes `token` the unknown token; it is added to the specials if it is not one already.
    pub fn unk(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        if !self.specials.contains(&token) {
            self.specials.push(token.clone());
        }
        self.unk = Some(token);
        self
    }

    /// Number of counting threads (0: all cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// [`VocabBuilder::count_corpus`] also counts `token` once per newline of the corpus (as
    /// fastText counts its `</s>`), as an ordinary token (`None`: not at all).
    pub fn end_of_line(mut self, token: Option<String>) -> Self {
        self.end_of_line = token;
        self
    }

    /// Adds one occurrence of each token.
    pub fn add_tokens<'a>(&mut self, tokens: impl IntoIterator<Item = &'a str>) {
        for t in tokens {
            add(&mut self.counts, t, 1);
        }
    }

    /// Number of distinct tokens counted so far.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// Newlines read by [`VocabBuilder::count_corpus`] so far (a last line without one is not
    /// counted): the lines a training pass reads, so a trainer that schedules by lines need not
    /// read the corpus again.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Counts every token of `corpus`, streaming it in chunks on all cores; memory holds only the
    /// counts and a few chunks, never the corpus. `progress` is called with the number of bytes
    /// of text counted so far. Returns the number of tokens counted.
    pub fn count_corpus(&mut self, corpus: &Corpus, mut progress: impl FnMut(u64)) -> Result<u64> {
        let threads = if self.threads == 0 {
            rayon::current_num_threads().max(1)
        } else {
            self.threads
        };
        let tokenizer = *corpus.tokenizer();
        let end_of_line = self.end_of_line.as_deref();
        let (tx, queue) = crate::pipeline::queue::<TextChunk>(threads * 2);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<u64>();
        let results: Vec<(FxHashMap<String, u64>, u64, u64)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let queue = &queue;
                    let done_tx = done_tx.clone();
                    scope.spawn(move || {
                        // Drains the queue if this worker panics, so the reader never blocks.
                        let _guard = queue.consumer();
                        let mut local: FxHashMap<String, u64> = FxHashMap::default();
                        let mut tokens = 0u64;
                        let mut newlines = 0u64;
                        while let Some(chunk) = queue.recv() {
                            let n = chunk.text.len() as u64;
                            if tokenizer.is_plain() {
                                for t in chunk.text.split_whitespace() {
                                    add(&mut local, t, 1);
                                    tokens += 1;
                                }
                            } else {
                                tokenizer.for_each_token(&chunk.text, |t| {
                                    add(&mut local, &t, 1);
                                    tokens += 1;
                                });
                            }
                            let lines = chunk.newlines;
                            newlines += lines;
                            if let Some(eol) = end_of_line {
                                if lines > 0 {
                                    add(&mut local, eol, lines);
                                    tokens += lines;
                                }
                            }
                            let _ = done_tx.send(n);
                        }
                        (local, tokens, newlines)
                    })
                })
                .collect();
            drop(done_tx);
            let mut read_result = Ok(());
            let mut counted = 0u64;
            for chunk in corpus.chunks(CHUNK_BYTES) {
                match chunk {
                    Ok(c) => {
                        if queue.failed() || tx.send(c).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        read_result = Err(e);
                        break;
                    }
                }
                while let Ok(n) = done_rx.try_recv() {
                    counted += n;
                    progress(counted);
                }
            }
            drop(tx);
            let out: Result<Vec<_>> = workers
                .into_iter()
                .map(|w| w.join())
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| Error::Other("a counting worker panicked".into()));
            while let Ok(n) = done_rx.try_recv() {
                counted += n;
            }
            progress(counted);
            read_result.and(out)
        })?;
        let mut total = 0;
        for (local, tokens, lines) in results {
            total += tokens;
            self.lines += lines;
            if self.counts.is_empty() {
                self.counts = local;
                continue;
            }
            for (k, v) in local {
                *self.counts.entry(k).or_insert(0) += v;
            }
        }
        Ok(total)
    }

    /// The vocabulary: specials first, then qualifying tokens in the deterministic order.
    /// An empty result (nothing reaches `min_count`) is an error.
    pub fn build(self) -> Result<Vocab> {
        let mut specials_seen = FxHashMap::default();
        for s in &self.specials {
            if s.is_empty() || specials_seen.insert(s.as_str(), ()).is_some() {
                return Err(Error::invalid(
                    "specials",
                    format!("special token {s:?} is empty or repeated"),
                ));
            }
        }
        let mut entries: Vec<(String, u64)> = self
            .counts
            .into_iter()
            .filter(|(w, c)| *c >= self.min_count && !specials_seen.contains_key(w.as_str()))
            .collect();
        entries.sort_unstable_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| a.0.as_bytes().cmp(b.0.as_bytes()))
        });
        let room = self
            .max_size
            .map(|m| m.saturating_sub(self.specials.len()))
            .unwrap_or(usize::MAX);
        entries.truncate(room);
        if entries.is_empty() {
            return Err(Error::invalid(
                "min_count",
                format!(
                    "no token occurs at least {} time(s): the vocabulary would be empty",
                    self.min_count
                ),
            ));
        }
        let mut words = self.specials.clone();
        let mut counts = vec![0; words.len()];
        for (w, c) in entries {
            words.push(w);
            counts.push(c);
        }
        let mut vocab = Vocab::from_words_and_counts(words, counts)?;
        if let Some(unk) = &self.unk {
            vocab.set_unk(unk)?;
        }
        Ok(vocab)
    }
}

fn add(map: &mut FxHashMap<String, u64>, token: &str, n: u64) {
    if let Some(c) = map.get_mut(token) {
        *c += n;
    } else {
        map.insert(token.to_string(), n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::WordTokenizer;

    #[test]
    fn order_is_count_then_bytes_with_specials_first() {
        let mut b = VocabBuilder::new()
            .specials(vec!["<pad>".into()])
            .unk("<unk>");
        b.add_tokens("b a c a b a d".split(' '));
        let v = b.build().unwrap();
        assert_eq!(v.words(), &["<pad>", "<unk>", "a", "b", "c", "d"]);
        assert_eq!(v.counts(), &[0, 0, 3, 2, 1, 1]);
        assert_eq!(v.id_or_unk("zebra"), Some(1));
    }

    #[test]
    fn min_count_and_max_size() {
        let mut b = VocabBuilder::new().min_count(2).max_size(Some(2));
        b.add_tokens("x y y z z z w w w w".split(' '));
        let v = b.build().unwrap();
        assert_eq!(v.words(), &["w", "z"]);
        let mut b = VocabBuilder::new().min_count(10);
        b.add_tokens(["a"]);
        assert!(b.build().is_err());
    }

    #[test]
    fn end_of_line_is_counted_once_per_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        std::fs::write(&p, "a b\n\na\nb").unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let mut b = VocabBuilder::new().end_of_line(Some("</s>".into()));
        assert_eq!(b.count_corpus(&corpus, |_| {}).unwrap(), 4 + 3);
        let v = b.build().unwrap();
        assert_eq!(v.count(v.id("</s>").unwrap()), 3);
        let mut b = VocabBuilder::new();
        assert_eq!(b.count_corpus(&corpus, |_| {}).unwrap(), 4);
        // The newlines are counted with or without the token (the last line has none).
        assert_eq!(b.lines(), 3);
        assert_eq!(b.build().unwrap().id("</s>"), None);
    }

    #[test]
    fn parallel_count_equals_serial_count() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        let mut text = String::new();
        let mut serial = VocabBuilder::new();
        for i in 0..200_000u64 {
            let w = format!("w{}", (i * 7919) % 1013);
            serial.add_tokens([w.as_str()]);
            text.push_str(&w);
            text.push(if i % 13 == 0 { '\n' } else { ' ' });
        }
        std::fs::write(&p, text).unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let mut parallel = VocabBuilder::new().threads(3);
        let n = parallel.count_corpus(&corpus, |_| {}).unwrap();
        assert_eq!(n, 200_000);
        assert_eq!(parallel.lines(), 200_000 / 13 + 1);
        let (a, b) = (serial.build().unwrap(), parallel.build().unwrap());
        assert_eq!(a, b);
    }
}
