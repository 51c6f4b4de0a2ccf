//! fastText's `.bin` model files, in the current layout (magic 793712314, version 12) and the
//! older one without magic number or version (before fastText 0.9): arguments, dictionary, input
//! matrix (word rows then n-gram bucket rows) and output matrix. Reading keeps the subword part so
//! out-of-vocabulary words get fastText's vectors; writing produces files the `fasttext` tool
//! loads. Quantized models (`.ftz`) are read by `crate::supervised` (as classifiers), not here.

use std::path::Path;

use rayon::prelude::*;

use crate::embeddings::Embeddings;
use crate::error::{Error, Position, Result};
use crate::io::atomic::AtomicFile;
use crate::io::input::{self, decode_word, ReadReport};
use crate::io::ReadOptions;
use crate::storage::DenseMatrix;
use crate::subword::{SubwordConfig, Subwords};
use crate::vocab::WordList;

/// The first `i32` of a current-format fastText file.
pub const MAGIC: i32 = 793_712_314;
/// The file-format version written by fastText 0.9 (and by [`FastTextModel::write_bin`]).
pub const VERSION: i32 = 12;

/// Loss function codes as fastText stores them.
pub mod loss {
    /// Hierarchical softmax.
    pub const HS: i32 = 1;
    /// Negative sampling.
    pub const NS: i32 = 2;
    /// Full softmax.
    pub const SOFTMAX: i32 = 3;
    /// One-vs-all (supervised only).
    pub const OVA: i32 = 4;
}

/// Model codes as fastText stores them.
pub mod model {
    /// Continuous bag of words.
    pub const CBOW: i32 = 1;
    /// Skip-gram.
    pub const SKIPGRAM: i32 = 2;
    /// Supervised classifier.
    pub const SUPERVISED: i32 = 3;
}

/// The training arguments stored at the start of a `.bin` file (fastText's `Args::save`, in
/// this order; all `i32` except `t`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FastTextArgs {
    /// Vector dimension.
    pub dim: i32,
    /// Context window size.
    pub ws: i32,
    /// Training epochs.
    pub epoch: i32,
    /// Minimum word count kept in the dictionary.
    pub min_count: i32,
    /// Negative samples per positive one.
    pub neg: i32,
    /// Word n-gram length (1 for unsupervised models).
    pub word_ngrams: i32,
    /// Loss code, see [`loss`].
    pub loss: i32,
    /// Model code, see [`model`].
    pub model: i32,
    /// Number of n-gram hash buckets (rows of the input matrix after the words).
    pub bucket: i32,
    /// Shortest character n-gram.
    pub minn: i32,
    /// Longest character n-gram (0: no subwords).
    pub maxn: i32,
    /// How often (in tokens) the learning rate is updated.
    pub lr_update_rate: i32,
    /// Sub-sampling threshold.
    pub t: f64,
}

impl Default for FastTextArgs {
    /// fastText's defaults for `fasttext skipgram`.
    fn default() -> Self {
        FastTextArgs {
            dim: 100,
            ws: 5,
            epoch: 5,
            min_count: 5,
            neg: 5,
            word_ngrams: 1,
            loss: loss::NS,
            model: model::SKIPGRAM,
            bucket: 2_000_000,
            minn: 3,
            maxn: 6,
            lr_update_rate: 100,
            t: 1e-4,
        }
    }
}

/// Kind of a dictionary entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// A word (code 0).
    Word,
    /// A supervised label such as `__label__x` (code 1).
    Label,
}

/// One dictionary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictEntry {
    /// The token (invalid UTF-8 replaced when read with `lossy`).
    pub word: String,
    /// Its count in the training corpus.
    pub count: i64,
    /// Word or label.
    pub entry_type: EntryType,
}

