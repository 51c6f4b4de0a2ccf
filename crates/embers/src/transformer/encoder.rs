//! The full BERT-family encoder on the CPU (BERT, RoBERTa, XLM-R, CamemBERT): the input layer
//! of [`InputEmbeddings`], then per layer
//!
//! ```text
//! a = LayerNorm(x + Wo · Attention(Wq x, Wk x, Wv x) + bo)      (post-norm, as BERT)
//! x = LayerNorm(a + W2 · act(W1 a + b1) + b2)
//! ```
//!
//! with multi-head scaled dot-product attention restricted to each text's own tokens (the
//! padding mask of Hugging Face's batched forward: its masked scores get the smallest float
//! and a softmax weight of exactly 0, so leaving padded keys out is the same computation).
//!
//! Texts of a batch are *packed*: their token rows are stacked without padding, so the
//! projections and the feed-forward layers are one product each over all tokens of the batch
//! (faer's matmul on all cores of the current rayon pool), and attention runs per token row in
//! parallel over the keys of that row's text. Weights are read once into f32 (F16/BF16
//! checkpoints are widened); LayerNorm statistics are accumulated in f64; GELU uses the error
//! function (`hidden_act: "gelu"`), or the tanh form for `gelu_new`/`gelu_pytorch_tanh`.

use std::path::Path;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde_json::Value;

use super::{layer_norm, Checkpoint, Family, InputEmbeddings, LayerNorm, TokenEncoding};
use crate::error::{Error, Result};

/// The feed-forward activation (`hidden_act` of `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `x · Φ(x)` with the error function (`"gelu"`, PyTorch's default GELU).
    GeluErf,
    /// The tanh approximation (`"gelu_new"`, `"gelu_pytorch_tanh"`, `"gelu_fast"`).
    GeluTanh,
    /// `max(x, 0)`.
    Relu,
}

impl Activation {
    fn from_name(path: &Path, name: &str) -> Result<Self> {
        match name {
            "gelu" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(Error::at_field(
                path,
                "hidden_act",
                format!("{other:?} is not supported (gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu are)"),
            )),
        }
    }

    #[inline]
    fn apply(self, x: f32) -> f32 {
        match self {
            Activation::GeluErf => {
                let x64 = x as f64;
                (0.5 * x64 * (1.0 + libm::erf(x64 * std::f64::consts::FRAC_1_SQRT_2))) as f32
            }
            Activation::GeluTanh => {
                let x64 = x as f64;
                let c = (2.0 / std::f64::consts::PI).sqrt();
                (0.5 * x64 * (1.0 + (c * (x64 + 0.044715 * x64 * x64 * x64)).tanh())) as f32
            }
            Activation::Relu => x.max(0.0),
        }
    }
}

/// A dense layer `y = x Wᵀ + b`, the weight row-major `out × in` as PyTorch stores it.
#[derive(Debug, Clone)]
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    out: usize,
    inp: usize,
}

impl Linear {
    fn load(cp: &Checkpoint, name: &str, out: usize, inp: usize) -> Result<Self> {
        let w = cp.require_table(&[&format!("{name}.weight")], "a dense layer's weight")?;
        w.expect_shape(Some(out), inp, "the layer's output × input sizes")?;
        let b = cp.require_table(&[&format!("{name}.bias")], "a dense layer's bias")?;
        if b.rows() != 1 {
            return Err(Error::at_field(b.path(), b.name(), "expected a vector"));
        }
        b.expect_shape(None, out, "the layer's output size")?;
        let mut wv = vec![0f32; out * inp];
        wv.par_chunks_mut(inp)
            .enumerate()
            .for_each(|(i, row)| w.add_row_to(i, row));
        Ok(Linear {
            w: wv,
            b: b.row_f32(0),
            out,
            inp,
        })
    }

