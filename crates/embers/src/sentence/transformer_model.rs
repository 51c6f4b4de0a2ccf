//! sentence-transformers folders with a BERT-family transformer: `modules.json` names the
//! pipeline — `Transformer` (the folder itself, or a sub-folder), `Pooling` (its `config.json`:
//! CLS / mean / max / mean·√n / weighted mean / last token, several concatenated in
//! sentence-transformers' order) and optionally `Normalize`; `sentence_bert_config.json` gives
//! `max_seq_length` (tokens, special ones included) and `do_lower_case`. A plain Hugging Face
//! folder without `modules.json` is read as sentence-transformers does: mean pooling.
//!
//! Texts are tokenized on all cores, sorted by length and run through the [`Encoder`] a batch
//! at a time, so texts of similar length share a batch.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::storage::DenseMatrix;
use crate::transformer::{Encoder, TokenEncoding, Truncation};

/// Texts per encoder batch unless set otherwise (sentence-transformers' default).
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// One pooling mode of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPooling {
    /// The first token's state (`[CLS]`).
    Cls,
    /// Coordinate-wise maximum over the tokens.
    Max,
    /// Mean over the tokens.
    Mean,
    /// Sum over the tokens divided by the square root of their number.
    MeanSqrtLen,
    /// Mean weighted by position (1, 2, …, n).
    WeightedMean,
    /// The last token's state.
    LastToken,
}

impl TokenPooling {
    /// The name used in messages and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TokenPooling::Cls => "cls",
            TokenPooling::Max => "max",
            TokenPooling::Mean => "mean",
            TokenPooling::MeanSqrtLen => "mean_sqrt_len_tokens",
            TokenPooling::WeightedMean => "weightedmean",
            TokenPooling::LastToken => "lasttoken",
        }
    }

    /// Pools `rows` (`n × h`, row-major) into `out` (`h` values).
    pub fn pool(self, rows: &[f32], h: usize, out: &mut [f32]) {
        let n = rows.len() / h;
        out.iter_mut().for_each(|o| *o = 0.0);
        if n == 0 {
            return;
        }
        match self {
            TokenPooling::Cls => out.copy_from_slice(&rows[..h]),
            TokenPooling::LastToken => out.copy_from_slice(&rows[(n - 1) * h..]),
            TokenPooling::Max => {
                out.copy_from_slice(&rows[..h]);
                for r in rows.chunks_exact(h).skip(1) {
                    for (o, &x) in out.iter_mut().zip(r) {
                        *o = o.max(x);
                    }
                }
            }
            TokenPooling::Mean | TokenPooling::MeanSqrtLen | TokenPooling::WeightedMean => {
                let mut acc = vec![0f64; h];
                let mut total = 0f64;
                for (t, r) in rows.chunks_exact(h).enumerate() {
                    let w = if self == TokenPooling::WeightedMean {
                        (t + 1) as f64
                    } else {
                        1.0
                    };
                    total += w;
                    for (a, &x) in acc.iter_mut().zip(r) {
                        *a += w * x as f64;
                    }
                }
                let div = match self {
                    TokenPooling::MeanSqrtLen => (n as f64).sqrt(),
                    _ => total,
                };
                for (o, a) in out.iter_mut().zip(&acc) {
                    *o = (a / div) as f32;
                }
            }
        }
    }
}

/// The activation of a sentence-transformers `Dense` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    /// `torch.nn.Tanh` (the module's default).
    Tanh,
    /// `torch.nn.Identity`.
    Identity,
    /// `torch.nn.ReLU`.
    Relu,
    /// `torch.nn.Sigmoid`.
    Sigmoid,
    /// `torch.nn.GELU` (erf form).
    Gelu,
}

impl DenseActivation {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.rsplit('.').next()? {
            "Tanh" => DenseActivation::Tanh,
            "Identity" => DenseActivation::Identity,
            "ReLU" => DenseActivation::Relu,
            "Sigmoid" => DenseActivation::Sigmoid,
            "GELU" => DenseActivation::Gelu,
            _ => return None,
        })
    }

    fn apply(self, x: f64) -> f64 {
        match self {
            DenseActivation::Tanh => x.tanh(),
            DenseActivation::Identity => x,
            DenseActivation::Relu => x.max(0.0),
            DenseActivation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            DenseActivation::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        }
    }
}

