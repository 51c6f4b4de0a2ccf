//! Input bytes for the readers: a memory map of a plain file, or the decompressed content of a
//! `.gz` file; plus the shared pieces every reader needs (duplicate handling, the read report).

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use memmap2::Mmap;

use crate::error::{Error, Position, Result};
use crate::storage::DenseMatrix;
use crate::vocab::{self, Vocab, WordList};

/// The bytes of an input file.
pub(crate) enum Input {
    /// A memory map; `release` says whether pages are given back as they are passed (see
    /// [`release_above`]).
    Mapped {
        map: Mmap,
        release: bool,
    },
    Owned(Vec<u8>),
}

/// Mapped inputs larger than this many bytes have their pages given back while they are read,
/// so the process never holds much of the file besides the matrix (peak 1.03–1.18× the matrix).
/// 16 MiB: keeping the pages of larger inputs saved little (GloVe 6B 50d text, 171 MB: 0.44
/// against 0.45 CPU seconds, median of 7, for a peak of 3.31× instead of 1.17× the matrix;
/// BENCHMARKS.md, Formats), so only small files, where `madvise` calls would buy nothing, skip it.
/// `EMBERS_RELEASE_ABOVE` (bytes) overrides it for measurements.
pub(crate) fn release_above() -> u64 {
    if let Some(v) = std::env::var_os("EMBERS_RELEASE_ABOVE") {
        if let Some(n) = v.to_str().and_then(|s| s.trim().parse::<u64>().ok()) {
            return n;
        }
    }
    16 << 20
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped { map, .. } => map,
            Input::Owned(v) => v,
        }
    }
}

impl Input {
    /// Tells the kernel the process is done with the pages of `part` (a sub-slice of this
    /// input), so a large memory-mapped file does not stay resident while the matrix is built.
    /// Pages `part` shares with the bytes around it are kept (a neighbouring part may be in use);
    /// the bytes stay readable (they are read again from the page cache if touched).
    pub(crate) fn release(&self, part: &[u8]) {
        self.release_pages(part, false);
    }

    /// Like [`Input::release`], including the pages `part` shares with its neighbours: for a
    /// span no thread reads any more, so that releasing parts one by one leaves none behind.
    pub(crate) fn release_whole(&self, part: &[u8]) {
        self.release_pages(part, true);
    }

    fn release_pages(&self, part: &[u8], whole: bool) {
        #[cfg(unix)]
        if let Input::Mapped {
            map: m,
            release: true,
        } = self
        {
            const PAGE: usize = 4096;
            let base = m.as_ptr() as usize;
            let start = part.as_ptr() as usize;
            if start < base || start + part.len() > base + m.len() {
                return;
            }
            let (from, to) = match whole {
                true => ((start - base) / PAGE * PAGE, start - base + part.len()),
                false => (
                    (start - base).div_ceil(PAGE) * PAGE,
                    (start - base + part.len()) / PAGE * PAGE,
                ),
            };
            if to > from {
                crate::io::profile::RELEASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // SAFETY: a read-only shared file mapping: dropped pages are re-read from the
                // file on the next access, so no data is lost and borrowed slices stay valid.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
                };
            }
        }
        #[cfg(not(unix))]
        let _ = (part, whole);
    }
}

/// Gives back the pages of a region of a mapped input read front to back, once every `every`
/// bytes. Each time it starts from the beginning of the span given back before, so that the
/// pages the kernel mapped again around the next fault (it maps a window of pages around one)
/// go too. Positions are offsets into the region.
pub(crate) struct Sweep {
    behind: usize,
    done: usize,
    every: usize,
}

impl Sweep {
    /// A sweep of the region from offset `from` on.
    pub(crate) fn new(from: usize, every: usize) -> Self {
        Sweep {
            behind: from,
            done: from,
            every,
        }
    }

    /// Reading has reached offset `at` of `region` (a part of `input`).
    pub(crate) fn reached(&mut self, input: &Input, region: &[u8], at: usize) {
        if at.saturating_sub(self.done) >= self.every {
            input.release_whole(&region[self.behind..at.min(region.len())]);
            self.behind = self.done;
            self.done = at;
        }
    }

    /// Reading of `region` is over: gives back everything from the last span on.
    pub(crate) fn finish(&mut self, input: &Input, region: &[u8]) {
        input.release_whole(&region[self.behind.min(region.len())..]);
        self.done = region.len();
        self.behind = self.done;
    }
}

/// Checks that `path` is a regular file before it is opened: a folder, a FIFO, a socket or a
/// device is an error naming the path (opening a FIFO would block until a writer comes; a
/// memory map of a folder fails with an obscure "No such device").
pub(crate) fn regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::io(
            path,
            std::io::Error::other("is a folder, not a file"),
        ));
    }
    if !meta.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::other(
                "is not a regular file (a FIFO, socket or device); save it to a file first",
            ),
        ));
    }
    Ok(())
}

/// True when the file name ends in `.gz` or the file starts with the gzip magic bytes.
pub(crate) fn is_gzip(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
    {
        return true;
    }
    // Only a regular file is opened to look: opening a FIFO would block until a writer comes
    // (the readers then refuse the path with `regular_file`'s error).
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut magic = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|_| magic == [0x1f, 0x8b])
        .unwrap_or(false)
}

