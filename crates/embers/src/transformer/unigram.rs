//! A fast path for SentencePiece-style Unigram tokenizers: when `tokenizer.json` holds a
//! Unigram model (without byte fallback) behind a `Precompiled` (or no) normalizer and a
//! `Metaspace` pre-tokenizer (`▁`, prepend "always", split; alone or after `WhitespaceSplit`),
//! printable ASCII text whose characters the normalizer leaves as they are is tokenized here
//! with the same ids as the `tokenizers` crate's `encode(text, false)`: the same pieces, the
//! same Viterbi over the vocabulary's scores (f64 sums, ties kept by the first candidate, an
//! unknown character scored `min_score - 10`, runs of unknown characters fused). Anything else
//! (non-ASCII text, control characters, a character the normalizer changes, text containing
//! an added token) is left to the crate.
//!
//! The vocabulary lives in a byte trie with each node's children in one sorted slice, so a
//! prefix search is a short walk without hashing or allocation.

use serde_json::Value;
use tokenizers::normalizers::NormalizerWrapper;
use tokenizers::Tokenizer;

use super::word_cache::WordCache;

/// The crate's penalty below the lowest score for an unknown character.
const UNK_PENALTY: f64 = 10.0;

/// How the text is cut into pieces before the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// `WhitespaceSplit` then `Metaspace`: every word becomes `▁word`.
    Words,
    /// `Metaspace` alone: spaces become `▁`, one `▁` is prepended unless the text starts with
    /// one, and the text is cut before every `▁`.
    Metaspace,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// First child edge in `edges`.
    first: u32,
    /// Number of child edges.
    len: u32,
    /// The token ending here: its id (the crate's `token_to_ids`, last id of a duplicate).
    id: u32,
    /// For nodes with many children: the start of their 256 entries in `dense` (child by
    /// byte, `NONE` for none); else `NONE`.
    dense: u32,
}

/// Nodes with more children than this get a direct 256-entry table.
const DENSE_FROM: usize = 16;

const NONE: u32 = u32::MAX;

/// The Unigram pipeline of one `tokenizer.json`, recognised and ready to tokenize ASCII text.
#[derive(Debug, Clone)]
pub(crate) struct UnigramFast {
    nodes: Vec<Node>,
    /// Child edges: (byte, node), sorted by byte within each node's slice.
    edges: Vec<(u8, u32)>,
    /// Direct child tables of the bushiest nodes.
    dense: Vec<u32>,
    /// Score of each id.
    scores: Vec<f64>,
    unk_id: u32,
    unk_score: f64,
    split: Split,
    /// ASCII bytes the fast path takes (printable, left unchanged by the normalizer).
    plain: [bool; 128],
    /// Added tokens' texts: input containing one goes to the crate.
    added: Vec<String>,
}

/// Reusable buffers for [`UnigramFast::encode_into`], with a cache of the ids of words seen
/// (a word's ids do not depend on its neighbours).
#[derive(Debug, Default)]
pub(crate) struct UnigramScratch {
    piece: Vec<u8>,
    best: Vec<(f64, u32, u32)>,
    back: Vec<(u32, u32, u32)>,
    pub(crate) cache: WordCache,
}

