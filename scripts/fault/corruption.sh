#!/usr/bin/env bash
# Corruption part of issue 15's fault campaign.
#  1. In process, N mutants (default 10,000) of each of native f32, f16, int8, PQ, an HNSW index
#     and a Hugging Face folder through what info, verify, lookup, similar and serve start-up do
#     (crates/embers-server/examples/fault_corruption.rs): panics, hangs, verify's catch rate.
#  2. As processes, M mutants (default 200) of each kind through the release `embers` binary:
#     info, verify, lookup, similar (--ann for indexes) and serve start-up, each under a 20 s
#     timeout. A panic (exit 101), a signal (exit >= 128) or a timeout (124) is a failure; exit 0
#     or 1 with one error line is the contract.
#
#   scripts/fault/corruption.sh [N] [M]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-10000}
M=${2:-200}
cargo run -q --release -p embers-server --example fault_corruption -- "$N"

cargo build -q --release -p embers-cli
E=$PWD/target/release/embers
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
G=testdata-fetched/gensim
"$E" convert -q --limit 500 $G/crime-and-punishment.vec "$W/f32.embers"
"$E" quantize -q "$W/f32.embers" "$W/f16.embers" --to f16
"$E" quantize -q "$W/f32.embers" "$W/int8.embers" --to int8 --affine
"$E" quantize -q "$W/f32.embers" "$W/pq.embers" --to pq --subquantizers 4 --bits 8 --sample 500 --iterations 3
"$E" index build -q "$W/f32.embers" --progress none > /dev/null
python3 - "$W" "$M" "$E" <<'PY'
import os, random, subprocess, sys, shutil, collections
w, m, e = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(20261203)
def mutate(b):
    b = bytearray(b)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(5)
        if k == 0 and len(b) > 1:
            del b[rng.randrange(len(b)):]
        elif k in (1, 2) and b:
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(b)); b[i] ^= 1 << rng.randrange(8)
        elif k == 3 and len(b) > 8:
            i = rng.randrange(len(b) - 8)
            b[i:i + 8] = rng.choice([0, 2**64 - 1, 2**31, 2**40]).to_bytes(8, "little")
        elif b:
            i = rng.randrange(min(len(b), 4096)); b[i:i] = rng.choice([b"9", b"0", b"-1", b'"', b"{"])
    return bytes(b)
outcomes = collections.Counter()
bad = []
def run(args, label):
    try:
        r = subprocess.run(args, capture_output=True, timeout=20)
        code = r.returncode
        lines = r.stderr.decode(errors="replace").strip().splitlines()
        if code in (0, 1) and (code == 0 or len(lines) >= 1) and b"panicked" not in r.stderr:
            outcomes[f"exit {code}"] += 1
        else:
            outcomes[f"FAIL exit {code}"] += 1; bad.append((label, code, lines[-3:]))
    except subprocess.TimeoutExpired:
        outcomes["FAIL timeout"] += 1; bad.append((label, "timeout", []))
def serve_start(path, label):
    p = subprocess.Popen([e, "serve", path, "--addr", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = p.stdout.readline()
        if b"serving" in line:
            outcomes["serve started"] += 1
            p.terminate(); p.wait(20)
        else:
            code = p.wait(20)
            err = p.stderr.read()
            if code == 1 and b"panicked" not in err:
                outcomes["serve refused (exit 1)"] += 1
            else:
                outcomes[f"FAIL serve exit {code}"] += 1; bad.append((label, code, err[-300:]))
    except subprocess.TimeoutExpired:
        p.kill(); outcomes["FAIL serve timeout"] += 1; bad.append((label, "timeout", []))
for kind in ["f32", "f16", "int8", "pq", "hnsw"]:
    src = os.path.join(w, "f32.embers.hnsw" if kind == "hnsw" else f"{kind}.embers")
    seed = open(src, "rb").read()
    d = os.path.join(w, "m-" + kind); os.makedirs(d, exist_ok=True)
    for i in range(m):
        if kind == "hnsw":
            shutil.copy(os.path.join(w, "f32.embers"), os.path.join(d, "x.embers"))
            target = os.path.join(d, "x.embers.hnsw")
        else:
            target = os.path.join(d, "x.embers")
        open(target, "wb").write(mutate(seed))
        model = os.path.join(d, "x.embers")
        label = f"{kind} #{i}"
        if kind != "hnsw":
            run([e, "info", model], label + " info")
            run([e, "verify", model], label + " verify")
            run([e, "lookup", model, "the", "zzz", "--json"], label + " lookup")
            run([e, "similar", model, "the", "-k", "5"], label + " similar")
        else:
            run([e, "similar", model, "the", "-k", "5", "--ann"], label + " similar --ann")
        if i % 10 == 0:
            serve_start(model, label + " serve")
print("processes:", dict(outcomes))
for b in bad[:20]:
    print("  ", b)
sys.exit(1 if bad else 0)
PY
