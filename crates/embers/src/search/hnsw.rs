//! Approximate nearest neighbours by cosine: a hierarchical navigable small world graph
//! (HNSW, Malkov & Yashunin 2018) over the rows of an [`Embeddings`], built here (seeded, and
//! deterministic with one thread), saved in its own file next to the embeddings and opened by
//! memory map.
//!
//! File layout (little-endian): a 96-byte header (magic `EMBHNSW\0`, version, parameters,
//! shape, a fingerprint of the embeddings it was built for), the graph as u32 words, and an
//! 8-byte footer (CRC32 of everything before it, then `HNSW`). Opening checks the magic, the
//! version, the CRC, every link, and the fingerprint: an index of other embeddings is refused.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use memmap2::Mmap;
use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use crate::kernels;
use crate::rng::Rng;
use crate::search::exact::{self, Hit, TopK};
use crate::storage::HugeBuffer;

const MAGIC: &[u8; 8] = b"EMBHNSW\0";
const FOOTER: &[u8; 4] = b"HNSW";
/// Version of the index layout written by this release.
pub const VERSION: u32 = 1;
const HEADER: usize = 96;
const MAX_LEVEL: usize = 16;

/// Settings of an index build.
#[derive(Debug, Clone)]
pub struct HnswParams {
    /// Links per node on the upper levels (level 0 keeps twice as many). Default 16.
    pub m: usize,
    /// Candidate list size while building; larger is slower and more accurate. Default 200.
    pub ef_construction: usize,
    /// Seed of the level draws.
    pub seed: u64,
    /// Threads for the build; 1 gives the same graph on every run. 0 = all cores.
    pub threads: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            seed: 42,
            threads: 0,
        }
    }
}

#[derive(Debug)]
enum Words {
    Owned(Vec<u32>),
    Mapped(Arc<Mmap>),
}

/// An HNSW graph over the rows of one [`Embeddings`].
#[derive(Debug)]
pub struct Hnsw {
    rows: usize,
    dims: usize,
    m: usize,
    m0: usize,
    ef_construction: usize,
    seed: u64,
    max_level: usize,
    entry: u32,
    upper_lists: usize,
    fingerprint: u64,
    words: Words,
    /// The walk's copy of the rows, made on the first search.
    walk: OnceLock<WalkRows>,
}

/// A 64-bit fingerprint of embeddings: CRC32 of the vocabulary and CRC32 of the vectors.
pub fn fingerprint(emb: &Embeddings) -> u64 {
    let mut h = crc32fast::Hasher::new();
    for w in emb.vocab().words() {
        h.update(w.as_bytes());
        h.update(&[0]);
    }
    let vocab = h.finalize();
    let vectors = match emb.storage().as_dense() {
        Some(m) => crc_f32(m.as_slice()),
        None => {
            let mut h = crc32fast::Hasher::new();
            let mut buf = vec![0.0; emb.dims()];
            for i in 0..emb.len() {
                emb.storage().row_into(i, &mut buf);
                h.update(crate::io::safetensors::bytes_of(&buf));
            }
            h.finalize()
        }
    };
    ((vocab as u64) << 32) | vectors as u64
}

fn crc_f32(values: &[f32]) -> u32 {
    const PIECE: usize = 1 << 22;
    let parts: Vec<crc32fast::Hasher> = values
        .par_chunks(PIECE)
        .map(|c| {
            let mut h = crc32fast::Hasher::new();
            h.update(crate::io::safetensors::bytes_of(c));
            h
        })
        .collect();
    let mut total = crc32fast::Hasher::new();
    for p in parts {
        total.combine(&p);
    }
    total.finalize()
}

/// The rows seen through the cached norms, scored gensim's way (dot / norm). Dense f32 rows
/// are read in place; other storage kinds decode the rows they touch. Rows of norm zero score
/// `-inf`: they are never answers.
struct Space<'a> {
    emb: &'a Embeddings,
    dense: Option<&'a [f32]>,
    dims: usize,
    norms: &'a [f32],
    /// The build scores pairs of rows on these when given (see [`Hnsw::build`]).
    coarse: Option<&'a WalkRows>,
}

