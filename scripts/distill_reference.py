#!/usr/bin/env python3
"""model2vec's distillation recipe (model2vec 0.10, model2vec/distill/) reimplemented in float64
numpy on the reference forward pass of scripts/sentence_transformer_reference.py, independent of
embers (and of torch and model2vec):

  tokens = tokenizer.json's WordPiece vocabulary in id order, without [unusedN] and the added
           special tokens other than unk and pad ([CLS] [SEP] [MASK]), first LIMIT
  x_i    = mean of the last hidden states of [CLS] token_i [SEP]
  PCA    = centre, eigenvectors of the covariance (numpy eigh), DIMS largest, each component's
           largest-magnitude entry made positive
  w_i    = a / (a + p_i), p_i = (1/(i+2)) / sum_j 1/(j+2), a = 1e-4   (WEIGHTING=sif)
           log(1 + i)                                                   (WEIGHTING=zipf)
  rows   = PCA(x)_i * w_i

Usage: distill_reference.py MODEL_DIR LIMIT DIMS WEIGHTING > out.json
Output: {"tokens": [...], "vectors": [[...]], "explained": ratio}.
"""
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sentence_transformer_reference import Bert, pool  # noqa: E402


def main():
    folder, limit, dims, weighting = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    tj = json.load(open(os.path.join(folder, "tokenizer.json")))
    vocab = sorted(tj["model"]["vocab"].items(), key=lambda kv: kv[1])
    # model2vec prunes the added special tokens except the unknown and padding tokens.
    keep = {tj["model"].get("unk_token"), (tj.get("padding") or {}).get("pad_token", "[PAD]")}
    pruned = {a["content"] for a in tj["added_tokens"] if a["special"] and a["content"] not in keep}
    kept = [(t, i) for t, i in vocab if not re.match(r"\[unused\d+\]", t) and t not in pruned][:limit]
    cls, sep = tj["model"]["vocab"]["[CLS]"], tj["model"]["vocab"]["[SEP]"]
    bert = Bert(folder)
    seqs = [[cls, i, sep] for _, i in kept]
    x = []
    for start in range(0, len(seqs), 128):
        chunk = seqs[start : start + 128]
        h, mask = bert.forward(chunk, [[0] * 3 for _ in chunk])
        x.append(pool(h, mask, "mean"))
    x = np.concatenate(x)
    xc = x - x.mean(0)
    cov = xc.T @ xc / (len(x) - 1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:dims]
    comps = vecs[:, order].T
    for c in comps:
        if c[np.argmax(np.abs(c))] < 0:
            c *= -1
    y = xc @ comps.T
    n = len(kept)
    if weighting == "sif":
        inv = 1.0 / np.arange(2, n + 2)
        p = inv / inv.sum()
        w = 1e-4 / (1e-4 + p)
    elif weighting == "zipf":
        w = np.log1p(np.arange(n))
    else:
        w = np.ones(n)
    y = y * w[:, None]
    json.dump(
        {
            "tokens": [t for t, _ in kept],
            "vectors": y.tolist(),
            "explained": float(vals[order].sum() / vals.sum()),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
