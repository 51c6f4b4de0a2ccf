//! fastText's supervised classifiers: an embedding bag of words, character n-grams and hashed
//! word n-grams, averaged into a hidden vector, followed by a linear layer and a loss
//! (softmax, negative sampling, hierarchical softmax or one-vs-all).
//!
//! [`Classifier::read`] opens `.bin` models (dense) and quantized `.ftz` models (the pruned
//! n-gram index, product-quantized input rows with optional quantized norms, quantized or dense
//! output rows); [`Classifier::predict`] gives fastText's labels and probabilities for a line,
//! with its tokenisation (whitespace, the end-of-line token `</s>`), word n-grams and top-k
//! with threshold (`hs`: its depth-first tree search). [`train`] trains a model and
//! [`quantize`] compresses one; both write files the `fasttext` tool loads.

mod dict;
pub mod matrix;
mod predict;
pub mod quantize;
pub mod train;

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use crate::io::fasttext::{
    self as ft, loss, model, read_dict, read_head, Cursor, FastTextArgs, MAGIC, VERSION,
};
use crate::io::ReadOptions;

pub use dict::Dictionary;
pub use matrix::{Matrix, ProductQuantizer, QuantMatrix};
pub use predict::{lines, Prediction, Scratch, TestReport};

/// The label prefix fastText uses unless told otherwise (`-label`; not stored in model files).
pub const LABEL_PREFIX: &str = "__label__";

/// True when `path` starts like a fastText model whose stored arguments say `supervised` (a
/// classifier: [`Classifier::read`] opens it), false for any other file, including unsupervised
/// fastText models. Reads the first 64 bytes only (as [`Classifier::read`], no gzip).
pub fn is_supervised_file(path: impl AsRef<Path>) -> Result<bool> {
    use std::io::Read;
    let path = path.as_ref();
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    if !ft::looks_like_bin(&head) {
        return Ok(false);
    }
    let i = |k: usize| i32::from_le_bytes(head[4 * k..4 * k + 4].try_into().unwrap());
    // Current layout: magic, version, dim, ws, epoch, minCount, neg, wordNgrams, loss, model;
    // the old one starts at dim.
    let model_at = if i(0) == MAGIC { 9 } else { 7 };
    Ok(i(model_at) == model::SUPERVISED)
}

/// A node of the hierarchical-softmax tree (fastText's Huffman tree over label counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) parent: i32,
    pub(crate) left: i32,
    pub(crate) right: i32,
    pub(crate) count: i64,
    pub(crate) binary: bool,
}

/// A fastText supervised model.
#[derive(Debug, Clone)]
pub struct Classifier {
    /// The stored arguments (for version 11 supervised files `maxn` is 0, as fastText sets it).
    pub args: FastTextArgs,
    /// File version (`None`: the layout before magic numbers).
    pub version: Option<i32>,
    /// Words, labels, hashing and the prune index.
    pub dict: Dictionary,
    /// Input rows: words, then n-gram buckets (all of them, or the kept ones of a pruned model).
    pub input: Matrix,
    /// Output rows: one per label (`nlabels - 1` internal tree nodes for `hs`).
    pub output: Matrix,
    pub(crate) tree: Vec<Node>,
    pub(crate) sigmoid: Vec<f32>,
}

fn loss_name(l: i32) -> &'static str {
    match l {
        loss::HS => "hs",
        loss::NS => "ns",
        loss::SOFTMAX => "softmax",
        loss::OVA => "ova",
        _ => "unknown",
    }
}

