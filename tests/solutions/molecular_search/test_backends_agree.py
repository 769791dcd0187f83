"""Milvus server (BINARY_VECTOR + JACCARD, exact re-rank) and Milvus Lite (in-memory index) give the same answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend
from tests.support import load

from .helpers import make_app, write_data, write_stereo

QUERIES = [
    {"smiles": "CC(=O)Oc1ccccc1C(=O)O", "top_k": 10},
    {"smiles": "c1ccc2ccccc2c1", "top_k": 50},
    {"smiles": "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN", "top_k": 1},
    {"smiles": "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN", "top_k": 40},  # 64 tied candidates: Milvus list is widened
    {"smiles": "CCN(CC)CC", "top_k": 100, "min_similarity": 0.25},
    {"smiles": "Clc1ccccc1", "top_k": 7},
    {"smiles": "c1ccccc1C(=O)O", "top_k": 30, "mode": "substructure"},
    {"smiles": "[#6]~[#7]", "top_k": 20, "mode": "substructure"},
]


def _count_limits(client) -> list[int]:
    """Record the ``limit`` of every Milvus search the client makes (instance attribute shadows the method)."""
    calls: list[int] = []
    original = client.search

    def search(*args, **kwargs):
        calls.append(kwargs["limit"])
        return original(*args, **kwargs)

    client.search = search
    return calls


@pytest.mark.integration
def test_lite_and_server_return_identical_results(server_backend, tmp_path, unique):
    root = write_data(tmp_path / "root")
    write_stereo(root)
    answers = {}
    for backend in (Backend("lite", "", ""), server_backend):
        app = make_app(backend, tmp_path / backend.name, unique, root)
        with TestClient(app) as client:
            assert app.state.pipeline.use_milvus is (backend.name == "server")
            load(client, root)
            if backend.name == "server":  # 64 exact ties at 1.0 for top_k=1: the candidate list must widen
                calls = _count_limits(app.state.vectors.client)
                top = client.post("/search", json={"smiles": "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN", "top_k": 1}).json()
                del app.state.vectors.client.search  # back to the class method
                assert top["results"][0]["similarity"] == 1.0
                assert len(calls) >= 2 and calls[-1] > 64, calls
            answers[backend.name] = [
                [(h["id"], h["smiles"], h["similarity"]) for h in client.post("/search", json=q).json()["results"]]
                for q in QUERIES
            ]
            client.delete("/data")
    for query, lite, server in zip(QUERIES, answers["lite"], answers["server"], strict=True):
        assert lite, query
        assert lite == server, query