thread_local! {
    static ROWS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl<'a> Space<'a> {
    fn new(emb: &'a Embeddings) -> Self {
        Space {
            emb,
            dense: emb.storage().as_dense().map(|m| m.as_slice()),
            dims: emb.dims(),
            norms: emb.norms(),
            coarse: None,
        }
    }

    /// Pairs of rows scored on the walk's 8-bit rows; queries still on the f32 rows.
    fn coarse(emb: &'a Embeddings, walk: &'a WalkRows) -> Self {
        Space {
            coarse: Some(walk),
            ..Space::new(emb)
        }
    }

    #[inline]
    fn finite(x: f32) -> f32 {
        if x.is_nan() || x.is_infinite() {
            f32::NEG_INFINITY
        } else {
            x
        }
    }

    /// Starts loading row `i` and its norm into the cache (dense rows: the row's first 512
    /// bytes; the hardware prefetcher follows on longer rows). A hint only.
    #[inline]
    fn prefetch(&self, i: u32) {
        if let Some(w) = self.coarse {
            return w.prefetch(i);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(m) = self.dense {
            let p = m.as_ptr().wrapping_add(i as usize * self.dims) as *const i8;
            let bytes = (self.dims * 4).min(512);
            let mut off = 0;
            while off < bytes {
                kernels::prefetch(p.wrapping_add(off));
                off += 64;
            }
            kernels::prefetch(self.norms.as_ptr().wrapping_add(i as usize) as *const i8);
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// Cosine of row `i` with a unit query.
    #[inline]
    fn sim_q(&self, q: &[f32], i: u32) -> f32 {
        let i = i as usize;
        let d = match self.dense {
            Some(m) => kernels::dot(&m[i * self.dims..(i + 1) * self.dims], q),
            None => ROWS.with(|r| {
                let (a, _) = &mut *r.borrow_mut();
                a.resize(self.dims, 0.0);
                self.emb.storage().row_into(i, a);
                kernels::dot(a, q)
            }),
        };
        Self::finite(d / self.norms[i])
    }

    /// Cosine of rows `i` and `j`.
    #[inline]
    fn sim(&self, i: u32, j: u32) -> f32 {
        if let Some(w) = self.coarse {
            return w.sim(i, j);
        }
        let (i, j) = (i as usize, j as usize);
        let d = match self.dense {
            Some(m) => kernels::dot(
                &m[i * self.dims..(i + 1) * self.dims],
                &m[j * self.dims..(j + 1) * self.dims],
            ),
            None => ROWS.with(|r| {
                let (a, b) = &mut *r.borrow_mut();
                a.resize(self.dims, 0.0);
                b.resize(self.dims, 0.0);
                self.emb.storage().row_into(i, a);
                self.emb.storage().row_into(j, b);
                kernels::dot(a, b)
            }),
        };
        Self::finite(d / (self.norms[i] * self.norms[j]))
    }
}

/// The rows as the search walks them: unit-normalised and in 8 bits with a scale a row (the
/// codes `round(127·x/max|x|)`, then the scale `max|x|/127` as f32 in the row's last four
/// bytes), each padded to a whole number of 64-byte cache lines and starting on one. At 50
/// dims a row is one line (two in half precision, four to six as the f32 row and its norm),
/// so the walk, which waits on memory for most of its time, reads half the lines it read in
/// half precision and divides by no norm; the scores move by about 1e-3 of a cosine, and the
/// walk only orders candidates with them: the answers are re-scored exactly. Rows that can
/// never be answers (norm zero or not finite) get a NaN scale and score `-inf`, as in
/// [`Space::sim_q`]. Made by the build, or on the first search of an opened index. The rows
/// live in memory backed by transparent huge pages where the kernel grants them
/// ([`HugeBuffer`]): the walk reads a few dozen rows at random for every node it expands, and
/// with 4 KiB pages nearly each of those reads also waited for a page-table walk (GloVe 6B
/// 50d, ef 32, one thread: 64.4 against 69.6 µs of CPU a query, the mean of five alternating
/// pairs on a loaded machine).
struct WalkRows {
    /// Row `i` at byte `i · stride` (the buffer is page aligned, so every row starts a line).
    data: HugeBuffer<i8>,
    /// Bytes a row, a multiple of 64: the codes, zeros to a multiple of 8, the scale.
    stride: usize,
    /// Codes a row that the walk reads: the dims rounded up to a multiple of 8 (the query is
    /// padded with zeros to as many).
    width: usize,
}

impl std::fmt::Debug for WalkRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalkRows")
            .field("stride", &self.stride)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static QUERY: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl WalkRows {
    fn new(emb: &Embeddings) -> Result<Self> {
        let (n, dims) = (emb.len(), emb.dims());
        let overflow = || Error::invalid("rows", "the walk's rows overflow memory");
        let width = dims
            .checked_next_multiple_of(8)
            .ok_or_else(overflow)?
            .max(8);
        let stride = (width + 4)
            .checked_next_multiple_of(64)
            .ok_or_else(overflow)?;
        let len = n.checked_mul(stride).ok_or_else(overflow)?;
        let mut data = HugeBuffer::zeroed(len)?;
        let norms = emb.norms();
        // One thread: this may run while rayon workers of a parallel search wait for it, so it
        // must not wait on them.
        let mut buf = vec![0.0f32; dims];
        for (i, out) in data.as_mut_slice().chunks_exact_mut(stride).enumerate() {
            let norm = norms[i];
            let mut scale = f32::NAN;
            if norm > 0.0 && norm.is_finite() {
                emb.storage().row_into(i, &mut buf);
                let top = buf.iter().fold(0.0f32, |m, &x| m.max((x / norm).abs()));
                if top > 0.0 && top.is_finite() {
                    scale = top / 127.0;
                    let inv = 127.0 / top;
                    for (o, &x) in out.iter_mut().zip(&buf) {
                        *o = ((x / norm) * inv).round().clamp(-127.0, 127.0) as i8;
                    }
                }
            }
            for (o, b) in out[stride - 4..].iter_mut().zip(scale.to_le_bytes()) {
                *o = b as i8;
            }
        }
        Ok(WalkRows {
            data,
            stride,
            width,
        })
    }

    /// Row `i`'s codes (`width` of them) and its scale.
    #[inline]
    fn row(&self, i: u32) -> (&[i8], f32) {
        let at = i as usize * self.stride;
        let row = &self.data.as_slice()[at..at + self.stride];
        let s = &row[self.stride - 4..];
        let scale = f32::from_le_bytes([s[0] as u8, s[1] as u8, s[2] as u8, s[3] as u8]);
        (&row[..self.width], scale)
    }

    /// Approximate cosine of row `i` with the unit query `q` padded to `width` with zeros.
    #[inline]
    fn score(&self, q: &[f32], i: u32) -> f32 {
        let (codes, scale) = self.row(i);
        Space::finite(scale * kernels::dot_i8_f32(codes, q))
    }

    /// Approximate cosine of rows `i` and `j` (an exact integer product of the codes).
    #[inline]
    fn sim(&self, i: u32, j: u32) -> f32 {
        let ((a, sa), (b, sb)) = (self.row(i), self.row(j));
        Space::finite(sa * sb * kernels::dot_i8(a, b) as f32)
    }

    /// Starts loading row `i` (up to its first 512 bytes). A hint only.
    #[inline]
    fn prefetch(&self, i: u32) {
        let p = self
            .data
            .as_slice()
            .as_ptr()
            .wrapping_add(i as usize * self.stride);
        kernels::prefetch_range(p, self.stride.min(512));
    }
}

/// (similarity, id) ordered by similarity, ties by lower id ranking higher.
#[derive(Clone, Copy, PartialEq)]
struct Cand(f32, u32);
impl Eq for Cand {}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0).then(o.1.cmp(&self.1))
    }
}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Visited marks by generation, one per thread, reused across searches.
struct Visited {
    mark: Vec<u32>,
    gen: u32,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.mark.len() != n {
            self.mark = vec![0; n];
            self.gen = 0;
        }
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.mark.fill(0);
            self.gen = 1;
        }
    }
    #[inline]
    fn insert(&mut self, i: u32) -> bool {
        let m = &mut self.mark[i as usize];
        if *m == self.gen {
            false
        } else {
            *m = self.gen;
            true
        }
    }
}

