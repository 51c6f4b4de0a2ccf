//! `config.json` of a Hugging Face model folder: which family the input layer belongs to and the
//! sizes it needs (hidden size, vocabulary rows, positions, token types, LayerNorm epsilon).

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// The input-embedding recipe of a model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// BERT (and DistilBERT): LayerNorm(word + learned position 0..n + token type).
    Bert,
    /// RoBERTa, XLM-RoBERTa, CamemBERT: like BERT, but positions start after the padding id and
    /// padding tokens keep the padding position.
    Roberta,
    /// GPT-2: word (`wte`) + learned position (`wpe`) 0..n, no LayerNorm.
    Gpt2,
    /// Llama, Mistral, Qwen and similar decoders: token embeddings only; their positions are
    /// rotary and applied inside attention, so the input layer has none.
    Rotary,
}

impl Family {
    /// Lower-case name as printed by the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
            Family::Gpt2 => "gpt2",
            Family::Rotary => "rotary",
        }
    }
}

/// `model_type` values this module reads, by family.
pub const SUPPORTED_MODEL_TYPES: &[(&str, Family)] = &[
    ("bert", Family::Bert),
    ("distilbert", Family::Bert),
    ("roberta", Family::Roberta),
    ("xlm-roberta", Family::Roberta),
    ("camembert", Family::Roberta),
    ("gpt2", Family::Gpt2),
    ("llama", Family::Rotary),
    ("mistral", Family::Rotary),
    ("mixtral", Family::Rotary),
    ("qwen2", Family::Rotary),
    ("qwen2_moe", Family::Rotary),
    ("qwen3", Family::Rotary),
    ("qwen3_moe", Family::Rotary),
];

/// What the input layer needs from `config.json`, validated.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelConfig {
    /// `model_type` as written in the file.
    pub model_type: String,
    pub family: Family,
    /// Width of every embedding row.
    pub hidden_size: usize,
    /// Rows of the token embedding matrix, as the config states them.
    pub vocab_size: usize,
    /// Rows of the learned position table (BERT/RoBERTa/GPT-2), or the context length of rotary
    /// models.
    pub max_position_embeddings: usize,
    /// Rows of the token type table (0 when the family has none).
    pub type_vocab_size: usize,
    /// LayerNorm epsilon (families with a LayerNorm only).
    pub layer_norm_eps: Option<f64>,
    /// Id of the padding token (`pad_token_id`); RoBERTa's `padding_idx`.
    pub pad_token_id: Option<u32>,
}

