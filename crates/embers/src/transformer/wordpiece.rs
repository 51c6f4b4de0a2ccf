//! A fast path for BERT-style WordPiece tokenizers: when `tokenizer.json` holds exactly the
//! common BERT pipeline (BertNormalizer, BertPreTokenizer, WordPiece with `##` pieces, a
//! `[CLS] A [SEP] (B [SEP])` post-processor, only special added tokens), ASCII text is
//! tokenized here with the same result as the `tokenizers` crate; anything else (non-ASCII
//! text, text containing an added token, other truncation strategies) is left to the crate.

use rustc_hash::FxHashMap;
use serde_json::Value;
use tokenizers::{TruncationDirection, TruncationParams, TruncationStrategy};

use super::tokenize::TokenEncoding;
use super::word_cache::WordCache;

/// The BERT pipeline of one `tokenizer.json`, recognised and ready to tokenize ASCII text.
#[derive(Debug, Clone)]
pub(crate) struct BertWordPiece {
    clean_text: bool,
    lowercase: bool,
    /// Pieces that start a word, by text.
    starts: FxHashMap<Box<str>, u32>,
    /// Pieces that continue a word, by their text without the `##` prefix.
    continues: FxHashMap<Box<str>, u32>,
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
        let mut starts = FxHashMap::default();
        let mut continues = FxHashMap::default();
        let mut tokens = FxHashMap::default();
        let mut longest = 0;
        for (tok, id) in model.get("vocab")?.as_object()? {
            let id = u32::try_from(id.as_u64()?).ok()?;
            match tok.strip_prefix("##") {
                Some(rest) => {
                    continues.insert(rest.into(), id);
                    longest = longest.max(rest.len());
                }
                None => {
                    longest = longest.max(tok.len());
                }
            }
            // A `##x` entry is also a word-start piece for the literal text "##x".
            starts.insert(tok.as_str().into(), id);
            tokens.insert(id, tok.as_str().into());
        }
        let unk = *starts.get(str_of(model, "unk_token")?)?;
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
        Some(BertWordPiece {
            clean_text,
            lowercase,
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
        if !text.is_ascii() || self.added.iter().any(|a| text.contains(a.as_str())) {
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
        let handled = |s: &str| s.is_ascii() && !self.added.iter().any(|a| s.contains(a.as_str()));
        if !handled(text) || !pair.is_none_or(handled) {
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

    /// Normalises, splits and WordPiece-tokenizes ASCII `text`, appending ids to `out`.
    fn tokenize_into(&self, text: &str, out: &mut Vec<u32>) {
        self.tokenize_with(text, out, &mut None);
    }

    /// [`BertWordPiece::tokenize_into`], looking words up in `cache` first when there is one.
    fn tokenize_with(&self, text: &str, out: &mut Vec<u32>, cache: &mut Option<&mut WordCache>) {
        let mut word = String::new();
        for &b in text.as_bytes() {
            let c = b as char;
            // BertNormalizer's clean_text: drop controls (but not \t \n \r), whitespace → ' '.
            let c = if self.clean_text {
                if c.is_control() && !matches!(c, '\t' | '\n' | '\r') || c == '\0' {
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
            let c = if self.lowercase {
                c.to_ascii_lowercase()
            } else {
                c
            };
            // BertPreTokenizer: whitespace separates, punctuation stands alone.
            if c.is_whitespace() {
                self.word_cached(&word, out, cache);
                word.clear();
            } else if c.is_ascii_punctuation() {
                self.word_cached(&word, out, cache);
                word.clear();
                let mut buf = [0u8; 4];
                self.word_cached(c.encode_utf8(&mut buf), out, cache);
            } else {
                word.push(c);
            }
        }
        self.word_cached(&word, out, cache);
    }

    /// [`BertWordPiece::word_into`] through the cache, when there is one.
    #[inline]
    fn word_cached(&self, word: &str, out: &mut Vec<u32>, cache: &mut Option<&mut WordCache>) {
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
    fn word_into(&self, word: &str, out: &mut Vec<u32>) {
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