impl Classifier {
    /// Builds a classifier from its parts, checking that they fit together (matrix shapes, loss,
    /// prune index) so that prediction never indexes out of bounds.
    pub fn new(
        args: FastTextArgs,
        version: Option<i32>,
        dict: Dictionary,
        input: Matrix,
        output: Matrix,
    ) -> Result<Self> {
        if args.model != model::SUPERVISED {
            return Err(Error::invalid(
                "model",
                format!(
                    "this fastText model is not supervised (model code {}): it has no labels to \
                     predict; read it as word embeddings instead",
                    args.model
                ),
            ));
        }
        let dim = args.dim as usize;
        if input.dims() != dim || output.dims() != dim {
            return Err(Error::shape(
                "fastText matrices' columns",
                dim,
                format!("input {} / output {}", input.dims(), output.dims()),
            ));
        }
        let want_in = dict.nwords() + dict.ngram_rows(args.bucket);
        if input.rows() != want_in {
            return Err(Error::shape(
                "fastText input matrix rows (words + n-gram rows)",
                want_in,
                input.rows(),
            ));
        }
        let nlabels = dict.nlabels();
        if nlabels == 0 {
            return Err(Error::invalid("labels", "the model has no labels"));
        }
        // fastText trains hs with one output row per label and uses the first nlabels - 1
        // (the internal nodes of the tree).
        let want_out = match args.loss {
            loss::HS => nlabels - 1,
            loss::NS | loss::SOFTMAX | loss::OVA => nlabels,
            l => return Err(Error::invalid("loss", format!("unknown loss code {l}"))),
        };
        let fits = output.rows() == want_out || (args.loss == loss::HS && output.rows() == nlabels);
        if !fits {
            return Err(Error::shape(
                format!(
                    "fastText output matrix rows ({} loss, {nlabels} labels)",
                    loss_name(args.loss)
                ),
                want_out,
                output.rows(),
            ));
        }
        let tree = if args.loss == loss::HS {
            build_tree(&dict.label_counts())?
        } else {
            Vec::new()
        };
        Ok(Classifier {
            args,
            version,
            dict,
            input,
            output,
            tree,
            sigmoid: sigmoid_table(),
        })
    }

    /// Reads a supervised `.bin` or quantized `.ftz` model.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut c = Cursor {
            path,
            bytes: &bytes,
            pos: 0,
        };
        let (version, mut args) = read_head(&mut c)?;
        if version.is_none_or(|v| v <= 11) && args.model == model::SUPERVISED {
            // fastText: old supervised models do not use character n-grams.
            args.maxn = 0;
        }
        let d = read_dict(&mut c, version, &ReadOptions::default())?;
        let mut prune = Vec::new();
        if d.pruneidx_size > 0 {
            let n = d.pruneidx_size as u64;
            if n.checked_mul(8)
                .is_none_or(|b| b > (c.bytes.len() - c.pos) as u64)
            {
                return Err(c.err(
                    d.prune_at,
                    format!("a prune index of {n} pairs does not fit in the file (truncated?)"),
                ));
            }
            prune.reserve(n as usize);
            for _ in 0..n {
                let at = c.pos;
                let a = c.i32("the prune index")?;
                let b = c.i32("the prune index")?;
                if a < 0 || a >= args.bucket || b < 0 {
                    return Err(c.err(
                        at,
                        format!(
                            "prune index pair ({a}, {b}) is out of range (bucket {})",
                            args.bucket
                        ),
                    ));
                }
                prune.push((a, b));
            }
        }
        let dict = Dictionary::new(
            d.entries,
            d.raw_words,
            d.ntokens,
            d.pruneidx_size,
            prune,
            &args,
        )
        .map_err(|e| Error::at_field(path, "dictionary", e.to_string()))?;
        let input = read_input(&mut c, version)?;
        let qout = if version.is_some() {
            let at = c.pos;
            match c.u8("the qout flag")? {
                0 => false,
                1 => true,
                b => return Err(c.err(at, format!("the qout flag is {b}, not 0 or 1"))),
            }
        } else {
            false
        };
        let output = if qout && input.is_quantized() {
            Matrix::Quant(QuantMatrix::read(&mut c, "output")?)
        } else {
            read_dense(&mut c, "output")?
        };
        if c.pos != bytes.len() {
            return Err(c.err(c.pos, "unexpected data after the output matrix"));
        }
        if !input.is_quantized() && dict.is_pruned() {
            return Err(Error::at_field(
                path,
                "input matrix",
                "a pruned dictionary needs a quantized input matrix",
            ));
        }
        Classifier::new(args, version, dict, input, output)
            .map_err(|e| Error::at_field(path, "model", e.to_string()))
    }

    /// Writes the model in fastText's current layout: a `.bin` when both matrices are dense, an
    /// `.ftz` when the input is quantized (with `qout` when the output is too).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if self.output.is_quantized() && !self.input.is_quantized() {
            return Err(Error::invalid(
                "output",
                "fastText files cannot hold a quantized output with a dense input",
            ));
        }
        let mut out = Vec::with_capacity(1 << 16);
        let a = &self.args;
        for v in [MAGIC, VERSION, a.dim, a.ws, a.epoch, a.min_count, a.neg] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            a.word_ngrams,
            a.loss,
            a.model,
            a.bucket,
            a.minn,
            a.maxn,
            a.lr_update_rate,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&a.t.to_le_bytes());
        self.dict.write(&mut out);
        let mut f = AtomicFile::create(path)?;
        // Each matrix is preceded by its flag: `quant_input` for the input, `qout` for the
        // output.
        for m in [&self.input, &self.output] {
            match m {
                Matrix::Dense(d) => {
                    out.push(0);
                    out.extend_from_slice(&(d.rows() as i64).to_le_bytes());
                    out.extend_from_slice(&(d.dims() as i64).to_le_bytes());
                    f.write_all(&out)?;
                    out.clear();
                    f.write_all(crate::io::safetensors::bytes_of(d.as_slice()))?;
                }
                Matrix::Quant(q) => {
                    out.push(1);
                    q.write(&mut out);
                    f.write_all(&out)?;
                    out.clear();
                }
            }
        }
        f.commit()
    }

    /// Number of labels.
    pub fn nlabels(&self) -> usize {
        self.dict.nlabels()
    }

    /// The label with index `i` (0-based among labels, most frequent first), prefix included.
    pub fn label(&self, i: usize) -> &str {
        self.dict.label(i)
    }

    /// Loss name: `softmax`, `ns`, `hs` or `ova`.
    pub fn loss_name(&self) -> &'static str {
        loss_name(self.args.loss)
    }

    /// True for a quantized (`.ftz`) model.
    pub fn is_quantized(&self) -> bool {
        self.input.is_quantized()
    }
}

