//! Tokenization as the model does it: `tokenizer.json` through the `tokenizers` crate (special
//! tokens, sentence pairs with type ids, the configured truncation), with the padding that some
//! files force switched off unless asked for, and a clear error for text the model cannot place.

use std::path::{Path, PathBuf};

use tokenizers::{Tokenizer, TruncationParams};

use super::wordpiece::BertWordPiece;
use crate::error::{Error, Result};

/// What to do with text longer than the model accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation {
    /// The truncation written in `tokenizer.json` (none if it has none): text that is still too
    /// long for the model's positions is an error.
    #[default]
    AsConfigured,
    /// Cut to the longest sequence the model's positions allow (longest-first for pairs).
    ToModel,
    /// Never cut: text longer than the model's positions is an error.
    Off,
    /// Cut to at most this many tokens (special tokens included; longest-first for pairs), as
    /// sentence-transformers' `max_seq_length`; capped at the model's positions.
    MaxLength(usize),
}

/// One tokenized input: what the input layer is applied to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenEncoding {
    /// Token strings, special tokens included.
    pub tokens: Vec<String>,
    /// Token ids (rows of the word embedding matrix).
    pub ids: Vec<u32>,
    /// Segment ids: 0 for the first text, 1 for the pair (BERT-style models).
    pub type_ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// True when the tokenizer cut the input to fit.
    pub truncated: bool,
}

impl TokenEncoding {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

impl From<&tokenizers::Encoding> for TokenEncoding {
    fn from(e: &tokenizers::Encoding) -> Self {
        TokenEncoding {
            tokens: e.get_tokens().to_vec(),
            ids: e.get_ids().to_vec(),
            type_ids: e.get_type_ids().to_vec(),
            attention_mask: e.get_attention_mask().to_vec(),
            truncated: !e.get_overflowing().is_empty(),
        }
    }
}

/// A model's tokenizer with the options the input layer applies.
#[derive(Debug, Clone)]
pub struct ModelTokenizer {
    path: PathBuf,
    tokenizer: Tokenizer,
    configured_truncation: Option<TruncationParams>,
    configured_padding: Option<tokenizers::PaddingParams>,
    max_tokens: usize,
    truncation: Truncation,
    pad: bool,
    /// The BERT WordPiece fast path, when `tokenizer.json` is exactly that pipeline.
    fast: Option<BertWordPiece>,
}

/// Parses a `tokenizer.json`. The `tokenizers` crate panics on some malformed files (found by
/// the corruption campaign: RELIABILITY.md); such a panic is caught here and reported as a
/// format error of that file, so a bad file never takes the process down.
pub(crate) fn parse_tokenizer(path: &Path, bytes: &[u8]) -> Result<Tokenizer> {
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Tokenizer::from_bytes(bytes)
    }));
    match parsed {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(Error::at_byte(
            path,
            0,
            format!("not a tokenizer.json this version reads: {e}"),
        )),
        Err(_) => Err(Error::at_byte(
            path,
            0,
            "not a tokenizer.json this version reads: the tokenizers library rejected it (it panicked)",
        )),
    }
}

