//! The parallel parser and writer of "one word and its values per line" text, shared by the
//! word2vec/fastText `.vec` and GloVe formats: lines are cut into chunks parsed on all cores
//! (rows by the one-pass fast path of `rowscan`, anything else by the line parser and
//! `fast-float2`), every row written straight into its place in the matrix.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Position, Result};
use crate::io::atomic::AtomicFile;
use crate::io::input::{self, check_plain_word, decode_word, ReadReport};
use crate::io::profile;
use crate::io::rowscan;
use crate::io::ReadOptions;
use crate::vocab::WordList;

/// Bytes per parallel chunk (at least; chunks end at line ends).
const CHUNK: usize = 1 << 18;

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// Splits off the first line of `bytes` (without its `\n`) and the rest.
pub(crate) fn first_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'\n', bytes) {
        Some(i) => (&bytes[..i], &bytes[i + 1..]),
        None => (bytes, &[]),
    }
}

/// Parses a `rows dims` header line.
pub(crate) fn parse_header(path: &Path, line: &[u8]) -> Result<(usize, usize)> {
    let text = std::str::from_utf8(line).unwrap_or("");
    let mut fields = text.split_ascii_whitespace();
    let parse = |f: Option<&str>| f.and_then(|s| s.parse::<usize>().ok());
    match (parse(fields.next()), parse(fields.next()), fields.next()) {
        (Some(rows), Some(dims), None) if dims > 0 => Ok((rows, dims)),
        _ => Err(Error::at_line(
            path,
            1,
            format!(
                "expected a header `ROWS DIMS` (two positive integers), found {:?}",
                String::from_utf8_lossy(&line[..line.len().min(80)])
            ),
        )),
    }
}

/// Number of values in a GloVe-style first line (fields after the word).
pub(crate) fn count_values(line: &[u8]) -> usize {
    line.split(|&b| is_blank(b))
        .filter(|f| !f.is_empty())
        .count()
        .saturating_sub(1)
}

/// How many rows a read keeps: the count a header promised and the reader's limit.
struct Wanted {
    expected: Option<usize>,
    /// The rows to read, when anything bounds them.
    want: Option<usize>,
    /// The limit, not the header, decides where reading stops.
    limit_binds: bool,
}

impl Wanted {
    fn new(expected: Option<usize>, options: &ReadOptions) -> Self {
        Wanted {
            expected,
            want: match (expected, options.limit) {
                (Some(e), Some(l)) => Some(e.min(l)),
                (e, l) => e.or(l),
            },
            limit_binds: options
                .limit
                .is_some_and(|l| expected.is_none_or(|e| l < e)),
        }
    }

    /// The file has rows after the wanted ones: an error when the header's count binds.
    fn more_rows(&self, path: &Path, first_line: u64) -> Result<()> {
        match self.expected {
            Some(e) if !self.limit_binds => Err(Error::at_line(
                path,
                first_line + e as u64,
                format!("the header promises {e} rows but the file has more"),
            )),
            _ => Ok(()),
        }
    }

