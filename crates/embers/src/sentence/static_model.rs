//! Static sentence models: model2vec folders and sentence-transformers `StaticEmbedding` folders.
//!
//! A static model is a token matrix and a tokenizer: a sentence's vector is the mean of the rows
//! of its tokens. This module reproduces model2vec's `StaticModel.encode` (0.10) step by step:
//!
//! 1. the text is cut to `max_length × median token length` characters (the median of the
//!    character lengths of all vocabulary tokens, floored), then tokenized by `tokenizer.json`
//!    without special tokens, truncated to `max_length` tokens, padding off;
//! 2. the unknown token's id (WordPiece/BPE/WordLevel `unk_token`, Unigram `unk_id`) is dropped;
//! 3. each id is mapped through `mapping` (vocabulary quantization) to a row of `embeddings`, and
//!    the row is multiplied by `weights[id]` when the file has weights;
//! 4. the rows are averaged (numpy's order of operations: f32 sums in token order, then a divide;
//!    int8 tables without weights average in f64; f16 tables round the result to f16);
//!    a text without tokens gets the zero vector;
//! 5. when the config says `normalize` (or the caller asks), rows are divided by their norm.
//!
//! Layouts read, as model2vec's loader tries them: `config.json` + `model.safetensors`
//! (`embeddings`, optional `weights`, `mapping`) + `tokenizer.json`; sentence-transformers'
//! `config_sentence_transformers.json` + `model.safetensors` (`embedding.weight`) +
//! `tokenizer.json`, at the top or under `0_StaticEmbedding/`.

use std::path::{Path, PathBuf};

use half::{bf16, f16};
use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::{Error, Result};
use crate::io::safetensors::{Dtype, SafetensorsFile, TensorView};
use crate::kernels;
use crate::storage::DenseMatrix;
use crate::transformer::unigram::{UnigramFast, UnigramScratch};
use crate::transformer::wordpiece::BertWordPiece;

/// Tokens of a text whose rows [`StaticModel::pool`] prefetches before summing (at 1.5 KB a
/// row for 384 dims, more would only evict what was fetched first).
const PREFETCH_TOKENS: usize = 64;

/// model2vec's default maximum number of tokens per text.
pub const DEFAULT_MAX_LENGTH: usize = 512;

/// How the averaged rows are accumulated, as numpy does it for the table's dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accumulate {
    /// f32 sums (f32, bf16 and weighted tables).
    F32,
    /// f64 sums (numpy's mean of an integer array), then f32.
    F64,
    /// f32 sums rounded to f16 (numpy's mean of an f16 array).
    F16,
}

/// A static sentence model loaded from a model2vec or sentence-transformers folder.
#[derive(Debug, Clone)]
pub struct StaticModel {
    dir: PathBuf,
    tokenizer: Tokenizer,
    /// Token rows as f32 (int8/f16/bf16/f64 tables converted at load).
    table: Vec<f32>,
    rows: usize,
    dims: usize,
    /// Per-token-id weights.
    weights: Option<Vec<f32>>,
    /// Token id → row.
    mapping: Option<Vec<u32>>,
    /// Number of token ids (the tokenizer's vocabulary with added tokens: largest id + 1).
    vocab_size: usize,
    unk_id: Option<u32>,
    normalize: bool,
    max_length: Option<usize>,
    median_token_length: usize,
    accumulate: Accumulate,
    dtype: Dtype,
    /// The BERT WordPiece fast path (same ids as the crate on ASCII text without added tokens).
    fast: Option<BertWordPiece>,
    /// The Unigram fast path (same ids as the crate on printable ASCII text the normalizer
    /// leaves alone, without added tokens).
    unigram: Option<UnigramFast>,
}

/// The three files of a folder layout.
struct Layout {
    config: PathBuf,
    weights: PathBuf,
    tokenizer: PathBuf,
    sentence_transformers: bool,
}

