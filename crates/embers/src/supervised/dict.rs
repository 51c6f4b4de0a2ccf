//! The dictionary of a supervised model: words then labels, fastText's hash table over them,
//! each word's precomputed input rows (its own row and its character n-gram rows), and the
//! prune index of quantized models (kept n-gram bucket → row).

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::io::fasttext::{DictEntry, EntryType, FastTextArgs};
use crate::subword::fasttext_hash;

/// The end-of-line token fastText appends to every line.
pub const EOS: &[u8] = b"</s>";

/// Words and labels of a model, with fastText's lookups.
#[derive(Debug, Clone)]
pub struct Dictionary {
    /// Entries in id order: words, then labels.
    pub entries: Vec<DictEntry>,
    /// Each entry's bytes as stored (fastText hashes bytes).
    pub raw: Vec<Vec<u8>>,
    /// Tokens seen in training.
    pub ntokens: i64,
    /// fastText's `pruneidx_size_`: -1 when not pruned, else the number of kept buckets.
    pub pruneidx_size: i64,
    /// Kept bucket → its row among the n-gram rows (pruned models), in file order.
    pub prune: Vec<(i32, i32)>,
    nwords: usize,
    minn: u32,
    maxn: u32,
    bucket: u32,
    prune_map: FxHashMap<i32, i32>,
    /// One bit per bucket, set for the kept ones (pruned models with at most 2^26 buckets):
    /// most n-grams of a pruned model are not kept, and this answers them without probing the
    /// map. Empty when not built (then the map alone answers).
    prune_bits: Vec<u64>,
    slots: Vec<i32>,
    sub_offsets: Vec<u32>,
    sub_rows: Vec<i32>,
}

impl Dictionary {
    /// Builds the lookups. `raw` are the entries' bytes; `pruneidx_size` and `prune` as stored.
    pub fn new(
        entries: Vec<DictEntry>,
        raw: Vec<Vec<u8>>,
        ntokens: i64,
        pruneidx_size: i64,
        prune: Vec<(i32, i32)>,
        args: &FastTextArgs,
    ) -> Result<Self> {
        if raw.len() != entries.len() {
            return Err(Error::invalid("dictionary", "one byte string per entry"));
        }
        let nwords = entries
            .iter()
            .take_while(|e| e.entry_type == EntryType::Word)
            .count();
        if entries[nwords..]
            .iter()
            .any(|e| e.entry_type == EntryType::Word)
        {
            return Err(Error::invalid(
                "dictionary",
                "words must come before labels",
            ));
        }
        if entries.len() > i32::MAX as usize / 2 {
            return Err(Error::invalid("dictionary", "too many entries"));
        }
        let mut prune_map = FxHashMap::default();
        for &(a, b) in &prune {
            prune_map.insert(a, b);
        }
        let nbuckets = args.bucket.max(0) as usize;
        let mut prune_bits = Vec::new();
        if pruneidx_size > 0
            && nbuckets <= 1 << 26
            && prune
                .iter()
                .all(|&(a, _)| a >= 0 && (a as usize) < nbuckets)
        {
            prune_bits = vec![0u64; nbuckets.div_ceil(64)];
            for &(a, _) in &prune {
                prune_bits[a as usize / 64] |= 1 << (a as usize % 64);
            }
        }
        let size = (entries.len() * 2).next_power_of_two().max(16);
        let mut d = Dictionary {
            entries,
            raw,
            ntokens,
            pruneidx_size,
            prune,
            nwords,
            minn: args.minn.max(0) as u32,
            maxn: args.maxn.max(0) as u32,
            bucket: args.bucket.max(0) as u32,
            prune_map,
            prune_bits,
            slots: vec![-1; size],
            sub_offsets: Vec::with_capacity(nwords + 1),
            sub_rows: Vec::new(),
        };
        for i in 0..d.raw.len() {
            let h = fasttext_hash(&d.raw[i]);
            let s = d.slot(&d.raw[i], h);
            // A repeated word maps to its last entry, as fastText's table does.
            d.slots[s] = i as i32;
        }
        d.sub_offsets.push(0);
        let mut rows = Vec::new();
        for i in 0..nwords {
            rows.clear();
            rows.push(i as i32);
            if d.maxn > 0 && d.raw[i] != EOS {
                d.push_char_ngrams(&d.raw[i], &mut rows);
            }
            d.sub_rows.extend_from_slice(&rows);
            d.sub_offsets.push(d.sub_rows.len() as u32);
        }
        Ok(d)
    }

    fn slot(&self, w: &[u8], h: u32) -> usize {
        let mask = self.slots.len() - 1;
        let mut s = h as usize & mask;
        loop {
            let id = self.slots[s];
            if id < 0 || self.raw[id as usize] == w {
                return s;
            }
            s = (s + 1) & mask;
        }
    }

    /// The id of `w` (whose fastText hash is `h`), if it is in the dictionary.
    #[inline]
    pub fn find(&self, w: &[u8], h: u32) -> Option<usize> {
        let id = self.slots[self.slot(w, h)];
        (id >= 0).then_some(id as usize)
    }

    /// Number of words.
    pub fn nwords(&self) -> usize {
        self.nwords
    }

    /// Number of labels.
    pub fn nlabels(&self) -> usize {
        self.entries.len() - self.nwords
    }

    /// Label `i` (0-based among labels).
    pub fn label(&self, i: usize) -> &str {
        &self.entries[self.nwords + i].word
    }

    /// The labels' counts, in label order (the hierarchical-softmax tree is built from them).
    pub fn label_counts(&self) -> Vec<i64> {
        self.entries[self.nwords..]
            .iter()
            .map(|e| e.count)
            .collect()
    }