impl ModelTokenizer {
    /// Loads `tokenizer.json`; `max_tokens` is the longest sequence the model can place.
    /// Padding starts off; truncation starts as configured.
    pub fn from_file(path: impl AsRef<Path>, max_tokens: usize) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let mut tokenizer = parse_tokenizer(&path, &bytes)?;
        let configured_truncation = tokenizer.get_truncation().cloned();
        let configured_padding = tokenizer.get_padding().cloned();
        tokenizer.with_padding(None);
        let fast = serde_json::from_slice(&bytes)
            .ok()
            .and_then(|json| BertWordPiece::from_json(&json));
        Ok(ModelTokenizer {
            path,
            tokenizer,
            configured_truncation,
            configured_padding,
            max_tokens,
            truncation: Truncation::AsConfigured,
            pad: false,
            fast,
        })
    }

    /// The underlying `tokenizers` tokenizer (with the current options applied).
    pub fn inner(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The longest sequence (special tokens included) the model can place.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The padding written in `tokenizer.json`, if any (applied only after [`Self::set_padding`]).
    pub fn configured_padding(&self) -> Option<&tokenizers::PaddingParams> {
        self.configured_padding.as_ref()
    }

    /// The truncation written in `tokenizer.json`, if any.
    pub fn configured_truncation(&self) -> Option<&TruncationParams> {
        self.configured_truncation.as_ref()
    }

    /// Applies the padding of `tokenizer.json` (`true`) or none (`false`, the default). Asking
    /// for padding when the file configures none is an error.
    pub fn set_padding(&mut self, pad: bool) -> Result<()> {
        if pad && self.configured_padding.is_none() {
            return Err(Error::at_field(
                &self.path,
                "padding",
                "padding requested but tokenizer.json configures none",
            ));
        }
        self.pad = pad;
        self.tokenizer.with_padding(if pad {
            self.configured_padding.clone()
        } else {
            None
        });
        Ok(())
    }

    /// Chooses how long inputs are handled.
    pub fn set_truncation(&mut self, truncation: Truncation) -> Result<()> {
        let params = match truncation {
            Truncation::AsConfigured => self.configured_truncation.clone(),
            Truncation::Off => None,
            Truncation::ToModel => Some(TruncationParams {
                max_length: self.max_tokens,
                ..self.configured_truncation.clone().unwrap_or_default()
            }),
            Truncation::MaxLength(n) => {
                if n == 0 {
                    return Err(Error::invalid("max_length", "must be at least 1"));
                }
                Some(TruncationParams {
                    max_length: n.min(self.max_tokens),
                    ..self.configured_truncation.clone().unwrap_or_default()
                })
            }
        };
        self.tokenizer
            .with_truncation(params)
            .map_err(|e| Error::invalid("truncation", e.to_string()))?;
        self.truncation = truncation;
        Ok(())
    }

    /// Sets raw truncation parameters (tests of the fast path's truncation).
    #[cfg(test)]
    pub(crate) fn set_truncation_params(&mut self, params: Option<TruncationParams>) {
        self.tokenizer.with_truncation(params).unwrap();
    }

    /// Tokenizes `text` (and the second segment `pair`), adding the model's special tokens.
    /// Errors when the result is longer than the model's positions.
    pub fn encode(&self, text: &str, pair: Option<&str>) -> Result<TokenEncoding> {
        let enc = match self.encode_fast_path(text, pair) {
            Some(enc) => enc,
            None => self.encode_with_crate(text, pair)?,
        };
        if enc.len() > self.max_tokens {
            let how = match self.truncation {
                Truncation::Off => "truncation is off",
                _ => "tokenizer.json does not truncate to fit",
            };
            return Err(Error::invalid(
                "text",
                format!(
                    "{} tokens but the model has positions for {} ({how}; truncate to the model's length to cut it)",
                    enc.len(),
                    self.max_tokens
                ),
            ));
        }
        Ok(enc)
    }

    /// True when `tokenizer.json` is the BERT WordPiece pipeline the fast path reproduces.
    pub fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// The fast path's encoding (no padding, special tokens added), or `None` when the options
    /// or the input are not for it.
    pub(crate) fn encode_fast_path(&self, text: &str, pair: Option<&str>) -> Option<TokenEncoding> {
        if self.pad {
            return None;
        }
        self.fast
            .as_ref()?
            .encode(text, pair, self.tokenizer.get_truncation())
    }

    /// The `tokenizers` crate's encoding with the current options (the reference the fast path
    /// matches).
    pub(crate) fn encode_with_crate(
        &self,
        text: &str,
        pair: Option<&str>,
    ) -> Result<TokenEncoding> {
        let enc = match pair {
            None => self.tokenizer.encode(text, true),
            Some(p) => self.tokenizer.encode((text, p), true),
        }
        .map_err(|e| Error::Other(format!("{}: tokenizing failed: {e}", self.path.display())))?;
        Ok(TokenEncoding::from(&enc))
    }

    /// The token string of `id`, if the tokenizer has one.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// The unknown token, if the model has one.
    pub fn unk_token(&self) -> Option<String> {
        match self.tokenizer.get_model() {
            tokenizers::ModelWrapper::WordPiece(w) => Some(w.unk_token.clone()),
            tokenizers::ModelWrapper::BPE(b) => b.unk_token.clone(),
            tokenizers::ModelWrapper::WordLevel(w) => Some(w.unk_token.clone()),
            tokenizers::ModelWrapper::Unigram(_) => ["<unk>", "[UNK]"]
                .into_iter()
                .find(|t| self.tokenizer.token_to_id(t).is_some())
                .map(str::to_string),
        }
    }
}
