#!/usr/bin/env python3
"""Quality of trained embeddings with gensim's evaluation protocol.

Usage: train_eval.py VECTORS EVAL_DIR
VECTORS is an embers native file (safetensors; read here with numpy only) or a word2vec
text/binary file (.vec/.txt/.bin written by gensim or fastText). Prints one JSON line:
analogy accuracy and coverage on questions-words.txt (gensim evaluate_word_analogies, default
restrict_vocab=300000, case_insensitive=True), Spearman on wordsim353.tsv and simlex999.txt
(evaluate_word_pairs).
"""
import json
import struct
import sys

import numpy as np
from gensim.models import KeyedVectors


def load_native(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()

    def tensor(name, dtype):
        t = header[name]
        a, b = t["data_offsets"]
        return np.frombuffer(data[a:b], dtype=dtype).reshape(t["shape"])

    raw = tensor("vocab.bytes", np.uint8).tobytes()
    offs = tensor("vocab.offsets", np.uint64)
    words = [raw[offs[i]:offs[i + 1]].decode("utf-8") for i in range(len(offs) - 1)]
    mat = tensor("embeddings", np.float32)
    kv = KeyedVectors(mat.shape[1])
    kv.add_vectors(words, mat)
    return kv


def load(path):
    if path.endswith((".emb", ".safetensors", ".embers")):
        return load_native(path)
    return KeyedVectors.load_word2vec_format(path, binary=path.endswith(".bin"))


def main():
    kv = load(sys.argv[1])
    d = sys.argv[2].rstrip("/")
    score, sections = kv.evaluate_word_analogies(f"{d}/questions-words.txt")
    total = next(s for s in sections if s["section"] == "Total accuracy")
    answered = len(total["correct"]) + len(total["incorrect"])
    ws = kv.evaluate_word_pairs(f"{d}/wordsim353.tsv")
    sl = kv.evaluate_word_pairs(f"{d}/simlex999.txt")
    print(json.dumps({
        "analogy": round(float(score), 4),
        "analogy_covered": round(answered / 19544, 3),
        "ws353": round(float(ws[1][0]), 4),
        "simlex": round(float(sl[1][0]), 4),
        "vocab": len(kv.index_to_key),
    }))


if __name__ == "__main__":
    main()
