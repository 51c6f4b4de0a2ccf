#!/usr/bin/env python3
"""4-bit PQ query speed: embers' fast scan against its own f32-table scan and faiss's fast scan.

Usage: bench/fastscan.sh [OUT]   (or: python bench/fastscan.py --embers target/release/embers
       --data testdata-fetched/glove6b50d --out bench-out/fastscan [--w2v glove.bin])

On the real GloVe 6B 50d vectors (400,000 x 50), for M in (25, 50) subquantizers of 4 bits:

- embers: `embers quantize --to pq --bits 4 -m M` (and with --normalize); then `embers similar
  --json -k 10` of 1,000 query words (seeded sample of the first 30,000, the word's own row the
  query, the word excluded) with the fast scan (the default) and with `--float-adc` (f32 lookup
  tables on every row), RAYON_NUM_THREADS=1. Query ms = (time of the 1,000-word run minus a
  one-word run, which loads the file and builds the fast-scan layout) / 999, wall and CPU.
  The two answers are compared word by word and score by score.
- faiss: index_factory(d, "PQ{M}x4fs", METRIC_INNER_PRODUCT) on the unit rows (cosine), trained
  on all rows, 1 thread; the 1,000 unit query rows searched with k = 11 (the query row dropped)
  as one batch and one query at a time.
- recall@10 of each against exact f32 cosine neighbours (all rows, the query word excluded).
- with --stats (the `fastscan_stats` example), in process: rows re-scored a query, ms a query
  of either scan without the CLI around it, and whether any answer differs.

With --bits 8 (BITS=8 in bench/fastscan.sh): byte codes, `embers quantize --to pq --bits 8`
against faiss's `PQ{M}x8` on the unit rows, the same timing (embers has no second scan to
compare with, so those columns are nan).

CPU seconds (getrusage) and `uptime` are printed: the machine may be shared.
"""
import argparse
import json
import os
import subprocess
import time

import numpy as np

