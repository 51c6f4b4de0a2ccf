//! A fast path for BERT-style WordPiece tokenizers: when `tokenizer.json` holds exactly the
//! common BERT pipeline (BertNormalizer, BertPreTokenizer, WordPiece with `##` pieces, a
//! `[CLS] A [SEP] (B [SEP])` post-processor, only special added tokens), ASCII text is
//! tokenized here with the same result as the `tokenizers` crate; anything else (non-ASCII
//! text, text containing an added token, other truncation strategies) is left to the crate.

use rustc_hash::FxHashMap;
use serde_json::Value;
use tokenizers::{TruncationDirection, TruncationParams, TruncationStrategy};

use super::tokenize::TokenEncoding;
use super::word_cache::{BytesMap, WordCache};

/// The BERT pipeline of one `tokenizer.json`, recognised and ready to tokenize ASCII text.
#[derive(Debug, Clone)]
pub(crate) struct BertWordPiece {
    /// Pieces that start a word, by text.
    starts: BytesMap<u32>,
    /// Pieces that continue a word, by their text without the `##` prefix.
    continues: BytesMap<u32>,
    /// Token string of each id (for the encoding's `tokens`).
    tokens: FxHashMap<u32, Box<str>>,
    /// Longest piece in bytes (a bound on the greedy match).
    longest: usize,
    unk: u32,
    max_word_chars: usize,
    cls: u32,
    sep: u32,
    /// True when `tokenizer.json` has the BERT post-processor (`encode` adds `[CLS]`/`[SEP]`);
    /// without one (model2vec's static models) only [`BertWordPiece::ids_without_specials_cached`]
    /// is offered.
    post: bool,
    /// Added tokens' texts: input containing one goes to the crate.
    added: Vec<String>,
    /// What the normalizer and pre-tokenizer make of each ASCII byte (see [`class_table`]).
    class: [u8; 128],
    /// Whether an added token starts with this byte (texts without one skip the search).
    added_first: [bool; 256],
}

/// [`BertWordPiece::class`]: the byte is dropped.
const DROP: u8 = 0x80;
/// [`BertWordPiece::class`]: the byte separates words.
const SPACE: u8 = 0x81;
/// [`BertWordPiece::class`]: the byte is a word of its own (ASCII punctuation).
const PUNCT: u8 = 0x82;

/// For each ASCII byte: `DROP`, `SPACE`, `PUNCT`, or the byte the normalizer turns it into
/// (lower-cased when asked), as BertNormalizer's clean_text/lowercase and BertPreTokenizer
/// treat it.
fn class_table(clean_text: bool, lowercase: bool) -> [u8; 128] {
    let mut t = [0u8; 128];
    for (b, slot) in t.iter_mut().enumerate() {
        let c = b as u8 as char;
        // BertNormalizer's clean_text: drop controls (but not \t \n \r), whitespace → ' '.
        let c = if clean_text {
            if c.is_control() && !matches!(c, '\t' | '\n' | '\r') || c == '\0' {
                *slot = DROP;
                continue;
            }
            if c.is_whitespace() {
                ' '
            } else {
                c
            }
        } else {
            c
        };
        let c = if lowercase { c.to_ascii_lowercase() } else { c };
        // BertPreTokenizer: whitespace separates, punctuation stands alone.
        *slot = if c.is_whitespace() {
            SPACE
        } else if c.is_ascii_punctuation() {
            PUNCT
        } else {
            c as u8
        };
    }
    t
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str()
}

