"""Milvus server (BINARY_VECTOR + JACCARD, exact re-rank) and Milvus Lite (in-memory index) give the same answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend

from .helpers import load, make_app, write_data, write_stereo

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
            answers[backend.name] = [
                [(h["id"], h["smiles"], h["similarity"]) for h in client.post("/search", json=q).json()["results"]]
                for q in QUERIES
            ]
            client.delete("/data")
    for query, lite, server in zip(QUERIES, answers["lite"], answers["server"], strict=True):
        assert lite, query
        assert lite == server, query
