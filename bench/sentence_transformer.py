#!/usr/bin/env python3
"""Python side of bench/sentence_transformer.sh.

  st MODEL TEXTS BATCH THREADS EMBERS_NPY  -> sentence-transformers (torch CPU) encode of the
      texts: wall and CPU seconds of encode(), and the largest |difference| from embers' vectors.
  m2v MODEL OUT THREADS                   -> model2vec.distill(MODEL, pca_dims=256) on torch CPU:
      wall and CPU seconds; saved to OUT.
  pairs FOLDER WS353 SIMLEX EMBERS        -> Spearman of word-pair cosines, every word encoded as a
      one-word sentence by `EMBERS encode FOLDER` (all pairs; no OOV with a subword tokenizer).
  cmp A B                                 -> two distilled model2vec folders compared row by row.
One JSON object on stdout.
"""
import json
import subprocess
import sys
import tempfile
import time

import numpy as np


def read_npy(path):
    return np.load(path)


def st(model, texts_path, batch, threads, embers_npy):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(int(threads))
    texts = open(texts_path, encoding="utf-8").read().splitlines()
    m = SentenceTransformer(model, device="cpu")
    m.encode(texts[:64], batch_size=int(batch))  # warm-up
    w0, c0 = time.perf_counter(), time.process_time()
    v = m.encode(texts, batch_size=int(batch), convert_to_numpy=True)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    e = read_npy(embers_npy)
    diff = float(np.abs(e - v).max())
    cos = (e * v).sum(1) / np.linalg.norm(e, axis=1) / np.linalg.norm(v, axis=1)
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "seconds": wall,
        "cpu_seconds": cpu,
        "texts": len(texts),
        "max_abs_diff": diff,
        "min_cosine": float(cos.min()),
    }


def m2v(model, out, threads):
    import torch
    from model2vec.distill import distill

    torch.set_num_threads(int(threads))
    w0, c0 = time.perf_counter(), time.process_time()
    m = distill(model_name=model, pca_dims=256, device="cpu")
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    m.save_pretrained(out)
    return {"seconds": wall, "cpu_seconds": cpu, "rows": int(m.embedding.shape[0])}


def read_pairs(path):
    pairs = []
    for line in open(path, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        a, b, s = line.rstrip("\n").split("\t")[:3]
        pairs.append((a, b, float(s)))
    return pairs


def pairs(folder, ws, simlex, embers):
    from scipy.stats import spearmanr

    out = {}
    for name, path in (("ws353", ws), ("simlex999", simlex)):
        p = read_pairs(path)
        words = sorted({w for a, b, _ in p for w in (a, b)})
        with tempfile.TemporaryDirectory() as tmp:
            wf = f"{tmp}/words.txt"
            open(wf, "w").write("\n".join(words) + "\n")
            subprocess.run([embers, "encode", folder, "--file", wf, "--npy", f"{tmp}/v.npy"], check=True)
            v = np.load(f"{tmp}/v.npy").astype(np.float64)
        idx = {w: i for i, w in enumerate(words)}
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        sims = [float(v[idx[a]] @ v[idx[b]]) for a, b, _ in p]
        out[name] = {"spearman": float(spearmanr(sims, [s for _, _, s in p]).statistic), "pairs": len(p)}
    return out


def cmp(a, b):
    """Two model2vec folders of the same recipe: same tokens in the same order, and the rows
    after aligning each PCA component's sign (components are defined up to sign)."""
    import struct

    def load(folder):
        raw = open(f"{folder}/model.safetensors", "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        h = json.loads(raw[8 : 8 + n])["embeddings"]
        dt = {"F32": "<f4", "F16": "<f2"}[h["dtype"]]
        s, e = h["data_offsets"]
        m = np.frombuffer(raw[8 + n + s : 8 + n + e], dtype=dt).astype(np.float64).reshape(h["shape"])
        v = json.load(open(f"{folder}/tokenizer.json"))["model"]["vocab"]
        return m, [t for t, _ in sorted(v.items(), key=lambda kv: kv[1])]

    x, tx = load(a)
    y, ty = load(b)
    same = tx == ty
    sign = np.sign((x * y).sum(0))
    y = y * sign
    cos = (x * y).sum(1) / np.maximum(np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1), 1e-30)
    return {
        "same_tokens": same,
        "rows": [len(tx), len(ty)],
        "max_abs_diff": float(np.abs(x - y).max()),
        "max_abs_value": float(np.abs(y).max()),
        "min_row_cosine": float(cos.min()),
        "mean_row_cosine": float(cos.mean()),
    }


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    print(json.dumps({"st": st, "m2v": m2v, "pairs": pairs, "cmp": cmp}[cmd](*args)))