/// The buffers of one thread's searches, reused: visited marks, the two heaps, the links of
/// the node being expanded and those of its neighbours not seen before.
struct Scratch {
    visited: Visited,
    frontier: BinaryHeap<Cand>,
    best: BinaryHeap<Reverse<Cand>>,
    links: Vec<u32>,
    fresh: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch {
            visited: Visited { mark: Vec::new(), gen: 0 },
            frontier: BinaryHeap::new(),
            best: BinaryHeap::new(),
            links: Vec::new(),
            fresh: Vec::new(),
        })
    };
}

/// Best-first search on one level from `entry`; returns up to `ef` candidates, best first.
/// `links(i, buf)` fills `buf` with the links of node `i`; the rows of a node's unseen
/// neighbours are prefetched (`pre_row`) before any of them is scored, so their cache misses
/// overlap, and `pre_links(j)` is called with the next node to expand (a prefetch of its links,
/// or nothing).
fn search_layer<S, L, P, R>(
    n: usize,
    entry: &[Cand],
    ef: usize,
    score: S,
    links: L,
    pre_links: P,
    pre_row: R,
) -> Vec<Cand>
where
    S: Fn(u32) -> f32,
    L: Fn(u32, &mut Vec<u32>),
    P: Fn(u32),
    R: Fn(u32),
{
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        s.visited.reset(n);
        s.frontier.clear();
        s.best.clear();
        for &c in entry {
            if s.visited.insert(c.1) {
                s.frontier.push(c);
                s.best.push(Reverse(c));
            }
        }
        while s.best.len() > ef {
            s.best.pop();
        }
        while let Some(c) = s.frontier.pop() {
            let worst = s.best.peek().expect("not empty").0;
            if s.best.len() >= ef && c < worst {
                break;
            }
            if let Some(next) = s.frontier.peek() {
                pre_links(next.1);
            }
            links(c.1, &mut s.links);
            s.fresh.clear();
            for &nb in &s.links {
                if s.visited.insert(nb) {
                    pre_row(nb);
                    s.fresh.push(nb);
                }
            }
            for &nb in &s.fresh {
                let cand = Cand(score(nb), nb);
                if s.best.len() < ef || cand > s.best.peek().expect("not empty").0 {
                    s.frontier.push(cand);
                    s.best.push(Reverse(cand));
                    if s.best.len() > ef {
                        s.best.pop();
                    }
                }
            }
        }
        let mut out: Vec<Cand> = s.best.drain().map(|r| r.0).collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    })
}

/// Malkov's neighbour heuristic: keep a candidate only when it is closer to the base than to
/// every neighbour kept so far; at most `m`. `cands` is sorted best first.
fn select(space: &Space<'_>, cands: &[Cand], m: usize) -> Vec<u32> {
    let mut kept: Vec<u32> = Vec::with_capacity(m);
    for c in cands {
        if kept.len() == m {
            break;
        }
        if kept.iter().all(|&k| space.sim(c.1, k) < c.0) {
            kept.push(c.1);
        }
    }
    kept
}

/// The graph while it is built. Level 0 (every node, most of the work) is one flat array in
/// the file's layout, `m0 + 1` words per node (count, links, zeros), each list read and
/// written under its node's lock: following a link costs one cache miss, not a chain of
/// pointers, and the next list can be prefetched. Upper levels are few: a list per node and
/// level.
struct Building {
    m0: usize,
    level0: Vec<AtomicU32>,
    locks0: Vec<Mutex<()>>,
    /// upper[node][level - 1]
    upper: Vec<Vec<RwLock<Vec<u32>>>>,
    top: Mutex<(u32, usize)>,
}

impl Building {
    /// Copies the links of node `i` at level `lv` into `buf`.
    #[inline]
    fn read(&self, i: u32, lv: usize, buf: &mut Vec<u32>) {
        buf.clear();
        if lv == 0 {
            let at = i as usize * (self.m0 + 1);
            let _held = self.locks0[i as usize]
                .lock()
                .expect("no panics while held");
            self.copy0(at, buf);
        } else {
            buf.extend_from_slice(&self.upper[i as usize][lv - 1].read().expect("lock"));
        }
    }

    /// Appends the level-0 list stored at `at` to `buf`; the caller holds the node's lock.
    #[inline]
    fn copy0(&self, at: usize, buf: &mut Vec<u32>) {
        let c = self.level0[at].load(Relaxed) as usize;
        buf.extend(
            self.level0[at + 1..at + 1 + c]
                .iter()
                .map(|x| x.load(Relaxed)),
        );
    }

    /// Starts loading the level-0 list of node `i` and its lock (a hint).
    #[inline]
    fn prefetch0(&self, i: u32) {
        let at = self
            .level0
            .as_ptr()
            .wrapping_add(i as usize * (self.m0 + 1)) as *const i8;
        kernels::prefetch(at);
        kernels::prefetch(at.wrapping_add(4 * self.m0));
        kernels::prefetch(self.locks0.as_ptr().wrapping_add(i as usize) as *const i8);
    }

    /// Changes the list of node `i` at level `lv` with `f`, under the node's lock.
    fn update(&self, i: u32, lv: usize, f: impl FnOnce(&mut Vec<u32>)) {
        if lv == 0 {
            let at = i as usize * (self.m0 + 1);
            let _held = self.locks0[i as usize]
                .lock()
                .expect("no panics while held");
            let mut list = Vec::with_capacity(self.m0);
            self.copy0(at, &mut list);
            f(&mut list);
            debug_assert!(list.len() <= self.m0);
            self.level0[at].store(list.len() as u32, Relaxed);
            for (j, slot) in self.level0[at + 1..at + 1 + self.m0].iter().enumerate() {
                slot.store(list.get(j).copied().unwrap_or(0), Relaxed);
            }
        } else {
            f(&mut self.upper[i as usize][lv - 1].write().expect("lock"));
        }
    }
}

