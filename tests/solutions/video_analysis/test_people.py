"""People over HTTP on both backends: enrolment, who appears when, appearances across videos, removal.

A person enrolled *after* the videos were loaded is found in them (faces are kept at load time). Each test
enrols its own person in the shared ``loaded`` service (the ``lionel`` fixture) and removes them again.
"""

from __future__ import annotations

import pytest

from .helpers import BABOON, PHOTO


def test_faces_are_kept_when_nobody_is_enrolled(loaded):
    client, _, _, videos = loaded
    before = client.get(f"/videos/{videos['face.avi']['id']}").json()
    assert before["faces"] == [] and before["unknown_faces"] >= 3


def test_enrolment_reports_photos_without_a_face(lionel):
    assert lionel["name"] == "Lionel" and lionel["photos"] == 1
    assert lionel["errors"] == [{"item": "baboon.jpg", "error": "no face found"}]


def test_person_enrolled_after_loading_is_on_the_timeline(loaded, lionel):
    client, _, _, videos = loaded
    after = client.get(f"/videos/{videos['face.avi']['id']}").json()
    assert len(after["faces"]) == 1 and after["unknown_faces"] == 0
    span = after["faces"][0]
    assert span["person"] == "Lionel" and 0.4 < span["score"] <= 1
    assert 3.0 <= span["start_s"] <= 5.0 and 6.5 <= span["end_s"] <= 8.0  # the face is on screen from 4 s to 8 s
    assert client.get(f"/videos/{videos['vtest.avi']['id']}").json()["faces"] == []


def test_people_list_and_appearances(loaded, lionel):
    client = loaded[0]
    assert [p["name"] for p in client.get("/people").json()["people"]] == ["Lionel"]
    detail = client.get(f"/people/{lionel['id']}").json()
    assert [a["video_name"] for a in detail["appearances"]] == ["face.avi"]
    assert detail["appearances"][0]["spans"][0]["person"] == "Lionel"


def test_removed_person_leaves_every_timeline(loaded, lionel):
    client, _, _, videos = loaded
    assert client.delete(f"/people/{lionel['id']}").status_code == 204
    assert client.get(f"/videos/{videos['face.avi']['id']}").json()["faces"] == []
    assert client.delete(f"/people/{lionel['id']}").status_code == 404
    assert client.get(f"/people/{lionel['id']}").status_code == 404


@pytest.mark.parametrize("name,files", [
    ("Baboon", [("files", ("b.jpg", BABOON, "image/jpeg"))]),  # no face at all
    ("X", [("files", ("b.txt", b"text", "text/plain"))]),  # not an image
    ("", [("files", ("m.jpg", PHOTO, "image/jpeg"))]),  # no name
    ("  ", [("files", ("m.jpg", PHOTO, "image/jpeg"))]),  # a name of spaces
    ("Y", [("files", (f"m{i}.jpg", PHOTO, "image/jpeg")) for i in range(21)]),  # too many photos
])
def test_bad_enrolments_are_422(loaded, name, files):
    client = loaded[0]
    response = client.post("/people", data={"name": name}, files=files)
    assert response.status_code == 422, response.text
    if not name:  # said as for a name of spaces, not "Field required"
        assert response.json()["detail"] == "name must not be empty"
    assert client.get("/people").json()["people"] == []
