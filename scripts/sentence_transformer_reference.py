#!/usr/bin/env python3
"""Reference forward pass of a sentence-transformers folder with a BERT encoder, in float64
numpy, independent of embers (no torch).

Reads modules.json (Transformer, Pooling, Dense, Normalize), 1_Pooling/config.json, Dense
modules (config.json and model.safetensors: activation(W x + b), in float64) and
sentence_bert_config.json; tokenizes with the Python `tokenizers` package (the folder's
tokenizer.json, its padding switched off, truncation to max_seq_length, longest first),
then runs the texts in padded batches of 8 (sorted by length) with an attention mask, as Hugging Face's BertModel:

  x = LayerNorm(word[ids] + position[0..n] + token_type[types])
  per layer: scores = (x Wq + bq)(x Wk + bk)^T / sqrt(d_head) + (1 - mask) * -1e30,
             a = LayerNorm(x + softmax(scores)(x Wv + bv) Wo + bo)
             x = LayerNorm(a + gelu_erf(a W1 + b1) W2 + b2)
  pooling over the real tokens (cls / max / mean / mean_sqrt_len), then x / max(|x|, 1e-12).

Usage: sentence_transformer_reference.py MODEL_DIR < texts.json > vectors.json
texts.json is a list of strings; the output is {"ids": [[...]], "vectors": [[...]]}.
With --forward-ids, stdin is a list of token id lists (special tokens included) run as they
are, and the output is {"mean": [[...]]} (mean of the last hidden states, no normalisation):
the building block of model2vec's distillation (scripts/distill_reference.py).
"""
import json
import math
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in ("F32", "F16", "BF16"):
            continue
        start, end = t["data_offsets"]
        raw = data[start:end]
        if t["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif t["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2")
        else:
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        name = name.removeprefix("bert.").removeprefix("roberta.")
        tensors[name] = a.astype(np.float64).reshape(t["shape"])
    return tensors


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


try:
    from scipy.special import erf as _erf  # vectorised; gensim brings scipy
except ImportError:  # pragma: no cover
    _erf = np.vectorize(math.erf)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class Bert:
    def __init__(self, folder):
        self.config = json.load(open(os.path.join(folder, "config.json")))
        assert self.config["model_type"] == "bert", self.config["model_type"]
        self.t = read_safetensors(os.path.join(folder, "model.safetensors"))
        self.eps = self.config.get("layer_norm_eps", 1e-12)

    def forward(self, batch_ids, batch_types):
        """Padded batch → last hidden states [B, L, H] and the mask [B, L]."""
        t, c = self.t, self.config
        B = len(batch_ids)
        L = max(len(i) for i in batch_ids)
        ids = np.zeros((B, L), dtype=np.int64)
        types = np.zeros((B, L), dtype=np.int64)
        mask = np.zeros((B, L))
        for b, (i, ty) in enumerate(zip(batch_ids, batch_types)):
            ids[b, : len(i)] = i
            types[b, : len(i)] = ty
            mask[b, : len(i)] = 1
        x = (
            t["embeddings.word_embeddings.weight"][ids]
            + t["embeddings.position_embeddings.weight"][np.arange(L)][None]
            + t["embeddings.token_type_embeddings.weight"][types]
        )
        x = layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"], self.eps)
        nh = c["num_attention_heads"]
        H = c["hidden_size"]
        dh = H // nh
        bias = (1.0 - mask)[:, None, None, :] * -1e30
        for l in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{l}."

            def lin(z, name):
                return z @ t[p + name + ".weight"].T + t[p + name + ".bias"]

            def heads(z):
                return z.reshape(B, L, nh, dh).transpose(0, 2, 1, 3)

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh) + bias
            s = s - s.max(-1, keepdims=True)
            p_ = np.exp(s)
            p_ /= p_.sum(-1, keepdims=True)
            ctx = (p_ @ v).transpose(0, 2, 1, 3).reshape(B, L, H)
            a = layer_norm(
                x + lin(ctx, "attention.output.dense"),
                t[p + "attention.output.LayerNorm.weight"],
                t[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            f = lin(gelu(lin(a, "intermediate.dense")), "output.dense")
            x = layer_norm(
                a + f, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"], self.eps
            )
        return x, mask


def pooling_modes(cfg):
    if "pooling_mode" in cfg and isinstance(cfg["pooling_mode"], str):
        return [cfg["pooling_mode"]]
    order = [
        ("pooling_mode_cls_token", "cls"),
        ("pooling_mode_max_tokens", "max"),
        ("pooling_mode_mean_tokens", "mean"),
        ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len_tokens"),
    ]
    return [m for k, m in order if cfg.get(k)]


def pool(x, mask, mode):
    m = mask[:, :, None]
    if mode == "cls":
        return x[:, 0]
    if mode == "max":
        return np.where(m > 0, x, -1e9).max(1)
    s = (x * m).sum(1)
    n = np.maximum(m.sum(1), 1e-9)
    return s / n if mode == "mean" else s / np.sqrt(n)


def main():
    from tokenizers import Tokenizer

    folder = sys.argv[1]
    bert = Bert(folder)
    if "--forward-ids" in sys.argv:
        seqs = json.load(sys.stdin)
        out = []
        for start in range(0, len(seqs), 256):
            chunk = seqs[start : start + 256]
            x, mask = bert.forward(chunk, [[0] * len(s) for s in chunk])
            out.extend(pool(x, mask, "mean").tolist())
        json.dump({"mean": out}, sys.stdout)
        return
    modules = json.load(open(os.path.join(folder, "modules.json")))
    modes, normalize, dense = ["mean"], False, []
    for m in modules:
        if m["type"].endswith("Pooling"):
            modes = pooling_modes(json.load(open(os.path.join(folder, m["path"], "config.json"))))
        if m["type"].endswith("Dense"):
            cfg = json.load(open(os.path.join(folder, m["path"], "config.json")))
            t = read_safetensors(os.path.join(folder, m["path"], "model.safetensors"))
            act = cfg.get("activation_function", "torch.nn.modules.activation.Tanh").rsplit(".", 1)[-1]
            dense.append((t["linear.weight"], t.get("linear.bias") if cfg.get("bias", True) else None, act))
        if m["type"].endswith("Normalize"):
            normalize = True
    sb = json.load(open(os.path.join(folder, "sentence_bert_config.json")))
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=sb["max_seq_length"])
    texts = json.load(sys.stdin)
    if sb.get("do_lower_case"):
        texts = [t.lower() for t in texts]
    encs = [tok.encode(t) for t in texts]
    # Padded batches of 8 texts of similar length, each with its attention mask.
    order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))
    v = np.zeros((len(encs), 0))
    parts = {}
    for start in range(0, len(order), 8):
        idx = order[start : start + 8]
        x, mask = bert.forward([encs[i].ids for i in idx], [encs[i].type_ids for i in idx])
        pooled = np.concatenate([pool(x, mask, mode) for mode in modes], axis=1)
        for k, i in enumerate(idx):
            parts[i] = pooled[k]
    v = np.stack([parts[i] for i in range(len(encs))])
    for w, b, act in dense:
        v = v @ np.asarray(w, dtype=np.float64).T
        if b is not None:
            v = v + np.asarray(b, dtype=np.float64)
        v = {
            "Tanh": np.tanh,
            "Identity": lambda x: x,
            "ReLU": lambda x: np.maximum(x, 0.0),
            "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
            "GELU": lambda x: 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),
        }[act](v)
    if normalize:
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    json.dump({"ids": [e.ids for e in encs], "vectors": v.tolist()}, sys.stdout)


if __name__ == "__main__":
    main()
