//! The token → id table of a vocabulary: open addressing over ids, so building it copies no
//! string and costs one hash per token (a 400,000-word vocabulary indexes in milliseconds).

use std::hash::{BuildHasher, Hasher};

use super::WordList;

const EMPTY: u32 = u32::MAX;

/// Maps tokens to their ids by linear probing in a table of 4-byte slots, at most 2/3 full;
/// the tokens themselves stay in the vocabulary's word list. Each slot holds an id in its low
/// bits and, in the bits the ids do not need (13 of them for 400,000 tokens), a tag taken from
/// the token's hash: a probe compares strings only when the tags agree, so a lookup rarely
/// reads more than one token even though the table is fairly full.
#[derive(Debug, Clone)]
pub(crate) struct IdTable {
    slots: Vec<u32>,
    len: usize,
    /// Bits of a slot holding the id; ids stay below `2^id_bits - 1`, so no slot is `EMPTY`.
    id_bits: u32,
}

impl Default for IdTable {
    fn default() -> Self {
        IdTable {
            slots: Vec::new(),
            len: 0,
            id_bits: 32,
        }
    }
}

fn hash(token: &str) -> u64 {
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(token.as_bytes());
    // Fx rotates its best bits to the bottom; a final xor-shift-multiply spreads them over all
    // 64, since `home` scales by the top bits and the tag comes from the middle ones.
    let mut x = h.finish();
    x ^= x >> 32;
    x = x.wrapping_mul(0xd6e8_feb8_6659_fd93);
    x ^ (x >> 32)
}

/// Slots for `n` tokens at a load of at most 2/3.
fn slots_for(n: usize) -> usize {
    (n + n / 2 + 1).max(16)
}

impl IdTable {
    /// An empty table with room for `n` tokens (of ids below `n`) without growing.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self::for_ids(n, n)
    }

    /// An empty table with room for `n` tokens of ids below `ids`, without growing.
    fn for_ids(n: usize, ids: usize) -> Self {
        let slots = slots_for(n);
        IdTable {
            slots: vec![EMPTY; slots],
            len: 0,
            id_bits: Self::id_bits_for(ids.max(slots)),
        }
    }

    /// Id bits for ids below `limit`: wide enough for all of them with the all-ones value left
    /// unused.
    fn id_bits_for(limit: usize) -> u32 {
        (usize::BITS - limit.leading_zeros()).clamp(1, 32)
    }

    /// The first slot to probe for a hash: the hash scaled to the table's size (any size
    /// works, so the table need not round up to a power of two).
    #[inline]
    fn home(&self, h: u64) -> usize {
        ((u128::from(h) * self.slots.len() as u128) >> 64) as usize
    }

    /// The tag bits of a hash, in place above the id bits (none when ids take all 32).
    #[inline]
    fn tag(&self, h: u64) -> u32 {
        ((h >> 16) as u32).checked_shl(self.id_bits).unwrap_or(0)
    }

    #[inline]
    fn id_mask(&self) -> u32 {
        u32::MAX.checked_shr(32 - self.id_bits).unwrap_or(0)
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// A table for `words`. When a token repeats, the first id is kept and the later ids are
    /// returned as duplicates (in order).
    pub(crate) fn build(words: &WordList) -> (Self, Vec<u32>) {
        let mut table = IdTable::with_capacity(words.len());
        let mut duplicates = Vec::new();
        for (id, w) in words.iter().enumerate() {
            if table.insert(words, w, id as u32).is_some() {
                duplicates.push(id as u32);
            }
        }
        (table, duplicates)
    }

    /// The slot holding `token`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, words: &WordList, token: &str, h: u64) -> (usize, Option<u32>) {
        let (tag, mask) = (self.tag(h), self.id_mask());
        let mut i = self.home(h);
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return (i, None);
            }
            if slot & !mask == tag && &words[(slot & mask) as usize] == token {
                return (i, Some(slot & mask));
            }
            i = self.next(i);
        }
    }

    /// Adds `token` (which must be `words[id]`) with id `id`, unless the token is already
    /// there: then its existing id is returned and the table is unchanged. The table grows
    /// as needed.
    pub(crate) fn insert(&mut self, words: &WordList, token: &str, id: u32) -> Option<u32> {
        if (self.len + 1) * 3 > self.slots.len() * 2 || id >= self.id_mask() {
            self.grow(words, id as usize + 1);
        }
        let h = hash(token);
        match self.probe(words, token, h) {
            (_, Some(existing)) => Some(existing),
            (i, None) => {
                self.slots[i] = self.tag(h) | id;
                self.len += 1;
                None
            }
        }
    }

    /// Rehashes into a table half as large again, for ids below `ids` too.
    fn grow(&mut self, words: &WordList, ids: usize) {
        let limit = match self.slots.is_empty() {
            true => ids,
            false => ids.max(self.id_mask() as usize),
        };
        let old = std::mem::replace(self, IdTable::for_ids(self.slots.len(), limit));
        let mask = old.id_mask();
        for slot in old.slots.into_iter().filter(|&s| s != EMPTY) {
            let id = slot & mask;
            let h = hash(&words[id as usize]);
            let mut i = self.home(h);
            while self.slots[i] != EMPTY {
                i = self.next(i);
            }
            self.slots[i] = self.tag(h) | id;
        }
        self.len = old.len;
    }

    /// The id of `token` in `words` (the list the table was built from).
    pub(crate) fn get(&self, words: &WordList, token: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        self.probe(words, token, hash(token)).1
    }
}

