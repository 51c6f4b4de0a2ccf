#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs: third-party files from testdata-fetched/gensim
# (run scripts/fetch-testdata.sh first) and small files generated from them with the embers CLI
# and numpy. Nothing here is committed: the corpora are git-ignored and grow while fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
G=${EMBERS_TESTDATA:-testdata-fetched}/gensim
C=fuzz/corpus
SEP=$'\n--8<--\n'
cargo build -q -p embers-cli
E=target/debug/embers
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p $C/{word2vec_text,word2vec_binary,glove,fasttext_bin,npy,native,hf}

cp $G/word2vec_pre_kv_c $G/crime-and-punishment.vec $C/word2vec_text/
head -c 2000 $G/crime-and-punishment.vec > $C/word2vec_text/cap-head.vec
$E convert -q --limit 20 $G/crime-and-punishment.vec $T/cap20.vec
gzip -c $T/cap20.vec > $C/word2vec_text/cap20.vec.gz   # gzip is recognised by content
cp $G/euclidean_vectors.bin $C/word2vec_binary/
$E convert -q --limit 5 $G/crime-and-punishment.vec $T/small.bin
cp $T/small.bin $C/word2vec_binary/cap5.bin
cp $G/test_glove.txt $C/glove/
head -n 3 $G/test_glove.txt > $C/glove/glove3.txt
cp $G/crime-and-punishment.bin $G/lee_fasttext.bin $C/fasttext_bin/   # current and pre-0.9 layouts

# npy + vocabulary, joined by the separator the npy target splits at.
$E convert -q --limit 5 $G/crime-and-punishment.vec $T/x.npy
{ cat $T/x.npy; printf '%s' "$SEP"; cat $T/x.vocab.txt; } > $C/npy/f32.npy
python3 - "$C/npy" "$SEP" <<'PY'
import io, sys, numpy as np
out, sep = sys.argv[1], sys.argv[2].encode()
vocab = b"a\nb\nc\n"
for name, dt in [("f16", "<f2"), ("f64be", ">f8"), ("f32be", ">f4")]:
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=dt).reshape(3, 4) / 7)
    open(f"{out}/{name}.npy", "wb").write(buf.getvalue() + sep + vocab)
PY

# Native files (safetensors container): plain and with subwords.
$E convert -q --limit 5 $G/crime-and-punishment.vec $C/native/plain.embers
$E convert -q $G/crime-and-punishment.bin $C/native/subwords.embers

# Hugging Face style checkpoints: tensor "w" + tokenizer.json or vocab.txt.
python3 - "$C/hf" "$SEP" <<'PY'
import json, struct, sys, numpy as np
out, sep = sys.argv[1], sys.argv[2].encode()
def st(tensors):
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, arr, dt in tensors:
        b = arr.tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
tok = json.dumps({"added_tokens": [{"id": 0, "content": "[PAD]"}],
                  "model": {"type": "WordPiece", "unk_token": "[UNK]",
                            "vocab": {"[PAD]": 0, "[UNK]": 1, "the": 2, "##s": 3}}}).encode()
w = np.arange(16, dtype="<f4").reshape(4, 4) / 3
open(f"{out}/f32-json.st", "wb").write(st([("w", w, "F32"), ("b", w[0], "F32")]) + sep + tok)
open(f"{out}/f16-txt.st", "wb").write(st([("w", w.astype("<f2"), "F16")]) + sep + b"[PAD]\n[UNK]\nthe\n##s\n")
open(f"{out}/bf16-txt.st", "wb").write(st([("w", (w.view("<u4") >> 16).astype("<u2"), "BF16")]) + sep + b"a\nb\nc\nd\n")
open(f"{out}/f64-json.st", "wb").write(st([("w", w.astype("<f8"), "F64")]) + sep + tok)
PY
du -sh $C/*
