"""Type stubs of the compiled core (``embers._embers``); the public API is ``embers``."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

_Path = Union[str, PathLike[str]]
_Progress = Optional[Callable[[Dict[str, Any]], None]]

def version() -> str:
    """The version of the embers library compiled in."""

class Embeddings:
    """Vocabulary and rows (memory-mapped for native files); wrapped by ``KeyedVectors``."""

    @staticmethod
    def open(
        path: _Path,
        format: Optional[str] = None,
        limit: Optional[int] = None,
        lossy: bool = False,
        allow_nonfinite: bool = False,
        tensor: Optional[str] = None,
        vocab: Optional[_Path] = None,
    ) -> "Embeddings":
        """Opens a file in any format embers reads (sniffed unless ``format`` names it)."""
    @staticmethod
    def from_arrays(
        words: Sequence[str], vectors: npt.NDArray[np.float32], counts: Optional[Sequence[int]] = None
    ) -> "Embeddings":
        """Embeddings from words and a float32 matrix (copied)."""
    def __len__(self) -> int: ...
    def __contains__(self, word: str) -> bool: ...
    @property
    def dims(self) -> int:
        """Vector dimensionality."""
    @property
    def path(self) -> Optional[str]:
        """The file this was opened from."""
    @property
    def format(self) -> Optional[str]:
        """The format the file was read as."""
    @property
    def storage(self) -> str:
        """``f32``, ``f16``, ``int8``, ``pq`` or ``rq``."""
    @property
    def is_mapped(self) -> bool:
        """True when rows are read in place from a memory map."""
    @property
    def has_subwords(self) -> bool:
        """True for subword (fastText) models."""
    def metadata(self) -> List[Tuple[str, str]]:
        """The file's metadata."""
    def words(self) -> List[str]:
        """All words, in row order."""
    def key_to_index(self) -> Dict[str, int]:
        """Word → row."""
    def counts(self) -> List[int]:
        """Corpus counts in row order."""
    def index(self, word: str) -> Optional[int]:
        """Row of ``word``, or None."""
    def word(self, i: int) -> str:
        """Word of row ``i``."""
    def vector(self, word: str) -> npt.NDArray[np.float32]:
        """Vector of ``word`` (n-grams for unknown words of subword models); NotFound otherwise."""
    def row(self, i: int) -> npt.NDArray[np.float32]:
        """Row ``i`` (a copy)."""
    def vectors_of(self, words: Sequence[str]) -> npt.NDArray[np.float32]:
        """Rows of ``words`` as an (n, dims) array."""
    def matrix(self) -> npt.NDArray[np.float32]:
        """The matrix, read-only; a view in place for f32 rows, decoded otherwise."""
    def rows_address(self) -> Optional[Tuple[int, int]]:
        """Address and byte length of the f32 rows."""
    def norms(self) -> npt.NDArray[np.float32]:
        """Row norms."""
    def most_similar(
        self, positive: Sequence[str], negative: Sequence[str], topn: int, restrict_vocab: Optional[int] = None
    ) -> List[Tuple[str, float]]:
        """gensim's ``most_similar`` over words."""
    def similar_by_vector(
        self, vector: npt.NDArray[np.float32], topn: int, restrict_vocab: Optional[int] = None
    ) -> List[Tuple[str, float]]:
        """Nearest rows to ``vector``."""
    def cosines(self, vector: npt.NDArray[np.float32], limit: int) -> npt.NDArray[np.float32]:
        """Cosines of a unit vector with the first ``limit`` rows."""
    def mean_query(self, positive: Sequence[str], negative: Sequence[str]) -> npt.NDArray[np.float32]:
        """gensim's unit query vector for ``most_similar``."""
    def most_similar_cosmul(
        self, positive: Sequence[str], negative: Sequence[str], topn: int, restrict_vocab: Optional[int] = None
    ) -> List[Tuple[str, float]]:
        """gensim's 3CosMul."""
    def similarity(self, a: str, b: str) -> float:
        """Cosine of two words."""
    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word least like the others."""
    def evaluate_analogies(
        self, path: _Path, restrict_vocab: int = 300000, case_insensitive: bool = True, dummy4unknown: bool = False
    ) -> Dict[str, Any]:
        """gensim's analogy benchmark, raw."""
    def evaluate_pairs(
        self,
        path: _Path,
        delimiter: str = "\t",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> Dict[str, Any]:
        """gensim's word-pair benchmark, raw."""
    def save(self, path: _Path, format: Optional[str] = None) -> None:
        """Writes atomically in ``format`` or the one the extension names."""

def train_word2vec(corpus: Sequence[_Path], **kwargs: Any) -> Embeddings:
    """See ``embers.train_word2vec``."""

def train_fasttext(corpus: Sequence[_Path], **kwargs: Any) -> Embeddings:
    """See ``embers.train_fasttext``."""

def train_glove(corpus: Sequence[_Path], **kwargs: Any) -> Embeddings:
    """See ``embers.train_glove``."""

class StaticModel:
    """A static sentence model folder (model2vec, or sentence-transformers StaticEmbedding):
    ``encode`` answers as model2vec's ``StaticModel.encode``."""

    @staticmethod
    def from_pretrained(path: _Path, normalize: Optional[bool] = None) -> "StaticModel":
        """Loads a model folder; ``normalize`` overrides the config's."""
    @staticmethod
    def load(path: _Path, normalize: Optional[bool] = None) -> "StaticModel":
        """Same as ``from_pretrained``."""
    @overload
    def encode(self, sentences: str) -> npt.NDArray[np.float32]: ...
    @overload
    def encode(self, sentences: Sequence[str]) -> npt.NDArray[np.float32]:
        """float32 vectors: shape (len, dims) for a list, (dims,) for one string; all cores,
        the GIL released."""
    def tokenize(self, text: str) -> List[int]:
        """The token ids averaged for ``text``."""
    @property
    def dims(self) -> int:
        """Dimensions of the sentence vectors."""
    @property
    def normalize(self) -> bool:
        """Whether vectors are divided by their norm."""
    @property
    def max_length(self) -> Optional[int]:
        """Most tokens used per text (None: no limit)."""
    @property
    def rows(self) -> int:
        """Rows of the token table."""
    @property
    def vocab_size(self) -> int:
        """Size of the tokenizer's vocabulary."""
    @property
    def path(self) -> str:
        """The model folder."""