impl BertWordPiece {
    /// Recognises the BERT pipeline in a parsed `tokenizer.json`; `None` for anything else.
    pub(crate) fn from_json(json: &Value) -> Option<Self> {
        let norm = json.get("normalizer")?;
        if str_of(norm, "type")? != "BertNormalizer" {
            return None;
        }
        let clean_text = norm.get("clean_text")?.as_bool()?;
        let lowercase = norm.get("lowercase")?.as_bool()?;
        // handle_chinese_chars and strip_accents change only non-ASCII text, which the fast
        // path never sees; still require well-formed values.
        norm.get("handle_chinese_chars")?.as_bool()?;
        match norm.get("strip_accents") {
            None | Some(Value::Null) | Some(Value::Bool(_)) => {}
            _ => return None,
        }
        if str_of(json.get("pre_tokenizer")?, "type")? != "BertPreTokenizer" {
            return None;
        }
        let model = json.get("model")?;
        if str_of(model, "type")? != "WordPiece"
            || str_of(model, "continuing_subword_prefix")? != "##"
        {
            return None;
        }
        let max_word_chars =
            usize::try_from(model.get("max_input_chars_per_word")?.as_u64()?).ok()?;
        let mut starts = BytesMap::default();
        let mut continues = BytesMap::default();
        let mut tokens = FxHashMap::default();
        let mut longest = 0;
        for (tok, id) in model.get("vocab")?.as_object()? {
            let id = u32::try_from(id.as_u64()?).ok()?;
            match tok.strip_prefix("##") {
                Some(rest) => {
                    continues.insert(rest.as_bytes(), id);
                    longest = longest.max(rest.len());
                }
                None => {
                    longest = longest.max(tok.len());
                }
            }
            // A `##x` entry is also a word-start piece for the literal text "##x".
            starts.insert(tok.as_bytes(), id);
            tokens.insert(id, tok.as_str().into());
        }
        let unk = *starts.get(str_of(model, "unk_token")?.as_bytes())?;
        let mut added = Vec::new();
        if let Some(list) = json.get("added_tokens") {
            for t in list.as_array()? {
                let content = str_of(t, "content")?;
                let id = u32::try_from(t.get("id")?.as_u64()?).ok()?;
                let special = t.get("special")?.as_bool()?;
                let normalized = t.get("normalized").and_then(Value::as_bool).unwrap_or(true);
                // Non-special or normalized added tokens match in ways the fast path does not model.
                if !special || normalized || content.is_empty() {
                    return None;
                }
                tokens.insert(id, content.into());
                added.push(content.to_string());
            }
        }
        let (cls, sep, post) = match json.get("post_processor") {
            None | Some(Value::Null) => (unk, unk, false),
            Some(pp) => {
                let (cls, sep) = post_processor(pp)?;
                tokens.get(&cls)?;
                tokens.get(&sep)?;
                (cls, sep, true)
            }
        };
        let mut added_first = [false; 256];
        for a in &added {
            added_first[a.as_bytes()[0] as usize] = true;
        }
        Some(BertWordPiece {
            class: class_table(clean_text, lowercase),
            added_first,
            starts,
            continues,
            tokens,
            longest,
            unk,
            max_word_chars,
            cls,
            sep,
            post,
            added,
        })
    }

    /// Appends the word-piece ids of `text` without special tokens or truncation to `out`, as
    /// the crate's `encode(text, false)` gives them, with a cache of the ids of words already
    /// seen; false (with `out` unchanged) when the text is not for the fast path (non-ASCII,
    /// or containing an added token).
    pub(crate) fn ids_without_specials_cached(
        &self,
        text: &str,
        out: &mut Vec<u32>,
        cache: &mut WordCache,
    ) -> bool {
        if !self.handles(text) {
            return false;
        }
        self.tokenize_with(text, out, &mut Some(cache));
        true
    }

    /// Tokenizes `text` (and `pair`) as the crate would with `truncation`, or `None` when the
    /// input is not for the fast path (non-ASCII text, an added token inside, a truncation the
    /// fast path does not model).
    pub(crate) fn encode(
        &self,
        text: &str,
        pair: Option<&str>,
        truncation: Option<&TruncationParams>,
    ) -> Option<TokenEncoding> {
        if !self.post {
            return None;
        }
        if !self.handles(text) || !pair.is_none_or(|p| self.handles(p)) {
            return None;
        }
        let mut a = Vec::new();
        self.tokenize_into(text, &mut a);
        let mut b = pair.map(|p| {
            let mut v = Vec::new();
            self.tokenize_into(p, &mut v);
            v
        });
        let mut truncated = false;
        if let Some(t) = truncation {
            let n_added = if b.is_some() { 3 } else { 2 };
            if t.strategy != TruncationStrategy::LongestFirst || t.max_length < n_added {
                return None;
            }
            let max = t.max_length - n_added;
            let keep = |v: &mut Vec<u32>, n: usize| -> bool {
                if v.len() <= n {
                    return false;
                }
                match t.direction {
                    TruncationDirection::Right => v.truncate(n),
                    TruncationDirection::Left => {
                        v.drain(..v.len() - n);
                    }
                }
                true
            };
            match b.as_mut() {
                _ if max == 0 => {
                    let ta = keep(&mut a, 0);
                    let tb = b.as_mut().is_some_and(|b| keep(b, 0));
                    truncated = ta || tb;
                }
                None => truncated = keep(&mut a, max),
                Some(b) => {
                    if a.len() + b.len() > max {
                        // The crate's longest-first split between the two segments.
                        let (mut n1, mut n2) = (a.len(), b.len());
                        let swap = n1 > n2;
                        if swap {
                            std::mem::swap(&mut n1, &mut n2);
                        }
                        n2 = if n1 > max { n1 } else { n1.max(max - n1) };
                        if n1 + n2 > max {
                            n1 = max / 2;
                            n2 = n1 + max % 2;
                        }
                        if swap {
                            std::mem::swap(&mut n1, &mut n2);
                        }
                        let ta = keep(&mut a, n1);
                        let tb = keep(b, n2);
                        truncated = ta || tb;
                    }
                }
            }
        }
        let len = a.len() + 2 + b.as_ref().map_or(0, |b| b.len() + 1);
        let mut ids = Vec::with_capacity(len);
        let mut type_ids = Vec::with_capacity(len);
        ids.push(self.cls);
        ids.extend_from_slice(&a);
        ids.push(self.sep);
        type_ids.resize(ids.len(), 0);
        if let Some(b) = &b {
            ids.extend_from_slice(b);
            ids.push(self.sep);
            type_ids.resize(ids.len(), 1);
        }
        let tokens = ids.iter().map(|id| self.tokens[id].to_string()).collect();
        Some(TokenEncoding {
            tokens,
            attention_mask: vec![1; ids.len()],
            ids,
            type_ids,
            truncated,
        })
    }

