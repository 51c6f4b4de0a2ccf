#!/usr/bin/env bash
# Format benchmark, every tool in the same run on the same input (bench/formats_run.py takes the
# tools in turns, RUNS times each, and prints medians and ratios with user/sys CPU, peak RSS and
# the load average). Cases:
#   glove6b   the real GloVe 6B 50d text (400,000 x 50, 171 MB; written from
#             testdata-fetched/glove6b50d by bench/formats_glove6b.py, values with 5 significant
#             digits like glove.6B.50d.txt): embers convert -> native vs finalfusion convert
#   gen300    a generated 400,000 x 300 GloVe-shaped text (bench/glove_shaped.py, ~1.1 GB)
#   vecgz     the GloVe 6B vectors as a word2vec .vec.gz (header line, gzip -6): embers on the
#             .gz, on the plain .vec, and `gzip -dc` alone
#   binary    the GloVe 6B vectors as word2vec binary: embers vs gensim
#             load_word2vec_format(binary=True) vs finalfusion convert -f word2vec
#   open      the native file: `embers info` (opens the file, reads the header) and one lookup,
#             vs gensim KeyedVectors.load(mmap='r')
#   limit     bench/formats_limit.rs on the same texts: read from the page cache, and read + parse
#             every value into a fresh f32 matrix, on 2 threads, nothing else
# finalfusion-utils is cargo-installed when `finalfusion` is neither on PATH nor in ~/.cargo/bin.
# Python: $EMBERS_VENV/bin/python, else .venv/bin/python, else python3 (needs numpy, gensim 4.4).
# Usage: bench/formats.sh [RUNS] [CASES...]   (default 5; all cases). Data in bench/data/.
# EMBERS_GENSIM_TEXT=1 adds gensim's text reader to glove6b (~12 s a run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
shift || true
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(glove6b gen300 vecgz binary open limit)
want() { local c; for c in "${cases[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }
data=$root/bench/data
mkdir -p "$data"
cd "$root"
py=python3
for v in "${EMBERS_VENV:-}" "$root/.venv" /work/venv; do
  if [ -n "$v" ] && [ -x "$v/bin/python" ]; then py=$v/bin/python; break; fi
done

cargo build --release -q -p embers-cli
embers=$root/target/release/embers
ff=$(command -v finalfusion || true)
[ -n "$ff" ] || { [ -x "$HOME/.cargo/bin/finalfusion" ] && ff=$HOME/.cargo/bin/finalfusion; } || true
# Only the cases that run it need finalfusion (vecgz, open and limit do not).
if [ -z "$ff" ] && { want glove6b || want gen300 || want binary; }; then
  echo "finalfusion not found: cargo install --locked finalfusion-utils" >&2
  cargo install --locked finalfusion-utils >&2
  ff=$HOME/.cargo/bin/finalfusion
fi
rustc --edition 2021 -O -C target-cpu=native bench/formats_limit.rs -o "$data/formats_limit"

glove=$data/glove.6B.50d.txt
if [ ! -s "$glove" ]; then
  [ -s testdata-fetched/glove6b50d/emb.npy ] || EMBERS_BENCH_DATA=1 scripts/fetch-testdata.sh >&2
  "$py" bench/formats_glove6b.py testdata-fetched/glove6b50d "$glove"
fi
gen=$data/glove-400000-300.txt
if want gen300 && [ ! -s "$gen" ]; then
  "$py" bench/glove_shaped.py "$gen" 400000 300
fi
vec=$data/glove.6B.50d.vec
[ -s "$vec" ] || { echo "400000 50"; cat "$glove"; } > "$vec"
[ -s "$vec.gz" ] || gzip -6 -c "$vec" > "$vec.gz"
bin=$data/glove.6B.50d.bin
[ -s "$bin" ] || "$embers" convert -q "$glove" "$bin" --from glove --to word2vec-binary
native=$data/glove.6B.50d.embers
[ -s "$native" ] || "$embers" convert -q "$glove" "$native" --from glove
[ -s "$data/gensim.kv" ] || "$py" -c "
from gensim.models import KeyedVectors
KeyedVectors.load_word2vec_format('$bin', binary=True).save('$data/gensim.kv')"
out=$data/out.embers
m50=$((400000 * 50 * 4))
m300=$((400000 * 300 * 4))

echo "embers $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+changes'); $("$ff" --version 2>/dev/null | head -1 || echo finalfusion); gensim $("$py" -c 'import gensim; print(gensim.__version__)'); $(nproc) cores; $(date -u +%FT%TZ)"
echo "inputs: $(du -b "$glove" | cut -f1) B GloVe 6B text, $(du -b "$bin" | cut -f1) B binary, $(du -b "$vec.gz" | cut -f1) B .vec.gz$(want gen300 && echo ", $(du -b "$gen" | cut -f1) B generated x300")"
# Inputs in the page cache, as for the limit.
cat "$glove" "$bin" "$vec" "$vec.gz" > /dev/null
want gen300 && cat "$gen" > /dev/null

args=()
gensim_text=""
[ "${EMBERS_GENSIM_TEXT:-0}" = 1 ] && gensim_text=";gensim load_word2vec_format text=gensim:text:$glove"
want glove6b && args+=("GloVe 6B 50d text -> native|$m50|embers convert=$embers convert -q $glove $out --from glove;finalfusion convert -f text=$ff convert -f text -t finalfusion $glove $data/ff.fifu$gensim_text")
want gen300 && args+=("generated 400,000 x 300 text -> native|$m300|embers convert=$embers convert -q $gen $out --from glove;finalfusion convert -f text=$ff convert -f text -t finalfusion $gen $data/ff.fifu")
want vecgz && args+=("GloVe 6B 50d .vec.gz -> native|$m50|embers convert .vec.gz=$embers convert -q $vec.gz $out;embers convert .vec (plain)=$embers convert -q $vec $out;gzip -dc alone=gzip -dc $vec.gz")
want binary && args+=("GloVe 6B 50d word2vec binary -> native|$m50|embers convert=$embers convert -q $bin $out;gensim load_word2vec_format(binary)=gensim:binary:$bin;finalfusion convert -f word2vec=$ff convert -f word2vec -t finalfusion $bin $data/ff.fifu")
word=$(head -c 100 "$glove" | cut -d' ' -f1)
want open && args+=("native open (GloVe 6B 50d)|0|embers info=$embers info $native;embers lookup one word=$embers lookup $native $word;gensim KeyedVectors.load mmap r=gensim:mmap:$data/gensim.kv")
[ ${#args[@]} -eq 0 ] || "$py" bench/formats_run.py "$runs" "${args[@]}"

if want limit; then
  echo
  echo "## limit (bench/formats_limit.rs; load average $(cut -d' ' -f1 /proc/loadavg) before)"
  "$data/formats_limit" "$glove" 2 "$runs"
  want gen300 && "$data/formats_limit" "$gen" 2 "$runs"
fi
rm -f "$data/ff.fifu" "$out"