    /// The file ends after `rows` rows: an error when a header promised more.
    fn file_ends(&self, path: &Path, first_line: u64, rows: usize) -> Result<()> {
        match self.expected {
            Some(e) if rows < self.want.unwrap_or(e) => Err(Error::at_line(
                path,
                first_line + rows as u64,
                format!(
                    "the header promises {e} rows but the file ends after {rows} (truncated file?)"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Parses rows of `word v1 .. v_dims` from `body`, whose first line is line `first_line` of the
/// file. `expected` is the row count a header promised (an error when the file has fewer or
/// more rows); `limit` stops after that many rows without looking at the rest.
pub(crate) fn parse_rows(
    path: &Path,
    source: &input::Input,
    body: &[u8],
    first_line: u64,
    dims: usize,
    expected: Option<usize>,
    options: &ReadOptions,
) -> Result<(Embeddings, ReadReport)> {
    let mut phases = profile::Phases::start("text read");
    // Trailing blank lines and spaces at the very end are not rows.
    let mut end = body.len();
    while end > 0 && (is_blank(body[end - 1]) || body[end - 1] == b'\n') {
        end -= 1;
    }
    let mut body = &body[..end];
    let wanted = Wanted::new(expected, options);
    if let Some(want) = wanted.want {
        // Cut after `want` lines; the rest is not parsed (nor, for a limit, looked at).
        if want == 0 {
            body = &[];
        } else if let Some(pos) = nth_newline(source, body, want - 1) {
            wanted.more_rows(path, first_line)?;
            body = &body[..pos];
        }
    }

    // Chunks of whole lines. Probing a boundary maps the pages around it (the kernel maps
    // whole page-cache folios, which can be megabytes): they are given back as the scan moves
    // on, or the whole file would be resident after this loop.
    let mut bounds = vec![0usize];
    let mut at = 0;
    while at < body.len() {
        let next = (at + CHUNK).min(body.len());
        let next = match memchr::memchr(b'\n', &body[next..]) {
            Some(i) => next + i + 1,
            None => body.len(),
        };
        source.release(&body[bounds[bounds.len().saturating_sub(2)]..next]);
        bounds.push(next);
        at = next;
    }
    source.release_whole(body);
    phases.end("chunk bounds");
    let chunks: Vec<&[u8]> = bounds.windows(2).map(|w| &body[w[0]..w[1]]).collect();
    // Chunks are counted, then parsed, in batches of 16 per thread. Each chunk's pages are given
    // back when it is done (and faulted in again from the page cache when parsed). When a batch
    // is done, a sweep gives back the pages from the start of the batch before it, whole: that
    // takes the pages chunks share at their ends, and those the kernel mapped again around the
    // first faults of this batch. So the file is never resident beyond a few chunks.
    let batch = 16 * rayon::current_num_threads().max(1);
    let batch_end = |b: usize, n: usize| bounds[b * batch + n];
    let mut line_counts = Vec::with_capacity(chunks.len());
    let mut sweep = input::Sweep::new(0, 1);
    for (b, group) in chunks.chunks(batch).enumerate() {
        line_counts.par_extend(group.par_iter().map(|c| {
            let n = memchr::memchr_iter(b'\n', c).count();
            source.release(c);
            n + usize::from(!c.is_empty() && c[c.len() - 1] != b'\n')
        }));
        sweep.reached(source, body, batch_end(b, group.len()));
    }
    let rows: usize = line_counts.iter().sum();
    phases.end("count lines");
    wanted.file_ends(path, first_line, rows)?;
    // Every value takes at least one byte: a file too small for rows × dims fails here, before
    // anything is allocated (a header may promise any number of dims).
    let total = rows
        .checked_mul(dims)
        .filter(|&t| t <= body.len())
        .ok_or_else(|| {
            Error::at_line(
                path,
                first_line,
                format!(
                    "{rows} rows of {dims} values cannot fit in {} bytes",
                    body.len()
                ),
            )
        })?;
    let mut data = vec![0f32; total];
    let mut slices = Vec::with_capacity(chunks.len());
    let mut rest = data.as_mut_slice();
    let mut starts = Vec::with_capacity(chunks.len());
    let mut line = first_line;
    for &n in &line_counts {
        let (a, b) = rest.split_at_mut(n * dims);
        slices.push(a);
        rest = b;
        starts.push(line);
        line += n as u64;
    }
    // Words are appended a batch at a time, in order, so the per-chunk word lists are reused by
    // the allocator instead of piling up.
    let mut words = WordList::with_capacity(rows, 0);
    let mut slices = slices.into_iter();
    let mut sweep = input::Sweep::new(0, 1);
    for (b, (chunks, starts)) in chunks.chunks(batch).zip(starts.chunks(batch)).enumerate() {
        let outs: Vec<&mut [f32]> = slices.by_ref().take(chunks.len()).collect();
        let lists: Vec<WordList> = chunks
            .par_iter()
            .zip(outs.into_par_iter())
            .zip(starts.par_iter())
            .map(|((chunk, out), &start)| {
                let words = parse_chunk(path, chunk, start, dims, out, options);
                source.release(chunk);
                words
            })
            .collect::<Result<_>>()?;
        for list in &lists {
            words.append(list);
        }
        sweep.reached(source, body, batch_end(b, chunks.len()));
    }
    phases.end("parse");
    finish_rows(words, data, dims, first_line, phases)
}

/// The parsed rows as embeddings: repeated words dropped (the first kept) and reported.
fn finish_rows(
    words: WordList,
    data: Vec<f32>,
    dims: usize,
    first_line: u64,
    mut phases: profile::Phases,
) -> Result<(Embeddings, ReadReport)> {
    let mut report = ReadReport::default();
    let (vocab, matrix) = input::dedup_rows(words, None, data, dims, &mut report, |row| {
        Position::Line(first_line + row as u64)
    })?;
    let embeddings = Embeddings::new(vocab, matrix)?;
    phases.end("repeats");
    Ok((embeddings, report))
}

/// Bytes of inflated text a streamed input hands over at a time.
const PIECE: usize = 4 << 20;

/// Parses rows of `word v1 .. v_dims` from a stream — a `.gz` input, inflated on a thread of
/// its own while the rows already inflated are parsed on all cores — so that only a few pieces
/// of the text are held at once besides the matrix (the whole inflated text was 2–3× the
/// matrix). With `skip_header`, the stream's first line (a header the caller has read) is
/// passed over; the first row is line `first_line`. `expected` and the limit of `options` mean
/// what they mean for [`parse_rows`], and so do the errors, with the same positions.
pub(crate) fn parse_rows_stream<R: std::io::Read + Send>(
    path: &Path,
    reader: R,
    skip_header: bool,
    first_line: u64,
    dims: usize,
    expected: Option<usize>,
    options: &ReadOptions,
) -> Result<(Embeddings, ReadReport)> {
    parse_rows_stream_in(
        path,
        reader,
        skip_header,
        first_line,
        dims,
        expected,
        options,
        PIECE,
    )
}

#[allow(clippy::too_many_arguments)]
fn parse_rows_stream_in<R: std::io::Read + Send>(
    path: &Path,
    mut reader: R,
    skip_header: bool,
    first_line: u64,
    dims: usize,
    expected: Option<usize>,
    options: &ReadOptions,
    piece: usize,
) -> Result<(Embeddings, ReadReport)> {
    use std::sync::mpsc::{channel, sync_channel};
    let mut phases = profile::Phases::start("text stream");
    let wanted = Wanted::new(expected, options);
    let mut stream = Stream {
        path,
        dims,
        options,
        first: first_line,
        line: first_line,
        bytes: 0,
        data: Vec::new(),
        words: WordList::new(),
    };
    std::thread::scope(|scope| -> Result<()> {
        // Two pieces in flight; buffers come back through `spare` to be filled again.
        let (full_tx, full_rx) = sync_channel::<std::io::Result<Vec<u8>>>(2);
        let (spare_tx, spare_rx) = channel::<Vec<u8>>();
        scope.spawn(move || loop {
            let mut buf = spare_rx.try_recv().unwrap_or_default();
            buf.clear();
            buf.resize(piece, 0);
            let mut filled = 0;
            let mut failed = None;
            while filled < piece {
                match reader.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            buf.truncate(filled);
            let end = filled == 0;
            if let Some(e) = failed {
                let _ = full_tx.send(Err(e));
                return;
            }
            // An empty piece marks the end; a closed channel means the parser stopped.
            if full_tx.send(Ok(buf)).is_err() || end {
                return;
            }
        });
        let mut text: Vec<u8> = Vec::new();
        let mut header_left = skip_header;
        let mut done = false;
        while !done {
            let got = full_rx
                .recv()
                .unwrap_or_else(|_| Ok(Vec::new()))
                .map_err(|e| {
                    Error::io(path, std::io::Error::new(e.kind(), format!("gzip: {e}")))
                })?;
            let at_end = got.is_empty();
            text.extend_from_slice(&got);
            let _ = spare_tx.send(got);
            if header_left {
                match memchr::memchr(b'\n', &text) {
                    Some(i) => {
                        text.drain(..=i);
                        header_left = false;
                    }
                    None if at_end => text.clear(),
                    None => continue,
                }
            }
            // The block to parse: whole lines up to the last one with content (blank lines at
            // the end wait, since only at the end of the stream are they not rows); at the end,
            // everything but trailing blanks.
            let cut = match text.iter().rposition(|&b| !is_blank(b) && b != b'\n') {
                None => 0,
                Some(p) if at_end => p + 1,
                Some(p) => match memchr::memchr(b'\n', &text[p..]) {
                    Some(i) => p + i + 1,
                    None => match memchr::memrchr(b'\n', &text[..p]) {
                        Some(i) => i + 1,
                        None => 0,
                    },
                },
            };
            let mut block = &text[..cut];
            if let Some(w) = wanted.want {
                // Where the wanted rows end when the block has content beyond them.
                let left = w - stream.rows();
                let over = if left == 0 {
                    (!block.is_empty()).then_some(0)
                } else {
                    memchr::memchr_iter(b'\n', block)
                        .nth(left - 1)
                        .filter(|&p| p + 1 < block.len())
                };
                if let Some(pos) = over {
                    wanted.more_rows(path, first_line)?;
                    block = &block[..pos];
                    done = true;
                }
            }
            if at_end && !done {
                done = true;
                wanted.file_ends(path, first_line, stream.rows() + count_lines(block))?;
            }
            stream.parse(block)?;
            // A limit reached: the rest is not read.
            if wanted.limit_binds && wanted.want == Some(stream.rows()) {
                done = true;
            }
            let used = if done { text.len() } else { cut };
            text.drain(..used);
        }
        // Dropping the receiver stops the inflating thread at its next piece.
        drop(full_rx);
        Ok(())
    })?;
    phases.end("inflate and parse");
    finish_rows(stream.words, stream.data, dims, first_line, phases)
}

/// Lines of `text`, a last line without its newline included.
fn count_lines(text: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', text).count() + usize::from(text.last().is_some_and(|&b| b != b'\n'))
}

/// The rows parsed so far from a stream.
struct Stream<'a> {
    path: &'a Path,
    dims: usize,
    options: &'a ReadOptions,
    /// The line number of the first row and of the next one.
    first: u64,
    line: u64,
    /// Bytes of rows passed to [`Stream::parse`].
    bytes: usize,
    data: Vec<f32>,
    words: WordList,
}

impl Stream<'_> {
    fn rows(&self) -> usize {
        self.words.len()
    }

    /// Parses a block of whole lines into new rows, in chunks on all cores.
    fn parse(&mut self, block: &[u8]) -> Result<()> {
        if block.is_empty() {
            return Ok(());
        }
        let mut chunks = Vec::new();
        let mut at = 0;
        while at < block.len() {
            let next = (at + CHUNK).min(block.len());
            let next = memchr::memchr(b'\n', &block[next..]).map_or(block.len(), |i| next + i + 1);
            chunks.push(&block[at..next]);
            at = next;
        }
        let counts: Vec<usize> = chunks.par_iter().map(|c| count_lines(c)).collect();
        let rows: usize = counts.iter().sum();
        // Every value takes at least one byte: more values than the bytes read so far cannot be
        // (and must not be allocated before a row is parsed). Counted from the first row, as
        // the mapped path counts the whole file.
        self.bytes += block.len();
        // (without the block's final newline, as the mapped path counts a file's last row)
        let bytes = self.bytes - usize::from(block.last() == Some(&b'\n'));
        let total = self.rows() + rows;
        let values = total
            .checked_mul(self.dims)
            .filter(|&t| t <= bytes)
            .map(|_| rows * self.dims)
            .ok_or_else(|| {
                Error::at_line(
                    self.path,
                    self.first,
                    format!(
                        "{total} rows of {} values cannot fit in {} bytes",
                        self.dims, bytes
                    ),
                )
            })?;
        let old = self.data.len();
        self.data.try_reserve(values).map_err(|_| {
            Error::invalid(
                "rows",
                format!(
                    "cannot allocate {} more values for {}",
                    values,
                    self.path.display()
                ),
            )
        })?;
        self.data.resize(old + values, 0.0);
        let mut slices = Vec::with_capacity(chunks.len());
        let mut starts = Vec::with_capacity(chunks.len());
        let mut rest = &mut self.data[old..];
        let mut line = self.line;
        for &n in &counts {
            let (a, b) = rest.split_at_mut(n * self.dims);
            slices.push(a);
            rest = b;
            starts.push(line);
            line += n as u64;
        }
        let (path, dims, options) = (self.path, self.dims, self.options);
        let lists: Vec<WordList> = chunks
            .par_iter()
            .zip(slices.into_par_iter())
            .zip(starts.par_iter())
            .map(|((chunk, out), &start)| parse_chunk(path, chunk, start, dims, out, options))
            .collect::<Result<_>>()?;
        for list in &lists {
            self.words.append(list);
        }
        self.line = line;
        Ok(())
    }
}

/// Where the `n`-th newline (from 0) of `body` is, counted a few MiB at a time with the pages
/// passed given back (a scan of the whole input would otherwise leave all of it resident,
/// before the matrix is even allocated).
fn nth_newline(source: &input::Input, body: &[u8], n: usize) -> Option<usize> {
    const PIECE: usize = 1 << 22;
    let mut left = n;
    let mut sweep = input::Sweep::new(0, PIECE);
    let mut at = 0;
    let mut found = None;
    while at < body.len() {
        let end = (at + PIECE).min(body.len());
        let piece = &body[at..end];
        let count = memchr::memchr_iter(b'\n', piece).count();
        if count > left {
            found = memchr::memchr_iter(b'\n', piece).nth(left).map(|i| at + i);
            break;
        }
        left -= count;
        at = end;
        sweep.reached(source, body, at);
    }
    sweep.finish(source, body);
    found
}

fn parse_chunk(
    path: &Path,
    chunk: &[u8],
    start: u64,
    dims: usize,
    out: &mut [f32],
    options: &ReadOptions,
) -> Result<WordList> {
    parse_chunk_in(path, chunk, start, dims, out, options, simd())
}

/// [`parse_chunk`], with the separators found by AVX2 or not.
fn parse_chunk_in(
    path: &Path,
    chunk: &[u8],
    start: u64,
    dims: usize,
    out: &mut [f32],
    options: &ReadOptions,
    avx2: bool,
) -> Result<WordList> {
    let rows = out.len() / dims.max(1);
    let mut words = WordList::with_capacity(rows, rows * 16);
    let mut seps = rowscan::Seps::new(chunk, avx2);
    let mut pos = 0;
    for (i, out) in out.chunks_exact_mut(dims.max(1)).enumerate() {
        if let Some((word_end, next)) = parse_row_fast(chunk, pos, &mut seps, out) {
            let word = &chunk[pos..word_end];
            if memchr::memchr(b'\t', word).is_none() {
                let line = start + i as u64;
                if let Ok(word) = decode_word(word, options.lossy, path, || Position::Line(line)) {
                    words.push(&word);
                    pos = next;
                    continue;
                }
            }
        }
        // Anything unusual (and every error): the general parser, on the whole line.
        let (line, _) = first_line(&chunk[pos..]);
        let word = parse_line(path, line, start + i as u64, out, options)?;
        words.push(&word);
        pos += line.len() + 1;
        if pos < chunk.len() {
            seps.seek(pos);
        }
    }
    Ok(words)
}

/// Whether the separator scan may use AVX2.
fn simd() -> bool {
    crate::cpu::avx2_fma()
}

/// The row at `pos` when it is a word (no space, tab or newline in it), one space, then
/// `out.len()` numbers separated by single spaces, the line ending at a newline (optionally
/// after a `\r`) or at the end of `chunk`; every value finite. Its values are written to `out`;
/// the end of the word and the start of the next line are returned. `None` for anything else
/// (nothing is then promised about `out` or `seps`).
#[inline]
fn parse_row_fast(
    chunk: &[u8],
    pos: usize,
    seps: &mut rowscan::Seps,
    out: &mut [f32],
) -> Option<(usize, usize)> {
    let (word_end, newline) = seps.next()?;
    if newline || word_end == pos || out.is_empty() {
        return None;
    }
    let last = out.len() - 1;
    let mut a = word_end + 1;
    for (k, slot) in out.iter_mut().enumerate() {
        let (e, newline) = seps.next().unwrap_or((chunk.len(), true));
        // Too few values, or too many.
        if newline != (k == last) {
            return None;
        }
        let mut end = e;
        if newline && end > a && chunk[end - 1] == b'\r' {
            end -= 1;
        }
        *slot = match rowscan::short_field(chunk, a, end) {
            Some(v) => v,
            None => {
                let field = &chunk[a..end];
                match fast_float2::parse_partial::<f32, _>(field).unwrap_or((0.0, 0)) {
                    (v, used) if used == field.len() && used > 0 && v.is_finite() => v,
                    _ => return None,
                }
            }
        };
        a = e + 1;
    }
    Some((word_end, a))
}

/// Parses the number at the start of `s` (up to a blank or the end of `s`, or where the number
/// ends): its value, correctly rounded to `f32`, and the bytes it takes (0 when there is no
/// number). The numbers of pretrained files (`-0.41242`, `0.00066023`) go through the row
/// scanner's short-decimal reader ([`rowscan::short_field`]), so both parsers give the same
/// value for the same field by construction; anything else (exponents, long mantissas, `inf`,
/// `nan`, a leading `+` or `.`) goes through `fast-float2`.
#[inline]
pub(crate) fn parse_f32(s: &[u8]) -> (f32, usize) {
    let end = s
        .iter()
        .position(|&b| is_blank(b) || b == b'\n')
        .unwrap_or(s.len());
    match rowscan::short_field(s, 0, end) {
        Some(v) => (v, end),
        None => fast_float2::parse_partial::<f32, _>(s).unwrap_or((0.0, 0)),
    }
}

/// Parses one row. A row whose word contains spaces (GloVe 840B has such words, e.g. `. . .`)
/// is read from the right: the last DIMS fields are the values and everything before them the
/// word, provided some field of that word is not a number (so a row with too many values is
/// still an error).
fn parse_line<'a>(
    path: &Path,
    line: &'a [u8],
    lineno: u64,
    out: &mut [f32],
    options: &ReadOptions,
) -> Result<Cow<'a, str>> {
    match parse_line_left(path, line, lineno, out, options) {
        Ok(w) => Ok(w),
        Err(e) => parse_line_right(path, line, lineno, out, options).ok_or(e),
    }
}

fn parse_line_right<'a>(
    path: &Path,
    line: &'a [u8],
    lineno: u64,
    out: &mut [f32],
    options: &ReadOptions,
) -> Option<Cow<'a, str>> {
    let dims = out.len();
    let fields: Vec<(usize, &[u8])> = line
        .split(|&b| is_blank(b))
        .scan(0usize, |at, f| {
            let start = *at;
            *at += f.len() + 1;
            Some((start, f))
        })
        .filter(|(_, f)| !f.is_empty())
        .collect();
    if fields.len() <= dims + 1 {
        return None;
    }
    let split = fields.len() - dims;
    let is_number = |f: &[u8]| fast_float2::parse::<f32, _>(f).is_ok();
    if fields[1..split].iter().all(|(_, f)| is_number(f)) {
        return None;
    }
    for (slot, (_, f)) in out.iter_mut().zip(&fields[split..]) {
        let v = fast_float2::parse::<f32, _>(f).ok()?;
        if !v.is_finite() && !options.allow_nonfinite {
            return None;
        }
        *slot = v;
    }
    let (start, last) = fields[split - 1];
    decode_word(&line[..start + last.len()], options.lossy, path, || {
        Position::Line(lineno)
    })
    .ok()
}

fn parse_line_left<'a>(
    path: &Path,
    line: &'a [u8],
    lineno: u64,
    out: &mut [f32],
    options: &ReadOptions,
) -> Result<Cow<'a, str>> {
    let dims = out.len();
    let err = |msg: String| Error::at_line(path, lineno, msg);
    let mut line = line;
    while let Some((&last, rest)) = line.split_last() {
        if is_blank(last) {
            line = rest;
        } else {
            break;
        }
    }
    let sp = memchr::memchr2(b' ', b'\t', line);
    let sp = match sp {
        Some(0) => return Err(err("the line starts with a space: empty word".into())),
        Some(i) => i,
        None if line.is_empty() => return Err(err("empty line where a row was expected".into())),
        None => return Err(err(format!("a word without values (expected {dims})"))),
    };
    let word = decode_word(&line[..sp], options.lossy, path, || Position::Line(lineno))?;
    let mut pos = sp;
    for (k, slot) in out.iter_mut().enumerate() {
        while pos < line.len() && is_blank(line[pos]) {
            pos += 1;
        }
        if pos == line.len() {
            return Err(err(format!("the row has {k} values, expected {dims}")));
        }
        let (v, used) = parse_f32(&line[pos..]);
        let field_end = pos + used;
        if used == 0 || (field_end < line.len() && !is_blank(line[field_end])) {
            let end = line[pos..]
                .iter()
                .position(|&b| is_blank(b))
                .map_or(line.len(), |e| pos + e);
            return Err(err(format!(
                "value {} is not a number: {:?}",
                k + 1,
                String::from_utf8_lossy(&line[pos..end.min(pos + 40)])
            )));
        }
        if !v.is_finite() && !options.allow_nonfinite {
            return Err(err(format!(
                "value {} is {v}; use --allow-nonfinite to accept NaN and infinities",
                k + 1
            )));
        }
        *slot = v;
        pos = field_end;
    }
    while pos < line.len() && is_blank(line[pos]) {
        pos += 1;
    }
    if pos != line.len() {
        let extra = line[pos..]
            .split(|&b| is_blank(b))
            .filter(|f| !f.is_empty())
            .count();
        return Err(err(format!(
            "the row has {} values, expected {dims}",
            dims + extra
        )));
    }
    Ok(word)
}

