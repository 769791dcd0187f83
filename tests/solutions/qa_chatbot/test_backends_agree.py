"""The same FAQ and documents, loaded on Milvus Lite + SQLite (Milvus BM25) and on a Milvus 2.3 server + MariaDB
(in-process BM25), rank alike: the same results in the same order, scores within what the two BM25 engines'
tokenizers make of the texts."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend
from tests.support import load

from .helpers import DEBIAN_FAQ, faq_csv, make_app

QUERIES = ["why does ps aux complain about a bogus dash", "how are debian package file names made",
           "what does a postinst script do", "which distribution am I running", "who painted the mona lisa",
           "where do I find the maintainer of a package"]


@pytest.mark.integration
def test_lite_and_server_rank_alike(tmp_path, unique, qa_models, server_backend):
    root = tmp_path / "in"
    faq_csv(root)
    for name in ("pkg-basics", "choosing"):
        shutil.copyfile(DEBIAN_FAQ / f"{name}.en.html", root / f"{name}.html")
    rankings = {}
    for backend in (Backend("lite", "", ""), server_backend):
        app = make_app(backend, tmp_path / backend.name, unique, root, qa_models)
        with TestClient(app) as client:
            try:
                assert load(client, root)["failed"] == 0
                engine = app.state.pipeline.bm25_engine
                assert engine == "local"  # Milvus Lite's BM25 statistics are per segment; 2.3 has no BM25
                rankings[backend.name] = [client.post("/search", json={"query": q, "top_k": 5}).json()["results"]
                                          for q in QUERIES]
            finally:
                client.delete("/data")
    for lite, server in zip(rankings["lite"], rankings["server"], strict=True):
        assert [h["id"] for h in lite[:3]] == [h["id"] for h in server[:3]]
        assert all(abs(a["score"] - b["score"]) < 0.05 for a, b in zip(lite, server, strict=False))
        assert [h["highlight"] for h in lite[:3]] == [h["highlight"] for h in server[:3]]
