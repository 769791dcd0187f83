"""VectorStore on Milvus Lite and on a real Milvus 2.3 server."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType

from common.errors import BackendUnavailable
from common.vectors import VectorStore, escape_string, int_list, open_vector_store


@pytest.fixture
def store(backend, tmp_path):
    store = open_vector_store(backend.milvus_uri, "", tmp_path / "milvus.db")
    yield store
    store.close()


def make_collection(store: VectorStore, name: str, dim: int = 16) -> None:
    schema = store.new_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("name", DataType.VARCHAR, max_length=256)
    index = store.new_index_params()
    index.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 8, "efConstruction": 64})
    store.ensure_collection(name, schema, index)


def rows(n: int, dim: int = 16, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    return [{"id": i + 1, "vector": v.tolist(), "name": f"item-{i}"} for i, v in enumerate(vectors)]


def test_capabilities_are_detected(store, backend):
    caps = store.capabilities
    if backend.name == "lite":
        assert (caps.binary_vector, caps.bm25) == (False, True)
        assert caps.server_version.startswith("milvus_lite")
    else:
        assert (caps.binary_vector, caps.bm25) == (True, False)
        assert caps.server_version.startswith("v2.3")
    assert not [c for c in store.client.list_collections() if c.startswith("_probe_")]


def test_insert_search_count_delete_drop(store, unique):
    name = f"t_{unique}"
    make_collection(store, name)
    data = rows(2500)  # more than one insert batch
    assert store.upsert(name, data) == 2500
    store.flush(name)
    assert store.count(name) == 2500
    hits = store.search(name, [data[42]["vector"]], anns_field="vector", limit=3, metric_type="COSINE",
                        params={"ef": 64}, output_fields=["name"])
    assert hits[0][0]["id"] == 43 and hits[0][0]["entity"]["name"] == "item-42"
    assert hits[0][0]["distance"] == pytest.approx(1.0, abs=1e-4)
    # upsert replaces by primary key instead of duplicating
    store.upsert(name, [{**data[0], "name": "renamed"}])
    assert store.count(name) == 2500
    assert store.get(name, [1], ["name"])[0]["name"] == "renamed"
    store.delete(name, ids=[1, 2, 3])
    assert store.count(name) == 2497
    session = store.search(name, [data[1]["vector"]], anns_field="vector", limit=5, metric_type="COSINE",
                           params={"ef": 64}, consistency_level="Session")
    assert session[0] and not {1, 2, 3} & {h["id"] for h in session[0]}  # this client's own delete is seen
    assert store.get(name, [1, 2, 3]) == []
    store.delete(name, filter=f"id in {int_list([4, 5])}")
    assert store.count(name) == 2495
    pages = list(store.iterate(name, output_fields=["name"], batch=1000))
    assert [len(p) for p in pages] == [1000, 1000, 495]
    assert len({r["id"] for p in pages for r in p}) == 2495
    store.drop(name)
    assert not store.has_collection(name) and store.count(name) == 0


def test_filters_escape_user_strings(store, unique):
    name = f"t_{unique}"
    make_collection(store, name)
    hostile = ['it\'s "quoted"', 'x" or id > 0 or name == "', "back\\slash", "tab\tand\nnewline", "ünï©ødé"]
    store.upsert(name, [{"id": i + 1, "vector": r["vector"], "name": s}
                        for i, (s, r) in enumerate(zip(hostile, rows(len(hostile)), strict=True))])
    for i, text in enumerate(hostile):
        found = store.query(name, filter=f"name == {escape_string(text)}", output_fields=["name"])
        assert [(r["id"], r["name"]) for r in found] == [(i + 1, text)]
    with pytest.raises(ValueError):
        int_list(["1 or 1==1"])


def test_unreachable_server_is_backend_unavailable():
    store = VectorStore("http://127.0.0.1:1", "")  # connects on first use
    with pytest.raises(BackendUnavailable, match=r"cannot connect to Milvus at http://127\.0\.0\.1:1"):
        store.has_collection("anything")
    with pytest.raises(BackendUnavailable):
        store.ping()
    store.close()  # nothing to close
