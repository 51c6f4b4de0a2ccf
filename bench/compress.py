#!/usr/bin/env python3
"""Compression at equal bytes: faiss's quantizers against embers' on real vectors.

For every budget (bytes a row, everything a row carries counted: codes, norms, scales), faiss
(PQ, OPQ, RQ, LSQ through index_factory) and embers (`embers quantize`) compress the same
matrix; every result is scored the same way on its reconstructed rows:

- relative squared error  sum ||x - x^||^2 / sum ||x||^2 over all rows (of the unit rows for
                          embers' --normalize configurations, named n…);
- recall@10               top-10 cosine neighbours of 1,000 query words (seeded sample of the
                          first 30,000 words; the query is the word's compressed row, the word
                          itself excluded) against exact f32 search over all rows;
- analogy accuracy        gensim's evaluate_word_analogies protocol (unit rows, b - a + c, the
                          three question words excluded, case-insensitive, questions with unknown
                          words skipped) at restrict_vocab 30,000 and 300,000 (gensim's default),
                          batched in numpy; the batched code is checked against gensim itself on
                          the f32 rows at 30,000 (--check-gensim);
- encode seconds          train + encode (faiss: train + add; embers: the CLI's quantize_seconds),
                          (embers kinds: pq, opq = pq --rotation opq, rq = --to rq)
                          wall and CPU;
- query ms                one query over all codes: faiss index.search (k = 11) of the 1,000
                          queries (RQ and LSQ, which decode every row a query: the first 50,
                          --slow-queries); embers `embers similar` of the 1,000 words, minus a
                          one-word run.

embers' neighbours and analogies are also taken from the CLI itself (`embers similar --json`,
`embers eval --analogies`), so the figures are those a user gets from the file.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def cpu_self():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def read_safetensors(path):
    """Header (name -> (dtype, shape, (start, end))) and metadata of a safetensors file."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", {})
    return header, meta, 8 + n


def read_tensor(path, name):
    header, _, base = read_safetensors(path)
    t = header[name]
    dt = {"F32": "<f4", "F16": "<f2", "U8": "u1", "I8": "i1", "U32": "<u4", "U64": "<u8"}[t["dtype"]]
    a, b = t["data_offsets"]
    with open(path, "rb") as f:
        f.seek(base + a)
        data = f.read(b - a)
    return np.frombuffer(data, dtype=dt).reshape(t["shape"])


def write_w2v_bin(path, words, x):
    if os.path.exists(path):
        return
    with open(path + ".part", "wb") as f:
        f.write(f"{x.shape[0]} {x.shape[1]}\n".encode())
        for w, row in zip(words, x):
            f.write(w.encode("utf-8") + b" " + row.astype("<f4").tobytes() + b"\n")
    os.replace(path + ".part", path)


