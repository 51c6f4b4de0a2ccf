#!/usr/bin/env bash
# Format benchmark: a GloVe-shaped text file of ROWS × DIMS (default 400,000 × 50, values with 5
# decimals like glove.6B) and a word2vec binary of the same vectors; times embers (text → native,
# binary → native, native open, one lookup) against gensim 4.4 (load_word2vec_format text and
# binary, its own format with mmap='r'), and finalfusion if `finalfusion` is on PATH.
# Usage: bench/formats.sh [ROWS] [DIMS]   (data cached in bench/data/, ignored by git)
# Wall time is the best of 3 (gensim text: 1 run); cpu = user + sys of all threads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rows=${1:-400000}
dims=${2:-50}
data=$root/bench/data
mkdir -p "$data"
cd "$root"
cargo build --release -q -p embers-cli
embers=$root/target/release/embers
txt=$data/glove-$rows-$dims.txt
if [ ! -s "$txt" ]; then
  python3 "$root/bench/glove_shaped.py" "$txt" "$rows" "$dims"
fi
bin=$data/w2v-$rows-$dims.bin
[ -s "$bin" ] || "$embers" convert -q "$txt" "$bin" --to word2vec-binary
native=$data/out-$rows-$dims.embers
echo "file: $txt ($(du -h "$txt" | cut -f1)), $bin ($(du -h "$bin" | cut -f1)); $(nproc) cores"
echo "matrix: $(python3 -c "print(f'{$rows*$dims*4/2**20:.1f}')") MiB; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

measure() { # label, command...
  local label=$1; shift
  local best=999999 cpu=999999 rss=0
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %U %S %M" -o "$data/time" "$@" >/dev/null
    read -r t u s m < "$data/time"
    best=$(python3 -c "print(min($best, $t))")
    cpu=$(python3 -c "print(min($cpu, $u + $s))")
    rss=$m
  done
  printf "%-44s %8.3f s wall %8.3f s cpu %8.1f MiB peak (%.2fx the matrix)\n" "$label" "$best" "$cpu" \
    "$(python3 -c "print($rss/1024)")" "$(python3 -c "print($rss*1024/($rows*$dims*4))")"
}

measure "embers text (GloVe) -> native" "$embers" convert -q "$txt" "$native" --from glove
measure "embers word2vec binary -> native" "$embers" convert -q "$bin" "$native"
measure "embers info (native open)" "$embers" info "$native"
word=$(head -c 200 "$txt" | cut -d' ' -f1)
measure "embers lookup one word (native)" "$embers" lookup "$native" "$word"

python3 - "$txt" "$bin" "$data" <<'PY'
import sys, time, resource
from gensim.models import KeyedVectors
txt, binf, data = sys.argv[1:4]
def best(f, n):
    ts, cs = [], []
    for _ in range(n):
        t, c = time.perf_counter(), time.process_time(); r = f()
        ts.append(time.perf_counter() - t); cs.append(time.process_time() - c)
    return (min(ts), min(cs)), r
t, kv = best(lambda: KeyedVectors.load_word2vec_format(txt, no_header=True), 1)
print(f"{'gensim load_word2vec_format text':44s} {t[0]:8.3f} s wall {t[1]:8.3f} s cpu")
t, kv = best(lambda: KeyedVectors.load_word2vec_format(binf, binary=True), 3)
print(f"{'gensim load_word2vec_format binary':44s} {t[0]:8.3f} s wall {t[1]:8.3f} s cpu")
kv.save(data + "/gensim.kv")
t, _ = best(lambda: KeyedVectors.load(data + "/gensim.kv", mmap="r"), 3)
print(f"{'gensim KeyedVectors.load(mmap=r)':44s} {t[0]:8.3f} s wall {t[1]:8.3f} s cpu")
print(f"{'gensim peak RSS (whole run)':44s} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:8.1f} MiB")
PY

if command -v finalfusion >/dev/null 2>&1; then
  measure "finalfusion convert text -> finalfusion" finalfusion convert -f text -t finalfusion "$txt" "$data/ff.fifu"
  measure "finalfusion convert word2vec -> finalfusion" finalfusion convert -f word2vec -t finalfusion "$bin" "$data/ff.fifu"
else
  echo "finalfusion: not installed (cargo install --locked finalfusion-utils), skipped"
fi
rm -f "$data/ff.fifu" "$data"/gensim.kv* "$native"
