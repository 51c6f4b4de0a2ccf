//! Vocabularies: token ⇄ id maps with counts, built from a corpus or a word list.

mod builder;
mod index;
mod words;

pub use builder::VocabBuilder;
pub(crate) use index::{repeats, IdTable};
pub use words::{Iter as WordIter, PartsError, WordList};

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;

/// A vocabulary: ids `0..len()` each naming one distinct token, with an occurrence count.
///
/// Ids are dense and stable; a token may be any non-empty string (spaces and any Unicode
/// included). An optional unknown token (`<unk>`) is what [`Vocab::id_or_unk`] falls back to.
#[derive(Debug, Clone, Default)]
pub struct Vocab {
    words: WordList,
    /// One count per token, or empty when the vocabulary has no counts (all zero).
    counts: Vec<u64>,
    /// Token → id, built on first use for vocabularies read from trusted files.
    index: OnceLock<IdTable>,
    unk: Option<u32>,
}

impl Vocab {
    /// A vocabulary from tokens and their counts, in id order. Duplicate or empty tokens are an
    /// error naming the token; `counts` must be as long as `words`, or empty for a vocabulary
    /// without counts.
    pub fn from_words_and_counts(words: Vec<String>, counts: Vec<u64>) -> Result<Self> {
        Self::from_word_list(words.iter().collect(), counts)
    }

    /// Like [`Vocab::from_words_and_counts`], from a [`WordList`].
    pub fn from_word_list(words: WordList, counts: Vec<u64>) -> Result<Self> {
        if !counts.is_empty() && words.len() != counts.len() {
            return Err(Error::shape("vocabulary counts", words.len(), counts.len()));
        }
        let counts = without_zeros(counts);
        if words.len() > u32::MAX as usize {
            return Err(Error::invalid("words", "more than 2^32 - 1 tokens"));
        }
        if let Some(i) = words.iter().position(str::is_empty) {
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
    pub(crate) fn from_trusted_parts(words: WordList, counts: Vec<u64>) -> Self {
        debug_assert!(counts.is_empty() || words.len() == counts.len());
        let counts = without_zeros(counts);
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
        Self::from_words_and_counts(words, Vec::new())
    }

    /// Reads a word list, one word a line (such as `/usr/share/dict/words`). Surrounding
    /// whitespace is trimmed, empty lines and lines starting with `#!` are skipped, and a word
    /// seen again keeps its first id. Returns the vocabulary and how many duplicates were skipped.
    pub fn from_wordlist(path: impl AsRef<Path>) -> Result<(Self, usize)> {
        let path = path.as_ref();
        let reader = crate::text::open_maybe_gz(path)?;
        let mut words = WordList::new();
        let mut index = IdTable::default();
        let mut duplicates = 0;
        for (i, line) in std::io::BufReader::new(reader).split(b'\n').enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            let line = std::str::from_utf8(&line)
                .map_err(|_| Error::at_line(path, i as u64 + 1, "invalid UTF-8"))?;
            let word = line.trim();
            if word.is_empty() || word.starts_with("#!") {
                continue;
            }
            words.push(word);
            if index.insert(&words, word, words.len() as u32 - 1).is_some() {
                words.pop();
                duplicates += 1;
            }
        }
        if words.is_empty() {
            return Err(Error::at_line(path, 1, "the word list has no words"));
        }
        let counts = Vec::new();
        Ok((
            Vocab {
                words,
                counts,
                index: OnceLock::from(index),
                unk: None,
            },
            duplicates,
        ))
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
        self.words.get(id as usize)
    }

    /// The count of token `id` (0 when unknown or built from a word list).
    pub fn count(&self, id: u32) -> u64 {
        self.counts.get(id as usize).copied().unwrap_or(0)
    }

    /// All tokens, in id order.
    pub fn words(&self) -> &WordList {
        &self.words
    }

    /// All counts, in id order.
    ///
    /// Empty when the vocabulary has no counts (every count zero, as for a vocabulary built
    /// from a word list or read from a file without counts); use [`Vocab::count`] to read one
    /// count either way.
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

    /// A copy whose tokens have each ASCII whitespace character (space, tab, line breaks)
    /// replaced by `with`, for formats that separate fields with whitespace (GloVe 840B has
    /// tokens such as `. . .`). Counts and the unknown token are kept. `with` must be non-empty
    /// and free of whitespace; two tokens that become equal are an error naming both.
    pub fn replace_whitespace(&self, with: &str) -> Result<Vocab> {
        if with.is_empty() || with.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(Error::invalid(
                "replacement",
                format!("{with:?} must be non-empty and contain no whitespace"),
            ));
        }
        let mut words = WordList::with_capacity(self.len(), self.words.text().len());
        let mut index = IdTable::with_capacity(self.len());
        let mut buf = String::new();
        for (id, w) in self.words.iter().enumerate() {
            buf.clear();
            for c in w.chars() {
                if c.is_ascii_whitespace() {
                    buf.push_str(with);
                } else {
                    buf.push(c);
                }
            }
            words.push(&buf);
            if let Some(first) = index.insert(&words, &buf, id as u32) {
                return Err(Error::invalid(
                    "replacement",
                    format!(
                        "tokens {first} ({:?}) and {id} ({w:?}) both become {buf:?}",
                        &self.words[first as usize]
                    ),
                ));
            }
        }
        Ok(Vocab {
            words,
            counts: self.counts.clone(),
            index: OnceLock::from(index),
            unk: self.unk,
        })
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
            for (id, word) in self.words.iter().enumerate() {
                let count = self.count(id as u32);
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
        let mut words = WordList::new();
        let mut index = IdTable::default();
        let mut counts = Vec::new();
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
            words.push(word);
            if index.insert(&words, word, words.len() as u32 - 1).is_some() {
                return Err(Error::at_line(
                    path,
                    lineno,
                    format!("duplicate token {word:?}"),
                ));
            }
            counts.push(count);
        }
        if words.is_empty() {
            return Err(Error::at_line(path, 1, "the vocabulary file is empty"));
        }
        Ok(Vocab {
            words,
            counts: without_zeros(counts),
            index: OnceLock::from(index),
            unk: None,
        })
    }
}

/// `counts`, or an empty vector when every count is zero.
fn without_zeros(counts: Vec<u64>) -> Vec<u64> {
    if counts.iter().all(|&c| c == 0) {
        Vec::new()
    } else {
        counts
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
    fn whitespace_replacement_keeps_ids_and_refuses_collisions() {
        let mut v =
            Vocab::from_words_and_counts(vec!["new york".into(), ". . .".into()], vec![3, 2])
                .unwrap();
        v.set_unk(". . .").unwrap();
        let r = v.replace_whitespace("_").unwrap();
        assert_eq!(r.words(), &["new_york", "._._."]);
        assert_eq!(
            (r.count(0), r.unk_id(), r.id("new_york")),
            (3, Some(1), Some(0))
        );
        assert!(v.replace_whitespace("").is_err());
        assert!(v.replace_whitespace("a b").is_err());
        let clash = Vocab::from_words(vec!["a b".into(), "a\tb".into()]).unwrap();
        let e = clash.replace_whitespace("-").unwrap_err().to_string();
        assert!(e.contains("tokens 0") && e.contains("\"a-b\""), "{e}");
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
