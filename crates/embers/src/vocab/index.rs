//! The token → id table of a vocabulary: open addressing over ids, so building it copies no
//! string and costs one hash per token (a 400,000-word vocabulary indexes in milliseconds).

use std::hash::{BuildHasher, Hasher};

const EMPTY: u32 = u32::MAX;

/// Maps tokens to their ids by hashing into a power-of-two table of ids; the tokens themselves
/// stay in the vocabulary's word list.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdTable {
    slots: Vec<u32>,
    mask: usize,
}

fn hash(token: &str) -> usize {
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(token.as_bytes());
    // Mix the high bits down: Fx leaves the low bits weak for short keys.
    let x = h.finish();
    (x ^ (x >> 29) ^ (x >> 47)) as usize
}

impl IdTable {
    /// A table for `words`. When a token repeats, the first id is kept and the later ids are
    /// returned as duplicates (in order).
    pub(crate) fn build(words: &[String]) -> (Self, Vec<u32>) {
        let capacity = (words.len() * 2).next_power_of_two().max(16);
        let mut table = IdTable {
            slots: vec![EMPTY; capacity],
            mask: capacity - 1,
        };
        let mut duplicates = Vec::new();
        for (id, w) in words.iter().enumerate() {
            let mut i = hash(w) & table.mask;
            loop {
                let slot = table.slots[i];
                if slot == EMPTY {
                    table.slots[i] = id as u32;
                    break;
                }
                if words[slot as usize] == *w {
                    duplicates.push(id as u32);
                    break;
                }
                i = (i + 1) & table.mask;
            }
        }
        (table, duplicates)
    }

    /// The id of `token` in `words` (the list the table was built from).
    pub(crate) fn get(&self, words: &[String], token: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = hash(token) & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return None;
            }
            if words[slot as usize] == token {
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
        let words: Vec<String> = (0..10_000)
            .map(|i| format!("w{i}"))
            .chain(["w7".to_string()])
            .collect();
        let (t, dups) = IdTable::build(&words);
        assert_eq!(dups, vec![10_000]);
        for (i, w) in words[..10_000].iter().enumerate() {
            assert_eq!(t.get(&words, w), Some(i as u32));
        }
        assert_eq!(t.get(&words, "w7"), Some(7));
        assert_eq!(t.get(&words, "nope"), None);
        assert_eq!(IdTable::default().get(&[], "x"), None);
    }
}