impl Hnsw {
    /// Builds an index over all rows of `emb`. Every pair of rows the build compares (the
    /// insertion walks, the neighbour heuristic, the pruning of full lists) is scored on the
    /// walk's 8-bit unit rows ([`WalkRows`], kept for the searches that follow): a quarter to
    /// a third of the memory the f32 rows and their norms take, and the product of two rows'
    /// codes is exact in integers. GloVe 6B 50d, one thread: 108 against 141 s, recall@10 at
    /// ef 16 / 32 / 100 0.9298 / 0.9597 / 0.9894 against 0.9281 / 0.9597 / 0.9903 (2,000
    /// queries).
    pub fn build(emb: &Embeddings, params: &HnswParams) -> Result<Self> {
        if params.m < 2 || params.m > 256 {
            return Err(Error::invalid("m", "must be between 2 and 256"));
        }
        if params.ef_construction == 0 {
            return Err(Error::invalid("ef_construction", "must be at least 1"));
        }
        if emb.is_empty() {
            return Err(Error::invalid(
                "embeddings",
                "cannot index an empty vocabulary",
            ));
        }
        let n = emb.len();
        let walk = WalkRows::new(emb)?;
        let space = Space::coarse(emb, &walk);
        let (m, m0) = (params.m, 2 * params.m);
        let ml = 1.0 / (m as f64).ln();
        let mut rng = Rng::new(params.seed);
        let levels: Vec<usize> = (0..n)
            .map(|_| {
                let u = 1.0 - rng.uniform_f64();
                ((-u.ln() * ml) as usize).min(MAX_LEVEL)
            })
            .collect();
        let b = Building {
            m0,
            level0: (0..n * (m0 + 1)).map(|_| AtomicU32::new(0)).collect(),
            locks0: (0..n).map(|_| Mutex::new(())).collect(),
            upper: levels
                .iter()
                .map(|&l| {
                    (1..=l)
                        .map(|_| RwLock::new(Vec::with_capacity(m)))
                        .collect()
                })
                .collect(),
            top: Mutex::new((0, levels[0])),
        };
        let insert = |q: u32| {
            let level = levels[q as usize];
            let mut top = b.top.lock().expect("no panics while held");
            let (entry, max_level) = *top;
            if level > max_level {
                // A node that raises the top level holds the lock for its whole insertion.
                Self::insert_node(&space, &b, &levels, q, entry, max_level, m, m0, params);
                *top = (q, level);
            } else {
                drop(top);
                Self::insert_node(&space, &b, &levels, q, entry, max_level, m, m0, params);
            }
        };
        let threads = if params.threads == 0 {
            rayon::current_num_threads()
        } else {
            params.threads
        };
        if threads <= 1 {
            (1..n as u32).for_each(insert);
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| Error::Other(format!("thread pool: {e}")))?;
            // The first thousand nodes go in serially: the graph starts from a stable core.
            let head = (n as u32).min(1000);
            (1..head).for_each(insert);
            // Then each thread takes the next node in order, so nodes go in about as they
            // would on one thread (rows in vocabulary order, frequent words first). Splitting
            // the range (rayon's `par_iter`) had a second thread insert the rarest half of the
            // vocabulary into a graph of the thousand most frequent words: on the 300-d model
            // of 399,310 words, recall@10 at ef 512 0.8169 against 0.8311 on one thread.
            let next = AtomicU32::new(head);
            pool.scope(|sc| {
                for _ in 0..threads {
                    sc.spawn(|_| loop {
                        let q = next.fetch_add(1, Relaxed);
                        if q >= n as u32 {
                            break;
                        }
                        insert(q);
                    });
                }
            });
        }
        let (entry, max_level) = *b.top.lock().expect("build done");
        // Flatten into the file layout.
        let mut words: Vec<u32> = Vec::with_capacity(n * (m0 + 3));
        words.extend(b.level0.into_iter().map(AtomicU32::into_inner));
        words.extend(levels.iter().map(|&l| l as u32));
        let mut next = 0u32;
        for &l in &levels {
            words.push(next);
            next += l as u32;
        }
        for node in &b.upper {
            for lv in node {
                let l = lv.read().expect("build done");
                words.push(l.len() as u32);
                words.extend_from_slice(&l);
                words.resize(words.len() + m - l.len(), 0);
            }
        }
        Ok(Hnsw {
            rows: n,
            dims: emb.dims(),
            m,
            m0,
            ef_construction: params.ef_construction,
            seed: params.seed,
            max_level,
            entry,
            upper_lists: next as usize,
            fingerprint: fingerprint(emb),
            words: Words::Owned(words),
            walk: OnceLock::from(walk),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_node(
        space: &Space<'_>,
        b: &Building,
        levels: &[usize],
        q: u32,
        entry: u32,
        max_level: usize,
        m: usize,
        m0: usize,
        params: &HnswParams,
    ) {
        let n = levels.len();
        let level = levels[q as usize];
        let score = |i: u32| space.sim(q, i);
        let pre_row = |i: u32| space.prefetch(i);
        let mut ep = vec![Cand(score(entry), entry)];
        let mut lv = max_level;
        while lv > level {
            let links = |i: u32, buf: &mut Vec<u32>| b.read(i, lv, buf);
            ep = search_layer(n, &ep, 1, score, links, |_| {}, pre_row);
            lv -= 1;
        }
        for lv in (0..=level.min(max_level)).rev() {
            let links = |i: u32, buf: &mut Vec<u32>| b.read(i, lv, buf);
            let pre = |i: u32| {
                if lv == 0 {
                    b.prefetch0(i);
                }
            };
            let found = search_layer(n, &ep, params.ef_construction, score, links, pre, pre_row);
            let cap = if lv == 0 { m0 } else { m };
            let chosen = select(space, &found, cap);
            b.update(q, lv, |l| l.clone_from(&chosen));
            for &e in &chosen {
                b.update(e, lv, |l| {
                    if l.contains(&q) {
                        return;
                    }
                    if l.len() < cap {
                        l.push(q);
                    } else {
                        // The rows of the list are scattered: start loading them all first.
                        for &x in l.iter() {
                            space.prefetch(x);
                        }
                        let mut cands: Vec<Cand> = l
                            .iter()
                            .chain([&q])
                            .map(|&x| Cand(space.sim(e, x), x))
                            .collect();
                        cands.sort_by(|a, b| b.cmp(a));
                        *l = select(space, &cands, cap);
                    }
                });
            }
            ep = found;
        }
    }

    fn slice(&self) -> &[u32] {
        self.words.as_slice()
    }

    /// The walk's rows, built on the first search. Two threads that both find
    /// them missing both build them; one copy is kept.
    fn walk_rows(&self, emb: &Embeddings) -> Result<&WalkRows> {
        if let Some(w) = self.walk.get() {
            return Ok(w);
        }
        let built = WalkRows::new(emb)?;
        Ok(self.walk.get_or_init(|| built))
    }
}

impl Words {
    fn as_slice(&self) -> &[u32] {
        match self {
            Words::Owned(v) => v,
            Words::Mapped(m) => {
                let body = &m[HEADER..m.len() - 8];
                // SAFETY: the map is page aligned, HEADER is a multiple of 4, and the body
                // length was checked to be a whole number of u32 words when opening.
                unsafe { std::slice::from_raw_parts(body.as_ptr() as *const u32, body.len() / 4) }
            }
        }
    }
}

impl Hnsw {
    fn links_of<'s>(&self, words: &'s [u32], node: u32, level: usize) -> &'s [u32] {
        let n = self.rows;
        if level == 0 {
            let at = node as usize * (self.m0 + 1);
            let c = words[at] as usize;
            &words[at + 1..at + 1 + c]
        } else {
            let start = words[n * (self.m0 + 1) + n + node as usize] as usize + level - 1;
            let at = n * (self.m0 + 1) + 2 * n + start * (self.m + 1);
            let c = words[at] as usize;
            &words[at + 1..at + 1 + c]
        }
    }

