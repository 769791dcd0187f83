"""API v2 of the QA service on both backends: pages of one ranking, batches of questions, items, export."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from tests.support import load

from .helpers import DEBIAN_FAQ, faq_csv, make_app


@pytest.fixture
def service(backend, tmp_path, unique, qa_models):
    root = tmp_path / "in"
    faq_csv(root)
    shutil.copyfile(DEBIAN_FAQ / "pkg-basics.en.html", root / "pkg-basics.html")
    app = make_app(backend, tmp_path, unique, root, qa_models)
    with TestClient(app) as client:
        task = load(client, root)
        assert task["failed"] == 0, task["errors"]
        yield client, app
        client.delete("/data")


def ranking(client, query: str, top_k: int, offset: int = 0) -> list[tuple[int, float]]:
    r = client.post("/search", json={"query": query, "top_k": top_k, "offset": offset})
    assert r.status_code == 200, r.text
    return [(h["id"], h["score"]) for h in r.json()["results"]]


@pytest.mark.parametrize("query", ["how are debian packages named", "who painted the mona lisa"])
def test_two_pages_equal_one_longer_query(service, query):
    client, _ = service
    whole = ranking(client, query, 45)
    assert len(whole) == 45  # 18 FAQ entries and 56 passages: both kinds, past the first round of candidates
    pages = [ranking(client, query, 15, offset) for offset in (0, 15, 30)]
    assert pages[0] + pages[1] + pages[2] == whole
    assert ranking(client, query, 5, 70) == ranking(client, query, 10, 65)[5:]
    assert ranking(client, query, 10, 80) == []


def test_batch_gives_each_question_its_results_or_its_error(service):
    client, _ = service
    queries = ["why does ps aux complain", "", "\x00\x00 \x1b", "x" * 1001, "what is a debian binary package"]
    r = client.post("/search/batch", json={"queries": queries, "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["took_ms"] > 0 and [e["query"] for e in body["results"]] == queries
    ps, empty, blank, long, package = body["results"]
    assert ps["error"] is None and ps["results"][0]["question"] == "Why does \"ps -aux\" complain about a bogus '-'?"
    assert empty["results"] == [] and empty["error"] == "the query is empty" and blank["error"] == "the query is empty"
    assert long["results"] == [] and "longer than 1000" in long["error"]
    assert package["error"] is None and package["results"][0]["kind"] == "passage"
    single = client.post("/search", json={"query": queries[4], "top_k": 3}).json()["results"]
    assert package["results"] == single  # the same results, highlight included
    paged = client.post("/search/batch", json={"queries": [queries[4]], "top_k": 2, "offset": 1}).json()
    assert paged["results"][0]["results"] == single[1:3]


def test_batch_limits(service):
    client, _ = service
    assert client.post("/search/batch", json={"queries": ["q"] * 101}).status_code == 422
    assert client.post("/search/batch", json={"queries": []}).status_code == 422
    assert client.post("/search/batch", json={"queries": ["q"], "top_k": 0}).status_code == 422
    assert client.post("/search/batch", json={"queries": ["q"], "top_k": 100, "offset": 901}).status_code == 422
    assert client.post("/search/batch", json={"queries": "q"}).status_code == 422


def test_items_and_export_list_entries_and_documents(service):
    client, _ = service
    count = client.get("/count").json()["count"]
    assert count == 19
    first = client.get("/items", params={"limit": 10}).json()
    second = client.get("/items", params={"limit": 10, "offset": 10}).json()
    assert first["total"] == second["total"] == count
    items = first["items"] + second["items"]
    assert len({i["id"] for i in items}) == count
    stamps = [i["added_at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    kinds = {i["kind"] for i in items}
    assert kinds == {"faq", "document"}
    r = client.get("/export")
    assert r.headers["content-type"].startswith("application/x-ndjson")
    exported = [json.loads(line) for line in r.text.splitlines()]
    assert {e["id"]: e for e in exported} == {i["id"]: i for i in items}
    doc = next(e for e in exported if e["kind"] == "document")
    assert doc["name"] == "pkg-basics.html" and doc["passages"] > 20 and "question" not in doc
    entry = next(e for e in exported if e["kind"] == "faq")
    assert set(entry) >= {"question", "answer", "metadata"} and "passages" not in entry
