"""Tables of bench/ann.sh from its JSON lines: per data set and thread count, each library's
build time (wall, CPU), index bytes, and the best queries/s among settings reaching recall@10
0.80 / 0.90 / 0.95 / 0.99 (0.80 for data where no setting reaches 0.90; with the CPU seconds of that setting's 10,000 queries), with embers' ratio
to the best other, by wall clock and by CPU seconds (the machine is shared: a library that ran
while others were busy got fewer cores; CPU seconds do not depend on that); then exact top-10
against numpy."""
import json, sys, os

out, sets = sys.argv[1], sys.argv[2:]
for s in sets:
    for t in (1, 2):
        p = f"{out}/{s}-t{t}.jsonl"
        if not os.path.exists(p):
            continue
        rows = [json.loads(l) for l in open(p) if l.startswith("{")]
        libs = []
        for r in rows:
            if r["lib"] not in libs:
                libs.append(r["lib"])
        print(f"\n### {s}, {t} thread(s)\n")
        print("| library | build s (CPU s) | index MB | q/s @0.80 (CPU s) | q/s @0.90 (CPU s) | q/s @0.95 (CPU s) | q/s @0.99 (CPU s) | max recall |")
        print("|---|---|---|---|---|---|---|---|")
        best = {}
        best_cpu = {}
        for lib in libs:
            rs = [r for r in rows if r["lib"] == lib]
            cells = []
            for target in (0.80, 0.90, 0.95, 0.99):
                ok = [r for r in rs if r["recall"] >= target]
                q = max((r["qps"] for r in ok), default=None)
                best.setdefault(target, {})[lib] = q
                best_cpu.setdefault(target, {})[lib] = min((r["query_cpu_s"] for r in ok), default=None)
                if q is None:
                    cells.append("—")
                else:
                    r = max(ok, key=lambda r: r["qps"])
                    cells.append(f"{q:,.0f} ({r['param']}, {r['query_cpu_s']:.2f})")
            r0 = rs[0]
            print(f"| {lib} | {r0['build_s']:.1f} ({r0['build_cpu_s']:.1f}) | {r0['index_bytes']/2**20:.0f} | "
                  + " | ".join(cells) + f" | {max(r['recall'] for r in rs):.4f} |")
        for target, by in best.items():
            mine = by.get("embers")
            others = {k: v for k, v in by.items() if k != "embers" and v}
            if mine and others:
                lib, q = max(others.items(), key=lambda kv: kv[1])
                print(f"\nrecall {target}: embers {mine:,.0f} q/s vs best other {lib} {q:,.0f}: {mine/q:.2f}×", end="")
                c = best_cpu[target]
                oc = {k: v for k, v in c.items() if k != "embers" and v}
                lib, v = min(oc.items(), key=lambda kv: kv[1])
                print(f"; CPU s per 10,000 queries: embers {c['embers']:.2f} vs least {lib} {v:.2f}: {v/c['embers']:.2f}×", end="")
        for key, what in (("build_s", "s"), ("build_cpu_s", "CPU s")):
            b = {r["lib"]: r[key] for r in rows}
            others = {k: v for k, v in b.items() if k not in ("embers", "faiss-ivfpq")}
            if "embers" in b and others:
                lib, v = min(others.items(), key=lambda kv: kv[1])
                print(f"\nbuild: embers {b['embers']:.1f} {what} vs fastest HNSW {lib} {v:.1f} {what}: {v/b['embers']:.2f}× (>1 = embers faster)", end="")
        print()
        p = f"{out}/{s}-t{t}-exact.jsonl"
        if os.path.exists(p):
            rows = [json.loads(l) for l in open(p) if l.startswith("{")]
            n = next((j for j in rows if j["lib"] == "numpy"), None)
            for e in (j for j in rows if j["lib"] == "embers"):
                if n is None:
                    break
                print(f"\nexact top-10 × 1,000: embers ({e.get('path', 'exact')}) {e['best_s']*1e3:.0f} ms (CPU {e['cpu_s']:.2f} s), "
                      f"numpy {n['best_s']*1e3:.0f} ms (CPU {n['cpu_s']:.2f} s, {n['blas']}): "
                      f"{n['best_s']/e['best_s']:.2f}×; identical ordered lists {n['same_ordered_lists']}/1000, "
                      f"same sets {n['same_sets']}/1000, max score gap where different {n['max_score_gap_where_different']:.2e}")
        print()
