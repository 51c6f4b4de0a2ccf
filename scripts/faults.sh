#!/usr/bin/env bash
# The fault campaign of RELIABILITY.md: crash during writes (kill -9 at random moments) and disk
# full (outputs on a small tmpfs). Prints one table row per campaign and the details above it.
#
#   scripts/faults.sh                      # release binary, 20 kills per command and destination
#   KILLS=30 EMBERS=target/debug/embers scripts/faults.sh
#
# Needs: the `embers` binary (built with `cargo build --release -p embers-cli`), the test data of
# scripts/fetch-testdata.sh (lee_background.cor), and root for the tmpfs (else disk full is
# reported as not run). Not part of CI: it takes a few minutes.
set -uo pipefail

cd "$(dirname "$0")/.."
EMBERS=${EMBERS:-target/release/embers}
EMBERS=$(realpath "$EMBERS")
KILLS=${KILLS:-20}
CORPUS=$(realpath testdata-fetched/gensim/lee_background.cor)
[ -x "$EMBERS" ] || { echo "no binary at $EMBERS (cargo build --release -p embers-cli)"; exit 2; }
[ -f "$CORPUS" ] || { echo "no $CORPUS (scripts/fetch-testdata.sh)"; exit 2; }

WORK=$(mktemp -d /tmp/embers-faults.XXXXXX)
MNT=""
cleanup() {
    if [ -n "$MNT" ]; then umount "$MNT" 2>/dev/null; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
e() { "$EMBERS" --progress none "$@"; }

# Inputs: a 20,000 × 100 matrix (native and word2vec text) and the corpus.
seq 1 20000 | sed 's/^/w/' > words.txt
e vocab from-wordlist words.txt -o words.tsv >/dev/null
e init --vocab words.tsv --dim 100 --seed 1 -o base.safetensors >/dev/null
e convert base.safetensors base.vec >/dev/null

# name | output file | command (OUT is the destination; inputs by absolute path, since the
# killed runs start in a fresh folder d/). --threads 1: deterministic outputs, so
# a complete output is byte-identical to the reference made below.
COMMANDS=(
    "convert|out.safetensors|convert $WORK/base.vec OUT"
    "quantize|out.safetensors|quantize $WORK/base.safetensors OUT --to int8"
    "train word2vec|out.safetensors|train word2vec $CORPUS -o OUT --dim 50 --epochs 2 --threads 1"
    "train fasttext|out.safetensors|train fasttext $CORPUS -o OUT --dim 50 --epochs 1 --bucket 50000 --threads 1"
    "train glove|out.safetensors|train glove $CORPUS -o OUT --dim 50 --iter 5 --threads 1 --memory 256K"
    "index build|out.hnsw|index build $WORK/base.safetensors -o OUT --threads 1 --samples 10"
    "vocab build|out.tsv|vocab build $CORPUS -o OUT --min-count 1 --threads 1"
)

run_cmd() { # $1 command template, $2 destination
    local c=${1//OUT/$2}
    # shellcheck disable=SC2086
    e $c
}

is_native() { case "$1" in *.safetensors) return 0 ;; *) return 1 ;; esac; }

leftovers() { # temporary files left in the current folder by interrupted runs
    find . -maxdepth 1 \( -name '.*.tmp-*' -o -name '.embers-*' \) | wc -l
}

