#!/usr/bin/env bash
# Compression benchmark (BENCHMARKS.md, "Compression"):
#   1. a real model: word2vec (gensim 4.4, CBOW, 300 dims, 5 epochs, min_count 5) trained on a
#      corpus (default: the shared 5.85M-token en-mix corpus; set CORPUS to use another), then
#      for f32 / f16 / int8 / int8 affine / PQ: size of the stored vectors against f32,
#      reconstruction error, analogy accuracy (questions-words, gensim protocol), Spearman on
#      WordSim-353 and SimLex-999, top-10 query latency and overlap with exact f32 search —
#      on the raw rows and with --normalize; PQ with and without the OPQ rotation;
#   2. a generated 400,000 × 300 model: the same measurements without the evaluation sets, and
#      `embers quantize --to pq` end to end (time and peak memory, /usr/bin/time);
#   3. when `finalfusion` (finalfusion-utils 0.14) is on PATH: bench/quant-finalfusion.sh, PQ of
#      a 400,000 × 50 GloVe-shaped text model by finalfusion and embers in the same run
#      (skip with FINALFUSION=0).
# Usage: bench/quant.sh [WORKDIR]   (default /tmp/embers-quant-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/embers-quant-bench}
corpus=${CORPUS:-/work/shared/data/corpus/en-mix.txt.gz}
data=${EMBERS_TESTDATA:-$root/testdata-fetched}/gensim
mkdir -p "$work"
cd "$root"
cargo build --release -p embers-cli
cargo build --release -p embers --example quant_report
report=target/release/examples/quant_report
embers=target/release/embers

model=$work/w2v-300.txt
if [ ! -s "$model" ]; then
  python3 - "$corpus" "$model" <<'PY'
import sys, time
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
t = time.time()
m = Word2Vec(LineSentence(sys.argv[1]), vector_size=300, window=5, min_count=5, sg=0,
             negative=5, epochs=5, workers=2, seed=1)
m.wv.save_word2vec_format(sys.argv[2], binary=False)
print(f"trained {len(m.wv)} words in {time.time() - t:.0f} s", file=sys.stderr)
PY
fi
evals=(--analogies "$data/questions-words.txt" --pairs "$data/wordsim353.tsv" --pairs "$data/simlex999.txt")
echo "== real model, raw rows"
$report "$model" --from word2vec "${evals[@]}" --opq
echo "== real model, --normalize"
$report "$model" --from word2vec "${evals[@]}" --normalize --opq

echo "== generated 400000 x 300"
$report --generate 400000x300 --queries 50
seq 1 400000 | sed 's/^/w/' > "$work/words.txt"
$embers vocab from-wordlist "$work/words.txt" -o "$work/vocab.tsv"
$embers init --vocab "$work/vocab.tsv" --dim 300 --seed 1 -o "$work/gen.embers"
for args in "--to f16" "--to int8" "--to pq" "--to pq --normalize" "--to pq --rotation opq"; do
  echo "== embers quantize gen.embers $args ($(uptime | sed 's/.*load/load/'))"
  /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB peak" $embers --progress none quantize "$work/gen.embers" "$work/gen-q.embers" $args
  $embers info "$work/gen-q.embers" | grep -E "storage|rotation"
done

if [ "${FINALFUSION:-1}" != 0 ] && command -v finalfusion >/dev/null; then
  echo "== finalfusion 0.14 and embers on the same 400000 x 50 model"
  bench/quant-finalfusion.sh "$work"
fi
