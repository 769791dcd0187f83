"""The QA service with a FAQ (the sample: 18 entries of the base-files and procps FAQs) on both backends: load
with per-row errors, dedupe, search, answer, refusal, bad input, delete."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.support import load

from .helpers import faq_csv, make_app, write_csv

INJECTION = "What about '; DROP TABLE qa_items; -- and id in [1] or \"x\" == \"x\\\" ?"
RUNNING = "Ok, but how do I know which distribution I'm running?"
SIGNAL = "Why does ps get signal 17?"


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "in"
    faq_csv(root)
    (root / "more.jsonl").write_text(
        json.dumps({"question": SIGNAL.upper(), "answer": "Your system may have been broken into.", "lang": "en"})
        + "\n"
        + json.dumps({"question": INJECTION, "answer": "Injection strings are stored verbatim."}) + "\n"
        + "{not json\n", encoding="utf-8")
    write_csv(root / "bad.csv", [["question", "answer"], ["Only a question", ""]])
    return root



def test_load_reports_bad_rows_and_stores_each_question_once(service, root):
    client, _, task = service
    assert task["state"] == "succeeded" and task["failed"] == 2
    assert sorted(e["item"] for e in task["errors"] if e["level"] == "error") == ["bad.csv:2", "more.jsonl:3"]
    # the question the JSONL file shouts is one of the CSV's: the CSV's row is not stored, and the task says so
    [note] = [e for e in task["errors"] if e["level"] == "warning"]
    assert note["item"].startswith("faq.csv:") and "more.jsonl:1 repeats this question" in note["error"], note
    # 18 sample entries + the injection; the shouted question replaced the stored one (last answer wins)
    assert client.get("/count").json() == {"count": 19, "kinds": {"faq": 19, "document": 0}}
    again = load(client, root / "faq.csv")
    assert again["done"] == 18 and again["duplicates"] == 17 and again["new"] == 1  # the replaced answer
    assert client.get("/count").json() == {"count": 19, "kinds": {"faq": 19, "document": 0}}
    assert load(client, root / "faq.csv")["duplicates"] == 18


def test_search_ranks_paraphrases_with_scores_in_0_1(service):
    client, _, _ = service
    r = client.post("/search", json={"query": "how can I find out which debian distribution I am running",
                                     "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"results", "took_ms"} and len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) == {"id", "kind", "question", "answer", "score", "source", "highlight"}
    assert first["kind"] == "faq" and first["question"] == RUNNING
    s, e = first["highlight"][0]
    assert "/etc/debian_version" in first["answer"][s:e] or "sources.list" in first["answer"][s:e]
    scores = [h["score"] for h in body["results"]]
    assert all(0 <= x <= 1 for x in scores) and scores == sorted(scores, reverse=True)
    item = client.get(f"/items/{first['id']}").json()
    assert item["kind"] == "faq" and item["metadata"] == {"package": "base-files"}
    assert first["source"]["document"] == "faq.csv" and item["name"] == f"faq.csv:{first['source']['position']}"
    shouted = client.post("/search", json={"query": "ps gets signal 17", "top_k": 1}).json()["results"][0]
    assert shouted["question"] == SIGNAL.upper() and shouted["answer"] == "Your system may have been broken into."
    assert client.get(f"/items/{shouted['id']}").json()["metadata"] == {"lang": "en"}
    hit = client.post("/search", json={"query": INJECTION, "top_k": 1}).json()["results"][0]
    assert hit["question"] == INJECTION and hit["score"] > 0.9


def test_answer_and_refusal(service):
    client, _, _ = service
    a = client.post("/answer", json={"query": "ps aux warns about a bogus dash, why?"}).json()
    assert a["confident"] is True and a["question"] == "Why does \"ps -aux\" complain about a bogus '-'?"
    assert "POSIX" in a["answer"] and a["kind"] == "faq" and a["highlight"]
    assert 0 <= a["score"] <= 1 and a["score"] >= a["threshold"]
    assert all(alt["id"] != a["id"] for alt in a["alternatives"])
    off = client.post("/answer", json={"query": "who painted the mona lisa"}).json()
    assert off["answer"] is None and off["confident"] is False and off["highlight"] == []
    assert off["score"] < off["threshold"] and off["alternatives"]


def test_bad_queries_are_422_and_change_nothing(service):
    client, _, _ = service
    for bad in ({"query": ""}, {"query": "   "}, {"query": "x" * 1001}, {"query": 3}, {}):
        assert client.post("/answer", json=bad).status_code == 422, bad
        assert client.post("/search", json={**bad, "top_k": 3}).status_code == 422, bad
    for page in ({"top_k": 0}, {"top_k": 101}, {"offset": -1}, {"top_k": 100, "offset": 950}):
        assert client.post("/search", json={"query": "ok", **page}).status_code == 422, page
    assert client.get("/count").json() == {"count": 19, "kinds": {"faq": 19, "document": 0}}


def test_delete_one_entry_then_everything(service):
    client, _, _ = service
    query = {"query": "how can I find out which debian distribution I am running", "top_k": 5}
    first = client.post("/search", json=query).json()["results"][0]
    assert client.delete(f"/items/{first['id']}").status_code == 204
    assert client.get(f"/items/{first['id']}").status_code == 404
    assert first["id"] not in [h["id"] for h in client.post("/search", json=query).json()["results"]]
    assert client.delete("/data").json() == {"dropped": 18}
    assert client.get("/count").json() == {"count": 0, "kinds": {"faq": 0, "document": 0}}
    assert client.post("/search", json=query).json()["results"] == []
    assert client.post("/answer", json={"query": "anything"}).json()["answer"] is None


@pytest.mark.parametrize("analyzer", ["english", "standard"])
def test_in_process_bm25_and_milvus_bm25_agree(tmp_path, unique, qa_models, analyzer):
    """The two BM25 engines (Milvus Lite full-text search, the in-process index a Milvus 2.3 server uses) rank and
    score alike, with either analyzer."""
    from tests.conftest import Backend

    root = tmp_path / "in"
    faq_csv(root)
    queries = ["ps aux complains about a dash", "per-CPU stats in top", "long usernames printed as numbers",
               "license not in common-licenses", "FHS compliance after upgrading", "where to report bugs"]
    ranked, lexical, sizes = {}, {}, {}
    for engine in ("milvus", "local"):
        app = make_app(Backend("lite", "", ""), tmp_path / engine, unique, root, qa_models, bm25_engine=engine,
                       faq_bm25_analyzer=analyzer)
        with TestClient(app) as client:
            load(client, root)
            assert app.state.pipeline.bm25_engine == engine
            ranked[engine] = [client.post("/search", json={"query": q, "top_k": 3}).json()["results"] for q in queries]
            index = app.state.pipeline.lexical
            lexical[engine] = [index.search("faq", q, 5) for q in [*queries, "how do I"]]
            some = sorted(index.search("faq", "package debian", 20))[::3]  # scored by id, as dense-only candidates
            lexical[engine] += [index.score("faq", q, some) for q in queries]
            assert app.state.pipeline.lexical.search("faq", "common-licenses policy", 3)
            sizes[engine] = (index.size("faq"), client.get("/count").json()["count"])
    assert sizes["milvus"] == sizes["local"] == (sizes["local"][1],) * 2  # the N a small collection is scaled by
    for a, b in zip(ranked["milvus"], ranked["local"], strict=True):
        assert [h["id"] for h in a] == [h["id"] for h in b]
        assert abs(a[0]["score"] - b[0]["score"]) < 0.03
    for a, b in zip(lexical["milvus"], lexical["local"], strict=True):
        assert sorted(a) == sorted(b)
        assert all(abs(a[i] - b[i]) < 1e-3 * max(1.0, b[i]) for i in b), (a, b)