echo "== crash during writes: kill -9 at a random moment, $KILLS times per command and destination"
total_kills=0; bad=0; total_left=0; next_ok=0; next_runs=0; next_clean=0
for spec in "${COMMANDS[@]}"; do
    IFS='|' read -r name file template <<<"$spec"
    mkdir -p ref && rm -rf ref/*
    start=$(date +%s.%N)
    run_cmd "$template" "ref/$file" >/dev/null 2>&1 || { echo "reference run of $name failed"; exit 1; }
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    # An "old" destination: a valid file of the same kind, different from the new output.
    case "$file" in
        *.safetensors) cp base.safetensors old ;;
        *.hnsw) e index build base.safetensors -o old --threads 1 --seed 7 --samples 10 >/dev/null ;;
        *.tsv) e vocab build "$CORPUS" -o old --min-count 3 --threads 1 >/dev/null ;;
    esac
    for state in none old; do
        kills=0; outcomes_old=0; outcomes_absent=0; outcomes_new=0; left=0
        for _ in $(seq 1 "$KILLS"); do
            rm -rf d && mkdir d
            [ "$state" = old ] && cp old "d/$file"
            delay=$(awk -v s="$secs" -v r="$RANDOM" 'BEGIN { printf "%.3f", s * r / 32768 }')
            ( cd d && run_cmd "$template" "$file" >/dev/null 2>&1 ) &
            pid=$!
            sleep "$delay"
            # The subshell's child is the embers process.
            child=$(pgrep -P "$pid" | head -1)
            kill -9 "${child:-$pid}" 2>/dev/null && kills=$((kills + 1))
            wait "$pid" 2>/dev/null
            dest="d/$file"
            if [ ! -e "$dest" ]; then
                if [ "$state" = old ]; then bad=$((bad + 1)); echo "  $name/$state: old file gone"; fi
                outcomes_absent=$((outcomes_absent + 1))
            elif cmp -s "$dest" old && [ "$state" = old ]; then
                outcomes_old=$((outcomes_old + 1))
            elif cmp -s "$dest" "ref/$file"; then
                outcomes_new=$((outcomes_new + 1))
            else
                bad=$((bad + 1)); echo "  $name/$state: destination is neither old nor complete"
            fi
            if [ -e "$dest" ] && is_native "$file" && ! e verify "$dest" >/dev/null 2>&1; then
                bad=$((bad + 1)); echo "  $name/$state: destination fails verify"
            fi
            l=$(cd d && leftovers); left=$((left + l))
            # The next run over the leftovers succeeds and writes a complete file.
            if [ "$l" -gt 0 ]; then
                next_runs=$((next_runs + 1))
                if ( cd d && run_cmd "$template" "$file" >/dev/null 2>&1 ) && cmp -s "d/$file" "ref/$file"; then
                    next_ok=$((next_ok + 1))
                fi
                # ... and removes what the killed run left.
                [ "$(cd d && leftovers)" -eq 0 ] && next_clean=$((next_clean + 1))
            fi
        done
        total_kills=$((total_kills + kills)); total_left=$((total_left + left))
        printf '  %-15s over %-4s: %2d kills (run %.2fs): old kept %2d, absent %2d, complete new %2d; temporary files left %d\n' \
            "$name" "$state" "$kills" "$secs" "$outcomes_old" "$outcomes_absent" "$outcomes_new" "$left"
    done
done
echo "  leftover names: .NAME.tmp-PID-NONCE (atomic writes), .embers-* (GloVe spill folders)"
echo "  runs started over leftovers: $next_runs, complete and correct: $next_ok, leftovers removed: $next_clean"
echo "| crash during writes (kill -9 at random moments; 7 commands × no/old destination) | $total_kills kills | $bad bad destinations (old file kept, absent, or complete new file; native ones pass \`embers verify\`); $total_left temporary files left by SIGKILL, clearly named; $next_ok/$next_runs next runs over them wrote the complete file and $next_clean/$next_runs removed the leftovers |"

echo
echo "== disk full: outputs on a 2 MiB tmpfs"
mkdir -p full
if mount -t tmpfs -o size=2m tmpfs full 2>/dev/null; then
    MNT=$WORK/full
else
    echo "| disk full | not run | mount -t tmpfs needs root |"
    exit 0
fi
full_trials=0; full_bad=0
check_full() { # $1 name, $2 exit code, $3 stderr file, $4 destination, $5 old file or ""
    full_trials=$((full_trials + 1))
    # One error line (a trainer's summary lines before it, e.g. GloVe's vocabulary and
    # co-occurrence counts, are not errors).
    local lines; lines=$(grep -c '^embers: error' "$3")
    local why=""
    [ "$2" -eq 1 ] || why="exit $2"
    [ "$lines" -eq 1 ] || why="$why; $lines error lines"
    grep -q panicked "$3" && why="$why; panic"
    if [ -n "$5" ]; then cmp -s "$4" "$5" || why="$why; old file changed"
    else [ ! -e "$4" ] || why="$why; partial file"; fi
    [ "$(find full -maxdepth 1 \( -name '.*.tmp-*' -o -name '.embers-*' \) | wc -l)" -eq 0 ] || why="$why; temporary files left"
    if [ -n "$why" ]; then full_bad=$((full_bad + 1)); echo "  $1: $why: $(cat "$3")"; else echo "  $1: $(cat "$3")"; fi
}
# Big enough outputs: 2,000-dim GloVe/word2vec rows, the 8 MB matrix, 2 M fastText buckets.
FULL_COMMANDS=(
    "convert|out.safetensors|convert $WORK/base.vec OUT"
    "quantize|out.safetensors|quantize $WORK/base.safetensors OUT --to f16"
    "train word2vec|out.safetensors|train word2vec $CORPUS -o OUT --dim 500 --epochs 1"
    "train fasttext|out.safetensors|train fasttext $CORPUS -o OUT --dim 20 --epochs 1 --bucket 100000"
    "train glove|out.safetensors|train glove $CORPUS -o OUT --dim 500 --iter 1"
    "index build|out.hnsw|index build base.safetensors -o OUT --samples 10"
    "vocab build|out.tsv|vocab build $CORPUS -o OUT --min-count 1"
)
for spec in "${FULL_COMMANDS[@]}"; do
    IFS='|' read -r name file template <<<"$spec"
    for state in none old; do
        rm -rf full/* full/.[!.]* 2>/dev/null
        old=""
        if [ "$state" = old ]; then head -c 300000 base.safetensors > "full/$file"; cp "full/$file" old.copy; old=old.copy; fi
        # Leave about 100 KB free (vocab.tsv is small otherwise).
        avail=$(df --output=avail -B1 full | tail -1)
        head -c $((avail - 100000)) /dev/zero > full/filler 2>/dev/null
        timeout 120 "$EMBERS" --progress none ${template//OUT/full/$file} >/dev/null 2>err.txt
        rc=$?
        rm -f full/filler
        check_full "$name over $state" "$rc" err.txt "full/$file" "$old"
    done
done
# GloVe spilling to a full disk (the deadlock of issue 15): --temp-dir on the full tmpfs.
for t in 1 2 3; do
    rm -rf full/* full/.[!.]* 2>/dev/null
    avail=$(df --output=avail -B1 full | tail -1)
    head -c $((avail - 200000)) /dev/zero > full/filler 2>/dev/null
    timeout 120 "$EMBERS" --progress none train glove "$CORPUS" -o out.safetensors --memory 64K \
        --temp-dir full --threads 2 --iter 1 >/dev/null 2>err.txt
    rc=$?
    rm -f full/filler
    check_full "glove spill to a full disk, run $t" "$rc" err.txt out.safetensors ""
done
echo "| disk full (outputs and GloVe spills on a 2 MiB tmpfs, nearly full) | $full_trials runs | $full_bad bad (one-line error and exit 1, no partial file, old file kept, no temporary files left, no hang) |"
