//! Distillation of a transformer into a static model, model2vec's recipe (model2vec 0.10,
//! `model2vec/distill/`):
//!
//! 1. the vocabulary is the tokenizer's, in id order, without `[unusedN]` tokens and without
//!    the added special tokens other than the unknown and padding ones (`[CLS]`, `[SEP]`,
//!    `[MASK]` go), plus any extra words not already in it (normalised as the tokenizer does,
//!    appended; words its pre-tokenizer would split are skipped);
//! 2. each vocabulary token runs through the full model on its own with the model's special
//!    tokens (`[CLS] token [SEP]`; an extra word as the model tokenizes it), and its vector is
//!    the mean of the last hidden states over all those tokens;
//! 3. PCA to `dims` (centred; skipped when `dims` ≥ the vocabulary size, capped at the width);
//! 4. each row `i` (rank `i` in vocabulary order) is scaled by its weight: model2vec's SIF
//!    weight under a Zipf estimate of the token probability, `a / (a + p_i)` with
//!    `p_i ∝ 1/(i + 2)` and `a = 1e-4` (`Weighting::Sif`); or the earlier model2vec form
//!    `log(1 + i)` (`Weighting::Zipf`); or 1.
//!
//! The result is written as a model2vec folder (`config.json`, `model.safetensors` with
//! `embeddings`, `tokenizer.json` with the removed tokens gone, ids renumbered and no
//! post-processor) that model2vec and [`StaticModel`](super::StaticModel) load, and as an
//! embers [`Embeddings`].

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Instant;

use serde_json::{json, Value};

use super::TokenPooling;
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::io::safetensors::{bytes_of, Dtype, TensorOut};
use crate::progress::{Progress, ProgressFn};
use crate::reduce::{Method, Projection, ReduceOptions};
use crate::storage::DenseMatrix;
use crate::transformer::{Encoder, TokenEncoding};
use crate::vocab::Vocab;

/// model2vec's SIF coefficient.
pub const DEFAULT_SIF_COEFFICIENT: f64 = 1e-4;

/// Sequences per forward batch (model2vec's `_DEFAULT_BATCH_SIZE`).
const BATCH: usize = 256;

/// How rows are weighted by their rank in the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Weighting {
    /// `a / (a + p_rank)` with Zipf's `p_rank ∝ 1 / (rank + 2)` (model2vec 0.10's default).
    Sif(f64),
    /// `log(1 + rank)` (model2vec's earlier Zipf weighting).
    Zipf,
    /// No weighting.
    None,
}

impl Weighting {
    /// The weights of `n` rows in vocabulary order.
    pub fn weights(self, n: usize) -> Vec<f64> {
        match self {
            Weighting::None => vec![1.0; n],
            Weighting::Zipf => (0..n).map(|i| (1.0 + i as f64).ln()).collect(),
            Weighting::Sif(a) => {
                let total: f64 = (0..n).map(|i| 1.0 / (i as f64 + 2.0)).sum();
                (0..n)
                    .map(|i| {
                        let p = 1.0 / (i as f64 + 2.0) / total;
                        a / (a + p)
                    })
                    .collect()
            }
        }
    }

    /// The name in the written config.
    pub fn name(self) -> &'static str {
        match self {
            Weighting::Sif(_) => "sif",
            Weighting::Zipf => "zipf",
            Weighting::None => "none",
        }
    }
}

/// Settings of a distillation.
#[derive(Debug, Clone)]
pub struct DistillOptions {
    /// PCA dimensions (`None`: no PCA).
    pub dims: Option<usize>,
    pub weighting: Weighting,
    /// Extra words added to the vocabulary.
    pub vocabulary: Vec<String>,
    /// Keep only the first `n` tokens of the model's vocabulary (tests, quick looks); extra
    /// words are still added.
    pub limit: Option<usize>,
}

impl Default for DistillOptions {
    fn default() -> Self {
        DistillOptions {
            dims: Some(256),
            weighting: Weighting::Sif(DEFAULT_SIF_COEFFICIENT),
            vocabulary: Vec::new(),
            limit: None,
        }
    }
}

/// A distilled static model.
#[derive(Debug, Clone)]
pub struct Distilled {
    /// The vocabulary, in row order.
    pub tokens: Vec<String>,
    /// The token id sequences that were run through the model, one per token.
    pub inputs: Vec<Vec<u32>>,
    /// One row per token.
    pub vectors: DenseMatrix,
    /// Share of the variance PCA kept (1 without PCA).
    pub explained: f64,
    /// Seconds spent in the forward passes.
    pub forward_seconds: f64,
    tokenizer: Value,
    config: Value,
}

/// True when `w` has no whitespace and no punctuation, so BERT's pre-tokenizer keeps it whole.
fn is_single_word(w: &str) -> bool {
    !w.chars().any(|c| {
        c.is_whitespace() || c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_ascii())
    })
}

fn is_unused(token: &str) -> bool {
    // model2vec's default `token_remove_pattern`, r"\[unused\d+\]" with re.match.
    token
        .strip_prefix("[unused")
        .and_then(|r| {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            (digits > 0).then(|| r[digits..].starts_with(']'))
        })
        .unwrap_or(false)
}

