//! Streaming corpus reader: one or many files, plain or gzip, read in chunks of whole lines so
//! that counting and training never hold the corpus in memory.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::WordTokenizer;
use crate::error::{Error, Result};

/// A sentence longer than this many tokens is cut into several sentences of at most this length
/// (the word2vec convention, `MAX_SENTENCE_LENGTH`). Nothing is dropped.
pub const MAX_SENTENCE_TOKENS: usize = 10_000;

/// A line longer than this many bytes is cut (at its last space or tab before the limit, else at
/// a character boundary) and read as several lines, so input without newlines (`/dev/zero`, a
/// one-line file such as text8) is read in bounded memory. A sentence is cut into pieces of at
/// most [`MAX_SENTENCE_TOKENS`] tokens anyway.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A list of text files read as one corpus, one sentence per line.
#[derive(Debug, Clone)]
pub struct Corpus {
    paths: Vec<PathBuf>,
    tokenizer: WordTokenizer,
}

/// A piece of a corpus file made of whole lines, with where it starts.
#[derive(Debug, Clone)]
pub struct TextChunk {
    /// Index of the file in the corpus.
    pub file: usize,
    /// 1-based number of the first line of the chunk in its file.
    pub first_line: u64,
    /// Newlines in `text` (counted once by the reader, so consumers need not scan for them).
    pub newlines: u64,
    /// The text: whole lines, valid UTF-8.
    pub text: String,
}

impl Corpus {
    /// A corpus over `paths`. Every file must exist; an empty list is an error.
    pub fn new<P: AsRef<Path>>(paths: &[P], tokenizer: WordTokenizer) -> Result<Self> {
        if paths.is_empty() {
            return Err(Error::invalid("corpus", "no corpus file given"));
        }
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        for p in &paths {
            let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
            if meta.is_dir() {
                return Err(Error::io(
                    p,
                    std::io::Error::other("is a directory, not a corpus file"),
                ));
            }
        }
        Ok(Corpus { paths, tokenizer })
    }

    /// The files of the corpus.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// The tokenizer applied to each line.
    pub fn tokenizer(&self) -> &WordTokenizer {
        &self.tokenizer
    }

    /// Total size on disk of the corpus files, in bytes (compressed size for gzip files).
    pub fn size_on_disk(&self) -> u64 {
        self.paths
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Iterates over the corpus in chunks of roughly `chunk_bytes` bytes, each made of whole
    /// lines. Invalid UTF-8 is an error naming the file and line.
    pub fn chunks(&self, chunk_bytes: usize) -> Chunks<'_> {
        Chunks {
            corpus: self,
            chunk_bytes: chunk_bytes.max(1 << 12),
            file: 0,
            reader: None,
            line: 1,
            carry: Vec::new(),
            failed: false,
        }
    }

    /// Calls `f` with every sentence of the corpus, in order: the tokens of one line, cut into
    /// pieces of at most [`MAX_SENTENCE_TOKENS`]. Empty lines give no sentence.
    pub fn for_each_sentence(&self, mut f: impl FnMut(&[&str])) -> Result<()> {
        for chunk in self.chunks(1 << 22) {
            let chunk = chunk?;
            for_each_sentence_in(&self.tokenizer, &chunk.text, &mut f);
        }
        Ok(())
    }
}

/// Splits `text` into lines, tokenizes them, and calls `f` with each sentence (at most
/// [`MAX_SENTENCE_TOKENS`] tokens; longer lines are cut, never truncated).
pub(crate) fn for_each_sentence_in(
    tokenizer: &WordTokenizer,
    text: &str,
    f: &mut impl FnMut(&[&str]),
) {
    for_each_line_piece_in(tokenizer, text, &mut |tokens: &[&str], _| {
        if !tokens.is_empty() {
            f(tokens)
        }
    });
}

/// Splits `text` into lines and tokenizes them; calls `f(tokens, line_end)` with each piece of
/// at most [`MAX_SENTENCE_TOKENS`] tokens. The last piece of every line is passed even when
/// empty (an empty line gives one empty piece), with `line_end`
/// true when the line ends with a newline in `text` (fastText's `</s>` goes there); a line
/// that runs to the end of `text` without one (the end of a file, a cut long line) gives
/// `line_end` false.
pub(crate) fn for_each_line_piece_in(
    tokenizer: &WordTokenizer,
    text: &str,
    f: &mut impl FnMut(&[&str], bool),
) {
    let mut owned: Vec<String> = Vec::new();
    let mut tokens: Vec<&str> = Vec::new();
    for raw in text.split_inclusive('\n') {
        let (line, ended) = match raw.strip_suffix('\n') {
            Some(l) => (l.strip_suffix('\r').unwrap_or(l), true),
            None => (raw, false),
        };
        if tokenizer.is_plain() {
            tokens.clear();
            for t in line.split_whitespace() {
                if tokens.len() == MAX_SENTENCE_TOKENS {
                    f(&tokens, false);
                    tokens.clear();
                }
                tokens.push(t);
            }
            f(&tokens, ended);
        } else {
            owned.clear();
            tokenizer.for_each_token(line, |t| owned.push(t.into_owned()));
            let mut pieces = owned.chunks(MAX_SENTENCE_TOKENS).peekable();
            if pieces.peek().is_none() {
                f(&[], ended);
            }
            while let Some(piece) = pieces.next() {
                let refs: Vec<&str> = piece.iter().map(String::as_str).collect();
                f(&refs, ended && pieces.peek().is_none());
            }
        }
    }
}