/// Writes `word v1 .. vd` lines (after `header`, if any), formatting rows in parallel. Values are
/// printed in the shortest form that reads back to the same `f32`.
pub(crate) fn write_rows(
    path: &Path,
    embeddings: &Embeddings,
    header: Option<String>,
    format: &str,
) -> Result<()> {
    let words = embeddings.vocab().words();
    for (i, w) in words.iter().enumerate() {
        check_plain_word(w, i, format)?;
    }
    let mut file = AtomicFile::create(path)?;
    if let Some(h) = header {
        file.write_all(h.as_bytes())?;
    }
    let dims = embeddings.dims();
    let storage = embeddings.storage();
    const BATCH: usize = 4096;
    let n = words.len();
    let mut start = 0;
    while start < n {
        let end = (start + BATCH * rayon::current_num_threads().max(1)).min(n);
        let parts: Vec<Vec<u8>> = (start..end)
            .into_par_iter()
            .chunks(256)
            .map(|ids| {
                let mut buf = Vec::with_capacity(ids.len() * (dims * 12 + 16));
                let mut row = vec![0f32; dims];
                for i in ids {
                    storage.row_into(i, &mut row);
                    buf.extend_from_slice(words[i].as_bytes());
                    for v in &row {
                        // Writing to a Vec cannot fail.
                        let _ = write!(buf, " {v:?}");
                    }
                    buf.push(b'\n');
                }
                buf
            })
            .collect();
        for p in parts {
            file.write_all(&p)?;
        }
        start = end;
    }
    file.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `text` (a header line first when `expected` is given) through the mapped path and
    /// through the stream in pieces of every size given: the same rows, words and report, or the
    /// same error.
    #[allow(clippy::type_complexity)]
    fn summary(e: &Embeddings, r: &ReadReport) -> (Vec<String>, Vec<Vec<u32>>, usize) {
        let words: Vec<String> = e.vocab().words().iter().map(String::from).collect();
        let rows = (0..e.len() as u32)
            .map(|i| e.vector(i).unwrap().iter().map(|v| v.to_bits()).collect())
            .collect();
        (words, rows, r.duplicates.len())
    }

    fn stream_agrees(text: &str, dims: usize, expected: Option<usize>, limit: Option<usize>) {
        let path = Path::new("t.vec.gz");
        let options = ReadOptions {
            limit,
            ..Default::default()
        };
        let bytes = text.as_bytes();
        let body = if expected.is_some() {
            first_line(bytes).1
        } else {
            bytes
        };
        let first = if expected.is_some() { 2 } else { 1 };
        let source = input::Input::Owned(bytes.to_vec());
        let want = parse_rows(path, &source, body, first, dims, expected, &options)
            .map(|(e, r)| summary(&e, &r));
        for piece in [1, 2, 3, 5, 8, 13, 64, 1 << 12] {
            let got = parse_rows_stream_in(
                path,
                bytes,
                expected.is_some(),
                first,
                dims,
                expected,
                &options,
                piece,
            )
            .map(|(e, r)| summary(&e, &r));
            match (&want, &got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "piece {piece}: {text:?}"),
                (Err(a), Err(b)) => {
                    assert_eq!(a.to_string(), b.to_string(), "piece {piece}: {text:?}")
                }
                _ => panic!("piece {piece}, {text:?}: mapped {want:?}, streamed {got:?}"),
            }
        }
    }

    #[test]
    fn streamed_input_reads_as_the_mapped_one() {
        let rows = "a 1 2\nb -0.5 3e2\nc 0.25 -7\nd 8 9\n";
        for tail in ["", "\n", "\n\n  \n", "  ", "\r\n"] {
            let text = format!("{rows}{tail}");
            stream_agrees(&text, 2, None, None);
            stream_agrees(&format!("4 2\n{text}"), 2, Some(4), None);
            for limit in 0..=5 {
                stream_agrees(&text, 2, None, Some(limit));
                stream_agrees(&format!("4 2\n{text}"), 2, Some(4), Some(limit));
            }
        }
        // No final newline; a repeated word; a word with spaces (read from the right).
        stream_agrees("a 1 2\nb 3 4", 2, None, None);
        stream_agrees("a 1 2\na 3 4\nb 5 6\n", 2, None, None);
        stream_agrees("a 1 2\n. . . 3 4\n", 2, None, None);
        // Errors, with the same positions: more or fewer rows than the header promises, a row
        // cut short, a blank line inside, a value that is not a number, too many values.
        stream_agrees("3 2\na 1 2\nb 3 4\n", 2, Some(3), None);
        stream_agrees("1 2\na 1 2\nb 3 4\n", 2, Some(1), None);
        stream_agrees("2 2\na 1 2\nb 3\n", 2, Some(2), None);
        stream_agrees("a 1 2\n\nb 3 4\n", 2, None, None);
        stream_agrees("a 1 2\nb 3 x\n", 2, None, None);
        stream_agrees("a 1 2\nb 3 4 5\n", 2, None, None);
        stream_agrees("a 1 2\nb 3 4 5\n", 3, None, None);
        stream_agrees("", 2, None, None);
        // A header promising more values than the bytes could hold.
        stream_agrees("1 1000000\na 1 2\n", 1_000_000, Some(1), None);
    }

    #[test]
    fn a_failing_stream_is_an_error_naming_the_file() {
        struct Fails(usize);
        impl std::io::Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "corrupt deflate stream",
                    ));
                }
                let n = buf.len().min(self.0).min(6);
                buf[..n].copy_from_slice(&b"a 1 2\n"[..n]);
                self.0 -= n;
                Ok(n)
            }
        }
        let path = Path::new("broken.vec.gz");
        let err = parse_rows_stream_in(
            path,
            Fails(60),
            false,
            1,
            2,
            None,
            &ReadOptions::default(),
            16,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("broken.vec.gz") && err.contains("corrupt deflate stream"),
            "{err}"
        );
    }

    /// The row loop (separators by AVX2 and portably) against the general parser line by line:
    /// the same words and values (bit for bit), or the same error, on rows that put values at
    /// 64-byte block and chunk ends, CRLF ends, tabs, double and trailing spaces, `-0.0`, long
    /// mantissas, exponents, `inf`/`nan`, too few and too many values, empty and bad words.
    #[test]
    fn parse_chunk_matches_the_line_parser() {
        let mut rng = crate::rng::Rng::new(0x2545_f491_4f6c_dd1d);
        let mut next = move || rng.next_u64();
        let fields = [
            "0.418",
            "-0.41242",
            "-0.00066023",
            "4.0071",
            "-0.0",
            "0.0",
            "1",
            "-7",
            "12.5",
            "123456.78",
            "1234567.8",
            "0.16777216",
            "0.16777217",
            "0.123456789",
            "1e5",
            "-1.5E-3",
            "inf",
            "-inf",
            "nan",
            "1e39",
            "x",
            "1.5x",
            ".5",
            "+1",
            "1.",
            "-",
            "99999999.9",
        ];
        let ends = ["\n", "\r\n", " \n", "\t\n", "\r\r\n"];
        let avx2 = crate::cpu::avx2_fma();
        for case in 0..4000 {
            let dims = 1 + (next() % 7) as usize;
            let rows = 1 + (next() % 6) as usize;
            let mut text = String::new();
            for r in 0..rows {
                let word_len = (next() % 9) as usize;
                for i in 0..word_len {
                    text.push(b"abcdef\xc3\t."[(next() as usize + i) % 9] as char);
                }
                if word_len == 0 || next() % 50 != 0 {
                    text.push('w');
                }
                let n = match next() % 40 {
                    0 => dims - 1,
                    1 => dims + 1,
                    _ => dims,
                };
                for _ in 0..n {
                    text.push(if next() % 60 == 0 { '\t' } else { ' ' });
                    if next() % 80 == 0 {
                        text.push(' ');
                    }
                    let f = next() as usize;
                    if f.is_multiple_of(4) {
                        text.push_str(fields[(f >> 8) % fields.len()]);
                    } else {
                        // A random `-?D+.D+` of 1-7 integer and 1-10 fraction digits.
                        if f >> 5 & 1 == 1 {
                            text.push('-');
                        }
                        let d = next();
                        for k in 0..1 + (f >> 6) % 7 {
                            text.push(char::from(b'0' + (d >> (3 * k)) as u8 % 10));
                        }
                        text.push('.');
                        for k in 0..1 + (f >> 9) % 10 {
                            text.push(char::from(b'0' + (d >> (3 * k + 21)) as u8 % 10));
                        }
                    }
                }
                if r + 1 < rows || next() % 2 == 0 {
                    let end = next() as usize;
                    text.push_str(if end % 8 < 4 {
                        "\n"
                    } else {
                        ends[end % ends.len()]
                    });
                }
            }
            let bytes = text.as_bytes();
            let lines: Vec<&[u8]> = bytes
                .strip_suffix(b"\n")
                .unwrap_or(bytes)
                .split(|&b| b == b'\n')
                .collect();
            let path = Path::new("t.txt");
            let options = ReadOptions::default();
            let mut values = vec![0f32; lines.len() * dims];
            let want: Result<Vec<String>> = lines
                .iter()
                .zip(values.chunks_mut(dims))
                .enumerate()
                .map(|(i, (l, out))| {
                    parse_line(path, l, 7 + i as u64, out, &options).map(|w| w.into_owned())
                })
                .collect::<Result<_>>()
                .map(|mut v: Vec<String>| {
                    v.extend(values.iter().map(|x| x.to_bits().to_string()));
                    v
                });
            for simd in [false, avx2] {
                let mut out = vec![0f32; lines.len() * dims];
                let got = parse_chunk_in(path, bytes, 7, dims, &mut out, &options, simd).map(|w| {
                    let mut v: Vec<String> = w.iter().map(String::from).collect();
                    v.extend(out.iter().map(|x| x.to_bits().to_string()));
                    v
                });
                match (&want, &got) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "case {case}, avx2 {simd}: {text:?}"),
                    (Err(a), Err(b)) => assert_eq!(
                        a.to_string(),
                        b.to_string(),
                        "case {case}, avx2 {simd}: {text:?}"
                    ),
                    _ => panic!("case {case}, avx2 {simd}: {text:?}: {want:?} vs {got:?}"),
                }
            }
        }
    }

    /// The short-decimal path and the fallback against the standard library's parser (correctly
    /// rounded), on numbers shaped like those of pretrained files and on the edges of the path.
    #[test]
    fn parse_f32_matches_the_standard_parser() {
        let mut rng = crate::rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next_u64();
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "16777216",
            "16777217",
            "1.6777217",
            "99999999",
            "123456789",
            "0.00066023",
            "-0.00059213",
            "4.0071",
            "0.1",
            "0.2",
            "0.3",
            "0.0000000001",
            "0.00000000001",
            "1.",
            ".5",
            "+1",
            "1e5",
            "1.5e-3",
            "-2E2",
            "inf",
            "-inf",
            "nan",
            "3.4028235e38",
            "1e39",
            "0.12345678901",
            "7.000000000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..200_000 {
            let r = next();
            let int_digits = (r % 4) as usize;
            let frac_digits = ((r >> 8) % 12) as usize;
            let mut s = String::new();
            if r >> 20 & 1 == 1 {
                s.push('-');
            }
            let digits = next();
            let digit = |k: usize| char::from(b'0' + ((digits >> (3 * k)) % 10) as u8);
            s.extend((0..int_digits.max(1)).map(|k| if int_digits == 0 { '0' } else { digit(k) }));
            if frac_digits > 0 {
                s.push('.');
                s.extend((0..frac_digits).map(|k| digit(k + 4)));
            }
            cases.push(s);
        }
        for s in &cases {
            for tail in ["", " 1", "\t", "\r", "\n"] {
                let text = format!("{s}{tail}");
                let (v, used) = parse_f32(text.as_bytes());
                // The same syntax as fast-float2 alone (the parser before the short path).
                let (fv, fused) =
                    fast_float2::parse_partial::<f32, _>(text.as_bytes()).unwrap_or((0.0, 0));
                assert_eq!(used, fused, "{text:?}");
                assert!(
                    v.to_bits() == fv.to_bits() || (v.is_nan() && fv.is_nan()),
                    "{text:?}"
                );
                // The value of the standard library's parser (correctly rounded).
                if let (Ok(want), true) = (s.parse::<f32>(), used == s.len()) {
                    assert!(
                        v.to_bits() == want.to_bits() || (v.is_nan() && want.is_nan()),
                        "{text:?}: {v} != {want}"
                    );
                }
            }
        }
        // Not a number, or a number followed by something else.
        for s in ["", "-", "x", "1x", "1.5.5", "--1"] {
            let (_, used) = parse_f32(s.as_bytes());
            assert!(used < s.len().max(1), "{s:?}");
        }
    }
}
