#!/usr/bin/env python3
"""Reference input embedding layer of a Hugging Face model folder, independent of embers.

Tokenizes with the Python `tokenizers` package (the model's tokenizer.json, special tokens added,
the padding tokenizer.json configures switched off unless a case asks for it, its truncation
kept), reads the embedding tensors from model.safetensors with numpy alone, and computes the
layer in float64:
  bert / distilbert:           LayerNorm(word[ids] + position[0..n] + token_type[type_ids])
  roberta / xlm-roberta / camembert: same, positions = cumsum(ids != pad) * (ids != pad) + pad
  gpt2:                        wte[ids] + wpe[0..n]
  llama / mistral / qwen2 ...: embed_tokens[ids]

Usage: transformer_reference.py MODEL_DIR < cases.json > reference.json
cases.json is a list of {"text": str, "pair": str or null, "pad": bool (optional)}; the output is
a list of {"tokens", "ids", "type_ids", "position_ids", "embeddings"}.
Used by embers' tests (crates/embers/src/transformer/tests.rs) and bench/transformer.sh.
"""
import json
import os
import struct
import sys

import numpy as np
from tokenizers import Tokenizer

PREFIXES = ["", "bert.", "model.", "transformer.", "roberta.", "distilbert."]


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        start, end = t["data_offsets"]
        raw = data[start:end]
        if t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        elif t["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue
        tensors[name] = a.astype(np.float64).reshape(t["shape"])
    return tensors


def find(tensors, *names):
    for name in names:
        for p in PREFIXES:
            if p + name in tensors:
                return tensors[p + name]
    raise KeyError(names)


def main():
    model = sys.argv[1]
    config = json.load(open(os.path.join(model, "config.json")))
    mtype = config["model_type"]
    tensors = read_safetensors(os.path.join(model, "model.safetensors"))
    cases = json.load(sys.stdin)
    out = []
    for case in cases:
        tok = Tokenizer.from_file(os.path.join(model, "tokenizer.json"))
        if not case.get("pad"):
            tok.no_padding()
        if case.get("pair") is None:
            enc = tok.encode(case["text"])
        else:
            enc = tok.encode(case["text"], case["pair"])
        ids = np.array(enc.ids, dtype=np.int64)
        types = np.array(enc.type_ids, dtype=np.int64)
        n = len(ids)
        if mtype in ("bert", "distilbert", "roberta", "xlm-roberta", "camembert"):
            if mtype in ("roberta", "xlm-roberta", "camembert"):
                pad = config["pad_token_id"]
                mask = (ids != pad).astype(np.int64)
                pos = np.cumsum(mask) * mask + pad
            else:
                pos = np.arange(n)
            x = find(tensors, "embeddings.word_embeddings.weight")[ids]
            x = x + find(tensors, "embeddings.position_embeddings.weight")[pos]
            if mtype != "distilbert":
                x = x + find(tensors, "embeddings.token_type_embeddings.weight")[types]
            mean = x.mean(axis=1, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=1, keepdims=True)
            eps = config.get("layer_norm_eps", 1e-12)
            x = (x - mean) / np.sqrt(var + eps)
            x = x * find(tensors, "embeddings.LayerNorm.weight") + find(
                tensors, "embeddings.LayerNorm.bias"
            )
        elif mtype == "gpt2":
            pos = np.arange(n)
            x = find(tensors, "wte.weight")[ids] + find(tensors, "wpe.weight")[pos]
        else:
            pos = None
            x = find(tensors, "embed_tokens.weight")[ids]
        out.append(
            {
                "tokens": enc.tokens,
                "ids": enc.ids,
                "type_ids": enc.type_ids,
                "position_ids": None if pos is None else [int(p) for p in pos],
                "embeddings": x.tolist(),
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