    /// True for text the fast path tokenizes: ASCII without an added token inside.
    #[inline]
    fn handles(&self, text: &str) -> bool {
        let bytes = text.as_bytes();
        bytes.is_ascii()
            && !(bytes.iter().any(|&b| self.added_first[b as usize])
                && self.added.iter().any(|a| text.contains(a.as_str())))
    }

    /// Normalises, splits and WordPiece-tokenizes ASCII `text`, appending ids to `out`.
    fn tokenize_into(&self, text: &str, out: &mut Vec<u32>) {
        self.tokenize_with(text, out, &mut None);
    }

    /// [`BertWordPiece::tokenize_into`], looking words up in `cache` first when there is one.
    fn tokenize_with(&self, text: &str, out: &mut Vec<u32>, cache: &mut Option<&mut WordCache>) {
        let mut word: Vec<u8> = Vec::with_capacity(32);
        for &b in text.as_bytes() {
            // ASCII only (checked by the callers); a byte ≥ 128 would index past the table.
            match self.class[(b & 0x7f) as usize] {
                DROP => {}
                SPACE => {
                    self.word_cached(&word, out, cache);
                    word.clear();
                }
                PUNCT => {
                    self.word_cached(&word, out, cache);
                    word.clear();
                    self.word_cached(&[b], out, cache);
                }
                c => word.push(c),
            }
        }
        self.word_cached(&word, out, cache);
    }

    /// [`BertWordPiece::word_into`] through the cache, when there is one.
    #[inline]
    fn word_cached(&self, word: &[u8], out: &mut Vec<u32>, cache: &mut Option<&mut WordCache>) {
        match cache {
            None => self.word_into(word, out),
            Some(cache) => {
                if word.is_empty() || cache.extend(word, out) {
                    return;
                }
                let before = out.len();
                self.word_into(word, out);
                cache.insert(word, &out[before..]);
            }
        }
    }

    /// Greedy longest-match-first WordPiece of one ASCII word (nothing for an empty one).
    fn word_into(&self, word: &[u8], out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.len() > self.max_word_chars {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let map = if start == 0 {
                &self.starts
            } else {
                &self.continues
            };
            let mut end = word.len().min(start + self.longest);
            let found = loop {
                if end == start {
                    break None;
                }
                if let Some(&id) = map.get(&word[start..end]) {
                    break Some(id);
                }
                end -= 1;
            };
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// The `[CLS]` and `[SEP]` ids of a BERT post-processor (TemplateProcessing with exactly the
/// BERT templates, or BertProcessing); `None` for anything else.
fn post_processor(pp: &Value) -> Option<(u32, u32)> {
    match str_of(pp, "type")? {
        "BertProcessing" => {
            let id = |k: &str| u32::try_from(pp.get(k)?.get(1)?.as_u64()?).ok();
            Some((id("cls")?, id("sep")?))
        }
        "TemplateProcessing" => {
            let piece = |p: &Value| -> Option<(bool, String, u64)> {
                let (special, inner) = match (p.get("SpecialToken"), p.get("Sequence")) {
                    (Some(s), None) => (true, s),
                    (None, Some(s)) => (false, s),
                    _ => return None,
                };
                Some((
                    special,
                    str_of(inner, "id")?.to_string(),
                    inner.get("type_id")?.as_u64()?,
                ))
            };
            let template = |k: &str| -> Option<Vec<(bool, String, u64)>> {
                pp.get(k)?.as_array()?.iter().map(piece).collect()
            };
            let single = template("single")?;
            let pair = template("pair")?;
            let (cls, sep) = match single.as_slice() {
                [(true, c, 0), (false, a, 0), (true, s, 0)] if a == "A" => (c.clone(), s.clone()),
                _ => return None,
            };
            let expected = vec![
                (true, cls.clone(), 0),
                (false, "A".to_string(), 0),
                (true, sep.clone(), 0),
                (false, "B".to_string(), 1),
                (true, sep.clone(), 1),
            ];
            if pair != expected {
                return None;
            }
            let special = pp.get("special_tokens")?;
            let one_id = |name: &str| -> Option<u32> {
                match special.get(name)?.get("ids")?.as_array()?.as_slice() {
                    [id] => u32::try_from(id.as_u64()?).ok(),
                    _ => None,
                }
            };
            Some((one_id(&cls)?, one_id(&sep)?))
        }
        _ => None,
    }
}