/// Opens `path`: a memory map for plain files, the whole decompressed content for gzip files
/// (the text readers stream gzip input instead: [`gzip_stream`]).
pub(crate) fn open(path: &Path) -> Result<Input> {
    regular_file(path)?;
    if is_gzip(path) {
        let mut out = Vec::new();
        gzip_stream(path)?
            .read_to_end(&mut out)
            .map_err(|e| Error::io(path, gz_error(e)))?;
        return Ok(Input::Owned(out));
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Ok(Input::Owned(Vec::new()));
    }
    // Always a map in place, whatever `mapping::map_mode`: text and binary inputs are parsed
    // into owned matrices while they are read (pages are given back as they are passed, which
    // private anonymous memory could not do), and the map is dropped when reading ends, so a
    // long-running process holds no map of them afterwards.
    // SAFETY: the map is read-only and lives only while the file is read; like every reader of
    // memory-mapped files we rely on the file not being rewritten in place during that time.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let release = len > release_above();
    Ok(Input::Mapped { map, release })
}

fn gz_error(e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("gzip: {e}"))
}

/// The inflated content of a gzip file as a stream (all its members, as `gzip -dc` gives them).
pub(crate) fn gzip_stream(path: &Path) -> Result<impl Read + Send> {
    regular_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(flate2::read::MultiGzDecoder::new(
        std::io::BufReader::with_capacity(1 << 16, file),
    ))
}

/// The first line of a file (inflated when it is gzip), without its newline; `None` when the
/// first `max` bytes hold no newline.
pub(crate) fn first_line_of(path: &Path, max: usize) -> Result<Option<Vec<u8>>> {
    let mut head = head(path, max)?;
    Ok(memchr::memchr(b'\n', &head).map(|i| {
        head.truncate(i);
        head
    }))
}

/// The first `n` bytes of a file (decompressed when it is gzip), for sniffing.
pub(crate) fn head(path: &Path, n: usize) -> Result<Vec<u8>> {
    regular_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::with_capacity(n);
    let gzip = is_gzip(path);
    let reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    reader
        .take(n as u64)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(path, if gzip { gz_error(e) } else { e }))?;
    Ok(out)
}

/// A word seen again in a file: the later row was dropped and the first kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The repeated word.
    pub word: String,
    /// Where the dropped repetition is (line for text formats, byte or entry for binary ones).
    pub position: Position,
}

/// What a reader noticed without failing: currently the duplicate words it dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Repeated words; each later occurrence was dropped, the first kept.
    pub duplicates: Vec<Duplicate>,
}

/// Decodes a token: UTF-8, or with `lossy` invalid sequences replaced by U+FFFD.
pub(crate) fn decode_word<'a>(
    bytes: &'a [u8],
    lossy: bool,
    path: &Path,
    at: impl FnOnce() -> Position,
) -> Result<Cow<'a, str>> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(_) if lossy => Ok(String::from_utf8_lossy(bytes)),
        Err(e) => Err(Error::format(
            path,
            at(),
            format!(
                "the word {:?} is not valid UTF-8 (bad byte at offset {} of the word); use --lossy to replace it",
                String::from_utf8_lossy(bytes),
                e.valid_up_to()
            ),
        )),
    }
}

/// Builds the vocabulary and matrix from parsed rows, dropping every repeated word after its
/// first occurrence (recorded in `report` with `position(row)`, called in increasing row order).
/// Rows must be `dims` long each. The vocabulary's token index is left to be built on first
/// lookup, so reading does not hold it next to the whole matrix.
pub(crate) fn dedup_rows(
    mut words: WordList,
    counts: Option<Vec<u64>>,
    mut data: Vec<f32>,
    dims: usize,
    report: &mut ReadReport,
    mut position: impl FnMut(usize) -> Position,
) -> Result<(Vocab, DenseMatrix)> {
    words.shrink_to_fit();
    let dropped = vocab::repeats(&words);
    let mut counts = counts.unwrap_or_default();
    if dropped.is_empty() {
        let matrix = DenseMatrix::new(words.len(), dims, data)?;
        return Ok((Vocab::from_trusted_parts(words, counts), matrix));
    }
    let mut keep = WordList::with_capacity(words.len() - dropped.len(), words.text().len());
    let mut out_row = 0;
    let mut next = 0;
    for (i, w) in words.iter().enumerate() {
        if next < dropped.len() && dropped[next] as usize == i {
            next += 1;
            report.duplicates.push(Duplicate {
                word: w.to_owned(),
                position: position(i),
            });
            continue;
        }
        if out_row != i {
            data.copy_within(i * dims..(i + 1) * dims, out_row * dims);
            if !counts.is_empty() {
                counts[out_row] = counts[i];
            }
        }
        out_row += 1;
        keep.push(w);
    }
    data.truncate(out_row * dims);
    counts.truncate(out_row);
    let matrix = DenseMatrix::new(out_row, dims, data)?;
    Ok((Vocab::from_trusted_parts(keep, counts), matrix))
}

/// Checks that a word can be written to a format that separates fields with whitespace.
pub(crate) fn check_plain_word(word: &str, id: usize, format: &str) -> Result<()> {
    if word.is_empty() || word.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Error::invalid(
            "vocabulary",
            format!(
                "word {id} ({word:?}) is empty or contains whitespace, which {format} cannot hold \
                 (fields are separated by spaces); write the native or fastText .bin format instead, \
                 or replace the whitespace (`embers convert --replace-spaces _`)"
            ),
        ));
    }
    Ok(())
}
