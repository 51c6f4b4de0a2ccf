#!/usr/bin/env python3
"""Quality of trained embeddings with gensim's evaluation protocol.

Usage: train_eval.py VECTORS EVAL_DIR [--oov-embers EMBERS_BINARY | --oov-fasttext MODEL.bin]
VECTORS is an embers native file (safetensors; read here with numpy only) or a word2vec
text/binary file (.vec/.txt/.bin written by gensim or fastText; a .txt without the count line,
as Stanford's GloVe writes it, works too). With --oov-*, the words of WordSim-353 and SimLex-999
missing from the vocabulary get the model's out-of-vocabulary vector (sum of character n-gram
rows: `embers lookup --json` on VECTORS, or `fasttext print-word-vectors MODEL.bin`) before the
pairs are scored; analogies are scored on the vocabulary alone. Prints one JSON line:
analogy accuracy and coverage on questions-words.txt (gensim evaluate_word_analogies, default
restrict_vocab=300000, case_insensitive=True), Spearman on wordsim353.tsv and simlex999.txt
(evaluate_word_pairs).
"""
import json
import struct
import subprocess
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
    binary = path.endswith(".bin")
    no_header = False
    if not binary:
        with open(path, encoding="utf-8") as f:
            first = f.readline().split()
        no_header = not (len(first) == 2 and all(t.isdigit() for t in first))
    return KeyedVectors.load_word2vec_format(path, binary=binary, no_header=no_header)


def pair_words(path):
    words = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3:
                words.update(w.lower() for w in parts[:2])
    return words


def oov_vectors(kind, arg, vectors, words):
    """{word: vector} for `words` from the model's subword vectors."""
    if not words:
        return {}
    if kind == "--oov-embers":
        out = subprocess.run([arg, "lookup", "--json", "--progress", "none", vectors, *words],
                             check=True, capture_output=True, text=True).stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        return {r["word"]: np.asarray(r["vector"], dtype=np.float32)
                for r in rows if r.get("vector") is not None}
    out = subprocess.run(["fasttext", "print-word-vectors", arg], input="\n".join(words) + "\n",
                         check=True, capture_output=True, text=True).stdout
    vecs = {}
    for line in out.splitlines():
        parts = line.rstrip().split(" ")
        vecs[parts[0]] = np.asarray([float(x) for x in parts[1:]], dtype=np.float32)
    return vecs


def main():
    kv = load(sys.argv[1])
    d = sys.argv[2].rstrip("/")
    score, sections = kv.evaluate_word_analogies(f"{d}/questions-words.txt")
    total = next(s for s in sections if s["section"] == "Total accuracy")
    answered = len(total["correct"]) + len(total["incorrect"])
    added = 0
    if len(sys.argv) > 4:
        known = set(kv.key_to_index)
        missing = sorted((pair_words(f"{d}/wordsim353.tsv") | pair_words(f"{d}/simlex999.txt")) - known)
        vecs = oov_vectors(sys.argv[3], sys.argv[4], sys.argv[1], missing)
        if set(missing) - set(vecs):
            sys.exit(f"no out-of-vocabulary vector for {sorted(set(missing) - set(vecs))[:5]}")
        if missing:
            kv.add_vectors(missing, np.stack([vecs[w] for w in missing]))
        added = len(missing)
    ws = kv.evaluate_word_pairs(f"{d}/wordsim353.tsv")
    sl = kv.evaluate_word_pairs(f"{d}/simlex999.txt")
    print(json.dumps({
        "analogy": round(float(score), 4),
        "analogy_covered": round(answered / 19544, 3),
        "ws353": round(float(ws[1][0]), 4),
        "ws353_oov": round(float(ws[2]), 2),
        "simlex": round(float(sl[1][0]), 4),
        "simlex_oov": round(float(sl[2]), 2),
        "oov_added": added,
        "vocab": len(kv.index_to_key) - added,
    }))


if __name__ == "__main__":
    main()
