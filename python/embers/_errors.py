"""The exceptions embers raises. Every one is an :class:`EmbersError`; each also derives from the
built-in exception a Python user would catch for the same failure (``ValueError``, ``KeyError``,
``OSError``), so code written for gensim keeps working."""

from __future__ import annotations

from typing import Optional, Sequence


class EmbersError(Exception):
    """Base class of every embers error.

    Attributes:
        path: the file the error is about, or None.
        position: where in the file, as text (``"line 3"``, ``"byte 24"``, ``"field \\`vocab\\`"``),
            or None.
        line, byte, field: the same position as a number (1-based line, 0-based byte offset) or a
            field name; only the one that applies is set, the others are None.
    """

    def __init__(
        self,
        message: str,
        path: Optional[str] = None,
        position_kind: Optional[str] = None,
        position_value: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line: Optional[int] = None
        self.byte: Optional[int] = None
        self.field: Optional[str] = None
        self.position: Optional[str] = None
        if position_kind == "line" and position_value is not None:
            self.line = int(position_value)
            self.position = f"line {self.line}"
        elif position_kind == "byte" and position_value is not None:
            self.byte = int(position_value)
            self.position = f"byte {self.byte}"
        elif position_kind == "field" and position_value is not None:
            self.field = position_value
            self.position = f"field `{position_value}`"

    def __str__(self) -> str:
        return self.message


class FormatError(EmbersError, ValueError):
    """A file's content is not what its format requires (truncated, wrong header, invalid UTF-8,
    NaN, sizes that do not add up, ...). ``path`` and ``position`` say where."""


class NotFound(EmbersError, KeyError):
    """A word is not in the vocabulary (``words`` lists every unknown one). Derives from
    ``KeyError``, as gensim's ``KeyedVectors`` raises for an unknown key."""

    def __init__(self, message: str, words: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.words = list(words)

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return self.message


class FileError(EmbersError, OSError):
    """A file could not be opened, read or written (``path`` names it)."""


class MissingFileError(FileError, FileNotFoundError):
    """The file does not exist."""


class InvalidArgument(EmbersError, ValueError):
    """An argument cannot be used (zero dimensions, ``topn`` out of range, wrong vector length)."""


class Cancelled(EmbersError):
    """A long job was cancelled."""


def _from_rust(
    kind: str,
    message: str,
    path: Optional[str],
    position_kind: Optional[str],
    position_value: Optional[str],
    words: Sequence[str],
) -> EmbersError:
    """Builds the exception for an error of the compiled library (called from Rust)."""
    if kind == "format":
        return FormatError(message, path, position_kind, position_value)
    if kind == "unknown":
        return NotFound(message, words)
    if kind == "missing":
        e: EmbersError = MissingFileError(message, path)
        e.errno = 2  # type: ignore[attr-defined]
        e.filename = path  # type: ignore[attr-defined]
        return e
    if kind == "io":
        e = FileError(message, path)
        e.filename = path  # type: ignore[attr-defined]
        return e
    if kind == "invalid":
        return InvalidArgument(message)
    if kind == "cancelled":
        return Cancelled(message)
    return EmbersError(message, path)
