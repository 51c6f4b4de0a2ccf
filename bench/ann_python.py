"""The anchors of bench/ann.sh on one data set, one JSON line per (library, setting):
hnswlib, faiss HNSW, faiss IVF-PQ and usearch, in the ann-benchmarks manner (angular distance,
recall@10 against exact search, the query word itself excluded), with build time, CPU seconds
and index memory. Queries are answered in one batch call on THREADS threads.

Usage: ann_python.py DATA THREADS LIB[,LIB...]   (DATA: prefix of DATA.npy, .queries.u32,
.truth.u32 written by ann_prep.py)
"""
import json, os, sys, tempfile, time
import numpy as np

data, threads, libs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
e = np.load(f"{data}.npy")
e /= np.linalg.norm(e, axis=1, keepdims=True)
qids = np.fromfile(f"{data}.queries.u32", dtype=np.uint32)
truth = np.fromfile(f"{data}.truth.u32", dtype=np.uint32).reshape(len(qids), 10)
q = e[qids]
n, dims = e.shape
M, EFC = 16, 200
EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]


def recall(found):
    """found: (nq, 11) ids; the query itself dropped, first 10 kept."""
    hit = 0
    for i in range(len(qids)):
        row = [x for x in found[i] if x != qids[i] and x >= 0][:10]
        hit += len(set(row) & set(truth[i].tolist()))
    return hit / truth.size


def clock():
    return time.perf_counter(), time.process_time()


def since(t):
    w, c = clock()
    return w - t[0], c - t[1]


def out(**kw):
    print(json.dumps(kw), flush=True)


def file_size(save):
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "ix")
        save(p)
        return os.path.getsize(p)


for lib in libs:
    if lib == "hnswlib":
        import hnswlib
        ix = hnswlib.Index(space="cosine", dim=dims)
        ix.init_index(max_elements=n, ef_construction=EFC, M=M, random_seed=42)
        t = clock()
        ix.add_items(e, np.arange(n), num_threads=threads)
        bw, bc = since(t)
        mem = file_size(ix.save_index)
        for ef in EFS:
            ix.set_ef(max(ef, 11))
            t = clock()
            labels, _ = ix.knn_query(q, k=11, num_threads=threads)
            w, c = since(t)
            out(lib="hnswlib", threads=threads, param=f"ef={ef}", recall=recall(labels),
                qps=len(q) / w, query_cpu_s=c, build_s=bw, build_cpu_s=bc, index_bytes=mem)
    elif lib in ("faiss-hnsw", "faiss-ivfpq"):
        import faiss
        faiss.omp_set_num_threads(threads)
        if lib == "faiss-hnsw":
            ix = faiss.IndexHNSWFlat(dims, M, faiss.METRIC_INNER_PRODUCT)
            ix.hnsw.efConstruction = EFC
            t = clock()
            ix.add(e)
            bw, bc = since(t)
            params = [("efSearch", ef) for ef in EFS]
        else:
            m = {50: 25, 300: 50}.get(dims, dims // 4)
            nlist = 1024
            quant = faiss.IndexFlatIP(dims)
            ix = faiss.IndexIVFPQ(quant, dims, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
            t = clock()
            ix.train(e[np.random.default_rng(3).choice(n, 100_000, replace=False)])
            ix.add(e)
            bw, bc = since(t)
            params = [("nprobe", p) for p in [1, 2, 4, 8, 16, 32, 64, 128, 256]]
        mem = len(faiss.serialize_index(ix))
        for name, v in params:
            if name == "efSearch":
                ix.hnsw.efSearch = max(v, 11)
            else:
                ix.nprobe = v
            t = clock()
            _, labels = ix.search(q, 11)
            w, c = since(t)
            out(lib=lib, threads=threads, param=f"{name}={v}", recall=recall(labels),
                qps=len(q) / w, query_cpu_s=c, build_s=bw, build_cpu_s=bc, index_bytes=mem)
    elif lib == "usearch":
        from usearch.index import Index
        ix = Index(ndim=dims, metric="cos", dtype="f32", connectivity=M,
                   expansion_add=EFC, expansion_search=64)
        t = clock()
        ix.add(np.arange(n), e, threads=threads)
        bw, bc = since(t)
        mem = file_size(lambda p: ix.save(p))
        for ef in EFS:
            ix.expansion_search = max(ef, 11)
            t = clock()
            m = ix.search(q, 11, threads=threads)
            w, c = since(t)
            out(lib="usearch", threads=threads, param=f"ef={ef}", recall=recall(m.keys.astype(np.int64)),
                qps=len(q) / w, query_cpu_s=c, build_s=bw, build_cpu_s=bc, index_bytes=mem)
    else:
        sys.exit(f"unknown library {lib}")
