#!/usr/bin/env bash
# GloVe benchmark: `embers train glove` on en-mix.txt.gz with Stanford's demo-like settings
# (dim 100, window 10, min_count 5, x_max 10, 15 iterations, 2 threads), wall time of each
# stage, peak memory (/usr/bin/time -v), and gensim-protocol scores of the result.
#
# usage: [SEED=1] bench/glove.sh [CORPUS] [EVAL_DIR] [MEMORY]
#   defaults: /work/shared/data/corpus/en-mix.txt.gz, /work/shared/data/eval, 1G
# Needs: cargo, python3 with gensim 4.4 and numpy, GNU time at /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${1:-/work/shared/data/corpus/en-mix.txt.gz}
EVAL=${2:-/work/shared/data/eval}
MEMORY=${3:-1G}
SEED=${SEED:-1}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cargo build --release -q -p embers-cli
BIN=target/release/embers

/usr/bin/time -v "$BIN" train glove "$CORPUS" -o "$OUT/glove.safetensors" \
  --dim 100 --window 10 --min-count 5 --x-max 10 --iter 15 --threads 2 --memory "$MEMORY" \
  --seed "$SEED" --progress none 2> "$OUT/log" || { cat "$OUT/log"; exit 1; }

grep -E '^(vocabulary|co-occurrences|training|[0-9]+ ×)' "$OUT/log"
grep -E 'Elapsed \(wall|Maximum resident|User time|System time' "$OUT/log"
python3 bench/glove_eval.py "$OUT/glove.safetensors" "$EVAL"
