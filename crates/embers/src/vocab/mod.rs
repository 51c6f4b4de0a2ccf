//! Vocabularies: token ⇄ id maps with counts, built from a corpus or a word list.

mod builder;
mod index;

pub use builder::VocabBuilder;

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use index::IdTable;

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;

/// A vocabulary: ids `0..len()` each naming one distinct token, with an occurrence count.
///
/// Ids are dense and stable; a token may be any non-empty string (spaces and any Unicode
/// included). An optional unknown token (`<unk>`) is what [`Vocab::id_or_unk`] falls back to.
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    words: Vec<String>,
    counts: Vec<u64>,
    /// Token → id, built on first use for vocabularies read from trusted files.
    index: OnceLock<IdTable>,
    unk: Option<u32>,
}

impl Vocab {
    /// A vocabulary from tokens and their counts, in id order. Duplicate or empty tokens are an
    /// error naming the token; `counts` must be as long as `words`.
    pub fn from_words_and_counts(words: Vec<String>, counts: Vec<u64>) -> Result<Self> {
        if words.len() != counts.len() {
            return Err(Error::shape("vocabulary counts", words.len(), counts.len()));
        }
        if words.len() > u32::MAX as usize {
            return Err(Error::invalid("words", "more than 2^32 - 1 tokens"));
        }
        if let Some(i) = words.iter().position(|w| w.is_empty()) {
            return Err(Error::invalid("words", format!("token {i} is empty")));
        }
        let (index, duplicates) = IdTable::build(&words);
        if let Some(&d) = duplicates.first() {
            let w = &words[d as usize];
            return Err(Error::invalid("words", format!("duplicate token {w:?}")));
        }
        Ok(Vocab {
            words,
            counts,
            index: OnceLock::from(index),
            unk: None,
        })
    }

    /// A vocabulary from parts already known to be valid (read from a file written by embers):
    /// the token index is built on first use instead of now, so opening a file stays fast. A
    /// repeated token keeps its first id.
    pub(crate) fn from_trusted_parts(words: Vec<String>, counts: Vec<u64>) -> Self {
        debug_assert_eq!(words.len(), counts.len());
        Vocab {
            words,
            counts,
            index: OnceLock::new(),
            unk: None,
        }
    }

    fn index(&self) -> &IdTable {
        self.index.get_or_init(|| IdTable::build(&self.words).0)
    }

    /// A vocabulary from tokens in id order, every count zero.
    pub fn from_words(words: Vec<String>) -> Result<Self> {
        let n = words.len();
        Self::from_words_and_counts(words, vec![0; n])
    }

