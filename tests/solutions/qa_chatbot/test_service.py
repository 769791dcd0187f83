"""The QA service on both backends: load with per-row errors, dedupe, search, answer, refusal, bad input."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from solutions.qa_chatbot.pipeline import make_sample_data
from tests.support import load

from .helpers import make_app

INJECTION = "What about '; DROP TABLE qa_pairs; -- and id in [1] or \"x\" == \"x\\\" ?"


def test_service_end_to_end(backend, tmp_path, unique):
    root = tmp_path / "in"
    sample = make_sample_data(root)
    (root / "more.jsonl").write_text(
        json.dumps({"question": "HOW DO I RESET MY PASSWORD", "answer": "Newer answer.", "lang": "en"}) + "\n"
        + json.dumps({"question": INJECTION, "answer": "Injection strings are stored verbatim."}) + "\n"
        + "{not json\n", encoding="utf-8")
    (root / "bad.csv").write_text("question,answer\nOnly a question,\n", encoding="utf-8")
    app = make_app(backend, tmp_path, unique, root)
    with TestClient(app) as client:
        try:
            assert client.get("/count").json() == {"count": 0}
            assert client.post("/answer", json={"query": "anything"}).json()["answer"] is None
            task = load(client, root)
            assert task["state"] == "succeeded"
            assert task["failed"] == 2
            assert sorted(e["item"] for e in task["errors"]) == ["bad.csv:2", "more.jsonl:3"]
            # 17 sample pairs + injection; the shouted password question replaced the stored one
            assert client.get("/count").json() == {"count": 18}
            again = load(client, sample)
            assert again["done"] == 17 and client.get("/count").json() == {"count": 18}

            r = client.post("/search", json={"query": "I forgot my password, how can I set a new one?", "top_k": 3})
            assert r.status_code == 200
            body = r.json()
            assert set(body) == {"results", "took_ms"}
            assert len(body["results"]) == 3
            first = body["results"][0]
            assert set(first) == {"id", "question", "answer", "score"}
            assert "password" in first["question"].lower()
            assert all(0 <= h["score"] <= 1 for h in body["results"])
            assert [h["score"] for h in body["results"]] == sorted((h["score"] for h in body["results"]), reverse=True)

            item = client.get(f"/items/{first['id']}").json()
            assert item["metadata"] in ({"category": "account"}, {"lang": "en"})

            a = client.post("/answer", json={"query": "how long until my parcel arrives"}).json()
            assert a["confident"] is True and "deliver" in a["answer"].lower()
            assert a["question"] == "How long does shipping take?"
            assert 0 <= a["score"] <= 1 and a["score"] >= a["threshold"]
            assert all(alt["id"] != a["id"] for alt in a["alternatives"])

            off = client.post("/answer", json={"query": "who painted the mona lisa"}).json()
            assert off["answer"] is None and off["confident"] is False
            assert off["score"] < off["threshold"] and off["alternatives"]

            hit = client.post("/search", json={"query": INJECTION, "top_k": 1}).json()["results"][0]
            assert hit["question"] == INJECTION and hit["score"] > 0.9

            for bad in ({"query": ""}, {"query": "   "}, {"query": "x" * 1001}, {"query": 3}, {}):
                assert client.post("/answer", json=bad).status_code == 422, bad
                assert client.post("/search", json={**bad, "top_k": 3}).status_code == 422, bad
            assert client.post("/search", json={"query": "ok", "top_k": 0}).status_code == 422
            assert client.get("/count").json() == {"count": 18}

            assert client.delete(f"/items/{first['id']}").status_code == 204
            assert client.get(f"/items/{first['id']}").status_code == 404
            r = client.post("/search", json={"query": "I forgot my password, how can I set a new one?", "top_k": 5})
            assert first["id"] not in [h["id"] for h in r.json()["results"]]
            assert client.delete("/data").json() == {"dropped": 17}
            assert client.get("/count").json() == {"count": 0}
            assert client.post("/search", json={"query": "password", "top_k": 5}).json()["results"] == []
        finally:
            client.delete("/data")


def test_questions_only_mode_and_cli_search(tmp_path, unique):
    from tests.conftest import Backend

    root = tmp_path / "in"
    make_sample_data(root)
    app = make_app(Backend("lite", "", ""), tmp_path, unique, root, retrieval="question", bm25_engine="local")
    with TestClient(app) as client:
        load(client, root)
        pipeline = app.state.pipeline
        assert pipeline.bm25_engine == "local"
        hits = pipeline.cli_search("refund please", 2)
        assert hits[0]["question"] == "How do I get a refund?"
        fused = pipeline.search("refund please", 2, retrieval="fusion")
        assert fused[0]["id"] == hits[0]["id"]


def test_milvus_bm25_and_local_bm25_agree(tmp_path, unique):
    """The two BM25 engines (Milvus Lite full-text search, in-process fallback) rank and score alike."""
    from tests.conftest import Backend

    root = tmp_path / "in"
    make_sample_data(root)
    lite = Backend("lite", "", "")
    queries = ["refund please", "two-factor authentication QR code", "parcel tracking link", "offline documents",
               "which payment cards", "delete profile data"]
    ranked = {}
    for engine in ("milvus", "local"):
        app = make_app(lite, tmp_path / engine, unique, root, bm25_engine=engine)
        with TestClient(app) as client:
            load(client, root)
            assert app.state.pipeline.bm25_engine == engine
            ranked[engine] = [client.post("/search", json={"query": q, "top_k": 3}).json()["results"] for q in queries]
            bm = app.state.pipeline._bm25_search("refund within 14 days", 3)
            assert bm and all(v > 0 for v in bm.values())
    for a, b in zip(ranked["milvus"], ranked["local"], strict=True):
        assert a[0]["id"] == b[0]["id"]
        assert abs(a[0]["score"] - b[0]["score"]) < 0.03
