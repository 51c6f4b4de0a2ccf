//! Character n-grams and fastText-compatible hashing, shared by the fastText `.bin` reader and
//! writer, the subword trainer and out-of-vocabulary lookups.

use serde::{Deserialize, Serialize};

use crate::storage::DenseMatrix;

/// fastText's hash of a byte string: 32-bit FNV-1a where each byte is sign-extended first
/// (fastText hashes `int8_t` chars), so bytes ≥ 0x80 hash as fastText does.
#[inline]
pub fn fasttext_hash(bytes: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in bytes {
        h ^= (b as i8) as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

/// Subword settings: n-gram lengths and the number of hash buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubwordConfig {
    /// Shortest n-gram, in characters.
    pub minn: u32,
    /// Longest n-gram, in characters (0 disables n-grams).
    pub maxn: u32,
    /// Number of hash buckets.
    pub buckets: u32,
}

impl Default for SubwordConfig {
    /// fastText's defaults for unsupervised training: 3..6 characters, 2,000,000 buckets.
    fn default() -> Self {
        SubwordConfig {
            minn: 3,
            maxn: 6,
            buckets: 2_000_000,
        }
    }
}

impl SubwordConfig {
    /// Calls `f` with the bucket (in `0..buckets`) of every n-gram of `word`, as fastText computes
    /// them: the word wrapped in `<` and `>`, n counted in UTF-8 characters, n-grams of length 1
    /// at the markers left out, and the whole wrapped word not among them unless its length is
    /// within `minn..=maxn` (fastText adds the word itself separately).
    pub fn for_each_bucket(&self, word: &str, f: impl FnMut(u32)) {
        self.for_each_bucket_bytes(word.as_bytes(), f)
    }

    /// [`SubwordConfig::for_each_bucket`] on raw bytes, for words that are not valid UTF-8
    /// (fastText hashes bytes; a file read with `lossy` still gets the model's own buckets).
    pub fn for_each_bucket_bytes(&self, word: &[u8], mut f: impl FnMut(u32)) {
        if self.maxn == 0 || self.buckets == 0 {
            return;
        }
        let mut wrapped = Vec::with_capacity(word.len() + 2);
        wrapped.push(b'<');
        wrapped.extend_from_slice(word);
        wrapped.push(b'>');
        let w = &wrapped;
        let mut ngram: Vec<u8> = Vec::with_capacity(64);
        for i in 0..w.len() {
            if (w[i] & 0xC0) == 0x80 {
                continue;
            }
            ngram.clear();
            let mut j = i;
            let mut n = 1u32;
            while j < w.len() && n <= self.maxn {
                ngram.push(w[j]);
                j += 1;
                while j < w.len() && (w[j] & 0xC0) == 0x80 {
                    ngram.push(w[j]);
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == w.len())) {
                    f(fasttext_hash(&ngram) % self.buckets);
                }
                n += 1;
            }
        }
    }

    /// The buckets of `word`'s n-grams, in fastText's order.
    pub fn buckets_of(&self, word: &str) -> Vec<u32> {
        let mut out = Vec::new();
        self.for_each_bucket(word, |b| out.push(b));
        out
    }

    /// The n-grams of `word` as strings (for display), in fastText's order.
    pub fn ngrams(&self, word: &str) -> Vec<String> {
        let wrapped: Vec<char> = std::iter::once('<')
            .chain(word.chars())
            .chain(std::iter::once('>'))
            .collect();
        let mut out = Vec::new();
        for i in 0..wrapped.len() {
            for n in 1..=self.maxn as usize {
                if i + n > wrapped.len() {
                    break;
                }
                let end = i + n;
                if n >= self.minn as usize && !(n == 1 && (i == 0 || end == wrapped.len())) {
                    out.push(wrapped[i..end].iter().collect());
                }
            }
        }
        out
    }
}

/// The subword part of an embedding model: settings and the n-gram bucket matrix.
#[derive(Debug, Clone)]
pub struct Subwords {
    pub config: SubwordConfig,
    /// `buckets × dims` n-gram vectors.
    pub matrix: DenseMatrix,
}

impl Subwords {
    /// The vector of a word from its n-grams alone: the mean of its bucket rows, as fastText
    /// gives out-of-vocabulary words. `None` when the word has no n-gram.
    pub fn oov_vector(&self, word: &str) -> Option<Vec<f32>> {
        let mut v = vec![0.0f32; self.matrix.dims()];
        let mut n = 0usize;
        self.config.for_each_bucket(word, |b| {
            if (b as usize) < self.matrix.rows() {
                crate::kernels::axpy(1.0, self.matrix.row(b as usize), &mut v);
                n += 1;
            }
        });
        if n == 0 {
            return None;
        }
        crate::kernels::scale(1.0 / n as f32, &mut v);
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_matches_fasttext_reference_values() {
        // FNV-1a of the empty string is the offset basis.
        assert_eq!(fasttext_hash(b""), 2_166_136_261);
        // ASCII agrees with plain FNV-1a 32 ("a" → 0xe40c292c).
        assert_eq!(fasttext_hash(b"a"), 0xe40c_292c);
        // Bytes ≥ 0x80 are sign-extended: differs from plain FNV-1a.
        let plain = {
            let mut h: u32 = 2_166_136_261;
            for &b in "é".as_bytes() {
                h ^= b as u32;
                h = h.wrapping_mul(16_777_619);
            }
            h
        };
        assert_ne!(fasttext_hash("é".as_bytes()), plain);
    }

    #[test]
    fn ngrams_follow_fasttext_rules() {
        let c = SubwordConfig {
            minn: 3,
            maxn: 4,
            buckets: 1000,
        };
        assert_eq!(
            c.ngrams("where"),
            vec!["<wh", "<whe", "whe", "wher", "her", "here", "ere", "ere>", "re>"]
        );
        assert_eq!(c.buckets_of("where").len(), 9);
        // Multi-byte characters count as one.
        let c1 = SubwordConfig {
            minn: 1,
            maxn: 1,
            buckets: 1000,
        };
        assert_eq!(c1.ngrams("zé"), vec!["z", "é"]);
        assert_eq!(c1.buckets_of("zé").len(), 2);
        assert!(SubwordConfig {
            minn: 3,
            maxn: 0,
            buckets: 10
        }
        .buckets_of("abc")
        .is_empty());
    }
}
