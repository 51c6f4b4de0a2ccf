//! The input embedding layer of real transformers: from a Hugging Face model folder
//! (`config.json`, `tokenizer.json`, `model.safetensors`) to the vectors the first attention
//! block sees.
//!
//! - [`InputEmbeddings`]: loads a folder and applies its family's recipe ([`Family`]): BERT
//!   (word + position + token type, LayerNorm), RoBERTa (positions after `padding_idx`), GPT-2
//!   (`wte` + `wpe`), Llama/Mistral/Qwen (token rows only: positions are rotary, in attention),
//!   and optionally fixed sinusoidal positions ([`PositionMode::Sinusoidal`]).
//! - [`ModelTokenizer`] / [`TokenEncoding`]: tokenization as the model does it.
//! - [`ModelConfig`]: what `config.json` says about the layer.
//! - [`export_token_embeddings`]: a model's token matrix and vocabulary as
//!   [`Embeddings`](crate::Embeddings), so every other embers command can query an LLM's
//!   vocabulary.
//!
//! Weights stay memory-mapped; F16 and BF16 rows are converted as they are read.

mod config;
mod encoder;
mod export;
pub(crate) mod tokenize;
pub(crate) mod unigram;
mod weights;
mod word_cache;
pub(crate) mod wordpiece;

#[cfg(test)]
mod tests;

pub use config::{Family, ModelConfig, SUPPORTED_MODEL_TYPES};
pub use encoder::{Activation, Encoder, EncoderConfig, HiddenStates};
pub use export::{export_token_embeddings, export_vocab};
pub use tokenize::{ModelTokenizer, TokenEncoding, Truncation};
pub use weights::{Checkpoint, Table, NAME_PREFIXES};

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::storage::DenseMatrix;

/// Where the position part of the input layer comes from.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum PositionMode {
    /// The model's own recipe (learned tables, or none for rotary models).
    #[default]
    Model,
    /// Fixed sinusoidal positions of the original Transformer ("Attention Is All You Need"):
    /// `PE[p, 2i] = sin(p / 10000^(2i/d))`, `PE[p, 2i+1] = cos(p / 10000^(2i/d))`, positions
    /// `0..n`, added instead of any learned table. With `scale`, token rows are first multiplied
    /// by `sqrt(d)` as in that paper.
    Sinusoidal { scale: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct LayerNorm {
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) eps: f64,
}

/// The input embedding layer of one model, ready to turn text into rows × hidden matrices.
#[derive(Debug, Clone)]
pub struct InputEmbeddings {
    dir: PathBuf,
    config: ModelConfig,
    tokenizer: ModelTokenizer,
    word: Table,
    position: Option<Table>,
    token_type: Option<Table>,
    norm: Option<LayerNorm>,
    positions: PositionMode,
}

