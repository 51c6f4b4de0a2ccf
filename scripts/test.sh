#!/usr/bin/env bash
# The project's test command. On a fresh machine it first installs what the tests need (Debian
# tools, the project-local Python environment .venv/ with the embers Python package, third-party
# test data by package name; see scripts/test-env.sh), then runs every test: cargo's, then pytest's. Tests run Python only as $EMBERS_PYTHON.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
env_lines=$(scripts/test-env.sh)
eval "$env_lines"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
# The Python package's suite (python/tests), on the package test-env.sh installed: gensim parity,
# zero copy, errors, training, Milvus Lite, Parquet. Run from the repository root so `import
# embers` finds the installed package, not the python/embers sources.
"$EMBERS_PYTHON" -m pytest -q -p no:cacheprovider python/tests