/// A sentence-transformers `Dense` module: `activation(W x + b)` on the pooled vector.
#[derive(Debug, Clone)]
pub struct Dense {
    /// `out × in`, row-major (torch's `linear.weight`).
    weight: Vec<f32>,
    bias: Option<Vec<f32>>,
    in_features: usize,
    out_features: usize,
    activation: DenseActivation,
}

impl Dense {
    /// Loads a `Dense` module folder: `config.json` (`in_features`, `out_features`, `bias`,
    /// `activation_function`) and `model.safetensors` (`linear.weight`, `linear.bias`).
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        let cfg = read_json(&cfg_path)?;
        let size = |k: &str| -> Result<usize> {
            cfg.get(k)
                .and_then(Value::as_u64)
                .filter(|&n| n > 0 && n <= 1 << 20)
                .map(|n| n as usize)
                .ok_or_else(|| Error::at_field(&cfg_path, k, "not a positive integer"))
        };
        let (in_features, out_features) = (size("in_features")?, size("out_features")?);
        let has_bias = match cfg.get("bias") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::at_field(&cfg_path, "bias", "not true or false")),
        };
        let activation = match cfg.get("activation_function") {
            None | Some(Value::Null) => DenseActivation::Tanh,
            Some(Value::String(name)) => DenseActivation::from_name(name).ok_or_else(|| {
                Error::at_field(
                    &cfg_path,
                    "activation_function",
                    format!("{name:?} is not supported (Tanh, Identity, ReLU, Sigmoid, GELU are)"),
                )
            })?,
            Some(_) => {
                return Err(Error::at_field(
                    &cfg_path,
                    "activation_function",
                    "not a string",
                ))
            }
        };
        let weights_path = dir.join("model.safetensors");
        if !weights_path.is_file() {
            return Err(Error::io(
                &weights_path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the Dense module's weights must be in model.safetensors (pytorch_model.bin is not read)",
                ),
            ));
        }
        let file = crate::io::safetensors::SafetensorsFile::open(&weights_path)?;
        let tensor = |name: &str, shape: &[usize]| -> Result<Vec<f32>> {
            let view = file
                .get(name)
                .ok_or_else(|| Error::at_field(&weights_path, name, "tensor missing"))?;
            if view.shape != shape {
                return Err(Error::at_field(
                    &weights_path,
                    name,
                    format!("shape {:?}, expected {shape:?}", view.shape),
                ));
            }
            let values = dense_f32s(&view)
                .ok_or_else(|| Error::at_field(&weights_path, name, "not F32, F16 or BF16"))?;
            if values.iter().any(|v| !v.is_finite()) {
                return Err(Error::at_field(&weights_path, name, "not finite"));
            }
            Ok(values)
        };
        let weight = tensor("linear.weight", &[out_features, in_features])?;
        let bias = if has_bias {
            Some(tensor("linear.bias", &[out_features])?)
        } else {
            None
        };
        Ok(Dense {
            weight,
            bias,
            in_features,
            out_features,
            activation,
        })
    }

    /// Input size.
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Output size.
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// The activation.
    pub fn activation(&self) -> DenseActivation {
        self.activation
    }

    /// `out = activation(W x + b)` (sums in f64).
    pub fn forward(&self, x: &[f32], out: &mut [f32]) {
        for (o, (row, k)) in out
            .iter_mut()
            .zip(self.weight.chunks_exact(self.in_features).zip(0..))
        {
            let mut acc: f64 = row.iter().zip(x).map(|(&w, &v)| w as f64 * v as f64).sum();
            if let Some(b) = &self.bias {
                acc += b[k] as f64;
            }
            *o = self.activation.apply(acc) as f32;
        }
    }
}