impl InputEmbeddings {
    /// Loads a Hugging Face model folder: validates `config.json`, loads `tokenizer.json`, maps
    /// the weights and checks every embedding tensor's shape against the config.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::io(
                &dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "model folder not found"),
            ));
        }
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::io(
                &config_path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the model folder has no config.json",
                ),
            ));
        }
        let config = ModelConfig::from_file(&config_path)?;
        let tok_path = dir.join("tokenizer.json");
        if !tok_path.is_file() {
            return Err(Error::io(
                &tok_path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the model folder has no tokenizer.json (a vocab.txt or tokenizer.model alone is not read)",
                ),
            ));
        }
        let checkpoint = Checkpoint::open_dir(&dir)?;
        let tokenizer = ModelTokenizer::from_file(&tok_path, config.max_tokens())?;
        let h = config.hidden_size;
        let (word, position, token_type, norm) = match config.family {
            Family::Bert | Family::Roberta => {
                let word = checkpoint
                    .require_table(&["embeddings.word_embeddings.weight"], "word embeddings")?;
                let position = checkpoint.require_table(
                    &["embeddings.position_embeddings.weight"],
                    "position embeddings",
                )?;
                position.expect_shape(
                    Some(config.max_position_embeddings),
                    h,
                    "max_position_embeddings × hidden_size",
                )?;
                let token_type = if config.type_vocab_size > 0 {
                    let t = checkpoint.require_table(
                        &["embeddings.token_type_embeddings.weight"],
                        "token type embeddings",
                    )?;
                    t.expect_shape(
                        Some(config.type_vocab_size),
                        h,
                        "type_vocab_size × hidden_size",
                    )?;
                    Some(t)
                } else {
                    None
                };
                let weight = checkpoint.require_table(
                    &["embeddings.LayerNorm.weight", "embeddings.LayerNorm.gamma"],
                    "embedding LayerNorm weight",
                )?;
                let bias = checkpoint.require_table(
                    &["embeddings.LayerNorm.bias", "embeddings.LayerNorm.beta"],
                    "embedding LayerNorm bias",
                )?;
                for t in [&weight, &bias] {
                    if t.rows() != 1 {
                        return Err(Error::at_field(t.path(), t.name(), "expected a vector"));
                    }
                    t.expect_shape(None, h, "hidden_size")?;
                }
                let norm = LayerNorm {
                    weight: weight.row_f32(0),
                    bias: bias.row_f32(0),
                    eps: config.layer_norm_eps.unwrap_or(1e-12),
                };
                (word, Some(position), token_type, Some(norm))
            }
            Family::Gpt2 => {
                let word = checkpoint.require_table(&["wte.weight"], "token embeddings (wte)")?;
                let position =
                    checkpoint.require_table(&["wpe.weight"], "position embeddings (wpe)")?;
                position.expect_shape(
                    Some(config.max_position_embeddings),
                    h,
                    "n_positions × n_embd",
                )?;
                (word, Some(position), None, None)
            }
            Family::Rotary => {
                let word = checkpoint.require_table(
                    &["embed_tokens.weight", "tok_embeddings.weight"],
                    "token embeddings (embed_tokens)",
                )?;
                (word, None, None, None)
            }
        };
        word.expect_shape(Some(config.vocab_size), h, "vocab_size × hidden_size")?;
        Ok(InputEmbeddings {
            dir,
            config,
            tokenizer,
            word,
            position,
            token_type,
            norm,
            positions: PositionMode::Model,
        })
    }

    /// The model folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `config.json` says about the layer.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The model family.
    pub fn family(&self) -> Family {
        self.config.family
    }

    /// Width of the output rows.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// The tokenizer with its current options.
    pub fn tokenizer(&self) -> &ModelTokenizer {
        &self.tokenizer
    }

    /// The token embedding matrix, viewed in the memory map.
    pub fn word_embeddings(&self) -> &Table {
        &self.word
    }

    /// Applies (`true`) or not (`false`, the default) the padding `tokenizer.json` configures.
    pub fn set_padding(&mut self, pad: bool) -> Result<()> {
        self.tokenizer.set_padding(pad)
    }

    /// Chooses how text longer than the model's positions is handled.
    pub fn set_truncation(&mut self, truncation: Truncation) -> Result<()> {
        self.tokenizer.set_truncation(truncation)
    }

    /// Chooses the position recipe (the model's own by default).
    pub fn set_positions(&mut self, positions: PositionMode) {
        self.positions = positions;
    }

    /// A short description of the position part, e.g. for `embers tokens` to print.
    pub fn positions_note(&self) -> &'static str {
        match (self.positions, self.config.family) {
            (PositionMode::Sinusoidal { .. }, _) => "fixed sinusoidal positions 0..n",
            (_, Family::Bert) => "learned absolute positions 0..n",
            (_, Family::Roberta) => {
                "learned positions from padding_idx + 1; padding keeps padding_idx"
            }
            (_, Family::Gpt2) => "learned absolute positions 0..n (wpe)",
            (_, Family::Rotary) => {
                "no positions in the input layer: they are rotary (RoPE), applied inside attention"
            }
        }
    }

    /// Tokenizes `text` (and `pair`) as the model does.
    pub fn encode(&self, text: &str, pair: Option<&str>) -> Result<TokenEncoding> {
        self.tokenizer.encode(text, pair)
    }

    /// The position id of every token, or `None` when the input layer adds no positions.
    pub fn position_ids(&self, ids: &[u32]) -> Option<Vec<u32>> {
        match (self.positions, self.config.family) {
            (PositionMode::Sinusoidal { .. }, _) | (_, Family::Bert | Family::Gpt2) => {
                Some((0..ids.len() as u32).collect())
            }
            (_, Family::Roberta) => {
                let pad = self.config.pad_token_id.unwrap_or(1);
                let mut seen = 0;
                Some(
                    ids.iter()
                        .map(|&id| {
                            if id == pad {
                                pad
                            } else {
                                seen += 1;
                                seen + pad
                            }
                        })
                        .collect(),
                )
            }
            (_, Family::Rotary) => None,
        }
    }

    /// The layer's output for one tokenized input: `len × hidden_size`, row `t` for token `t`.
    /// Errors on ids or type ids outside the tables and on sequences longer than the positions.
    pub fn embed(&self, encoding: &TokenEncoding) -> Result<DenseMatrix> {
        self.embed_ids(&encoding.ids, &encoding.type_ids)
    }

    /// The layer's output for token ids and their type ids (empty `type_ids` means all 0).
    pub fn embed_ids(&self, ids: &[u32], type_ids: &[u32]) -> Result<DenseMatrix> {
        let h = self.config.hidden_size;
        let n = ids.len();
        if !type_ids.is_empty() && type_ids.len() != n {
            return Err(Error::shape("type ids", n, type_ids.len()));
        }
        let rows = self.word.rows();
        if let Some((t, &id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= rows) {
            return Err(Error::invalid(
                "ids",
                format!("token {t} has id {id} but the embedding matrix has {rows} rows"),
            ));
        }
        let positions = self.position_ids(ids);
        if let Some(p) = &positions {
            if let PositionMode::Model = self.positions {
                let table = self.position.as_ref().expect("learned families have one");
                if let Some(&max) = p.iter().max() {
                    if max as usize >= table.rows() {
                        return Err(Error::invalid(
                            "ids",
                            format!(
                                "{n} tokens but the model has positions for {}",
                                self.config.max_tokens()
                            ),
                        ));
                    }
                }
            }
        }
        // Families without a token type table ignore type ids (Llama's pair template sets them).
        if let Some(table) = &self.token_type {
            let types = table.rows();
            if let Some((t, &ty)) = type_ids
                .iter()
                .enumerate()
                .find(|(_, &ty)| ty as usize >= types)
            {
                return Err(Error::invalid(
                    "type_ids",
                    format!("token {t} has type id {ty} but the model has {types} token types"),
                ));
            }
        }
        let mut out = vec![0f32; n * h];
        let scale = match self.positions {
            PositionMode::Sinusoidal { scale: true } => Some((h as f32).sqrt()),
            _ => None,
        };
        for (t, row) in out.chunks_exact_mut(h).enumerate() {
            self.word.add_row_to(ids[t] as usize, row);
            if let Some(s) = scale {
                row.iter_mut().for_each(|x| *x *= s);
            }
            if let Some(p) = &positions {
                match self.positions {
                    PositionMode::Model => self
                        .position
                        .as_ref()
                        .expect("learned families have one")
                        .add_row_to(p[t] as usize, row),
                    PositionMode::Sinusoidal { .. } => add_sinusoid(p[t], row),
                }
            }
            if let Some(tt) = &self.token_type {
                tt.add_row_to(type_ids.get(t).copied().unwrap_or(0) as usize, row);
            }
            if let Some(norm) = &self.norm {
                layer_norm(row, norm);
            }
        }
        DenseMatrix::new(n, h, out)
    }

    /// Tokenizes and embeds one input.
    pub fn embed_text(
        &self,
        text: &str,
        pair: Option<&str>,
    ) -> Result<(TokenEncoding, DenseMatrix)> {
        let enc = self.encode(text, pair)?;
        let m = self.embed(&enc)?;
        Ok((enc, m))
    }

    /// Tokenizes and embeds many inputs in parallel (rayon's current pool), in order; each
    /// line's result is separate so one bad line does not hide the others.
    pub fn embed_lines<S: AsRef<str> + Sync>(
        &self,
        lines: &[S],
    ) -> Vec<Result<(TokenEncoding, DenseMatrix)>> {
        lines
            .par_iter()
            .map(|l| self.embed_text(l.as_ref(), None))
            .collect()
    }

    /// Like [`Self::embed_lines`] for inputs that may have a second segment.
    pub fn embed_pairs<S: AsRef<str> + Sync>(
        &self,
        inputs: &[(S, Option<S>)],
    ) -> Vec<Result<(TokenEncoding, DenseMatrix)>> {
        inputs
            .par_iter()
            .map(|(t, p)| self.embed_text(t.as_ref(), p.as_ref().map(|p| p.as_ref())))
            .collect()
    }
}

