//! The one error type of the library: every failure names what went wrong and where.

use std::path::{Path, PathBuf};

/// Where in an input a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number in a text input.
    Line(u64),
    /// 0-based byte offset in a binary input.
    Byte(u64),
    /// A named field or tensor (for structured inputs such as JSON or safetensors headers).
    Field(String),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(l) => write!(f, "line {l}"),
            Position::Byte(b) => write!(f, "byte {b}"),
            Position::Field(name) => write!(f, "field `{name}`"),
        }
    }
}

/// Errors returned by embers. Nothing in the library panics on bad input; it returns one of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error while touching a file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The content of a file is not what its format requires.
    #[error("{path}: {position}: {message}")]
    Format {
        path: PathBuf,
        position: Position,
        message: String,
    },
    /// A caller passed an argument that cannot be used (zero dims, an id out of range, ...).
    #[error("invalid argument `{name}`: {message}")]
    InvalidArgument { name: String, message: String },
    /// Shapes of tensors or vectors do not agree.
    #[error("shape mismatch for {what}: expected {expected}, got {got}")]
    Shape {
        what: String,
        expected: String,
        got: String,
    },
    /// A token was not found and no fallback was requested.
    #[error("unknown token{}: {}", if .0.len() == 1 { "" } else { "s" }, .0.join(", "))]
    UnknownTokens(Vec<String>),
    /// The operation was cancelled by the caller (for example Ctrl-C during training).
    #[error("cancelled")]
    Cancelled,
    /// Anything else, with a message that says what.
    #[error("{0}")]
    Other(String),
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// A format error on `path` at `position`.
    pub fn format(path: impl AsRef<Path>, position: Position, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            position,
            message: message.into(),
        }
    }

    /// A format error at a 1-based line.
    pub fn at_line(path: impl AsRef<Path>, line: u64, message: impl Into<String>) -> Self {
        Self::format(path, Position::Line(line), message)
    }

    /// A format error at a byte offset.
    pub fn at_byte(path: impl AsRef<Path>, byte: u64, message: impl Into<String>) -> Self {
        Self::format(path, Position::Byte(byte), message)
    }

    /// A format error in a named field.
    pub fn at_field(
        path: impl AsRef<Path>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::format(path, Position::Field(field.into()), message)
    }

    /// An invalid argument.
    pub fn invalid(name: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidArgument {
            name: name.into(),
            message: message.into(),
        }
    }

    /// A shape mismatch.
    pub fn shape(
        what: impl Into<String>,
        expected: impl std::fmt::Display,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::Shape {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }
}
