#!/usr/bin/env bash
# 4-bit PQ query speed on GloVe 6B 50d: embers' fast scan against its f32-table scan and
# faiss-cpu's IndexPQFastScan (PQ25x4fs, PQ50x4fs), one thread each, in one Python run
# (bench/fastscan.py, which documents the protocol). Prints the table, CPU seconds and load.
# Usage: bench/fastscan.sh [OUT]   (default OUT: bench-out/fastscan)
#        BITS=8 MS=10,25 bench/fastscan.sh OUT   8-bit codes: embers' byte-code scan against
#                                                 faiss's PQ{M}x8, one thread each
# Env: PY (default .venv/bin/python, with numpy and faiss-cpu), DATA (default
# testdata-fetched/glove6b50d), W2V (a word2vec binary of the same rows, else written to OUT).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench-out/fastscan}
mkdir -p "$out"
py=${PY:-$root/.venv/bin/python}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
(cd "$root" && cargo build --release -q -p embers-cli &&
  cargo build --release -q -p embers --example fastscan_stats)
# numpy/faiss run their own kernels here (this command only).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
/usr/bin/time -f "bench: %e s wall, %U s user, %S s sys, %M KB peak" \
  "$py" "$root/bench/fastscan.py" --embers "${EMBERS:-$root/target/release/embers}" \
  --data "${DATA:-$root/testdata-fetched/glove6b50d}" --out "$out" ${W2V:+--w2v "$W2V"} \
  --stats "$root/target/release/examples/fastscan_stats" --bits "${BITS:-4}" --ms "${MS:-25,50}"