    /// Stacks layers with the same input (Q, K and V) into one.
    fn concat(parts: &[Linear]) -> Linear {
        let inp = parts[0].inp;
        let mut w = Vec::new();
        let mut b = Vec::new();
        for p in parts {
            debug_assert_eq!(p.inp, inp);
            w.extend_from_slice(&p.w);
            b.extend_from_slice(&p.b);
        }
        Linear {
            out: b.len(),
            w,
            b,
            inp,
        }
    }

    /// `y = x Wᵀ + b` for `t` rows of `x` (row-major `t × in`); `y` is resized to `t × out`.
    fn forward(&self, x: &[f32], t: usize, y: &mut Vec<f32>) {
        debug_assert_eq!(x.len(), t * self.inp);
        y.clear();
        y.resize(t * self.out, 0.0);
        y.par_chunks_mut(self.out)
            .for_each(|row| row.copy_from_slice(&self.b));
        let xm = MatRef::from_row_major_slice(x, t, self.inp);
        let wm = MatRef::from_row_major_slice(&self.w, self.out, self.inp);
        let ym = MatMut::from_row_major_slice_mut(y, t, self.out);
        matmul(ym, Accum::Add, xm, wm.transpose(), 1.0, Par::rayon(0));
    }
}

#[derive(Debug, Clone)]
struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ff_in: Linear,
    ff_out: Linear,
    ff_norm: LayerNorm,
}

fn load_norm(cp: &Checkpoint, name: &str, h: usize, eps: f64) -> Result<LayerNorm> {
    let w = cp.require_table(
        &[&format!("{name}.weight"), &format!("{name}.gamma")],
        "a LayerNorm weight",
    )?;
    let b = cp.require_table(
        &[&format!("{name}.bias"), &format!("{name}.beta")],
        "a LayerNorm bias",
    )?;
    for t in [&w, &b] {
        if t.rows() != 1 {
            return Err(Error::at_field(t.path(), t.name(), "expected a vector"));
        }
        t.expect_shape(None, h, "hidden_size")?;
    }
    Ok(LayerNorm {
        weight: w.row_f32(0),
        bias: b.row_f32(0),
        eps,
    })
}

/// The sizes of the encoder stack read from `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderConfig {
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub activation: Activation,
}

impl EncoderConfig {
    fn from_file(path: &Path, hidden: usize) -> Result<Self> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let v: Value = serde_json::from_slice(&text)
            .map_err(|e| Error::at_line(path, e.line() as u64, format!("not valid JSON: {e}")))?;
        let size = |key: &str| -> Result<usize> {
            v.get(key)
                .and_then(Value::as_u64)
                .filter(|&n| n > 0 && n <= 1 << 20)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    Error::at_field(path, key, "missing or not a positive integer (≤ 2^20)")
                })
        };
        let num_hidden_layers = size("num_hidden_layers")?;
        let num_attention_heads = size("num_attention_heads")?;
        let intermediate_size = size("intermediate_size")?;
        if !hidden.is_multiple_of(num_attention_heads) {
            return Err(Error::at_field(
                path,
                "num_attention_heads",
                format!("{num_attention_heads} heads do not divide hidden_size {hidden}"),
            ));
        }
        let act = match v.get("hidden_act") {
            None => "gelu",
            Some(a) => a.as_str().ok_or_else(|| {
                Error::at_field(path, "hidden_act", "not a string (a named activation)")
            })?,
        };
        let activation = Activation::from_name(path, act)?;
        if let Some(p) = v.get("position_embedding_type").and_then(Value::as_str) {
            if p != "absolute" {
                return Err(Error::at_field(
                    path,
                    "position_embedding_type",
                    format!("{p:?} is not supported (only absolute positions are)"),
                ));
            }
        }
        Ok(EncoderConfig {
            num_hidden_layers,
            num_attention_heads,
            intermediate_size,
            activation,
        })
    }
}

/// A BERT-family encoder: input layer plus the stack of transformer layers, weights in memory.
#[derive(Debug, Clone)]
pub struct Encoder {
    input: InputEmbeddings,
    config: EncoderConfig,
    layers: Vec<Layer>,
}

