//! Pieces shared by the word2vec-style trainers: the unigram^0.75 noise distribution as an alias
//! table, the Huffman tree of hierarchical softmax, word2vec's subsampling of frequent words, the
//! sigmoid / log-sigmoid tables and the linear learning-rate schedule.

use crate::rng::Rng;

/// Walker's alias table: samples `i` with probability proportional to `weights[i]` in O(1).
#[derive(Debug, Clone)]
pub struct AliasTable {
    /// Per slot: the threshold below which a 32-bit draw keeps the slot's own index, and the
    /// index taken otherwise. The two sit side by side so a draw reads one cache line, not two
    /// (the table is read at random, six times a skip-gram pair, and is mostly not in L1).
    slots: Vec<[u32; 2]>,
}

impl AliasTable {
    /// The table of `weights` (non-negative, not all zero; an empty or all-zero list gives a
    /// table over one entry).
    pub fn new(weights: &[f64]) -> Self {
        let n = weights.len().max(1);
        let total: f64 = weights.iter().sum();
        let mut scaled: Vec<f64> = if total > 0.0 {
            weights.iter().map(|w| w * n as f64 / total).collect()
        } else {
            vec![1.0; n]
        };
        let mut prob = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            prob[s] = (scaled[s] * 4_294_967_296.0).min(u32::MAX as f64) as u32;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        AliasTable {
            slots: prob.into_iter().zip(alias).map(|(p, a)| [p, a]).collect(),
        }
    }

    /// The unigram^`power` noise distribution of word2vec over `counts`.
    pub fn unigram(counts: &[u64], power: f64) -> Self {
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        AliasTable::new(&w)
    }

    /// Draws one index.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> u32 {
        let r = rng.next_u64();
        let i = ((r >> 32) * self.slots.len() as u64) >> 32;
        let [keep_below, alias] = self.slots[i as usize];
        // Which side a draw takes is random, so a branch here is mispredicted often; a select
        // is not.
        std::hint::select_unpredictable((r as u32) < keep_below, i as u32, alias)
    }
}

/// Hierarchical-softmax paths: for each word the inner nodes from the root down and the binary
/// code (0/1 per node), built as word2vec's `CreateBinaryTree` does (Huffman over counts).
#[derive(Debug, Clone)]
pub struct Huffman {
    offsets: Vec<u32>,
    points: Vec<u32>,
    codes: Vec<u8>,
}

impl Huffman {
    /// The tree over `counts` (`counts.len()` leaves, `counts.len() − 1` inner nodes numbered
    /// `0..n−1`).
    pub fn new(counts: &[u64]) -> Self {
        let n = counts.len();
        let mut offsets = vec![0u32; n + 1];
        if n < 2 {
            return Huffman {
                offsets,
                points: Vec::new(),
                codes: Vec::new(),
            };
        }
        // Leaves sorted by ascending count; the two-queue merge of word2vec.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
        let mut count = vec![u64::MAX; 2 * n];
        for (pos, &i) in order.iter().enumerate() {
            count[pos] = counts[i];
        }
        let mut parent = vec![0usize; 2 * n];
        let mut binary = vec![0u8; 2 * n];
        let (mut pos1, mut pos2) = (n as isize - 1, n);
        for a in 0..n - 1 {
            let mut pick = || {
                if pos1 >= 0 && count[pos1 as usize] < count[pos2] {
                    pos1 -= 1;
                    (pos1 + 1) as usize
                } else {
                    pos2 += 1;
                    pos2 - 1
                }
            };
            let min1 = pick();
            let min2 = pick();
            count[n + a] = count[min1].saturating_add(count[min2]);
            parent[min1] = n + a;
            parent[min2] = n + a;
            binary[min2] = 1;
        }
        let mut per_word: Vec<(Vec<u32>, Vec<u8>)> = vec![(Vec::new(), Vec::new()); n];
        for (pos, &word) in order.iter().enumerate() {
            let (mut pts, mut cds) = (Vec::new(), Vec::new());
            let mut b = pos;
            while b != 2 * n - 2 {
                cds.push(binary[b]);
                b = parent[b];
                pts.push((b - n) as u32);
            }
            pts.reverse();
            cds.reverse();
            per_word[word] = (pts, cds);
        }
        let mut points = Vec::new();
        let mut codes = Vec::new();
        for (i, (p, c)) in per_word.into_iter().enumerate() {
            points.extend(p);
            codes.extend(c);
            offsets[i + 1] = points.len() as u32;
        }
        Huffman {
            offsets,
            points,
            codes,
        }
    }

