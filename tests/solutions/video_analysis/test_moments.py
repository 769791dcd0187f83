"""``GET /moments`` on both backends: across all videos, by label, by words, by enrolled person.

The expectations come from each video's own timeline (``GET /videos/{id}``): a moment by label is one of the
label spans some video shows, found across videos with one query; by person, the person's spans.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import Backend

from .helpers import make_app


def moments(client, **params) -> dict:
    response = client.get("/moments", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def timelines(client, videos) -> dict[str, dict]:
    return {name: client.get(f"/videos/{v['id']}").json() for name, v in videos.items()}


def strongest_label(client, videos) -> tuple[str, dict]:
    """The label span with the best score among every video's timeline, and its video."""
    spans = [(span, detail) for detail in timelines(client, videos).values() for span in detail["labels"]]
    span, detail = max(spans, key=lambda sd: sd[0]["score"])
    return span["label"], {"video_id": detail["id"], "video_name": detail["name"], **span}


@contextlib.contextmanager
def counted_statements(engine):
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_moments_by_label_are_the_timeline_spans_across_videos(loaded):
    client, _, _, videos = loaded
    label, best = strongest_label(client, videos)
    found = moments(client, label=label)
    assert found["total"] == len(found["moments"]) >= 1
    expected = sorted((name, s["start_s"], s["end_s"], s["score"]) for name, d in timelines(client, videos).items()
                      for s in d["labels"] if s["label"] == label)
    assert sorted((m["video_name"], m["start_s"], m["end_s"], m["score"]) for m in found["moments"]) == expected
    top = found["moments"][0]
    assert (top["kind"], top["label"], top["video_id"], top["score"]) == ("label", label, best["video_id"],
                                                                         best["score"])
    assert "person" not in top
    assert top["start_s"] <= int(top["frame_url"].rsplit("/", 1)[1][:-4]) / 1000 <= top["end_s"]
    assert client.get(top["frame_url"]).status_code == 200


def test_label_names_are_case_insensitive_and_unknown_ones_are_422(loaded):
    client, _, _, videos = loaded
    label, _ = strongest_label(client, videos)
    assert moments(client, label=label.upper()) == moments(client, label=label)
    response = client.get("/moments", params={"label": "cat"})
    assert response.status_code == 422 and "did you mean" in response.json()["detail"]
    assert "tabby cat" in response.json()["detail"]
    plural = client.get("/moments", params={"label": "lemons"})
    assert plural.status_code == 422 and plural.json()["detail"].endswith("did you mean lemon?")
    assert client.get("/moments", params={"label": "no such thing"}).status_code == 422
    assert moments(client, label="tabby cat") == {"moments": [], "total": 0}  # a class no video shows


def test_moments_by_words_match_label_names(loaded):
    client, _, _, videos = loaded
    label, best = strongest_label(client, videos)
    found = moments(client, q=f"a {label}")
    assert found["total"] >= 1
    hit = next(m for m in found["moments"] if m["label"] == label and m["video_id"] == best["video_id"])
    assert 0 < hit["score"] <= best["score"]  # probability x similarity of the words to the name
    assert moments(client, q="xyzzy qwerty") == {"moments": [], "total": 0}  # words like no label


def test_pages_of_moments_equal_the_whole_list(loaded):
    client, _, _, videos = loaded
    spans = [s["label"] for d in timelines(client, videos).values() for s in d["labels"]]
    label = max(set(spans), key=spans.count)  # the label with the most spans (vtest.avi: 'mobile home', 7)
    whole = moments(client, label=label, limit=500)
    assert whole["total"] == spans.count(label) >= 3
    pages = [m for offset in range(0, whole["total"], 2)
             for m in moments(client, label=label, offset=offset, limit=2)["moments"]]
    assert pages == whole["moments"]
    scores = [m["score"] for m in pages]
    assert scores == sorted(scores, reverse=True)
    assert moments(client, label=label, offset=whole["total"])["moments"] == []


def test_moments_by_person_come_from_the_stored_faces(loaded, lionel):
    client, _, _, videos = loaded
    found = moments(client, person_id=lionel["id"])
    assert found["total"] == 1
    moment = found["moments"][0]
    assert (moment["kind"], moment["person"], moment["video_name"]) == ("face", "Lionel", "face.avi")
    assert 3.0 <= moment["start_s"] <= 5.0 and 6.5 <= moment["end_s"] <= 8.0 and "label" not in moment
    span = client.get(f"/videos/{videos['face.avi']['id']}").json()["faces"][0]
    assert (moment["start_s"], moment["end_s"], moment["score"]) == (span["start_s"], span["end_s"], span["score"])


def test_moments_read_all_videos_with_a_constant_number_of_queries(loaded, lionel):
    client, _, _, videos = loaded
    pipeline = client.app.state.pipeline
    label, _ = strongest_label(client, videos)
    pipeline.moments.find(person_id=lionel["id"])  # the gallery of enrolled faces is read once, then cached
    with counted_statements(pipeline.sql.engine) as statements:
        pipeline.moments.find(person_id=lionel["id"])
        by_person = len(statements)
        pipeline.moments.find(label=label)
    assert len(videos) == 4 and by_person <= 3 and len(statements) - by_person == 1, statements


def test_an_unknown_person_is_404(loaded):
    assert loaded[0].get("/moments", params={"person_id": 12345}).status_code == 404


@pytest.mark.parametrize("params", [{}, {"label": "streetcar", "q": "tram"}, {"q": " "}, {"q": "x" * 201},
                                    {"label": "streetcar", "limit": 501}, {"label": "streetcar", "offset": -1}])
def test_bad_moment_queries_are_422(loaded, params):
    response = loaded[0].get("/moments", params=params)
    assert response.status_code == 422, response.text


def test_the_words_model_is_prepared_after_start_up_not_by_the_first_search(tmp_path, models, model_cache):
    """The first search by words loaded MiniLM and embedded the 1000 label names (~7 s here) while the page
    said "Searching…". The service now prepares them in its pool right after start-up."""
    app = make_app(Backend("lite", "", ""), tmp_path, "warm", tmp_path, models, model_cache)
    with TestClient(app) as client:
        words = client.app.state.pipeline.moments.words
        deadline = time.monotonic() + 120
        while not words.ready and time.monotonic() < deadline:
            time.sleep(0.2)
        assert words.ready, "the label names were not embedded within 120 s of start-up"
        assert moments(client, q="a tram") == {"moments": [], "total": 0}  # nothing stored yet
