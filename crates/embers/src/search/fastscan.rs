//! The fast scan of 4-bit PQ rows: a query's `m` lookup tables quantized to bytes
//! ([`ScanTables`]), every row's integer sum computed 32 rows a shuffle ([`ScanCodes::sums`]),
//! then the rows that may rank re-scored with the f32 tables, so the answer is exactly the
//! float scan's (`Storage::dot_all`, divided by the row norms): same rows, same scores, ties by
//! id.
//!
//! Why exact: the quantized estimate of a row's dot product is off by at most
//! [`ScanTables::error`] (the sum of each table's largest rounding error, plus a margin for f32
//! rounding). In one pass over the rows, a row is re-scored with the f32 tables when its
//! estimate plus that bound reaches `L`, the k-th best exact cosine so far (times the row's
//! norm); `L` only rises, so a row passed over cannot beat the final k-th score. How many rows
//! get re-scored (about k · ln(rows / k) while `L` rises, plus those within the bound of the
//! k-th score) is measured in BENCHMARKS.md, issue 18.
//!
//! Why fast: the test against `L` depends on each row's norm, so it is a float comparison a
//! row. [`ScanIndex`] lays the rows out sorted by norm within windows of [`SORT_WINDOW`] rows,
//! so the 32 rows of a block have norms close together; from the block's smallest (or, while
//! `L < 0`, largest) norm follows one threshold that every row able to pass must exceed, and
//! most blocks are passed over after one comparison of their largest 16-bit sum (which the
//! sums kernel returns beside the sums) with it.

use std::sync::OnceLock;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::search::exact::{self, Hit, TopK};
use crate::storage::{PqMatrix, ScanCodes, ScanTables, Storage, SCAN_BLOCK, SCAN_GROUP};

/// Blocks whose sums are computed at a time (the sums of one run, 16 KiB, stay in L1).
const RUN_BLOCKS: usize = 256;

/// Rows are sorted by norm within consecutive windows of this many rows (64 blocks), so the
/// scan keeps the stored order at this scale (frequent words, which answer most queries, first;
/// a `limit` scans whole windows) while each block holds rows of similar norm.
pub const SORT_WINDOW: usize = 2048;

/// How a 4-bit PQ model is scanned by the search objects ([`crate::search::Exact`],
/// [`crate::search::Compressed`], [`crate::search::default_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PqScan {
    /// The fast scan when the codes are 4-bit (same answers as `Float`, faster).
    #[default]
    Fast,
    /// Every row scored with the f32 lookup tables.
    Float,
}

/// What a fast-scan search did, for measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Rows whose integer sums were computed.
    pub scanned: usize,
    /// Blocks of 32 rows whose rows were tested one by one (the others were passed over by
    /// the block's threshold).
    pub tested_blocks: usize,
    /// Rows re-scored with the f32 tables.
    pub rescored: usize,
}

/// A 4-bit PQ model laid out for the fast scan, with the norms its cosines divide by: rows
/// sorted by norm within windows of [`SORT_WINDOW`], their codes in [`ScanCodes`] blocks, and
/// each block's smallest and largest positive norm. Built once per model (a sort and a copy of
/// the codes: about as many bytes again as the packed codes, plus 8 a row).
#[derive(Debug, Clone)]
pub struct ScanIndex {
    codes: ScanCodes,
    /// Scan position → row (`u32::MAX` past the last row, to a whole block).
    order: Vec<u32>,
    /// The norm of the row at each position (0 past the last row).
    norms: Vec<f32>,
    /// Per block: the smallest positive norm (∞ when none is positive).
    lo: Vec<f32>,
    /// Per block: the largest positive norm (∞ when none is positive).
    hi: Vec<f32>,
    /// The largest finite norm (0 when none is positive).
    hi_max: f32,
    m: usize,
}

