# Reference answers from gensim 4.4 for tests/gensim_reference.rs (run there with python3).
# Usage: python3 gensim_reference.py TESTDATA (file W2V_TEXT | generate SEED) RESTRICT
# Prints one JSON object: the model's words and vectors, and gensim's answers to queries.
import json, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from gensim.models import KeyedVectors

testdata, mode, arg, restrict = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
qpath = f"{testdata}/gensim/questions-words.txt"
pair_files = [f"{testdata}/gensim/wordsim353.tsv", f"{testdata}/gensim/simlex999.txt"]

if mode == "file":
    kv = KeyedVectors.load_word2vec_format(arg, binary=False)
else:
    # A model whose vocabulary holds the benchmark words (with case variants and fillers) and
    # whose vectors carry a per-section offset, so analogies are sometimes right.
    rng = np.random.default_rng(int(arg))
    dims = 24
    sections, words = [], {}
    for line in open(qpath):
        if line.startswith(": "):
            sections.append([])
            continue
        q = line.split()
        sections[-1].append(q)
        for w in q:
            words.setdefault(w, None)
    for f in pair_files:
        for line in open(f):
            if line.startswith("#") or not line.strip():
                continue
            a, b, _ = line.split("\t")
            if rng.random() < 0.8:
                words.setdefault(a, None)
                words.setdefault(b, None)
    vec = {w: rng.normal(size=dims) for w in words}
    derived = set()
    for sec in sections:
        off = rng.normal(size=dims)
        for a, b, c, d in sec:
            for x, y in ((a, b), (c, d)):
                if y not in derived and x != y:
                    vec[y] = vec[x] + off + 0.5 * rng.normal(size=dims)
                    derived.add(y)
    vocab = list(words)
    for i, w in enumerate(list(vocab)):
        if i % 5 == 0 and w.lower() not in vec:
            vocab.append(w.lower())
            vec[w.lower()] = rng.normal(size=dims)
        if i % 7 == 0 and w.upper() + "x" not in vec:
            vocab.append(w.upper() + "x")
            vec[w.upper() + "x"] = rng.normal(size=dims)
    for i in range(400):
        vocab.append(f"filler{i}")
        vec[f"filler{i}"] = rng.normal(size=dims)
    order = rng.permutation(len(vocab))
    vocab = [vocab[i] for i in order]
    kv = KeyedVectors(dims)
    kv.add_vectors(vocab, np.array([vec[w] for w in vocab], dtype=np.float32))

words = list(kv.index_to_key)
n = len(words)
pick = lambda i: words[(i * 7919) % n]
queries = [([pick(0)], []), ([pick(1), pick(2)], [pick(3)]), ([pick(4)], [pick(5)]),
           ([pick(6), pick(7), pick(8)], []), ([pick(9)], [])]
out = {"words": words, "vectors": [[float(x) for x in v] for v in kv.vectors], "most_similar": [],
       "cosmul": [], "restricted": [], "by_vector": [], "similarity": [], "doesnt_match": []}
for pos, neg in queries:
    k = min(10, n - len(set(pos + neg)))
    out["most_similar"].append({"positive": pos, "negative": neg, "k": k,
                                "neighbors": kv.most_similar(positive=pos, negative=neg, topn=k)})
    out["cosmul"].append({"positive": pos, "negative": neg, "k": k,
                          "neighbors": kv.most_similar_cosmul(positive=pos, negative=neg, topn=k)})
    r = max(len(pos + neg) + 3, n // 2)
    out["restricted"].append({"positive": pos, "negative": neg, "k": 3, "restrict": r,
                              "neighbors": kv.most_similar(positive=pos, negative=neg, topn=3, restrict_vocab=r)})
v = [float(x) for x in np.sin(np.arange(kv.vector_size, dtype=np.float64))]
out["by_vector"] = {"vector": v, "neighbors": kv.similar_by_vector(np.array(v, dtype=np.float32), topn=5)}
for i in range(6):
    a, b = pick(10 + i), pick(20 + i)
    out["similarity"].append([a, b, float(kv.similarity(a, b))])
for i in range(4):
    ws = [pick(30 + 4 * i + j) for j in range(4)]
    out["doesnt_match"].append([ws, kv.doesnt_match(ws)])
score, secs = kv.evaluate_word_analogies(qpath, restrict_vocab=restrict)
out["analogies"] = {"score": score, "sections": [
    {"section": s["section"], "correct": [list(q) for q in s["correct"]], "incorrect": len(s["incorrect"])}
    for s in secs]}
score, secs = kv.evaluate_word_analogies(qpath, restrict_vocab=restrict, dummy4unknown=True)
out["analogies_dummy"] = {"score": score, "total": len(secs[-1]["correct"]) + len(secs[-1]["incorrect"])}
out["pairs"] = []
for f in pair_files:
    for dummy in (False, True):
        try:
            p, s, o = kv.evaluate_word_pairs(f, restrict_vocab=restrict, dummy4unknown=dummy)
            nan = lambda x: None if np.isnan(x) else float(x)  # JSON has no NaN
            out["pairs"].append({"file": f, "dummy": dummy, "pearson": nan(p[0]),
                                 "spearman": nan(s[0]), "oov_ratio": o})
        except ValueError:
            out["pairs"].append({"file": f, "dummy": dummy, "error": True})
json.dump(out, sys.stdout)
