#!/usr/bin/env python3
"""Drives a running `embers serve` that serves a sentence-transformers folder with the official
`openai` Python client (PyPI openai) and checks its /v1/embeddings answers against the rows of
`embers encode FOLDER --file TEXTS --json` for the same folder.

Usage: openai_transformer_check.py BASE_URL NAME TEXTS_FILE ENCODE_JSONL
Prints one JSON object with what was checked (largest differences); exits non-zero (with the
reason) on a mismatch. Used by crates/embers-cli/tests/cli/sentence.rs.
"""
import json
import sys

import numpy as np
import openai

base, name, texts_file, encode_jsonl = sys.argv[1:5]
client = openai.OpenAI(base_url=base, api_key="not-needed", max_retries=0, timeout=60)
texts = open(texts_file, encoding="utf-8").read().split("\n")[:-1]
rows = [json.loads(line) for line in open(encode_jsonl, encoding="utf-8")]
assert len(rows) == len(texts), (len(rows), len(texts))
expected = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
tokens = sum(r["tokens"] for r in rows)
report = {"texts": len(texts), "dims": int(expected.shape[1])}


def check_close(what, got, want, tol=1e-6):
    got = np.asarray(got, dtype=np.float32)
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    if got.shape != want.shape or diff > tol:
        raise SystemExit(f"{what}: shape {got.shape} vs {want.shape}, max difference {diff}")
    report[what] = diff


# The client's default: base64.
r = client.embeddings.create(model=name, input=texts)
assert r.object == "list" and r.model == name, r
assert [d.index for d in r.data] == list(range(len(texts)))
check_close("base64", [d.embedding for d in r.data], expected)
assert r.usage.prompt_tokens == tokens == r.usage.total_tokens, (r.usage, tokens)
report["prompt_tokens"] = tokens

# One string at a time, as floats.
r = client.embeddings.create(model=name, input=texts[0], encoding_format="float")
check_close("float_single", [r.data[0].embedding], expected[:1])

# dimensions: the first N values, re-normalised.
r = client.embeddings.create(model=name, input=texts[:3], dimensions=64, encoding_format="float")
cut = expected[:3, :64]
cut = cut / np.linalg.norm(cut, axis=1, keepdims=True)
check_close("dimensions", [d.embedding for d in r.data], cut)


def expect_error(exc, status, param, **kwargs):
    try:
        client.embeddings.create(**kwargs)
    except exc as e:
        body = e.body if isinstance(e.body, dict) else {}
        assert e.status_code == status, (e.status_code, status)
        assert body.get("param") == param and body.get("type") == "invalid_request_error", body
        assert body.get("message"), body
        return body.get("code")
    raise SystemExit(f"no {exc.__name__} for {kwargs}")


report["errors"] = [
    # Token ids are refused for a transformer (it takes text).
    expect_error(openai.BadRequestError, 400, "input", model=name, input=[101, 2023, 102]),
    # More inputs than --max-batch.
    expect_error(openai.BadRequestError, 400, "input", model=name, input=["x"] * 9),
    # More tokens than --max-input-tokens (the special tokens count).
    expect_error(openai.BadRequestError, 400, "input", model=name, input=["word " * 100]),
    expect_error(openai.BadRequestError, 400, "dimensions", model=name, input="x", dimensions=385),
]

ids = {m.id for m in client.models.list()}
assert name in ids, ids
print(json.dumps(report))
