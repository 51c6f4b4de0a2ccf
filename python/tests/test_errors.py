"""Bad input raises an embers exception naming the file and position; nothing crashes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import embers


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_missing_file(tmp_path):
    with pytest.raises(embers.MissingFileError) as e:
        embers.load(tmp_path / "nope.vec")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, embers.EmbersError)
    assert e.value.path == str(tmp_path / "nope.vec")


def test_bad_text_rows(tmp_path):
    p = write(tmp_path, "bad.vec", b"3 2\na 1 2\nb 1 x\nc 1 2\n")
    with pytest.raises(embers.FormatError) as e:
        embers.load(p)
    assert e.value.path == str(p) and e.value.line == 3 and "line 3" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_wrong_header_and_truncation(tmp_path):
    p = write(tmp_path, "short.vec", b"5 2\na 1 2\nb 1 2\n")
    with pytest.raises(embers.FormatError) as e:
        embers.KeyedVectors.load_word2vec_format(p)
    assert e.value.path == str(p)
    body = b"2 3\n" + b"a " + struct.pack("<3f", 1, 2, 3) + b"\nb " + struct.pack("<2f", 1, 2)
    p = write(tmp_path, "trunc.bin", body)
    with pytest.raises(embers.FormatError) as e:
        embers.KeyedVectors.load_word2vec_format(p, binary=True)
    assert e.value.byte is not None and e.value.path == str(p)
    p = write(tmp_path, "huge.bin", b"99999999999999 99999999999\nx ")
    with pytest.raises(embers.EmbersError):
        embers.KeyedVectors.load_word2vec_format(p, binary=True)


def test_invalid_utf8_and_nan(tmp_path):
    p = write(tmp_path, "utf.vec", b"2 2\nok 1 2\n\xff\xfe 1 2\n")
    with pytest.raises(embers.FormatError) as e:
        embers.load(p)
    assert e.value.line == 3
    kv = embers.load(p, lossy=True)
    assert len(kv) == 2
    p = write(tmp_path, "nan.vec", b"2 2\na 1 2\nb nan 2\n")
    with pytest.raises(embers.FormatError) as e:
        embers.load(p)
    assert e.value.line == 3
    assert np.isnan(embers.load(p, allow_nonfinite=True)["b"][0])


def test_garbage_and_empty_files(tmp_path):
    for name, data in [("empty", b""), ("noise", bytes(range(256)) * 8), ("native.embers", b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":")]:
        with pytest.raises(embers.EmbersError):
            embers.load(write(tmp_path, name, data))


def test_unknown_words_and_bad_arguments(gensim_data):
    kv = embers.load(gensim_data / "test_glove.txt")
    with pytest.raises(embers.NotFound) as e:
        kv["definitely-not-a-word"]
    assert isinstance(e.value, KeyError) and e.value.words == ["definitely-not-a-word"]
    with pytest.raises(KeyError):
        kv.most_similar(positive=["the", "zzzq", "zzzr"])
    with pytest.raises(embers.NotFound) as e:
        kv[["the", "zzzq", "zzzr"]]
    assert e.value.words == ["zzzq", "zzzr"]
    with pytest.raises(embers.InvalidArgument):
        kv.similar_by_vector(np.zeros(kv.vector_size + 1, dtype=np.float32))
    with pytest.raises(embers.InvalidArgument):
        kv.similar_by_vector(np.full(kv.vector_size, np.nan, dtype=np.float32))
    with pytest.raises(ValueError):
        kv.doesnt_match(["zzzq"])
    with pytest.raises(embers.InvalidArgument):
        kv.save("out.unknown-ext", format="nonsense")
    with pytest.raises(TypeError):
        kv.most_similar(positive=[3.5])
    assert kv.most_similar("the", topn=0) == []
    assert len(kv.most_similar("the", topn=10**9)) == len(kv) - 1


def test_bad_evaluation_files(tmp_path, gensim_data):
    kv = embers.load(gensim_data / "test_glove.txt")
    p = write(tmp_path, "q.txt", b": s\na b c\n")
    with pytest.raises(embers.FormatError) as e:
        kv.evaluate_word_analogies(p)
    assert e.value.line == 2
    p = write(tmp_path, "pairs.tsv", b"a\tb\tnot-a-number\n")
    with pytest.raises(embers.FormatError) as e:
        kv.evaluate_word_pairs(p)
    assert e.value.line == 1


def test_from_arrays_checks_shapes():
    with pytest.raises(embers.EmbersError):
        embers.KeyedVectors.from_arrays(["a", "b"], np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(embers.EmbersError):
        embers.KeyedVectors.from_arrays(["a", "a"], np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(embers.InvalidArgument):
        embers.KeyedVectors.from_arrays(["a"], np.zeros(3, dtype=np.float32))
