"""API v2 of the image service on both backends: labels on items, pages, the label filter, search by words,
batches of queries."""

from __future__ import annotations

import json

import pytest

from .helpers import DATA, PHOTOS, perturb, query

N = len(PHOTOS)


def _ids(hits: list[dict]) -> list[tuple[int, float]]:
    return [(h["id"], h["score"]) for h in hits]


def test_items_export_and_results_carry_top5_labels(service):
    client, _, _ = service
    page = client.get("/items", params={"limit": 100}).json()
    assert page["total"] == N == len(page["items"])
    for item in page["items"]:
        labels = item["labels"]
        assert len(labels) == 5 and all(set(lab) == {"label", "score"} for lab in labels)
        scores = [lab["score"] for lab in labels]
        assert scores == sorted(scores, reverse=True) and 0 <= sum(scores) <= 1.0001
    by_name = {i["name"]: i for i in page["items"]}
    assert by_name["photos/squirrel_cls.jpg"]["labels"][0]["label"] == "eastern fox squirrel"
    assert client.get(f"/items/{by_name['photos/baboon.jpg']['id']}").json()["labels"][0]["label"] == "baboon"
    exported = [json.loads(line) for line in client.get("/export").text.splitlines()]
    assert {e["id"]: e["labels"] for e in exported} == {i["id"]: i["labels"] for i in page["items"]}
    hit = query(client, "orange.jpg", top_k=1)["results"][0]
    assert hit["labels"] == by_name["photos/orange.jpg"]["labels"]
    assert "orange" in client.get("/labels").json()["labels"]


def test_two_pages_equal_one_longer_query(service):
    """Pages straddle the re-ranked head (10 candidates): copies moved up must not repeat or vanish."""
    client, _, _ = service
    one = query(client, "graf1.png", 4, top_k=20)["results"]
    assert one[0]["name"] == "photos/graf1.png" and one[0]["match"] == "copy"
    pages = [query(client, "graf1.png", 4, top_k=5, offset=o)["results"] for o in (0, 5, 10, 15)]
    assert _ids([h for p in pages for h in p]) == _ids(one)
    assert query(client, "graf1.png", 4, top_k=5, offset=N)["results"] == []
    text = client.post("/search/text", json={"query": "fruit", "top_k": 12}).json()["results"]
    halves = [client.post("/search/text", json={"query": "fruit", "top_k": 6, "offset": o}).json()["results"]
              for o in (0, 6)]
    assert _ids(halves[0] + halves[1]) == _ids(text) and len(text) == 12


def test_label_filter_keeps_exactly_the_images_with_that_label(service):
    client, _, _ = service
    items = client.get("/items", params={"limit": 100}).json()["items"]
    with_orange = {i["id"] for i in items if "orange" in [lab["label"] for lab in i["labels"]]}
    assert len(with_orange) >= 2
    hits = query(client, "fruits.jpg", 7, top_k=100, label="orange")["results"]
    assert {h["id"] for h in hits} == with_orange  # all of them, and only them
    assert hits[0]["name"] == "photos/fruits.jpg" and hits[0]["match"] == "copy"
    first = query(client, "fruits.jpg", 7, top_k=1, label="orange")["results"]
    rest = query(client, "fruits.jpg", 7, top_k=100, offset=1, label="orange")["results"]
    assert _ids(first + rest) == _ids(hits)
    # a label no stored image has, and one that is no ImageNet class
    assert query(client, "fruits.jpg", top_k=5, label="tabby cat")["results"] == []
    r = client.post("/search", files={"file": ("q.jpg", (DATA / "fruits.jpg").read_bytes())},
                    data={"label": 'orange" or id > 0'})
    assert r.status_code == 422 and "unknown label" in r.json()["detail"]
    r = client.post("/search", files={"file": ("q.jpg", (DATA / "fruits.jpg").read_bytes())},
                    data={"label": "oranges"})
    assert r.status_code == 422 and r.json()["detail"].endswith("did you mean orange?"), r.text


def test_search_by_words_ranks_real_photos_by_their_labels(service):
    client, _, _ = service

    def names(words: str, k: int = 3) -> list[str]:
        r = client.post("/search/text", json={"query": words, "top_k": k})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["took_ms"] > 0
        scores = [h["score"] for h in body["results"]]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        assert all(len(h["labels"]) == 5 and h["image_url"] for h in body["results"])
        return [h["name"].removeprefix("photos/") for h in body["results"]]

    assert names("a squirrel")[0] == "squirrel_cls.jpg"
    assert set(names("fruit")) == {"fruits.jpg", "orange.jpg", "apple.jpg"}
    assert client.post("/search/text", json={"query": "   "}).status_code == 422
    assert client.post("/search/text", json={"query": "x", "top_k": 101}).status_code == 422
    assert client.post("/search/text", json={"query": "x", "offset": -1}).status_code == 422
    assert client.post("/search/text", json={"top_k": 3}).status_code == 422


def test_batch_gives_each_query_its_results_or_its_error(service):
    client, _, _ = service
    files = [("files", ("baboon-edit.jpg", perturb((DATA / "baboon.jpg").read_bytes(), 1))),
             ("files", ("notes.txt", b"not an image")),
             ("files", ("broken.jpg", b"\xff\xd8\xff\xe0 broken")),
             ("files", ("fruits.jpg", (DATA / "fruits.jpg").read_bytes()))]
    r = client.post("/search/batch", files=files, data={"top_k": "3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["took_ms"] > 0 and [e["query"] for e in body["results"]] == [f[1][0] for f in files]
    baboon, text, broken, fruits = body["results"]
    assert baboon["error"] is None and len(baboon["results"]) == 3
    assert baboon["results"][0]["name"] == "photos/baboon.jpg"
    assert text["results"] == [] and "not an image" in text["error"]
    assert broken["results"] == [] and broken["error"]
    assert fruits["results"][0]["name"] == "photos/fruits.jpg"
    # the same page as single searches
    assert _ids(baboon["results"]) == _ids(query(client, "baboon.jpg", 1, top_k=3)["results"])


def test_batch_limits(service):
    client, _, _ = service
    one = (DATA / "orange.jpg").read_bytes()
    too_many = [("files", (f"q{i}.jpg", one)) for i in range(33)]
    r = client.post("/search/batch", files=too_many)
    assert r.status_code == 400 and "at most 32" in r.json()["detail"], r.text
    assert client.post("/search/batch", data={"top_k": "3"}).status_code == 422
    r = client.post("/search/batch", files=[("files", ("q.jpg", one))], data={"top_k": "0"})
    assert r.status_code == 422
    r = client.post("/search/batch", files=[("files", ("q.jpg", one))], data={"label": "no such class"})
    assert r.status_code == 422


@pytest.mark.parametrize("field", ["top_k", "offset"])
def test_page_past_max_results_is_refused(service, field):
    client, _, _ = service
    data = {"top_k": "100", "offset": "500"} if field == "offset" else {"top_k": "1000"}
    r = client.post("/search", files={"file": ("q.jpg", (DATA / "orange.jpg").read_bytes())}, data=data)
    assert r.status_code == 422
