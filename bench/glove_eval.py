"""Scores an embers native file (safetensors) with gensim's evaluation protocol.

usage: python3 bench/glove_eval.py EMBEDDINGS.safetensors EVAL_DIR
Prints one JSON object: analogy accuracy (gensim's evaluate_word_analogies, restricted to the
30,000 most frequent words as gensim does by default) and WordSim-353 / SimLex-999 Spearman.
"""
import json
import struct
import sys

import numpy as np
from gensim.models import KeyedVectors


def read_native(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    def tensor(name):
        h = header[name]
        dtype = {"F32": np.float32, "U8": np.uint8, "I64": np.int64, "U64": np.uint64}[h["dtype"]]
        a, b = h["data_offsets"]
        return np.frombuffer(data[a:b], dtype=dtype).reshape(h["shape"])
    emb = tensor("embeddings")
    raw = tensor("vocab.bytes").tobytes()
    offsets = tensor("vocab.offsets")
    words = [raw[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
    return words, emb


def main():
    path, eval_dir = sys.argv[1], sys.argv[2]
    words, emb = read_native(path)
    kv = KeyedVectors(emb.shape[1])
    kv.add_vectors(words, emb)
    score, sections = kv.evaluate_word_analogies(f"{eval_dir}/questions-words.txt")
    total = sum(len(s["correct"]) + len(s["incorrect"]) for s in sections if s["section"] == "Total accuracy")
    ws = kv.evaluate_word_pairs(f"{eval_dir}/wordsim353.tsv")
    sl = kv.evaluate_word_pairs(f"{eval_dir}/simlex999.txt")
    print(json.dumps({
        "analogy": round(float(score), 4),
        "analogy_covered": round(total / 19544, 4),
        "ws353_spearman": round(float(ws[1][0]), 4),
        "ws353_oov": round(float(ws[2]), 2),
        "simlex_spearman": round(float(sl[1][0]), 4),
        "simlex_oov": round(float(sl[2]), 2),
    }))


if __name__ == "__main__":
    main()