    /// Inner nodes (rows of the output matrix) and codes on the path to `word`.
    #[inline]
    pub fn path(&self, word: u32) -> (&[u32], &[u8]) {
        let (a, b) = (
            self.offsets[word as usize] as usize,
            self.offsets[word as usize + 1] as usize,
        );
        (&self.points[a..b], &self.codes[a..b])
    }
}

/// word2vec's keep probability for a word of count `count` among `total` words with threshold
/// `sample` (`(√(f/s) + 1)·s/f`, `f = count/total`), as a threshold on 32 random bits
/// (`u32::MAX` = always keep). `sample <= 0` keeps everything. `total` is the sum of `counts`
/// (word2vec, gensim); [`keep_thresholds_over`] takes another.
pub fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u32> {
    keep_thresholds_over(counts, sample, counts.iter().sum())
}

/// [`keep_thresholds`] with the frequencies taken over `total` tokens: fastText divides by every
/// token read (out-of-vocabulary ones and `</s>` included), which keeps frequent words a little
/// more often than the sum of the vocabulary's counts would.
pub fn keep_thresholds_over(counts: &[u64], sample: f64, total: u64) -> Vec<u32> {
    counts
        .iter()
        .map(|&c| {
            if sample <= 0.0 || c == 0 {
                return u32::MAX;
            }
            let st = sample * total as f64;
            let p = ((c as f64 / st).sqrt() + 1.0) * st / c as f64;
            if p >= 1.0 {
                u32::MAX
            } else {
                (p * 4_294_967_296.0) as u32
            }
        })
        .collect()
}

/// Scores beyond ±`MAX_EXP` count as saturated (word2vec's convention).
pub const MAX_EXP: f32 = 6.0;

/// Which tabulated sigmoid the trainer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigmoidKind {
    /// word2vec C's and gensim's: 1,000 entries on [−6, 6], read at index
    /// `⌊(x + 6) · 83⌋` (their `EXP_TABLE_SIZE / MAX_EXP / 2` is integer division, 83 rather
    /// than 83.3, so the table is read up to 0.03 to the left of `x`), exactly 0/1 from ±6 on.
    #[default]
    Word2Vec,
    /// fastText's (`loss.cc`): 512 steps on [−8, 8] (the value at the step's left end),
    /// exactly 0 below −8 and 1 above 8.
    FastText,
}

impl SigmoidKind {
    /// `word2vec` or `fasttext`.
    pub fn name(self) -> &'static str {
        match self {
            SigmoidKind::Word2Vec => "word2vec",
            SigmoidKind::FastText => "fasttext",
        }
    }
}

/// Tabulated sigmoid and −log-sigmoid on `[−max, max]` ([`SigmoidKind`]).
#[derive(Debug, Clone)]
pub struct SigmoidTable {
    sig: Vec<f32>,
    nls: Vec<f32>,
    max: f32,
    /// Table steps per unit of the score.
    scale: f32,
    /// Whether ±`max` itself is read from the table (fastText) or saturated (word2vec).
    edges_in_table: bool,
}

impl Default for SigmoidTable {
    fn default() -> Self {
        SigmoidTable::new(SigmoidKind::Word2Vec)
    }
}

impl SigmoidTable {
    /// The table of `kind`.
    pub fn new(kind: SigmoidKind) -> Self {
        // (half-width, entries, steps per unit of the score read, ±half-width in the table)
        let (max, size, scale, edges_in_table) = match kind {
            SigmoidKind::Word2Vec => (MAX_EXP, 1000usize, (1000 / 6 / 2) as f32, false),
            SigmoidKind::FastText => (8.0f32, 512usize, 512.0 / 16.0, true),
        };
        let mut sig = Vec::with_capacity(size + 1);
        let mut nls = Vec::with_capacity(size + 1);
        for i in 0..=size {
            let x = (i as f64 / size as f64 * 2.0 - 1.0) * max as f64;
            let s = 1.0 / (1.0 + (-x).exp());
            sig.push(s as f32);
            nls.push(-(s.ln()) as f32);
        }
        SigmoidTable {
            sig,
            nls,
            max,
            scale,
            edges_in_table,
        }
    }

