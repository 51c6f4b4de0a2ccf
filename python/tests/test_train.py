"""Training from Python: results usable, progress reported, callbacks and Ctrl-C stop it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import embers


def test_word2vec_progress_and_determinism(gensim_data):
    events = []
    corpus = gensim_data / "lee_background.cor"
    a = embers.train_word2vec(corpus, dim=20, epochs=2, threads=1, seed=3, progress=events.append)
    b = embers.train_word2vec(corpus, dim=20, epochs=2, threads=1, seed=3)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert events and {"stage", "done", "total", "unit", "epoch", "loss"} <= set(events[-1])
    assert any(e["stage"] == "train" for e in events)
    assert a.get_vecattr("the", "count") > 100


def test_sentences_as_lists():
    sentences = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "the", "log"]] * 50
    kv = embers.train_word2vec(sentences, dim=8, min_count=1, epochs=2, threads=1)
    assert set(kv.index_to_key) == {"the", "cat", "sat", "on", "mat", "dog", "log"}


def test_fasttext_and_glove(gensim_data):
    corpus = gensim_data / "lee_background.cor"
    ft = embers.train_fasttext(corpus, dim=16, epochs=1, bucket=20_000, threads=1)
    assert "unseenwordz" not in ft and ft["unseenwordz"].shape == (16,)
    # fastText's training rules, as `embers train fasttext` uses them: every line ends in the
    # word `</s>` (counted once per newline; a last line without one gets none).
    newlines = corpus.read_bytes().count(b"\n")
    assert "</s>" in ft.key_to_index and ft.get_vecattr("</s>", "count") == newlines
    losses = []
    gl = embers.train_glove(corpus, dim=16, iter=3, threads=1, progress=lambda e: e["loss"] is not None and losses.append(e["loss"]))
    assert len(gl) > 100 and len(losses) == 3 and losses[-1] < losses[0]


def test_callback_exception_stops_training(gensim_data):
    class Stop(Exception):
        pass

    def cb(event):
        raise Stop()

    t0 = time.perf_counter()
    with pytest.raises(Stop):
        embers.train_word2vec(gensim_data / "lee_background.cor", dim=50, epochs=500, threads=1, progress=cb)
    assert time.perf_counter() - t0 < 10


def test_ctrl_c_stops_training(gensim_data):
    # A fresh interpreter, as a user's script. It installs Python's own Ctrl-C handler: a job
    # started in the background by a non-interactive shell (as a CI runner may start the test
    # command) inherits SIGINT as ignored, and Python then leaves it ignored, so without this the
    # test would measure the runner, not embers (it failed that way in a clean-clone run).
    script = (
        "import signal, sys, embers\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "def cb(e):\n"
        "    if e['stage'] == 'train':\n"
        "        print('training', flush=True)\n"
        "embers.train_word2vec(sys.argv[1], dim=50, epochs=500, threads=1, progress=cb)\n"
        "print('finished', flush=True)\n"
    )
    corpus = str(gensim_data / "lee_background.cor")
    child = subprocess.Popen(
        [sys.executable, "-c", script, corpus], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "training\n", child.stderr.read()
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        stopped = time.perf_counter() - sent
    finally:
        child.kill()
    assert child.returncode != 0 and "KeyboardInterrupt" in err, err
    assert stopped < 5, stopped


def test_gil_released_during_training(gensim_data):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        embers.train_word2vec(gensim_data / "lee_background.cor", dim=50, epochs=20, threads=1)
    finally:
        stop.set()
        t.join()
    gaps = np.diff(ticks)
    assert len(ticks) > 20 and gaps.max() < 0.5, gaps.max()


def test_word2vec_learning_rate_schedule(gensim_data):
    # gensim's schedule by default (the rate falls with the lines read); word2vec C's with the
    # words trained on request. lee_background's lines differ in length, so the two differ.
    corpus = gensim_data / "lee_background.cor"
    lines = embers.train_word2vec(corpus, dim=20, epochs=1, threads=1, seed=3)
    words = embers.train_word2vec(corpus, dim=20, epochs=1, threads=1, seed=3, lr_decay="words")
    assert lines.index_to_key == words.index_to_key
    assert not np.array_equal(lines.vectors, words.vectors)
    with pytest.raises(ValueError, match="lr_decay"):
        embers.train_word2vec(corpus, dim=20, epochs=1, threads=1, lr_decay="sentences")
