//! Co-occurrence counting for GloVe: distance-weighted counts of word pairs in a window, as
//! Stanford's `cooccur` computes them, over a streaming corpus, on many threads, in bounded memory.
//!
//! A pair at distance `d` (1 ≤ d ≤ window) within one line adds `1/d` to `X[left][right]`, and
//! with a symmetric window also to `X[right][left]`. Out-of-vocabulary tokens are dropped before
//! windows are formed (Stanford's rule); windows never cross a line break.
//!
//! Counts are summed in fixed point (units of `1/lcm(1..=window)`, exact for windows up to 18;
//! rounded to 2⁻²⁶ beyond), so the result does not depend on the number of threads, on the order
//! of the chunks, or on how often memory was spilled to disk: the same corpus always gives
//! bit-identical counts. Each thread counts into a dense block for frequent pairs (Stanford's
//! hyperbolic `max_product` corner) and an open-addressing table for the rest; when a table is
//! full it is sorted in place and written to disk as a run. Runs are k-way merged, summing
//! duplicates, when the counts are read.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::limits::{MAX_GLOVE_WINDOW, MAX_THREADS, MIN_MEMORY};
use crate::error::{Error, Result};
use crate::pipeline;
use crate::progress::Progress;
use crate::size::check_range;
use crate::text::{Corpus, TextChunk};
use crate::vocab::Vocab;

/// Settings of co-occurrence counting.
#[derive(Debug, Clone)]
pub struct CooccurConfig {
    /// Context words on each side (left only when not `symmetric`). Stanford's default is 15.
    pub window: usize,
    /// Count right contexts too (`X[w][c]` and `X[c][w]` for every pair); otherwise a pair only
    /// adds to `X[left word][right word]`.
    pub symmetric: bool,
    /// Memory budget for the counting buffers, in bytes; beyond it counts go to disk.
    pub memory: usize,
    /// Counting threads (0: all cores).
    pub threads: usize,
    /// Folder for spilled runs (a private subfolder is created and removed); default: the
    /// system's temporary folder.
    pub temp_dir: Option<PathBuf>,
}

impl Default for CooccurConfig {
    fn default() -> Self {
        CooccurConfig {
            window: 15,
            symmetric: true,
            memory: 1 << 30,
            threads: 0,
            temp_dir: None,
        }
    }
}

impl CooccurConfig {
    /// Checks the settings against their documented ranges ([`crate::train::limits`]): `window`
    /// 1..=100000, `threads` 0..=1024, `memory` at least 16 KiB.
    pub fn validate(&self) -> Result<()> {
        check_range("window", self.window, 1, MAX_GLOVE_WINDOW)?;
        check_range("threads", self.threads, 0, MAX_THREADS)?;
        if self.memory < MIN_MEMORY {
            return Err(Error::invalid(
                "memory",
                format!("must be at least {MIN_MEMORY} bytes, got {}", self.memory),
            ));
        }
        Ok(())
    }
}

/// One non-zero co-occurrence count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cooccurrence {
    /// Id of the word (row).
    pub word: u32,
    /// Id of the context word (column).
    pub context: u32,
    /// Sum of `1/distance` over the occurrences of the pair.
    pub count: f64,
}

/// The counts of a corpus, sorted by `(word, context)`: in memory, or as sorted runs on disk that
/// are merged while they are read.
#[derive(Debug)]
pub struct Cooccurrences {
    vocab_size: usize,
    window: usize,
    symmetric: bool,
    scale: u64,
    memory: usize,
    spilled_runs: usize,
    data: Data,
}

#[derive(Debug)]
enum Data {
    Memory(Vec<Cooccurrence>),
    Disk { dir: SpillDir, runs: Vec<Run> },
}

/// A sorted run on disk: `len` records of (key u64 LE, fixed-point count u64 LE).
#[derive(Debug, Clone)]
struct Run {
    path: PathBuf,
    len: u64,
}

const RECORD: usize = 16;
/// Most runs merged at once; more are merged in several passes.
const FAN_IN: usize = 64;
const EMPTY: u64 = u64::MAX;
const CHUNK_BYTES: usize = 1 << 20;

impl Cooccurrences {
    /// Number of words of the vocabulary the ids refer to.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The window the counts were made with.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Whether the window was symmetric.
    pub fn symmetric(&self) -> bool {
        self.symmetric
    }

    /// The memory budget the counts were made with, in bytes.
    pub fn memory(&self) -> usize {
        self.memory
    }

    /// True when all counts are held in memory.
    pub fn is_in_memory(&self) -> bool {
        matches!(self.data, Data::Memory(_))
    }

    /// How many sorted runs were written to disk while counting (0 when everything fit).
    pub fn spilled_runs(&self) -> usize {
        self.spilled_runs
    }

    /// The number of non-zero counts when in memory; an upper bound when they are on disk (the
    /// same pair may be in several runs).
    pub fn len_bound(&self) -> u64 {
        match &self.data {
            Data::Memory(v) => v.len() as u64,
            Data::Disk { runs, .. } => runs.iter().map(|r| r.len).sum(),
        }
    }

