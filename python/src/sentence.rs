//! `embers.StaticModel`: static sentence models (model2vec / sentence-transformers
//! StaticEmbedding folders) encoding as model2vec's `StaticModel.encode`, through the library's
//! `embers::sentence::StaticModel`.

use std::path::PathBuf;

use embers::sentence::StaticModel;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::errors::to_py;

/// A static sentence model: a token table, a tokenizer and mean pooling, answering as
/// model2vec's `StaticModel` (`from_pretrained(path).encode(texts)`).
#[pyclass(module = "embers._embers", name = "StaticModel", frozen)]
pub struct PyStaticModel {
    model: StaticModel,
}

#[pymethods]
impl PyStaticModel {
    /// Loads a model folder (config.json, model.safetensors or 0_StaticEmbedding/, tokenizer.json)
    /// as model2vec's `StaticModel.from_pretrained` does; `normalize` overrides the config's.
    #[staticmethod]
    #[pyo3(signature = (path, normalize=None))]
    fn from_pretrained(py: Python<'_>, path: PathBuf, normalize: Option<bool>) -> PyResult<Self> {
        let mut model = py.detach(|| StaticModel::load(&path)).map_err(to_py)?;
        if let Some(n) = normalize {
            model.set_normalize(n);
        }
        Ok(PyStaticModel { model })
    }

    /// Same as `from_pretrained`.
    #[staticmethod]
    #[pyo3(signature = (path, normalize=None))]
    fn load(py: Python<'_>, path: PathBuf, normalize: Option<bool>) -> PyResult<Self> {
        Self::from_pretrained(py, path, normalize)
    }

    /// The vectors of `sentences`: a list of strings gives a float32 array (len, dims), one
    /// string a float32 vector (dims,). Runs on all cores with the GIL released.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        sentences: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if sentences.is_instance_of::<PyString>() {
            let text: String = sentences.extract()?;
            let v = py.detach(|| self.model.encode_one(&text)).map_err(to_py)?;
            return Ok(PyArray1::from_vec(py, v).into_any());
        }
        let texts: Vec<String> = sentences.extract().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err("encode takes a string or a list of strings")
        })?;
        let dims = self.model.dims();
        let m = py
            .detach(|| {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                self.model.encode(&refs)
            })
            .map_err(to_py)?;
        let arr = numpy::ndarray::Array2::from_shape_vec((m.rows(), dims), m.into_vec())
            .map_err(|e| to_py(embers::Error::Other(e.to_string())))?;
        Ok(PyArray2::from_owned_array(py, arr).into_any())
    }

    /// Token ids of `text` as the model averages them (special tokens and unknown tokens left
    /// out, cut to `max_length`).
    fn tokenize(&self, text: &str) -> PyResult<Vec<u32>> {
        self.model.tokenize(text).map_err(to_py)
    }

    /// Dimensions of the sentence vectors.
    #[getter]
    fn dims(&self) -> usize {
        self.model.dims()
    }

    /// Whether sentence vectors are divided by their norm.
    #[getter]
    fn normalize(&self) -> bool {
        self.model.normalize()
    }

    /// Most tokens used per text (None: no limit).
    #[getter]
    fn max_length(&self) -> Option<usize> {
        self.model.max_length()
    }

    /// Rows of the token table.
    #[getter]
    fn rows(&self) -> usize {
        self.model.rows()
    }

    /// Size of the tokenizer's vocabulary.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.model.vocab_size()
    }

    /// The model folder.
    #[getter]
    fn path(&self) -> PathBuf {
        self.model.path().to_path_buf()
    }

    fn __repr__(&self) -> String {
        format!(
            "StaticModel({:?}, dims={}, normalize={})",
            self.model.path().display().to_string(),
            self.model.dims(),
            self.model.normalize()
        )
    }
}
