#!/usr/bin/env bash
# word2vec training speed, embers against gensim 4.4, interleaved: each repeat runs embers and
# then gensim on the same plain-text corpus with the same settings (bench/quality.sh's, from
# bench/w2v_settings.sh: dim 100, window 5, negative 5, sample 1e-4, min_count 5, 5 epochs;
# seed 1), so a change in the machine's speed during the run touches both tools. Prints one line a run (wall, user+sys CPU,
# the 1-minute load at its start) and, per thread count, the mean of each tool and the ratios
# gensim / embers. Quality is bench/quality.sh's job; here nothing is scored.
#
# usage: bench/speed_w2v.sh [CORPUS]   (plain or gzip text; default en-mix)
# env:   MODEL sg|cbow (sg); REPEATS (3); THREADS_LIST ("2"); PYTHON (.venv/bin/python);
#        EMBERS: a binary to time instead of building this checkout's
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/w2v_settings.sh
source "$root/bench/w2v_settings.sh"
corpus_in=$(realpath "${1:-/work/shared/data/corpus/en-mix.txt.gz}")
model=${MODEL:-sg}
repeats=${REPEATS:-3}
python=${PYTHON:-$root/.venv/bin/python}
tmp=$(mktemp -d /tmp/embers-speed.XXXX)
trap 'rm -rf "$tmp"' EXIT
if [[ -n ${EMBERS:-} ]]; then
  embers=$(realpath "$EMBERS")
else
  (cd "$root" && cargo build --release -q -p embers-cli)
  embers=$root/target/release/embers
fi
corpus=$tmp/corpus.txt
zcat -f "$corpus_in" >"$corpus"
echo "corpus $corpus_in: $(wc -w <"$corpus") tokens; model $model; $(nproc) cores; start: $(uptime)"
rows=$tmp/rows
for t in ${THREADS_LIST:-2}; do
  for ((r = 1; r <= repeats; r++)); do
    for tool in embers gensim; do
      load=$(cut -d' ' -f1 /proc/loadavg)
      if [[ $tool == embers ]]; then
        cmd=("$embers" train word2vec "$corpus" -o "$tmp/e.emb" --model "$model" --negative 5
          "${W2V_SETTINGS[@]}" --threads "$t" --progress none --seed 1)
      else
        cmd=("$python" "$root/bench/gensim_w2v.py" "$corpus" "$tmp/g.bin" "$model" "$t" 5 1)
      fi
      /usr/bin/time -f "%e %U %S" -o "$tmp/time" "${cmd[@]}" >"$tmp/log" 2>&1 ||
        { echo "$tool failed:" >&2; tail "$tmp/log" >&2; exit 1; }
      read -r wall user sys <"$tmp/time"
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
      echo "$t $tool $wall $cpu $load" >>"$rows"
      printf '%-7s threads %s  repeat %s  wall %6.2f s  CPU %7.2f s  load %s\n' \
        "$tool" "$t" "$r" "$wall" "$cpu" "$load"
    done
  done
done
echo "end: $(uptime)"
awk '{ w[$1" "$2] += $3; c[$1" "$2] += $4; n[$1" "$2]++; ts[$1] = 1 }
  END {
    for (t in ts) {
      e = t" embers"; g = t" gensim"
      printf "threads %s: embers %.2f s wall, %.2f CPU-s; gensim %.2f s wall, %.2f CPU-s (means of %d); gensim / embers: %.2fx wall, %.2fx CPU\n",
        t, w[e]/n[e], c[e]/n[e], w[g]/n[g], c[g]/n[g], n[e], (w[g]/n[g])/(w[e]/n[e]), (c[g]/n[g])/(c[e]/n[e])
    }
  }' "$rows"