fn find_layout(dir: &Path) -> Result<Layout> {
    let candidates = [
        ("config.json", "model.safetensors", "tokenizer.json", false),
        (
            "config_sentence_transformers.json",
            "model.safetensors",
            "tokenizer.json",
            true,
        ),
        (
            "config_sentence_transformers.json",
            "0_StaticEmbedding/model.safetensors",
            "0_StaticEmbedding/tokenizer.json",
            true,
        ),
    ];
    for (config, weights, tokenizer, st) in candidates {
        let layout = Layout {
            config: dir.join(config),
            weights: dir.join(weights),
            tokenizer: dir.join(tokenizer),
            sentence_transformers: st,
        };
        if layout.config.is_file() && layout.weights.is_file() && layout.tokenizer.is_file() {
            return Ok(layout);
        }
    }
    Err(Error::io(
        dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a static model folder: expected config.json + model.safetensors + tokenizer.json \
             (model2vec), or config_sentence_transformers.json with model.safetensors and \
             tokenizer.json at the top or under 0_StaticEmbedding/",
        ),
    ))
}

/// True when `dir` looks like a static model folder (model2vec or sentence-transformers
/// `StaticEmbedding`) rather than a transformer folder.
pub fn is_static_model_dir(dir: &Path) -> bool {
    let Ok(layout) = find_layout(dir) else {
        return false;
    };
    let Ok(file) = SafetensorsFile::open(&layout.weights) else {
        return false;
    };
    let name = if layout.sentence_transformers {
        "embedding.weight"
    } else {
        "embeddings"
    };
    file.get(name).is_some()
}

fn to_f32s(view: &TensorView<'_>, path: &Path, name: &str) -> Result<Vec<f32>> {
    let b = view.bytes;
    Ok(match view.dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::I8 => b.iter().map(|&x| x as i8 as f32).collect(),
        other => {
            return Err(Error::at_field(
                path,
                name,
                format!(
                    "dtype {} is not a table dtype (F32, F64, F16, BF16, I8)",
                    other.name()
                ),
            ))
        }
    })
}

fn to_indices(view: &TensorView<'_>, path: &Path, name: &str, rows: usize) -> Result<Vec<u32>> {
    let b = view.bytes;
    let wide: Vec<i64> = match view.dtype {
        Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Dtype::I32 => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
            .collect(),
        Dtype::U32 => b
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
            .collect(),
        other => {
            return Err(Error::at_field(
                path,
                name,
                format!(
                    "dtype {} is not an index dtype (I64, I32, U32)",
                    other.name()
                ),
            ))
        }
    };
    wide.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v < 0 || v as u64 >= rows as u64 {
                Err(Error::at_field(
                    path,
                    format!("{name}[{i}]"),
                    format!("row {v} is outside the {rows} rows of the embeddings"),
                ))
            } else {
                Ok(v as u32)
            }
        })
        .collect()
}

/// The unknown token's id as model2vec finds it: `unk_token` of WordPiece, BPE and WordLevel
/// models (looked up in the vocabulary), `unk_id` of Unigram models.
fn unk_id(json: &serde_json::Value, tokenizer: &Tokenizer) -> Option<u32> {
    let model = json.get("model")?;
    if model.get("type").and_then(|t| t.as_str()) == Some("Unigram") {
        return model
            .get("unk_id")
            .and_then(|v| v.as_u64())
            .map(|v| v as u32);
    }
    let token = model.get("unk_token")?.as_str()?;
    tokenizer.token_to_id(token)
}

impl StaticModel {
    /// Loads a static model folder (see the module documentation for the layouts).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let layout = find_layout(&dir)?;

