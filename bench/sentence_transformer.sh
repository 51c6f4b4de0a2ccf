#!/usr/bin/env bash
# Transformer sentence encoding and distillation, side by side on the same machine, texts and
# thread count:
#   embers encode (BERT encoder on the CPU, faer matmuls) vs sentence-transformers on torch CPU,
#     all-MiniLM-L6-v2, batch 32, 2 threads, the first N lines of the shared English corpus;
#     vectors compared (largest |difference|).
#   embers distill vs model2vec.distill (torch CPU), the full 30,522-token vocabulary, PCA 256,
#     2 threads; then WS353 / SimLex-999 Spearman of both distilled models and of the transformer
#     itself (each word encoded as a one-word sentence by embers).
#
# Usage: bench/sentence_transformer.sh [LINES=2000]
# Needs: eval "$(scripts/test-env.sh)" (numpy, scipy), a Python with torch, sentence-transformers
# and model2vec[distill] in $TORCH_PYTHON (default /work/venv-torch/bin/python).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lines=${1:-2000}
threads=2
work=${BENCH_DIR:-/tmp/embers-bench-st}
py=${EMBERS_PYTHON:-$root/.venv/bin/python}
tpy=${TORCH_PYTHON:-/work/venv-torch/bin/python}
data=${EMBERS_TESTDATA:-$root/testdata-fetched}
evald=${EVAL_DIR:-/work/shared/data/eval}
model=$data/minilm
mkdir -p "$work"
cd "$root"
cargo build --release -q -p embers-cli
embers=$root/target/release/embers
(zcat /work/shared/data/corpus/en-mix.txt.gz || true) | head -n "$lines" >"$work/texts.txt"
tokens=$("$embers" encode "$model" --file "$work/texts.txt" --json | "$py" -c 'import sys,json; print(sum(json.loads(l)["tokens"] for l in sys.stdin))')
echo "texts: $lines lines, $tokens tokens with [CLS]/[SEP] (max_seq_length 256); load: $(cut -d' ' -f1-3 /proc/loadavg)"

timed() { # prints "wall cpu" of a command
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null
  awk '{printf "%s %.2f\n", $1, $2 + $3}' "$work/time"
}

read -r e_wall e_cpu < <(timed "$embers" encode "$model" --file "$work/texts.txt" --npy "$work/embers.npy" --threads $threads --batch-size 32)
st=$("$tpy" bench/sentence_transformer.py st "$model" "$work/texts.txt" 32 $threads "$work/embers.npy" 2>/dev/null)
"$py" - "$lines" "$e_wall" "$e_cpu" "$st" <<'PY'
import json, sys
n, ew, ec, st = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4])
print(f"encode, {n} texts, batch 32, 2 threads (embers: whole process incl. load; ST: encode() only)")
print(f"  embers                       {ew:7.2f} s  {n/ew:8.1f} texts/s  CPU {ec:7.2f} s")
print(f"  sentence-transformers torch {st['torch']:>8}  {st['seconds']:7.2f} s  {n/st['seconds']:8.1f} texts/s  CPU {st['cpu_seconds']:7.2f} s")
print(f"  ratio embers / ST texts/s: {st['seconds']/ew:.2f}x; max |embers - ST| = {st['max_abs_diff']:.2e}, min cosine {st['min_cosine']:.7f}")
PY
echo "load after encode: $(cut -d' ' -f1-3 /proc/loadavg)"

rm -rf "$work/distilled" "$work/m2v"
read -r d_wall d_cpu < <(timed "$embers" distill --model "$model" -o "$work/distilled" --threads $threads)
m2=$("$tpy" bench/sentence_transformer.py m2v "$model" "$work/m2v" $threads 2>/dev/null)
"$py" - "$d_wall" "$d_cpu" "$m2" <<'PY'
import json, sys
dw, dc, m2 = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
print("distill all-MiniLM-L6-v2, full vocabulary, PCA 256, 2 threads")
print(f"  embers distill      {dw:7.1f} s  CPU {dc:7.1f} s")
print(f"  model2vec.distill   {m2['seconds']:7.1f} s  CPU {m2['cpu_seconds']:7.1f} s  ({m2['rows']} rows)")
print(f"  ratio model2vec / embers time: {m2['seconds']/dw:.2f}x")
PY
echo "load after distill: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "embers vs model2vec distilled rows (model2vec stores float16): $("$py" bench/sentence_transformer.py cmp "$work/distilled" "$work/m2v")"
for m in "$work/distilled" "$work/m2v" "$model"; do
  echo "word pairs ($(basename "$m")): $("$py" bench/sentence_transformer.py pairs "$m" "$evald/wordsim353.tsv" "$evald/simlex999.txt" "$embers")"
done