impl ScanIndex {
    /// The index of `pq` with row norms `norms` (one a row). `None` unless the codes are 4-bit
    /// ([`PqMatrix::fast_scan_ready`]) and `norms` has one entry a row.
    pub fn new(pq: &PqMatrix, norms: &[f32]) -> Option<Self> {
        let rows = pq.rows();
        if !pq.fast_scan_ready() || norms.len() != rows || u32::try_from(rows).is_err() {
            return None;
        }
        let mut order: Vec<u32> = (0..rows as u32).collect();
        order.par_chunks_mut(SORT_WINDOW).for_each(|w| {
            w.sort_unstable_by(|&a, &b| {
                norms[a as usize]
                    .total_cmp(&norms[b as usize])
                    .then(a.cmp(&b))
            })
        });
        let codes = pq.scan_codes(&order)?;
        let padded = rows.div_ceil(SCAN_BLOCK) * SCAN_BLOCK;
        let mut sorted: Vec<f32> = order.iter().map(|&r| norms[r as usize]).collect();
        sorted.resize(padded, 0.0);
        order.resize(padded, u32::MAX);
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        for c in sorted.chunks_exact(SCAN_BLOCK) {
            let (l, h) = c
                .iter()
                .filter(|&&n| n > 0.0)
                .fold((f32::INFINITY, 0.0f32), |(l, h), &n| (l.min(n), h.max(n)));
            lo.push(l);
            hi.push(if h > 0.0 { h } else { f32::INFINITY });
        }
        let hi_max = sorted
            .iter()
            .filter(|n| n.is_finite())
            .fold(0.0f32, |a, &n| a.max(n));
        Some(ScanIndex {
            codes,
            order,
            norms: sorted,
            lo,
            hi,
            hi_max,
            m: pq.subquantizers(),
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.codes.rows()
    }

    /// Bytes of memory the index takes.
    pub fn bytes(&self) -> usize {
        self.codes.bytes()
            + self.order.len() * 4
            + self.norms.len() * 4
            + (self.lo.len() + self.hi.len()) * 4
    }

    /// The top `k` rows by cosine (`dot_all / norm`, as `exact::cosines` ranks them) among the
    /// first `limit` rows of `pq`, skipping `exclude`. `None` when the query's tables cannot be
    /// quantized (not finite, or too many subquantizers): the caller scans with the f32
    /// tables.
    ///
    /// # Panics
    /// If `pq` is not the model the index was built from (rows or subquantizers differ).
    pub fn top_k(
        &self,
        pq: &PqMatrix,
        query: &[f32],
        k: usize,
        limit: usize,
        exclude: &[u32],
    ) -> Option<(Vec<Hit>, ScanStats)> {
        self.top_k_group(pq, &[query], k, limit, &[exclude]).pop()?
    }

    /// [`ScanIndex::top_k`] for up to [`SCAN_GROUP`] queries in one pass over the codes (each
    /// group of codes is read and split into nibbles once for all of them;
    /// [`ScanCodes::sums_group`]): one answer a query, `None` for a query whose tables cannot
    /// be quantized. The same answers as one [`ScanIndex::top_k`] a query.
    ///
    /// # Panics
    /// As [`ScanIndex::top_k`], or if `queries` and `exclude` differ in length or hold more
    /// than [`SCAN_GROUP`].
    pub fn top_k_group(
        &self,
        pq: &PqMatrix,
        queries: &[&[f32]],
        k: usize,
        limit: usize,
        exclude: &[&[u32]],
    ) -> Vec<Option<(Vec<Hit>, ScanStats)>> {
        assert_eq!(queries.len(), exclude.len(), "one exclusion list a query");
        assert!(queries.len() <= SCAN_GROUP, "at most {SCAN_GROUP} queries");
        assert!(
            pq.rows() == self.rows() && pq.subquantizers() == self.m,
            "the index of this model"
        );
        let rows = self.rows();
        let limit = limit.min(rows);
        // The queries the fast scan can take, with their f32 and quantized tables.
        let mut scans: Vec<Option<QueryScan>> = queries
            .iter()
            .zip(exclude)
            .map(|(q, &ex)| {
                let table = pq.lookup_table(q);
                let tables = ScanTables::new(&table, self.m)?;
                Some(QueryScan::new(table, tables, k, ex))
            })
            .collect();
        // The windows that hold the first `limit` rows (the rows past it are skipped one by
        // one in the last of them).
        let end = if limit == rows {
            rows
        } else {
            (limit.div_ceil(SORT_WINDOW) * SORT_WINDOW).min(rows)
        };
        let blocks = if k == 0 || limit == 0 {
            0
        } else {
            end.div_ceil(SCAN_BLOCK)
        };
        // One run of sums for each query that is scanned, in the order of `scans`.
        let live = scans.iter().flatten().count();
        let mut sums = vec![vec![0u16; RUN_BLOCKS.min(blocks) * SCAN_BLOCK]; live];
        let mut maxs = vec![vec![0u16; RUN_BLOCKS.min(blocks)]; live];
        // The sums a run of blocks at a time (16 KiB a query: tested while in cache).
        let mut b0 = 0;
        while b0 < blocks && live > 0 {
            let b1 = (b0 + RUN_BLOCKS).min(blocks);
            let len = (b1 - b0) * SCAN_BLOCK;
            {
                let tables: Vec<&ScanTables> = scans.iter().flatten().map(|s| &s.tables).collect();
                let mut outs: Vec<&mut [u16]> = sums.iter_mut().map(|v| &mut v[..len]).collect();
                let mut most: Vec<&mut [u16]> =
                    maxs.iter_mut().map(|v| &mut v[..b1 - b0]).collect();
                self.codes.sums_group(&tables, b0, b1, &mut outs, &mut most);
            }
            for ((scan, run), most) in scans.iter_mut().flatten().zip(&sums).zip(&maxs) {
                scan.absorb(pq, self, &run[..len], &most[..b1 - b0], b0, limit);
            }
            b0 = b1;
        }
        scans
            .iter_mut()
            .map(|s| {
                s.take().map(|s| {
                    let stats = ScanStats {
                        scanned: blocks.saturating_mul(SCAN_BLOCK).min(rows),
                        tested_blocks: s.tested_blocks,
                        rescored: s.rescored,
                    };
                    (s.top.into_sorted(), stats)
                })
            })
            .collect()
    }
}

/// One query's state in a fast scan: its tables, the best rows so far and the running floor.
struct QueryScan<'e> {
    table: Vec<f32>,
    tables: ScanTables,
    exclude: &'e [u32],
    top: TopK,
    /// The floor a row's estimate must pass to be re-scored (from the k-th exact score).
    t: f32,
    tested_blocks: usize,
    rescored: usize,
}

impl<'e> QueryScan<'e> {
    fn new(table: Vec<f32>, tables: ScanTables, k: usize, exclude: &'e [u32]) -> Self {
        QueryScan {
            table,
            tables,
            exclude,
            top: TopK::new(k),
            t: f32::NEG_INFINITY,
            tested_blocks: 0,
            rescored: 0,
        }
    }