impl UnigramScratch {
    /// Buffers for one text: no word cache.
    pub(crate) fn one_off() -> Self {
        UnigramScratch {
            cache: WordCache::off(),
            ..UnigramScratch::default()
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

/// Checks a `Metaspace` entry: `▁`, prepend "always", split.
fn is_metaspace(v: &Value) -> bool {
    str_of(v, "type") == Some("Metaspace")
        && str_of(v, "replacement") == Some("\u{2581}")
        && str_of(v, "prepend_scheme") == Some("always")
        && v.get("split").and_then(Value::as_bool) == Some(true)
        && !matches!(v.get("add_prefix_space"), Some(Value::Bool(false)))
}

impl UnigramFast {
    /// Recognises the pipeline in a parsed `tokenizer.json` (and the crate's tokenizer built
    /// from it, for the normalizer); `None` for anything else.
    pub(crate) fn from_json(json: &Value, tokenizer: &Tokenizer) -> Option<Self> {
        let model = json.get("model")?;
        if str_of(model, "type")? != "Unigram" {
            return None;
        }
        if model.get("byte_fallback").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        let unk_id = u32::try_from(model.get("unk_id")?.as_u64()?).ok()?;

        let split = match json.get("pre_tokenizer")? {
            p if is_metaspace(p) => Split::Metaspace,
            p if str_of(p, "type") == Some("Sequence") => {
                let list = p.get("pretokenizers")?.as_array()?;
                match list.as_slice() {
                    [a, b] if str_of(a, "type") == Some("WhitespaceSplit") && is_metaspace(b) => {
                        Split::Words
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };

        // The normalizer: none, or Precompiled; printable ASCII characters it leaves alone.
        let mut plain = [false; 128];
        let precompiled = match (json.get("normalizer"), tokenizer.get_normalizer()) {
            (None | Some(Value::Null), None) => None,
            (Some(n), Some(NormalizerWrapper::Precompiled(p)))
                if str_of(n, "type") == Some("Precompiled") =>
            {
                Some(p)
            }
            _ => return None,
        };
        for b in 0x20u8..0x7f {
            let s = [b];
            let s = std::str::from_utf8(&s).ok()?;
            plain[b as usize] = match precompiled {
                None => true,
                Some(p) => p.transform(s).is_none_or(|t| t == s),
            };
        }

        let mut added = Vec::new();
        if let Some(list) = json.get("added_tokens") {
            for t in list.as_array()? {
                let content = str_of(t, "content")?;
                if content.is_empty() {
                    return None;
                }
                added.push(content.to_string());
            }
        }

        // Vocabulary: (token, score) by id; the trie keeps the last id of a duplicate token.
        let vocab = model.get("vocab")?.as_array()?;
        if unk_id as usize >= vocab.len() || vocab.len() >= NONE as usize {
            return None;
        }
        let mut entries: Vec<(&[u8], u32)> = Vec::with_capacity(vocab.len());
        let mut scores = Vec::with_capacity(vocab.len());
        let mut min_score = f64::INFINITY;
        for (id, item) in vocab.iter().enumerate() {
            let pair = item.as_array()?;
            let [tok, score] = pair.as_slice() else {
                return None;
            };
            let tok = tok.as_str()?;
            let score = score.as_f64()?;
            scores.push(score);
            if score < min_score {
                min_score = score;
            }
            if !tok.is_empty() {
                entries.push((tok.as_bytes(), id as u32));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(b.0).then(a.1.cmp(&b.1)));
        let mut fast = UnigramFast {
            nodes: Vec::with_capacity(entries.len() * 2),
            edges: Vec::with_capacity(entries.len() * 2),
            dense: Vec::new(),
            scores,
            unk_id,
            unk_score: min_score - UNK_PENALTY,
            split,
            plain,
            added,
        };
        fast.build(&entries, 0);
        Some(fast)
    }

    /// Builds the node for `entries` (sorted, all sharing their first `depth` bytes) and its
    /// subtree; returns its index.
    fn build(&mut self, entries: &[(&[u8], u32)], depth: usize) -> u32 {
        let index = self.nodes.len() as u32;
        self.nodes.push(Node {
            first: 0,
            len: 0,
            id: NONE,
            dense: NONE,
        });
        // Entries ending here come first (shorter sorts first); the last one's id wins.
        let ending = entries.iter().take_while(|e| e.0.len() == depth).count();
        if let Some(last) = entries[..ending].last() {
            self.nodes[index as usize].id = last.1;
        }
        let rest = &entries[ending..];
        // Groups by the next byte.
        let mut groups: Vec<(u8, usize, usize)> = Vec::new();
        let mut start = 0;
        while start < rest.len() {
            let byte = rest[start].0[depth];
            let mut end = start + 1;
            while end < rest.len() && rest[end].0[depth] == byte {
                end += 1;
            }
            groups.push((byte, start, end));
            start = end;
        }
        let first = self.edges.len();
        self.edges.extend(groups.iter().map(|&(b, _, _)| (b, NONE)));
        {
            let node = &mut self.nodes[index as usize];
            node.first = first as u32;
            node.len = groups.len() as u32;
        }
        for (k, &(_, s, e)) in groups.iter().enumerate() {
            let child = self.build(&rest[s..e], depth + 1);
            self.edges[first + k].1 = child;
        }
        if groups.len() > DENSE_FROM {
            let at = self.dense.len();
            self.dense.resize(at + 256, NONE);
            for &(b, c) in &self.edges[first..first + groups.len()] {
                self.dense[at + b as usize] = c;
            }
            self.nodes[index as usize].dense = at as u32;
        }
        index
    }

    #[inline]
    fn child(&self, node: u32, byte: u8) -> Option<u32> {
        let n = &self.nodes[node as usize];
        if n.dense != NONE {
            let c = self.dense[n.dense as usize + byte as usize];
            return (c != NONE).then_some(c);
        }
        let edges = &self.edges[n.first as usize..(n.first + n.len) as usize];
        if edges.len() <= 8 {
            edges.iter().find(|e| e.0 == byte).map(|e| e.1)
        } else {
            edges
                .binary_search_by_key(&byte, |e| e.0)
                .ok()
                .map(|i| edges[i].1)
        }
    }

    /// The id of exactly `token`, if it is in the vocabulary.
    fn exact(&self, token: &[u8]) -> Option<u32> {
        let mut node = 0;
        for &b in token {
            node = self.child(node, b)?;
        }
        let id = self.nodes[node as usize].id;
        (id != NONE).then_some(id)
    }

    /// Appends the ids of `text` (no special tokens, no truncation) to `ids`, as the crate's
    /// `encode(text, false)` gives them; `false` (with `ids` unchanged) when the text is not
    /// for the fast path.
    pub(crate) fn encode_into(
        &self,
        text: &str,
        ids: &mut Vec<u32>,
        scratch: &mut UnigramScratch,
    ) -> bool {
        let bytes = text.as_bytes();
        if bytes.is_empty() || !bytes.iter().all(|&b| b < 128 && self.plain[b as usize]) {
            return false;
        }
        if self.added.iter().any(|a| text.contains(a.as_str())) {
            return false;
        }
        let mut parts = text.split(' ');
        if self.split == Split::Metaspace && bytes[0] == b' ' {
            // The text starts with `▁` already: no `▁` is prepended, the first cut is at it.
            parts.next();
        }
        for part in parts {
            if part.is_empty() && self.split == Split::Words {
                continue;
            }
            if scratch.cache.extend(part.as_bytes(), ids) {
                continue;
            }
            scratch.piece.clear();
            scratch.piece.extend_from_slice("\u{2581}".as_bytes());
            scratch.piece.extend_from_slice(part.as_bytes());
            let piece = std::mem::take(&mut scratch.piece);
            let before = ids.len();
            self.viterbi(&piece, ids, scratch);
            scratch.piece = piece;
            scratch.cache.insert(part.as_bytes(), &ids[before..]);
        }
        true
    }

    /// The crate's `encode_optimized` over one piece, ids appended.
    fn viterbi(&self, piece: &[u8], ids: &mut Vec<u32>, scratch: &mut UnigramScratch) {
        let size = piece.len();
        // (best score, start of the best token ending here or NONE, its id)
        let best = &mut scratch.best;
        best.clear();
        best.resize(size + 1, (0.0, NONE, 0));
        let mut start = 0;
        while start < size {
            let till_here = best[start].0;
            let mblen = utf8_len(piece[start]);
            let mut has_single = false;
            let mut node = 0u32;
            for (k, &b) in piece[start..].iter().enumerate() {
                let Some(next) = self.child(node, b) else {
                    break;
                };
                node = next;
                let id = self.nodes[node as usize].id;
                if id != NONE {
                    let end = start + k + 1;
                    let candidate = self.scores[id as usize] + till_here;
                    let target = &mut best[end];
                    if target.1 == NONE || candidate > target.0 {
                        *target = (candidate, start as u32, id);
                    }
                    if k + 1 == mblen {
                        has_single = true;
                    }
                }
            }
            if !has_single {
                let candidate = self.unk_score + till_here;
                let target = &mut best[start + mblen];
                if target.1 == NONE || candidate > target.0 {
                    *target = (candidate, start as u32, self.unk_id);
                }
            }
            start += mblen;
        }
        // Back from the end: (start, end, id), unknown runs fused into one token.
        let back = &mut scratch.back;
        back.clear();
        let mut end = size;
        while end > 0 {
            let (_, s, id) = best[end];
            back.push((s, end as u32, id));
            end = s as usize;
        }
        let mut i = back.len();
        while i > 0 {
            i -= 1;
            let (s, mut e, id) = back[i];
            if id == self.unk_id {
                // Later (in text order) unknown nodes join this one.
                while i > 0 && back[i - 1].2 == self.unk_id {
                    i -= 1;
                    e = back[i].1;
                }
                let fused = &piece[s as usize..e as usize];
                ids.push(self.exact(fused).unwrap_or(self.unk_id));
            } else {
                ids.push(id);
            }
        }
    }
}

/// Length of the UTF-8 character starting with `lead`.
#[inline]
fn utf8_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}