impl ModelConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let value: Value = serde_json::from_slice(&text)
            .map_err(|e| Error::at_line(path, e.line() as u64, format!("not valid JSON: {e}")))?;
        Self::from_json(path, &value)
    }

    /// Validates a parsed `config.json`; `path` is used in error messages.
    pub fn from_json(path: &Path, value: &Value) -> Result<Self> {
        let obj = value
            .as_object()
            .ok_or_else(|| Error::at_byte(path, 0, "config.json is not a JSON object"))?;
        let model_type = match obj.get("model_type").and_then(Value::as_str) {
            Some(t) => t.to_string(),
            None => infer_model_type(obj).ok_or_else(|| {
                Error::at_field(
                    path,
                    "model_type",
                    "missing, and `architectures` does not name a supported model",
                )
            })?,
        };
        let family = SUPPORTED_MODEL_TYPES
            .iter()
            .find(|(t, _)| *t == model_type)
            .map(|(_, f)| *f)
            .ok_or_else(|| unsupported(path, &model_type, obj))?;

        let size = |names: &[&str]| -> Result<usize> {
            for n in names {
                if let Some(v) = obj.get(*n) {
                    return v
                        .as_u64()
                        .filter(|&v| v > 0)
                        .map(|v| v as usize)
                        .ok_or_else(|| Error::at_field(path, *n, "not a positive integer"));
                }
            }
            Err(Error::at_field(
                path,
                names[0],
                format!(
                    "missing (a {model_type} config needs {})",
                    names.join(" or ")
                ),
            ))
        };
        let hidden_size = size(&["hidden_size", "n_embd", "dim", "d_model"])?;
        let vocab_size = size(&["vocab_size"])?;
        let max_position_embeddings = match family {
            Family::Gpt2 => size(&["n_positions", "max_position_embeddings", "n_ctx"])?,
            _ => size(&["max_position_embeddings"])?,
        };
        if let Some(e) = obj.get("embedding_size").and_then(Value::as_u64) {
            if e as usize != hidden_size {
                return Err(Error::at_field(
                    path,
                    "embedding_size",
                    format!(
                        "{e} differs from hidden_size {hidden_size}: factorised embeddings need a projection that is not supported"
                    ),
                ));
            }
        }
        let type_vocab_size = match (family, model_type.as_str()) {
            (_, "distilbert") => 0,
            (Family::Bert | Family::Roberta, _) => size(&["type_vocab_size"])?,
            _ => 0,
        };
        if matches!(family, Family::Bert | Family::Roberta) {
            if let Some(p) = obj.get("position_embedding_type").and_then(Value::as_str) {
                if p != "absolute" {
                    return Err(Error::at_field(
                        path,
                        "position_embedding_type",
                        format!(
                            "{p:?}: relative positions live in attention; only \"absolute\" is supported"
                        ),
                    ));
                }
            }
        }
        let layer_norm_eps = match (family, model_type.as_str()) {
            (_, "distilbert") => Some(1e-12),
            (Family::Bert | Family::Roberta, _) => Some(
                obj.get("layer_norm_eps")
                    .map(|v| {
                        v.as_f64()
                            .filter(|e| e.is_finite() && *e >= 0.0)
                            .ok_or_else(|| {
                                Error::at_field(path, "layer_norm_eps", "not a non-negative number")
                            })
                    })
                    .transpose()?
                    .unwrap_or(1e-12),
            ),
            _ => None,
        };
        let pad_token_id = match obj.get("pad_token_id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|&v| v <= u32::MAX as u64)
                    .ok_or_else(|| Error::at_field(path, "pad_token_id", "not a token id"))?
                    as u32,
            ),
        };
        if family == Family::Roberta {
            let pad = pad_token_id.ok_or_else(|| {
                Error::at_field(
                    path,
                    "pad_token_id",
                    "missing: RoBERTa positions start after the padding id",
                )
            })?;
            if pad as usize + 1 >= max_position_embeddings {
                return Err(Error::at_field(
                    path,
                    "max_position_embeddings",
                    format!("{max_position_embeddings} leaves no positions after padding id {pad}"),
                ));
            }
        }
        Ok(ModelConfig {
            model_type,
            family,
            hidden_size,
            vocab_size,
            max_position_embeddings,
            type_vocab_size,
            layer_norm_eps,
            pad_token_id,
        })
    }

    /// The longest sequence (special tokens included) the input layer can place: the learned
    /// position table's rows, minus RoBERTa's offset of `padding_idx + 1`.
    pub fn max_tokens(&self) -> usize {
        match self.family {
            Family::Roberta => {
                self.max_position_embeddings - self.pad_token_id.unwrap_or(0) as usize - 1
            }
            _ => self.max_position_embeddings,
        }
    }
}

fn infer_model_type(obj: &serde_json::Map<String, Value>) -> Option<String> {
    let archs = obj.get("architectures")?.as_array()?;
    for a in archs.iter().filter_map(Value::as_str) {
        let lower = a.to_ascii_lowercase();
        for prefix in [
            "xlmroberta",
            "camembert",
            "roberta",
            "distilbert",
            "bert",
            "gpt2",
            "llama",
            "mistral",
            "mixtral",
            "qwen2",
            "qwen3",
        ] {
            if lower.starts_with(prefix) {
                return Some(match prefix {
                    "xlmroberta" => "xlm-roberta".to_string(),
                    p => p.to_string(),
                });
            }
        }
    }
    None
}

fn unsupported(path: &Path, model_type: &str, obj: &serde_json::Map<String, Value>) -> Error {
    let names: Vec<&str> = SUPPORTED_MODEL_TYPES.iter().map(|(t, _)| *t).collect();
    let why = match model_type {
        "albert" | "electra" => {
            "its embeddings are factorised (embedding_size then a projection to hidden_size), and the projection is not supported"
                .to_string()
        }
        "t5" | "mt5" | "deberta" | "deberta-v2" => {
            "its positions are relative biases inside attention, which this input layer does not model".to_string()
        }
        "gemma" | "gemma2" | "gemma3" | "gemma3_text" => {
            "its input layer scales token rows by sqrt(hidden_size) in the model's dtype, which is not implemented".to_string()
        }
        _ => {
            let archs = obj
                .get("architectures")
                .map(|a| a.to_string())
                .unwrap_or_else(|| "none".into());
            format!("no input-layer recipe for it (architectures: {archs})")
        }
    };
    Error::at_field(
        path,
        "model_type",
        format!(
            "{model_type:?} is not supported: {why}; supported model types are {}",
            names.join(", ")
        ),
    )
}
