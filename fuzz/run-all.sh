#!/usr/bin/env bash
# Runs every fuzz target one after the other under AddressSanitizer for a fixed number of
# executions (default 1,000,000 each) or at most FUZZ_SECONDS a target (default: no time limit),
# whichever comes first, from the corpora fuzz/seed.sh fills, and prints one
# line a target from libFuzzer's final statistics: runs, seconds, exec/s, coverage at start
# and end, and whether it crashed. Stable toolchain + RUSTC_BOOTSTRAP=1 (cargo-fuzz's flags).
#
#   [FUZZ_SECONDS=S] fuzz/run-all.sh [RUNS] [TARGET...]      (log per target in fuzz/logs/)
set -uo pipefail
cd "$(dirname "$0")"
RUNS=${1:-1000000}; shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(hnsw word2vec_binary npy quantized native glove hf hf_folder word2vec_text fasttext_bin)
export RUSTC_BOOTSTRAP=1
# The targets write every input to a scratch file (the readers take paths): on a memory-backed
# directory that is 2.6-3.6x more executions a second than on the disk-backed /tmp here.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
mkdir -p logs
cargo fuzz build -s address >/dev/null 2>logs/build.err || { tail logs/build.err; exit 1; }
echo "# $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %10s %8s %8s %14s %14s %s\n' target runs seconds exec/s cov ft result
fail=0
for t in "${TARGETS[@]}"; do
    mkdir -p corpus/$t
    start=$(date +%s)
    cargo fuzz run -s address "$t" corpus/$t -- -runs="$RUNS" -max_total_time="${FUZZ_SECONDS:-0}" \
        -max_len=65536 -rss_limit_mb=2048 \
        -timeout=20 -print_final_stats=1 > logs/$t.log 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' logs/$t.log | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' logs/$t.log | tail -1)
    cov0=$(grep -m1 'INITED' logs/$t.log | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p')
    cov1=$(grep -E '#[0-9]+.*(DONE|pulse|NEW|REDUCE)' logs/$t.log | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p')
    if [ $rc -eq 0 ]; then result=ok; else result="CRASH (exit $rc, see fuzz/logs/$t.log, fuzz/artifacts/$t/)"; fail=1; fi
    printf '%-16s %10s %8s %8s %14s %14s %s\n' "$t" "${runs:-?}" "$secs" "${rate:-?}" \
        "$(echo ${cov0:-? ?} | cut -d' ' -f1)->$(echo ${cov1:-? ?} | cut -d' ' -f1)" \
        "$(echo ${cov0:-? ?} | cut -d' ' -f2)->$(echo ${cov1:-? ?} | cut -d' ' -f2)" "$result"
done
echo "# $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $fail
