"""Shared fixtures of the Python suite. Third-party data comes from $EMBERS_TESTDATA (set by
scripts/test-env.sh); a missing file fails the test that needs it, nothing is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def testdata(sub: str) -> Path:
    root = os.environ.get("EMBERS_TESTDATA")
    base = Path(root) if root else Path(__file__).resolve().parents[2] / "testdata-fetched"
    p = base / sub
    if not p.exists():
        raise FileNotFoundError(f"test data {p} is missing: run scripts/test-env.sh (it fetches it)")
    return p


@pytest.fixture(scope="session")
def gensim_data() -> Path:
    return testdata("gensim")


@pytest.fixture(scope="session")
def lee_model(tmp_path_factory, gensim_data):
    """A small word2vec model trained by embers on gensim's Lee corpus (one thread, seeded),
    saved as word2vec text so gensim reads the very same rows."""
    import embers

    kv = embers.train_word2vec(
        gensim_data / "lee_background.cor", dim=50, epochs=20, min_count=3, threads=1, seed=7
    )
    path = tmp_path_factory.mktemp("lee") / "lee.vec"
    kv.save_word2vec_format(path)
    return kv, path
