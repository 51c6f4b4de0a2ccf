#!/usr/bin/env bash
# Quality parity over seeds: every embers trainer and its reference implementation in the same
# run, on the same corpus, with the same settings, seed by seed (embers, then the reference, so
# both see the same machine load). Prints mean ± sd of analogy accuracy, WordSim-353 and
# SimLex-999 Spearman (gensim's protocol, bench/train_eval.py), wall and CPU seconds, the speed
# ratios, and whether embers is at parity (mean not below the reference's mean by more than the
# reference's seed-to-seed sd).
#
#   sg, cbow        embers train word2vec  vs gensim 4.4 Word2Vec (negative 5)
#   sg-hs, cbow-hs  the same with hierarchical softmax (no negatives); $HS_SEEDS seeds
#   ft              embers train fasttext  vs the fastText tool (`fasttext skipgram`, Debian's
#                   package), subwords 3..6 in 2M buckets, lr 0.05; WS353/SimLex words missing
#                   from a vocabulary get that tool's own out-of-vocabulary vector (embers'
#                   subword defaults read each epoch as fastText's threads do: one reader per
#                   thread from evenly spaced points of the corpus)
#   glove           embers train glove     vs Stanford's vocab_count, cooccur, shuffle, glove
#
# Settings: dim 100, window 5 (GloVe 10), negative 5, sample 1e-4, min_count 5, 5 epochs
# (GloVe: 15 iterations, x_max 10), $THREADS threads.
#
# usage: bench/quality.sh [CORPUS] [EVAL_DIR]
#   CORPUS   plain or gzip text, one sentence a line (default /work/shared/data/corpus/en-mix.txt.gz)
#   EVAL_DIR questions-words.txt, wordsim353.tsv, simlex999.txt (default testdata-fetched/gensim)
# env:
#   TRAINERS     subset of "sg cbow sg-hs cbow-hs ft glove" (default: all)
#   SEEDS        seeds for sg, cbow, ft (default "1 2 3 4 5"); HS_SEEDS (default "1");
#                GLOVE_SEEDS (default "1 2 3": Stanford's glove takes minutes a run)
#   THREADS      (2); OUT: folder for models and results.jsonl (default a new /tmp folder)
#   SIDE         both (default), embers or reference: run one side only (two instances with
#                SIDE=embers and SIDE=reference started together see the same machine load;
#                concatenate their results.jsonl for bench/quality_summary.py)
#   PYTHON       interpreter with gensim 4.4 and numpy (default .venv/bin/python from
#                scripts/test-env.sh; bench/requirements.txt lists what it needs)
#   STANFORD_GLOVE  folder with Stanford's built tools (vocab_count, cooccur, shuffle, glove),
#                needed for `glove`. Build them outside this repository from the upstream source
#                (github.com/stanfordnlp/GloVe, `make`; its binaries land in build/), e.g.
#                  git clone https://github.com/stanfordnlp/GloVe /tmp/GloVe && make -C /tmp/GloVe
#                  STANFORD_GLOVE=/tmp/GloVe/build bench/quality.sh
#   EMBERS_ARGS  extra options for every `embers train word2vec|fasttext` run (e.g.
#                "--saturated full"), to try one change of embers against the same references
#   EMBERS       an embers binary to run instead of building this checkout's (to compare
#                two builds on the same seeds)
#   FASTTEXT     the fastText binary (default `fasttext` on PATH: apt-get install fasttext)
#   KEEP         1: keep every model as OUT/TRAINER-TOOL-SEED.EXT (fastText's .bin too) for a
#                closer look afterwards, instead of deleting it once scored
# A second run with the same OUT adds to results.jsonl; `bench/quality_summary.py OUT/results.jsonl`
# prints the table again.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus_in=$(realpath "${1:-/work/shared/data/corpus/en-mix.txt.gz}")
evaldir=$(realpath "${2:-$root/testdata-fetched/gensim}")
trainers=${TRAINERS:-"sg cbow sg-hs cbow-hs ft glove"}
seeds=${SEEDS:-"1 2 3 4 5"}
hs_seeds=${HS_SEEDS:-"1"}
glove_seeds=${GLOVE_SEEDS:-"1 2 3"}
threads=${THREADS:-2}
python=${PYTHON:-$root/.venv/bin/python}
fasttext=${FASTTEXT:-fasttext}
out=${OUT:-$(mktemp -d /tmp/embers-quality.XXXX)}
mkdir -p "$out"
results=$out/results.jsonl
cd "$root"
if [[ -n ${EMBERS:-} ]]; then
  embers=$(realpath "$EMBERS")
else
  cargo build --release -q -p embers-cli
  embers=$root/target/release/embers
fi
"$python" -c 'import gensim, numpy; assert gensim.__version__.startswith("4.4"), gensim.__version__'
if [[ " $trainers " == *" ft "* ]]; then command -v "$fasttext" >/dev/null || { echo "fastText binary '$fasttext' not found (apt-get install fasttext)" >&2; exit 1; }; fi
if [[ " $trainers " == *" glove "* ]]; then
  for t in vocab_count cooccur shuffle glove; do
    [[ -x "${STANFORD_GLOVE:-}/$t" ]] || { echo "STANFORD_GLOVE must name the folder of Stanford's built $t (see the header of $0)" >&2; exit 1; }
  done
fi
# Every tool reads the same plain text (fastText and Stanford's tools cannot read gzip).
corpus=$out/corpus.txt
[[ -s $corpus ]] || zcat -f "$corpus_in" >"$corpus"
tokens=$(wc -w <"$corpus")
echo "corpus $corpus_in: $tokens tokens; threads $threads; $(nproc) cores; output in $out" >&2
echo "start: $(uptime)" >&2

