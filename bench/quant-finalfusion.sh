#!/usr/bin/env bash
# Product quantization by finalfusion-utils 0.14 (`finalfusion quantize`) and by embers
# (`embers quantize --to pq`) on the same GloVe-shaped text model, in one run (BENCHMARKS.md,
# "Compression"). Needs `finalfusion` on PATH (cargo install finalfusion-utils --version 0.14.1).
#   - the model: ROWS × DIMS (default 400,000 × 50) as in bench/formats.sh (seeded normal values
#     with 5 decimals, cached in bench/data/), converted once to each tool's own format;
#   - finalfusion: PQ with SUBQ subquantizers (default 10), 8 bits, ITERS iterations (default
#     100), 2 threads, as in issue 9; then whether its `similar` and `compute-accuracy` accept the
#     quantized file (and, as a control, the unquantized one), and the reconstruction error of
#     its rows (decoded by `finalfusion convert`) against the unit-length input rows;
#   - embers: the same PQ settings on all rows (--sample ROWS), then its defaults (65,536-row
#     sample, 25 iterations), then with the OPQ rotation; all with --normalize, because
#     finalfusion normalizes rows when it reads text and quantizes unit vectors.
# Wall/CPU/peak RSS from /usr/bin/time; sizes are whole files. Run it on a quiet machine:
# finalfusion takes about 10 minutes of 2 cores.
# Usage: bench/quant-finalfusion.sh [WORKDIR]   (default /tmp/embers-quant-bench)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/embers-quant-bench}
rows=${ROWS:-400000}
dims=${DIMS:-50}
m=${SUBQ:-10}
iters=${ITERS:-100}
data=$root/bench/data
questions=${EMBERS_TESTDATA:-$root/testdata-fetched}/gensim/questions-words.txt
mkdir -p "$work" "$data"
cd "$root"
command -v finalfusion >/dev/null || { echo "finalfusion is not on PATH" >&2; exit 1; }
embers=${EMBERS:-$root/target/release/embers}
[ -x "$embers" ] || cargo build --release -q -p embers-cli

txt=$data/glove-$rows-$dims.txt
if [ ! -s "$txt" ]; then
  # Same generator as bench/formats.sh: the same file when both scripts are run.
  python3 "$root/bench/glove_shaped.py" "$txt" "$rows" "$dims"
fi
word=$(head -n 1 "$txt" | cut -d' ' -f1)

# measure LABEL COMMAND...: one run; prints wall, CPU (user + sys) and peak RSS; keeps the
# command's stdout in $work/out.txt and stderr in $work/err.txt; never fails the script.
measure() {
  local label=$1; shift
  local rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
  read -r t u s k < <(tail -n 1 "$work/time")
  printf "%-58s %8.1f s wall %8.1f s cpu %7.0f MB peak  exit %d\n" "$label" "$t" \
    "$(python3 -c "print($u + $s)")" "$(python3 -c "print($k / 1024)")" "$rc"
  return 0
}
size() { stat -c %s "$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.4f}')"; }

echo "model: $txt ($rows x $dims, $(du -h "$txt" | cut -f1)); $(nproc) cores; $(uptime)"
fifu=$work/glove-$rows-$dims.fifu
native=$work/glove-$rows-$dims.embers
measure "finalfusion convert text -> finalfusion" finalfusion convert -f text "$txt" "$fifu"
measure "embers convert glove -> native" "$embers" convert -q "$txt" "$native" --from glove

echo "== finalfusion quantize -q pq -s $m -b 8 -i $iters -t 2 ($(uptime | sed 's/.*load/load/'))"
ffq=$work/glove-$rows-$dims-pq.fifu
measure "finalfusion quantize (pq, m $m, 8 bits, $iters iterations)" \
  finalfusion quantize -f finalfusion -q pq -s "$m" -b 8 -i "$iters" -t 2 "$fifu" "$ffq"
