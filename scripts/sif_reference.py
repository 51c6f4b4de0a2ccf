#!/usr/bin/env python3
"""numpy reference of sentence pooling for embers word models (independent of embers).

Reads JSON on stdin: {"words": [...], "counts": [...], "vectors": [[...]], "fit": [texts],
"texts": [texts], "a": float}. Tokens are str.split() (whitespace); unknown tokens are skipped.
  mean: (1/n) sum v(w)
  SIF (Arora et al. 2017): x = (1/n) sum a/(a + p(w)) v(w), p(w) = count/total; u = first
       right singular vector of the matrix of x over the "fit" texts with tokens (uncentred,
       numpy.linalg.svd); answer x - (u.x) u.
Writes JSON {"mean": [[...]], "sif": [[...]], "component": [...]} in float64.
Used by crates/embers/tests/sentence_pooling.rs.
"""
import json
import sys

import numpy as np

req = json.load(sys.stdin)
words = req["words"]
index = {w: i for i, w in enumerate(words)}
counts = np.asarray(req["counts"], dtype=np.float64)
vectors = np.asarray(req["vectors"], dtype=np.float64)
a = float(req["a"])
weights = a / (a + counts / counts.sum())


def pooled(text, weighted):
    ids = [index[t] for t in text.split() if t in index]
    if not ids:
        return np.zeros(vectors.shape[1]), 0
    w = weights[ids] if weighted else np.ones(len(ids))
    return (w[:, None] * vectors[ids]).sum(axis=0) / len(ids), len(ids)


fit = np.array([x for x, n in (pooled(t, True) for t in req["fit"]) if n > 0])
_, _, vt = np.linalg.svd(fit, full_matrices=False)
u = vt[0]
mean = [pooled(t, False)[0] for t in req["texts"]]
sif = []
for t in req["texts"]:
    x, _ = pooled(t, True)
    sif.append(x - (u @ x) * u)
json.dump(
    {"mean": [m.tolist() for m in mean], "sif": [s.tolist() for s in sif], "component": u.tolist()},
    sys.stdout,
)
