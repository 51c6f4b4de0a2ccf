"""Export to Milvus Lite (the embedded Milvus engine behind pymilvus, a local .db file): every
word arrives with its vector, and Milvus's top-10 agrees with embers' exact neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import MilvusClient

import embers


@pytest.fixture(scope="module")
def kv(gensim_data):
    # Vectors written by fastText itself: 1,762 words × 10 dims.
    return embers.load(gensim_data / "lee_fasttext.vec")


def fetch_all(client, name, n):
    # A query without a filter, not `get` by id: pymilvus does not escape quotes in string ids.
    rows = client.query(name, filter="", output_fields=["word", "vector"], limit=n)
    return {row["word"]: np.asarray(row["vector"], dtype=np.float32) for row in rows}


@pytest.mark.parametrize("index", ["hnsw", "ivf_pq"])
def test_export_every_word_and_recall(kv, tmp_path, index):
    uri = str(tmp_path / "vectors.db")
    events = []
    report = kv.to_milvus(uri, "words", index=index, batch=400, progress=events.append)
    assert report["rows"] == len(kv) and report["rows_per_second"] > 0
    assert [e["done"] for e in events] == [min(len(kv), n) for n in range(400, len(kv) + 400, 400)]
    client = MilvusClient(uri)
    try:
        assert client.get_collection_stats("words")["row_count"] == len(kv)
        desc = client.describe_index("words", "vector")
        assert desc["index_type"] == index.upper() and desc["metric_type"] == "COSINE"
        words = kv.index_to_key
        got = fetch_all(client, "words", len(words))
        assert set(got) == set(words)
        for w in words[::97]:
            np.testing.assert_array_equal(got[w], kv[w])
        # Recall of Milvus's top 10 against embers' exact answers, for 1,000 words.
        queries = words[:1000]
        params = {"metric_type": "COSINE", "params": {"ef": 128} if index == "hnsw" else {"nprobe": 32}}
        hits = client.search("words", data=[kv[w].tolist() for w in queries], limit=11,
                             output_fields=["word"], search_params=params)
        found = 0
        for w, res in zip(queries, hits):
            theirs = [h["entity"]["word"] for h in res if h["entity"]["word"] != w][:10]
            ours = [x for x, _ in kv.most_similar(w, topn=10)]
            found += len(set(theirs) & set(ours))
        recall = found / (10 * len(queries))
        # HNSW is near exact here; IVF_PQ ranks by compressed codes, with no re-ranking.
        assert recall >= (0.95 if index == "hnsw" else 0.5), recall
    finally:
        client.close()


def test_existing_collection_is_refused(kv, tmp_path):
    uri = str(tmp_path / "v.db")
    small = embers.KeyedVectors.from_arrays(kv.index_to_key[:50], kv.vectors[:50])
    small.to_milvus(uri, "c", index="flat")
    with pytest.raises(embers.EmbersError, match="already exists"):
        small.to_milvus(uri, "c")
    r = small.to_milvus(uri, "c", drop_existing=True, index="hnsw")
    assert r["rows"] == 50
    with pytest.raises(embers.InvalidArgument):
        small.to_milvus(uri, "d", index="nope")
    with pytest.raises(embers.InvalidArgument):
        small.to_milvus(uri, "d", batch=0)


def test_parquet_read_back_by_pyarrow(kv, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "vectors.parquet"
    kv.to_parquet(path, row_group_size=500)
    t = pq.read_table(path)
    assert t.schema.field("word").type == pa.string()
    assert t.schema.field("vector").type == pa.list_(pa.float32(), kv.vector_size)
    assert t.column("word").to_pylist() == kv.index_to_key
    got = np.asarray(t.column("vector").combine_chunks().flatten()).reshape(len(kv), kv.vector_size)
    np.testing.assert_array_equal(got, kv.vectors)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
