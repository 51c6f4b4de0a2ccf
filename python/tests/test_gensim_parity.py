"""embers' answers equal gensim 4.4's on the same rows: files written by the original tools,
and a model embers trained (read by gensim from embers' word2vec output)."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKV

import embers

QUERY_WORDS = 60


def assert_neighbours_equal(ours, theirs, tol=1e-5, more=None):
    """Same scores to `tol` rank by rank, and the same words, except that words whose scores are
    within `tol` of each other may come in either order (float32 sums in another order round
    differently: gensim's BLAS and embers' kernels). `more` is gensim's longer list, to allow a
    near-tie at the cut-off."""
    assert len(ours) == len(theirs)
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=tol)
    reference = dict(more or theirs)
    for w, s in ours:
        assert w in reference and abs(reference[w] - s) <= tol, (w, s, ours, theirs)
    strict = [w for (w, s), (w2, s2) in zip(ours, theirs) if w == w2]
    assert len(strict) >= len(ours) - 4, (ours, theirs)


def check(ours, g, method, *args, topn=10, **kwargs):
    """Runs `method` on both with the same arguments and compares (gensim's longer list allows a
    near-tie at the cut-off)."""
    mine = getattr(ours, method)(*args, topn=topn, **kwargs)
    theirs = getattr(g, method)(*args, topn=topn + 10, **kwargs)
    assert_neighbours_equal(mine, theirs[:topn], more=theirs)


def common_words(g, n):
    # Frequent words and a spread of rarer ones.
    keys = g.index_to_key
    step = max(1, len(keys) // n)
    return list(dict.fromkeys(keys[:n // 2] + keys[::step][: n // 2]))


@pytest.fixture(scope="module", params=["w2v_text", "w2v_bin", "glove", "fasttext_vec"])
def pair(request, gensim_data):
    if request.param == "w2v_text":
        p = gensim_data / "word2vec_pre_kv_c"
        return embers.KeyedVectors.load_word2vec_format(p), GensimKV.load_word2vec_format(p)
    if request.param == "w2v_bin":
        p = gensim_data / "euclidean_vectors.bin"
        return (
            embers.KeyedVectors.load_word2vec_format(p, binary=True),
            GensimKV.load_word2vec_format(p, binary=True),
        )
    if request.param == "glove":
        p = gensim_data / "test_glove.txt"
        return embers.load(p), GensimKV.load_word2vec_format(p, no_header=True)
    p = gensim_data / "lee_fasttext.vec"
    return embers.load(p), GensimKV.load_word2vec_format(p)


def test_vocabulary_and_vectors(pair):
    ours, g = pair
    assert len(ours) == len(g)
    assert ours.vector_size == g.vector_size
    assert ours.index_to_key == g.index_to_key
    assert ours.key_to_index == g.key_to_index
    np.testing.assert_array_equal(ours.vectors, g.vectors)
    w = g.index_to_key[len(g) // 2]
    np.testing.assert_array_equal(ours[w], g[w])
    np.testing.assert_allclose(ours.get_vector(w, norm=True), g.get_vector(w, norm=True), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(ours[[w, g.index_to_key[0]]], g[[w, g.index_to_key[0]]])
    assert (w in ours) and ("zzz-not-a-word" not in ours)


def test_queries(pair):
    ours, g = pair
    words = common_words(g, QUERY_WORDS)
    for w in words:
        check(ours, g, "most_similar", w)
        check(ours, g, "most_similar", positive=[w], topn=5, restrict_vocab=len(g) // 2 + 1)
    for a, b, c in zip(words, words[1:], words[2:]):
        check(ours, g, "most_similar", positive=[b, c], negative=[a])
        check(ours, g, "most_similar_cosmul", positive=[b, c], negative=[a])
        assert ours.similarity(a, b) == pytest.approx(float(g.similarity(a, b)), abs=1e-6)
        assert ours.doesnt_match([a, b, c]) == g.doesnt_match([a, b, c])
    check(ours, g, "similar_by_vector", g[words[3]])
    np.testing.assert_allclose(ours.most_similar(words[0], topn=None), g.most_similar(words[0], topn=None), atol=1e-6)
    # Vectors and (word, weight) pairs among the query terms go through gensim's mean too.
    check(ours, g, "most_similar", positive=[(words[1], 2.0), g[words[2]]], negative=[words[0]])


def test_trained_model(lee_model, gensim_data):
    ours, path = lee_model
    g = GensimKV.load_word2vec_format(path)
    assert ours.index_to_key == g.index_to_key
    np.testing.assert_allclose(ours.vectors, g.vectors, atol=1e-6)  # text round trip
    again = embers.load(path)
    for w in common_words(g, QUERY_WORDS):
        check(again, g, "most_similar", w)
    analogies = gensim_data / "questions-words.txt"
    ours_score, ours_sections = again.evaluate_word_analogies(analogies)
    g_score, g_sections = g.evaluate_word_analogies(analogies)
    assert ours_score == g_score
    assert ours_sections == g_sections
    for f in ("wordsim353.tsv", "simlex999.txt"):
        (p, pp), (s, sp), oov = again.evaluate_word_pairs(gensim_data / f)
        (gp, gpp), (gs, gsp), goov = g.evaluate_word_pairs(gensim_data / f)
        # The model's cosines are float32 on both sides, summed in another order: they may differ
        # in the last bit, which moves the correlations by ~1e-9 on a thousand pairs, ~1e-7 on the few dozen this small model knows.
        assert p == pytest.approx(gp, abs=1e-6) and s == pytest.approx(gs, abs=1e-6)
        # The p-values are functions of those correlations (t distribution, n - 2 degrees of
        # freedom) whose relative slope is ~10 here: a 1e-7 move of r (the bound above allows
        # 1e-6) moves p by ~1e-6 relatively, so they are held to 1e-5.
        assert pp == pytest.approx(gpp, rel=1e-5) and sp == pytest.approx(gsp, rel=1e-5)
        assert oov == goov


def test_evaluation_on_original_files(gensim_data):
    p = gensim_data / "word2vec_pre_kv_c"
    ours, g = embers.KeyedVectors.load_word2vec_format(p), GensimKV.load_word2vec_format(p)
    analogies = gensim_data / "questions-words.txt"
    for kwargs in ({}, {"restrict_vocab": 500}, {"dummy4unknown": True}, {"case_insensitive": False}):
        assert ours.evaluate_word_analogies(analogies, **kwargs) == g.evaluate_word_analogies(analogies, **kwargs)
    (p1, _), (s1, _), o1 = ours.evaluate_word_pairs(gensim_data / "wordsim353.tsv", dummy4unknown=True)
    (p2, _), (s2, _), o2 = g.evaluate_word_pairs(gensim_data / "wordsim353.tsv", dummy4unknown=True)
    assert (p1, s1) == pytest.approx((p2, s2), abs=1e-8) and o1 == o2


def test_gensim_round_trip(lee_model):
    ours, _ = lee_model
    g = ours.to_gensim()
    assert g.index_to_key == ours.index_to_key
    np.testing.assert_array_equal(g.vectors, ours.vectors)
    assert g.get_vecattr(ours.index_to_key[0], "count") == ours.get_vecattr(ours.index_to_key[0], "count") > 0
    back = embers.KeyedVectors.from_gensim(g)
    np.testing.assert_array_equal(back.vectors, ours.vectors)
    w = ours.index_to_key[5]
    check(back, g, "most_similar", w)


def test_fasttext_subwords(gensim_data):
    from gensim.models.fasttext import load_facebook_vectors

    p = gensim_data / "lee_fasttext.bin"
    ours, g = embers.load(p), load_facebook_vectors(str(p))
    for w in ("night", "nightz", "unseenword", "rainfall"):
        np.testing.assert_allclose(ours[w], g[w], atol=1e-5)
    assert "unseenword" not in ours