/// Runs the recipe (module documentation) on `encoder`, whose folder's `tokenizer.json` is
/// `tokenizer_path` (a WordPiece tokenizer: the written tokenizer renumbers its vocabulary).
/// Forward passes use all cores of the current rayon pool; `progress` gets a report per batch.
pub fn distill(
    encoder: &Encoder,
    tokenizer_path: &Path,
    opts: &DistillOptions,
    progress: &ProgressFn<'_>,
) -> Result<Distilled> {
    let bytes = std::fs::read(tokenizer_path).map_err(|e| Error::io(tokenizer_path, e))?;
    let mut tj: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::at_line(
            tokenizer_path,
            e.line() as u64,
            format!("not valid JSON: {e}"),
        )
    })?;
    if tj["model"]["type"].as_str() != Some("WordPiece") {
        return Err(Error::at_field(
            tokenizer_path,
            "model.type",
            "distillation writes WordPiece tokenizers only (BERT-style models)",
        ));
    }
    let vocab = tj["model"]["vocab"]
        .as_object()
        .ok_or_else(|| Error::at_field(tokenizer_path, "model.vocab", "not an object"))?;
    let mut by_id: Vec<(u64, String)> = vocab
        .iter()
        .map(|(t, id)| {
            id.as_u64().map(|id| (id, t.clone())).ok_or_else(|| {
                Error::at_field(tokenizer_path, "model.vocab", "an id is not a number")
            })
        })
        .collect::<Result<_>>()?;
    by_id.sort();
    let mut tokens: Vec<String> = Vec::with_capacity(by_id.len());
    let mut inputs: Vec<Vec<u32>> = Vec::with_capacity(by_id.len());
    // The special tokens around a single token: those of the empty text, split where the
    // tokens of a one-letter text diverge from them.
    let empty = encoder.input().encode("", None)?.ids;
    let one = encoder.input().encode("a", None)?.ids;
    let prefix_len = empty.iter().zip(&one).take_while(|(a, b)| a == b).count();
    let (prefix, suffix) = empty.split_at(prefix_len);
    // model2vec prunes the added special tokens other than the unknown and padding tokens.
    let unk_token = tj["model"]["unk_token"].as_str().map(str::to_string);
    let pad_token = tj["padding"]["pad_token"]
        .as_str()
        .map(str::to_string)
        .or_else(|| {
            encoder
                .input()
                .config()
                .pad_token_id
                .and_then(|id| encoder.input().tokenizer().id_to_token(id))
        });
    let pruned: HashSet<String> = tj["added_tokens"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|t| t["special"].as_bool().unwrap_or(false))
                .filter_map(|t| t["content"].as_str())
                .filter(|c| Some(*c) != unk_token.as_deref() && Some(*c) != pad_token.as_deref())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for (id, t) in &by_id {
        if is_unused(t) || pruned.contains(t) {
            continue;
        }
        let mut seq = prefix.to_vec();
        seq.push(*id as u32);
        seq.extend_from_slice(suffix);
        tokens.push(t.clone());
        inputs.push(seq);
    }
    let mut seen: HashSet<String> = tokens.iter().cloned().collect();
    if let Some(n) = opts.limit {
        tokens.truncate(n);
        inputs.truncate(n);
    }
    let inner = encoder.input().tokenizer().inner();
    for w in &opts.vocabulary {
        // As the tokenizer will see it (BERT: lower-cased, accents stripped); a word the
        // pre-tokenizer would split (spaces, punctuation inside) could never be matched whole.
        let mut normalized = tokenizers::NormalizedString::from(w.trim());
        if let Some(n) = inner.get_normalizer() {
            use tokenizers::Normalizer;
            if n.normalize(&mut normalized).is_err() {
                continue;
            }
        }
        let w = normalized.get().to_string();
        if w.is_empty() || seen.contains(&w) || !is_single_word(&w) {
            continue;
        }
        inputs.push(encoder.input().encode(&w, None)?.ids);
        seen.insert(w.clone());
        tokens.push(w);
    }
    let n = tokens.len();
    if n == 0 {
        return Err(Error::invalid("vocabulary", "no tokens left to distill"));
    }
    let h = encoder.hidden_size();

    // Forward passes, shortest first, 256 sequences a batch; mean over all tokens.
    let start = Instant::now();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| inputs[i].len());
    let mut raw = vec![0f32; n * h];
    let mut done = 0u64;
    for batch in order.chunks(BATCH) {
        let encs: Vec<TokenEncoding> = batch
            .iter()
            .map(|&i| TokenEncoding {
                tokens: Vec::new(),
                ids: inputs[i].clone(),
                type_ids: vec![0; inputs[i].len()],
                attention_mask: vec![1; inputs[i].len()],
                truncated: false,
            })
            .collect();
        let refs: Vec<&TokenEncoding> = encs.iter().collect();
        let hidden = encoder.forward(&refs)?;
        for (k, &i) in batch.iter().enumerate() {
            let out = &mut raw[i * h..(i + 1) * h];
            TokenPooling::Mean.pool(hidden.text(k), h, out);
            out.iter_mut()
                .filter(|v| !v.is_finite())
                .for_each(|v| *v = 0.0);
        }
        done += batch.len() as u64;
        let mut p = Progress::new("distill", done, Some(n as u64), "tokens");
        p.rate = Some(done as f64 / start.elapsed().as_secs_f64().max(1e-9));
        progress(&p);
    }
    let forward_seconds = start.elapsed().as_secs_f64();
    let raw = DenseMatrix::new(n, h, raw)?;

    // PCA (model2vec: capped at the width; none when it would not have fewer dims than rows).
    let (mut vectors, explained, pca_dims) = match opts.dims {
        Some(0) => return Err(Error::invalid("dims", "must be at least 1")),
        Some(d) if d.min(h) < n => {
            let d = d.min(h);
            let p = Projection::fit(
                &raw,
                &ReduceOptions {
                    dims: d,
                    method: Method::Pca,
                    sample: None,
                    seed: 0,
                },
            )?;
            (p.apply(&raw)?, p.explained_ratio(), Some(d))
        }
        _ => (raw, 1.0, None),
    };
    let d = vectors.dims();
    let weights = opts.weighting.weights(n);
    for (i, w) in weights.iter().enumerate() {
        vectors
            .row_mut(i)
            .iter_mut()
            .for_each(|x| *x = (*x as f64 * w) as f32);
    }

    // The tokenizer of the static model: the kept vocabulary renumbered in row order, added
    // tokens renumbered (dropped if removed), no post-processor, benign padding.
    let new_ids: BTreeMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut vmap = serde_json::Map::new();
    for (i, t) in tokens.iter().enumerate() {
        vmap.insert(t.clone(), json!(i));
    }
    tj["model"]["vocab"] = Value::Object(vmap);
    if let Some(unk) = tj["model"]["unk_token"].as_str() {
        if !new_ids.contains_key(unk) {
            return Err(Error::invalid(
                "vocabulary",
                format!("the unknown token {unk:?} is not among the kept tokens"),
            ));
        }
    }
    if let Some(added) = tj["added_tokens"].as_array() {
        let kept: Vec<Value> = added
            .iter()
            .filter_map(|a| {
                let c = a["content"].as_str()?;
                let id = *new_ids.get(c)?;
                let mut a = a.clone();
                a["id"] = json!(id);
                Some(a)
            })
            .collect();
        tj["added_tokens"] = Value::Array(kept);
    }
    tj["post_processor"] = Value::Null;
    tj["truncation"] = Value::Null;
    if tj["padding"].is_object() {
        let pad = tj["padding"]["pad_token"]
            .as_str()
            .unwrap_or("[PAD]")
            .to_string();
        match new_ids.get(pad.as_str()) {
            Some(&id) => {
                tj["padding"]["pad_id"] = json!(id);
                tj["padding"]["pad_type_id"] = json!(0);
                tj["padding"]["strategy"] = json!("BatchLongest");
            }
            None => tj["padding"] = Value::Null,
        }
    }
    let name = encoder
        .input()
        .dir()
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let config = json!({
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": name,
        "apply_pca": pca_dims,
        "sif_coefficient": match opts.weighting { Weighting::Sif(a) => json!(a), _ => Value::Null },
        "weighting": opts.weighting.name(),
        "hidden_dim": d,
        "seq_length": 1000000,
        "normalize": true,
        "pooling": "mean",
    });
    Ok(Distilled {
        tokens,
        inputs,
        vectors,
        explained,
        forward_seconds,
        tokenizer: tj,
        config,
    })
}