        // Config: normalize (default false) and max_length (default 512; null = no limit).
        let config_bytes =
            std::fs::read(&layout.config).map_err(|e| Error::io(&layout.config, e))?;
        let config: serde_json::Value = serde_json::from_slice(&config_bytes).map_err(|e| {
            Error::at_line(
                &layout.config,
                e.line() as u64,
                format!("not valid JSON: {e}"),
            )
        })?;
        let normalize = match config.get("normalize") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                return Err(Error::at_field(
                    &layout.config,
                    "normalize",
                    "not true or false",
                ))
            }
        };
        let max_length = match config.get("max_length") {
            None => Some(DEFAULT_MAX_LENGTH),
            Some(serde_json::Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Some(
                    usize::try_from(n)
                        .map_err(|_| Error::at_field(&layout.config, "max_length", "too large"))?,
                ),
                _ => {
                    return Err(Error::at_field(
                        &layout.config,
                        "max_length",
                        "not a positive integer or null",
                    ))
                }
            },
        };

        // Tokenizer: padding off; truncation set per the model's max_length.
        let tok_bytes =
            std::fs::read(&layout.tokenizer).map_err(|e| Error::io(&layout.tokenizer, e))?;
        let mut tokenizer =
            crate::transformer::tokenize::parse_tokenizer(&layout.tokenizer, &tok_bytes)?;
        let tok_json: serde_json::Value = serde_json::from_slice(&tok_bytes).map_err(|e| {
            Error::at_line(
                &layout.tokenizer,
                e.line() as u64,
                format!("not valid JSON: {e}"),
            )
        })?;
        tokenizer.with_padding(None);
        let unk = unk_id(&tok_json, &tokenizer);

        // Vocabulary (added tokens included), ordered by id: its size and median token length.
        let vocab = tokenizer.get_vocab(true);
        if vocab.is_empty() {
            return Err(Error::at_field(
                &layout.tokenizer,
                "model.vocab",
                "the vocabulary is empty",
            ));
        }
        let mut by_id: Vec<(u32, usize)> = vocab
            .iter()
            .map(|(token, &id)| (id, token.chars().count()))
            .collect();
        by_id.sort_unstable();
        let n_tokens = by_id.len();
        let vocab_size = by_id.last().map(|&(id, _)| id as usize + 1).unwrap_or(0);
        let mut lengths: Vec<usize> = by_id.iter().map(|&(_, l)| l).collect();
        lengths.sort_unstable();
        let median_token_length = if n_tokens % 2 == 1 {
            lengths[n_tokens / 2]
        } else {
            (lengths[n_tokens / 2 - 1] + lengths[n_tokens / 2]) / 2
        };

        // Weights file.
        let file = SafetensorsFile::open(&layout.weights)?;
        let table_name = if layout.sentence_transformers {
            "embedding.weight"
        } else {
            "embeddings"
        };
        let view = file
            .get(table_name)
            .ok_or_else(|| Error::at_field(&layout.weights, table_name, "tensor missing"))?;
        if view.shape.len() != 2 || view.shape[0] == 0 || view.shape[1] == 0 {
            return Err(Error::at_field(
                &layout.weights,
                table_name,
                format!(
                    "shape {:?} is not a non-empty rows × dims matrix",
                    view.shape
                ),
            ));
        }
        let (rows, dims) = (view.shape[0], view.shape[1]);
        let dtype = view.dtype;
        let table = to_f32s(&view, &layout.weights, table_name)?;
        let weights = match file.get("weights") {
            Some(w) => {
                let values = to_f32s(&w, &layout.weights, "weights")?;
                if w.shape.len() != 1 || values.len() < vocab_size {
                    return Err(Error::at_field(
                        &layout.weights,
                        "weights",
                        format!(
                            "shape {:?}: expected one weight per token id ({vocab_size})",
                            w.shape
                        ),
                    ));
                }
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::at_field(
                        &layout.weights,
                        format!("weights[{i}]"),
                        "not a finite number",
                    ));
                }
                Some(values)
            }
            None => None,
        };
        let mapping = match file.get("mapping") {
            Some(m) => {
                let values = to_indices(&m, &layout.weights, "mapping", rows)?;
                if m.shape.len() != 1 || values.len() < vocab_size {
                    return Err(Error::at_field(
                        &layout.weights,
                        "mapping",
                        format!(
                            "shape {:?}: expected one row per token id ({vocab_size})",
                            m.shape
                        ),
                    ));
                }
                Some(values)
            }
            None => {
                if rows != n_tokens || vocab_size > rows {
                    return Err(Error::shape(
                        format!(
                            "{}: rows of `{table_name}` against the tokens of {}",
                            layout.weights.display(),
                            layout.tokenizer.display()
                        ),
                        format!("{n_tokens} rows (ids up to {})", vocab_size - 1),
                        format!("{rows} rows"),
                    ));
                }
                None
            }
        };
        if let Some(i) = table.iter().position(|v| !v.is_finite()) {
            return Err(Error::at_field(
                &layout.weights,
                format!("{table_name}[{}][{}]", i / dims, i % dims),
                "not a finite number",
            ));
        }
        let accumulate = match dtype {
            Dtype::F16 => Accumulate::F16,
            Dtype::I8 if weights.is_none() && mapping.is_none() => Accumulate::F64,
            _ => Accumulate::F32,
        };
        let fast = BertWordPiece::from_json(&tok_json);
        let unigram = if fast.is_none() {
            UnigramFast::from_json(&tok_json, &tokenizer)
        } else {
            None
        };
        let mut model = StaticModel {
            dir,
            tokenizer,
            table,
            rows,
            dims,
            weights,
            mapping,
            vocab_size,
            unk_id: unk,
            normalize,
            max_length: None,
            median_token_length,
            accumulate,
            dtype,
            fast,
            unigram,
        };
        model.set_max_length(max_length)?;
        Ok(model)
    }

    /// The folder the model was loaded from.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Dimensions of a sentence vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Rows of the token table (fewer than the vocabulary under vocabulary quantization).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of token ids the tokenizer can produce.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The element type the table is stored in.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }

    /// Whether sentence vectors are divided by their norm.
    pub fn normalize(&self) -> bool {
        self.normalize
    }

    /// Overrides the config's `normalize`.
    pub fn set_normalize(&mut self, normalize: bool) {
        self.normalize = normalize;
    }

    /// The maximum number of tokens per text (`None`: no limit).
    pub fn max_length(&self) -> Option<usize> {
        self.max_length
    }

    /// Overrides the config's `max_length` (`None`: no truncation).
    pub fn set_max_length(&mut self, max_length: Option<usize>) -> Result<()> {
        let truncation = match max_length {
            Some(0) => return Err(Error::invalid("max_length", "must be at least 1")),
            Some(n) => Some(TruncationParams {
                max_length: n,
                ..TruncationParams::default()
            }),
            None => None,
        };
        self.tokenizer
            .with_truncation(truncation)
            .map_err(|e| Error::invalid("max_length", e.to_string()))?;
        self.max_length = max_length;
        Ok(())
    }

    /// The token ids model2vec averages for `text`: cut to `max_length × median token length`
    /// characters, tokenized without special tokens, truncated, unknown tokens removed.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        self.tokenize_into(text, &mut ids, &mut UnigramScratch::one_off())?;
        Ok(ids)
    }

    /// [`StaticModel::tokenize`] into a reused buffer (cleared first).
    fn tokenize_into(
        &self,
        text: &str,
        ids: &mut Vec<u32>,
        scratch: &mut UnigramScratch,
    ) -> Result<()> {
        ids.clear();
        let text = match self.max_length {
            Some(n) => {
                let limit = n.saturating_mul(self.median_token_length);
                if text.len() <= limit {
                    // No more characters than bytes: nothing to cut.
                    text
                } else {
                    match text.char_indices().nth(limit) {
                        Some((byte, _)) => &text[..byte],
                        None => text,
                    }
                }
            }
            None => text,
        };
        let done = if let Some(fast) = &self.fast {
            fast.ids_without_specials_cached(text, ids, &mut scratch.cache)
        } else if let Some(fast) = &self.unigram {
            fast.encode_into(text, ids, scratch)
        } else {
            false
        };
        if done {
            // One sequence without specials: the crate's truncation keeps the first n.
            if let Some(n) = self.max_length {
                ids.truncate(n);
            }
        } else {
            ids.extend_from_slice(
                self.tokenizer
                    .encode_fast(text, false)
                    .map_err(|e| {
                        Error::Other(format!("tokenizing with {}: {e}", self.dir.display()))
                    })?
                    .get_ids(),
            );
        }
        if let Some(unk) = self.unk_id {
            ids.retain(|&id| id != unk);
        }
        Ok(())
    }

    /// Which of embers' own tokenizer paths the model has (`"wordpiece"`, `"unigram"`), used
    /// on the texts it handles; `None` when every text goes through the `tokenizers` crate.
    #[doc(hidden)]
    pub fn fast_tokenizer(&self) -> Option<&'static str> {
        if self.fast.is_some() {
            Some("wordpiece")
        } else if self.unigram.is_some() {
            Some("unigram")
        } else {
            None
        }
    }

    /// The ids the `tokenizers` crate alone gives for `text` (no fast path), after the same
    /// cut, truncation and unknown-token removal as [`StaticModel::tokenize`]; for tests that
    /// hold the fast paths to the crate.
    #[doc(hidden)]
    pub fn tokenize_with_crate(&self, text: &str) -> Result<Vec<u32>> {
        let text = match self.max_length {
            Some(n) => match text
                .char_indices()
                .nth(n.saturating_mul(self.median_token_length))
            {
                Some((byte, _)) => &text[..byte],
                None => text,
            },
            None => text,
        };
        let mut ids = self
            .tokenizer
            .encode_fast(text, false)
            .map_err(|e| Error::Other(format!("tokenizing with {}: {e}", self.dir.display())))?
            .get_ids()
            .to_vec();
        if let Some(unk) = self.unk_id {
            ids.retain(|&id| id != unk);
        }
        Ok(ids)
    }

    /// The sentence vector of a list of token ids, written into `out` (`dims` values): the mean
    /// of their rows (mapped and weighted), normalised when the model normalises. Ids outside the
    /// vocabulary are an error; no ids give the zero vector.
    pub fn embed_ids(&self, ids: &[u32], out: &mut [f32]) -> Result<()> {
        if out.len() != self.dims {
            return Err(Error::shape("sentence vector", self.dims, out.len()));
        }
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.vocab_size) {
            return Err(Error::invalid(
                "ids",
                format!(
                    "token id {bad} is outside the vocabulary of {} ids",
                    self.vocab_size
                ),
            ));
        }
        self.pool(ids, out);
        if self.normalize {
            self.finish_normalize(out);
        }
        Ok(())
    }

    /// The mean of the rows of valid `ids` into `out`, in numpy's order of operations.
    fn pool(&self, ids: &[u32], out: &mut [f32]) {
        out.fill(0.0);
        if ids.is_empty() {
            return;
        }
        let d = self.dims;
        // The rows are scattered over a table larger than the inner caches and are read a
        // block of dimensions at a time below: ask for all their lines first, so the misses
        // overlap instead of queueing one row after another.
        for &id in ids.iter().take(PREFETCH_TOKENS) {
            let r = match &self.mapping {
                Some(m) => m.get(id as usize).map_or(0, |&r| r as usize),
                None => id as usize,
            };
            if let Some(row) = self.table.get(r * d..(r + 1) * d) {
                kernels::prefetch_range(row.as_ptr(), std::mem::size_of_val(row));
            }
        }
        let row_of = |id: u32| -> &[f32] {
            let r = match &self.mapping {
                Some(m) => m[id as usize] as usize,
                None => id as usize,
            };
            &self.table[r * d..(r + 1) * d]
        };
        let n = ids.len();
        match self.accumulate {
            Accumulate::F64 => {
                let mut acc = vec![0f64; d];
                for &id in ids {
                    for (a, &x) in acc.iter_mut().zip(row_of(id)) {
                        *a += x as f64;
                    }
                }
                for (o, a) in out.iter_mut().zip(&acc) {
                    *o = (a / n as f64) as f32;
                }
            }
            Accumulate::F32 | Accumulate::F16 => {
                match &self.weights {
                    Some(w) => self.sum_rows(ids, out, |id| w[id as usize]),
                    None => self.sum_rows(ids, out, |_| 1.0),
                }
                let n = n as f32;
                for o in out.iter_mut() {
                    *o /= n;
                }
                if self.accumulate == Accumulate::F16 {
                    for o in out.iter_mut() {
                        *o = f16::from_f32(*o).to_f32();
                    }
                }
            }
        }
    }

    /// `out[j] = Σ weight(id) · row(id)[j]`, summed in token order (numpy's order), a block of
    /// dimensions at a time so the sums stay in registers while the rows are read.
    #[inline]
    fn sum_rows(&self, ids: &[u32], out: &mut [f32], weight: impl Fn(u32) -> f32) {
        const BLOCK: usize = 32;
        let d = self.dims;
        let row_start = |id: u32| -> usize {
            match &self.mapping {
                Some(m) => m[id as usize] as usize * d,
                None => id as usize * d,
            }
        };
        let mut start = 0;
        while start + BLOCK <= d {
            let mut acc = [0f32; BLOCK];
            for &id in ids {
                let w = weight(id);
                let at = row_start(id) + start;
                let src: &[f32; BLOCK] = self.table[at..at + BLOCK].try_into().expect("block");
                for (a, &x) in acc.iter_mut().zip(src) {
                    *a += x * w;
                }
            }
            out[start..start + BLOCK].copy_from_slice(&acc);
            start += BLOCK;
        }
        if start < d {
            let tail = &mut out[start..];
            tail.fill(0.0);
            for &id in ids {
                let w = weight(id);
                let at = row_start(id) + start;
                for (o, &x) in tail.iter_mut().zip(&self.table[at..at + d - start]) {
                    *o += x * w;
                }
            }
        }
    }

    /// One text's vector.
    pub fn encode_one(&self, text: &str) -> Result<Vec<f32>> {
        let ids = self.tokenize(text)?;
        let mut out = vec![0f32; self.dims];
        self.pool(&ids, &mut out);
        if self.normalize {
            self.finish_normalize(&mut out);
        }
        Ok(out)
    }

    fn finish_normalize(&self, out: &mut [f32]) {
        normalize_in_place(out);
        if self.accumulate == Accumulate::F16 {
            for o in out.iter_mut() {
                *o = f16::from_f32(*o).to_f32();
            }
        }
    }

    /// The vectors of many texts, one row each, computed on all cores.
    pub fn encode(&self, texts: &[&str]) -> Result<DenseMatrix> {
        let d = self.dims;
        let total = texts
            .len()
            .checked_mul(d)
            .ok_or_else(|| Error::invalid("texts", "output size overflows"))?;
        let mut data = vec![0f32; total];
        data.par_chunks_mut(d * 64)
            .zip(texts.par_chunks(64))
            .try_for_each_init(
                || (Vec::new(), UnigramScratch::default()),
                |(ids, scratch), (block, chunk)| -> Result<()> {
                    for (out, text) in block.chunks_exact_mut(d).zip(chunk) {
                        self.tokenize_into(text, ids, scratch)?;
                        self.pool(ids, out);
                        if self.normalize {
                            self.finish_normalize(out);
                        }
                    }
                    Ok(())
                },
            )?;
        DenseMatrix::new(texts.len(), d, data)
    }
}

/// Divides `v` by its Euclidean norm (computed in f64); a zero vector stays zero.
pub fn normalize_in_place(v: &mut [f32]) {
    let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt() as f32;
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
}