    /// Number of rows indexed.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Links per node on upper levels.
    pub fn m(&self) -> usize {
        self.m
    }

    /// The candidate list size used while building.
    pub fn ef_construction(&self) -> usize {
        self.ef_construction
    }

    /// Checks that this index was built for `emb`.
    pub fn check_belongs(&self, emb: &Embeddings, path: &Path) -> Result<()> {
        if emb.len() != self.rows || emb.dims() != self.dims {
            return Err(Error::at_field(
                path,
                "shape",
                format!(
                    "index is for {} × {} embeddings, these are {} × {}",
                    self.rows,
                    self.dims,
                    emb.len(),
                    emb.dims()
                ),
            ));
        }
        if fingerprint(emb) != self.fingerprint {
            return Err(Error::at_field(
                path,
                "fingerprint",
                "index was built for other embeddings (vocabulary or vectors differ); rebuild it with `embers index build`",
            ));
        }
        Ok(())
    }

    /// Approximate top-`k` rows by cosine with the unit vector `query`, skipping `exclude`;
    /// `ef` (at least `k`) is the candidate list size, larger = slower and more accurate.
    /// `emb` must be the embeddings the index was built for.
    pub fn search(
        &self,
        emb: &Embeddings,
        query: &[f32],
        k: usize,
        ef: usize,
        exclude: &[u32],
    ) -> Result<Vec<Hit>> {
        if emb.len() != self.rows || query.len() != self.dims {
            return Err(Error::shape(
                "ANN query",
                format!("{} rows × {} dims", self.rows, self.dims),
                format!("{} rows × {} dims", emb.len(), query.len()),
            ));
        }
        let space = Space::new(emb);
        self.search_in(&space, query, k, ef, exclude, self.rows)
    }

    /// Like [`Hnsw::search`], answering only rows below `limit` (`restrict_vocab`).
    pub fn search_limited(
        &self,
        emb: &Embeddings,
        query: &[f32],
        k: usize,
        ef: usize,
        exclude: &[u32],
        limit: usize,
    ) -> Result<Vec<Hit>> {
        if emb.len() != self.rows || query.len() != self.dims {
            return Err(Error::shape(
                "ANN query",
                format!("{} rows × {} dims", self.rows, self.dims),
                format!("{} rows × {} dims", emb.len(), query.len()),
            ));
        }
        let space = Space::new(emb);
        self.search_in(&space, query, k, ef, exclude, limit)
    }

    fn search_in(
        &self,
        space: &Space<'_>,
        q: &[f32],
        k: usize,
        ef: usize,
        ex: &[u32],
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let walk = self.walk_rows(space.emb)?;
        Ok(QUERY.with(|qp| {
            let qp = &mut *qp.borrow_mut();
            qp.clear();
            qp.extend_from_slice(q);
            qp.resize(walk.width, 0.0);
            self.walk_in(space, walk, q, qp, k, ef, ex, limit)
        }))
    }

    /// The walk on the 8-bit unit rows (`qp`: the query padded to their width), then
    /// the candidates re-scored exactly (`Space::sim_q`, f32 rows and norms) and the best `k`
    /// kept: the answers' scores are the cosines exact search gives.
    #[allow(clippy::too_many_arguments)]
    fn walk_in(
        &self,
        space: &Space<'_>,
        walk: &WalkRows,
        q: &[f32],
        qp: &[f32],
        k: usize,
        ef: usize,
        ex: &[u32],
        limit: usize,
    ) -> Vec<Hit> {
        let words = self.slice();
        let score = |i: u32| walk.score(qp, i);
        let pre_row = |i: u32| walk.prefetch(i);
        let mut ep = vec![Cand(score(self.entry), self.entry)];
        for lv in (1..=self.max_level).rev() {
            let links = |i: u32, buf: &mut Vec<u32>| {
                buf.clear();
                buf.extend_from_slice(self.links_of(words, i, lv));
            };
            ep = search_layer(self.rows, &ep, 1, score, links, |_| {}, pre_row);
        }
        let links = |i: u32, buf: &mut Vec<u32>| {
            buf.clear();
            buf.extend_from_slice(self.links_of(words, i, 0));
        };
        // At least one candidate: an empty list has no worst element to compare with.
        let ef = ef.max(k.saturating_add(ex.len())).max(1);
        let m0 = self.m0;
        // The level-0 list of the next node to expand: its count and first links, and its end.
        let pre = |i: u32| {
            let at = words.as_ptr().wrapping_add(i as usize * (m0 + 1)) as *const i8;
            kernels::prefetch(at);
            kernels::prefetch(at.wrapping_add(4 * m0));
        };
        let found = search_layer(self.rows, &ep, ef, score, links, pre, pre_row);
        for c in &found {
            space.prefetch(c.1);
        }
        let mut top = TopK::new(k);
        for c in found {
            if (c.1 as usize) < limit && !ex.contains(&c.1) {
                let s = space.sim_q(q, c.1);
                if s > f32::NEG_INFINITY {
                    top.push(c.1, s);
                }
            }
        }
        top.into_sorted()
    }