# The same helpers as the compression benchmark beside this file (run as a script from bench/).
from compress import cpu_children, cpu_self, recall, unit, write_w2v_bin


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def drop_self(ids, qids, k):
    return [[i for i in row if i != q and i >= 0][:k] for row, q in zip(ids, qids)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embers", required=True)
    ap.add_argument("--data", required=True, help="folder with emb.npy and words.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--w2v", default=None, help="word2vec binary of the same rows (else written)")
    ap.add_argument("--ms", default="25,50")
    ap.add_argument("--bits", type=int, default=4, choices=(4, 8),
                    help="4: fast scan against faiss PQ{M}x4fs; 8: the byte-code scan against "
                         "faiss PQ{M}x8 (no --float-adc twin)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stats", default=None,
                    help="the fastscan_stats example binary: rows re-scored, in-process times")
    args = ap.parse_args()

    import faiss

    faiss.omp_set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    print(f"# start: {uptime()}", flush=True)
    x = np.load(os.path.join(args.data, "emb.npy")).astype(np.float32)
    with open(os.path.join(args.data, "words.txt"), encoding="utf-8") as f:
        words = f.read().split("\n")[: x.shape[0]]
    n, d = x.shape
    w2v = args.w2v or os.path.join(args.out, "glove.bin")
    write_w2v_bin(w2v, words, x)
    word_id = {w: i for i, w in enumerate(words)}
    rng = np.random.default_rng(args.seed)
    qids = np.sort(rng.choice(min(30000, n), size=args.queries, replace=False))
    xn = unit(x)
    _, ids = faiss.knn(xn[qids], xn, 11, metric=faiss.METRIC_INNER_PRODUCT)
    truth = drop_self(ids, qids, 10)
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    qwords = [words[i] for i in qids]
    rows = []

    def similar(path, extra):
        base = [args.embers, "similar", path, "--json", "-k", "10"] + extra + ["--"]
        c0, t0 = cpu_children(), time.time()
        subprocess.run(base + qwords[:1], env=env, check=True, capture_output=True)
        one, one_cpu = time.time() - t0, cpu_children() - c0
        c0, t0 = cpu_children(), time.time()
        out = subprocess.run(base + qwords, env=env, check=True, capture_output=True, text=True)
        wall, cpu = time.time() - t0, cpu_children() - c0
        per = max(len(qwords) - 1, 1)
        res = [json.loads(line)["neighbors"] for line in out.stdout.splitlines()]
        got = [[word_id[h["word"]] for h in r] for r in res]
        return {
            "ms": max(wall - one, 0.0) * 1000 / per,
            "cpu_ms": max(cpu - one_cpu, 0.0) * 1000 / per,
            "load_s": one,
            "recall10": recall(got, truth),
            "answers": res,
        }

    for m in [int(v) for v in args.ms.split(",")]:
        for normalize in (False, True):
            label = f"embers pq{m}x{args.bits}" + (" --normalize" if normalize else "")
            path = os.path.join(args.out, f"pq{m}x{args.bits}{'n' if normalize else ''}.embers")
            cmd = [args.embers, "quantize", w2v, path, "--to", "pq", "--bits", str(args.bits),
                   "-m", str(m),
                   "--json", "--progress", "none"] + (["--normalize"] if normalize else [])
            c0 = cpu_children()
            rep = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                            text=True).stdout)
            info = json.loads(subprocess.run([args.embers, "info", path, "--json"], check=True,
                                             capture_output=True, text=True).stdout)
            fast = similar(path, [])
            # 8-bit codes have one scan (f32 tables): nothing to compare it with.
            nan = {"ms": float("nan"), "cpu_ms": float("nan"), "recall10": float("nan")}
            flt = similar(path, ["--float-adc"]) if args.bits == 4 else nan
            differ = (sum(a != b for a, b in zip(fast["answers"], flt["answers"]))
                      if args.bits == 4 else None)
            stats = None
            if args.stats and args.bits == 4:
                stats = json.loads(subprocess.run([args.stats, path, "1000"], env=env, check=True,
                                                  capture_output=True, text=True).stdout)
                print(f"# {label} in process: {json.dumps(stats)}", flush=True)
            rows.append({
                "what": label, "bytes": info["vector_bytes"],
                "fast_ms": fast["ms"], "fast_cpu_ms": fast["cpu_ms"],
                "float_ms": flt["ms"], "float_cpu_ms": flt["cpu_ms"],
                "recall10": fast["recall10"], "recall10_float": flt["recall10"],
                "differ": differ, "encode_s": rep.get("quantize_seconds"),
                "load_s": fast["load_s"], "stats": stats,
            })
            print(f"# {label}: {info['vector_bytes']} bytes; encode {rep.get('quantize_seconds')}"
                  f" s ({cpu_children() - c0:.1f} CPU s with the queries); queries differing"
                  f" fast vs float: {differ}; {uptime()}", flush=True)
        # faiss's fast scan (or its byte-code PQ) on the unit rows.
        fkind = f"PQ{m}x4fs" if args.bits == 4 else f"PQ{m}x8"
        index = faiss.index_factory(d, fkind, faiss.METRIC_INNER_PRODUCT)
        c0, t0 = cpu_self(), time.time()
        index.train(xn)
        index.add(xn)
        enc = time.time() - t0, cpu_self() - c0
        q = np.ascontiguousarray(xn[qids])
        index.search(q[:10], 11)  # warm up
        c0, t0 = cpu_self(), time.time()
        _, ids = index.search(q, 11)
        batch_ms, batch_cpu = (time.time() - t0) * 1000 / len(q), (cpu_self() - c0) * 1000 / len(q)
        c0, t0 = cpu_self(), time.time()
        one_ids = np.vstack([index.search(q[i:i + 1], 11)[1] for i in range(len(q))])
        one_ms, one_cpu = (time.time() - t0) * 1000 / len(q), (cpu_self() - c0) * 1000 / len(q)
        rows.append({
            "what": f"faiss {fkind} (unit rows)", "bytes": None,
            "fast_ms": one_ms, "fast_cpu_ms": one_cpu, "float_ms": batch_ms,
            "float_cpu_ms": batch_cpu,
            "recall10": recall(drop_self(one_ids, qids, 10), truth),
            "recall10_float": recall(drop_self(ids, qids, 10), truth),
            "differ": None, "encode_s": enc[0], "load_s": None,
        })
        print(f"# faiss {fkind}: train+add {enc[0]:.1f} s ({enc[1]:.1f} CPU s); {uptime()}",
              flush=True)

    print()
    print("| index | vector bytes | ms/query fast (CPU ms) | ms/query f32 tables (CPU ms) "
          "| recall@10 fast | recall@10 f32 tables | answers differing |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if r["what"].startswith("faiss"):
            print(f"| {r['what']} | - | {r['fast_ms']:.3f} ({r['fast_cpu_ms']:.3f}) one at a "
                  f"time; {r['float_ms']:.3f} ({r['float_cpu_ms']:.3f}) as one batch | - | "
                  f"{r['recall10']:.4f} | (batch) {r['recall10_float']:.4f} | - |")
        else:
            print(f"| {r['what']} | {r['bytes']:,} | {r['fast_ms']:.3f} ({r['fast_cpu_ms']:.3f}) "
                  f"| {r['float_ms']:.3f} ({r['float_cpu_ms']:.3f}) | {r['recall10']:.4f} | "
                  f"{r['recall10_float']:.4f} | {r['differ']} / {len(qids)} |")
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(f"# end: {uptime()}; this process {cpu_self():.1f} CPU s, children "
          f"{cpu_children():.1f} CPU s", flush=True)


if __name__ == "__main__":
    main()