impl Distilled {
    /// The vectors as embers embeddings (vocabulary = the tokens).
    pub fn to_embeddings(&self) -> Result<Embeddings> {
        let vocab = Vocab::from_words(self.tokens.clone())?;
        let mut emb = Embeddings::new(vocab, self.vectors.clone())?;
        emb.metadata_mut()
            .insert("distill.config".into(), self.config.to_string());
        Ok(emb)
    }

    /// Writes a model2vec folder: `config.json`, `model.safetensors` (`embeddings`, F32) and
    /// `tokenizer.json`. The folder is created if needed.
    pub fn write_model2vec(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let cfg = serde_json::to_vec_pretty(&self.config).expect("JSON values serialise");
        crate::io::atomic::write_bytes(dir.join("config.json"), &cfg)?;
        let tok = serde_json::to_vec(&self.tokenizer).expect("JSON values serialise");
        crate::io::atomic::write_bytes(dir.join("tokenizer.json"), &tok)?;
        let t = TensorOut::new(
            "embeddings",
            Dtype::F32,
            vec![self.vectors.rows(), self.vectors.dims()],
            bytes_of(self.vectors.as_slice()),
        );
        crate::io::safetensors::write(dir.join("model.safetensors"), &[t], &BTreeMap::new(), None)
    }
}
