#!/usr/bin/env bash
# Supervised fastText models side by side: embers against fastText's own tool (Debian's
# `fasttext` 0.9.2) and its Python module (fasttext-wheel 0.9.2 in .venv), same inputs.
#   1. lid.176.ftz prediction throughput (top-1) on the fortunes test lines repeated REPEAT
#      times: `embers predict --file` vs `fasttext predict-prob` on the file and vs the Python
#      module's `predict` on a list of lines (its C++ multilinePredict; model load excluded).
#   2. Training on the fortunes language-ID corpus (12 languages), same settings for both:
#      dim 50, lr 0.5, epoch 5, wordNgrams 2, bucket 200000, softmax, THREADS threads; P@1 on
#      the test split (to 4 decimals) for seeds 1 2 3 (median) and time per run.
#   3. Quantization of the trained models (cutoff 50000, retrain, qnorm, dsub 2): P@1.
# Prints wall and CPU seconds (user+sys) and the load. usage: bench/supervised.sh
# env: THREADS (2), REPEAT (20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
threads=${THREADS:-2}
repeat=${REPEAT:-20}
py=${EMBERS_PYTHON:-$root/.venv/bin/python}
data=$root/testdata-fetched
out=$(mktemp -d /tmp/embers-supervised-bench.XXXX)
trap 'rm -rf "$out"' EXIT
cargo build --release -q -p embers-cli
embers=$root/target/release/embers
model=$data/lid/lid.176.ftz
for _ in $(seq "$repeat"); do cat "$data/fortunes/lines.txt"; done >"$out/lines.txt"
n=$(wc -l <"$out/lines.txt")
echo "load: $(uptime | sed 's/.*load/load/')"
# t NAME CMD...: wall and user+sys seconds of CMD (stdout to $out/NAME.out).
t() {
  local name=$1
  shift
  /usr/bin/time -f "%e %U %S" -o "$out/$name.time" "$@" >"$out/$name.out"
  read -r w u s <"$out/$name.time"
  echo "$name $w $(echo "$u + $s" | bc)"
}
echo "## lid.176.ftz, $n lines, top-1"
echo "| tool | wall s | CPU s | lines/s (wall) |"
echo "|---|---|---|---|"
row() { read -r name w c; printf '| %s | %s | %s | %.0f |\n' "$name" "$w" "$c" "$(echo "$n / $w" | bc -l)"; echo "$name $w $c" >>"$out/rows"; }
t embers-predict "$embers" predict "$model" --file "$out/lines.txt" | row
t fasttext-predict-prob fasttext predict-prob "$model" "$out/lines.txt" 1 | row
cat >"$out/py.py" <<'PY'
import sys, time, fasttext
m = fasttext.load_model(sys.argv[1])
lines = [l.rstrip("\n") for l in open(sys.argv[2], encoding="utf-8")]
t0 = time.perf_counter(); c0 = time.process_time()
labels, probs = m.f.multilinePredict([l + "\n" for l in lines], 1, 0.0, "strict")
print(f"python-predict-list {time.perf_counter() - t0:.3f} {time.process_time() - c0:.3f}")
PY
"$py" "$out/py.py" "$model" "$out/lines.txt" 2>/dev/null | tail -n1 | row
awk 'NR==1{e=$2} NR>1{printf "embers vs %s: %.1fx (wall), %.1fx (CPU)\n", $1, $2/e, $3/ec} NR==1{ec=$3}' "$out/rows"
# Same answers on the whole file (the test checks this too, with probabilities).
cut -d' ' -f1 "$out/embers-predict.out" | cmp -s - <(cut -d' ' -f1 "$out/fasttext-predict-prob.out") &&
  echo "top-1 labels identical on all $n lines" || echo "TOP-1 LABELS DIFFER"

echo
echo "## Training on fortunes (train $(wc -l <"$data/fortunes/train.txt") lines, test $(wc -l <"$data/fortunes/test.txt")), $threads threads"
echo "| tool | seed | wall s | CPU s | P@1 | P@1 quantized (.ftz) | .ftz bytes |"
echo "|---|---|---|---|---|---|---|"
# P@1 to 4 decimals (`test` prints 3 significant digits, as fastText): the share of labelled test
# lines whose top label (from `embers predict`, equal to fastText's) is one of the line's labels.
cat >"$out/p1.py" <<'PY'
import sys
gold = open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n")
pred = open(sys.argv[2], encoding="utf-8").read().split("\n")
n = hit = 0
for g, p in zip(gold, pred):
    labels = [t for t in g.split() if t.startswith("__label__")]
    if labels:
        n += 1
        hit += bool(p.split()) and p.split()[0] in labels
print(f"{hit / n:.4f}")
PY
p1() {
  "$embers" predict "$1" --file "$data/fortunes/test.txt" >"$out/p1.out"
  "$py" "$out/p1.py" "$data/fortunes/test.txt" "$out/p1.out"
}
for seed in 1 2 3; do
  read -r _ w c < <(t "embers-train-$seed" "$embers" train supervised "$data/fortunes/train.txt" -o "$out/e$seed.bin" \
    --dim 50 --lr 0.5 --epoch 5 --word-ngrams 2 --bucket 200000 --thread "$threads" --seed "$seed" --progress none)
  "$embers" quantize "$out/e$seed.bin" "$out/e$seed.ftz" --cutoff 50000 --retrain --input "$data/fortunes/train.txt" \
    --qnorm --dsub 2 --thread "$threads" --progress none >/dev/null
  r="embers $seed $w $c $(p1 "$out/e$seed.bin") $(p1 "$out/e$seed.ftz") $(stat -c %s "$out/e$seed.ftz")"
  echo "$r" >>"$out/train-rows"
  echo "| ${r// / | } |"
  read -r _ w c < <(t "fasttext-train-$seed" fasttext supervised -input "$data/fortunes/train.txt" -output "$out/f$seed" \
    -dim 50 -lr 0.5 -epoch 5 -wordNgrams 2 -bucket 200000 -thread "$threads" -seed "$seed" -verbose 0)
  fasttext quantize -input "$data/fortunes/train.txt" -output "$out/f$seed" -cutoff 50000 -retrain -qnorm -dsub 2 \
    -thread "$threads" -verbose 0 >/dev/null
  r="fastText $seed $w $c $(p1 "$out/f$seed.bin") $(p1 "$out/f$seed.ftz") $(stat -c %s "$out/f$seed.ftz")"
  echo "$r" >>"$out/train-rows"
  echo "| ${r// / | } |"
done
# Medians over the seeds, and the ratios fastText / embers.
median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "| median of seeds 1 2 3 | wall s | CPU s | P@1 | P@1 quantized |"
echo "|---|---|---|---|---|"
for tool in embers fastText; do
  m() { awk -v t="$tool" -v c="$1" '$1==t{print $c}' "$out/train-rows" | median; }
  echo "| $tool | $(m 3) | $(m 4) | $(m 5) | $(m 6) |" | tee -a "$out/medians"
done
awk -F' [|] ' 'NR==1{w=$2; c=$3; p=$4} NR==2{printf "training: fastText / embers = %.1fx (wall), %.1fx (CPU); P@1 embers - fastText = %+.3f\n", $2/w, $3/c, p-$4}' "$out/medians"
echo "load: $(uptime | sed 's/.*load/load/')"
