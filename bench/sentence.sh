#!/usr/bin/env bash
# Static sentence encoding side by side, same model folders and texts, vectors compared:
#   embers (StaticModel::encode, crates/embers/examples/sentence_bench.rs),
#   model2vec-rs (crates.io 0.4.0, built here in a scratch cargo project outside the repository),
#   model2vec's Python StaticModel.encode (the .venv of scripts/test-env.sh).
# Models: the model2vec folder of tokenlearn-static-model (Unigram, int8, vocabulary
# quantization) and a model2vec folder built by model2vec from all-MiniLM-L6-v2 (WordPiece, f32).
# Texts: the first N lines of the shared English corpus. Then /v1/embeddings under wrk.
#
# Usage: bench/sentence.sh [LINES=100000] [DURATION=20s] [CONNECTIONS=64]
# Needs: eval "$(scripts/test-env.sh)", cargo build --release -p embers-cli, wrk.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lines=${1:-100000}
duration=${2:-20s}
conns=${3:-64}
work=${BENCH_DIR:-/tmp/embers-bench-sentence}
py=${EMBERS_PYTHON:-$root/.venv/bin/python}
data=${EMBERS_TESTDATA:-$root/testdata-fetched}
port=${PORT:-18282}
mkdir -p "$work"
cd "$root"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

cargo build --release -q -p embers --example sentence_bench
cargo build --release -q -p embers-cli
bench=$root/target/release/examples/sentence_bench
embers=$root/target/release/embers

# model2vec-rs, in a scratch project (not part of the workspace).
m2v=$work/m2vrs
if [ ! -x "$m2v/target/release/m2vrs-bench" ]; then
  mkdir -p "$m2v/src"
  cat >"$m2v/Cargo.toml" <<'TOML'
[package]
name = "m2vrs-bench"
version = "0.1.0"
edition = "2021"
[dependencies]
model2vec-rs = { version = "=0.4.0", default-features = false, features = ["fancy-regex"] }
anyhow = "1"
TOML
  cat >"$m2v/src/main.rs" <<'RS'
// m2vrs-bench MODEL_DIR TEXTS OUT_F32 REPEATS -> {"seconds": best, "rows", "dims"}
use std::io::Write;
fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    let model = model2vec_rs::model::StaticModel::from_pretrained(&a[1], None, None, None)?;
    let texts: Vec<String> = std::fs::read_to_string(&a[2])?.lines().map(String::from).collect();
    let mut best = f64::MAX;
    let mut out = Vec::new();
    for _ in 0..a[4].parse::<usize>()? {
        let t = std::time::Instant::now();
        out = model.encode_flat_with_args(&texts, Some(512));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(&a[3])?);
    for x in &out { f.write_all(&x.to_le_bytes())?; }
    println!("{{\"seconds\": {best}, \"rows\": {}, \"dims\": {}}}", texts.len(), model.dim());
    Ok(())
}
RS
  (cd "$m2v" && cargo build --release -q)
fi

(set +o pipefail; zcat /work/shared/data/corpus/en-mix.txt.gz | head -n "$lines") >"$work/texts.txt"
[ -d "$work/minilm-m2v" ] || "$py" scripts/static_reference.py build "$data/minilm" "$work/minilm-m2v" plain

echo "load: $(uptime | sed 's/.*load average: //')   cores: $(nproc)   texts: $lines lines, $(wc -w <"$work/texts.txt") words"
# CPU of the measured process into cu/cs (not e/r/p: those hold the best-of times below).
cpu_of() { /usr/bin/time -f '%U %S %e' -o "$work/time" "$@" >"$work/out.json"; read -r cu cs _ <"$work/time"; }
for model in "$data/static-tokenlearn" "$work/minilm-m2v"; do
  echo "== $(basename "$model")"
  cpu_of "$bench" "$model" "$work/texts.txt" "$work/embers.f32" 3
  e=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/out.json")
  dims=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dims"])' "$work/out.json")
  echo "embers        best of 3: ${e}s  ($(python3 -c "print(f'{$lines/$e:,.0f}')") texts/s)  process cpu ${cu}+${cs}s (3 runs + load)"
  cpu_of "$m2v/target/release/m2vrs-bench" "$model" "$work/texts.txt" "$work/m2vrs.f32" 3
  r=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/out.json")
  echo "model2vec-rs  best of 3: ${r}s  ($(python3 -c "print(f'{$lines/$r:,.0f}')") texts/s)  process cpu ${cu}+${cs}s"
  cpu_of "$py" bench/sentence_python.py encode "$model" "$work/texts.txt" "$work/python.f32" 2
  p=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/out.json")
  echo "model2vec py  best of 2: ${p}s  ($(python3 -c "print(f'{$lines/$p:,.0f}')") texts/s)  process cpu ${cu}+${cs}s"
  echo "ratios: embers / model2vec-rs = $(python3 -c "print(f'{$r/$e:.2f}')")×   embers / model2vec python = $(python3 -c "print(f'{$p/$e:.2f}')")×"
  echo "vectors vs model2vec python: embers $("$py" bench/sentence_python.py compare "$work/embers.f32" "$work/python.f32" "$dims")  model2vec-rs $("$py" bench/sentence_python.py compare "$work/m2vrs.f32" "$work/python.f32" "$dims")"
done

# /v1/embeddings under wrk: one sentence per request.
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
cat >"$work/embed.lua" <<'LUA'
local headers = { ["Content-Type"] = "application/json" }
local body = '{"model":"potion","input":"The quick brown fox jumps over the lazy dog near the river bank."}'
function request() return wrk.format("POST", "/v1/embeddings", headers, body) end
LUA
"$embers" serve "potion=$data/static-tokenlearn" --addr "127.0.0.1:$port" --threads 2 >"$work/serve.out" 2>"$work/serve.err" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
c0=$(cpu $server)
echo "== /v1/embeddings, potion (tokenlearn) model, wrk -t2 -c$conns -d$duration, load: $(uptime | sed 's/.*load average: //')"
wrk -t2 -c"$conns" -d"$duration" --latency -s "$work/embed.lua" "http://127.0.0.1:$port" | grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors'
echo "server cpu during the run: $(python3 -c "print(f'{$(cpu $server) - $c0:.2f}')") s"
