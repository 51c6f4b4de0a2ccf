#!/usr/bin/env bash
# Server under attack (issue 15's fault campaign): serves a GloVe-sized model (400,000 words ×
# 300 dims, random, native format, 480 MB) and the all-MiniLM-L6-v2 transformer from
# testdata-fetched/minilm with the release binary on loopback, then runs scripts/fault/attack.py
# against it (1,000 concurrent connections, slowloris on 200, bodies at and past the limits,
# deep JSON, a 10 MB word, NUL bytes, path traversal, heavy requests past the pool's queue).
# Prints attack.py's JSON summary; exit status 1 if the server crashed or misbehaved.
#
#   scripts/fault/server-attack.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_ATTACK=${1:-60}
cargo build -q --release -p embers-cli
E=$PWD/target/release/embers
W=${EMBERS_FAULT_DIR:-/tmp/embers-fault-attack}
mkdir -p "$W"
if [ ! -f "$W/glove-sized.embers" ]; then
    python3 -c "
import sys
with open('$W/words.txt', 'w') as f:
    f.write('<unk>\n')
    for i in range(399999): f.write(f'w{i}\n')
"
    "$E" vocab from-wordlist "$W/words.txt" -o "$W/vocab.tsv"
    "$E" init --vocab "$W/vocab.tsv" --dim 300 --init normal --seed 1 --unk '<unk>' -o "$W/glove-sized.embers"
fi
MAX_BODY=1048576
"$E" serve "g=$W/glove-sized.embers" "mini=testdata-fetched/minilm" --addr 127.0.0.1:0 \
    --threads 2 --max-body $MAX_BODY --timeout 10 > "$W/serve.out" 2> "$W/serve.err" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    grep -q "http://" "$W/serve.out" 2>/dev/null && break
    kill -0 $PID 2>/dev/null || { cat "$W/serve.err"; exit 1; }
    sleep 0.1
done
ADDR=$(sed -n 's#.*http://\([^/]*\)/.*#\1#p' "$W/serve.out")
echo "serving on $ADDR (pid $PID); load: $(cut -d' ' -f1-3 /proc/loadavg)"
CPU0=$(awk '{print $14+$15}' /proc/$PID/stat)
set +e
python3 scripts/fault/attack.py "$ADDR" $PID g mini $MAX_BODY --seconds "$SECONDS_ATTACK"
STATUS=$?
set -e
if kill -0 $PID 2>/dev/null; then
    CPU1=$(awk '{print $14+$15}' /proc/$PID/stat)
    echo "server alive; its CPU during the attack: $(( (CPU1 - CPU0) / $(getconf CLK_TCK) )) s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
else
    echo "server DIED"; wait $PID; echo "exit status $?"; STATUS=1
fi
kill -TERM $PID; wait $PID 2>/dev/null || true
trap - EXIT
exit $STATUS
