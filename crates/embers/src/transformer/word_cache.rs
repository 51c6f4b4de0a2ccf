//! A per-thread cache of the token ids of words, for tokenizers whose words are tokenized
//! independently of their neighbours (WordPiece after pre-tokenization, Unigram pieces).

use rustc_hash::FxHashMap;

/// Ids held before the cache is emptied.
const MAX_IDS: usize = 1 << 20;
/// Words longer than this (bytes) are not cached.
const MAX_WORD: usize = 64;

/// Word → ids, bounded; one per thread (not shared).
#[derive(Debug, Default)]
pub(crate) struct WordCache {
    /// Word → (offset, count) in `ids`.
    map: FxHashMap<Box<str>, (u32, u32)>,
    ids: Vec<u32>,
    /// Remembers nothing (one-off tokenizations, where filling a cache only costs).
    off: bool,
}

impl WordCache {
    /// A cache that remembers nothing.
    pub(crate) fn off() -> Self {
        WordCache {
            off: true,
            ..WordCache::default()
        }
    }

    /// Appends the cached ids of `word` to `out`; false when the word is not cached.
    #[inline]
    pub(crate) fn extend(&self, word: &str, out: &mut Vec<u32>) -> bool {
        match self.map.get(word) {
            Some(&(at, n)) => {
                out.extend_from_slice(&self.ids[at as usize..(at + n) as usize]);
                true
            }
            None => false,
        }
    }

    /// Remembers `ids` as the ids of `word`.
    pub(crate) fn insert(&mut self, word: &str, ids: &[u32]) {
        if self.off || word.len() > MAX_WORD {
            return;
        }
        if self.ids.len() > MAX_IDS {
            self.map.clear();
            self.ids.clear();
        }
        let at = self.ids.len() as u32;
        self.ids.extend_from_slice(ids);
        self.map.insert(word.into(), (at, ids.len() as u32));
    }
}