/// The ids of tokens that repeat an earlier token of `words`, in order, found without an
/// index of the whole list: a bit filter (8 bits a token) flags every token that may have been
/// seen before, and only the flagged tokens (the repeats and a few percent of false alarms) are
/// indexed to settle which ones really are. Readers use it to drop repeated rows while the
/// matrix fills memory, and leave the full index to be built on first lookup.
pub(crate) fn repeats(words: &WordList) -> Vec<u32> {
    let n = words.len();
    let bits = (n * 8).max(64);
    let mut filter = vec![0u64; bits.div_ceil(64)];
    let spots = |h: u64| {
        // Three positions from one hash (double hashing), each scaled to the filter's size.
        let step = h.rotate_left(32) | 1;
        [0u64, 1, 2].map(|k| {
            let x = h.wrapping_add(k.wrapping_mul(step));
            ((u128::from(x) * bits as u128) >> 64) as usize
        })
    };
    let mut flagged = Vec::new();
    for (id, w) in words.iter().enumerate() {
        let mut seen = true;
        for b in spots(hash(w)) {
            let (word, bit) = (b / 64, 1u64 << (b % 64));
            seen &= filter[word] & bit != 0;
            filter[word] |= bit;
        }
        if seen {
            flagged.push(id as u32);
        }
    }
    drop(filter);
    if flagged.is_empty() {
        return flagged;
    }
    // Index the flagged tokens, then find where each of their strings first occurs.
    let mut table = IdTable::for_ids(flagged.len(), n);
    for &id in &flagged {
        table.insert(words, &words[id as usize], id);
    }
    let mut seen: rustc_hash::FxHashSet<u32> = Default::default();
    let mut out = Vec::new();
    for (id, w) in words.iter().enumerate() {
        if let Some(key) = table.get(words, w) {
            if !seen.insert(key) {
                out.push(id as u32);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_match_the_full_index() {
        // Many repeats, some far apart, some of words that repeat several times.
        let words: WordList = (0..50_000)
            .map(|i: u64| match i % 7 {
                0 => format!("r{}", i % 1000),
                3 => format!("s{}", (i * 7919) % 20_000),
                _ => format!("w{i}"),
            })
            .collect();
        let want = IdTable::build(&words).1;
        assert!(want.len() > 5_000);
        assert_eq!(repeats(&words), want);
        let distinct: WordList = (0..50_000).map(|i| format!("d{i}")).collect();
        assert!(repeats(&distinct).is_empty());
        assert!(repeats(&WordList::new()).is_empty());
        let two: WordList = ["a", "a"].into_iter().collect();
        assert_eq!(repeats(&two), [1]);
    }

    #[test]
    fn finds_every_word_and_reports_repeats() {
        let words: WordList = (0..10_000)
            .map(|i| format!("w{i}"))
            .chain(["w7".to_string()])
            .collect();
        let (t, dups) = IdTable::build(&words);
        assert_eq!(dups, vec![10_000]);
        for (i, w) in words.iter().take(10_000).enumerate() {
            assert_eq!(t.get(&words, w), Some(i as u32));
        }
        assert_eq!(t.get(&words, "w7"), Some(7));
        assert_eq!(t.get(&words, "nope"), None);
        assert_eq!(IdTable::default().get(&WordList::new(), "x"), None);
        // Growing from an empty or small table keeps every id, and ids far above the table's
        // size fit.
        let mut e = IdTable::default();
        assert_eq!(e.insert(&words, "w5000", 5000), None);
        assert_eq!(e.insert(&words, "w3", 3), None);
        assert_eq!(e.get(&words, "w5000"), Some(5000));
        assert_eq!(e.get(&words, "w3"), Some(3));
        assert!(e.slots.len() < 100 && e.id_bits < 32);
        let mut g = IdTable::with_capacity(1);
        for (i, w) in words.iter().enumerate() {
            let dup = g.insert(&words, w, i as u32);
            assert_eq!(dup, (i == 10_000).then_some(7));
        }
        assert_eq!(g.get(&words, "w9999"), Some(9999));
    }
}
