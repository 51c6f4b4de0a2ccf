//! Sentence vectors from any embers word model: the mean of its token vectors, or SIF.
//!
//! Tokens come from embers' word tokenizer; each token's vector is its row, else its subword
//! vector (fastText-style models), else it is skipped. A text without known tokens gets the zero
//! vector.
//!
//! SIF (Arora, Liang & Ma 2017, "A simple but tough-to-beat baseline for sentence embeddings"):
//! the vector of a text is `(1/n) Σ a/(a + p(w)) · v(w)` over its `n` known tokens, with
//! `p(w) = count(w) / total` from the vocabulary's stored counts (tokens known only through
//! subwords have `p = 0`, weight 1); the projection on the first principal component `u` of
//! those vectors over a fitting corpus (uncentred, as the paper's code) is then removed:
//! `x − (u·x) u`. [`fit_sif`] computes `u` once; [`store_sif`] keeps `a` and `u` in the model's
//! metadata (`sentence.sif.a`, `sentence.sif.component`), where [`Pooler::new`] finds them.

use rayon::prelude::*;

use super::static_model::normalize_in_place;
use crate::embeddings::Embeddings;
use crate::error::{Error, Result};
use crate::storage::DenseMatrix;
use crate::text::WordTokenizer;

/// Metadata key of SIF's `a`.
pub const SIF_A_KEY: &str = "sentence.sif.a";
/// Metadata key of SIF's first principal component (a JSON list of floats).
pub const SIF_COMPONENT_KEY: &str = "sentence.sif.component";
/// The paper's default `a`.
pub const DEFAULT_SIF_A: f64 = 1e-3;

/// How token vectors become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Plain mean of the token vectors.
    Mean,
    /// SIF: frequency-weighted mean, first principal component removed.
    Sif,
}

/// SIF's parameters: `a` and the component removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Sif {
    pub a: f64,
    pub component: Vec<f32>,
}

/// A word model pooled into sentence vectors.
#[derive(Debug)]
pub struct Pooler<'e> {
    emb: &'e Embeddings,
    tokenizer: WordTokenizer,
    /// Per-id SIF weights (None for plain means).
    weights: Option<Vec<f32>>,
    component: Option<Vec<f32>>,
    normalize: bool,
}

/// `a / (a + count/total)` for every id; an error when the vocabulary has no counts.
fn sif_weights(emb: &Embeddings, a: f64) -> Result<Vec<f32>> {
    if !(a.is_finite() && a > 0.0) {
        return Err(Error::invalid("a", format!("{a} is not a positive number")));
    }
    let total = emb.vocab().total_count();
    if total == 0 {
        return Err(Error::invalid(
            "pooling",
            "SIF needs token counts and this model's vocabulary has none (train it with embers, \
             or build its vocabulary from a corpus)",
        ));
    }
    Ok(emb
        .vocab()
        .counts()
        .iter()
        .map(|&c| (a / (a + c as f64 / total as f64)) as f32)
        .collect())
}

impl<'e> Pooler<'e> {
    /// A pooler over `emb`. SIF reads `a` and the component from the model's metadata (an error
    /// when [`fit_sif`] has not been stored there).
    pub fn new(emb: &'e Embeddings, tokenizer: WordTokenizer, pooling: Pooling) -> Result<Self> {
        let (weights, component) = match pooling {
            Pooling::Mean => (None, None),
            Pooling::Sif => {
                let sif = stored_sif(emb)?.ok_or_else(|| {
                    Error::invalid(
                        "pooling",
                        "the model has no fitted SIF component in its metadata: fit it first \
                         (`embers encode MODEL --pooling sif --fit-sif CORPUS`)",
                    )
                })?;
                (Some(sif_weights(emb, sif.a)?), Some(sif.component))
            }
        };
        Ok(Pooler {
            emb,
            tokenizer,
            weights,
            component,
            normalize: false,
        })
    }

    /// Divide every sentence vector by its norm.
    pub fn set_normalize(&mut self, normalize: bool) {
        self.normalize = normalize;
    }

    /// Dimensions of a sentence vector.
    pub fn dims(&self) -> usize {
        self.emb.dims()
    }

    /// The weighted mean of the known tokens of `text` into `out`; returns the number of known
    /// tokens.
    fn mean_into(&self, text: &str, out: &mut [f32], buf: &mut [f32]) -> usize {
        mean_into(
            self.emb,
            &self.tokenizer,
            self.weights.as_deref(),
            text,
            out,
            buf,
        )
    }

    /// One text's vector.
    pub fn encode_one(&self, text: &str) -> Vec<f32> {
        let mut out = vec![0f32; self.dims()];
        let mut buf = vec![0f32; self.dims()];
        self.finish(text, &mut out, &mut buf);
        out
    }

    fn finish(&self, text: &str, out: &mut [f32], buf: &mut [f32]) {
        self.mean_into(text, out, buf);
        if let Some(u) = &self.component {
            remove_component(out, u);
        }
        if self.normalize {
            normalize_in_place(out);
        }
    }

