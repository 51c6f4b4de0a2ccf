"""Runs the format benchmark's cases side by side (called by bench/formats.sh, which builds the
tools and writes the inputs). Each case runs every tool RUNS times, the tools taking turns
(embers, then the others, then embers again...), so load from other jobs falls on all of them
alike. Per tool: median wall, median user and system CPU seconds, median peak RSS; per case the
ratios of the medians (other tool / embers), by wall and by CPU (user + sys), and the 1-minute
load average before and after.

External processes are timed by /usr/bin/time (start-up included; its resolution is 10 ms, so
0.000 means under 10 ms, and a ratio over such a time divides by 0.01 s, a lower bound). gensim runs in a fresh
Python process per run, timed inside around the load call only (import excluded); its peak RSS
is the whole process's (Python + numpy + gensim alone take ~100 MB).

usage: python bench/formats_run.py RUNS CASE... where CASE is
  name|matrix_bytes|tool=command;tool=command...   (a command `gensim:MODE:FILE` runs gensim)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GENSIM = r"""
import json, resource, sys, time
from gensim.models import KeyedVectors
mode, path = sys.argv[1], sys.argv[2]
r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
if mode == "text":
    kv = KeyedVectors.load_word2vec_format(path, no_header=True)
elif mode == "vec":
    kv = KeyedVectors.load_word2vec_format(path)
elif mode == "binary":
    kv = KeyedVectors.load_word2vec_format(path, binary=True)
elif mode == "mmap":
    kv = KeyedVectors.load(path, mmap="r")
else:
    sys.exit("mode?")
wall = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
                  "rss": r1.ru_maxrss * 1024, "rows": len(kv)}))
"""


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_once(cmd):
    if cmd.startswith("gensim:"):
        _, mode, path = cmd.split(":", 2)
        out = subprocess.run([sys.executable, "-c", GENSIM, mode, path], check=True,
                             capture_output=True, text=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name, "sh", "-c", "exec " + cmd],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            sys.exit(f"failed ({p.returncode}): {cmd}\n{p.stderr}")
        e, u, s, m = tf.read().split()[-4:]
    return {"wall": float(e), "user": float(u), "sys": float(s), "rss": int(m) * 1024}


def main():
    runs = int(sys.argv[1])
    for case in sys.argv[2:]:
        name, matrix, tools = case.split("|", 2)
        matrix = int(matrix)
        tools = [t.split("=", 1) for t in tools.split(";") if t]
        before = load1()
        results = {t: [] for t, _ in tools}
        for _ in range(runs):
            for tool, cmd in tools:
                results[tool].append(run_once(cmd))
        after = load1()
        print(f"\n## {name}  (load average {before:.2f} before, {after:.2f} after; {runs} runs each, medians)")
        med = {}
        for tool, _ in tools:
            rs = results[tool]
            m = {k: statistics.median(r[k] for r in rs) for k in ("wall", "user", "sys", "rss")}
            m["cpu"] = statistics.median(r["user"] + r["sys"] for r in rs)
            med[tool] = m
            walls = " ".join(f"{r['wall']:.2f}" for r in rs)
            times = f"{m['wall']:7.3f} s wall {m['user']:6.3f} s user {m['sys']:6.3f} s sys"
            peak = f"{m['rss'] / 2**20:7.1f} MiB" + (f" ({m['rss'] / matrix:.2f}x the matrix)" if matrix else "")
            print(f"{tool:<34} {times}  {peak}   [walls {walls}]")
        base = tools[0][0]
        for tool, _ in tools[1:]:
            b, o = med[base], med[tool]
            print(f"{'ratio ' + tool + ' / ' + base:<48} {o['wall'] / max(b['wall'], 0.01):6.2f}x wall  "
                  f"{o['cpu'] / max(b['cpu'], 0.01):6.2f}x cpu (user+sys)")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
