#!/usr/bin/env python3
"""model2vec's Python encode timed on a file of texts, and the comparison of vectors.

  sentence_python.py encode MODEL_DIR TEXTS OUT_F32 REPEATS  -> {"seconds": best, "rows", "dims"}
  sentence_python.py compare A_F32 B_F32 DIMS               -> {"max_abs_diff", "rows"}
Used by bench/sentence.sh.
"""
import json
import sys
import time

import numpy as np

if sys.argv[1] == "encode":
    from model2vec import StaticModel

    model = StaticModel.from_pretrained(sys.argv[2])
    with open(sys.argv[3], encoding="utf-8") as f:
        texts = f.read().split("\n")
    if texts and texts[-1] == "":
        texts.pop()
    best = float("inf")
    for _ in range(int(sys.argv[5])):
        t = time.perf_counter()
        v = model.encode(texts)
        best = min(best, time.perf_counter() - t)
    np.asarray(v, dtype="<f4").tofile(sys.argv[4])
    print(json.dumps({"seconds": best, "rows": v.shape[0], "dims": v.shape[1]}))
elif sys.argv[1] == "compare":
    d = int(sys.argv[4])
    a = np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, d)
    b = np.fromfile(sys.argv[3], dtype="<f4").reshape(-1, d)
    assert a.shape == b.shape, (a.shape, b.shape)
    print(json.dumps({"max_abs_diff": float(np.max(np.abs(a - b))), "rows": a.shape[0]}))