    /// The vectors of many texts, one row each, on all cores.
    pub fn encode(&self, texts: &[&str]) -> Result<DenseMatrix> {
        let d = self.dims();
        let total = texts
            .len()
            .checked_mul(d)
            .ok_or_else(|| Error::invalid("texts", "output size overflows"))?;
        let mut data = vec![0f32; total];
        data.par_chunks_mut(d * 64)
            .zip(texts.par_chunks(64))
            .for_each(|(block, chunk)| {
                let mut buf = vec![0f32; d];
                for (out, text) in block.chunks_exact_mut(d).zip(chunk) {
                    self.finish(text, out, &mut buf);
                }
            });
        DenseMatrix::new(texts.len(), d, data)
    }
}

fn mean_into(
    emb: &Embeddings,
    tokenizer: &WordTokenizer,
    weights: Option<&[f32]>,
    text: &str,
    out: &mut [f32],
    buf: &mut [f32],
) -> usize {
    out.fill(0.0);
    let mut n = 0usize;
    tokenizer.for_each_token(text, |token| {
        let weight = if let Some(id) = emb.vocab().id(&token) {
            emb.storage().row_into(id as usize, buf);
            weights.map_or(1.0, |w| w[id as usize])
        } else if let Some(v) = emb.subwords().and_then(|s| s.oov_vector(&token)) {
            buf.copy_from_slice(&v);
            1.0
        } else {
            return;
        };
        n += 1;
        for (o, &x) in out.iter_mut().zip(buf.iter()) {
            *o += weight * x;
        }
    });
    if n > 0 {
        let inv = 1.0 / n as f32;
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
    n
}

/// `x − (u·x) u` in place.
fn remove_component(x: &mut [f32], u: &[f32]) {
    let dot: f64 = x.iter().zip(u).map(|(&a, &b)| a as f64 * b as f64).sum();
    for (a, &b) in x.iter_mut().zip(u) {
        *a -= (dot * b as f64) as f32;
    }
}

/// Fits SIF on `texts`: the first principal component (uncentred, unit length, sign with a
/// non-negative largest entry) of their weighted-mean vectors. Texts without known tokens are
/// left out.
pub fn fit_sif(emb: &Embeddings, tokenizer: &WordTokenizer, texts: &[&str], a: f64) -> Result<Sif> {
    let weights = sif_weights(emb, a)?;
    let d = emb.dims();
    // XᵀX accumulated in f64 per thread, then summed.
    let gram = texts
        .par_chunks(256)
        .map(|chunk| {
            let mut g = vec![0f64; d * d];
            let mut out = vec![0f32; d];
            let mut buf = vec![0f32; d];
            let mut rows = 0usize;
            for text in chunk {
                if mean_into(emb, tokenizer, Some(&weights), text, &mut out, &mut buf) == 0 {
                    continue;
                }
                rows += 1;
                for (i, &xi) in out.iter().enumerate() {
                    let xi = xi as f64;
                    for (gij, &xj) in g[i * d..(i + 1) * d].iter_mut().zip(&out) {
                        *gij += xi * xj as f64;
                    }
                }
            }
            (g, rows)
        })
        .reduce(
            || (vec![0f64; d * d], 0usize),
            |(mut a, ra), (b, rb)| {
                for (x, y) in a.iter_mut().zip(&b) {
                    *x += y;
                }
                (a, ra + rb)
            },
        );
    let (gram, rows) = gram;
    if rows == 0 {
        return Err(Error::invalid(
            "texts",
            "no text of the fitting corpus has a known token",
        ));
    }
    if gram.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid(
            "texts",
            "the model's vectors are not finite",
        ));
    }
    // The top eigenvector of the symmetric XᵀX is its first right singular vector.
    let svd = crate::quant::linalg::svd(&gram, d, d);
    let mut u: Vec<f32> = (0..d).map(|i| svd.v[i * d] as f32).collect();
    let biggest = u
        .iter()
        .copied()
        .fold(0f32, |m, x| if x.abs() > m.abs() { x } else { m });
    if biggest < 0.0 {
        for x in u.iter_mut() {
            *x = -*x;
        }
    }
    normalize_in_place(&mut u);
    Ok(Sif { a, component: u })
}

/// Stores SIF's `a` and component in the model's metadata (written with the model).
pub fn store_sif(emb: &mut Embeddings, sif: &Sif) -> Result<()> {
    if sif.component.len() != emb.dims() {
        return Err(Error::shape(
            "SIF component",
            emb.dims(),
            sif.component.len(),
        ));
    }
    let m = emb.metadata_mut();
    m.insert(SIF_A_KEY.into(), format!("{}", sif.a));
    m.insert(
        SIF_COMPONENT_KEY.into(),
        serde_json::to_string(&sif.component).expect("floats serialise"),
    );
    Ok(())
}

/// SIF's parameters stored in a model's metadata, if any.
pub fn stored_sif(emb: &Embeddings) -> Result<Option<Sif>> {
    let m = emb.metadata();
    let (Some(a), Some(c)) = (m.get(SIF_A_KEY), m.get(SIF_COMPONENT_KEY)) else {
        return Ok(None);
    };
    let a: f64 = a
        .parse()
        .map_err(|_| Error::invalid(SIF_A_KEY, format!("{a:?} is not a number")))?;
    let component: Vec<f32> = serde_json::from_str(c)
        .map_err(|e| Error::invalid(SIF_COMPONENT_KEY, format!("not a list of numbers: {e}")))?;
    if component.len() != emb.dims() || component.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid(
            SIF_COMPONENT_KEY,
            format!(
                "expected {} finite numbers, got {}",
                emb.dims(),
                component.len()
            ),
        ));
    }
    Ok(Some(Sif { a, component }))
}