def unit(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1
    return (x / n).astype(np.float32)


def topk(vn, qn, qids, k=10):
    """Top-k cosine rows of every query (unit rows), the query's own row excluded: an exact
    inner-product scan (faiss.knn, a brute-force f32 kernel with heap selection)."""
    import faiss

    _, ids = faiss.knn(np.ascontiguousarray(qn), np.ascontiguousarray(vn), k + 1,
                       metric=faiss.METRIC_INNER_PRODUCT)
    out = np.empty((len(qids), k), dtype=np.int64)
    for r, (row, q) in enumerate(zip(ids, qids)):
        keep = [i for i in row if i != q][:k]
        out[r] = keep
    return out


def recall(approx, truth):
    return float(np.mean([len(set(a) & set(t)) / len(t) for a, t in zip(approx, truth)]))


def load_questions(path, words, restrict):
    """gensim's evaluate_word_analogies question filter: upper-cased words of the first
    `restrict` rows (the most frequent spelling wins), questions with a missing word skipped."""
    ok = {}
    for i in reversed(range(min(restrict, len(words)))):
        ok[words[i].upper()] = i
    qs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                continue
            parts = [w.upper() for w in line.split()]
            if len(parts) != 4:
                continue
            if all(p in ok for p in parts):
                qs.append([ok[p] for p in parts])
    return np.array(qs, dtype=np.int64)


def analogy(vn, qs, restrict, chunk=256):
    """Fraction of questions whose best row (not one of a, b, c) by cosine to b - a + c is d."""
    v = vn[:restrict]
    correct = 0
    for s in range(0, len(qs), chunk):
        q = qs[s:s + chunk]
        target = v[q[:, 1]] + v[q[:, 2]] - v[q[:, 0]]
        sc = target @ v.T
        r = np.arange(len(q))
        for c in range(3):
            sc[r, q[:, c]] = -np.inf
        correct += int((sc.argmax(axis=1) == q[:, 3]).sum())
    return correct / max(len(qs), 1)


def faiss_methods(budget, d):
    out = []
    if d % budget == 0:
        out.append(("PQ", f"PQ{budget}x8"))
    d2 = budget * -(-d // budget)
    out.append(("OPQ", f"OPQ{budget}_{d2},PQ{budget}x8"))
    out.append(("RQ", f"RQ{budget}x8"))
    out.append(("LSQ", f"LSQ{budget}x8"))
    return out


def set_faiss_seed(index, s):
    """Offsets the seeds of the quantizer's k-means (PQ, RQ) or random start (LSQ) by `s`.
    OPQ's rotation starts from a fixed seed in faiss; only its training sample changes."""
    import faiss

    idx = index
    if isinstance(index, faiss.IndexPreTransform):
        idx = faiss.downcast_index(index.index)
    for name in ("pq", "rq", "lsq"):
        q = getattr(idx, name, None)
        if q is None:
            continue
        if hasattr(q, "cp"):
            q.cp.seed += s
        if hasattr(q, "random_seed"):
            q.random_seed += s


def faiss_table_bytes(index, d):
    """Bytes of the codebooks and rotation (not per row)."""
    import faiss

    total = 0
    idx = index
    if isinstance(index, faiss.IndexPreTransform):
        for i in range(index.chain.size()):
            lt = faiss.downcast_VectorTransform(index.chain.at(i))
            total += lt.d_in * lt.d_out * 4
        idx = faiss.downcast_index(index.index)
    if hasattr(idx, "pq"):
        total += idx.pq.M * idx.pq.ksub * idx.pq.dsub * 4
    elif hasattr(idx, "rq"):
        total += faiss.vector_to_array(idx.rq.codebooks).size * 4
    elif hasattr(idx, "lsq"):
        total += faiss.vector_to_array(idx.lsq.codebooks).size * 4
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--embers", required=True)
    ap.add_argument("--data", required=True, help="folder with emb.npy and words.txt")
    ap.add_argument("--questions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--budgets", default="4,8,10,16,25")
    ap.add_argument("--faiss", default="PQ,OPQ,RQ,LSQ",
                    help="faiss kinds to run (or none); nKIND (e.g. nRQ) on the unit rows")
    ap.add_argument("--embers-configs",
                    default="pq:5,pq:10,pq:25,opq:5,opq:10,opq:25,rq:5,rq:10,rq:25",
                    help="KIND:M[:flag=value+...] with KIND pq, opq, rq (n… to --normalize)")
    ap.add_argument("--train", type=int, default=65536, help="training rows (all kinds)")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--faiss-seeds", default="0",
                    help="comma-separated seeds of faiss's training: 0 is the shared training "
                         "sample with faiss's own k-means seeds; s > 0 draws another sample "
                         "(of the same size) and offsets the k-means seeds by s")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--slow-queries", type=int, default=50,
                    help="queries timed for faiss kinds that decode every row a query (RQ, LSQ)")
    ap.add_argument("--check-gensim", action="store_true")
    ap.add_argument("--analogy-300k", action="store_true",
                    help="also score analogies at restrict_vocab 300,000 (10x the work)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--merge", nargs="*", default=[],
                    help="results.json files of earlier runs (same data and queries) to add to "
                         "the table, their embers rows labelled with --merge-label")
    ap.add_argument("--merge-label", default="earlier")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    x = np.load(os.path.join(args.data, "emb.npy")).astype(np.float32)
    with open(os.path.join(args.data, "words.txt"), encoding="utf-8") as f:
        words = f.read().split("\n")[: x.shape[0]]
    n, d = x.shape
    w2v = os.path.join(args.out, "glove.bin")
    write_w2v_bin(w2v, words, x)
    word_id = {w: i for i, w in enumerate(words)}

    rng = np.random.default_rng(args.seed)
    qids = np.sort(rng.choice(min(30000, n), size=args.queries, replace=False))
    xn = unit(x)
    t = time.time()
    truth = topk(xn, xn[qids], qids)
    exact_ms = (time.time() - t) * 1000 / len(qids)
    q30 = load_questions(args.questions, words, 30000)
    q300 = load_questions(args.questions, words, 300000) if args.analogy_300k else []
    f32 = {
        "lib": "f32",
        "method": "exact",
        "row_bytes": d * 4,
        "all_bytes_row": d * 4,
        "rel_err": 0.0,
        "recall10": 1.0,
        "analogy30k": analogy(xn, q30, 30000),
        "analogy300k": analogy(xn, q300, 300000) if args.analogy_300k else float("nan"),
        "query_ms": exact_ms,
    }
    print(f"# {n} x {d}; {len(qids)} queries; {len(q30)} / {len(q300)} analogy questions "
          f"at 30k / 300k; f32 analogy {f32['analogy30k']:.4f} / {f32['analogy300k']:.4f}",
          flush=True)
    if args.check_gensim:
        from gensim.models import KeyedVectors

        kv = KeyedVectors(d)
        kv.add_vectors(words[:30000], x[:30000])
        g, _ = kv.evaluate_word_analogies(args.questions, restrict_vocab=30000)
        print(f"# gensim evaluate_word_analogies (restrict 30000) on f32: {g:.6f}; batched: "
              f"{f32['analogy30k']:.6f}", flush=True)
        assert abs(g - f32["analogy30k"]) < 1e-9, "batched analogy disagrees with gensim"

    def score(rec, xh, ref=x):
        xh = np.asarray(xh, dtype=np.float32)
        rec["rel_err"] = float(((ref - xh) ** 2).sum(dtype=np.float64) / (ref.astype(np.float64) ** 2).sum())
        hn = unit(xh)
        rec["recall10"] = recall(topk(hn, hn[qids], qids), truth)
        rec["analogy30k"] = analogy(hn, q30, 30000)
        rec["analogy300k"] = analogy(hn, q300, 300000) if args.analogy_300k else float("nan")
        king = word_id.get("king")
        if king is not None:
            nb = topk(hn, hn[[king]], np.array([king]))[0]
            rec["king"] = [words[i] for i in nb]

    results = [f32]
    train = x[np.sort(rng.choice(n, size=min(args.train, n), replace=False))]
    budgets = [int(b) for b in args.budgets.split(",")]
    kinds = set(args.faiss.split(",")) if args.faiss != "none" else set()
    if kinds:
        import faiss

        faiss.omp_set_num_threads(args.threads)
        fseeds = [int(v) for v in args.faiss_seeds.split(",")]
        for b, (kind, desc), norm, fs in [(b, m, norm, fs) for b in budgets
                                          for m in faiss_methods(b, d)
                                          for norm in (False, True) for fs in fseeds]:
            # nKIND: faiss on the unit rows (what a user does for cosine search), its error
            # measured against the unit rows, as for embers' n… configurations.
            if ("n" + kind if norm else kind) not in kinds:
                continue
            rec = {"lib": "faiss", "budget": b, "faiss_seed": fs,
                   "method": ("unit rows, " if norm else "") + desc
                   + (f", seed {fs}" if len(fseeds) > 1 else "")}
            try:
                index = faiss.index_factory(d, desc)
            except RuntimeError as e:
                print(f"# faiss {desc}: {e}".splitlines()[0], flush=True)
                continue
            tr = train
            if fs != 0:
                # Another training sample and other k-means seeds: faiss's seed-to-seed spread,
                # as embers' seed=… configurations give embers'.
                frng = np.random.default_rng(10_000 + fs)
                tr = x[np.sort(frng.choice(n, size=min(args.train, n), replace=False))]
                set_faiss_seed(index, fs)
            w0, c0 = time.time(), cpu_self()
            index.train(unit(tr) if norm else tr)
            index.add(xn if norm else x)
            rec["encode_s"] = time.time() - w0
            rec["encode_cpu_s"] = cpu_self() - c0
            xh = index.reconstruct_n(0, n)
            rec["row_bytes"] = index.sa_code_size()
            rec["all_bytes_row"] = rec["row_bytes"] + faiss_table_bytes(index, d) / n
            # faiss's RQ and LSQ indexes decode every row for each query (seconds a query
            # on one thread): their time is taken on the first --slow-queries queries.
            tq = qids if kind in ("PQ", "OPQ") else qids[: args.slow_queries]
            t = time.time()
            index.search(xh[tq], 11)
            rec["query_ms"] = (time.time() - t) * 1000 / len(tq)
            rec["query_timed"] = len(tq)
            score(rec, xh, xn if norm else x)
            results.append(rec)
            print(json.dumps(rec), flush=True)

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    for cfg in [c for c in args.embers_configs.split(",") if c]:
        # KIND:M[:flag=value+flag=value], e.g. opq:10, rq:10, rq:10:beam=8+refine=0, lsq:8.
        kind, m, *flags = cfg.split(":")
        label = f"{kind}{m}" + "".join(f"-{f.replace('=', '')}" for f in "+".join(flags).split("+") if f)
        out = os.path.join(args.out, f"embers-{label}.safetensors")
        # n…: --normalize (unit rows; the error is then measured against the unit rows).
        normalized = kind.startswith("n")
        to = "rq" if kind.endswith("rq") else "lsq" if kind.endswith("lsq") else "pq"
        extra = ["--rotation", "opq"] if kind.endswith("opq") else []
        extra += ["--normalize"] if normalized else []
        for f in "+".join(flags).split("+"):
            if f:
                k, v = f.split("=")
                extra += [f"--{k.replace('_', '-')}", v]
        cmd = [args.embers, "quantize", w2v, out, "--to", to, "-m", m, "--json",
               "--progress", "none"] + extra
        c0, w0 = cpu_children(), time.time()
        rep = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
        rec = {"lib": "embers", "method": label, "cmd": " ".join(cmd[1:])}
        rec["process_s"] = time.time() - w0
        rec["process_cpu_s"] = cpu_children() - c0
        rec["encode_s"] = rep["quantize_seconds"]
        info = json.loads(subprocess.run([args.embers, "info", out, "--json"], check=True,
                                         capture_output=True, text=True).stdout)
        header, _, _ = read_safetensors(out)
        per_row = sum(int(np.prod(t["shape"])) * {"F32": 4, "F16": 2, "U8": 1, "I8": 1}[t["dtype"]]
                      for name, t in header.items()
                      if name in ("codes", "norms", "scales", "offsets_row", "embeddings"))
        rec["row_bytes"] = per_row / n
        rec["all_bytes_row"] = info["vector_bytes"] / n
        dec = os.path.join(args.out, "decoded.safetensors")
        subprocess.run([args.embers, "quantize", out, dec, "--to", "f32", "--progress", "none"],
                       env=env, check=True, capture_output=True)
        xh = read_tensor(dec, "embeddings")
        os.remove(dec)
        score(rec, xh, xn if normalized else x)
        # The CLI's own answers: neighbours and analogies scored on the codes.
        qwords = [words[i] for i in qids]
        base = [args.embers, "similar", out, "--json", "-k", "10", "--"]
        t = time.time()
        subprocess.run(base + qwords[:1], env=env, check=True, capture_output=True)
        one = time.time() - t
        t = time.time()
        sim = subprocess.run(base + qwords, env=env, check=True, capture_output=True, text=True)
        rec["query_ms"] = max(time.time() - t - one, 0.0) * 1000 / max(len(qwords) - 1, 1)
        cli = []
        for line in sim.stdout.splitlines():
            cli.append([word_id[h["word"]] for h in json.loads(line)["neighbors"]])
        rec["recall10_cli"] = recall(cli, truth)
        ev = json.loads(subprocess.run(
            [args.embers, "eval", out, "--analogies", args.questions, "--restrict-vocab", "30000",
             "--json"], env=env, check=True, capture_output=True, text=True).stdout)
        rec["analogy30k_cli"] = ev["analogies"]["accuracy"] if isinstance(ev["analogies"], dict) else ev["analogies"]
        results.append(rec)
        print(json.dumps(rec), flush=True)

    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=1)
    for path in args.merge:
        with open(path) as f:
            for r in json.load(f):
                if r["lib"] == "f32":
                    continue
                if r["lib"] == "embers":
                    r["lib"] = f"embers ({args.merge_label})"
                results.append(r)
    report(results, budgets, f32)


