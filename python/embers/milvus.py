"""Export to Milvus, the distributed vector database, through ``pymilvus`` (Milvus speaks gRPC;
pymilvus is its client). The same call works against Milvus Lite (``uri="./vectors.db"``, the
embedded engine of PyPI's ``milvus-lite``) and a cluster (``uri="http://host:19530"``).

From Python: ``kv.to_milvus(uri, collection)`` or :func:`export`. From the shell:
``embers export FILE --to milvus --uri URI --collection NAME`` (the Rust CLI runs this module
with the Python that has embers and pymilvus installed), or ``python -m embers.milvus FILE ...``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Callable, Dict, Optional

import numpy as np

from ._errors import EmbersError, InvalidArgument

INDEXES = ("hnsw", "ivf_pq", "ivf_flat", "flat", "autoindex")


def _client(uri: str, token: Optional[str]) -> Any:
    try:
        from pymilvus import MilvusClient
    except ImportError as e:  # pragma: no cover - exercised by users without pymilvus
        raise EmbersError(
            "exporting to Milvus needs pymilvus (and milvus-lite for a local .db file): "
            "pip install pymilvus milvus-lite"
        ) from e
    return MilvusClient(uri=uri, token=token or "")


def pq_subquantizers(dims: int) -> int:
    """Milvus's IVF_PQ needs ``dims % m == 0``: the largest divisor of ``dims`` giving
    sub-vectors of at least 2 values, so about half the dimensions."""
    for m in range(max(1, dims // 2), 0, -1):
        if dims % m == 0:
            return m
    return 1


def index_params(kind: str, rows: int, dims: int) -> Dict[str, Any]:
    """The index settings embers uses for ``kind`` (metric always COSINE)."""
    kind = kind.lower()
    if kind == "hnsw":
        return {"index_type": "HNSW", "params": {"M": 16, "efConstruction": 200}}
    nlist = int(min(65536, max(1, round(4 * math.sqrt(max(rows, 1))))))
    if kind == "ivf_pq":
        return {"index_type": "IVF_PQ", "params": {"nlist": nlist, "m": pq_subquantizers(dims), "nbits": 8}}
    if kind == "ivf_flat":
        return {"index_type": "IVF_FLAT", "params": {"nlist": nlist}}
    if kind == "flat":
        return {"index_type": "FLAT", "params": {}}
    if kind == "autoindex":
        return {"index_type": "AUTOINDEX", "params": {}}
    raise InvalidArgument(f"index must be one of {', '.join(INDEXES)}, got {kind!r}")


def export(
    kv: Any,
    uri: str,
    collection: str,
    *,
    index: str = "hnsw",
    batch: int = 10_000,
    drop_existing: bool = False,
    token: Optional[str] = None,
    progress: Optional[Callable[[Dict[str, Any]], None]] = None,
) -> Dict[str, Any]:
    """Writes every word of ``kv`` (an :class:`embers.KeyedVectors`) into a new Milvus
    collection: ``word`` (VARCHAR primary key) and ``vector`` (FLOAT_VECTOR of the model's
    dimension), inserted ``batch`` rows at a time, then indexes ``vector`` (``hnsw``, ``ivf_pq``,
    ``ivf_flat``, ``flat``; metric COSINE) and loads the collection for search.

    An existing collection of that name is an error unless ``drop_existing``. ``progress``
    gets ``{"stage": "insert", "done", "total", "unit": "rows"}`` after each batch. Returns
    ``{"rows", "dims", "seconds", "insert_seconds", "index_seconds", "rows_per_second",
    "index"}`` (rows/s counts the whole export, inserts and index)."""
    if batch < 1:
        raise InvalidArgument(f"batch must be at least 1, got {batch}")
    params = index_params(index, len(kv), kv.vector_size)
    client = _client(uri, token)
    try:
        from pymilvus import DataType, MilvusClient

        if client.has_collection(collection):
            if not drop_existing:
                raise EmbersError(
                    f"Milvus collection {collection!r} already exists at {uri}; "
                    "drop it first or pass drop_existing=True (--drop)"
                )
            client.drop_collection(collection)
        words = kv.index_to_key
        vectors = kv.vectors
        rows, dims = vectors.shape
        max_len = max((len(w.encode("utf-8")) for w in words), default=1)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("word", DataType.VARCHAR, is_primary=True, max_length=max(1, min(65535, max_len)))
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dims)
        client.create_collection(collection, schema=schema)
        start = time.perf_counter()
        for lo in range(0, rows, batch):
            hi = min(rows, lo + batch)
            block = vectors[lo:hi]
            client.insert(
                collection,
                [{"word": words[i], "vector": block[i - lo]} for i in range(lo, hi)],
            )
            if progress is not None:
                progress({"stage": "insert", "done": hi, "total": rows, "unit": "rows"})
        inserted = time.perf_counter()
        ip = client.prepare_index_params()
        ip.add_index(field_name="vector", metric_type="COSINE", **params)
        client.create_index(collection, ip)
        client.load_collection(collection)
        done = time.perf_counter()
    finally:
        client.close()
    seconds = done - start
    return {
        "rows": rows,
        "dims": dims,
        "seconds": seconds,
        "insert_seconds": inserted - start,
        "index_seconds": done - inserted,
        "rows_per_second": rows / seconds if seconds > 0 else float("inf"),
        "index": params["index_type"],
    }


def main(argv: Optional[list] = None) -> int:
    """``python -m embers.milvus FILE --uri URI --collection NAME [--index] [--batch]``: what
    ``embers export FILE --to milvus`` runs."""
    p = argparse.ArgumentParser(prog="embers export --to milvus", description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("--uri", required=True, help="Milvus URI: ./vectors.db (Milvus Lite) or http://host:19530")
    p.add_argument("--collection", required=True)
    p.add_argument("--index", default="hnsw", choices=INDEXES)
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--token", default=os.environ.get("MILVUS_TOKEN"), help="user:password or API key (default: $MILVUS_TOKEN)")
    p.add_argument("--drop", action="store_true", help="replace an existing collection of that name")
    p.add_argument("--limit", type=int, default=None, help="export only the first N rows")
    p.add_argument("--progress", choices=("bar", "json", "none"), default="bar")
    a = p.parse_args(argv)

    import embers

    try:
        kv = embers.load(a.file, limit=a.limit)

        def report(ev: Dict[str, Any]) -> None:
            if a.progress == "json":
                print(json.dumps({"event": "progress", **ev}), file=sys.stderr, flush=True)
            elif a.progress == "bar":
                pct = 100.0 * ev["done"] / max(1, ev["total"])
                print(f"\rinsert {ev['done']}/{ev['total']} rows ({pct:.0f}%)", end="", file=sys.stderr, flush=True)

        r = export(kv, a.uri, a.collection, index=a.index, batch=a.batch, drop_existing=a.drop, token=a.token, progress=report)
        if a.progress == "bar":
            print(file=sys.stderr)
    except EmbersError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if a.progress == "json":
        print(json.dumps({"event": "done", **r}), file=sys.stderr)
    print(
        f"{r['rows']} rows x {r['dims']} dims -> Milvus collection {a.collection} at {a.uri}: "
        f"{r['seconds']:.2f}s ({r['rows_per_second']:.0f} rows/s; insert {r['insert_seconds']:.2f}s, "
        f"{r['index']} index {r['index_seconds']:.2f}s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