/// Iterator over the chunks of a corpus; see [`Corpus::chunks`].
pub struct Chunks<'a> {
    corpus: &'a Corpus,
    chunk_bytes: usize,
    file: usize,
    reader: Option<Box<dyn Read + Send>>,
    line: u64,
    carry: Vec<u8>,
    failed: bool,
}

/// Opens a file for reading, transparently decompressing gzip (recognised by its magic bytes).
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read + Send>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut magic = [0u8; 2];
    let n = read_full(&mut file, &mut magic).map_err(|e| Error::io(path, e))?;
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let buffered = BufReader::with_capacity(1 << 20, file);
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(buffered),
        )))
    } else {
        Ok(Box::new(buffered))
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl Chunks<'_> {
    fn next_chunk(&mut self) -> Result<Option<TextChunk>> {
        loop {
            if self.file >= self.corpus.paths.len() {
                return Ok(None);
            }
            let path = &self.corpus.paths[self.file];
            if self.reader.is_none() {
                self.reader = Some(open_maybe_gz(path)?);
                self.line = 1;
                self.carry.clear();
            }
            let reader = self.reader.as_mut().expect("reader opened above");
            let mut buf = std::mem::take(&mut self.carry);
            let start = buf.len();
            buf.resize(start + self.chunk_bytes, 0);
            let n = read_full(reader, &mut buf[start..]).map_err(|e| Error::io(path, e))?;
            buf.truncate(start + n);
            let at_eof = n == 0 || start + n < start + self.chunk_bytes;
            if buf.is_empty() {
                self.reader = None;
                self.file += 1;
                continue;
            }
            // Cut at the last newline unless the file ended; keep the rest for the next chunk.
            let cut = if at_eof {
                buf.len()
            } else {
                match memrchr(b'\n', &buf) {
                    Some(i) => i + 1,
                    // A line longer than the limit: cut it (see MAX_LINE_BYTES).
                    None if buf.len() >= MAX_LINE_BYTES => long_line_cut(&buf),
                    // One line longer than the chunk: keep reading into the same buffer.
                    None => {
                        self.carry = buf;
                        continue;
                    }
                }
            };
            self.carry = buf.split_off(cut);
            let first_line = self.line;
            let file = self.file;
            let text = match String::from_utf8(buf) {
                Ok(t) => t,
                Err(e) => {
                    let valid = e.utf8_error().valid_up_to();
                    let bytes = e.as_bytes();
                    let line =
                        first_line + bytes[..valid].iter().filter(|&&b| b == b'\n').count() as u64;
                    return Err(Error::at_line(path, line, "invalid UTF-8"));
                }
            };
            let newlines = text.bytes().filter(|&b| b == b'\n').count() as u64;
            self.line += newlines;
            if at_eof {
                self.reader = None;
                self.file += 1;
            }
            return Ok(Some(TextChunk {
                file,
                first_line,
                newlines,
                text,
            }));
        }
    }
}

/// Where to cut a line of at least [`MAX_LINE_BYTES`] bytes with no newline: after its last
/// space or tab within the limit, else at the last UTF-8 character boundary within it.
fn long_line_cut(buf: &[u8]) -> usize {
    let head = &buf[..MAX_LINE_BYTES];
    if let Some(i) = head.iter().rposition(|&b| b == b' ' || b == b'\t') {
        if i > 0 {
            return i + 1;
        }
    }
    // The last character that starts within the limit (at most 3 continuation bytes back):
    // keep it when it ends within the limit, else cut before it. `buf` may end at the limit.
    let mut start = MAX_LINE_BYTES - 1;
    while start > MAX_LINE_BYTES - 4 && (buf[start] & 0xC0) == 0x80 {
        start -= 1;
    }
    let len = match buf[start] {
        b if b >= 0xF0 => 4,
        b if b >= 0xE0 => 3,
        b if b >= 0xC0 => 2,
        _ => 1,
    };
    if start + len <= MAX_LINE_BYTES {
        MAX_LINE_BYTES
    } else {
        start
    }
}

fn memrchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().rposition(|&b| b == needle)
}

