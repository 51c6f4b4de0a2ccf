//! Library errors as Python exceptions: the classes live in `embers/_errors.py` (so they can
//! inherit from both `EmbersError` and the built-in a Python user expects: `ValueError`,
//! `KeyError`, `OSError`); this builds an instance with the file and position filled in.

use embers::{Error, Position};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Turns a library error into the matching `embers` exception.
pub fn to_py(e: Error) -> PyErr {
    Python::attach(|py| build(py, &e).unwrap_or_else(|err| err))
}

fn build(py: Python<'_>, e: &Error) -> PyResult<PyErr> {
    let module = py.import("embers._errors")?;
    let make = module.getattr("_from_rust")?;
    let message = e.to_string();
    let (kind, path, position, words): (&str, Option<String>, Option<(&str, String)>, Vec<String>) =
        match e {
            Error::Io { path, source } => {
                let kind = if source.kind() == std::io::ErrorKind::NotFound {
                    "missing"
                } else {
                    "io"
                };
                (kind, Some(path.display().to_string()), None, vec![])
            }
            Error::Format { path, position, .. } => {
                let pos = match position {
                    Position::Line(l) => ("line", l.to_string()),
                    Position::Byte(b) => ("byte", b.to_string()),
                    Position::Field(f) => ("field", f.clone()),
                };
                (
                    "format",
                    Some(path.display().to_string()),
                    Some(pos),
                    vec![],
                )
            }
            Error::UnknownTokens(words) => ("unknown", None, None, words.clone()),
            Error::InvalidArgument { .. } | Error::Shape { .. } => ("invalid", None, None, vec![]),
            Error::Cancelled => ("cancelled", None, None, vec![]),
            _ => ("other", None, None, vec![]),
        };
    let (pos_kind, pos_value) = match position {
        Some((k, v)) => (Some(k), Some(v)),
        None => (None, None),
    };
    let value = make.call1((kind, message, path, pos_kind, pos_value, words))?;
    Ok(PyErr::from_value(value))
}

/// An error for a panic caught in a worker thread (a bug; never expected).
pub fn internal(what: &str) -> PyErr {
    PyRuntimeError::new_err(format!("embers: internal error in {what}"))
}
