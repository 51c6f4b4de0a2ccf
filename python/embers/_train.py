"""Training from Python: word2vec, fastText and GloVe, returning :class:`KeyedVectors`."""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from . import _embers
from ._keyedvectors import KeyedVectors

Corpus = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]], Iterable[Sequence[str]]]
ProgressCallback = Callable[[Dict[str, Any]], None]


class _CorpusFiles:
    """The corpus as a list of files: paths as given, or sentences (lists of tokens) written to
    a temporary file, one sentence a line, removed afterwards."""

    def __init__(self, corpus: Corpus) -> None:
        self.tmp: Optional[str] = None
        if isinstance(corpus, (str, os.PathLike)):
            self.paths: List[str] = [os.fspath(corpus)]
            return
        items = list(corpus)
        if items and all(isinstance(x, (str, os.PathLike)) for x in items):
            self.paths = [os.fspath(x) for x in items]
            return
        fd, self.tmp = tempfile.mkstemp(prefix="embers-corpus-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for sentence in items:
                if isinstance(sentence, str):
                    raise TypeError("a corpus is file paths or sentences given as lists of tokens")
                f.write(" ".join(sentence))
                f.write("\n")
        self.paths = [self.tmp]

    def __enter__(self) -> List[str]:
        return self.paths

    def __exit__(self, *exc: Any) -> None:
        if self.tmp is not None:
            os.unlink(self.tmp)


def train_word2vec(
    corpus: Corpus,
    *,
    model: str = "sg",
    cbow_mean: bool = True,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    hs: bool = False,
    sample: float = 1e-3,
    min_count: int = 5,
    max_vocab: Optional[int] = None,
    epochs: int = 5,
    alpha: Optional[float] = None,
    min_alpha: Optional[float] = None,
    threads: int = 0,
    seed: int = 1,
    shared_negatives: bool = False,
    lr_decay: str = "lines",
    lowercase: bool = False,
    punctuation: str = "keep",
    progress: Optional[ProgressCallback] = None,
) -> KeyedVectors:
    """Trains word2vec (``model="sg"`` skip-gram or ``"cbow"``; negative sampling, or
    hierarchical softmax with ``hs=True``) and returns the word vectors.

    ``corpus`` is a file path (plain or ``.gz``, one sentence a line), a list of paths, or an
    iterable of sentences given as lists of tokens. Defaults are word2vec's and gensim's.
    The learning rate falls linearly from ``alpha`` to ``min_alpha``
    (default ``alpha * 1e-4``, word2vec C's floor; gensim's is ``0.0001``), with the lines
    (sentences) read, as gensim's does, or with ``lr_decay="words"`` with the words trained, as
    word2vec C's does.
    ``threads=0`` uses all cores; with ``threads=1`` and a fixed ``seed`` the result is the same
    on every run. ``progress`` is called with dicts (``stage``, ``done``, ``total``, ``unit``,
    ``epoch``, ``learning_rate``, ``loss``, ``rate``) a few times a second, on the calling
    thread; an exception it raises stops training and is re-raised. Ctrl-C stops training with
    ``KeyboardInterrupt``. The GIL is released while training."""
    with _CorpusFiles(corpus) as paths:
        return KeyedVectors(
            _embers.train_word2vec(
                paths, model=model, cbow_mean=cbow_mean, dim=dim, window=window,
                negative=negative, hs=hs, sample=sample, min_count=min_count,
                max_vocab=max_vocab, epochs=epochs, alpha=alpha, min_alpha=min_alpha,
                threads=threads, seed=seed,
                shared_negatives=shared_negatives, lr_decay=lr_decay, lowercase=lowercase,
                punctuation=punctuation, progress=progress,
            )
        )


def train_fasttext(
    corpus: Corpus,
    *,
    model: str = "sg",
    cbow_mean: bool = True,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    hs: bool = False,
    sample: float = 1e-4,
    min_count: int = 5,
    max_vocab: Optional[int] = None,
    epochs: int = 5,
    alpha: Optional[float] = 0.05,
    min_alpha: Optional[float] = None,
    threads: int = 0,
    seed: int = 1,
    minn: int = 3,
    maxn: int = 6,
    bucket: int = 2_000_000,
    lowercase: bool = False,
    punctuation: str = "keep",
    progress: Optional[ProgressCallback] = None,
) -> KeyedVectors:
    """Trains fastText-style subword vectors (a word is the mean of its row and its character
    n-gram rows, ``minn``..``maxn`` characters hashed into ``bucket`` rows). The result gives
    vectors for unseen words too (``kv["unseenword"]``). Corpus, threads, ``progress`` and
    Ctrl-C as in :func:`train_word2vec`; defaults are fastText's."""
    with _CorpusFiles(corpus) as paths:
        return KeyedVectors(
            _embers.train_fasttext(
                paths, model=model, cbow_mean=cbow_mean, dim=dim, window=window,
                negative=negative, hs=hs, sample=sample, min_count=min_count,
                max_vocab=max_vocab, epochs=epochs, alpha=alpha, min_alpha=min_alpha,
                threads=threads, seed=seed,
                minn=minn, maxn=maxn, bucket=bucket, lowercase=lowercase,
                punctuation=punctuation, progress=progress,
            )
        )


def train_glove(
    corpus: Corpus,
    *,
    dim: int = 100,
    window: int = 15,
    min_count: int = 5,
    max_vocab: Optional[int] = None,
    x_max: float = 100.0,
    alpha: float = 0.75,
    iter: int = 15,
    eta: float = 0.05,
    threads: int = 0,
    seed: int = 1,
    memory: int = 1 << 30,
    symmetric: bool = True,
    vectors: str = "word+context",
    temp_dir: Optional[str] = None,
    lowercase: bool = False,
    punctuation: str = "keep",
    progress: Optional[ProgressCallback] = None,
) -> KeyedVectors:
    """Trains GloVe: vocabulary (``min_count``, ``max_vocab``), distance-weighted
    co-occurrences within ``window`` (spilled to ``temp_dir`` beyond ``memory`` bytes), then
    AdaGrad for ``iter`` passes; returns ``W + W~`` (or ``W`` with ``vectors="word"``).
    Defaults are Stanford GloVe's. ``progress`` and Ctrl-C as in :func:`train_word2vec`; the
    event that ends an iteration carries its mean cost as ``loss``."""
    with _CorpusFiles(corpus) as paths:
        return KeyedVectors(
            _embers.train_glove(
                paths, dim=dim, window=window, min_count=min_count, max_vocab=max_vocab,
                x_max=x_max, alpha=alpha, iter=iter, eta=eta, threads=threads, seed=seed,
                memory=memory, symmetric=symmetric, vectors=vectors, temp_dir=temp_dir,
                lowercase=lowercase, punctuation=punctuation, progress=progress,
            )
        )
