#!/usr/bin/env bash
# Are embers' GloVe co-occurrence counts Stanford's? Counts a corpus with Stanford's vocab_count
# and cooccur (built from the upstream source, see bench/quality.sh) and with embers (the
# example cooc_stanford, which numbers words by Stanford's vocabulary file), then compares the
# two record sets: same (word, context) pairs, largest absolute and relative count difference,
# and the sums.
# Usage: STANFORD_GLOVE=/tmp/GloVe/build bench/glove_cooc_check.sh [CORPUS] [WINDOW]
#   CORPUS plain or gzip text (default en-mix), WINDOW (default 10, as bench/quality.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus_in=$(realpath "${1:-/work/shared/data/corpus/en-mix.txt.gz}")
window=${2:-10}
sgl=${STANFORD_GLOVE:?must name the folder of the built Stanford tools}
python=${PYTHON:-$root/.venv/bin/python}
work=$(mktemp -d /tmp/embers-cooc.XXXX)
trap 'rm -rf "$work"' EXIT
zcat -f "$corpus_in" >"$work/corpus.txt"
(cd "$root" && cargo build --release -q -p embers --example cooc_stanford)
"$sgl/vocab_count" -min-count 5 -verbose 0 <"$work/corpus.txt" >"$work/vocab.txt"
"$sgl/cooccur" -memory 1.0 -vocab-file "$work/vocab.txt" -verbose 0 -window-size "$window" \
  <"$work/corpus.txt" >"$work/stanford.bin"
"$root/target/release/examples/cooc_stanford" "$work/corpus.txt" "$work/vocab.txt" "$window" \
  "$work/embers.bin"
"$python" - "$work/stanford.bin" "$work/embers.bin" <<'PY'
import sys
import numpy as np
rec = np.dtype([("w", "<i4"), ("c", "<i4"), ("v", "<f8")])
s, e = (np.fromfile(p, dtype=rec) for p in sys.argv[1:3])
def by_pair(r):
    key = r["w"].astype(np.int64) << 32 | r["c"].astype(np.int64)
    order = np.argsort(key, kind="stable")
    return key[order], r["v"][order]
ks, vs = by_pair(s)
ke, ve = by_pair(e)
same = len(ks) == len(ke) and bool((ks == ke).all())
print(f"records: Stanford {len(s):,}, embers {len(e):,}; same pairs: {same}")
if same:
    d = np.abs(vs - ve)
    print(f"largest count difference {d.max():.3g} (relative {(d / vs).max():.3g}); "
          f"sums {vs.sum():.6f} / {ve.sum():.6f}")
PY