    /// Calls `f` with every non-zero count, sorted by `(word, context)`, each pair once; stops at
    /// the first error.
    pub fn try_for_each(&self, mut f: impl FnMut(Cooccurrence) -> Result<()>) -> Result<()> {
        match &self.data {
            Data::Memory(v) => v.iter().try_for_each(|c| f(*c)),
            Data::Disk { runs, .. } => {
                let scale = self.scale as f64;
                let buf = reader_buffer(self.memory, runs.len());
                let sources = runs
                    .iter()
                    .map(|r| RunReader::open(r, buf, self.vocab_size).map(Source::Disk))
                    .collect::<Result<Vec<_>>>()?;
                merge(sources, |key, units| {
                    f(Cooccurrence {
                        word: (key >> 32) as u32,
                        context: key as u32,
                        count: units as f64 / scale,
                    })
                })
            }
        }
    }

    /// All counts in memory, sorted by `(word, context)`.
    pub fn into_vec(self) -> Result<Vec<Cooccurrence>> {
        match self.data {
            Data::Memory(v) => Ok(v),
            Data::Disk { .. } => {
                let mut out = Vec::with_capacity(self.len_bound() as usize);
                self.try_for_each(|c| {
                    out.push(c);
                    Ok(())
                })?;
                Ok(out)
            }
        }
    }

    /// The folder holding spilled runs, if the counts are on disk (removed on drop).
    pub fn spill_dir(&self) -> Option<&Path> {
        match &self.data {
            Data::Memory(_) => None,
            Data::Disk { dir, .. } => Some(dir.path()),
        }
    }
}

/// A private temporary folder (created fresh with an unpredictable name, mode 0700 on Unix, so
/// no other user can plant or read its files), removed with everything in it on drop.
#[derive(Debug)]
pub(crate) struct SpillDir {
    dir: tempfile::TempDir,
}

impl SpillDir {
    /// Creates a new folder `.embers-WHAT-PID-XXXXXX` under `base` (or the system temporary
    /// folder); see [`private_temp_dir`].
    pub(crate) fn create(base: Option<&Path>, what: &str) -> Result<Self> {
        let base = base
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        Ok(SpillDir {
            dir: private_temp_dir(&base, what)?,
        })
    }

    /// The folder.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Creates a private temporary folder `.embers-WHAT-PID-XXXXXX` under `base`: fresh (never an
/// existing folder), with an unpredictable suffix and mode 0700 on Unix, so no other user can
/// plant or read its files; removed with everything in it when the value is dropped. Folders
/// of the same `WHAT` left under `base` by earlier runs whose process is gone (killed with
/// SIGKILL, which no clean-up survives) are removed first; those of live processes are kept.
pub fn private_temp_dir(base: &Path, what: &str) -> Result<tempfile::TempDir> {
    crate::io::atomic::remove_stale(base, &format!(".embers-{what}-"), true);
    let prefix = format!(".embers-{what}-{}-", std::process::id());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(base).map_err(|e| Error::io(base, e))
}

/// The fixed-point scale and the weight of each distance (`weights[d]` = units of `1/d`).
fn fixed_point(window: usize) -> (u64, Vec<u64>) {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    const LIMIT: u64 = 1 << 26;
    let mut lcm = 1u64;
    for d in 1..=window as u64 {
        lcm = lcm / gcd(lcm, d) * d;
        if lcm > LIMIT {
            let weights = (0..=window as u64)
                .map(|d| {
                    if d == 0 {
                        0
                    } else {
                        ((LIMIT as f64 / d as f64).round() as u64).max(1)
                    }
                })
                .collect();
            return (LIMIT, weights);
        }
    }
    let weights = (0..=window as u64)
        .map(|d| lcm.checked_div(d).unwrap_or(0))
        .collect();
    (lcm, weights)
}

/// Row offsets of the dense corner: row `r` holds columns `0..min(V, p/(r+1))` (Stanford's
/// `max_product` shape), with `p` the largest value whose corner has at most `max_entries` cells.
fn dense_layout(vocab_size: usize, max_entries: usize) -> Vec<u64> {
    let v = vocab_size as u64;
    let total = |p: u64| -> u64 {
        let rows = v.min(p);
        let mut sum = 0u64;
        for r in 0..rows {
            sum += v.min(p / (r + 1));
            if sum > max_entries as u64 {
                break;
            }
        }
        sum
    };
    let (mut lo, mut hi) = (0u64, v * v);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if total(mid) <= max_entries as u64 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let p = lo;
    let rows = v.min(p) as usize;
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0u64);
    for r in 0..rows as u64 {
        let last = *offsets.last().expect("non-empty");
        offsets.push(last + v.min(p / (r + 1)));
    }
    offsets
}

#[inline]
fn slot_of(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
}

/// What the counting threads share: where runs go and which runs exist.
struct Spiller<'a> {
    base: Option<&'a Path>,
    dir: Mutex<Option<SpillDir>>,
    runs: Mutex<Vec<Run>>,
    next: AtomicUsize,
}

