#!/usr/bin/env bash
# The project's test command. On a fresh machine it first installs what the tests need (Debian
# tools, the project-local Python environment .venv/, third-party test data by package name; see
# scripts/test-env.sh), then runs every test. Tests run Python only as $EMBERS_PYTHON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
env_lines=$(scripts/test-env.sh)
eval "$env_lines"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
