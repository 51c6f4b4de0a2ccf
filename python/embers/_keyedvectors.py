"""``KeyedVectors``: gensim 4's ``KeyedVectors`` interface over embers' compiled core."""

from __future__ import annotations

import os
from typing import (
    Any,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np

from . import _embers
from ._errors import InvalidArgument, NotFound

PathLike = Union[str, "os.PathLike[str]"]
Key = Union[str, int]

_KNOWN_SUFFIXES = {".embers", ".safetensors", ".vec", ".txt", ".w2v", ".glove", ".npy", ".ftbin", ".bin"}


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (str, np.ndarray)):
        return [x]
    return list(x)


class KeyedVectors:
    """Word vectors with gensim 4's ``KeyedVectors`` interface, answered by embers' Rust core.

    Open a file with :func:`embers.load` (any format embers reads; native files are memory-mapped
    and :attr:`vectors` is then a read-only view of the map, nothing copied),
    :meth:`load_word2vec_format`, or build one with :meth:`from_arrays` / :meth:`from_gensim`.
    Queries give gensim's answers: cosine similarity, query words excluded, ties by row order.
    Long calls release the GIL.
    """

    __slots__ = ("_e", "_key_to_index", "_index_to_key", "__weakref__")

    def __init__(self, inner: "_embers.Embeddings") -> None:
        self._e = inner
        self._key_to_index: Optional[Dict[str, int]] = None
        self._index_to_key: Optional[List[str]] = None

    # --- opening and saving -------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: PathLike,
        mmap: Optional[str] = None,
        *,
        format: Optional[str] = None,
        limit: Optional[int] = None,
        lossy: bool = False,
        allow_nonfinite: bool = False,
        tensor: Optional[str] = None,
        vocab: Optional[PathLike] = None,
    ) -> "KeyedVectors":
        """Opens an embedding file in any format embers reads, sniffed from its content: native
        (``.embers``/``.safetensors``, memory-mapped), word2vec text and binary, GloVe text,
        fastText ``.bin`` (subwords kept) and ``.vec``, numpy ``.npy`` + ``.vocab.txt``, or one
        tensor of a safetensors checkpoint (``tensor=``). ``mmap`` is accepted for gensim
        compatibility: native files are always memory-mapped, other formats never.

        Raises :class:`FormatError` (with ``path`` and ``position``) for bad content and
        :class:`FileError` when the file cannot be read."""
        del mmap
        inner = _embers.Embeddings.open(
            os.fspath(path),
            format=format,
            limit=limit,
            lossy=lossy,
            allow_nonfinite=allow_nonfinite,
            tensor=tensor,
            vocab=None if vocab is None else os.fspath(vocab),
        )
        return cls(inner)

    @classmethod
    def load_word2vec_format(
        cls,
        fname: PathLike,
        fvocab: Optional[PathLike] = None,
        binary: bool = False,
        encoding: str = "utf8",
        unicode_errors: str = "strict",
        limit: Optional[int] = None,
        datatype: Any = np.float32,
        no_header: bool = False,
    ) -> "KeyedVectors":
        """gensim's ``load_word2vec_format``: word2vec text (``binary=False``) or binary, or with
        ``no_header=True`` GloVe text. ``unicode_errors`` other than ``"strict"`` replaces invalid
        UTF-8. Vectors are float32 whatever ``datatype`` says; ``fvocab`` is not supported."""
        if fvocab is not None:
            raise InvalidArgument("fvocab is not supported: counts come from the file")
        if encoding.lower().replace("-", "") not in ("utf8",):
            raise InvalidArgument(f"only UTF-8 files are read, not {encoding}")
        del datatype
        fmt = "glove" if no_header else ("word2vec-binary" if binary else "word2vec")
        return cls.load(fname, format=fmt, limit=limit, lossy=unicode_errors != "strict")

    @classmethod
    def from_arrays(
        cls,
        keys: Sequence[str],
        vectors: Any,
        counts: Optional[Sequence[int]] = None,
    ) -> "KeyedVectors":
        """Builds vectors from words and a (len(keys), dims) float array (copied as float32)."""
        arr = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if arr.ndim != 2:
            raise InvalidArgument(f"vectors must be a 2-D array, got {arr.ndim} dimensions")
        return cls(
            _embers.Embeddings.from_arrays(
                list(keys), arr, None if counts is None else [int(c) for c in counts]
            )
        )

    @classmethod
    def from_gensim(cls, kv: Any) -> "KeyedVectors":
        """Copies a gensim ``KeyedVectors`` (or a model's ``.wv``): keys, vectors and counts."""
        counts = None
        expandos = getattr(kv, "expandos", None) or {}
        if "count" in expandos:
            counts = [int(c) for c in expandos["count"]]
        return cls.from_arrays(list(kv.index_to_key), kv.vectors, counts)

    def to_gensim(self) -> Any:
        """A gensim ``KeyedVectors`` with the same keys, vectors (copied) and counts. Needs
        gensim installed."""
        from gensim.models import KeyedVectors as GensimKeyedVectors

        g = GensimKeyedVectors(self.vector_size, count=0, dtype=np.float32)
        g.add_vectors(self.index_to_key, np.array(self.vectors, dtype=np.float32))
        g.allocate_vecattrs(attrs=["count"], types=[np.int64])
        counts = self._e.counts()
        if len(counts) == len(self):  # files without counts have none
            g.expandos["count"][:] = np.asarray(counts, dtype=np.int64)
        return g

    def save(self, fname: PathLike, format: Optional[str] = None) -> None:
        """Writes the vectors atomically: in ``format`` (``native``, ``word2vec``,
        ``word2vec-binary``, ``glove``, ``fasttext``, ``npy``) or the one the file's extension
        names, the native memory-mapped format when the extension names none (gensim's
        ``.kv`` files, for example). Read it back with :func:`embers.load`."""
        path = os.fspath(fname)
        if format is None and os.path.splitext(path)[1].lower() not in _KNOWN_SUFFIXES:
            format = "native"
        self._e.save(path, format)

    def save_word2vec_format(self, fname: PathLike, binary: bool = False) -> None:
        """Writes word2vec text (or binary with ``binary=True``), as gensim does."""
        self._e.save(os.fspath(fname), "word2vec-binary" if binary else "word2vec")

    def to_parquet(self, fname: PathLike, row_group_size: int = 65_536) -> None:
        """Writes a Parquet file with columns ``word`` (string) and ``vector`` (fixed-size list of
        float32), for Milvus bulk insert, Spark, LanceDB or pyarrow. Needs ``pyarrow``; the
        vectors go to it without a copy (a view of the memory map for native files). Written to a
        temporary file beside ``fname`` and renamed, so a failed write leaves nothing."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = os.fspath(fname)
        flat = pa.array(self.vectors.reshape(-1), type=pa.float32())
        table = pa.table({
            "word": pa.array(self.index_to_key, type=pa.string()),
            "vector": pa.FixedSizeListArray.from_arrays(flat, self.vector_size),
        })
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            pq.write_table(table, tmp, row_group_size=row_group_size)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def to_milvus(
        self,
        uri: str,
        collection: str,
        *,
        index: str = "hnsw",
        batch: int = 10_000,
        drop_existing: bool = False,
        token: Optional[str] = None,
        progress: Any = None,
    ) -> Dict[str, Any]:
        """Exports to a Milvus collection (needs ``pymilvus``; ``uri="./x.db"`` is Milvus Lite):
        see :func:`embers.milvus.export`. Returns a report with ``rows``, ``seconds`` and
        ``rows_per_second``."""
        from .milvus import export

        return export(
            self,
            uri,
            collection,
            index=index,
            batch=batch,
            drop_existing=drop_existing,
            token=token,
            progress=progress,
        )

    # --- the vocabulary and the matrix --------------------------------------------------------

    def __len__(self) -> int:
        return len(self._e)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._e

    def __repr__(self) -> str:
        where = f" from {self._e.path}" if self._e.path else ""
        return f"<embers.KeyedVectors {len(self)} x {self.vector_size} {self._e.storage}{where}>"

    @property
    def vector_size(self) -> int:
        """Dimensionality of the vectors."""
        return self._e.dims

    @property
    def path(self) -> Optional[str]:
        """The file these vectors were opened from, or None."""
        p = self._e.path
        return None if p is None else os.fspath(p)

    @property
    def is_mapped(self) -> bool:
        """True when the rows are read in place from the file's memory map (native files)."""
        return self._e.is_mapped

    @property
    def vectors(self) -> np.ndarray:
        """The (rows, dims) float32 matrix, read-only. For f32 rows it is a view of them where
        they are: for a native file, the file's memory map (no copy; pages are read as touched).
        Compressed files (f16, int8, pq, rq) are decoded into a new array at each access."""
        return self._e.matrix()

    @property
    def index_to_key(self) -> List[str]:
        """The words, in row order (built once, on first use)."""
        if self._index_to_key is None:
            self._index_to_key = self._e.words()
        return self._index_to_key

    @property
    def key_to_index(self) -> Dict[str, int]:
        """Word → row (built once, on first use)."""
        if self._key_to_index is None:
            self._key_to_index = self._e.key_to_index()
        return self._key_to_index

    @property
    def norms(self) -> np.ndarray:
        """L2 norm of each row (float32)."""
        return self._e.norms()

    def fill_norms(self, force: bool = False) -> None:
        """No-op kept for gensim compatibility: norms are computed once, when first needed."""

    def get_normed_vectors(self) -> np.ndarray:
        """A new array: every row scaled to unit length (zero rows stay zero)."""
        n = self.norms
        safe = np.where(n > 0, n, 1.0).astype(np.float32)
        return self.vectors / safe[:, None]

    def has_index_for(self, key: Key) -> bool:
        """True when ``key`` has a row."""
        return self.get_index(key, -1) >= 0

    def get_index(self, key: Key, default: Optional[int] = None) -> int:
        """The row of ``key`` (a word, or an int row); ``default`` if given, else KeyError."""
        if isinstance(key, (int, np.integer)) and 0 <= int(key) < len(self):
            return int(key)
        if isinstance(key, str):
            i = self._e.index(key)
            if i is not None:
                return i
        if default is not None:
            return default
        raise NotFound(f"Key '{key}' not present", [str(key)])

    def get_vecattr(self, key: Key, attr: str) -> Any:
        """Per-word attribute; ``count`` (the corpus count) is the one embers keeps."""
        if attr != "count":
            raise NotFound(f"attribute {attr!r} not present (only 'count')", [attr])
        counts = self._e.counts()
        i = self.get_index(key)
        return counts[i] if len(counts) == len(self) else 0

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        """The vector of ``key`` (a copy): its row, or for a subword (fastText) model the vector
        of its character n-grams. ``norm=True`` scales it to unit length. Unknown words raise
        :class:`NotFound` (a ``KeyError``)."""
        if isinstance(key, (int, np.integer)):
            v = self._e.row(int(key))
        else:
            v = self._e.vector(key)
        if norm:
            n = float(np.linalg.norm(v))
            if n > 0:
                v = v / np.float32(n)
        return v

    word_vec = get_vector

    def get_mean_vector(
        self,
        keys: Iterable[Any],
        weights: Optional[Sequence[float]] = None,
        pre_normalize: bool = True,
        post_normalize: bool = False,
        ignore_missing: bool = True,
    ) -> np.ndarray:
        """gensim's ``get_mean_vector``: the weighted mean of the keys' vectors (unit vectors with
        ``pre_normalize``); arrays among ``keys`` are used as they are."""
        keys = list(keys)
        if not keys:
            raise InvalidArgument("cannot compute a mean of no keys")
        w = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        mean = np.zeros(self.vector_size, dtype=np.float32)
        total = 0.0
        for k, wk in zip(keys, w):
            if isinstance(k, np.ndarray):
                mean += np.float32(wk) * k.astype(np.float32)
                total += abs(wk)
            elif k in self or self._e.has_subwords:
                try:
                    v = self.get_vector(k, norm=pre_normalize)
                except KeyError:
                    if not ignore_missing:
                        raise
                    continue
                mean += np.float32(wk) * v
                total += abs(wk)
            elif not ignore_missing:
                raise NotFound(f"Key '{k}' not present", [str(k)])
        if total > 0:
            mean = mean / np.float32(total)
        if post_normalize:
            n = float(np.linalg.norm(mean))
            if n > 0:
                mean = mean / np.float32(n)
        return mean.astype(np.float32)

    def __getitem__(self, key_or_keys: Union[Key, Sequence[Key]]) -> np.ndarray:
        """``kv["king"]`` → its vector; ``kv[["king", "queen"]]`` → a (2, dims) array."""
        if isinstance(key_or_keys, (str, int, np.integer)):
            return self.get_vector(key_or_keys)
        keys = list(key_or_keys)
        if all(isinstance(k, str) for k in keys):
            return self._e.vectors_of(keys)
        return np.vstack([self.get_vector(k) for k in keys]) if keys else np.zeros(
            (0, self.vector_size), dtype=np.float32
        )

    # --- queries -------------------------------------------------------------------------------

    def most_similar(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: Optional[int] = 10,
        clip_start: int = 0,
        clip_end: Optional[int] = None,
        restrict_vocab: Optional[int] = None,
        indexer: Any = None,
    ) -> Any:
        """gensim's ``most_similar``: the ``topn`` words nearest (by cosine) to the mean of the
        unit vectors of ``positive`` minus ``negative``, query words excluded, among the first
        ``restrict_vocab`` rows. Entries may be words, ``(word, weight)`` pairs or vectors.
        ``topn=None`` returns the array of all cosines. Returns ``[(word, score), ...]``."""
        if indexer is not None:
            raise InvalidArgument("indexer is not supported (embers has its own HNSW index)")
        if isinstance(topn, int) and topn < 1:
            return []
        positive = _as_list(positive)
        negative = _as_list(negative)
        limit = len(self) if clip_end is None else min(int(clip_end), len(self))
        if restrict_vocab is not None:
            clip_start, limit = 0, min(int(restrict_vocab), len(self))
        plain = all(isinstance(k, str) for k in positive + negative)
        if plain and topn is not None and clip_start == 0:
            if limit < 1:
                raise InvalidArgument("restrict_vocab must be at least 1")
            return self._e.most_similar(
                positive, negative, min(int(topn), len(self)), limit
            )
        keys: List[Any] = []
        weights = [1.0] * len(positive) + [-1.0] * len(negative)
        for i, item in enumerate(positive + negative):
            if isinstance(item, (str, np.ndarray)):
                keys.append(item)
            else:
                keys.append(item[0])
                weights[i] = float(item[1])
        mean = self.get_mean_vector(keys, weights, pre_normalize=True, post_normalize=True, ignore_missing=False)
        exclude = {self.get_index(k) for k in keys if isinstance(k, str) and k in self}
        cos = self._e.cosines(mean, limit)[clip_start:]
        if topn is None:
            return cos
        order = np.lexsort((np.arange(len(cos)), -cos))
        out = []
        for i in order:
            if int(i) + clip_start in exclude:
                continue
            out.append((self.index_to_key[int(i) + clip_start], float(cos[i])))
            if len(out) == topn:
                break
        return out

    def similar_by_word(self, word: str, topn: Optional[int] = 10, restrict_vocab: Optional[int] = None) -> Any:
        """``most_similar(positive=[word])``."""
        return self.most_similar(positive=[word], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_key = similar_by_word

    def similar_by_vector(self, vector: Any, topn: Optional[int] = 10, restrict_vocab: Optional[int] = None) -> Any:
        """The ``topn`` words nearest to ``vector`` by cosine (nothing excluded)."""
        v = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1))
        if topn is None:
            n = float(np.linalg.norm(v))
            return self._e.cosines(v / np.float32(n) if n > 0 else v, restrict_vocab or len(self))
        if topn < 1:
            return []
        return self._e.similar_by_vector(v, min(int(topn), len(self)), restrict_vocab)

    def most_similar_cosmul(
        self,
        positive: Any = None,
        negative: Any = None,
        topn: int = 10,
        restrict_vocab: Optional[int] = None,
    ) -> List[Tuple[str, float]]:
        """gensim's ``most_similar_cosmul`` (3CosMul, Levy & Goldberg 2014) over words. Unlike
        gensim 4.4, which ignores it here, ``restrict_vocab`` limits the rows searched."""
        if isinstance(topn, int) and topn < 1:
            return []
        positive = _as_list(positive)
        negative = _as_list(negative)
        if not all(isinstance(k, str) for k in positive + negative):
            raise InvalidArgument("most_similar_cosmul takes words")
        return self._e.most_similar_cosmul(positive, negative, min(int(topn), len(self)), restrict_vocab)

    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words."""
        return self._e.similarity(w1, w2)

    def distance(self, w1: str, w2: str) -> float:
        """``1 - similarity(w1, w2)``."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1: Sequence[str], ws2: Sequence[str]) -> float:
        """Cosine of the means of two word lists' vectors (gensim's ``n_similarity``)."""
        if not len(ws1) or not len(ws2):
            raise ZeroDivisionError("At least one of the passed list is empty.")
        a = self[list(ws1)].mean(axis=0)
        b = self[list(ws2)].mean(axis=0)
        return float(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word least like the others (words not in the vocabulary are ignored, as gensim
        does; ValueError when none is left)."""
        used = [w for w in words if w in self]
        if not used:
            raise InvalidArgument("cannot select a word from an empty list")
        return self._e.doesnt_match(used)

    def rank(self, key1: str, key2: str) -> int:
        """Rank of ``key2`` among the neighbours of ``key1`` (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def closer_than(self, key1: str, key2: str) -> List[str]:
        """Words closer to ``key1`` than ``key2`` is."""
        all_cos = self.most_similar(positive=[key1], topn=None)
        i1, i2 = self.get_index(key1), self.get_index(key2)
        closer = np.nonzero(all_cos > all_cos[i2])[0]
        return [self.index_to_key[int(i)] for i in closer if int(i) != i1]

    # --- evaluation ------------------------------------------------------------------------------

    def evaluate_word_analogies(
        self,
        analogies: PathLike,
        restrict_vocab: int = 300_000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
        similarity_function: str = "most_similar",
    ) -> Tuple[float, List[Dict[str, Any]]]:
        """gensim's ``evaluate_word_analogies`` (e.g. on ``questions-words.txt``), same protocol
        and same return value: ``(accuracy, sections)``, each section a dict with ``section``,
        ``correct`` and ``incorrect`` (lists of ``(a, b, c, expected)``), the last one
        ``"Total accuracy"``. All questions are answered in one batched pass."""
        if similarity_function != "most_similar":
            raise InvalidArgument("only similarity_function='most_similar' is supported")
        r = self._e.evaluate_analogies(os.fspath(analogies), int(restrict_vocab), case_insensitive, dummy4unknown)
        sections: List[Dict[str, Any]] = [
            {"section": name, "correct": [], "incorrect": []} for name in r["sections"]
        ]
        for section, asked, a, b, c, expected, predicted in r["answers"]:
            if not asked:
                if dummy4unknown:
                    sections[section]["incorrect"].append((a, b, c, expected))
                continue
            key = "correct" if predicted == expected else "incorrect"
            sections[section][key].append((a, b, c, expected))
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        sections.append(total)
        return float(r["accuracy"]), sections

    def evaluate_word_pairs(
        self,
        pairs: PathLike,
        delimiter: str = "\t",
        encoding: str = "utf8",
        restrict_vocab: int = 300_000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> Tuple[Tuple[float, float], Tuple[float, float], float]:
        """gensim's ``evaluate_word_pairs`` (e.g. on WordSim-353 or SimLex-999), same protocol
        and return shape: ``((pearson, p), (spearman, p), oov_ratio)``; p-values two-sided, as
        scipy computes them."""
        del encoding
        r = self._e.evaluate_pairs(os.fspath(pairs), delimiter, int(restrict_vocab), case_insensitive, dummy4unknown)
        from ._stats import correlation_pvalue

        n = int(r["pairs"])
        pearson = (float(r["pearson"]), correlation_pvalue(r["pearson"], n))
        spearman = (float(r["spearman"]), correlation_pvalue(r["spearman"], n))
        return pearson, spearman, float(r["oov_ratio"])