/// Adds the sinusoidal position encoding of position `p` to `row`, computed in f64.
fn add_sinusoid(p: u32, row: &mut [f32]) {
    let d = row.len() as f64;
    for (j, x) in row.iter_mut().enumerate() {
        let i2 = (j - j % 2) as f64;
        let angle = p as f64 / 10000f64.powf(i2 / d);
        *x += if j % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
    }
}

/// LayerNorm over one row: `(x - mean) / sqrt(var + eps) * weight + bias`, with the mean and
/// variance accumulated in f64 (eight partial sums, so the loop vectorises).
pub(crate) fn layer_norm(row: &mut [f32], norm: &LayerNorm) {
    let n = row.len() as f64;
    let mean = sum_f64(row, |x| x) / n;
    let var = sum_f64(row, |x| {
        let d = x - mean;
        d * d
    }) / n;
    let inv = (1.0 / (var + norm.eps).sqrt()) as f32;
    let mean = mean as f32;
    for ((x, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
        *x = (*x - mean) * inv * *w + *b;
    }
}

fn sum_f64(row: &[f32], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0f64; 8];
    let chunks = row.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += f(c[k] as f64);
        }
    }
    let mut total: f64 = acc.iter().sum();
    for &x in rest {
        total += f(x as f64);
    }
    total
}
