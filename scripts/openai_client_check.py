#!/usr/bin/env python3
"""Drives a running `embers serve` with the official `openai` Python client (PyPI openai) and
checks its /v1/embeddings and /v1/models answers against model2vec's own encode.

Usage: openai_client_check.py BASE_URL STATIC_NAME STATIC_DIR WORDS_NAME
Prints one JSON object with what was checked; exits non-zero (with the reason) on a mismatch.
Used by crates/embers-cli/tests/cli/sentence.rs.
"""
import json
import sys

import numpy as np
import openai
from model2vec import StaticModel

base, static_name, static_dir, words_name = sys.argv[1:5]
client = openai.OpenAI(base_url=base, api_key="not-needed", max_retries=0, timeout=30)
reference = StaticModel.from_pretrained(static_dir)
texts = [
    "How old are you?",
    "The quick brown fox jumps over the lazy dog.",
    "",
    "naïve café — 日本語 🙂",
    "word " * 600,
]
expected = np.asarray(reference.encode(texts), dtype=np.float32)
report = {}


def check_close(name, got, want, tol=1e-6):
    got = np.asarray(got, dtype=np.float32)
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    if got.shape != want.shape or diff > tol:
        raise SystemExit(f"{name}: shape {got.shape} vs {want.shape}, max difference {diff}")
    report[name] = diff


# The client's default: base64 (it decodes little-endian float32 itself).
r = client.embeddings.create(model=static_name, input=texts)
assert r.object == "list" and r.model == static_name, r
assert [d.index for d in r.data] == list(range(len(texts)))
assert all(d.object == "embedding" for d in r.data)
check_close("base64", [d.embedding for d in r.data], expected)
tokens = sum(len(reference.tokenize([t])[0]) for t in texts)
assert r.usage.prompt_tokens == tokens == r.usage.total_tokens, (r.usage, tokens)
report["prompt_tokens"] = tokens

# Floats, one string.
r = client.embeddings.create(model=static_name, input=texts[0], encoding_format="float")
check_close("float_single", [r.data[0].embedding], expected[:1])

# dimensions: the first N values, re-normalised.
r = client.embeddings.create(model=static_name, input=texts[:2], dimensions=16, encoding_format="float")
cut = expected[:2, :16]
cut = cut / np.linalg.norm(cut, axis=1, keepdims=True)
check_close("dimensions", [d.embedding for d in r.data], cut)

# Token ids: one list, and a list of lists.
ids = reference.tokenize(texts[:2])
r = client.embeddings.create(model=static_name, input=ids[0], encoding_format="float")
check_close("token_ids", [r.data[0].embedding], expected[:1])
r = client.embeddings.create(model=static_name, input=ids, encoding_format="float")
check_close("token_id_lists", [d.embedding for d in r.data], expected[:2])
assert r.usage.prompt_tokens == len(ids[0]) + len(ids[1])

# A word model: the mean of its token vectors.
r = client.embeddings.create(model=words_name, input=["the king", "queen"], encoding_format="float")
report["word_model_dims"] = len(r.data[0].embedding)
assert r.usage.prompt_tokens == 3, r.usage

# Errors: OpenAI's shape and status codes, raised by the client as its own exceptions.
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
    expect_error(openai.NotFoundError, 404, "model", model="no-such-model", input="x"),
    expect_error(openai.BadRequestError, 400, "dimensions", model=static_name, input="x", dimensions=10_000),
    expect_error(openai.BadRequestError, 400, "input", model=static_name, input=[]),
    expect_error(openai.BadRequestError, 400, "input", model=static_name, input=["x"] * 9),
    expect_error(openai.BadRequestError, 400, "input", model=static_name, input=[[1] * 700]),
    expect_error(openai.BadRequestError, 400, "input", model=static_name, input=[[10**9]]),
    expect_error(openai.BadRequestError, 400, "encoding_format", model=static_name, input="x", encoding_format="int8"),
]

# GET /v1/models in OpenAI's list shape.
ids = sorted(m.id for m in client.models.list())
assert static_name in ids and words_name in ids, ids
report["models"] = ids
print(json.dumps(report))
