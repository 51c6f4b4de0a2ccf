"""Writes a GloVe-shaped text file for the benchmarks: ROWS random words (letters + row number,
so all distinct) with DIMS seeded normal values printed with 5 significant digits, like glove.6B.

usage: python3 bench/glove_shaped.py OUT ROWS DIMS
"""
import os
import sys

import numpy as np

path, rows, dims = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(7)
letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
with open(path + ".part", "w") as f:
    for start in range(0, rows, 20000):
        n = min(20000, rows - start)
        m = np.round(rng.normal(0, 0.4, (n, dims)), 5)
        lens = rng.integers(2, 12, n)
        words = ["".join(rng.choice(letters, l)) + str(start + i) for i, l in enumerate(lens)]
        body = np.char.mod("%.5g", m)
        f.write("\n".join(w + " " + " ".join(r) for w, r in zip(words, body)) + "\n")
# Renamed only when complete, so an interrupted run does not leave a short file to be reused.
os.replace(path + ".part", path)