    /// Tests the blocks `b0 ..` of `index`, whose integer sums are `sums` and largest sums
    /// `maxs`, and re-scores the rows below `limit` that may rank. One pass: a row is re-scored
    /// when its estimate plus the error bound reaches the k-th exact score so far, `L` (times
    /// its norm; with a relative margin for the rounding of the comparison itself, and `>`
    /// against a floor one step lower is `≥` the floor). `L` only rises, so a row passed over
    /// could not have ranked at the end either. Rows of norm zero never rank, as in the float
    /// scan.
    ///
    /// A block is tested row by row only when its largest sum exceeds the block's threshold:
    /// a row of norm `n` passes only if `s · unit + add > t · n`, and with every `n` of the
    /// block in `[lo, hi]`, `t · n ≥ t · lo` when `t ≥ 0` (`t · hi` when `t < 0`); so
    /// `s > (t · lo − add) / unit` less the f32 rounding of the row test and of this
    /// threshold (each at most a few 2^-24 of its terms, all bounded through the largest
    /// finite norm; the margin below is over 4 times that) is necessary. Rows of infinite norm
    /// never pass while `t ≥ 0`, and a block of them gets an infinite threshold then.
    fn absorb(
        &mut self,
        pq: &PqMatrix,
        index: &ScanIndex,
        sums: &[u16],
        maxs: &[u16],
        b0: usize,
        limit: usize,
    ) {
        let floor = |bound: f32| {
            let f = bound - bound.abs() * 1e-5 - f32::MIN_POSITIVE;
            f - f.abs() * f32::EPSILON - f32::MIN_POSITIVE
        };
        let unit = self.tables.unit();
        // The estimate's upper bound: `s · unit + add`.
        let add = self.tables.bias() + self.tables.error();
        // The block threshold is `t · inv · nb − c`, recomputed when `t` changes.
        let inv = 1.0 / f64::from(unit);
        let hi_max = f64::from(index.hi_max);
        let line = |t: f32| {
            let t64 = f64::from(t);
            let margin = 4e-6 * (65536.0 + (f64::from(add).abs() + t64.abs() * hi_max) * inv) + 1.0;
            ((t64 * inv) as f32, (f64::from(add) * inv + margin) as f32)
        };
        let (mut slope, mut c) = line(self.t);
        let mut bounds = if self.t >= 0.0 { &index.lo } else { &index.hi };
        for (k, (ss, &most)) in sums.chunks_exact(SCAN_BLOCK).zip(maxs).enumerate() {
            let b = b0 + k;
            // NaN (e.g. `t` not yet finite) never skips.
            if f32::from(most) <= slope * bounds[b] - c {
                continue;
            }
            self.tested_blocks += 1;
            let p0 = b * SCAN_BLOCK;
            let ns = &index.norms[p0..p0 + SCAN_BLOCK];
            let before = self.t;
            for (i, (&s, &n)) in ss.iter().zip(ns).enumerate() {
                if n > 0.0 && f32::from(s) * unit + add > self.t * n {
                    let id = index.order[p0 + i];
                    if (id as usize) < limit && !self.exclude.contains(&id) {
                        self.top.push(id, pq.adc_row(&self.table, id as usize) / n);
                        self.rescored += 1;
                        self.t = floor(self.top.threshold());
                    }
                }
            }
            if self.t != before {
                (slope, c) = line(self.t);
                bounds = if self.t >= 0.0 { &index.lo } else { &index.hi };
            }
        }
    }
}

/// The fast scan as a search object holds it: whether to use it, and the [`ScanIndex`] of its
/// model, built on the first query that can use it.
#[derive(Debug, Default)]
pub(crate) struct FastScan {
    scan: PqScan,
    index: OnceLock<Option<ScanIndex>>,
}

impl FastScan {
    pub(crate) fn new(scan: PqScan) -> Self {
        FastScan {
            scan,
            index: OnceLock::new(),
        }
    }

