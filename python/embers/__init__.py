"""embers: word embeddings from Rust, with gensim's interface.

>>> import embers
>>> kv = embers.load("glove.6B.50d.embers")        # any format; native files are memory-mapped
>>> kv.most_similar("king", topn=3)                 # gensim's answers
>>> kv.vectors                                      # read-only view of the map, nothing copied
>>> kv.evaluate_word_analogies("questions-words.txt")
>>> wv = embers.train_word2vec("corpus.txt.gz", dim=100, progress=print)
>>> m = embers.StaticModel.from_pretrained("potion-base-8M")   # model2vec's answers
>>> m.encode(["How old are you?", "How are you?"])            # float32 array (2, dims)

Everything heavy runs in Rust with the GIL released. Errors are :class:`EmbersError`
subclasses naming the file and the line, byte or field.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from . import _embers
from ._errors import (
    Cancelled,
    EmbersError,
    FileError,
    FormatError,
    InvalidArgument,
    MissingFileError,
    NotFound,
)
from ._keyedvectors import KeyedVectors
from ._embers import StaticModel
from ._train import train_fasttext, train_glove, train_word2vec

__version__ = _embers.version()

__all__ = [
    "KeyedVectors",
    "StaticModel",
    "load",
    "train_word2vec",
    "train_fasttext",
    "train_glove",
    "EmbersError",
    "FormatError",
    "NotFound",
    "FileError",
    "MissingFileError",
    "InvalidArgument",
    "Cancelled",
]


def load(
    path: Union[str, "os.PathLike[str]"],
    *,
    format: Optional[str] = None,
    limit: Optional[int] = None,
    lossy: bool = False,
    allow_nonfinite: bool = False,
    tensor: Optional[str] = None,
    vocab: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> KeyedVectors:
    """Opens an embedding file in any format embers reads, the format sniffed from the content
    (or named by ``format``: ``native``, ``word2vec``, ``word2vec-binary``, ``glove``,
    ``fasttext``, ``npy``, ``safetensors``). Native files (``.embers``/``.safetensors`` written
    by embers) are memory-mapped: opening reads only the header and vocabulary, and
    ``kv.vectors`` is a view of the map. ``limit`` keeps the first rows; ``lossy`` replaces
    invalid UTF-8; ``allow_nonfinite`` accepts NaN/inf; ``tensor`` and ``vocab`` pick the matrix
    and vocabulary of a Hugging Face checkpoint. See :meth:`KeyedVectors.load`."""
    return KeyedVectors.load(
        path,
        format=format,
        limit=limit,
        lossy=lossy,
        allow_nonfinite=allow_nonfinite,
        tensor=tensor,
        vocab=vocab,
    )