impl Spiller<'_> {
    /// Writes `entries` (sorted, distinct keys) as a new run.
    fn write(&self, entries: impl Iterator<Item = (u64, u64)>) -> Result<()> {
        let path = {
            let mut dir = self.dir.lock().expect("not poisoned");
            if dir.is_none() {
                *dir = Some(SpillDir::create(self.base, "cooccur")?);
            }
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            dir.as_ref()
                .expect("created above")
                .path()
                .join(format!("run-{n:06}.bin"))
        };
        let len = write_run(&path, entries)?;
        self.runs
            .lock()
            .expect("not poisoned")
            .push(Run { path, len });
        Ok(())
    }
}

fn write_run(path: &Path, entries: impl Iterator<Item = (u64, u64)>) -> Result<u64> {
    let mut w = RunWriter::create(path)?;
    for (k, v) in entries {
        w.push(k, v)?;
    }
    w.finish()
}

/// Sequential writer of a run file.
struct RunWriter {
    path: PathBuf,
    writer: BufWriter<File>,
    len: u64,
}

impl RunWriter {
    fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(RunWriter {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(1 << 18, file),
            len: 0,
        })
    }

    fn push(&mut self, key: u64, units: u64) -> Result<()> {
        let mut rec = [0u8; RECORD];
        rec[..8].copy_from_slice(&key.to_le_bytes());
        rec[8..].copy_from_slice(&units.to_le_bytes());
        self.len += 1;
        self.writer
            .write_all(&rec)
            .map_err(|e| Error::io(&self.path, e))
    }

    fn finish(mut self) -> Result<u64> {
        self.writer.flush().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.len)
    }
}

/// One thread's counts: the dense corner and the sparse table. The table starts small and doubles
/// up to `max_slots`; when it is full at that size it is spilled to disk.
struct Counter<'a> {
    offsets: &'a [u64],
    dense: Vec<u64>,
    table: Vec<(u64, u64)>,
    max_slots: usize,
    shift: u32,
    mask: usize,
    len: usize,
    limit: usize,
    overflow: bool,
    spiller: &'a Spiller<'a>,
}

const INITIAL_SLOTS: usize = 1 << 14;

impl<'a> Counter<'a> {
    fn new(offsets: &'a [u64], max_slots: usize, spiller: &'a Spiller<'a>) -> Self {
        let max_slots = max_slots.next_power_of_two();
        let mut c = Counter {
            offsets,
            dense: vec![0; *offsets.last().unwrap_or(&0) as usize],
            table: Vec::new(),
            max_slots,
            shift: 0,
            mask: 0,
            len: 0,
            limit: 0,
            overflow: false,
            spiller,
        };
        c.resize(INITIAL_SLOTS.min(max_slots));
        c
    }

