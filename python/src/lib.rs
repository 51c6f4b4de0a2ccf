//! `embers._embers`: the compiled half of the Python package (`python/embers/` is the other).
//!
//! The classes here are thin: [`PyEmbeddings`] holds an `Arc<Embeddings>` and answers with plain
//! Python values; the gensim-shaped `KeyedVectors` is written in Python on top of it. Every call
//! that reads a file, scans the matrix or trains runs with the interpreter detached (the GIL
//! released), and every library error becomes one of the exceptions of `embers._errors`.

mod errors;
mod sentence;
mod train;

use std::path::PathBuf;
use std::sync::Arc;

use embers::eval::analogy::{evaluate_analogies, AnalogyOptions};
use embers::eval::pairs::{evaluate_pairs, PairsOptions};
use embers::io::{self, Format, ReadOptions};
use embers::query;
use embers::{DenseMatrix, Embeddings, Vocab};
use numpy::ndarray::ArrayView2;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::errors::to_py;

/// An embedding model: vocabulary and rows (memory-mapped when the file is native), with the
/// queries and evaluations of the library. Not meant to be used directly: `embers.load` and
/// `embers.KeyedVectors` wrap it.
#[pyclass(module = "embers._embers", name = "Embeddings", frozen)]
pub struct PyEmbeddings {
    pub(crate) emb: Arc<Embeddings>,
    path: Option<PathBuf>,
    format: Option<&'static str>,
}

impl PyEmbeddings {
    pub(crate) fn owned(emb: Embeddings) -> Self {
        PyEmbeddings {
            emb: Arc::new(emb),
            path: None,
            format: None,
        }
    }
}

fn strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

fn neighbours(hits: Vec<query::Neighbor>) -> Vec<(String, f64)> {
    hits.into_iter()
        .map(|n| (n.word, f64::from(n.score)))
        .collect()
}