    /// Reads a word list, one word a line (such as `/usr/share/dict/words`). Surrounding
    /// whitespace is trimmed, empty lines and lines starting with `#!` are skipped, and a word
    /// seen again keeps its first id. Returns the vocabulary and how many duplicates were skipped.
    pub fn from_wordlist(path: impl AsRef<Path>) -> Result<(Self, usize)> {
        let path = path.as_ref();
        let reader = crate::text::open_maybe_gz(path)?;
        let mut words = Vec::new();
        let mut seen = FxHashMap::default();
        let mut duplicates = 0;
        for (i, line) in std::io::BufReader::new(reader).split(b'\n').enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            let line = std::str::from_utf8(&line)
                .map_err(|_| Error::at_line(path, i as u64 + 1, "invalid UTF-8"))?;
            let word = line.trim();
            if word.is_empty() || word.starts_with("#!") {
                continue;
            }
            if seen.insert(word.to_string(), ()).is_some() {
                duplicates += 1;
                continue;
            }
            words.push(word.to_string());
        }
        if words.is_empty() {
            return Err(Error::at_line(path, 1, "the word list has no words"));
        }
        Ok((Self::from_words(words)?, duplicates))
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The id of `token`, if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.index().get(&self.words, token)
    }

    /// The id of `token`, or the unknown token's id when there is one.
    pub fn id_or_unk(&self, token: &str) -> Option<u32> {
        self.id(token).or(self.unk)
    }

    /// The token with id `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// The count of token `id` (0 when unknown or built from a word list).
    pub fn count(&self, id: u32) -> u64 {
        self.counts.get(id as usize).copied().unwrap_or(0)
    }

    /// All tokens, in id order.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// All counts, in id order.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Sum of all counts.
    pub fn total_count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The id of the unknown token, if one is set.
    pub fn unk_id(&self) -> Option<u32> {
        self.unk
    }

    /// Makes `token` the unknown token. It must already be in the vocabulary.
    pub fn set_unk(&mut self, token: &str) -> Result<()> {
        match self.id(token) {
            Some(id) => {
                self.unk = Some(id);
                Ok(())
            }
            None => Err(Error::invalid(
                "unk",
                format!("{token:?} is not in the vocabulary"),
            )),
        }
    }

    /// Keeps the first `n` tokens.
    pub fn truncate(&mut self, n: usize) {
        if n >= self.words.len() {
            return;
        }
        self.words.truncate(n);
        self.index = OnceLock::new();
        self.counts.truncate(n);
        if self.unk.is_some_and(|u| u as usize >= n) {
            self.unk = None;
        }
    }

    /// Writes `token<TAB>count` lines in id order, atomically. Tokens containing a tab or a line
    /// break cannot be written in this format and are an error naming the token.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(bad) = self.words.iter().find(|w| w.contains(['\t', '\n', '\r'])) {
            return Err(Error::invalid(
                "vocabulary",
                format!("token {bad:?} contains a tab or line break and cannot be saved as TSV"),
            ));
        }
        let mut file = AtomicFile::create(path)?;
        {
            let w = file.writer();
            for (word, count) in self.words.iter().zip(&self.counts) {
                writeln!(w, "{word}\t{count}").map_err(|e| Error::io(path, e))?;
            }
        }
        file.commit()
    }

    /// Reads `token<TAB>count` lines (as written by [`Vocab::save`]). A line without a tab is a
    /// token with count 0. Malformed counts, empty tokens and duplicates are errors naming the
    /// line.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut words = Vec::new();
        let mut counts = Vec::new();
        let mut line_numbers = Vec::new();
        for (i, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
            let lineno = i as u64 + 1;
            let line = line.map_err(|e| Error::io(path, e))?;
            let line = std::str::from_utf8(&line)
                .map_err(|_| Error::at_line(path, lineno, "invalid UTF-8"))?;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            let (word, count) = match line.rsplit_once('\t') {
                Some((w, c)) => {
                    let c = c.trim().parse::<u64>().map_err(|_| {
                        Error::at_line(path, lineno, format!("count {c:?} is not a whole number"))
                    })?;
                    (w, c)
                }
                None => (line, 0),
            };
            if word.is_empty() {
                return Err(Error::at_line(path, lineno, "empty token"));
            }
            words.push(word.to_string());
            counts.push(count);
            line_numbers.push(lineno);
        }
        if words.is_empty() {
            return Err(Error::at_line(path, 1, "the vocabulary file is empty"));
        }
        let (index, duplicates) = IdTable::build(&words);
        if let Some(&d) = duplicates.first() {
            let word = &words[d as usize];
            return Err(Error::at_line(
                path,
                line_numbers[d as usize],
                format!("duplicate token {word:?}"),
            ));
        }
        Ok(Vocab {
            words,
            counts,
            index: OnceLock::from(index),
            unk: None,
        })
    }
}

impl PartialEq for Vocab {
    fn eq(&self, other: &Self) -> bool {
        self.words == other.words && self.counts == other.counts && self.unk == other.unk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_keeps_spaces_and_unicode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.tsv");
        let v = Vocab::from_words_and_counts(
            vec!["new york".into(), "über".into(), "猫".into()],
            vec![10, 5, 1],
        )
        .unwrap();
        v.save(&p).unwrap();
        let back = Vocab::load(&p).unwrap();
        assert_eq!(back.words(), v.words());
        assert_eq!(back.counts(), v.counts());
        assert_eq!(back.id("猫"), Some(2));
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.tsv");
        std::fs::write(&p, "a\t1\nb\tx\n").unwrap();
        let e = Vocab::load(&p).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        std::fs::write(&p, "a\t1\na\t2\n").unwrap();
        assert!(Vocab::load(&p)
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
        assert!(Vocab::load(dir.path().join("none")).is_err());
        let v = Vocab::from_words(vec!["a\tb".into()]).unwrap();
        assert!(v.save(&p).is_err());
    }

    #[test]
    fn wordlist_skips_blank_and_duplicate_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("words");
        std::fs::write(&p, "king\nqueen\n\n  man \nking\r\nwoman\n").unwrap();
        let (v, dups) = Vocab::from_wordlist(&p).unwrap();
        assert_eq!(v.words(), &["king", "queen", "man", "woman"]);
        assert_eq!(dups, 1);
        assert_eq!(v.id("queen"), Some(1));
        assert_eq!(v.id("prince"), None);
    }

    #[test]
    fn unknown_token_fallback() {
        let mut v = Vocab::from_words(vec!["<unk>".into(), "a".into()]).unwrap();
        assert_eq!(v.id_or_unk("zzz"), None);
        v.set_unk("<unk>").unwrap();
        assert_eq!(v.id_or_unk("zzz"), Some(0));
        assert_eq!(v.id_or_unk("a"), Some(1));
        assert!(v.set_unk("nope").is_err());
    }
}