    /// The 4-bit PQ matrix of `emb` and its index, when the fast scan is asked for and
    /// applies. `emb` must be the same model on every call (the search object's own).
    fn rows<'a>(&'a self, emb: &'a Embeddings) -> Option<(&'a PqMatrix, &'a ScanIndex)> {
        let pq = match (self.scan, emb.storage()) {
            (PqScan::Fast, Storage::Pq(pq)) if pq.fast_scan_ready() => pq,
            _ => return None,
        };
        let index = self
            .index
            .get_or_init(|| ScanIndex::new(pq, emb.norms()))
            .as_ref()?;
        Some((pq, index))
    }

    /// [`exact::top_k`] by the fast scan when it applies (same answer); `None` otherwise.
    pub(crate) fn try_top_k(
        &self,
        emb: &Embeddings,
        query: &[f32],
        k: usize,
        limit: usize,
        exclude: &[u32],
    ) -> Option<Vec<Hit>> {
        let (pq, index) = self.rows(emb)?;
        if query.len() != pq.dims() {
            return None;
        }
        index
            .top_k(pq, query, k, limit, exclude)
            .map(|(hits, _)| hits)
    }

    /// [`exact::top_k_batch`] by the fast scan when it applies, groups of queries in parallel
    /// (same answers; a query whose tables cannot be quantized is scanned with the f32 tables);
    /// `None` otherwise.
    pub(crate) fn try_top_k_batch(
        &self,
        emb: &Embeddings,
        queries: &[f32],
        k: usize,
        limit: usize,
        exclude: &[Vec<u32>],
    ) -> Option<Vec<Vec<Hit>>> {
        let (pq, index) = self.rows(emb)?;
        let dims = pq.dims();
        if dims == 0 || !queries.len().is_multiple_of(dims) {
            return None;
        }
        let none: Vec<u32> = Vec::new();
        // Groups of queries share each pass over the codes; the groups run in parallel.
        let groups: Vec<Vec<Vec<Hit>>> = queries
            .par_chunks(dims * SCAN_GROUP)
            .enumerate()
            .map(|(g, group)| {
                let qs: Vec<&[f32]> = group.chunks(dims).collect();
                let ex: Vec<&[u32]> = (0..qs.len())
                    .map(|i| &exclude.get(g * SCAN_GROUP + i).unwrap_or(&none)[..])
                    .collect();
                index
                    .top_k_group(pq, &qs, k, limit, &ex)
                    .into_iter()
                    .zip(qs.iter().zip(&ex))
                    .map(|(got, (q, ex))| match got {
                        Some((hits, _)) => hits,
                        None => exact::top_k(emb, q, k, limit, ex),
                    })
                    .collect()
            })
            .collect();
        Some(groups.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::search::exact::{cosines, select};
    use crate::search::{Compressed, Exact, Screening, Search};
    use crate::vocab::Vocab;

    /// 4-bit PQ rows of `m` subquantizers: codes drawn at random, centroids normal around a
    /// per-codebook offset (so rows' norms differ). With `ties`, rows 5 and 6 repeat row 2's
    /// codes (exact ties) and row 9 is all zero centroids (norm zero: never ranks).
    fn model(rows: usize, m: usize, dsub: usize, seed: u64, ties: bool) -> Embeddings {
        let mut rng = Rng::new(seed);
        let mut codes: Vec<u8> = (0..rows * m).map(|_| rng.below(16) as u8).collect();
        let mut cents: Vec<f32> = (0..m * 16 * dsub).map(|_| rng.normal()).collect();
        if ties {
            for j in 0..m {
                cents[j * 16 * dsub..(j * 16 + 1) * dsub].fill(0.0);
                codes[9 * m + j] = 0;
                if codes[2 * m + j] == 0 {
                    codes[2 * m + j] = 1;
                }
            }
            let row2 = codes[2 * m..3 * m].to_vec();
            codes[5 * m..6 * m].copy_from_slice(&row2);
            codes[6 * m..7 * m].copy_from_slice(&row2);
        }
        let pq = PqMatrix::new(rows, m * dsub, m, 4, codes, cents, None).unwrap();
        let words = (0..rows).map(|i| format!("w{i}")).collect();
        Embeddings::new(Vocab::from_words(words).unwrap(), pq).unwrap()
    }

    fn query(dims: usize, rng: &mut Rng) -> Vec<f32> {
        let mut q: Vec<f32> = (0..dims).map(|_| rng.normal()).collect();
        crate::kernels::normalize(&mut q);
        q
    }

    /// The float scan: every row's f32 ADC cosine, the best `k` by score then id.
    fn float_top(emb: &Embeddings, q: &[f32], k: usize, limit: usize, ex: &[u32]) -> Vec<Hit> {
        select(&cosines(emb, q, limit), k, ex)
    }

    /// One query through a freshly built index.
    fn top_k(
        pq: &PqMatrix,
        norms: &[f32],
        q: &[f32],
        k: usize,
        limit: usize,
        ex: &[u32],
    ) -> Option<(Vec<Hit>, ScanStats)> {
        ScanIndex::new(pq, norms)?.top_k(pq, q, k, limit, ex)
    }

    fn top_k_group(
        pq: &PqMatrix,
        norms: &[f32],
        qs: &[&[f32]],
        k: usize,
        limit: usize,
        ex: &[&[u32]],
    ) -> Vec<Option<(Vec<Hit>, ScanStats)>> {
        ScanIndex::new(pq, norms)
            .unwrap()
            .top_k_group(pq, qs, k, limit, ex)
    }

    fn pq(emb: &Embeddings) -> &PqMatrix {
        match emb.storage() {
            Storage::Pq(p) => p,
            _ => panic!("pq"),
        }
    }

    #[test]
    fn fast_scan_answers_equal_the_float_scan() {
        let mut rng = Rng::new(7);
        for (rows, m, dsub, seed) in [(3000, 25, 2, 1), (2000, 1, 3, 2), (1500, 7, 1, 3)]
            .into_iter()
            .chain([(999, 50, 1, 4), (64, 4, 2, 5), (20, 3, 2, 6)])
        {
            let emb = model(rows, m, dsub, seed, true);
            let mut rescored = 0;
            for t in 0..12 {
                // Query 0 is row 2's direction: the ties 2, 5, 6 lead (ranked by id).
                let q = if t == 0 {
                    let mut v = emb.vector(2).unwrap();
                    crate::kernels::normalize(&mut v);
                    v
                } else {
                    query(m * dsub, &mut rng)
                };
                let k = [1, 10, 30][t % 3];
                let limit = if t % 4 == 3 { rows / 2 + 1 } else { rows };
                let ex: Vec<u32> = if t % 2 == 1 { vec![3, 5, 11] } else { vec![] };
                let (got, stats) = top_k(pq(&emb), emb.norms(), &q, k, limit, &ex).unwrap();
                let want = float_top(&emb, &q, k, limit, &ex);
                assert_eq!(got, want, "rows {rows} m {m} query {t}");
                assert!(got.iter().all(|h| h.id != 9), "norm zero never ranks");
                if t == 0 && k <= 10 {
                    let ids: Vec<u32> = got.iter().take(3).map(|h| h.id).collect();
                    assert_eq!(ids[..k.min(3)], [2, 5, 6][..k.min(3)], "ties by id");
                }
                assert!(stats.scanned >= limit.min(rows) && stats.scanned <= rows);
                rescored += stats.rescored;
            }
            // The bound is useful: far fewer rows re-scored than scanned on large models.
            if rows >= 1500 && m > 1 {
                assert!(
                    rescored < 12 * rows / 4,
                    "rows {rows} m {m}: {rescored} re-scored"
                );
            }
        }
    }

    #[test]
    fn grouped_scans_answer_as_one_query_at_a_time() {
        let mut rng = Rng::new(21);
        for (rows, m, dsub) in [(3000, 25, 2), (700, 7, 1), (40, 2, 3)] {
            let emb = model(rows, m, dsub, 31, true);
            let p = pq(&emb);
            for n in 1..=SCAN_GROUP {
                let mut qs: Vec<Vec<f32>> = (0..n).map(|_| query(m * dsub, &mut rng)).collect();
                if n == 3 {
                    // A query whose tables cannot be quantized: no answer from the fast scan.
                    qs[1][0] = f32::NAN;
                }
                let ex: Vec<Vec<u32>> = (0..n).map(|i| vec![i as u32, 5]).collect();
                let qr: Vec<&[f32]> = qs.iter().map(|q| &q[..]).collect();
                let er: Vec<&[u32]> = ex.iter().map(|e| &e[..]).collect();
                let got = top_k_group(p, emb.norms(), &qr, 10, rows - 3, &er);
                for i in 0..n {
                    let one = top_k(p, emb.norms(), &qs[i], 10, rows - 3, &ex[i]);
                    assert_eq!(got[i], one, "rows {rows} group of {n}, query {i}");
                    if n == 3 && i == 1 {
                        assert!(got[i].is_none());
                    } else {
                        let want = float_top(&emb, &qs[i], 10, rows - 3, &ex[i]);
                        assert_eq!(got[i].as_ref().unwrap().0, want);
                    }
                }
            }
        }
    }

    #[test]
    fn fast_scan_handles_small_k_limits_and_everything_excluded() {
        let emb = model(70, 5, 2, 9, true);
        let q = query(10, &mut Rng::new(3));
        let p = pq(&emb);
        // k above the rows that can rank: all of them, as the float scan gives.
        let (all, _) = top_k(p, emb.norms(), &q, 500, 70, &[]).unwrap();
        assert_eq!(all.len(), 69);
        assert_eq!(all, float_top(&emb, &q, 500, 70, &[]));
        assert!(top_k(p, emb.norms(), &q, 0, 70, &[]).unwrap().0.is_empty());
        assert!(top_k(p, emb.norms(), &q, 5, 0, &[]).unwrap().0.is_empty());
        let every: Vec<u32> = (0..70).collect();
        assert!(top_k(p, emb.norms(), &q, 5, 70, &every)
            .unwrap()
            .0
            .is_empty());
        // Limit inside the first block.
        let (few, _) = top_k(p, emb.norms(), &q, 3, 7, &[]).unwrap();
        assert_eq!(few, float_top(&emb, &q, 3, 7, &[]));
    }

    #[test]
    fn sorted_blocks_answer_as_the_float_scan_with_stored_norms_and_limits() {
        // Three windows of rows; norms as a file may store them: spread over three orders of
        // magnitude, one zero, one NaN (neither ever ranks).
        let rows = 2 * SORT_WINDOW + 900;
        let natural = model(rows, 8, 2, 41, false).norms().to_vec();
        let mut rng = Rng::new(8);
        let mut norms: Vec<f32> = natural
            .iter()
            .map(|&n| n * 10f32.powf(3.0 * rng.uniform()))
            .collect();
        norms[17] = 0.0;
        norms[SORT_WINDOW + 5] = f32::NAN;
        let emb = model(rows, 8, 2, 41, false).with_norms(norms).unwrap();
        let index = ScanIndex::new(pq(&emb), emb.norms()).unwrap();
        // Blocks hold rows of close norms: the largest is at most a few times the smallest.
        let tight = index
            .lo
            .iter()
            .zip(&index.hi)
            .filter(|(lo, hi)| *hi / *lo < 1.5)
            .count();
        assert!(tight * 10 >= index.lo.len() * 8, "{tight} tight blocks");
        for (t, (k, limit)) in [
            (10, rows),
            (10, 1),
            (5, 100),
            (10, SORT_WINDOW),
            (10, SORT_WINDOW + 1),
            (30, 2 * SORT_WINDOW + 17),
            // The k-th score below zero: the largest norm of a block bounds its rows.
            (3000, 4000),
            (rows, rows),
        ]
        .into_iter()
        .enumerate()
        {
            let q = query(16, &mut rng);
            let ex = [3, 17, SORT_WINDOW as u32 + 5, limit as u32 - 1];
            let (got, stats) = index.top_k(pq(&emb), &q, k, limit, &ex).unwrap();
            let want = float_top(&emb, &q, k, limit, &ex);
            assert_eq!(got, want, "case {t}: k {k} limit {limit}");
            assert!(got
                .iter()
                .all(|h| (h.id as usize) < limit && !ex.contains(&h.id)));
            if k == 10 && limit == rows {
                // Most blocks are passed over by their integer threshold.
                let blocks = rows.div_ceil(SCAN_BLOCK);
                assert!(stats.tested_blocks * 4 < blocks, "{stats:?}");
            }
        }
    }

    #[test]
    fn search_objects_use_the_fast_scan_and_answer_as_the_float_scan() {
        let emb = model(2500, 10, 3, 12, true);
        let mut rng = Rng::new(5);
        let queries: Vec<f32> = (0..20).flat_map(|_| query(30, &mut rng)).collect();
        let ex: Vec<Vec<u32>> = (0..20).map(|q| vec![q as u32 * 7]).collect();
        let fast = Exact::new(&emb, Screening::Off);
        let float = Exact::new(&emb, Screening::Off).with_pq_scan(PqScan::Float);
        let a = fast.search(&queries, 10, 2500, &ex).unwrap();
        let b = float.search(&queries, 10, 2500, &ex).unwrap();
        assert_eq!(a, b);
        let c = Compressed::new(&emb, None, 0)
            .search(&queries, 10, 2000, &ex)
            .unwrap();
        let d = Compressed::new(&emb, None, 0)
            .with_pq_scan(PqScan::Float)
            .search(&queries, 10, 2000, &ex)
            .unwrap();
        assert_eq!(c, d);
        for (q, hits) in c.iter().enumerate() {
            let want = float_top(&emb, &queries[q * 30..(q + 1) * 30], 10, 2000, &ex[q]);
            assert_eq!(*hits, want, "query {q}");
        }
        // Single queries through Exact too.
        let one = fast.search_one(&queries[..30], 5, 2500, &[]).unwrap();
        assert_eq!(one, float_top(&emb, &queries[..30], 5, 2500, &[]));
    }
}
