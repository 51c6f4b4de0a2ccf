#!/usr/bin/env python3
"""The reference path for bench/transformer.sh: Python `tokenizers` + numpy gather and LayerNorm
(float32, the model's dtype) over a file of lines, for a BERT-family model folder.

Usage: transformer_python.py MODEL_DIR LINES_FILE {single|batch}
  single: one encode() per line, numpy per line (one thread of Python work);
  batch:  encode_batch() over all lines (tokenizers' own Rust thread pool), numpy per line.
Prints one JSON object: lines, tokens, seconds, tokens_per_second.
"""
import json
import os
import struct
import sys
import time

import numpy as np
from tokenizers import Tokenizer


def tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] != "F32":
            continue
        s, e = t["data_offsets"]
        out[name] = mm[8 + n + s : 8 + n + e].view("<f4").reshape(t["shape"])
    return out


def main():
    model, lines_path, mode = sys.argv[1:4]
    w = tensors(os.path.join(model, "model.safetensors"))
    get = lambda k: w.get(k, w.get("bert." + k))
    word = get("embeddings.word_embeddings.weight")
    pos = get("embeddings.position_embeddings.weight")
    typ = get("embeddings.token_type_embeddings.weight")
    gamma = np.asarray(get("embeddings.LayerNorm.weight"))
    beta = np.asarray(get("embeddings.LayerNorm.bias"))
    eps = json.load(open(os.path.join(model, "config.json"))).get("layer_norm_eps", 1e-12)
    tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
    tok.no_padding()
    lines = open(lines_path, encoding="utf-8").read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    start = time.perf_counter()
    encs = tok.encode_batch(lines) if mode == "batch" else None
    tokens = 0
    checksum = 0.0
    for i, line in enumerate(lines):
        enc = encs[i] if encs is not None else tok.encode(line)
        ids = np.asarray(enc.ids)
        n = len(ids)
        x = word[ids] + pos[:n] + typ[np.asarray(enc.type_ids)]
        mean = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True)
        x = (x - mean) / np.sqrt(var + eps) * gamma + beta
        tokens += n
        checksum += float(x[0, 0])
    secs = time.perf_counter() - start
    print(json.dumps({"lines": len(lines), "tokens": tokens, "seconds": secs,
                      "tokens_per_second": tokens / secs, "mode": mode}))


if __name__ == "__main__":
    main()