    /// True for a pruned (quantized) dictionary.
    pub fn is_pruned(&self) -> bool {
        self.pruneidx_size >= 0
    }

    /// Rows of the input matrix after the words: all buckets, or the pruned model's kept ones
    /// (the largest row index in the prune index + 1).
    pub fn ngram_rows(&self, bucket: i32) -> usize {
        if self.is_pruned() {
            self.prune
                .iter()
                .map(|&(_, b)| b as usize + 1)
                .max()
                .unwrap_or(0)
        } else {
            bucket.max(0) as usize
        }
    }

    /// fastText's `pushHash`: the input row of n-gram bucket `id`, if the model keeps it.
    #[inline]
    pub fn ngram_row(&self, id: u32) -> Option<i32> {
        if self.pruneidx_size == 0 {
            return None;
        }
        if self.pruneidx_size > 0 {
            if let Some(w) = self.prune_bits.get(id as usize / 64) {
                if (w >> (id % 64)) & 1 == 0 {
                    return None;
                }
            }
            return self
                .prune_map
                .get(&(id as i32))
                .map(|&r| self.nwords as i32 + r);
        }
        Some(self.nwords as i32 + id as i32)
    }

    /// Pushes the rows of the character n-grams of `word` (without the `<` `>` markers; they
    /// are added here), in fastText's order (its `computeSubwords`: n-grams of 1 to `maxn`
    /// UTF-8 characters starting at each character, `minn` at least, single-character n-grams
    /// of the markers left out). Each n-gram's hash extends the previous one's (FNV-1a is
    /// byte by byte), with no allocation: unknown words take this path on every prediction.
    pub fn push_char_ngrams(&self, word: &[u8], out: &mut Vec<i32>) {
        for_each_ngram_bucket(self.minn, self.maxn, self.bucket, word, |b| {
            if let Some(r) = self.ngram_row(b) {
                out.push(r);
            }
        });
    }

    /// The input rows of word `wid`: its own row, then its n-grams' (precomputed).
    #[inline]
    pub fn word_rows(&self, wid: usize) -> &[i32] {
        &self.sub_rows[self.sub_offsets[wid] as usize..self.sub_offsets[wid + 1] as usize]
    }

    /// Serialises the dictionary (header, entries, prune index) in fastText's layout.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.entries.len() as i32).to_le_bytes());
        out.extend_from_slice(&(self.nwords as i32).to_le_bytes());
        out.extend_from_slice(&(self.nlabels() as i32).to_le_bytes());
        out.extend_from_slice(&self.ntokens.to_le_bytes());
        out.extend_from_slice(&self.pruneidx_size.to_le_bytes());
        for (e, raw) in self.entries.iter().zip(&self.raw) {
            out.extend_from_slice(raw);
            out.push(0);
            out.extend_from_slice(&e.count.to_le_bytes());
            out.push(match e.entry_type {
                EntryType::Word => 0,
                EntryType::Label => 1,
            });
        }
        for &(a, b) in &self.prune {
            out.extend_from_slice(&a.to_le_bytes());
            out.extend_from_slice(&b.to_le_bytes());
        }
    }
}

/// The buckets of `word`'s character n-grams in fastText's order: the same as
/// [`crate::subword::SubwordConfig::for_each_bucket_bytes`], each hash extended from the
/// previous n-gram's and without allocating.
#[inline]
fn for_each_ngram_bucket(minn: u32, maxn: u32, bucket: u32, word: &[u8], mut f: impl FnMut(u32)) {
    if maxn == 0 || bucket == 0 {
        return;
    }
    let len = word.len() + 2;
    let at = |k: usize| -> u8 {
        if k == 0 {
            b'<'
        } else if k == len - 1 {
            b'>'
        } else {
            word[k - 1]
        }
    };
    let step = |h: u32, b: u8| (h ^ (b as i8) as i32 as u32).wrapping_mul(16_777_619);
    for i in 0..len {
        if (at(i) & 0xC0) == 0x80 {
            continue;
        }
        let mut h: u32 = 2_166_136_261;
        let mut j = i;
        let mut n = 1u32;
        while j < len && n <= maxn {
            h = step(h, at(j));
            j += 1;
            while j < len && (at(j) & 0xC0) == 0x80 {
                h = step(h, at(j));
                j += 1;
            }
            if n >= minn && !(n == 1 && (i == 0 || j == len)) {
                f(h % bucket);
            }
            n += 1;
        }
    }
}

#[cfg(test)]
mod ngram_tests {
    use super::for_each_ngram_bucket;
    use crate::subword::SubwordConfig;

    #[test]
    fn incremental_ngram_hashes_equal_the_subword_module() {
        let words: [&[u8]; 8] = [
            b"",
            b"a",
            b"hello",
            "naïve".as_bytes(),
            "日本語テキスト".as_bytes(),
            "🙂x🙂".as_bytes(),
            b"na\xefve",
            b"antidisestablishmentarianism",
        ];
        for (minn, maxn, buckets) in [(2, 4, 2_000_000), (3, 6, 1000), (1, 1, 7), (0, 3, 13)] {
            let cfg = SubwordConfig {
                minn,
                maxn,
                buckets,
            };
            for w in words {
                let mut want = Vec::new();
                cfg.for_each_bucket_bytes(w, |b| want.push(b));
                let mut got = Vec::new();
                for_each_ngram_bucket(minn, maxn, buckets, w, |b| got.push(b));
                assert_eq!(got, want, "{w:?} minn {minn} maxn {maxn}");
            }
        }
    }
}
