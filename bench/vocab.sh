#!/usr/bin/env bash
# Vocabulary building throughput: `embers vocab build` against gensim 4.4's Word2Vec vocabulary
# pass (scan_vocab + prepare_vocab over a LineSentence), on the same files in the same run.
#
#   bench/vocab.sh                       # en-mix.txt.gz, its plain text, and a ≥1 GB plain file
#   BIG_GZ=1 bench/vocab.sh              # also the ≥1 GB file gzipped (slow to make)
#   SKIP_BIG=1 bench/vocab.sh            # only en-mix.txt.gz and its plain text
#   CORPUS=... WORK=/tmp/x REPEAT=32 THREADS=0 bench/vocab.sh
#
# Inputs are made under $WORK (never in the repository): the corpus decompressed, and REPEAT
# copies of it concatenated. MB/s are megabytes (10^6 bytes) of uncompressed text per second of
# wall-clock time; peak memory is the maximum resident set size reported by /usr/bin/time -v.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-/work/shared/data/corpus/en-mix.txt.gz}
WORK=${WORK:-/tmp/embers-bench-vocab}
REPEAT=${REPEAT:-32}
THREADS=${THREADS:-0}
EMBERS=${EMBERS:-target/release/embers}
PYTHON=${PYTHON:-python3}

cargo build --release -p embers-cli >&2
mkdir -p "$WORK"
plain="$WORK/en-mix.txt"
big="$WORK/en-mix-x$REPEAT.txt"
[ -s "$plain" ] || zcat "$CORPUS" > "$plain"
if [ "${SKIP_BIG:-0}" != 1 ] && { [ ! -s "$big" ] || [ "$(stat -c %s "$big")" -ne $(( $(stat -c %s "$plain") * REPEAT )) ]; }; then
  for _ in $(seq "$REPEAT"); do cat "$plain"; done > "$big.tmp" && mv "$big.tmp" "$big"
fi
inputs=("$CORPUS" "$plain")
[ "${SKIP_BIG:-0}" = 1 ] || inputs+=("$big")
if [ "${BIG_GZ:-0}" = 1 ] && [ "${SKIP_BIG:-0}" != 1 ]; then
  [ -s "$big.gz" ] || gzip -c "$big" > "$big.gz"
  inputs+=("$big.gz")
fi

# Field of /usr/bin/time -v output, by label.
field() { grep -F "$1" "$2" | sed 's/.*: //'; }
# m:ss.ss or h:mm:ss → seconds.
secs() { echo "$1" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'; }

printf 'cpu: %s, %s cores; load average: %s\n' "$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-20s %7s | %8s %7s %7s %8s | %8s %8s %8s %7s %7s %8s | %6s %6s %6s\n' \
  input MB embers_s MB/s cpu_s peak_MB gs_scan gs_prep gs_s MB/s cpu_s peak_MB ratio r_scan r_cpu
for f in "${inputs[@]}"; do
  if [[ "$f" == *.gz ]]; then bytes=$(zcat "$f" | wc -c); else bytes=$(stat -c %s "$f"); fi
  mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')

  /usr/bin/time -v "$EMBERS" vocab build "$f" -o "$WORK/vocab-embers.tsv" --progress none \
    --threads "$THREADS" > "$WORK/embers.out" 2> "$WORK/embers.time"
  e_wall=$(secs "$(field 'Elapsed (wall clock)' "$WORK/embers.time")")
  e_cpu=$(awk -v u="$(field 'User time' "$WORK/embers.time")" -v s="$(field 'System time' "$WORK/embers.time")" 'BEGIN { print u + s }')
  e_rss=$(field 'Maximum resident set size' "$WORK/embers.time")
  e_line=$(cat "$WORK/embers.out" "$WORK/embers.time" | grep -m1 '^counted')

  /usr/bin/time -v "$PYTHON" bench/gensim_vocab.py "$f" > "$WORK/gensim.out" 2> "$WORK/gensim.time"
  g_rss=$(field 'Maximum resident set size' "$WORK/gensim.time")
  read -r g_scan g_prep g_cpu g_tokens g_distinct < <("$PYTHON" -c 'import json,sys; d=json.load(sys.stdin); print(d["scan_seconds"], d["prepare_vocab_seconds"], d["vocab_cpu_seconds"], d["tokens"], d["distinct"])' < "$WORK/gensim.out")

  # Both tools must have counted the same corpus.
  e_tokens=$(echo "$e_line" | sed -E 's/counted ([0-9]+) tokens.*/\1/')
  e_distinct=$(echo "$e_line" | sed -E 's/.*\(([0-9]+) distinct\).*/\1/')
  if [ "$e_tokens" != "$g_tokens" ] || [ "$e_distinct" != "$g_distinct" ]; then
    echo "MISMATCH on $f: embers $e_tokens tokens / $e_distinct distinct, gensim $g_tokens / $g_distinct" >&2
    exit 1
  fi

  awk -v name="$(basename "$f")" -v mb="$mb" -v ew="$e_wall" -v ec="$e_cpu" -v er="$e_rss" \
      -v gs="$g_scan" -v gp="$g_prep" -v gc="$g_cpu" -v gr="$g_rss" 'BEGIN {
    g = gs + gp
    printf "%-20s %7.1f | %8.2f %7.1f %7.2f %8.1f | %8.2f %8.2f %8.2f %7.1f %7.2f %8.1f | %5.1fx %5.1fx %5.1fx\n",
      name, mb, ew, mb / ew, ec, er / 1024, gs, gp, g, mb / g, gc, gr / 1024, g / ew, gs / ew, gc / ec }'
done
echo "embers_s: wall-clock of the whole 'embers vocab build' process (reading, counting, sorting, writing the TSV);"
echo "gs_scan/gs_prep: gensim scan_vocab / prepare_vocab seconds measured inside Python (import and weight set-up excluded);"
echo "cpu_s: CPU seconds (user + system; embers: the whole process, all threads; gensim: scan + prepare_vocab, in-process);"
echo "ratio = (gs_scan + gs_prep) / embers_s; r_scan = gs_scan / embers_s (gensim's counting pass alone);"
echo "r_cpu = gensim cpu_s / embers cpu_s (work per byte, insensitive to other load). Token and distinct counts agree."
