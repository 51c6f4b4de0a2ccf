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
mkdir -p $C/{word2vec_text,word2vec_binary,glove,fasttext_bin,npy,native,hf,quantized,hnsw,hf_folder}

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
# A tiny model written by gensim's fastText writer (4 dims, 40 buckets): a few KB, so the
# target runs ~10x more inputs a second than on the 20-210 KB files above.
python3 - "$C/fasttext_bin/gensim-tiny.bin" <<'PY'
import sys
from gensim.models import FastText
from gensim.models.fasttext import save_facebook_model
s = [["the", "cat", "sat"], ["on", "the", "mat"], ["a", "cat", "and", "a", "dog"]] * 5
m = FastText(s, vector_size=4, window=2, min_count=1, bucket=40, min_n=2, max_n=3, epochs=1, seed=1, workers=1)
save_facebook_model(m, sys.argv[1])
PY

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
# Quantized native files: every compressed kind, from 40 rows.
$E convert -q --limit 40 $G/crime-and-punishment.vec $T/q40.embers
$E quantize $T/q40.embers $C/quantized/f16.embers --to f16
$E quantize $T/q40.embers $C/quantized/int8.embers --to int8
$E quantize $T/q40.embers $C/quantized/int8a.embers --to int8 --affine
$E quantize $T/q40.embers $C/quantized/pq.embers --to pq --subquantizers 5 --bits 4 --sample 40 --iterations 3
$E quantize $T/q40.embers $C/quantized/opq.embers --to pq --subquantizers 5 --bits 4 --sample 40 --iterations 3 --rotation opq --opq-iterations 2

# Hugging Face folders: config.json, tokenizer.json and model.safetensors joined by SEP;
# the all-MiniLM-L6-v2 config and tokenizer with a 40-row cut of its weights, and GPT-2 style.
python3 - "$C/hf_folder" "$SEP" "${EMBERS_TESTDATA:-testdata-fetched}/minilm" <<'PY'
import json, struct, sys, numpy as np
out, sep, minilm = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
def st(tensors):
    header, data = {}, b""
    for name, arr in tensors:
        b = arr.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [len(data), len(data) + len(b)]}
        data += b
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
h = 8
cfg = json.loads(open(f"{minilm}/config.json").read())
cfg.update(vocab_size=40, hidden_size=h, max_position_embeddings=16)
tok = json.loads(open(f"{minilm}/tokenizer.json").read())
tok["model"]["vocab"] = {k: v for k, v in tok["model"]["vocab"].items() if v < 40}
tok["added_tokens"] = [t for t in tok["added_tokens"] if t["id"] < 40]
tok["post_processor"] = None
r = np.random.default_rng(1)
w = st([("embeddings.word_embeddings.weight", r.normal(size=(40, h))),
        ("embeddings.position_embeddings.weight", r.normal(size=(16, h))),
        ("embeddings.token_type_embeddings.weight", r.normal(size=(2, h))),
        ("embeddings.LayerNorm.weight", np.ones(h)), ("embeddings.LayerNorm.bias", np.zeros(h))])
open(f"{out}/bert.folder", "wb").write(json.dumps(cfg).encode() + sep + json.dumps(tok).encode() + sep + w)
g2 = {"model_type": "gpt2", "n_embd": 4, "n_positions": 8, "vocab_size": 6, "layer_norm_epsilon": 1e-5}
gtok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": {"h": 0, "e": 1, "l": 2, "o": 3, "he": 4, "ll": 5}, "merges": ["h e", "l l"]}}
gw = st([("transformer.wte.weight", r.normal(size=(6, 4))), ("transformer.wpe.weight", r.normal(size=(8, 4)))])
open(f"{out}/gpt2.folder", "wb").write(json.dumps(g2).encode() + sep + json.dumps(gtok).encode() + sep + gw)
PY

# HNSW: the target writes a seed index for its own fixed model when asked (one run).
(cd fuzz && : > "$T/empty" && EMBERS_FUZZ_WRITE_SEED="$PWD/corpus/hnsw/seed.hnsw" \
    RUSTC_BOOTSTRAP=1 cargo fuzz run -s address hnsw "$T/empty" -- -runs=1 >/dev/null 2>&1) \
    || echo "seed.sh: no cargo fuzz here; the hnsw corpus starts empty" >&2

du -sh $C/*
