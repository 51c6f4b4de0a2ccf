#!/usr/bin/env bash
# Transformer input layer: tokens/s for tokenising and embedding N lines with all-MiniLM-L6-v2,
# embers (1 thread and all cores) against the reference path people use today (Python
# `tokenizers` + numpy gather/LayerNorm, bench/transformer_python.py), measured in the same run,
# plus peak memory (the model is memory-mapped, not copied).
# Usage: bench/transformer.sh [MODEL_DIR] [CORPUS] [LINES] [REPEATS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/testdata-fetched/minilm}
corpus=${2:-/work/shared/data/corpus/en-mix.txt.gz}
n=${3:-10000}
repeats=${4:-3}
cd "$root"
cargo build --release -q -p embers-cli
bin=$root/target/release/embers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ zcat -f "$corpus" || true; } | head -n "$n" > "$work/lines.txt"
echo "model: $model; $(wc -l < "$work/lines.txt") lines, $(wc -c < "$work/lines.txt") bytes of $(basename "$corpus"); $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME CMD...: best of $repeats by wall time; prints name, tokens, wall, tokens/s, CPU, RSS.
run() {
  local name=$1; shift
  for _ in $(seq "$repeats"); do
    /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > "$work/out"
    python3 - "$name" "$work/out" "$work/time" <<'PY'
import json, sys
name, out, tm = sys.argv[1:4]
r = json.loads(open(out).read().strip().splitlines()[-1])
wall, user, sys_, rss = open(tm).read().split()[-4:]
cpu = float(user) + float(sys_)
print(json.dumps({"name": name, "tokens": r["tokens"], "seconds": r["seconds"],
                  "tokens_per_second": r["tokens"] / r["seconds"], "cpu_seconds": cpu,
                  "tokens_per_cpu_second": r["tokens"] / cpu, "peak_rss_mb": int(rss) / 1024}))
PY
  done | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
best = max(rows, key=lambda r: r["tokens_per_second"])
print(json.dumps(best))' | tee -a "$work/results"
}

run "embers, 1 thread" "$bin" tokens --model "$model" --file "$work/lines.txt" --stats --threads 1
run "embers, all cores" "$bin" tokens --model "$model" --file "$work/lines.txt" --stats
run "python tokenizers + numpy, encode per line" python3 bench/transformer_python.py "$model" "$work/lines.txt" single
run "python tokenizers + numpy, encode_batch" python3 bench/transformer_python.py "$model" "$work/lines.txt" batch
/usr/bin/time -f '%M' -o "$work/time" "$bin" tokens --model "$model" "one short text" --stats > /dev/null
echo "embers peak RSS for one text: $(( $(cat "$work/time") / 1024 )) MB (model.safetensors is $(( $(stat -c %s "$model/model.safetensors") / 1048576 )) MB)"

python3 - "$work/results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len({r["tokens"] for r in rows}) == 1, "token counts differ"
ref = max(r["tokens_per_second"] for r in rows if r["name"].startswith("python"))
ref_cpu = max(r["tokens_per_cpu_second"] for r in rows if r["name"].startswith("python"))
print(f"\n| path | tokens/s (wall) | vs best Python | tokens per CPU-second | peak RSS |")
print("| --- | ---: | ---: | ---: | ---: |")
for r in rows:
    print(f"| {r['name']} | {r['tokens_per_second']:,.0f} | {r['tokens_per_second'] / ref:.2f}× "
          f"| {r['tokens_per_cpu_second']:,.0f} | {r['peak_rss_mb']:.0f} MB |")
print(f"\n{rows[0]['tokens']:,} tokens (special tokens included, truncation at 128 as tokenizer.json says)")
PY