#[pymethods]
impl PyEmbeddings {
    /// Opens an embedding file in any format embers reads (sniffed from content unless
    /// `format` names it). Native files are memory-mapped; others are parsed on all cores.
    #[staticmethod]
    #[pyo3(signature = (path, format=None, limit=None, lossy=false, allow_nonfinite=false, tensor=None, vocab=None))]
    #[allow(clippy::too_many_arguments)]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        format: Option<&str>,
        limit: Option<usize>,
        lossy: bool,
        allow_nonfinite: bool,
        tensor: Option<String>,
        vocab: Option<PathBuf>,
    ) -> PyResult<Self> {
        let format = format.map(Format::from_name).transpose().map_err(to_py)?;
        let options = ReadOptions {
            format,
            limit,
            lossy,
            allow_nonfinite,
            tensor,
            vocab,
        };
        let (emb, format) = py
            .detach(|| {
                let format = match options.format {
                    Some(f) => f,
                    None => io::sniff(&path)?,
                };
                let options = ReadOptions {
                    format: Some(format),
                    ..options
                };
                io::read(&path, &options).map(|e| (e, format))
            })
            .map_err(to_py)?;
        Ok(PyEmbeddings {
            emb: Arc::new(emb),
            path: Some(path),
            format: Some(format.name()),
        })
    }

    /// Embeddings from words and a float32 matrix (copied), with optional counts.
    #[staticmethod]
    #[pyo3(signature = (words, vectors, counts=None))]
    fn from_arrays(
        py: Python<'_>,
        words: Vec<String>,
        vectors: PyReadonlyArray2<'_, f32>,
        counts: Option<Vec<u64>>,
    ) -> PyResult<Self> {
        let view = vectors.as_array();
        let (rows, dims) = view.dim();
        let data: Vec<f32> = match view.as_slice() {
            Some(s) => s.to_vec(),
            None => view.iter().copied().collect(),
        };
        let emb = py
            .detach(|| {
                let n = words.len();
                let vocab = match counts {
                    Some(c) => Vocab::from_words_and_counts(words, c)?,
                    None => Vocab::from_words_and_counts(words, vec![0; n])?,
                };
                Embeddings::new(vocab, DenseMatrix::new(rows, dims, data)?)
            })
            .map_err(to_py)?;
        Ok(PyEmbeddings::owned(emb))
    }

    fn __len__(&self) -> usize {
        self.emb.len()
    }

    /// Vector dimensionality.
    #[getter]
    fn dims(&self) -> usize {
        self.emb.dims()
    }

    /// The file this was opened from, if any.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.path.clone()
    }

    /// The format the file was read as (`native`, `word2vec`, ...), if opened from a file.
    #[getter]
    fn format(&self) -> Option<&'static str> {
        self.format
    }

    /// How rows are stored: `f32`, `f16`, `int8`, `pq` or `rq`.
    #[getter]
    fn storage(&self) -> &'static str {
        self.emb.storage().kind()
    }

    /// True when the rows are read in place from a memory map.
    #[getter]
    fn is_mapped(&self) -> bool {
        self.emb.storage().is_mapped()
    }

    /// True when out-of-vocabulary words get vectors from character n-grams.
    #[getter]
    fn has_subwords(&self) -> bool {
        self.emb.subwords().is_some()
    }

    /// The file's metadata (settings of training, format version, ...).
    fn metadata(&self) -> Vec<(String, String)> {
        self.emb
            .metadata()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// All words, in row order.
    fn words<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let words = self.emb.vocab().words();
        PyList::new(py, (0..words.len()).map(|i| words.get(i)))
    }

    /// Word → row dict.
    fn key_to_index<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let words = self.emb.vocab().words();
        let d = PyDict::new(py);
        for i in 0..words.len() {
            d.set_item(words.get(i), i)?;
        }
        Ok(d)
    }

    /// Corpus counts, in row order (0 when the file has none).
    fn counts(&self) -> Vec<u64> {
        self.emb.vocab().counts().to_vec()
    }

    /// The row of `word`, or None.
    fn index(&self, word: &str) -> Option<u32> {
        self.emb.vocab().id(word)
    }

    /// The word of row `i`.
    fn word(&self, i: usize) -> PyResult<String> {
        u32::try_from(i)
            .ok()
            .and_then(|i| self.emb.vocab().token(i))
            .map(str::to_string)
            .ok_or_else(|| {
                to_py(embers::Error::invalid(
                    "index",
                    format!("{i} is out of range for {} rows", self.emb.len()),
                ))
            })
    }

    fn __contains__(&self, word: &str) -> bool {
        self.emb.vocab().id(word).is_some()
    }

    /// The vector of `word` (a copy): its row, or for a subword model its n-gram vector.
    /// Unknown words raise `NotFound`.
    fn vector<'py>(&self, py: Python<'py>, word: &str) -> PyResult<Bound<'py, PyArray1<f32>>> {
        match self.emb.lookup(word, false) {
            Some((v, _)) => Ok(PyArray1::from_vec(py, v)),
            None => Err(to_py(embers::Error::UnknownTokens(vec![word.to_string()]))),
        }
    }

    /// Row `i` (a copy).
    fn row<'py>(&self, py: Python<'py>, i: usize) -> PyResult<Bound<'py, PyArray1<f32>>> {
        if i >= self.emb.len() {
            return Err(to_py(embers::Error::invalid(
                "index",
                format!("{i} is out of range for {} rows", self.emb.len()),
            )));
        }
        Ok(PyArray1::from_vec(py, self.emb.storage().row_vec(i)))
    }

    /// Rows of `words` as one (n, dims) array; unknown words raise `NotFound` naming them all.
    fn vectors_of<'py>(
        &self,
        py: Python<'py>,
        words: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let dims = self.emb.dims();
        let mut out = Vec::with_capacity(words.len() * dims);
        let mut unknown = Vec::new();
        for w in &words {
            match self.emb.lookup(w, false) {
                Some((v, _)) => out.extend_from_slice(&v),
                None => unknown.push(w.clone()),
            }
        }
        if !unknown.is_empty() {
            return Err(to_py(embers::Error::UnknownTokens(unknown)));
        }
        let arr = numpy::ndarray::Array2::from_shape_vec((words.len(), dims), out)
            .map_err(|e| to_py(embers::Error::Other(e.to_string())))?;
        Ok(PyArray2::from_owned_array(py, arr))
    }

    /// The whole matrix as a read-only float32 array. For f32 rows this is a view of the rows
    /// where they are (the memory map of a native file, or the model's own buffer): nothing is
    /// copied, and the array keeps this object alive through its `base`. Compressed rows
    /// (f16, int8, pq, rq) are decoded into a new array.
    fn matrix<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let arr = match this.emb.storage().as_dense() {
            Some(d) => {
                let view = ArrayView2::from_shape((d.rows(), d.dims()), d.as_slice())
                    .map_err(|e| to_py(embers::Error::Other(e.to_string())))?;
                // SAFETY: the array points into `d`'s rows, which live in the `Embeddings`
                // behind `this.emb` (a memory map or an owned Vec held by it). The array's base
                // object is `slf`, which owns that `Arc`, so the rows outlive the array. The
                // class is frozen and never hands out `&mut Embeddings`, so the rows are never
                // written while the array exists; the array is made read-only below, and numpy
                // cannot make it writeable again because its base exports no writable buffer.
                let arr = unsafe { PyArray2::borrow_from_array(&view, slf.clone().into_any()) };
                arr.into_any()
            }
            None => {
                let dense = py.detach(|| this.emb.storage().to_dense()).map_err(to_py)?;
                let (rows, dims) = (dense.rows(), dense.dims());
                let arr = numpy::ndarray::Array2::from_shape_vec((rows, dims), dense.into_vec())
                    .map_err(|e| to_py(embers::Error::Other(e.to_string())))?;
                PyArray2::from_owned_array(py, arr).into_any()
            }
        };
        arr.getattr("flags")?.setattr("writeable", false)?;
        Ok(arr)
    }

    /// The address and length in bytes of the f32 rows, where they are (None when compressed).
    /// Tests use it to show that `matrix()` is a view into a file's memory map.
    fn rows_address(&self) -> Option<(usize, usize)> {
        self.emb.storage().as_dense().map(|d| {
            (
                d.as_slice().as_ptr() as usize,
                std::mem::size_of_val(d.as_slice()),
            )
        })
    }

    /// Row norms (computed once, cached).
    fn norms<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        let emb = &self.emb;
        let norms = py.detach(|| emb.norms().to_vec());
        PyArray1::from_vec(py, norms)
    }

    /// gensim's `most_similar` over words: the `topn` nearest rows to the normalised mean of the
    /// unit vectors of `positive` minus `negative`, query words excluded, within the first
    /// `restrict_vocab` rows.
    #[pyo3(signature = (positive, negative, topn, restrict_vocab=None))]
    fn most_similar(
        &self,
        py: Python<'_>,
        positive: Vec<String>,
        negative: Vec<String>,
        topn: usize,
        restrict_vocab: Option<usize>,
    ) -> PyResult<Vec<(String, f64)>> {
        let emb = &self.emb;
        py.detach(|| {
            query::most_similar(
                emb,
                &strs(&positive),
                &strs(&negative),
                topn,
                restrict_vocab,
            )
        })
        .map(neighbours)
        .map_err(to_py)
    }

    /// The `topn` rows nearest to `vector` by cosine (nothing excluded).
    #[pyo3(signature = (vector, topn, restrict_vocab=None))]
    fn similar_by_vector(
        &self,
        py: Python<'_>,
        vector: PyReadonlyArray1<'_, f32>,
        topn: usize,
        restrict_vocab: Option<usize>,
    ) -> PyResult<Vec<(String, f64)>> {
        let v = vector.as_array().to_vec();
        let emb = &self.emb;
        py.detach(|| query::similar_by_vector(emb, &v, topn, restrict_vocab))
            .map(neighbours)
            .map_err(to_py)
    }

    /// Cosines of the (unit) `vector` with the first `limit` rows, as gensim's `topn=None`.
    fn cosines<'py>(
        &self,
        py: Python<'py>,
        vector: PyReadonlyArray1<'_, f32>,
        limit: usize,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let v = vector.as_array().to_vec();
        if v.len() != self.emb.dims() {
            return Err(to_py(embers::Error::shape(
                "query vector",
                self.emb.dims(),
                v.len(),
            )));
        }
        let emb = &self.emb;
        let c = py.detach(|| query::exact::cosines(emb, &v, limit.min(emb.len())));
        Ok(PyArray1::from_vec(py, c))
    }

    /// The unit query vector of gensim's `most_similar` for `positive` and `negative` words.
    fn mean_query<'py>(
        &self,
        py: Python<'py>,
        positive: Vec<String>,
        negative: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let all: Vec<&str> = positive
            .iter()
            .chain(&negative)
            .map(String::as_str)
            .collect();
        let ids = query::ids_of(&self.emb, &all).map_err(to_py)?;
        let (p, n) = ids.split_at(positive.len());
        let q = query::mean_query(&self.emb, p, n).map_err(to_py)?;
        Ok(PyArray1::from_vec(py, q))
    }

    /// gensim's `most_similar_cosmul` (3CosMul).
    #[pyo3(signature = (positive, negative, topn, restrict_vocab=None))]
    fn most_similar_cosmul(
        &self,
        py: Python<'_>,
        positive: Vec<String>,
        negative: Vec<String>,
        topn: usize,
        restrict_vocab: Option<usize>,
    ) -> PyResult<Vec<(String, f64)>> {
        let emb = &self.emb;
        py.detach(|| {
            query::most_similar_cosmul(
                emb,
                &strs(&positive),
                &strs(&negative),
                topn,
                restrict_vocab,
            )
        })
        .map(neighbours)
        .map_err(to_py)
    }

    /// Cosine similarity of two words.
    fn similarity(&self, a: &str, b: &str) -> PyResult<f64> {
        query::similarity(&self.emb, a, b)
            .map(f64::from)
            .map_err(to_py)
    }

    /// The word least like the others.
    fn doesnt_match(&self, words: Vec<String>) -> PyResult<String> {
        query::doesnt_match(&self.emb, &strs(&words))
            .map(str::to_string)
            .map_err(to_py)
    }

    /// gensim's analogy benchmark. Returns a dict: `accuracy`, `correct`, `total`, `skipped`,
    /// `questions`, `sections` (names) and `answers` (per question: section index, asked,
    /// a, b, c, expected, predicted).
    #[pyo3(signature = (path, restrict_vocab=300_000, case_insensitive=true, dummy4unknown=false))]
    fn evaluate_analogies<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        restrict_vocab: usize,
        case_insensitive: bool,
        dummy4unknown: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let options = AnalogyOptions {
            restrict_vocab,
            case_insensitive,
            dummy4unknown,
        };
        let emb = &self.emb;
        let r = py
            .detach(|| evaluate_analogies(emb, &path, &options))
            .map_err(to_py)?;
        let d = PyDict::new(py);
        d.set_item("accuracy", r.accuracy)?;
        d.set_item("correct", r.correct)?;
        d.set_item("total", r.total)?;
        d.set_item("skipped", r.skipped)?;
        d.set_item("questions", r.questions)?;
        let names: Vec<&str> = r.sections.iter().map(|s| s.section.as_str()).collect();
        d.set_item("sections", names)?;
        let answers = PyList::empty(py);
        for ((section, asked), [a, b, c, e, p]) in r.answer_sections.iter().zip(&r.answers) {
            answers.append((section, asked, a, b, c, e, p))?;
        }
        d.set_item("answers", answers)?;
        Ok(d)
    }

    /// gensim's word-pair benchmark. Returns a dict: `pearson`, `spearman`, `oov_ratio`,
    /// `pairs`, `oov`.
    #[pyo3(signature = (path, delimiter='\t', restrict_vocab=300_000, case_insensitive=true, dummy4unknown=false))]
    fn evaluate_pairs<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        delimiter: char,
        restrict_vocab: usize,
        case_insensitive: bool,
        dummy4unknown: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let options = PairsOptions {
            delimiter,
            restrict_vocab,
            case_insensitive,
            dummy4unknown,
        };
        let emb = &self.emb;
        let r = py
            .detach(|| evaluate_pairs(emb, &path, &options))
            .map_err(to_py)?;
        let d = PyDict::new(py);
        d.set_item("pearson", r.pearson)?;
        d.set_item("spearman", r.spearman)?;
        d.set_item("oov_ratio", r.oov_ratio)?;
        d.set_item("pairs", r.pairs)?;
        d.set_item("oov", r.oov)?;
        Ok(d)
    }

    /// Writes the embeddings to `path` (atomically), in `format` or the one its extension names.
    #[pyo3(signature = (path, format=None))]
    fn save(&self, py: Python<'_>, path: PathBuf, format: Option<&str>) -> PyResult<()> {
        let emb = &self.emb;
        py.detach(|| {
            let format = match format {
                Some(f) => Format::from_name(f)?,
                None => io::output_format(&path, emb)?,
            };
            io::write(&path, emb, format)
        })
        .map_err(to_py)
    }
}

/// The version of the embers library compiled in.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _embers(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEmbeddings>()?;
    m.add_class::<sentence::PyStaticModel>()?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_word2vec, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_fasttext, m)?)?;
    m.add_function(wrap_pyfunction!(train::train_glove, m)?)?;
    Ok(())
}