/// Last hidden states of a batch of texts, packed: the rows of text `i` are
/// `offsets[i]..offsets[i + 1]` of the `tokens × hidden` matrix `data`.
#[derive(Debug, Clone, Default)]
pub struct HiddenStates {
    pub data: Vec<f32>,
    pub offsets: Vec<usize>,
    pub hidden: usize,
}

impl HiddenStates {
    /// Number of texts.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when there are no texts.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `tokens × hidden` rows of text `i`.
    pub fn text(&self, i: usize) -> &[f32] {
        &self.data[self.offsets[i] * self.hidden..self.offsets[i + 1] * self.hidden]
    }
}

impl Encoder {
    /// Loads a Hugging Face BERT / RoBERTa / XLM-R folder: the input layer, then every
    /// encoder layer's weights (shapes checked against `config.json`).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let input = InputEmbeddings::from_dir(dir)?;
        let config_path = dir.join("config.json");
        let mc = input.config();
        if !matches!(mc.family, Family::Bert | Family::Roberta) || mc.model_type == "distilbert" {
            return Err(Error::at_field(
                &config_path,
                "model_type",
                format!(
                    "{:?}: the encoder forward covers BERT, RoBERTa, XLM-RoBERTa and CamemBERT",
                    mc.model_type
                ),
            ));
        }
        let h = mc.hidden_size;
        let eps = mc.layer_norm_eps.unwrap_or(1e-12);
        let config = EncoderConfig::from_file(&config_path, h)?;
        let cp = Checkpoint::open_dir(dir)?;
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            let q = Linear::load(&cp, &format!("{p}.attention.self.query"), h, h)?;
            let k = Linear::load(&cp, &format!("{p}.attention.self.key"), h, h)?;
            let v = Linear::load(&cp, &format!("{p}.attention.self.value"), h, h)?;
            layers.push(Layer {
                qkv: Linear::concat(&[q, k, v]),
                attn_out: Linear::load(&cp, &format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: load_norm(&cp, &format!("{p}.attention.output.LayerNorm"), h, eps)?,
                ff_in: Linear::load(
                    &cp,
                    &format!("{p}.intermediate.dense"),
                    config.intermediate_size,
                    h,
                )?,
                ff_out: Linear::load(
                    &cp,
                    &format!("{p}.output.dense"),
                    h,
                    config.intermediate_size,
                )?,
                ff_norm: load_norm(&cp, &format!("{p}.output.LayerNorm"), h, eps)?,
            });
        }
        Ok(Encoder {
            input,
            config,
            layers,
        })
    }

    /// The input layer (tokenizer, config).
    pub fn input(&self) -> &InputEmbeddings {
        &self.input
    }

    /// The input layer, to change tokenizer options.
    pub fn input_mut(&mut self) -> &mut InputEmbeddings {
        &mut self.input
    }

    /// The encoder stack's sizes.
    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Width of the hidden states.
    pub fn hidden_size(&self) -> usize {
        self.input.hidden_size()
    }

    /// Runs the encoder on tokenized texts (one batch, packed; all cores of the current rayon
    /// pool). An empty encoding has no rows.
    pub fn forward(&self, encodings: &[&TokenEncoding]) -> Result<HiddenStates> {
        let h = self.hidden_size();
        let mut offsets = Vec::with_capacity(encodings.len() + 1);
        offsets.push(0usize);
        for e in encodings {
            offsets.push(offsets.last().unwrap() + e.len());
        }
        let t = *offsets.last().unwrap();
        let mut x = vec![0f32; t * h];
        // The input layer, text by text in parallel.
        let mut parts: Vec<(&TokenEncoding, &mut [f32])> = Vec::with_capacity(encodings.len());
        let mut rest = &mut x[..];
        for e in encodings {
            let (head, tail) = rest.split_at_mut(e.len() * h);
            parts.push((e, head));
            rest = tail;
        }
        parts
            .into_par_iter()
            .try_for_each(|(e, dst)| -> Result<()> {
                if !e.is_empty() {
                    let m = self.input.embed_ids(&e.ids, &e.type_ids)?;
                    dst.copy_from_slice(m.as_slice());
                }
                Ok(())
            })?;
        if t > 0 {
            let mut seq_of = Vec::with_capacity(t);
            for (s, w) in offsets.windows(2).enumerate() {
                seq_of.extend(std::iter::repeat_n(s, w[1] - w[0]));
            }
            let mut scratch = Scratch::default();
            for layer in &self.layers {
                self.layer_forward(layer, &mut x, t, &offsets, &seq_of, &mut scratch);
            }
        }
        Ok(HiddenStates {
            data: x,
            offsets,
            hidden: h,
        })
    }

    fn layer_forward(
        &self,
        layer: &Layer,
        x: &mut [f32],
        t: usize,
        offsets: &[usize],
        seq_of: &[usize],
        s: &mut Scratch,
    ) {
        let h = self.hidden_size();
        let heads = self.config.num_attention_heads;
        let dh = h / heads;
        let scale = 1.0 / (dh as f32).sqrt();
        layer.qkv.forward(x, t, &mut s.qkv);
        s.ctx.clear();
        s.ctx.resize(t * h, 0.0);
        let qkv = &s.qkv;
        let w3 = 3 * h;
        s.ctx
            .par_chunks_mut(h)
            .enumerate()
            .with_min_len(4)
            .for_each_init(Vec::new, |scores: &mut Vec<f32>, (i, out)| {
                let seq = seq_of[i];
                let (start, end) = (offsets[seq], offsets[seq + 1]);
                let n = end - start;
                scores.resize(n, 0.0);
                for hd in 0..heads {
                    let q = &qkv[i * w3 + hd * dh..i * w3 + (hd + 1) * dh];
                    let mut max = f32::NEG_INFINITY;
                    for (j, sc) in scores.iter_mut().enumerate() {
                        let r = (start + j) * w3 + h + hd * dh;
                        *sc = crate::kernels::dot(q, &qkv[r..r + dh]) * scale;
                        max = max.max(*sc);
                    }
                    let mut sum = 0f64;
                    for sc in scores.iter_mut() {
                        *sc = (*sc - max).exp();
                        sum += *sc as f64;
                    }
                    let inv = (1.0 / sum) as f32;
                    let o = &mut out[hd * dh..(hd + 1) * dh];
                    for (j, &p) in scores.iter().enumerate() {
                        let r = (start + j) * w3 + 2 * h + hd * dh;
                        crate::kernels::axpy(p * inv, &qkv[r..r + dh], o);
                    }
                }
            });
        // Output projection, residual, LayerNorm.
        layer.attn_out.forward(&s.ctx, t, &mut s.tmp);
        s.tmp
            .par_chunks_mut(h)
            .zip(x.par_chunks(h))
            .for_each(|(a, r)| {
                for (a, r) in a.iter_mut().zip(r) {
                    *a += r;
                }
                layer_norm(a, &layer.attn_norm);
            });
        // Feed-forward, residual, LayerNorm.
        layer.ff_in.forward(&s.tmp, t, &mut s.inter);
        let act = self.config.activation;
        s.inter
            .par_chunks_mut(4096)
            .for_each(|c| c.iter_mut().for_each(|v| *v = act.apply(*v)));
        layer.ff_out.forward(&s.inter, t, &mut s.qkv);
        x.par_chunks_mut(h)
            .zip(s.qkv.par_chunks(h).zip(s.tmp.par_chunks(h)))
            .for_each(|(o, (f, a))| {
                for ((o, f), a) in o.iter_mut().zip(f).zip(a) {
                    *o = f + a;
                }
                layer_norm(o, &layer.ff_norm);
            });
    }
}

/// Buffers reused across layers.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    tmp: Vec<f32>,
    inter: Vec<f32>,
}