    /// Mean recall@`k` of this index against exact search, over `samples` rows (chosen with
    /// `seed`) used as queries (each excluding itself), at candidate list size `ef`.
    pub fn recall(
        &self,
        emb: &Embeddings,
        k: usize,
        ef: usize,
        samples: usize,
        seed: u64,
    ) -> Result<f64> {
        let space = Space::new(emb);
        let n = emb.len();
        let samples = samples.min(n);
        let mut rng = Rng::new(seed);
        let ids: Vec<u32> = (0..samples).map(|_| rng.below(n as u64) as u32).collect();
        let dims = emb.dims();
        let mut queries = Vec::with_capacity(samples * dims);
        for &id in &ids {
            queries.extend(emb.unit_row(id));
        }
        let exclude: Vec<Vec<u32>> = ids.iter().map(|&i| vec![i]).collect();
        let k = k.min(n.saturating_sub(1)).max(1);
        let truth = exact::top_k_batch(emb, &queries, k, n, &exclude);
        let found: usize = ids
            .par_iter()
            .enumerate()
            .map(|(i, &id)| {
                let q = &queries[i * dims..(i + 1) * dims];
                let got = self.search_in(&space, q, k, ef, &[id], n)?;
                Ok(got
                    .iter()
                    .filter(|h| truth[i].iter().any(|t| t.id == h.id))
                    .count())
            })
            .sum::<Result<usize>>()?;
        let possible: usize = truth.iter().map(Vec::len).sum();
        Ok(if possible == 0 {
            1.0
        } else {
            found as f64 / possible as f64
        })
    }

    /// Where the index of embeddings stored at `path` lives: `path` with `.hnsw` appended.
    pub fn path_for(path: &Path) -> PathBuf {
        let mut s = path.as_os_str().to_owned();
        s.push(".hnsw");
        PathBuf::from(s)
    }

