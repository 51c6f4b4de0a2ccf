#!/usr/bin/env bash
# Training benchmark: embers word2vec (skip-gram, CBOW) and subword mode against gensim 4.4
# Word2Vec and, with FASTTEXT=1, Debian's fasttext, on one corpus with one set of settings:
# dim 100, window 5, negative 5, sample 1e-4, min_count 5, epochs 5, $THREADS threads (2).
# For each: wall time, words/s (5 epochs × corpus tokens / wall), peak RSS (/usr/bin/time), and
# quality with gensim's evaluation protocol (bench/train_eval.py).
#
# usage: bench/train.sh [CORPUS.txt.gz] [EVAL_DIR]
#   CORPUS   default ../shared/data/corpus/en-mix.txt.gz beside the repository (see BENCHMARKS.md)
#   EVAL_DIR folder with questions-words.txt, wordsim353.tsv, simlex999.txt
#            default testdata-fetched/gensim (scripts/fetch-testdata.sh)
# env: THREADS (2), ONLY (space-separated subset of run names), SUBWORDS=1, FASTTEXT=1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=$(realpath "${1:-$root/../shared/data/corpus/en-mix.txt.gz}")
evaldir=$(realpath "${2:-$root/testdata-fetched/gensim}")
threads=${THREADS:-2}
out=${OUT:-$(mktemp -d /tmp/embers-train-bench.XXXX)}
cd "$root"
cargo build --release -q -p embers-cli
embers=$root/target/release/embers
tokens=$(zcat -f "$corpus" | wc -w)
common=(--dim 100 --window 5 --negative 5 --sample 1e-4 --min-count 5 --epochs 5 --threads "$threads" --progress none)
echo "corpus $corpus: $tokens tokens; threads $threads; kernels: output in $out" >&2
echo "| tool | wall | words/s | CPU (user+sys) | peak RSS | analogy (covered) | WS353 | SimLex |"
echo "|---|---|---|---|---|---|---|---|"

# run NAME VECTORS COMMAND...: time the command, evaluate VECTORS, print a table row.
run() {
  local name=$1 vectors=$2
  shift 2
  if [[ -n "${ONLY:-}" && " $ONLY " != *" $name "* ]]; then return; fi
  /usr/bin/time -f "%e %M %U %S" -o "$out/$name.time" "$@" >"$out/$name.log" 2>&1
  read -r wall rss user sys <"$out/$name.time"
  local q
  q=$(python3 "$root/bench/train_eval.py" "$vectors" "$evaldir")
  python3 - "$name" "$wall" "$rss" "$tokens" "$q" "$user" "$sys" <<'PY'
import json, sys
name, wall, rss, tokens, q = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
cpu = float(sys.argv[6]) + float(sys.argv[7])
print(f"| {name} | {wall:.0f} s | {5 * tokens / wall / 1000:.0f}k | {cpu:.0f} s | {rss / 1024:.0f} MB | "
      f"{q['analogy']:.3f} ({q['analogy_covered'] * 100:.0f}%) | {q['ws353']:.3f} | {q['simlex']:.3f} |")
PY
}

run embers-sg "$out/sg.emb" "$embers" train word2vec "$corpus" -o "$out/sg.emb" --model sg "${common[@]}"
run embers-sg-shared "$out/sgs.emb" "$embers" train word2vec "$corpus" -o "$out/sgs.emb" --model sg --shared-negatives "${common[@]}"
run gensim-sg "$out/gensim-sg.bin" python3 "$root/bench/gensim_w2v.py" "$corpus" "$out/gensim-sg.bin" sg "$threads"
run embers-cbow "$out/cbow.emb" "$embers" train word2vec "$corpus" -o "$out/cbow.emb" --model cbow "${common[@]}"
run gensim-cbow "$out/gensim-cbow.bin" python3 "$root/bench/gensim_w2v.py" "$corpus" "$out/gensim-cbow.bin" cbow "$threads"
if [[ "${SUBWORDS:-0}" == 1 ]]; then
  run embers-fasttext-sg "$out/ft.emb" "$embers" train fasttext "$corpus" -o "$out/ft.emb" --model sg --alpha 0.05 "${common[@]}"
fi
if [[ "${FASTTEXT:-0}" == 1 ]]; then
  zcat -f "$corpus" >"$out/corpus.txt"
  ft=(-dim 100 -ws 5 -neg 5 -lr 0.05 -t 1e-4 -minCount 5 -epoch 5 -thread "$threads" -verbose 0)
  run fasttext-sg-maxn0 "$out/ft0.vec" fasttext skipgram -input "$out/corpus.txt" -output "$out/ft0" -maxn 0 "${ft[@]}"
  [[ "${SUBWORDS:-0}" == 1 ]] && run fasttext-sg "$out/ft.vec" fasttext skipgram -input "$out/corpus.txt" -output "$out/ft" "${ft[@]}"
fi