impl Iterator for Chunks<'_> {
    type Item = Result<TextChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_chunk() {
            Ok(Some(c)) => Some(Ok(c)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn chunks_are_whole_lines_and_cover_everything() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("line {i} with some words\n"));
        }
        text.push_str("last line without newline");
        std::fs::write(&p, &text).unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let mut joined = String::new();
        let mut expected_line = 1;
        for c in corpus.chunks(4096) {
            let c = c.unwrap();
            assert_eq!(c.first_line, expected_line);
            assert_eq!(c.newlines, c.text.matches('\n').count() as u64);
            expected_line += c.text.matches('\n').count() as u64;
            joined.push_str(&c.text);
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn gzip_and_many_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"the cat\nsat on\n").unwrap();
        std::fs::write(&a, enc.finish().unwrap()).unwrap();
        let b = dir.path().join("b.txt");
        std::fs::write(&b, "the mat").unwrap();
        let corpus = Corpus::new(&[&a, &b], WordTokenizer::default()).unwrap();
        let mut sentences = Vec::new();
        corpus
            .for_each_sentence(|s| sentences.push(s.join(" ")))
            .unwrap();
        assert_eq!(sentences, vec!["the cat", "sat on", "the mat"]);
    }

    #[test]
    fn long_lines_are_split_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("long.txt");
        let line: Vec<String> = (0..25_001).map(|i| format!("w{i}")).collect();
        std::fs::write(&p, line.join(" ")).unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let mut lens = Vec::new();
        corpus.for_each_sentence(|s| lens.push(s.len())).unwrap();
        assert_eq!(lens, vec![10_000, 10_000, 5_001]);
    }

    /// Input without newlines is read in pieces of at most MAX_LINE_BYTES (it used to be held
    /// whole: `train word2vec /dev/zero` grew without bound). Words are not split when the
    /// line has spaces; the text is all there; multi-byte characters are never cut.
    #[test]
    fn lines_without_newlines_are_bounded_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one-line.txt");
        let words: Vec<String> = (0..700_000).map(|i| format!("wörd{i}")).collect();
        let text = words.join(" ");
        assert!(text.len() > 5 * MAX_LINE_BYTES);
        std::fs::write(&p, &text).unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let mut joined = String::new();
        let mut longest = 0;
        for c in corpus.chunks(1 << 16) {
            let c = c.unwrap();
            assert_eq!(c.first_line, 1);
            longest = longest.max(c.text.len());
            joined.push_str(&c.text);
        }
        assert!(longest <= MAX_LINE_BYTES + (1 << 16), "{longest}");
        assert_eq!(joined, text);
        let mut tokens = 0;
        corpus.for_each_sentence(|s| tokens += s.len()).unwrap();
        assert_eq!(tokens, words.len());

        // No whitespace at all (as /dev/zero): cut at character boundaries, nothing lost.
        let p = dir.path().join("no-space.txt");
        let text = "é".repeat(3 * MAX_LINE_BYTES / 2 + 1);
        std::fs::write(&p, &text).unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let pieces: Vec<String> = corpus.chunks(1 << 16).map(|c| c.unwrap().text).collect();
        assert!(pieces.len() >= 3, "{}", pieces.len());
        assert!(pieces.iter().all(|t| t.len() <= MAX_LINE_BYTES + (1 << 16)));
        assert_eq!(pieces.concat(), text);
    }

    /// Every line gives its last piece, empty or not, marked when a newline ends it: where
    /// fastText's `</s>` goes.
    #[test]
    fn line_pieces_mark_line_ends() {
        let mut got: Vec<(String, bool)> = Vec::new();
        let tok = WordTokenizer::default();
        let text = "a b\n\n  \r\nc\r\nd e";
        for_each_line_piece_in(&tok, text, &mut |t: &[&str], end| {
            got.push((t.join(" "), end))
        });
        let want = [
            ("a b", true),
            ("", true),
            ("", true),
            ("c", true),
            ("d e", false),
        ];
        let want: Vec<(String, bool)> = want.iter().map(|(s, e)| (s.to_string(), *e)).collect();
        assert_eq!(got, want);
        // A long line (twice the limit): the first piece unmarked, the last one marked.
        let long: Vec<String> = (0..MAX_SENTENCE_TOKENS * 2)
            .map(|i| format!("w{i}"))
            .collect();
        let text = format!("{}\n", long.join(" "));
        let mut got = Vec::new();
        for_each_line_piece_in(&tok, &text, &mut |t: &[&str], end| got.push((t.len(), end)));
        assert_eq!(
            got,
            [(MAX_SENTENCE_TOKENS, false), (MAX_SENTENCE_TOKENS, true)]
        );
        // The sentences are what they were: no empty ones.
        let mut lens = Vec::new();
        for_each_sentence_in(&tok, "a b\n\nc\n", &mut |t: &[&str]| lens.push(t.len()));
        assert_eq!(lens, [2, 1]);
    }

    #[test]
    fn invalid_utf8_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.txt");
        std::fs::write(&p, b"ok\nstill ok\nbad \xff here\n").unwrap();
        let corpus = Corpus::new(&[&p], WordTokenizer::default()).unwrap();
        let err = corpus.for_each_sentence(|_| {}).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
        assert!(Corpus::new(&[dir.path().join("missing")], WordTokenizer::default()).is_err());
    }
}