fn dense_f32s(view: &crate::io::safetensors::TensorView<'_>) -> Option<Vec<f32>> {
    use crate::io::safetensors::Dtype;
    let b = view.bytes;
    Some(match view.dtype {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => b
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => b
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

/// A sentence-transformers model with a transformer encoder.
#[derive(Debug, Clone)]
pub struct SentenceTransformer {
    dir: PathBuf,
    encoder: Encoder,
    pooling: Vec<TokenPooling>,
    /// `Dense` modules after the pooling, in order.
    dense: Vec<Dense>,
    normalize: bool,
    max_seq_length: usize,
    do_lower_case: bool,
    batch_size: usize,
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::at_line(path, e.line() as u64, format!("not valid JSON: {e}")))
}

/// True when `dir` holds a transformer model (a `config.json` with a BERT-family model type,
/// directly or in the `Transformer` module's folder of `modules.json`).
pub fn is_transformer_dir(dir: &Path) -> bool {
    transformer_folder(dir)
        .ok()
        .is_some_and(|d| d.join("config.json").is_file() && d.join("tokenizer.json").is_file())
}

/// The folder of the `Transformer` module (the model folder itself when `modules.json` is
/// absent).
fn transformer_folder(dir: &Path) -> Result<PathBuf> {
    let modules = dir.join("modules.json");
    if !modules.is_file() {
        return Ok(dir.to_path_buf());
    }
    let v = read_json(&modules)?;
    let list = v
        .as_array()
        .ok_or_else(|| Error::at_field(&modules, "modules", "not a list"))?;
    for m in list {
        if m.get("type").and_then(Value::as_str) == Some("sentence_transformers.models.Transformer")
        {
            return module_path(&modules, dir, m);
        }
    }
    Err(Error::at_field(
        &modules,
        "modules",
        "no sentence_transformers.models.Transformer module",
    ))
}

fn module_path(modules: &Path, dir: &Path, m: &Value) -> Result<PathBuf> {
    let p = m.get("path").and_then(Value::as_str).unwrap_or("");
    if p.starts_with('/') || p.split(['/', '\\']).any(|c| c == "..") {
        return Err(Error::at_field(
            modules,
            "path",
            format!("{p:?} is not a folder inside the model"),
        ));
    }
    Ok(if p.is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(p)
    })
}

fn pooling_from_config(path: &Path) -> Result<Vec<TokenPooling>> {
    let v = read_json(path)?;
    // Newer files may name one mode as a string.
    if let Some(mode) = v.get("pooling_mode").and_then(Value::as_str) {
        return Ok(vec![match mode {
            "cls" => TokenPooling::Cls,
            "max" => TokenPooling::Max,
            "mean" => TokenPooling::Mean,
            "mean_sqrt_len_tokens" => TokenPooling::MeanSqrtLen,
            "weightedmean" => TokenPooling::WeightedMean,
            "lasttoken" => TokenPooling::LastToken,
            other => {
                return Err(Error::at_field(
                    path,
                    "pooling_mode",
                    format!("{other:?} is not a pooling mode"),
                ))
            }
        }]);
    }
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    // sentence-transformers concatenates the modes in this order.
    let mut modes = Vec::new();
    for (key, mode) in [
        ("pooling_mode_cls_token", TokenPooling::Cls),
        ("pooling_mode_max_tokens", TokenPooling::Max),
        ("pooling_mode_mean_tokens", TokenPooling::Mean),
        (
            "pooling_mode_mean_sqrt_len_tokens",
            TokenPooling::MeanSqrtLen,
        ),
        (
            "pooling_mode_weightedmean_tokens",
            TokenPooling::WeightedMean,
        ),
        ("pooling_mode_lasttoken", TokenPooling::LastToken),
    ] {
        if flag(key) {
            modes.push(mode);
        }
    }
    if modes.is_empty() {
        return Err(Error::at_field(
            path,
            "pooling_mode_mean_tokens",
            "no pooling mode is switched on",
        ));
    }
    Ok(modes)
}

impl SentenceTransformer {
    /// Loads a sentence-transformers folder (or a plain BERT-family folder, mean-pooled).
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let modules_path = dir.join("modules.json");
        let mut pooling = vec![TokenPooling::Mean];
        let mut dense: Vec<Dense> = Vec::new();
        let mut normalize = false;
        let mut transformer_dir = dir.clone();
        if modules_path.is_file() {
            let v = read_json(&modules_path)?;
            let list = v
                .as_array()
                .ok_or_else(|| Error::at_field(&modules_path, "modules", "not a list"))?;
            let mut seen_transformer = false;
            for m in list {
                let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
                match ty {
                    "sentence_transformers.models.Transformer" => {
                        transformer_dir = module_path(&modules_path, &dir, m)?;
                        seen_transformer = true;
                    }
                    "sentence_transformers.models.Pooling" => {
                        let p = module_path(&modules_path, &dir, m)?.join("config.json");
                        pooling = pooling_from_config(&p)?;
                    }
                    "sentence_transformers.models.Normalize" => normalize = true,
                    "sentence_transformers.models.Dense" => {
                        if normalize {
                            return Err(Error::at_field(
                                &modules_path,
                                "modules",
                                "a Dense module after Normalize is not supported",
                            ));
                        }
                        let p = module_path(&modules_path, &dir, m)?;
                        dense.push(Dense::load(&p)?);
                    }
                    other => {
                        return Err(Error::at_field(
                            &modules_path,
                            "type",
                            format!(
                                "module {other:?} is not supported (Transformer, Pooling, \
                                 Dense and Normalize are)"
                            ),
                        ))
                    }
                }
            }
            if !seen_transformer {
                return Err(Error::at_field(
                    &modules_path,
                    "modules",
                    "no sentence_transformers.models.Transformer module",
                ));
            }
        }
        let mut encoder = Encoder::from_dir(&transformer_dir)?;
        let max_tokens = encoder.input().tokenizer().max_tokens();
        let mut max_seq_length = max_tokens;
        let mut do_lower_case = false;
        let sb = transformer_dir.join("sentence_bert_config.json");
        if sb.is_file() {
            let v = read_json(&sb)?;
            if let Some(m) = v.get("max_seq_length") {
                if !m.is_null() {
                    let n = m.as_u64().filter(|&n| n > 0).ok_or_else(|| {
                        Error::at_field(&sb, "max_seq_length", "not a positive integer")
                    })?;
                    max_seq_length = (n as usize).min(max_tokens);
                }
            }
            do_lower_case = v
                .get("do_lower_case")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        }
        encoder
            .input_mut()
            .set_truncation(Truncation::MaxLength(max_seq_length))?;
        let mut size = encoder.hidden_size() * pooling.len();
        for (i, d) in dense.iter().enumerate() {
            if d.in_features != size {
                return Err(Error::at_field(
                    &modules_path,
                    "modules",
                    format!(
                        "Dense module {} takes {} values but receives {size}",
                        i + 1,
                        d.in_features
                    ),
                ));
            }
            size = d.out_features;
        }
        Ok(SentenceTransformer {
            dir,
            encoder,
            pooling,
            dense,
            normalize,
            max_seq_length,
            do_lower_case,
            batch_size: DEFAULT_BATCH_SIZE,
        })
    }

    /// The model folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The encoder.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Width of the output vectors (hidden size × pooling modes).
    pub fn dims(&self) -> usize {
        match self.dense.last() {
            Some(d) => d.out_features,
            None => self.pooled_dims(),
        }
    }

    /// Size of the pooled vector (before any `Dense` module).
    fn pooled_dims(&self) -> usize {
        self.encoder.hidden_size() * self.pooling.len()
    }

    /// The `Dense` modules after the pooling, in order.
    pub fn dense(&self) -> &[Dense] {
        &self.dense
    }

    /// The pooling modes, in output order.
    pub fn pooling(&self) -> &[TokenPooling] {
        &self.pooling
    }

    /// Replaces the pooling (at least one mode).
    pub fn set_pooling(&mut self, pooling: Vec<TokenPooling>) -> Result<()> {
        if pooling.is_empty() {
            return Err(Error::invalid("pooling", "at least one mode"));
        }
        if let Some(d) = self.dense.first() {
            let size = self.encoder.hidden_size() * pooling.len();
            if size != d.in_features {
                return Err(Error::invalid(
                    "pooling",
                    format!(
                        "{} modes give {size} values; the model's Dense module takes {}",
                        pooling.len(),
                        d.in_features
                    ),
                ));
            }
        }
        self.pooling = pooling;
        Ok(())
    }

    /// Whether vectors are divided by their norm.
    pub fn normalize(&self) -> bool {
        self.normalize
    }

    /// Switches normalisation on or off.
    pub fn set_normalize(&mut self, normalize: bool) {
        self.normalize = normalize;
    }

    /// Tokens per text, special tokens included.
    pub fn max_seq_length(&self) -> usize {
        self.max_seq_length
    }

    /// Sets the tokens per text (capped at the model's positions).
    pub fn set_max_seq_length(&mut self, n: usize) -> Result<()> {
        self.encoder
            .input_mut()
            .set_truncation(Truncation::MaxLength(n))?;
        self.max_seq_length = n.min(self.encoder.input().tokenizer().max_tokens());
        Ok(())
    }

    /// Texts per encoder batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Sets the texts per encoder batch (at least 1).
    pub fn set_batch_size(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            return Err(Error::invalid("batch_size", "must be at least 1"));
        }
        self.batch_size = n;
        Ok(())
    }

    /// Tokenizes one text as the model does (lower-cased first when the config says so).
    pub fn tokenize(&self, text: &str) -> Result<TokenEncoding> {
        if self.do_lower_case {
            self.encoder.input().encode(&text.to_lowercase(), None)
        } else {
            self.encoder.input().encode(text, None)
        }
    }

    /// Pools and (if configured) normalises encoded token rows into `out` (`dims()` values).
    pub fn pool_rows(&self, rows: &[f32], out: &mut [f32]) {
        let h = self.encoder.hidden_size();
        if self.dense.is_empty() {
            for (mode, o) in self.pooling.iter().zip(out.chunks_exact_mut(h)) {
                mode.pool(rows, h, o);
            }
        } else {
            let mut x = vec![0f32; self.pooled_dims()];
            for (mode, o) in self.pooling.iter().zip(x.chunks_exact_mut(h)) {
                mode.pool(rows, h, o);
            }
            for d in &self.dense {
                let mut y = vec![0f32; d.out_features];
                d.forward(&x, &mut y);
                x = y;
            }
            out.copy_from_slice(&x);
        }
        if self.normalize {
            // torch.nn.functional.normalize: x / max(‖x‖, 1e-12).
            let norm = out.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
            let inv = (1.0 / norm.max(1e-12)) as f32;
            out.iter_mut().for_each(|x| *x *= inv);
        }
    }

    /// Encodes already tokenized texts (any order; batched by length internally).
    pub fn encode_tokenized(&self, encodings: &[TokenEncoding]) -> Result<DenseMatrix> {
        let d = self.dims();
        let total = encodings
            .len()
            .checked_mul(d)
            .ok_or_else(|| Error::invalid("texts", "output size overflows"))?;
        let mut data = vec![0f32; total];
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].len()));
        for batch in order.chunks(self.batch_size) {
            let refs: Vec<&TokenEncoding> = batch.iter().map(|&i| &encodings[i]).collect();
            let hidden = self.encoder.forward(&refs)?;
            let pooled: Vec<(usize, Vec<f32>)> = batch
                .par_iter()
                .enumerate()
                .map(|(k, &i)| {
                    let mut v = vec![0f32; d];
                    self.pool_rows(hidden.text(k), &mut v);
                    (i, v)
                })
                .collect();
            for (i, v) in pooled {
                data[i * d..(i + 1) * d].copy_from_slice(&v);
            }
        }
        DenseMatrix::new(encodings.len(), d, data)
    }

    /// One vector per text, in order (all cores of the current rayon pool).
    pub fn encode(&self, texts: &[&str]) -> Result<DenseMatrix> {
        let encodings = texts
            .par_iter()
            .map(|t| self.tokenize(t))
            .collect::<Result<Vec<_>>>()?;
        self.encode_tokenized(&encodings)
    }

    /// One text's vector.
    pub fn encode_one(&self, text: &str) -> Result<Vec<f32>> {
        Ok(self.encode(&[text])?.row(0).to_vec())
    }
}
