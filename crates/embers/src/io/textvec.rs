//! The parallel parser and writer of "one word and its values per line" text, shared by the
//! word2vec/fastText `.vec` and GloVe formats: lines are cut into chunks parsed on all cores,
//! numbers read with `fast-float2`, every row written straight into its place in the matrix.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Position, Result};
use crate::io::atomic::AtomicFile;
use crate::io::input::{self, check_plain_word, decode_word, ReadReport};
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
    // Trailing blank lines and spaces at the very end are not rows.
    let mut end = body.len();
    while end > 0 && (is_blank(body[end - 1]) || body[end - 1] == b'\n') {
        end -= 1;
    }
    let mut body = &body[..end];
    let want = match (expected, options.limit) {
        (Some(e), Some(l)) => Some(e.min(l)),
        (e, l) => e.or(l),
    };
    if let Some(want) = want {
        // Cut after `want` lines; the rest is not parsed (nor, for a limit, looked at).
        let limit_binds = options
            .limit
            .is_some_and(|l| expected.is_none_or(|e| l < e));
        if want == 0 {
            body = &[];
        } else if let Some(pos) = memchr::memchr_iter(b'\n', body).nth(want - 1) {
            if !limit_binds {
                if let Some(e) = expected {
                    return Err(Error::at_line(
                        path,
                        first_line + e as u64,
                        format!("the header promises {e} rows but the file has more"),
                    ));
                }
            }
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
    if let Some(e) = expected {
        if rows < want.unwrap_or(e) {
            return Err(Error::at_line(
                path,
                first_line + rows as u64,
                format!(
                    "the header promises {e} rows but the file ends after {rows} (truncated file?)"
                ),
            ));
        }
    }
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
    let mut report = ReadReport::default();
    let (vocab, matrix) = input::dedup_rows(words, None, data, dims, &mut report, |row| {
        Position::Line(first_line + row as u64)
    })?;
    Ok((Embeddings::new(vocab, matrix)?, report))
}

fn parse_chunk(
    path: &Path,
    chunk: &[u8],
    start: u64,
    dims: usize,
    out: &mut [f32],
    options: &ReadOptions,
) -> Result<WordList> {
    let rows = out.len() / dims.max(1);
    let mut words = WordList::with_capacity(rows, rows * 16);
    for (i, line) in chunk.split(|&b| b == b'\n').enumerate() {
        let row = words.len();
        if row * dims >= out.len() {
            break; // the empty piece after the chunk's final newline
        }
        let lineno = start + i as u64;
        let word = parse_line(
            path,
            line,
            lineno,
            &mut out[row * dims..(row + 1) * dims],
            options,
        )?;
        words.push(&word);
    }
    Ok(words)
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
    let sp = line.iter().position(|&b| b == b' ' || b == b'\t');
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
        let (v, used) = fast_float2::parse_partial::<f32, _>(&line[pos..]).unwrap_or((0.0, 0));
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
