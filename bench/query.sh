#!/usr/bin/env bash
# Queries and evaluation, embers vs gensim 4.4, in one run on the same generated model:
# one most_similar (median of 100), 1,000 queries, the full questions-words.txt evaluation,
# and the HNSW index (build time, query latency, recall@10 against exact search).
# Usage: bench/query.sh [WORKDIR]   (default /tmp/embers-bench-query; needs gensim==4.4.0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/embers-bench-query}
mkdir -p "$work"
questions=${EMBERS_TESTDATA:-$root/testdata-fetched}/gensim/questions-words.txt
model=$work/glove-like-400k-50d.embers
[ -f "$questions" ] || "$root/scripts/fetch-testdata.sh"
if [ ! -f "$model" ]; then
  echo "generating a 400,000 × 50 GloVe-like model (seed 1) in $model" >&2
  python3 "$root/bench/query_gensim.py" make "$model" "$questions" 400000 50 1
fi
(cd "$root" && cargo build --release -q -p embers --example query_bench)
echo "== gensim 4.4 (numpy: $(python3 -c 'import numpy; print(numpy.__version__)'))"
python3 "$root/bench/query_gensim.py" time "$model" "$questions" | tee "$work/gensim.json"
echo "== embers"
"$root/target/release/examples/query_bench" "$model" "$questions" "$model.queries" | tee "$work/embers.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
g = json.loads(open(f"{w}/gensim.json").read())
e = {}
ann = []
for line in open(f"{w}/embers.json"):
    d = json.loads(line)
    if "ann_ef" in d: ann.append(d)
    else: e.update(d)
print()
print(f"{'task':<34} {'gensim 4.4':>12} {'embers':>12} {'speed-up':>9}")
for name, key, unit in [("most_similar, median", "single_median_ms", "ms"),
                        ("1,000 queries", "batch_1000_s", "s"),
                        ("questions-words.txt evaluation", "analogies_s", "s")]:
    print(f"{name:<34} {g[key]:>10.3f}{unit:>2} {e[key]:>10.3f}{unit:>2} {g[key]/e[key]:>8.1f}×")
print(f"analogy accuracy: gensim {g['analogy_accuracy']:.6f} on {g['analogy_answered']}, "
      f"embers {e['analogy_accuracy']:.6f} on {e['analogy_answered']}")
print(f"HNSW build (m 16, ef_construction 200, {e['threads']} threads): {e['ann_build_s']:.1f} s; open {e['ann_open_ms']:.1f} ms")
for a in ann:
    print(f"  ef {a['ann_ef']:>3}: median {a['ann_median_ms']:.3f} ms, recall@10 {a['ann_recall_at_10']:.4f}, "
          f"{e['single_median_ms']/a['ann_median_ms']:.0f}× faster than exact")
PY
