#!/usr/bin/env python3
"""Summarises bench/quality.sh results: per trainer, embers and its reference as mean ± sd over
seeds of analogy accuracy, WordSim-353 and SimLex-999 Spearman, wall and CPU seconds; the speed
ratios (reference time / embers time); and parity per score: embers' mean is not below the
reference's mean by more than the reference's sample standard deviation (with one seed, the
check is not made).

usage: quality_summary.py RESULTS.jsonl"""
import json
import statistics
import sys

ORDER = ["sg", "cbow", "sg-hs", "cbow-hs", "ft", "glove"]
SCORES = [("analogy", "analogy"), ("ws353", "WS353"), ("simlex", "SimLex")]


def stats(xs):
    m = statistics.fmean(xs)
    sd = statistics.stdev(xs) if len(xs) > 1 else float("nan")
    return m, sd


def cell(xs, digits=4):
    m, sd = stats(xs)
    return f"{m:.{digits}f}" if len(xs) < 2 else f"{m:.{digits}f} ± {sd:.{digits}f}"


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["trainer"], {}).setdefault(r["tool"], []).append(r)
    print("| trainer | tool | seeds | analogy | WS353 | SimLex | wall s | CPU s | speed (wall, CPU) | parity (analogy, WS353, SimLex) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in sorted(by, key=lambda t: ORDER.index(t) if t in ORDER else 99):
        tools = by[t]
        ref_name = next((k for k in tools if k != "embers"), None)
        for tool in ["embers"] + [k for k in tools if k != "embers"]:
            rs = tools.get(tool)
            if not rs:
                continue
            col = lambda k: [r[k] for r in rs]
            speed = parity = ""
            if tool == "embers" and ref_name:
                ref = tools[ref_name]
                speed = (f"{stats([r['wall'] for r in ref])[0] / stats(col('wall'))[0]:.1f}×, "
                         f"{stats([r['cpu'] for r in ref])[0] / stats(col('cpu'))[0]:.1f}×")
                verdicts = []
                for key, _ in SCORES:
                    em, _ = stats(col(key))
                    rm, rsd = stats([r[key] for r in ref])
                    if len(ref) < 2:
                        verdicts.append(f"{em - rm:+.4f} (1 seed)")
                    else:
                        ok = em >= rm - rsd
                        verdicts.append(f"{'yes' if ok else 'NO'} ({em - rm:+.4f})")
                parity = ", ".join(verdicts)
            print(f"| {t} | {tool} | {len(rs)} | {cell(col('analogy'))} | {cell(col('ws353'))} | "
                  f"{cell(col('simlex'))} | {cell(col('wall'), 1)} | {cell(col('cpu'), 1)} | {speed} | {parity} |")
    loads = [r["load"] for r in rows]
    print(f"\nload average (1 min) at the start of the runs: {min(loads):.1f}–{max(loads):.1f}")


if __name__ == "__main__":
    main()