cat "$work/err.txt" | tail -n 3
echo "   after: $(uptime | sed 's/.*load/load/')"
echo "   size: $(size "$ffq") bytes = $(ratio "$(size "$ffq")" "$(size "$fifu")") x the f32 finalfusion file ($(size "$fifu") bytes)"

head -n 300 "$questions" > "$work/questions-300.txt"
for f in "$fifu" "$ffq"; do
  name=$(basename "$f")
  for fmt in finalfusion finalfusion_mmap; do
    if echo "$word" | finalfusion similar -f $fmt -k 3 "$f" >"$work/out.txt" 2>"$work/err.txt"; then
      echo "   finalfusion similar -f $fmt on $name: accepted ($(head -n 1 "$work/out.txt" | tr '\t' ' '))"
    else
      echo "   finalfusion similar -f $fmt on $name: refused: $(tail -n 1 "$work/err.txt")"
    fi
  done
  if finalfusion compute-accuracy --threads 2 "$f" "$work/questions-300.txt" >"$work/out.txt" 2>"$work/err.txt"; then
    echo "   finalfusion compute-accuracy on $name: accepted ($(tail -n 1 "$work/out.txt"))"
  else
    echo "   finalfusion compute-accuracy on $name: refused: $(tail -n 1 "$work/err.txt")"
  fi
done
# finalfusion's rows, decoded, against the unit-length input rows (what it quantized).
if finalfusion convert -f finalfusion -t textdims "$ffq" "$work/ff-decoded.txt" 2>"$work/err.txt"; then
  python3 - "$txt" "$work/ff-decoded.txt" <<'PY'
import sys, numpy as np
def rows(path, skip):
    with open(path) as f:
        lines = f.read().splitlines()[skip:]
    return np.array([l.split(" ", 1)[1].split() for l in lines], dtype=np.float64)
x = rows(sys.argv[1], 0)
y = rows(sys.argv[2], 1)
u = x / np.linalg.norm(x, axis=1, keepdims=True)
print(f"   finalfusion rows vs unit input rows: relative squared error "
      f"{((y - u) ** 2).sum() / (u ** 2).sum():.5f}; decoded row norms "
      f"{np.linalg.norm(y, axis=1).mean():.4f} on average")
PY
else
  echo "   finalfusion convert of the quantized file: refused: $(tail -n 1 "$work/err.txt")"
fi

echo "== embers quantize --to pq -m $m on the same model ($(uptime | sed 's/.*load/load/'))"
runs=(
  "pq, m $m, 8 bits, $iters iterations, all rows|--sample $rows --iterations $iters"
  "pq, m $m, 8 bits, defaults (65,536 rows, 25 iterations)|"
  "pq + OPQ (10 rounds), m $m, all rows, $iters iterations|--sample $rows --iterations $iters --rotation opq"
)
for run in "${runs[@]}"; do
  label=${run%%|*}
  extra=${run#*|}
  out=$work/glove-$rows-$dims-embers-pq.embers
  # shellcheck disable=SC2086
  RAYON_NUM_THREADS=2 measure "embers quantize ($label)" \
    "$embers" --progress none quantize "$native" "$out" --to pq -m "$m" --bits 8 --normalize --json $extra
  python3 - "$work/out.txt" "$(size "$out")" "$(size "$native")" "$(size "$fifu")" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
out, native, fifu = map(int, sys.argv[2:5])
print(f"   relative squared error {r['relative_squared_error']:.5f} (unit rows); quantize "
      f"{r['quantize_seconds']:.1f} s; file {out} bytes = {out / native:.4f} x the f32 native "
      f"file, {out / fifu:.4f} x the f32 finalfusion file")
PY
  "$embers" similar "$out" "$word" -k 3 >/dev/null && echo "   embers similar: accepted"
  "$embers" info "$out" | grep -E "^rotation" || true
done
"$embers" eval "$out" --analogies "$work/questions-300.txt" >/dev/null 2>&1 \
  && echo "   embers eval --analogies on the PQ file: accepted" \
  || echo "   embers eval --analogies on the PQ file: failed"
echo "done: $(uptime)"
