#!/usr/bin/env python3
"""Reference for embers' static sentence models: model2vec's own code (PyPI model2vec).

  static_reference.py build MINILM_DIR OUT_DIR VARIANT
      Builds a model2vec folder from a BERT folder's tokenizer.json and token matrix with
      model2vec's StaticModel(...).save_pretrained, as model2vec writes them. VARIANT:
        plain    float32 table, no weights, normalize=True, max_length default (512)
        weighted float16 table, per-token weights, normalize=False, max_length=8
  static_reference.py encode MODEL_DIR TEXTS_JSON OUT_F32
      Loads MODEL_DIR with model2vec.StaticModel.from_pretrained and writes encode(texts) as
      little-endian float32 (rows × dims, C order) to OUT_F32; prints {"rows", "dims"}.

Used by crates/embers/tests/static_model.rs and bench/sentence.sh.
"""
import json
import struct
import sys

import numpy as np


def read_tensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        t = header[name]
        start, end = t["data_offsets"]
        f.seek(8 + n + start)
        raw = f.read(end - start)
    assert t["dtype"] == "F32", t["dtype"]
    return np.frombuffer(raw, dtype="<f4").reshape(t["shape"])


def build(minilm, out, variant):
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(f"{minilm}/tokenizer.json")
    vectors = read_tensor(f"{minilm}/model.safetensors", "embeddings.word_embeddings.weight")
    if variant == "plain":
        model = StaticModel(vectors=vectors.copy(), tokenizer=tokenizer, normalize=True)
    elif variant == "weighted":
        ids = np.arange(len(vectors), dtype=np.float64)
        weights = (1.0 / np.log(ids + 2.0)).astype(np.float32)  # Zipf-like: frequent ids weigh more
        model = StaticModel(
            vectors=vectors.astype(np.float16),
            tokenizer=tokenizer,
            normalize=False,
            weights=weights,
            max_length=8,
        )
    else:
        raise SystemExit(f"unknown variant {variant}")
    model.save_pretrained(out)


def encode(model_dir, texts_json, out):
    from model2vec import StaticModel

    with open(texts_json, encoding="utf-8") as f:
        texts = json.load(f)
    model = StaticModel.from_pretrained(model_dir)
    vectors = np.asarray(model.encode(texts), dtype=np.float32)
    vectors.astype("<f4").tofile(out)
    print(json.dumps({"rows": vectors.shape[0], "dims": vectors.shape[1]}))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(*sys.argv[2:5])
    elif sys.argv[1] == "encode":
        encode(*sys.argv[2:5])
    else:
        raise SystemExit(__doc__)
