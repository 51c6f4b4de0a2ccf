#!/usr/bin/env bash
# embers' analogy answers (`evaluate_analogies`: the sum of the cosines with the question
# words) against gensim's (the cosine with normalize(b + c − a)), question by question, on a
# model stored as f32 and as int8 (gensim reads the int8 rows decoded, as embers scores them).
# usage: bench/analogy_gensim.sh MODEL.embers EVAL_DIR [OUT_DIR]   (needs gensim 4.4)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$1 eval=$2 out=${3:-$(mktemp -d)}
py=${EMBERS_PYTHON:-python3}
cargo build --release -q -p embers-cli -p embers --example analogy_paths --manifest-path "$root/Cargo.toml"
bin=$root/target/release
"$bin/embers" quantize "$model" "$out/int8.embers" --to int8 --progress none
"$bin/embers" quantize "$out/int8.embers" "$out/int8-decoded.embers" --to f32 --progress none
"$py" "$root/bench/analogy_gensim.py" "$model" "$eval/questions-words.txt" > "$out/gensim-f32.json"
"$py" "$root/bench/analogy_gensim.py" "$out/int8-decoded.embers" "$eval/questions-words.txt" > "$out/gensim-int8.json"
"$bin/examples/analogy_paths" "$model" "$eval/questions-words.txt" f32 --gensim "$out/gensim-f32.json" | grep -v '^  '
"$bin/examples/analogy_paths" "$model" "$eval/questions-words.txt" int8 --gensim "$out/gensim-int8.json" | grep -v '^  '