# measure TRAINER TOOL SEED VECTORS OOV-ARGS COMMAND...: time COMMAND, score VECTORS (OOV-ARGS:
# "" or "--oov-embers BIN" / "--oov-fasttext MODEL.bin"), append one JSON line to results.jsonl.
measure() {
  local trainer=$1 tool=$2 seed=$3 vectors=$4 oov=$5
  shift 5
  case ${SIDE:-both} in
    embers) [[ $tool == embers ]] || return 0 ;;
    reference) [[ $tool != embers ]] || return 0 ;;
  esac
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S %M" -o "$out/time" "$@" >"$out/$trainer-$tool-$seed.log" 2>&1 ||
    { echo "$trainer $tool seed $seed failed:" >&2; tail "$out/$trainer-$tool-$seed.log" >&2; exit 1; }
  local wall user sys rss q
  read -r wall user sys rss <"$out/time"
  # shellcheck disable=SC2086
  q=$("$python" "$root/bench/train_eval.py" "$vectors" "$evaldir" $oov)
  "$python" - "$trainer" "$tool" "$seed" "$wall" "$user" "$sys" "$rss" "$load" "$q" >>"$results" <<'PY'
import json, sys
t, tool, seed, wall, user, sys_, rss, load, q = sys.argv[1:]
r = {"trainer": t, "tool": tool, "seed": int(seed), "wall": float(wall),
     "cpu": round(float(user) + float(sys_), 2), "rss_mb": int(rss) // 1024, "load": float(load)}
r.update(json.loads(q))
print(json.dumps(r))
PY
  tail -1 "$results" >&2
  keep_or_remove "$vectors" "$out/$trainer-$tool-$seed"
}

# keep_or_remove FILE STEM: with KEEP=1 move FILE to STEM.<its extension>, else delete it.
keep_or_remove() {
  if [[ ${KEEP:-} == 1 && -e $1 ]]; then mv -f "$1" "$2.${1##*.}"; else rm -f "$1"; fi
}

# shellcheck source=bench/w2v_settings.sh
source "$root/bench/w2v_settings.sh"
w2v=("${W2V_SETTINGS[@]}" --threads "$threads" --progress none)
# shellcheck disable=SC2206
extra=(${EMBERS_ARGS:-})
for trainer in $trainers; do
  case $trainer in
    sg | cbow)
      for s in $seeds; do
        measure "$trainer" embers "$s" "$out/e.emb" "" \
          "$embers" train word2vec "$corpus" -o "$out/e.emb" --model "$trainer" --negative 5 "${w2v[@]}" --seed "$s" ${extra[@]+"${extra[@]}"}
        measure "$trainer" gensim "$s" "$out/g.bin" "" \
          "$python" "$root/bench/gensim_w2v.py" "$corpus" "$out/g.bin" "$trainer" "$threads" 5 "$s"
      done ;;
    sg-hs | cbow-hs)
      m=${trainer%-hs}
      for s in $hs_seeds; do
        measure "$trainer" embers "$s" "$out/e.emb" "" \
          "$embers" train word2vec "$corpus" -o "$out/e.emb" --model "$m" --hs --negative 0 "${w2v[@]}" --seed "$s" ${extra[@]+"${extra[@]}"}
        measure "$trainer" gensim "$s" "$out/g.bin" "" \
          "$python" "$root/bench/gensim_w2v.py" "$corpus" "$out/g.bin" "$m" "$threads" 5 "$s" hs
      done ;;
    ft)
      for s in $seeds; do
        measure ft embers "$s" "$out/e.emb" "--oov-embers $embers" \
          "$embers" train fasttext "$corpus" -o "$out/e.emb" --model sg --negative 5 --alpha 0.05 \
          --minn 3 --maxn 6 --bucket 2000000 "${w2v[@]}" --seed "$s" ${extra[@]+"${extra[@]}"}
        measure ft fasttext "$s" "$out/ft.vec" "--oov-fasttext $out/ft.bin" \
          "$fasttext" skipgram -input "$corpus" -output "$out/ft" -dim 100 -ws 5 -neg 5 -t 1e-4 \
          -minCount 5 -epoch 5 -lr 0.05 -minn 3 -maxn 6 -bucket 2000000 -thread "$threads" \
          -seed "$s" -verbose 0
        keep_or_remove "$out/ft.bin" "$out/ft-fasttext-$s"
      done ;;
    glove)
      sgl=$STANFORD_GLOVE
      for s in $glove_seeds; do
        measure glove embers "$s" "$out/e.emb" "" \
          "$embers" train glove "$corpus" -o "$out/e.emb" --dim 100 --window 10 --min-count 5 \
          --x-max 10 --iter 15 --threads "$threads" --seed "$s" --progress none
        measure glove stanford "$s" "$out/vectors.txt" "" bash -c "cd '$out' &&
          '$sgl/vocab_count' -min-count 5 -verbose 0 <corpus.txt >vocab.txt &&
          '$sgl/cooccur' -memory 1.0 -vocab-file vocab.txt -verbose 0 -window-size 10 <corpus.txt >cooc.bin &&
          '$sgl/shuffle' -memory 1.0 -verbose 0 -seed $s <cooc.bin >cooc.shuf.bin &&
          '$sgl/glove' -save-file vectors -threads $threads -input-file cooc.shuf.bin -x-max 10 -iter 15 \
            -vector-size 100 -binary 0 -vocab-file vocab.txt -verbose 0 -seed $s -eta 0.05 -alpha 0.75 -model 2 &&
          rm -f cooc.bin cooc.shuf.bin vocab.txt"
      done ;;
    *) echo "unknown trainer $trainer" >&2; exit 1 ;;
  esac
done
echo "end: $(uptime)" >&2
"$python" "$root/bench/quality_summary.py" "$results"