    /// Re-creates the table with `slots` slots, re-inserting what it holds.
    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.table, vec![(EMPTY, 0); slots]);
        self.shift = 64 - slots.trailing_zeros();
        self.mask = slots - 1;
        self.limit = (slots * 3 / 4).max(1);
        for (k, v) in old {
            if k != EMPTY {
                let mut i = slot_of(k, self.shift);
                while self.table[i].0 != EMPTY {
                    i = (i + 1) & self.mask;
                }
                self.table[i] = (k, v);
            }
        }
    }

    #[inline]
    fn add(&mut self, w1: u32, w2: u32, units: u64) -> Result<()> {
        let r = w1 as usize;
        if r + 1 < self.offsets.len() {
            let start = self.offsets[r];
            let idx = start + w2 as u64;
            if idx < self.offsets[r + 1] {
                let cell = &mut self.dense[idx as usize];
                let (v, o) = cell.overflowing_add(units);
                *cell = v;
                self.overflow |= o;
                return Ok(());
            }
        }
        let key = ((w1 as u64) << 32) | w2 as u64;
        let mut i = slot_of(key, self.shift);
        loop {
            let slot = &mut self.table[i];
            if slot.0 == key {
                let (v, o) = slot.1.overflowing_add(units);
                slot.1 = v;
                self.overflow |= o;
                return Ok(());
            }
            if slot.0 == EMPTY {
                *slot = (key, units);
                self.len += 1;
                if self.len >= self.limit {
                    if self.table.len() < self.max_slots {
                        self.resize(self.table.len() * 2);
                    } else {
                        self.spill()?;
                    }
                }
                return Ok(());
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Moves the table's entries to its front, sorted by key; returns how many there are. The
    /// slots after them are stale until [`Counter::clear`].
    fn sort_in_place(&mut self) -> usize {
        let mut n = 0;
        for i in 0..self.table.len() {
            if self.table[i].0 != EMPTY {
                self.table[n] = self.table[i];
                n += 1;
            }
        }
        self.table[..n].sort_unstable_by_key(|e| e.0);
        n
    }

    fn spill(&mut self) -> Result<()> {
        let n = self.sort_in_place();
        self.spiller.write(self.table[..n].iter().copied())?;
        self.table.fill((EMPTY, 0));
        self.len = 0;
        Ok(())
    }
}

/// Counts the co-occurrences of `corpus` for the words of `vocab` (other tokens are dropped).
/// `progress` gets the bytes of text counted so far (stage `cooccur`). When `cancel` becomes
/// true, counting stops soon and returns [`Error::Cancelled`]; runs already spilled to disk are
/// removed.
pub fn count(
    corpus: &Corpus,
    vocab: &Vocab,
    config: &CooccurConfig,
    progress: &crate::progress::ProgressFn,
    cancel: Option<&AtomicBool>,
) -> Result<Cooccurrences> {
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    if cancelled() {
        return Err(Error::Cancelled);
    }
    config.validate()?;
    if vocab.is_empty() {
        return Err(Error::invalid("vocab", "the vocabulary is empty"));
    }
    let threads = if config.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        config.threads
    };
    let (scale, weights) = fixed_point(config.window);
    let per_thread = config.memory / threads;
    let dense_entries = per_thread / 4 / 8;
    let offsets = dense_layout(vocab.len(), dense_entries);
    let dense_bytes = *offsets.last().unwrap_or(&0) as usize * 8;
    let mut table_slots = 16usize;
    // Growing the table holds the old and the new one for a moment: 1.5× the final size.
    while table_slots * 2 * RECORD * 3 / 2 + dense_bytes <= per_thread {
        table_slots *= 2;
    }
    let spiller = Spiller {
        base: config.temp_dir.as_deref(),
        dir: Mutex::new(None),
        runs: Mutex::new(Vec::new()),
        next: AtomicUsize::new(0),
    };
    let tokenizer = *corpus.tokenizer();
    let window = config.window;
    let symmetric = config.symmetric;
    let counted = AtomicU64::new(0);
    let total_bytes = corpus.size_on_disk();
    let gz = corpus.paths().iter().any(|p| is_gzip(p));
    let report = |done: u64| {
        progress(&Progress::new(
            "cooccur",
            done,
            (!gz).then_some(total_bytes),
            "bytes",
        ))
    };

    // A worker that fails raises the queue's flag and drains it (the guard), so the reader
    // below stops at its next chunk and never blocks on a full queue.
    let (tx, queue) = pipeline::queue::<TextChunk>(threads * 2);
    let results: Vec<Result<Counter>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (queue, offsets, spiller, weights) = (&queue, &offsets, &spiller, &weights);
                let (counted, report) = (&counted, &report);
                let cancelled = &cancelled;
                scope.spawn(move || -> Result<Counter> {
                    let _guard = queue.consumer();
                    let mut counter = Counter::new(offsets, table_slots, spiller);
                    let mut ids: Vec<u32> = Vec::new();
                    while let Some(chunk) = queue.recv() {
                        if cancelled() {
                            queue.fail();
                            return Err(Error::Cancelled);
                        }
                        let run = (|| -> Result<()> {
                            for line in chunk.text.lines() {
                                ids.clear();
                                if tokenizer.is_plain() {
                                    ids.extend(line.split_whitespace().filter_map(|t| vocab.id(t)));
                                } else {
                                    tokenizer.for_each_token(line, |t| {
                                        if let Some(id) = vocab.id(&t) {
                                            ids.push(id);
                                        }
                                    });
                                }
                                for j in 1..ids.len() {
                                    let w2 = ids[j];
                                    for k in j.saturating_sub(window)..j {
                                        let w1 = ids[k];
                                        let units = weights[j - k];
                                        counter.add(w1, w2, units)?;
                                        if symmetric {
                                            counter.add(w2, w1, units)?;
                                        }
                                    }
                                }
                            }
                            Ok(())
                        })();
                        if let Err(e) = run {
                            queue.fail();
                            return Err(e);
                        }
                        let done = counted.fetch_add(chunk.text.len() as u64, Ordering::Relaxed)
                            + chunk.text.len() as u64;
                        report(done);
                    }
                    Ok(counter)
                })
            })
            .collect();
        let mut read_result = Ok(());
        for chunk in corpus.chunks(CHUNK_BYTES) {
            if queue.failed() || cancelled() {
                break;
            }
            match chunk {
                Ok(c) => {
                    if tx.send(c).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    read_result = Err(e);
                    break;
                }
            }
        }
        drop(tx);
        let mut out: Vec<Result<Counter>> = workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(Error::Other("a co-occurrence worker panicked".into())))
            })
            .collect();
        if let Err(e) = read_result {
            out.push(Err(e));
        }
        out
    });
    let mut counters = Vec::with_capacity(results.len());
    for r in results {
        counters.push(r?);
    }
    if cancelled() {
        return Err(Error::Cancelled);
    }
    if counters.iter().any(|c| c.overflow) {
        return Err(overflow_error());
    }

    // Sum the dense corners into the first one.
    let mut dense = std::mem::take(&mut counters[0].dense);
    for c in counters.iter_mut().skip(1) {
        for (a, b) in dense.iter_mut().zip(c.dense.iter()) {
            *a = a.checked_add(*b).ok_or_else(overflow_error)?;
        }
        c.dense = Vec::new();
    }

    let spilled = !spiller.runs.lock().expect("not poisoned").is_empty();
    let mut tables: Vec<Vec<(u64, u64)>> = Vec::with_capacity(counters.len());
    for mut c in counters {
        let n = c.sort_in_place();
        let mut table = std::mem::take(&mut c.table);
        table.truncate(n);
        table.shrink_to_fit();
        tables.push(table);
    }
    let dense_nonzero = dense.iter().filter(|&&v| v != 0).count();
    let bound: usize = dense_nonzero + tables.iter().map(Vec::len).sum::<usize>();
    let live = dense.len() * 8 + tables.iter().map(|t| t.len() * RECORD).sum::<usize>();
    let fits = live + bound * std::mem::size_of::<Cooccurrence>() <= config.memory;
    let mut result = Cooccurrences {
        vocab_size: vocab.len(),
        window,
        symmetric,
        scale,
        memory: config.memory,
        spilled_runs: 0,
        data: Data::Memory(Vec::new()),
    };
    if !spilled && fits {
        let mut sources: Vec<Source> = vec![Source::Dense {
            offsets: &offsets,
            data: dense,
            row: 0,
            pos: 0,
        }];
        sources.extend(tables.into_iter().map(|t| Source::Memory(t.into_iter())));
        let mut out = Vec::with_capacity(bound);
        merge(sources, |key, units| {
            out.push(Cooccurrence {
                word: (key >> 32) as u32,
                context: key as u32,
                count: units as f64 / scale as f64,
            });
            Ok(())
        })?;
        result.data = Data::Memory(out);
        return Ok(result);
    }

    // Everything goes to disk: the dense corner and the remaining tables become runs too.
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let mut dense_source = Source::Dense {
        offsets: &offsets,
        data: dense,
        row: 0,
        pos: 0,
    };
    spiller.write(std::iter::from_fn(|| dense_source.next().ok().flatten()))?;
    drop(dense_source);
    for t in tables {
        if !t.is_empty() {
            spiller.write(t.into_iter())?;
        }
    }
    let mut runs = spiller.runs.into_inner().expect("not poisoned");
    runs.retain(|r| {
        if r.len == 0 {
            let _ = std::fs::remove_file(&r.path);
        }
        r.len > 0
    });
    result.spilled_runs = runs.len();
    let dir = spiller
        .dir
        .into_inner()
        .expect("not poisoned")
        .expect("runs were written");
    // Merge in passes until one final merge can read every run at once.
    let mut generation = 0;
    while runs.len() > FAN_IN {
        let mut next = Vec::with_capacity(runs.len().div_ceil(FAN_IN));
        for (g, group) in runs.chunks(FAN_IN).enumerate() {
            if cancelled() {
                return Err(Error::Cancelled);
            }
            let buf = reader_buffer(config.memory, group.len());
            let sources = group
                .iter()
                .map(|r| RunReader::open(r, buf, vocab.len()).map(Source::Disk))
                .collect::<Result<Vec<_>>>()?;
            let path = dir.path().join(format!("merge-{generation}-{g:06}.bin"));
            let mut writer = RunWriter::create(&path)?;
            merge(sources, |k, v| writer.push(k, v))?;
            let len = writer.finish()?;
            next.push(Run { path, len });
            for r in group {
                let _ = std::fs::remove_file(&r.path);
            }
        }
        runs = next;
        generation += 1;
    }
    result.data = Data::Disk { dir, runs };
    Ok(result)
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0u8; 2];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|_| magic == [0x1f, 0x8b])
        .unwrap_or(false)
}