    /// Writes the index atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut header = Vec::with_capacity(HEADER);
        header.extend_from_slice(MAGIC);
        for v in [
            VERSION,
            self.m as u32,
            self.m0 as u32,
            self.max_level as u32,
            self.entry,
            self.ef_construction as u32,
            self.dims as u32,
            0,
        ] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.rows as u64,
            self.upper_lists as u64,
            self.fingerprint,
            self.seed,
        ] {
            header.extend_from_slice(&v.to_le_bytes());
        }
        header.resize(HEADER, 0);
        let body = crate::io::safetensors::bytes_of(self.slice());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(body);
        let mut out = AtomicFile::create(path)?;
        out.write_all(&header)?;
        out.write_all(body)?;
        out.write_all(&crc.finalize().to_le_bytes())?;
        out.write_all(FOOTER)?;
        out.commit()
    }

    /// Opens an index by memory map, checks its integrity, and checks that it belongs to `emb`.
    pub fn open(path: impl AsRef<Path>, emb: &Embeddings) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mmap = crate::io::mapping::map_file(path, &file)?;
        let len = mmap.len();
        if len < HEADER + 8 || &mmap[..8] != MAGIC {
            return Err(Error::at_byte(
                path,
                0,
                "not an embers HNSW index (bad magic)",
            ));
        }
        if &mmap[len - 4..] != FOOTER {
            return Err(Error::at_byte(
                path,
                len as u64 - 4,
                "truncated index (footer missing)",
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(mmap[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(mmap[o..o + 8].try_into().expect("8 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(Error::at_byte(
                path,
                8,
                format!("index version {version}, this embers reads {VERSION}"),
            ));
        }
        let stored = u32_at(len - 8);
        let actual = {
            let mut h = crc32fast::Hasher::new();
            h.update(&mmap[..len - 8]);
            h.finalize()
        };
        if stored != actual {
            return Err(Error::at_byte(
                path,
                len as u64 - 8,
                format!("checksum mismatch (stored {stored:08x}, computed {actual:08x}): the file is damaged"),
            ));
        }
        let bad = |field: &str, msg: String| Error::at_field(path, field, msg);
        let (m, m0, max_level, entry, ef_c, dims) = (
            u32_at(12) as usize,
            u32_at(16) as usize,
            u32_at(20) as usize,
            u32_at(24),
            u32_at(28) as usize,
            u32_at(32) as usize,
        );
        let (rows, upper_lists, fp, seed) = (
            u64_at(40) as usize,
            u64_at(48) as usize,
            u64_at(56),
            u64_at(64),
        );
        let body_words = (len - HEADER - 8) / 4;
        let expected = rows
            .checked_mul(m0 + 3)
            .and_then(|x| x.checked_add(upper_lists.checked_mul(m + 1)?));
        if !(len - HEADER - 8).is_multiple_of(4) || expected != Some(body_words) || rows == 0 {
            return Err(bad("graph", "size does not match the header".into()));
        }
        if m < 2 || m0 != 2 * m || max_level > MAX_LEVEL || entry as usize >= rows {
            return Err(bad("header", "invalid parameters".into()));
        }
        let index = Hnsw {
            rows,
            dims,
            m,
            m0,
            ef_construction: ef_c,
            seed,
            max_level,
            entry,
            upper_lists,
            fingerprint: fp,
            words: Words::Mapped(Arc::new(mmap)),
            walk: OnceLock::new(),
        };
        index.validate(path)?;
        index.check_belongs(emb, path)?;
        Ok(index)
    }

    /// Every count within bounds, every link a valid row, every level within the header's.
    fn validate(&self, path: &Path) -> Result<()> {
        let w = self.slice();
        let n = self.rows;
        let bad = |msg: String| Error::at_field(path, "graph", msg);
        let mut upper_used = 0usize;
        for node in 0..n {
            let level = w[n * (self.m0 + 1) + node] as usize;
            let start = w[n * (self.m0 + 1) + n + node] as usize;
            if level > self.max_level || start != upper_used {
                return Err(bad(format!("node {node}: invalid level table")));
            }
            upper_used += level;
        }
        if upper_used != self.upper_lists {
            return Err(bad("level table does not match the header".into()));
        }
        let level_of = |node: usize| w[n * (self.m0 + 1) + node] as usize;
        // Searches start at the entry node on the top level: it must be there.
        if level_of(self.entry as usize) != self.max_level {
            return Err(bad(format!(
                "entry node {} is at level {}, the header's top level is {}",
                self.entry,
                level_of(self.entry as usize),
                self.max_level
            )));
        }
        // A link followed at level L leads to a node whose level-L list is read next: every
        // target must exist at that level.
        let check = |list: &[u32], cap: usize, level: usize, what: &dyn Fn() -> String| {
            let c = list[0] as usize;
            if c > cap {
                return Err(bad(format!("{}: {c} links, at most {cap}", what())));
            }
            for &x in &list[1..=c] {
                if x as usize >= n {
                    return Err(bad(format!("{}: link to node {x} of {n}", what())));
                }
                if level_of(x as usize) < level {
                    return Err(bad(format!(
                        "{}: link at level {level} to node {x}, which has no level {level}",
                        what()
                    )));
                }
            }
            Ok(())
        };
        for (i, list) in w[..n * (self.m0 + 1)].chunks_exact(self.m0 + 1).enumerate() {
            check(list, self.m0, 0, &|| format!("node {i}"))?;
        }
        let upper = &w[n * (self.m0 + 1) + 2 * n..];
        for node in 0..n {
            let start = w[n * (self.m0 + 1) + n + node] as usize;
            for level in 1..=level_of(node) {
                let at = (start + level - 1) * (self.m + 1);
                let list = &upper[at..at + self.m + 1];
                check(list, self.m, level, &|| {
                    format!("node {node} level {level}")
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::DenseMatrix;
    use crate::vocab::Vocab;

    /// Clustered data, like real embeddings: 40 centres, rows scattered around them.
    fn clustered(rows: usize, dims: usize, seed: u64) -> Embeddings {
        let mut rng = Rng::new(seed);
        let centres: Vec<Vec<f32>> = (0..40)
            .map(|_| (0..dims).map(|_| rng.normal()).collect())
            .collect();
        let mut data = Vec::with_capacity(rows * dims);
        for _ in 0..rows {
            let c = &centres[rng.below(40) as usize];
            data.extend(c.iter().map(|x| x + 0.6 * rng.normal()));
        }
        let words = (0..rows).map(|i| format!("w{i}")).collect();
        Embeddings::new(
            Vocab::from_words(words).unwrap(),
            DenseMatrix::new(rows, dims, data).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn walk_rows_score_near_the_exact_cosine_and_never_answer_rows_of_no_direction() {
        for dims in [1, 7, 8, 50, 60, 61, 300] {
            let mut emb_data: Vec<f32> = {
                let mut rng = Rng::new(dims as u64);
                (0..20 * dims).map(|_| rng.normal()).collect()
            };
            // Row 1 has no direction, row 2 is not finite, row 3 has one huge value.
            emb_data[dims..2 * dims].fill(0.0);
            emb_data[2 * dims] = f32::NAN;
            emb_data[3 * dims] = 1e6;
            let words = (0..20).map(|i| format!("w{i}")).collect();
            let emb = Embeddings::new(
                Vocab::from_words(words).unwrap(),
                DenseMatrix::new(20, dims, emb_data).unwrap(),
            )
            .unwrap();
            let walk = WalkRows::new(&emb).unwrap();
            assert_eq!(walk.stride % 64, 0);
            assert!(walk.width >= dims && walk.width + 4 <= walk.stride);
            let mut q = emb.unit_row(0);
            q.resize(walk.width, 0.0);
            for i in 0..20u32 {
                let got = walk.score(&q, i);
                if i == 1 || i == 2 {
                    assert_eq!(got, f32::NEG_INFINITY, "dims {dims} row {i}");
                    continue;
                }
                let want = kernels::dot_exact(&emb.unit_row(i), &q[..dims]);
                // Half a step of 1/127 of the largest value a coordinate, over the row.
                assert!(
                    (got - want).abs() < 0.01,
                    "dims {dims} row {i}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn finds_true_neighbours_and_is_deterministic_single_threaded() {
        let emb = clustered(4000, 16, 1);
        let p = HnswParams {
            threads: 1,
            ..Default::default()
        };
        let a = Hnsw::build(&emb, &p).unwrap();
        let recall = a.recall(&emb, 10, 64, 300, 7).unwrap();
        assert!(recall > 0.95, "recall@10 {recall}");
        let b = Hnsw::build(&emb, &p).unwrap();
        assert_eq!(a.slice(), b.slice(), "same seed, one thread: same graph");
        // A parallel build is still a good index.
        let par = Hnsw::build(&emb, &HnswParams { threads: 2, ..p }).unwrap();
        assert!(par.recall(&emb, 10, 64, 300, 7).unwrap() > 0.95);
        // Exact answer for a query that is a row: itself first, scored 1.
        let q = crate::query::unit_row(&emb, 17);
        let hits = a.search(&emb, &q, 3, 50, &[]).unwrap();
        assert_eq!(hits[0].id, 17);
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        assert!(a
            .search(&emb, &q, 3, 50, &[17])
            .unwrap()
            .iter()
            .all(|h| h.id != 17));
    }

    #[test]
    fn answers_carry_the_exact_cosines_and_skip_rows_of_no_direction() {
        // The walk orders candidates by half-precision scores; the answers must still carry
        // the cosines exact scoring gives (dot / norm in f32), and rows of norm zero or NaN
        // (-inf in exact scoring) must never be answered.
        let base = clustered(2000, 24, 9);
        let dims = base.dims();
        let mut data = base.storage().as_dense().unwrap().as_slice().to_vec();
        data[5 * dims..6 * dims].fill(0.0);
        data[6 * dims] = f32::NAN;
        let words = (0..base.len()).map(|i| format!("w{i}")).collect();
        let emb = Embeddings::new(
            Vocab::from_words(words).unwrap(),
            DenseMatrix::new(base.len(), dims, data).unwrap(),
        )
        .unwrap();
        let idx = Hnsw::build(
            &emb,
            &HnswParams {
                threads: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let rows = emb.storage().as_dense().unwrap().as_slice();
        for id in [0u32, 7, 99, 1234, 1999] {
            let q = crate::query::unit_row(&emb, id);
            let hits = idx.search(&emb, &q, 10, 32, &[id]).unwrap();
            assert_eq!(hits.len(), 10);
            for h in &hits {
                let i = h.id as usize;
                let want = kernels::dot(&rows[i * dims..(i + 1) * dims], &q) / emb.norms()[i];
                assert_eq!(h.score.to_bits(), want.to_bits(), "query {id}, row {i}");
                assert!(h.id != 5 && h.id != 6 && h.id != id);
            }
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        }
        // With a candidate list covering every row, the answers are exact search's ids.
        let q = crate::query::unit_row(&emb, 42);
        let all = idx.search(&emb, &q, 10, 4000, &[42]).unwrap();
        let exact = exact::top_k(&emb, &q, 10, emb.len(), &[42]);
        assert_eq!(
            all.iter().map(|h| h.id).collect::<Vec<_>>(),
            exact.iter().map(|h| h.id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn reused_search_buffers_give_the_same_answers_across_indexes() {
        // One thread's buffers (visited marks, heaps) serve indexes of different sizes in
        // turn: every answer must be what a fresh search gives, and equal to exact search
        // where the candidate list covers everything.
        let small = clustered(300, 8, 5);
        let large = clustered(900, 8, 6);
        let p = HnswParams {
            threads: 1,
            ..Default::default()
        };
        let (a, b) = (
            Hnsw::build(&small, &p).unwrap(),
            Hnsw::build(&large, &p).unwrap(),
        );
        let qa = crate::query::unit_row(&small, 11);
        let qb = crate::query::unit_row(&large, 12);
        let first = a.search(&small, &qa, 10, 400, &[11]).unwrap();
        let exact_a = exact::top_k(&small, &qa, 10, small.len(), &[11]);
        assert_eq!(
            first.iter().map(|h| h.id).collect::<Vec<_>>(),
            exact_a.iter().map(|h| h.id).collect::<Vec<_>>()
        );
        for _ in 0..3 {
            let got_b = b.search(&large, &qb, 10, 64, &[12]).unwrap();
            assert_eq!(got_b.len(), 10);
            assert!(got_b.iter().all(|h| h.id != 12));
            assert_eq!(a.search(&small, &qa, 10, 400, &[11]).unwrap(), first);
        }
    }

    /// Rewrites the CRC of an index file after a crafted change, so only the structure checks
    /// stand between the bytes and a search.
    fn reseal(bytes: &mut [u8]) {
        let len = bytes.len();
        let crc = crc32fast::hash(&bytes[..len - 8]);
        bytes[len - 8..len - 4].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn crafted_structure_is_an_error_not_a_panic() {
        let emb = clustered(300, 8, 4);
        let idx = Hnsw::build(&emb, &HnswParams::default()).unwrap();
        assert!(idx.max_level >= 1, "the test needs upper levels");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.hnsw");
        idx.save(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        let w = idx.slice();
        let n = idx.rows;
        let level = |i: usize| w[n * (idx.m0 + 1) + i] as usize;
        let word_at = |i: usize| HEADER + 4 * i;
        let q = crate::query::unit_row(&emb, 3);

        // The entry node moved to a node of level 0.
        let low = (0..n).find(|&i| level(i) == 0).unwrap();
        let mut bytes = good.clone();
        bytes[24..28].copy_from_slice(&(low as u32).to_le_bytes());
        reseal(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let e = Hnsw::open(&path, &emb).unwrap_err().to_string();
        assert!(e.contains("entry node"), "{e}");

        // A level-1 link pointing at a node that has no level 1.
        let high = (0..n)
            .find(|&i| level(i) >= 1 && i != idx.entry as usize)
            .unwrap();
        let start = w[n * (idx.m0 + 1) + n + high] as usize;
        let list = n * (idx.m0 + 1) + 2 * n + start * (idx.m + 1);
        let mut bytes = good.clone();
        bytes[word_at(list)..word_at(list) + 4].copy_from_slice(&1u32.to_le_bytes());
        bytes[word_at(list + 1)..word_at(list + 1) + 4]
            .copy_from_slice(&(low as u32).to_le_bytes());
        reseal(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let e = Hnsw::open(&path, &emb).unwrap_err().to_string();
        assert!(e.contains("has no level 1"), "{e}");

        // Resealed but intact: opens and searches; and k = 0, ef = 0 is an empty answer.
        let mut bytes = good.clone();
        reseal(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let back = Hnsw::open(&path, &emb).unwrap();
        assert!(back.search(&emb, &q, 0, 0, &[]).unwrap().is_empty());
    }

    #[test]
    fn saved_index_reopens_and_refuses_other_embeddings_or_damage() {
        let emb = clustered(500, 8, 2);
        let idx = Hnsw::build(&emb, &HnswParams::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.hnsw");
        idx.save(&path).unwrap();
        let back = Hnsw::open(&path, &emb).unwrap();
        assert_eq!(back.slice(), idx.slice());
        let q = crate::query::unit_row(&emb, 3);
        assert_eq!(
            back.search(&emb, &q, 5, 40, &[]).unwrap(),
            idx.search(&emb, &q, 5, 40, &[]).unwrap()
        );
        // Same shape, other vectors: refused by fingerprint.
        let other = clustered(500, 8, 3);
        let e = Hnsw::open(&path, &other).unwrap_err();
        assert!(e.to_string().contains("fingerprint"), "{e}");
        let e = Hnsw::open(&path, &clustered(400, 8, 2)).unwrap_err();
        assert!(e.to_string().contains("shape"), "{e}");
        // One flipped byte in the graph: checksum mismatch.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[HEADER + 10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(Hnsw::open(&path, &emb)
            .unwrap_err()
            .to_string()
            .contains("checksum"));
        std::fs::write(&path, &bytes[..50]).unwrap();
        assert!(Hnsw::open(&path, &emb).is_err());
        std::fs::write(&path, b"not an index at all, really not").unwrap();
        assert!(Hnsw::open(&path, &emb)
            .unwrap_err()
            .to_string()
            .contains("magic"));
    }
}