/// A dense matrix's shape and rows (its quantization flag already read by the caller).
fn read_dense(c: &mut Cursor, name: &str) -> Result<Matrix> {
    let m = ft::read_matrix(c, false, name, &ReadOptions::default())?;
    Ok(Matrix::Dense(m))
}

/// The input matrix: its quantization flag (current layout), then dense or quantized rows.
fn read_input(c: &mut Cursor, version: Option<i32>) -> Result<Matrix> {
    let name = "input";
    if version.is_some() {
        let at = c.pos;
        match c.u8(&format!("the {name} matrix header"))? {
            0 => read_dense(c, name),
            1 => Ok(Matrix::Quant(QuantMatrix::read(c, name)?)),
            b => Err(c.err(
                at,
                format!("the {name} matrix's quantization flag is {b}, not 0 or 1"),
            )),
        }
    } else {
        read_dense(c, name)
    }
}

/// fastText's sigmoid table: 513 values over [-8, 8].
fn sigmoid_table() -> Vec<f32> {
    (0..=512i64)
        .map(|i| {
            let x = (i * 16) as f32 / 512.0 - 8.0;
            (1.0 / (1.0 + ((-x).exp()) as f64)) as f32
        })
        .collect()
}

/// fastText's Huffman tree over the label counts: leaves `0..n`, internal nodes `n..2n-1`,
/// the root last.
pub(crate) fn build_tree(counts: &[i64]) -> Result<Vec<Node>> {
    let n = counts.len();
    let mut tree = vec![
        Node {
            parent: -1,
            left: -1,
            right: -1,
            count: 1_000_000_000_000_000,
            binary: false,
        };
        (2 * n).saturating_sub(1)
    ];
    for (t, &c) in tree.iter_mut().zip(counts) {
        t.count = c;
    }
    let mut leaf = n as i64 - 1;
    let mut node = n;
    for i in n..2 * n - 1 {
        let mut mini = [0usize; 2];
        for slot in mini.iter_mut() {
            if leaf >= 0 && tree[leaf as usize].count < tree[node].count {
                *slot = leaf as usize;
                leaf -= 1;
            } else {
                if node >= i {
                    return Err(Error::invalid(
                        "label counts",
                        "counts too large (≥ 1e15) to build fastText's tree",
                    ));
                }
                *slot = node;
                node += 1;
            }
        }
        tree[i].left = mini[0] as i32;
        tree[i].right = mini[1] as i32;
        tree[i].count = tree[mini[0]].count.saturating_add(tree[mini[1]].count);
        tree[mini[0]].parent = i as i32;
        tree[mini[1]].parent = i as i32;
        tree[mini[1]].binary = true;
    }
    Ok(tree)
}

/// Builds a dense classifier's parts from a plain `FastTextModel` (the `.bin` reader's type).
impl TryFrom<ft::FastTextModel> for Classifier {
    type Error = Error;
    fn try_from(m: ft::FastTextModel) -> Result<Self> {
        let raw = if m.raw_words.is_empty() {
            m.entries
                .iter()
                .map(|e| e.word.as_bytes().to_vec())
                .collect()
        } else {
            m.raw_words
        };
        let dict = Dictionary::new(m.entries, raw, m.ntokens, -1, Vec::new(), &m.args)?;
        Classifier::new(
            m.args,
            m.version,
            dict,
            Matrix::Dense(m.input),
            Matrix::Dense(m.output),
        )
    }
}