fn overflow_error() -> Error {
    Error::Other("a co-occurrence count overflowed its 64-bit fixed-point counter".into())
}

/// Buffer size for each of `runs` readers so that all of them stay well inside `memory`.
fn reader_buffer(memory: usize, runs: usize) -> usize {
    (memory / (4 * runs.max(1))).clamp(4 << 10, 1 << 20)
}

/// Sequential reader of a run file. Records are checked as they are read (both ids below the
/// vocabulary size, keys strictly ascending), so a damaged or planted spill file is an error,
/// never an id that indexes outside the model.
struct RunReader {
    path: PathBuf,
    reader: BufReader<File>,
    remaining: u64,
    vocab: u64,
    offset: u64,
    last: Option<u64>,
}

impl RunReader {
    fn open(run: &Run, buffer: usize, vocab: usize) -> Result<Self> {
        let file = File::open(&run.path).map_err(|e| Error::io(&run.path, e))?;
        Ok(RunReader {
            path: run.path.clone(),
            reader: BufReader::with_capacity(buffer, file),
            remaining: run.len,
            vocab: vocab as u64,
            offset: 0,
            last: None,
        })
    }

    fn next(&mut self) -> Result<Option<(u64, u64)>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let mut rec = [0u8; RECORD];
        self.reader
            .read_exact(&mut rec)
            .map_err(|e| Error::io(&self.path, e))?;
        self.remaining -= 1;
        let k = u64::from_le_bytes(rec[..8].try_into().expect("8 bytes"));
        let v = u64::from_le_bytes(rec[8..].try_into().expect("8 bytes"));
        if k >> 32 >= self.vocab || (k & 0xFFFF_FFFF) >= self.vocab {
            return Err(Error::at_byte(
                &self.path,
                self.offset,
                format!(
                    "spilled record has an id out of range (vocabulary of {})",
                    self.vocab
                ),
            ));
        }
        if self.last.is_some_and(|l| l >= k) {
            return Err(Error::at_byte(
                &self.path,
                self.offset,
                "spilled records are out of order",
            ));
        }
        self.last = Some(k);
        self.offset += RECORD as u64;
        Ok(Some((k, v)))
    }
}