def report(results, budgets, f32):
    print()
    print("| library | method | bytes/row (codes+norms) | all bytes/row (+tables) | rel. sq. error "
          "| recall@10 | analogy 30k | analogy 300k | encode s (CPU s) | query ms | king's top 5 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in sorted(results, key=lambda r: (r["row_bytes"] if r["lib"] != "f32" else 1e9, r["lib"])):
        enc = "" if "encode_s" not in r else (
            f"{r['encode_s']:.1f} ({r.get('encode_cpu_s', r.get('process_cpu_s', 0)):.1f})")
        print(f"| {r['lib']} | {r['method']} | {r['row_bytes']:.1f} | {r['all_bytes_row']:.2f} | "
              f"{r['rel_err']:.4f} | {r['recall10']:.4f} | {r['analogy30k']:.4f} | "
              f"{r['analogy300k']:.4f} | {enc} | {r['query_ms']:.2f} | "
              f"{', '.join(r.get('king', [])[:5])} |")
    print()
    print("Best at each budget (bytes/row ≤ budget; best recall@10 / best analogy 30k):")
    print("| budget | faiss best recall@10 | embers best recall@10 | faiss best analogy 30k | embers best analogy 30k |")
    print("| ---: | --- | --- | --- | --- |")
    for b in budgets:
        row = [f"| {b}"]
        for key in ("recall10", "analogy30k"):
            for lib in ("faiss", "embers"):
                c = [r for r in results if r["lib"] == lib and r["row_bytes"] <= b + 1e-9]
                if c:
                    best = max(c, key=lambda r: r[key])
                    row.append(f"{best[key]:.4f} ({best['method']})")
                else:
                    row.append("—")
        print(" | ".join([row[0], row[1], row[2], row[3], row[4]]) + " |")


if __name__ == "__main__":
    sys.exit(main())
