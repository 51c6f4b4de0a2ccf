# Benchmark helper for bench/query.sh.
#   python3 query_gensim.py make OUT.embers QUESTIONS [ROWS DIMS SEED]
#       writes a synthetic GloVe-like model (clustered vectors, lowercase vocabulary holding
#       every questions-words.txt word within the first 300,000 rows) in embers' native format,
#       plus OUT.queries (1,000 query words).
#   python3 query_gensim.py time MODEL.embers QUESTIONS
#       times gensim 4.4 on it and prints one JSON object.
import json, struct, sys, time
import numpy as np

def write_native(path, words, vectors):
    vb = b"".join(w.encode() for w in words)
    offs = np.zeros(len(words) + 1, dtype=np.uint64)
    offs[1:] = np.cumsum([len(w.encode()) for w in words])
    mat = np.ascontiguousarray(vectors, dtype=np.float32)
    tensors = [("vocab.offsets", "U64", [len(offs)], offs.tobytes()),
               ("embeddings", "F32", list(mat.shape), mat.tobytes()),
               ("vocab.bytes", "U8", [len(vb)], vb)]
    header, at = {}, 0
    for name, dt, shape, data in tensors:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [at, at + len(data)]}
        at += len(data)
    header["__metadata__"] = {"format": "embers", "version": "1", "rows": str(mat.shape[0]),
                              "dims": str(mat.shape[1]), "storage": "f32",
                              "provenance": "bench/query_gensim.py synthetic GloVe-like model"}
    js = json.dumps(header).encode()
    js += b" " * ((64 - (8 + len(js)) % 64) % 64)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js)
        for _, _, _, data in tensors:
            f.write(data)

def read_native(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    h = json.loads(raw[8:8 + n])
    base = 8 + n
    def get(name, dtype):
        a, b = h[name]["data_offsets"]
        return np.frombuffer(raw[base + a: base + b], dtype=dtype).reshape(h[name]["shape"])
    offs, vb = get("vocab.offsets", np.uint64), get("vocab.bytes", np.uint8).tobytes()
    words = [vb[offs[i]:offs[i + 1]].decode() for i in range(len(offs) - 1)]
    return words, get("embeddings", np.float32)

def make(out, questions, rows=400_000, dims=50, seed=1):
    rng = np.random.default_rng(seed)
    qwords = []
    for line in open(questions):
        if not line.startswith(":"):
            qwords += [w.lower() for w in line.split()]
    qwords = list(dict.fromkeys(qwords))
    # Question words take ranks spread over the first 30,000 (frequent words), fillers the rest.
    ranks = rng.choice(30_000, size=len(qwords), replace=False)
    words = [None] * rows
    for w, r in zip(qwords, ranks):
        words[r] = w
    k = 0
    for i in range(rows):
        if words[i] is None:
            words[i] = f"w{k}"
            k += 1
    # GloVe-like geometry: topics (cluster centres) of varying spread, word vectors scattered
    # around them, rarer words noisier and shorter.
    topics = rng.normal(size=(4000, dims)).astype(np.float32)
    topic = rng.integers(0, len(topics), size=rows)
    rank = np.arange(rows, dtype=np.float32)
    noise = (0.5 + 0.5 * (rank / rows))[:, None]
    vec = topics[topic] * 0.9 + rng.normal(size=(rows, dims)).astype(np.float32) * noise
    vec *= (1.5 - 0.7 * (rank / rows))[:, None]
    write_native(out, words, vec.astype(np.float32))
    q = rng.choice(30_000, size=1000, replace=False)
    open(out + ".queries", "w").write("\n".join(words[i] for i in q) + "\n")

def timed(fn):
    t = time.perf_counter(); r = fn(); return time.perf_counter() - t, r

def time_gensim(model, questions):
    from gensim.models import KeyedVectors
    words, mat = read_native(model)
    kv = KeyedVectors(mat.shape[1])
    kv.add_vectors(words, np.array(mat))
    kv.fill_norms()
    queries = open(model + ".queries").read().split()
    lat = []
    for w in queries[:100]:
        t, _ = timed(lambda: kv.most_similar(w, topn=10))
        lat.append(t)
    batch, _ = timed(lambda: [kv.most_similar(w, topn=10) for w in queries])
    ev, (score, secs) = timed(lambda: kv.evaluate_word_analogies(questions))
    print(json.dumps({"tool": "gensim 4.4", "single_median_ms": 1e3 * float(np.median(lat)),
                      "batch_1000_s": batch, "analogies_s": ev, "analogy_accuracy": score,
                      "analogy_answered": len(secs[-1]["correct"]) + len(secs[-1]["incorrect"])}))

if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], *[int(x) for x in sys.argv[4:]])
    else:
        time_gensim(sys.argv[2], sys.argv[3])
