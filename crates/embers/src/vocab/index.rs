//! The token → id table of a vocabulary: open addressing over ids, so building it copies no
//! string and costs one hash per token (a 400,000-word vocabulary indexes in milliseconds).

use std::hash::{BuildHasher, Hasher};

use super::WordList;

const EMPTY: u32 = u32::MAX;

/// Maps tokens to their ids by hashing into a power-of-two table of ids; the tokens themselves
/// stay in the vocabulary's word list.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdTable {
    slots: Vec<u32>,
    mask: usize,
    len: usize,
}

fn hash(token: &str) -> usize {
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(token.as_bytes());
    // Mix the high bits down: Fx leaves the low bits weak for short keys.
    let x = h.finish();
    (x ^ (x >> 29) ^ (x >> 47)) as usize
}

impl IdTable {
    /// An empty table with room for `n` tokens without growing.
    pub(crate) fn with_capacity(n: usize) -> Self {
        let capacity = (n * 2).next_power_of_two().max(16);
        IdTable {
            slots: vec![EMPTY; capacity],
            mask: capacity - 1,
            len: 0,
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

    /// Adds `token` (which must be `words[id]`) with id `id`, unless the token is already
    /// there: then its existing id is returned and the table is unchanged. The table grows
    /// as needed.
    pub(crate) fn insert(&mut self, words: &WordList, token: &str, id: u32) -> Option<u32> {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow(words);
        }
        let mut i = hash(token) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                self.slots[i] = id;
                self.len += 1;
                return None;
            }
            if &words[slot as usize] == token {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    fn grow(&mut self, words: &WordList) {
        let capacity = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; capacity]);
        self.mask = capacity - 1;
        for id in old.into_iter().filter(|&s| s != EMPTY) {
            let mut i = hash(&words[id as usize]) & self.mask;
            while self.slots[i] != EMPTY {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = id;
        }
    }

    /// The id of `token` in `words` (the list the table was built from).
    pub(crate) fn get(&self, words: &WordList, token: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = hash(token) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return None;
            }
            if &words[slot as usize] == token {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // Growing from a small table keeps every id.
        let mut g = IdTable::with_capacity(1);
        for (i, w) in words.iter().enumerate() {
            let dup = g.insert(&words, w, i as u32);
            assert_eq!(dup, (i == 10_000).then_some(7));
        }
        assert_eq!(g.get(&words, "w9999"), Some(9999));
    }
}
