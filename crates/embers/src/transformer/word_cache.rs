//! A per-thread cache of the token ids of words, for tokenizers whose words are tokenized
//! independently of their neighbours (WordPiece after pre-tokenization, Unigram pieces).

use rustc_hash::FxHashMap;

/// Ids held before the cache is emptied.
const MAX_IDS: usize = 1 << 20;
/// Words longer than this (bytes) are not cached.
const MAX_WORD: usize = 64;

/// A map keyed by byte strings. Keys of up to 15 bytes (nearly all words and word pieces)
/// are packed with their length into one `u128` ([`pack`]), so a lookup hashes two machine
/// words and compares one integer instead of hashing and `memcmp`-ing a string; longer keys
/// use a map of byte strings.
#[derive(Debug, Clone)]
pub(crate) struct BytesMap<V> {
    short: FxHashMap<u128, V>,
    long: FxHashMap<Box<[u8]>, V>,
}

impl<V> Default for BytesMap<V> {
    fn default() -> Self {
        BytesMap {
            short: FxHashMap::default(),
            long: FxHashMap::default(),
        }
    }
}

impl<V> BytesMap<V> {
    /// The value of `key`.
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Option<&V> {
        if key.len() <= SHORT {
            self.short.get(&pack(key))
        } else {
            self.long.get(key)
        }
    }

    /// Sets the value of `key`.
    pub(crate) fn insert(&mut self, key: &[u8], value: V) {
        if key.len() <= SHORT {
            self.short.insert(pack(key), value);
        } else {
            self.long.insert(key.into(), value);
        }
    }

    /// Forgets every key.
    pub(crate) fn clear(&mut self) {
        self.short.clear();
        self.long.clear();
    }
}

/// Word → ids, bounded; one per thread (not shared).
#[derive(Debug, Default)]
pub(crate) struct WordCache {
    /// Word → (offset, count) in `ids`.
    map: BytesMap<(u32, u32)>,
    ids: Vec<u32>,
    /// Remembers nothing (one-off tokenizations, where filling a cache only costs).
    off: bool,
}

/// Longest word [`pack`] takes, in bytes.
const SHORT: usize = 15;

/// The bytes of a word of at most [`SHORT`] bytes in the low 15 bytes of a `u128` (little
/// endian), its length in the top byte: distinct words give distinct keys.
#[inline]
fn pack(w: &[u8]) -> u128 {
    let n = w.len();
    debug_assert!(n <= SHORT);
    let le8 = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    let le4 = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as u64;
    let (lo, hi) = if n >= 8 {
        // Bytes 8..n from an overlapping read of the last 8, shifted down past the overlap.
        let hi = if n == 8 {
            0
        } else {
            le8(&w[n - 8..]) >> ((16 - n) * 8)
        };
        (le8(&w[..8]), hi)
    } else if n >= 4 {
        // Two overlapping 4-byte reads; the shared bytes are equal, so OR keeps them.
        (le4(&w[..4]) | le4(&w[n - 4..]) << ((n - 4) * 8), 0)
    } else {
        let mut lo = 0u64;
        for (i, &b) in w.iter().enumerate() {
            lo |= (b as u64) << (8 * i);
        }
        (lo, 0)
    };
    lo as u128 | (hi as u128) << 64 | (n as u128) << 120
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
    pub(crate) fn extend(&self, word: &[u8], out: &mut Vec<u32>) -> bool {
        match self.map.get(word) {
            Some(&(at, n)) => {
                out.extend_from_slice(&self.ids[at as usize..(at + n) as usize]);
                true
            }
            None => false,
        }
    }

    /// Remembers `ids` as the ids of `word`.
    pub(crate) fn insert(&mut self, word: &[u8], ids: &[u32]) {
        if self.off || word.len() > MAX_WORD {
            return;
        }
        if self.ids.len() > MAX_IDS {
            self.map.clear();
            self.ids.clear();
        }
        let at = self.ids.len() as u32;
        self.ids.extend_from_slice(ids);
        self.map.insert(word, (at, ids.len() as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_keys_are_the_bytes_and_the_length() {
        // Every length 0..=15, and words that differ only by trailing zero bytes or by one
        // byte at each position: the packed key equals the plain byte-by-byte packing.
        let plain = |w: &[u8]| -> u128 {
            let mut k = (w.len() as u128) << 120;
            for (i, &b) in w.iter().enumerate() {
                k |= (b as u128) << (8 * i);
            }
            k
        };
        let base: Vec<u8> = (1..=15u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
        let mut seen = std::collections::HashSet::new();
        for n in 0..=SHORT {
            let w = &base[..n];
            assert_eq!(pack(w), plain(w), "length {n}");
            assert!(seen.insert(pack(w)));
            let zeros = vec![0u8; n];
            assert_eq!(pack(&zeros), plain(&zeros));
            assert!(seen.insert(pack(&zeros)) || n == 0);
            for i in 0..n {
                let mut v = w.to_vec();
                v[i] ^= 1;
                assert_eq!(pack(&v), plain(&v), "length {n}, byte {i}");
                assert_ne!(pack(&v), pack(w));
            }
        }
    }

    #[test]
    fn short_and_long_words_are_remembered_apart() {
        let mut c = WordCache::default();
        let long = b"abcdefghijklmnopqrstuvwxyz";
        c.insert(b"abc", &[1, 2]);
        c.insert(&long[..15], &[3]);
        c.insert(&long[..16], &[4, 5, 6]);
        c.insert(b"", &[]);
        let get = |w: &[u8]| {
            let mut out = vec![9];
            c.extend(w, &mut out).then_some(out)
        };
        assert_eq!(get(b"abc"), Some(vec![9, 1, 2]));
        assert_eq!(get(&long[..15]), Some(vec![9, 3]));
        assert_eq!(get(&long[..16]), Some(vec![9, 4, 5, 6]));
        assert_eq!(get(b""), Some(vec![9]));
        assert_eq!(get(b"abd"), None);
        assert_eq!(get(b"ab"), None);
        assert_eq!(get(&long[..17]), None);
        let mut off = WordCache::off();
        off.insert(b"abc", &[1]);
        assert!(!off.extend(b"abc", &mut Vec::new()));
    }
}