/// A sorted stream of (key, units) with distinct keys.
enum Source<'a> {
    Dense {
        offsets: &'a [u64],
        data: Vec<u64>,
        row: usize,
        pos: usize,
    },
    Memory(std::vec::IntoIter<(u64, u64)>),
    Disk(RunReader),
}

impl Source<'_> {
    fn next(&mut self) -> Result<Option<(u64, u64)>> {
        match self {
            Source::Dense {
                offsets,
                data,
                row,
                pos,
            } => {
                while *pos < data.len() {
                    while *pos as u64 >= offsets[*row + 1] {
                        *row += 1;
                    }
                    let i = *pos;
                    *pos += 1;
                    if data[i] != 0 {
                        let col = i as u64 - offsets[*row];
                        return Ok(Some((((*row as u64) << 32) | col, data[i])));
                    }
                }
                Ok(None)
            }
            Source::Memory(it) => Ok(it.next()),
            Source::Disk(r) => r.next(),
        }
    }
}

/// K-way merge of sorted sources, summing the units of equal keys; `f` gets each key once, in
/// ascending order.
fn merge(mut sources: Vec<Source>, mut f: impl FnMut(u64, u64) -> Result<()>) -> Result<()> {
    let mut heads: Vec<u64> = vec![0; sources.len()];
    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some((k, v)) = s.next()? {
            heads[i] = v;
            heap.push(Reverse((k, i)));
        }
    }
    let mut current: Option<(u64, u64)> = None;
    while let Some(Reverse((k, i))) = heap.pop() {
        let v = heads[i];
        current = match current {
            Some((ck, cv)) if ck == k => Some((ck, cv.checked_add(v).ok_or_else(overflow_error)?)),
            Some((ck, cv)) => {
                f(ck, cv)?;
                Some((k, v))
            }
            None => Some((k, v)),
        };
        if let Some((nk, nv)) = sources[i].next()? {
            heads[i] = nv;
            heap.push(Reverse((nk, i)));
        }
    }
    if let Some((ck, cv)) = current {
        f(ck, cv)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::WordTokenizer;
    use crate::vocab::VocabBuilder;
    use std::collections::HashMap;

    fn corpus_of(dir: &Path, text: &str) -> Corpus {
        let p = dir.join("corpus.txt");
        std::fs::write(&p, text).unwrap();
        Corpus::new(&[&p], WordTokenizer::default()).unwrap()
    }

    fn vocab_of(corpus: &Corpus, min_count: u64) -> Vocab {
        let mut b = VocabBuilder::new().min_count(min_count).threads(1);
        b.count_corpus(corpus, |_| {}).unwrap();
        b.build().unwrap()
    }

    fn as_map(vocab: &Vocab, c: Cooccurrences) -> HashMap<(String, String), f64> {
        c.into_vec()
            .unwrap()
            .into_iter()
            .map(|e| {
                let w = vocab.token(e.word).unwrap().to_string();
                let c = vocab.token(e.context).unwrap().to_string();
                ((w, c), e.count)
            })
            .collect()
    }

    #[test]
    fn tiny_corpus_matches_hand_computed_counts() {
        let dir = tempfile::tempdir().unwrap();
        // "x" occurs once and is dropped (min_count 2) before windows are formed, so line 1 is
        // "a b a c" for counting; lines never share a window.
        let corpus = corpus_of(dir.path(), "a x b a c\nc b\nb\n");
        let vocab = vocab_of(&corpus, 2);
        assert_eq!(vocab.words(), &["b", "a", "c"]);
        let config = CooccurConfig {
            window: 2,
            symmetric: false,
            threads: 1,
            ..Default::default()
        };
        let left = as_map(
            &vocab,
            count(&corpus, &vocab, &config, &|_| {}, None).unwrap(),
        );
        // Line 1, positions a0 b1 a2 c3, pairs within distance 2 as (left, right, 1/d):
        // (a,b,1) (a,a,1/2) (b,a,1) (b,c,1/2) (a,c,1). Line 2: (c,b,1). Line 3: none.
        let k = |a: &str, b: &str| (a.to_string(), b.to_string());
        let expected_left: HashMap<_, f64> = [
            (k("a", "b"), 1.0),
            (k("a", "a"), 0.5),
            (k("b", "a"), 1.0),
            (k("b", "c"), 0.5),
            (k("a", "c"), 1.0),
            (k("c", "b"), 1.0),
        ]
        .into_iter()
        .collect();
        assert_eq!(left, expected_left);

        // Symmetric: each pair also counts transposed; (a,a) counts twice.
        let config = CooccurConfig {
            symmetric: true,
            ..config
        };
        let sym = as_map(
            &vocab,
            count(&corpus, &vocab, &config, &|_| {}, None).unwrap(),
        );
        let expected_sym: HashMap<_, f64> = [
            (k("a", "b"), 2.0),
            (k("b", "a"), 2.0),
            (k("a", "a"), 1.0),
            (k("b", "c"), 1.5),
            (k("c", "b"), 1.5),
            (k("a", "c"), 1.0),
            (k("c", "a"), 1.0),
        ]
        .into_iter()
        .collect();
        assert_eq!(sym, expected_sym);

        // Window 3 reaches (a,c) at distance 3 from position 0: 1 + 1/3.
        let config = CooccurConfig {
            window: 3,
            ..config
        };
        let w3 = as_map(
            &vocab,
            count(&corpus, &vocab, &config, &|_| {}, None).unwrap(),
        );
        assert_eq!(w3[&k("a", "c")], 1.0 + 1.0 / 3.0);
        assert_eq!(w3[&k("c", "a")], 1.0 + 1.0 / 3.0);
    }

    /// A corpus with a skewed word distribution (so the dense corner and the table both work).
    fn skewed_corpus(tokens: usize, words: u64, seed: u64) -> String {
        let mut rng = crate::rng::Rng::new(seed);
        let mut text = String::new();
        for i in 0..tokens {
            // Roughly Zipfian: the square of a uniform favours small ids.
            let u = rng.uniform_f64();
            let id = ((u * u * u) * words as f64) as u64;
            text.push_str(&format!("w{id}"));
            text.push(if rng.below(15) == 0 || i + 1 == tokens {
                '\n'
            } else {
                ' '
            });
        }
        text
    }

    /// Straightforward reference: every pair of every line, summed in f64.
    fn reference(text: &str, vocab: &Vocab, window: usize, symmetric: bool) -> Vec<Cooccurrence> {
        let mut m: HashMap<(u32, u32), f64> = HashMap::new();
        for line in text.lines() {
            let ids: Vec<u32> = line
                .split_whitespace()
                .filter_map(|t| vocab.id(t))
                .collect();
            for j in 0..ids.len() {
                for k in j.saturating_sub(window)..j {
                    let w = 1.0 / (j - k) as f64;
                    *m.entry((ids[k], ids[j])).or_default() += w;
                    if symmetric {
                        *m.entry((ids[j], ids[k])).or_default() += w;
                    }
                }
            }
        }
        let mut v: Vec<Cooccurrence> = m
            .into_iter()
            .map(|((word, context), count)| Cooccurrence {
                word,
                context,
                count,
            })
            .collect();
        v.sort_by_key(|c| (c.word, c.context));
        v
    }

    #[test]
    fn spilling_gives_the_same_counts_as_memory() {
        let dir = tempfile::tempdir().unwrap();
        let text = skewed_corpus(60_000, 2_000, 7);
        let corpus = corpus_of(dir.path(), &text);
        let vocab = vocab_of(&corpus, 2);
        for (window, symmetric) in [(5, true), (20, false)] {
            let big = CooccurConfig {
                window,
                symmetric,
                memory: 256 << 20,
                threads: 1,
                temp_dir: Some(dir.path().to_path_buf()),
            };
            let in_memory = count(&corpus, &vocab, &big, &|_| {}, None).unwrap();
            assert!(in_memory.is_in_memory());
            assert_eq!(in_memory.spilled_runs(), 0);
            let expected = reference(&text, &vocab, window, symmetric);
            let got = in_memory.into_vec().unwrap();
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!((g.word, g.context), (e.word, e.context));
                // Exact fixed point up to window 18; each addend rounded to 2^-26 beyond.
                let tolerance = if window <= 18 { 1e-12 } else { 1e-6 };
                assert!(
                    (g.count - e.count).abs() <= tolerance * e.count,
                    "{g:?} {e:?}"
                );
            }
            // A budget of a few KiB forces hundreds of runs (and several merge passes); three
            // threads count the chunks in some order. The counts must be bit-identical.
            let tiny = CooccurConfig {
                memory: 24 << 10,
                threads: 3,
                ..big.clone()
            };
            let spilled = count(&corpus, &vocab, &tiny, &|_| {}, None).unwrap();
            assert!(!spilled.is_in_memory());
            assert!(
                spilled.spilled_runs() > FAN_IN,
                "{}",
                spilled.spilled_runs()
            );
            let spill_dir = spilled.spill_dir().unwrap().to_path_buf();
            assert!(spill_dir.starts_with(dir.path()));
            assert!(spilled.len_bound() >= got.len() as u64);
            let from_disk = spilled.into_vec().unwrap();
            assert_eq!(from_disk, got);
            assert!(!spill_dir.exists(), "spill folder removed on drop");
        }
    }

    #[test]
    fn fixed_point_weights_and_dense_layout() {
        let (scale, w) = fixed_point(10);
        assert_eq!(scale, 2520);
        assert_eq!(
            w[1..].iter().map(|u| scale / u).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
        let (scale, w) = fixed_point(40);
        assert_eq!(scale, 1 << 26);
        assert!((w[3] as f64 / scale as f64 - 1.0 / 3.0).abs() < 1e-8);
        // Stanford's shape: row r holds min(V, p/(r+1)) columns.
        let offsets = dense_layout(10, 30);
        let lens: Vec<u64> = offsets.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(*offsets.last().unwrap() <= 30);
        assert!(lens.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(dense_layout(10, 0), vec![0]);
        assert_eq!(*dense_layout(4, 1000).last().unwrap(), 16);
    }

    /// Spilling fails in the middle of counting (the spill folder vanishes after two chunks, as
    /// on a disk that fills up, so the next run file cannot be created) or at the first spill
    /// (the base is a regular file): the workers fail while the reader, faster than them, is
    /// waiting to send more chunks into a full queue. Counting must return the error, not block
    /// for ever in `SyncSender::send` (it used to).
    #[test]
    fn a_spill_failure_stops_counting_instead_of_deadlocking() {
        let dir = tempfile::tempdir().unwrap();
        // About 12 MiB: twelve chunks of CHUNK_BYTES, far more than the queue holds.
        let text = skewed_corpus(2_400_000, 5_000, 3);
        assert!(text.len() > 11 * CHUNK_BYTES, "{}", text.len());
        let corpus = corpus_of(dir.path(), &text);
        let vocab = vocab_of(&corpus, 1);
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let spills = dir.path().join("spills");
        std::fs::create_dir(&spills).unwrap();
        for (threads, base) in [(1, &spills), (2, &spills), (1, &not_a_dir), (2, &not_a_dir)] {
            let config = CooccurConfig {
                window: 5,
                memory: 256 << 10,
                threads,
                temp_dir: Some(base.clone()),
                ..Default::default()
            };
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            let (corpus, vocab, spills) = (corpus.clone(), vocab.clone(), spills.clone());
            std::thread::spawn(move || {
                // Called by a worker after each chunk: the disk "fills" after about two.
                let vanish = |p: &Progress| {
                    if p.done >= CHUNK_BYTES as u64 {
                        for e in std::fs::read_dir(&spills).unwrap() {
                            let _ = std::fs::remove_dir_all(e.unwrap().path());
                        }
                    }
                };
                let r = count(&corpus, &vocab, &config, &vanish, None);
                let _ = done_tx.send(r.map(|c| c.len_bound()));
            });
            let r = done_rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("counting deadlocked after a spill failure");
            let e = r.unwrap_err();
            assert!(matches!(e, Error::Io { .. }), "{e}");
        }
    }

    /// Spill folders are private (0700), fresh and unpredictable; records read back from them
    /// are checked, so a damaged or planted run is an error naming the file and byte.
    #[test]
    fn spill_folders_are_private_and_runs_are_checked_on_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = SpillDir::create(Some(dir.path()), "cooccur").unwrap();
        let b = SpillDir::create(Some(dir.path()), "cooccur").unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_string_lossy().into_owned();
        let pid_prefix = format!(".embers-cooccur-{}-", std::process::id());
        assert!(name.starts_with(&pid_prefix), "{name}");
        // Unpredictable beyond the PID: a random suffix of its own.
        assert!(name.len() >= pid_prefix.len() + 6, "{name}");
        // A spill folder of a killed run (its process gone) is removed by the next run; one of
        // a live process is not.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!(".embers-cooccur-{dead}-abcdef"));
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("run-000001.bin"), b"x").unwrap();
        let c = SpillDir::create(Some(dir.path()), "cooccur").unwrap();
        #[cfg(target_os = "linux")]
        assert!(!stale.exists(), "a killed run's spill folder is removed");
        assert!(
            a.path().exists() && b.path().exists(),
            "live spill folders are kept"
        );
        drop(c);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(a.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        }
        let kept = a.path().to_path_buf();
        drop(a);
        assert!(!kept.exists());

        let text = skewed_corpus(60_000, 2_000, 7);
        let corpus = corpus_of(dir.path(), &text);
        let vocab = vocab_of(&corpus, 2);
        let config = CooccurConfig {
            window: 5,
            memory: 24 << 10,
            threads: 1,
            temp_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let v = vocab.len() as u64;
        // (word, context) past the vocabulary, then a record out of order.
        for (key, what) in [
            ((v + 5) << 32, "out of range"),
            (v + 1, "out of range"),
            (0, "out of order"),
        ] {
            let spilled = count(&corpus, &vocab, &config, &|_| {}, None).unwrap();
            let run = std::fs::read_dir(spilled.spill_dir().unwrap())
                .unwrap()
                .map(|e| e.unwrap().path())
                .max_by_key(|p| std::fs::metadata(p).unwrap().len())
                .unwrap();
            let mut bytes = std::fs::read(&run).unwrap();
            assert!(bytes.len() >= 2 * RECORD);
            let at = if what == "out of order" { RECORD } else { 0 };
            bytes[at..at + 8].copy_from_slice(&key.to_le_bytes());
            std::fs::write(&run, bytes).unwrap();
            let e = spilled.into_vec().unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(what) && msg.contains(&format!("byte {at}")),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_window_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = corpus_of(dir.path(), "a b\n");
        let vocab = vocab_of(&corpus, 1);
        let config = CooccurConfig {
            window: 0,
            ..Default::default()
        };
        assert!(count(&corpus, &vocab, &config, &|_| {}, None).is_err());
    }
}
