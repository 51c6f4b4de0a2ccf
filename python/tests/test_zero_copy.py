"""kv.vectors of a native file is the file's memory map itself: no copy, no doubled memory."""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np

import embers


def mappings_of(path):
    """(start, end) address ranges of `path` in this process's memory maps."""
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip() == str(path):
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                out.append((lo, hi))
    return out


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def test_vectors_view_the_map(tmp_path):
    words = [f"w{i}" for i in range(1000)]
    rng = np.random.default_rng(1)
    m = rng.standard_normal((1000, 16), dtype=np.float32)
    path = tmp_path / "small.embers"
    embers.KeyedVectors.from_arrays(words, m).save(path)
    kv = embers.load(path)
    assert kv.is_mapped
    v = kv.vectors
    assert v.dtype == np.float32 and v.shape == (1000, 16)
    np.testing.assert_array_equal(v, m)
    assert not v.flags.writeable and not v.flags.owndata
    # The data pointer lies inside a mapping of the file itself.
    addr = v.__array_interface__["data"][0]
    maps = mappings_of(path)
    assert any(lo <= addr and addr + v.nbytes <= hi for lo, hi in maps), (hex(addr), maps)
    # Two accesses are views of the same memory; a copy is not.
    assert np.shares_memory(v, kv.vectors)
    assert not np.shares_memory(v, np.array(v))
    # Writing is refused, and cannot be switched back on.
    try:
        v[0, 0] = 1.0
        raise AssertionError("write accepted")
    except ValueError:
        pass
    try:
        v.flags.writeable = True
        raise AssertionError("writeable accepted")
    except ValueError:
        pass
    # The view keeps the map alive after the KeyedVectors is gone.
    del kv
    gc.collect()
    np.testing.assert_array_equal(v[-1], m[-1])


def test_400k_by_300_does_not_double_memory(tmp_path):
    rows, dims = 400_000, 300
    path = tmp_path / "big.embers"
    # Written by a child process, so this one's memory holds nothing of it.
    subprocess.run(
        [sys.executable, "-c", f"""
import numpy as np, embers
m = np.random.default_rng(3).standard_normal(({rows}, {dims}), dtype=np.float32)
embers.KeyedVectors.from_arrays([f"w{{i}}" for i in range({rows})], m).save({str(path)!r})
"""],
        check=True,
    )
    matrix_mb = rows * dims * 4 / 2**20  # 457.8 MiB
    anon0, rss0 = status_kb("RssAnon"), status_kb("VmRSS")
    kv = embers.load(path)
    v = kv.vectors
    total = float(v.sum(dtype=np.float64))  # touches every page of the matrix
    assert np.isfinite(total)
    assert kv.most_similar("w123", topn=3)[0][0] != "w123"
    anon_mb = (status_kb("RssAnon") - anon0) / 1024
    rss_mb = (status_kb("VmRSS") - rss0) / 1024
    # The rows are the file's pages (counted once, file-backed), not a private copy: private
    # memory grows by the vocabulary, the norms and the query screen only, far below the matrix.
    assert anon_mb < 0.5 * matrix_mb, (anon_mb, matrix_mb)
    assert rss_mb < 1.5 * matrix_mb, (rss_mb, matrix_mb)