    /// The table index of `x`, or `None` when `x` is outside the table: then `Some(false)` /
    /// `Some(true)` tells below / above.
    #[inline]
    fn place(&self, x: f32) -> Result<usize, bool> {
        let inside = if self.edges_in_table {
            -self.max <= x && x <= self.max
        } else {
            -self.max < x && x < self.max
        };
        if inside {
            Ok(((x + self.max) * self.scale) as usize)
        } else {
            // NaN counts as above (word2vec's `f >= MAX_EXP` fails for it too, but a NaN score
            // never reaches here from finite vectors).
            Err(x >= 0.0 || x.is_nan())
        }
    }

    /// σ(x), saturating to 0/1 outside the table.
    #[inline]
    pub fn sigmoid(&self, x: f32) -> f32 {
        match self.place(x) {
            Ok(i) => self.sig[i],
            Err(above) => above as u8 as f32,
        }
    }

    /// −log σ(x) (the loss of a positive example with score `x`); linear outside the table.
    #[inline]
    pub fn neg_log_sigmoid(&self, x: f32) -> f32 {
        match self.place(x) {
            Ok(i) => self.nls[i],
            Err(true) => 0.0,
            Err(false) => -x,
        }
    }
}

/// The linear decay of word2vec and gensim: from `alpha` at the start to `min_alpha` when
/// `done` reaches `total` (`done/(total + 1)` as word2vec C counts), `min_alpha` after.
#[inline]
pub fn learning_rate(alpha: f32, min_alpha: f32, done: u64, total: u64) -> f32 {
    let progress = (done as f64 / (total as f64 + 1.0)).min(1.0);
    (alpha as f64 - (alpha as f64 - min_alpha as f64) * progress) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_table_matches_unigram_075() {
        let counts = [1000u64, 300, 50, 7, 1, 0];
        let t = AliasTable::unigram(&counts, 0.75);
        let mut rng = Rng::new(5);
        let n = 400_000;
        let mut seen = [0usize; 6];
        for _ in 0..n {
            seen[t.sample(&mut rng) as usize] += 1;
        }
        let w: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
        let z: f64 = w.iter().sum();
        for i in 0..6 {
            let p = w[i] / z;
            let got = seen[i] as f64 / n as f64;
            assert!((got - p).abs() < 0.005, "{i}: {got} vs {p}");
        }
        assert_eq!(seen[5], 0);
    }

    #[test]
    fn huffman_codes_are_prefix_free_and_optimal_lengths() {
        // Classic example: counts 45,13,12,16,9,5 → code lengths 1,3,3,3,4,4.
        let counts = [45u64, 16, 13, 12, 9, 5];
        let h = Huffman::new(&counts);
        let lens: Vec<usize> = (0..6).map(|w| h.path(w).0.len()).collect();
        assert_eq!(lens, vec![1, 3, 3, 3, 4, 4]);
        let codes: Vec<Vec<u8>> = (0..6).map(|w| h.path(w).1.to_vec()).collect();
        for i in 0..6 {
            for j in 0..6 {
                if i != j {
                    assert!(!codes[j].starts_with(&codes[i]), "{i} prefixes {j}");
                }
            }
            // Every path starts at the root (the last inner node).
            assert_eq!(h.path(i as u32).0[0], 4);
        }
    }

    /// fastText's table (`loss.cc`): ±8 in 512 steps, the value at the step's left end, the
    /// edges read from the table and exact 0/1 only beyond them; word2vec's saturates at ±6.
    #[test]
    fn sigmoid_tables_are_word2vecs_and_fasttexts() {
        let sig = |x: f64| (1.0 / (1.0 + (-x).exp())) as f32;
        let ft = SigmoidTable::new(SigmoidKind::FastText);
        let w2v = SigmoidTable::default();
        assert_eq!(ft.sigmoid(8.0), sig(8.0));
        assert_eq!(ft.sigmoid(-8.0), sig(-8.0));
        assert_eq!(ft.sigmoid(8.001), 1.0);
        assert_eq!(ft.sigmoid(-8.001), 0.0);
        assert_eq!(ft.sigmoid(f32::INFINITY), 1.0);
        assert_eq!(ft.sigmoid(f32::NEG_INFINITY), 0.0);
        // Between 6 and 8 fastText's is below 1 (word2vec's is exactly 1 there).
        assert_eq!(ft.sigmoid(7.0), sig(7.0));
        assert!(ft.sigmoid(7.0) < 1.0);
        assert_eq!(w2v.sigmoid(6.0), 1.0);
        assert_eq!(w2v.sigmoid(7.0), 1.0);
        assert_eq!(w2v.sigmoid(-6.0), 0.0);
        // Steps of 1/32: every x in [0, 1/32) reads σ(0); the next step σ(1/32).
        assert_eq!(ft.sigmoid(0.0), 0.5);
        assert_eq!(ft.sigmoid(0.03), 0.5);
        assert_eq!(ft.sigmoid(0.03125), sig(0.03125));
        assert_eq!(ft.sigmoid(-0.01), sig(-0.03125));
        // word2vec's (and gensim's): `EXP_TABLE[(int)((f + 6) * (1000 / 6 / 2))]` with
        // `EXP_TABLE[i] = σ((i / 1000 · 2 − 1) · 6)`: 0 reads entry 498 (σ(−0.024)), 0.03 reads
        // entry 500 (σ(0)), and the largest index read is 996.
        let entry = |i: f64| sig((i / 1000.0 * 2.0 - 1.0) * 6.0);
        assert_eq!(w2v.sigmoid(0.0), entry(498.0));
        assert_eq!(w2v.sigmoid(0.03), 0.5);
        assert_eq!(w2v.sigmoid(-5.999), entry(0.0));
        assert_eq!(w2v.sigmoid(5.999), entry(995.0));
        assert_eq!(w2v.sigmoid(1.0), entry(581.0));
        // The loss: −log σ, 0 above the table, −x below.
        assert!((ft.neg_log_sigmoid(0.0) - std::f32::consts::LN_2).abs() < 1e-6);
        assert_eq!(ft.neg_log_sigmoid(9.0), 0.0);
        assert_eq!(ft.neg_log_sigmoid(-9.0), 9.0);
        assert!(ft.neg_log_sigmoid(7.0) > 0.0);
        assert_eq!(w2v.neg_log_sigmoid(7.0), 0.0);
    }

    #[test]
    fn subsampling_follows_word2vec_formula_and_schedule_decays() {
        // f = 0.5, s = 0.01: p = (sqrt(50) + 1) * 0.02 = 0.16142
        let t = keep_thresholds(&[50, 50], 0.01);
        let p = t[0] as f64 / 4_294_967_296.0;
        assert!((p - ((50f64).sqrt() + 1.0) * 0.02).abs() < 1e-6);
        assert_eq!(keep_thresholds(&[1, 1_000_000], 1e-3)[0], u32::MAX);
        assert_eq!(learning_rate(0.025, 2.5e-6, 0, 100), 0.025);
        assert!((learning_rate(0.025, 0.0, 50, 99) - 0.0125).abs() < 1e-7);
        // gensim: alpha − (alpha − min_alpha) · progress, 0.025 → 0.0001.
        assert!((learning_rate(0.025, 1e-4, 50, 99) - 0.01255).abs() < 1e-7);
        assert!(
            (learning_rate(0.025, 1e-4, 100, 100) - (0.025 - 0.0249 * 100.0 / 101.0)).abs() < 1e-7
        );
        assert!((learning_rate(0.025, 2.5e-6, 1000, 100) - 2.5e-6).abs() < 1e-9);
        let s = SigmoidTable::default();
        assert!((s.sigmoid(0.0) - 0.5).abs() < 0.01);
        assert!((s.neg_log_sigmoid(1.0) - 0.3133).abs() < 0.01);
    }
}