/// A fastText model as stored in a `.bin` file.
///
/// Invariants checked by [`FastTextModel::write_bin`] and guaranteed by `read_bin`: words come
/// before labels in `entries`; `input` is `(nwords + args.bucket) × args.dim` (rows `0..nwords`
/// are the words' own vectors, the rest the n-gram buckets); `output` has `args.dim` columns
/// (for unsupervised models one row per word).
#[derive(Debug, Clone)]
pub struct FastTextModel {
    /// Training arguments.
    pub args: FastTextArgs,
    /// File-format version (`None` for the old layout without magic number).
    pub version: Option<i32>,
    /// Dictionary, in id order.
    pub entries: Vec<DictEntry>,
    /// Number of tokens seen in training.
    pub ntokens: i64,
    /// Input matrix: word rows then bucket rows.
    pub input: DenseMatrix,
    /// Output matrix.
    pub output: DenseMatrix,
    /// The raw bytes of every entry's token as stored (differs from `word` only for invalid
    /// UTF-8 read with `lossy`); empty for models built in memory, where `word` is used.
    pub raw_words: Vec<Vec<u8>>,
}

/// A little-endian reader over a file's bytes whose errors name the file and the byte offset
/// (shared with the supervised-model reader in `crate::supervised`).
pub(crate) struct Cursor<'a> {
    pub(crate) path: &'a Path,
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if self.bytes.len() - self.pos < n {
            return Err(Error::at_byte(
                self.path,
                self.pos as u64,
                format!("the file ends inside {what} (truncated file?)"),
            ));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub(crate) fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub(crate) fn f64(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    pub(crate) fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn err(&self, at: usize, msg: impl Into<String>) -> Error {
        Error::at_byte(self.path, at as u64, msg)
    }
}

/// True when `head` (the first bytes of a file) starts like a fastText `.bin`: the magic number,
/// or an old-layout argument block with plausible values.
pub fn looks_like_bin(head: &[u8]) -> bool {
    if head.len() < 52 {
        return false;
    }
    let i = |k: usize| i32::from_le_bytes(head[4 * k..4 * k + 4].try_into().unwrap());
    if i(0) == MAGIC {
        return true;
    }
    // Old layout: dim ws epoch min_count neg word_ngrams loss model bucket minn maxn lr_update t
    (1..=100_000).contains(&i(0))
        && (1..=10_000).contains(&i(1))
        && (1..=100_000).contains(&i(2))
        && (0..=1_000_000).contains(&i(3))
        && (0..=10_000).contains(&i(4))
        && (1..=100).contains(&i(5))
        && (1..=4).contains(&i(6))
        && (1..=3).contains(&i(7))
        && (0..=100_000_000).contains(&i(8))
        && (0..=100).contains(&i(9))
        && (0..=100).contains(&i(10))
}

/// The dictionary of a fastText file as read (entries, not yet the prune index that follows).
pub(crate) struct DictRead {
    pub(crate) entries: Vec<DictEntry>,
    pub(crate) raw_words: Vec<Vec<u8>>,
    pub(crate) nwords: i32,
    pub(crate) ntokens: i64,
    /// fastText's `pruneidx_size_`: -1 (or 0 in the old layout) when not pruned.
    pub(crate) pruneidx_size: i64,
    /// Byte offset of `pruneidx_size`, for error messages.
    pub(crate) prune_at: usize,
}

/// Reads the magic number, version and argument block (either layout).
pub(crate) fn read_head(c: &mut Cursor) -> Result<(Option<i32>, FastTextArgs)> {
    let first = c.i32("the header")?;
    let (version, dim) = if first == MAGIC {
        let v = c.i32("the header")?;
        if v > VERSION {
            return Err(c.err(
                4,
                format!("fastText file version {v} is newer than {VERSION}"),
            ));
        }
        (Some(v), c.i32("the arguments")?)
    } else {
        (None, first)
    };
    let args_at = c.pos - 4;
    let mut a = [0i32; 11];
    for v in a.iter_mut() {
        *v = c.i32("the arguments")?;
    }
    let args = FastTextArgs {
        dim,
        ws: a[0],
        epoch: a[1],
        min_count: a[2],
        neg: a[3],
        word_ngrams: a[4],
        loss: a[5],
        model: a[6],
        bucket: a[7],
        minn: a[8],
        maxn: a[9],
        lr_update_rate: a[10],
        t: c.f64("the arguments")?,
    };
    check_arg(c, args_at, "dim", args.dim, 1)?;
    check_arg(c, args_at, "bucket", args.bucket, 0)?;
    check_arg(c, args_at, "minn", args.minn, 0)?;
    check_arg(c, args_at, "maxn", args.maxn, 0)?;
    if version.is_none() && !looks_like_bin(&c.bytes[..c.bytes.len().min(64)]) {
        return Err(c.err(
            0,
            "neither the fastText magic number nor a plausible old-format header",
        ));
    }
    Ok((version, args))
}

/// Reads the dictionary header and entries (words first, then labels).
pub(crate) fn read_dict(
    c: &mut Cursor,
    version: Option<i32>,
    options: &ReadOptions,
) -> Result<DictRead> {
    let path = c.path;
    let bytes = c.bytes;
    let dict_at = c.pos;
    let size = c.i32("the dictionary header")?;
    let nwords = c.i32("the dictionary header")?;
    let nlabels = c.i32("the dictionary header")?;
    let ntokens = c.i64("the dictionary header")?;
    if size < 0 || nwords < 0 || nlabels < 0 || nwords.checked_add(nlabels) != Some(size) {
        return Err(c.err(
            dict_at,
            format!("dictionary sizes disagree: {size} entries, {nwords} words, {nlabels} labels"),
        ));
    }
    let prune_at = c.pos;
    let pruneidx_size = if version.is_some() {
        c.i64("the dictionary header")?
    } else {
        -1
    };
    let mut entries = Vec::with_capacity((size as usize).min(bytes.len() / 10));
    let mut raw_words = Vec::with_capacity(entries.capacity());
    for i in 0..size as usize {
        let start = c.pos;
        let end = match memchr::memchr(0, &bytes[start..]) {
            Some(k) => start + k,
            None => {
                return Err(c.err(
                    start,
                    format!(
                        "dictionary entry {i}: the file ends inside the word (truncated file?)"
                    ),
                ))
            }
        };
        let raw = &bytes[start..end];
        let word = decode_word(raw, options.lossy, path, || Position::Byte(start as u64))?;
        c.pos = end + 1;
        let count = c.i64("a dictionary entry")?;
        let type_at = c.pos;
        let entry_type = match c.u8("a dictionary entry")? {
            0 => EntryType::Word,
            1 => EntryType::Label,
            t => {
                return Err(c.err(
                    type_at,
                    format!("dictionary entry {i}: unknown entry type {t}"),
                ))
            }
        };
        if (entry_type == EntryType::Word) != (i < nwords as usize) {
            return Err(c.err(
                type_at,
                format!("dictionary entry {i}: words must come before labels"),
            ));
        }
        entries.push(DictEntry {
            word: word.into_owned(),
            count,
            entry_type,
        });
        raw_words.push(raw.to_vec());
    }
    Ok(DictRead {
        entries,
        raw_words,
        nwords,
        ntokens,
        pruneidx_size,
        prune_at,
    })
}

fn check_arg(c: &Cursor, at: usize, name: &str, v: i32, lo: i32) -> Result<()> {
    if v < lo {
        return Err(c.err(at, format!("argument {name} is {v}, must be at least {lo}")));
    }
    Ok(())
}

impl FastTextModel {
    /// Number of word entries (they come first in the dictionary).
    pub fn nwords(&self) -> usize {
        self.entries
            .iter()
            .take_while(|e| e.entry_type == EntryType::Word)
            .count()
    }

    /// The subword settings of the model.
    pub fn subword_config(&self) -> SubwordConfig {
        SubwordConfig {
            minn: self.args.minn.max(0) as u32,
            maxn: self.args.maxn.max(0) as u32,
            buckets: self.args.bucket.max(0) as u32,
        }
    }

    /// Reads a `.bin` file in either layout. `options.lossy` accepts words that are not valid
    /// UTF-8; `options.allow_nonfinite` accepts NaN/inf in the matrices.
    pub fn read_bin(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Self> {
        let path = path.as_ref();
        let bytes = input::open(path)?;
        let mut c = Cursor {
            path,
            bytes: &bytes,
            pos: 0,
        };
        let (version, args) = read_head(&mut c)?;
        let dict = read_dict(&mut c, version, options)?;
        if dict.pruneidx_size > 0 {
            return Err(c.err(
                dict.prune_at,
                "this is a pruned (quantized, .ftz) fastText model; `embers predict` and \
                 `embers::supervised::Classifier` read it, but not as word embeddings — \
                 use the unquantized .bin",
            ));
        }
        let DictRead {
            entries,
            raw_words,
            nwords,
            ntokens,
            ..
        } = dict;
        let input = read_matrix(&mut c, version.is_some(), "input", options)?;
        let want_rows = nwords as i64 + args.bucket as i64;
        if input.rows() as i64 != want_rows || input.dims() != args.dim as usize {
            return Err(Error::at_field(
                path,
                "input matrix",
                format!(
                    "shape {} × {}, expected {want_rows} × {} (words + buckets × dim)",
                    input.rows(),
                    input.dims(),
                    args.dim
                ),
            ));
        }
        let output = read_matrix(&mut c, version.is_some(), "output", options)?;
        if output.dims() != args.dim as usize {
            return Err(Error::at_field(
                path,
                "output matrix",
                format!("{} columns, expected {}", output.dims(), args.dim),
            ));
        }
        if c.pos != bytes.len() {
            return Err(c.err(c.pos, "unexpected data after the output matrix"));
        }
        Ok(FastTextModel {
            args,
            version,
            entries,
            ntokens,
            input,
            output,
            raw_words,
        })
    }

    /// The word vectors as fastText computes them (`print-word-vectors`): for each word the mean
    /// of its own input row and the rows of its character n-gram buckets (`</s>` has no
    /// n-grams in the current layout; the fastText versions that wrote the old layout gave it
    /// n-grams like any word), with the bucket rows kept as [`Subwords`] for out-of-vocabulary words. Counts
    /// come from the dictionary; labels are left out.
    pub fn to_embeddings(&self) -> Result<(Embeddings, ReadReport)> {
        let nwords = self.nwords();
        let dim = self.args.dim as usize;
        let config = self.subword_config();
        let input = self.input.as_slice();
        let mut data = vec![0f32; nwords * dim];
        data.par_chunks_mut(dim.max(1))
            .enumerate()
            .for_each(|(i, out)| {
                out.copy_from_slice(&input[i * dim..(i + 1) * dim]);
                let raw: &[u8] = match self.raw_words.get(i) {
                    Some(r) => r,
                    None => self.entries[i].word.as_bytes(),
                };
                if raw == b"</s>" && self.version.is_some() {
                    return;
                }
                let mut n = 1usize;
                config.for_each_bucket_bytes(raw, |b| {
                    let r = nwords + b as usize;
                    crate::kernels::axpy(1.0, &input[r * dim..(r + 1) * dim], out);
                    n += 1;
                });
                crate::kernels::scale(1.0 / n as f32, out);
            });
        let words: WordList = self.entries[..nwords].iter().map(|e| &e.word).collect();
        let counts = self.entries[..nwords]
            .iter()
            .map(|e| e.count.max(0) as u64)
            .collect();
        let mut report = ReadReport::default();
        let (vocab, matrix) =
            input::dedup_rows(words, Some(counts), data, dim, &mut report, |row| {
                Position::Field(format!("dictionary entry {row}"))
            })?;
        let buckets = self.args.bucket.max(0) as usize;
        let sub = DenseMatrix::new(buckets, dim, input[nwords * dim..].to_vec())?;
        let mut emb = Embeddings::new(vocab, matrix)?;
        if config.maxn > 0 && buckets > 0 {
            emb = emb.with_subwords(Subwords {
                config,
                matrix: sub,
            })?;
        }
        let md = emb.metadata_mut();
        md.insert("source_format".into(), "fasttext-bin".into());
        md.insert("fasttext_loss".into(), self.args.loss.to_string());
        md.insert("fasttext_model".into(), self.args.model.to_string());
        Ok((emb, report))
    }

    /// A model whose `fasttext print-word-vectors` output is `embeddings`' rows. Without
    /// subwords the model has no buckets (`maxn = 0`, so fastText uses the word rows as they
    /// are); with subwords, each word's own input row is set so that the mean of it and its
    /// n-gram rows is the stored vector (exact up to float rounding). The output matrix is
    /// zero and counts of 0 become 1; `args` supplies the rest (dim, bucket, minn, maxn are
    /// overwritten from the embeddings).
    pub fn from_embeddings(embeddings: &Embeddings, args: FastTextArgs) -> Result<Self> {
        let dim = embeddings.dims();
        let n = embeddings.len();
        let mut args = args;
        args.dim =
            i32::try_from(dim).map_err(|_| Error::invalid("dims", "too large for fastText"))?;
        let (config, buckets) = match embeddings.subwords() {
            Some(s) => (s.config, Some(&s.matrix)),
            None => (
                SubwordConfig {
                    minn: 0,
                    maxn: 0,
                    buckets: 0,
                },
                None,
            ),
        };
        args.bucket = config.buckets as i32;
        args.minn = config.minn as i32;
        args.maxn = config.maxn as i32;
        let mut data = vec![0f32; (n + config.buckets as usize) * dim];
        let (words_part, bucket_part) = data.split_at_mut(n * dim);
        if let Some(b) = buckets {
            bucket_part.copy_from_slice(b.as_slice());
        }
        let bucket_part = &*bucket_part;
        let storage = embeddings.storage();
        let vocab = embeddings.vocab();
        words_part
            .par_chunks_mut(dim.max(1))
            .enumerate()
            .for_each(|(i, out)| {
                storage.row_into(i, out);
                let word = vocab.token(i as u32).unwrap_or("");
                if buckets.is_none() || word == "</s>" {
                    return;
                }
                let mut k = 1usize;
                let mut sum = vec![0f32; dim];
                config.for_each_bucket(word, |b| {
                    let r = b as usize;
                    crate::kernels::axpy(1.0, &bucket_part[r * dim..(r + 1) * dim], &mut sum);
                    k += 1;
                });
                crate::kernels::scale(k as f32, out);
                crate::kernels::axpy(-1.0, &sum, out);
            });
        let entries = vocab
            .words()
            .iter()
            .enumerate()
            .map(|(id, w)| DictEntry {
                word: w.to_owned(),
                count: vocab.count(id as u32).max(1) as i64,
                entry_type: EntryType::Word,
            })
            .collect::<Vec<_>>();
        let ntokens = entries.iter().map(|e| e.count).sum();
        Ok(FastTextModel {
            args,
            version: Some(VERSION),
            entries,
            ntokens,
            input: DenseMatrix::new(n + config.buckets as usize, dim, data)?,
            output: DenseMatrix::zeros(n, dim),
            raw_words: Vec::new(),
        })
    }

    /// Writes the model in the current `.bin` layout (magic, version 12, not quantized), which
    /// fastText 0.9 loads. Checks the invariants documented on the type first.
    pub fn write_bin(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let nwords = self.nwords();
        let dim = self.args.dim;
        if dim <= 0 || self.args.bucket < 0 || self.args.minn < 0 || self.args.maxn < 0 {
            return Err(Error::invalid(
                "args",
                "dim must be positive; bucket, minn, maxn non-negative",
            ));
        }
        if self.entries[nwords..]
            .iter()
            .any(|e| e.entry_type == EntryType::Word)
        {
            return Err(Error::invalid("entries", "words must come before labels"));
        }
        for (i, e) in self.entries.iter().enumerate() {
            if e.word.is_empty() || e.word.as_bytes().contains(&0) {
                return Err(Error::invalid(
                    "entries",
                    format!("entry {i} ({:?}) is empty or contains a NUL byte", e.word),
                ));
            }
        }
        let want = nwords + self.args.bucket as usize;
        if self.input.rows() != want || self.input.dims() != dim as usize {
            return Err(Error::shape(
                "fastText input matrix",
                format!("{want} × {dim}"),
                format!("{} × {}", self.input.rows(), self.input.dims()),
            ));
        }
        if self.output.dims() != dim as usize {
            return Err(Error::shape(
                "fastText output matrix dims",
                dim,
                self.output.dims(),
            ));
        }
        let mut f = AtomicFile::create(path)?;
        let mut head = Vec::with_capacity(128);
        for v in [
            MAGIC,
            VERSION,
            dim,
            self.args.ws,
            self.args.epoch,
            self.args.min_count,
        ] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        for v in [
            self.args.neg,
            self.args.word_ngrams,
            self.args.loss,
            self.args.model,
            self.args.bucket,
            self.args.minn,
            self.args.maxn,
            self.args.lr_update_rate,
        ] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        head.extend_from_slice(&self.args.t.to_le_bytes());
        let size = self.entries.len() as i32;
        head.extend_from_slice(&size.to_le_bytes());
        head.extend_from_slice(&(nwords as i32).to_le_bytes());
        head.extend_from_slice(&(size - nwords as i32).to_le_bytes());
        head.extend_from_slice(&self.ntokens.to_le_bytes());
        head.extend_from_slice(&(-1i64).to_le_bytes()); // prune index: none
        f.write_all(&head)?;
        let mut buf = Vec::with_capacity(1 << 16);
        for e in &self.entries {
            buf.extend_from_slice(e.word.as_bytes());
            buf.push(0);
            buf.extend_from_slice(&e.count.to_le_bytes());
            buf.push(match e.entry_type {
                EntryType::Word => 0,
                EntryType::Label => 1,
            });
            if buf.len() > 1 << 15 {
                f.write_all(&buf)?;
                buf.clear();
            }
        }
        f.write_all(&buf)?;
        for m in [&self.input, &self.output] {
            let mut h = vec![0u8]; // not quantized
            h.extend_from_slice(&(m.rows() as i64).to_le_bytes());
            h.extend_from_slice(&(m.dims() as i64).to_le_bytes());
            f.write_all(&h)?;
            f.write_all(crate::io::safetensors::bytes_of(m.as_slice()))?;
        }
        f.commit()
    }
}

pub(crate) fn read_matrix(
    c: &mut Cursor,
    new_format: bool,
    name: &str,
    options: &ReadOptions,
) -> Result<DenseMatrix> {
    if new_format {
        let at = c.pos;
        if c.u8(&format!("the {name} matrix header"))? != 0 {
            return Err(c.err(
                at,
                "this is a quantized fastText model (.ftz): `embers predict` and \
                 `embers::supervised::Classifier` read it, but not as word embeddings; \
                 use the unquantized .bin",
            ));
        }
    }
    let at = c.pos;
    let m = c.i64(&format!("the {name} matrix header"))?;
    let n = c.i64(&format!("the {name} matrix header"))?;
    let len = (m >= 0 && n >= 0)
        .then(|| (m as u64).checked_mul(n as u64))
        .flatten()
        .and_then(|x| x.checked_mul(4))
        .filter(|&x| x <= (c.bytes.len() - c.pos) as u64)
        .ok_or_else(|| {
            c.err(
                at,
                format!(
                    "the {name} matrix is {m} × {n} but only {} bytes follow (truncated file?)",
                    c.bytes.len() - c.pos
                ),
            )
        })?;
    let start = c.pos;
    let raw = c.take(len as usize, "a matrix")?;
    let data: Vec<f32> = raw
        .par_chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if !options.allow_nonfinite {
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            return Err(c.err(
                start + 4 * k,
                format!(
                    "{name} matrix row {} column {} is {}; use --allow-nonfinite to accept it",
                    k / n.max(1) as usize,
                    k % n.max(1) as usize,
                    data[k]
                ),
            ));
        }
    }
    DenseMatrix::new(m as usize, n as usize, data)
}

/// Writes `embeddings` as a fastText `.bin` (see [`FastTextModel::from_embeddings`]).
pub fn write(path: impl AsRef<Path>, embeddings: &Embeddings) -> Result<()> {
    FastTextModel::from_embeddings(embeddings, FastTextArgs::default())?.write_bin(path)
}

/// Reads a fastText `.bin` file as [`Embeddings`] with subwords.
pub fn read(path: impl AsRef<Path>, options: &ReadOptions) -> Result<(Embeddings, ReadReport)> {
    FastTextModel::read_bin(path, options)?.to_embeddings()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> FastTextModel {
        let args = FastTextArgs {
            dim: 2,
            bucket: 5,
            minn: 2,
            maxn: 3,
            ..FastTextArgs::default()
        };
        let entries = ["</s>", "ab", "ü"]
            .iter()
            .enumerate()
            .map(|(i, w)| DictEntry {
                word: w.to_string(),
                count: 10 - i as i64,
                entry_type: EntryType::Word,
            })
            .collect();
        let input: Vec<f32> = (0..16).map(|x| x as f32 * 0.5 - 3.0).collect();
        FastTextModel {
            args,
            version: Some(VERSION),
            entries,
            ntokens: 27,
            input: DenseMatrix::new(8, 2, input).unwrap(),
            output: DenseMatrix::new(3, 2, vec![0.5; 6]).unwrap(),
            raw_words: Vec::new(),
        }
    }

    #[test]
    fn word_vectors_are_the_mean_of_own_and_ngram_rows() {
        let m = tiny();
        let (e, _) = m.to_embeddings().unwrap();
        assert_eq!(e.vocab().count(1), 9);
        // "</s>" keeps its own row in the current layout.
        assert_eq!(e.get("</s>").unwrap(), m.input.row(0));
        // "ab": n-grams of "<ab>" with 2..=3 characters: "<a" "<ab" "ab" "ab>" "b>".
        let config = m.subword_config();
        let buckets = config.buckets_of("ab");
        assert_eq!(config.ngrams("ab"), ["<a", "<ab", "ab", "ab>", "b>"]);
        let mut want = m.input.row(1).to_vec();
        for b in &buckets {
            let r = m.input.row(3 + *b as usize);
            want[0] += r[0];
            want[1] += r[1];
        }
        let n = (buckets.len() + 1) as f32;
        let got = e.get("ab").unwrap();
        assert!((got[0] - want[0] / n).abs() < 1e-6 && (got[1] - want[1] / n).abs() < 1e-6);
        // Writing embeddings back gives the same vectors.
        let m2 = FastTextModel::from_embeddings(&e, FastTextArgs::default()).unwrap();
        let (e2, _) = m2.to_embeddings().unwrap();
        for w in ["</s>", "ab", "ü", "abc"] {
            let (a, b) = (e.get(w).unwrap(), e2.get(w).unwrap());
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-5), "{w}");
        }
    }

    #[test]
    fn write_read_round_trip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.bin");
        let m = tiny();
        m.write_bin(&p).unwrap();
        let back = FastTextModel::read_bin(&p, &ReadOptions::default()).unwrap();
        assert_eq!(back.args, m.args);
        assert_eq!(back.entries, m.entries);
        assert_eq!(back.input, m.input);
        assert_eq!(back.output, m.output);
        assert_eq!(back.ntokens, 27);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
        let err = FastTextModel::read_bin(&p, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut bad = m.clone();
        bad.input = DenseMatrix::zeros(7, 2);
        assert!(bad.write_bin(&p).is_err());
    }
}
