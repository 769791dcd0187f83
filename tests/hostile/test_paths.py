"""Issue: a 300-character path component inside a root answered 500."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["x" * 300, "a/" + "é" * 200, "x" * 5000])
def test_overlong_paths_are_4xx(toy, name):
    client, _, root = toy
    response = client.post("/load", json={"path": str(root / name)})
    assert response.status_code in (400, 404, 422), response.text
    assert isinstance(response.json()["detail"], str)


def test_the_403_names_the_roots_the_server_may_read(toy):
    client, _, root = toy
    response = client.post("/load", json={"path": "/srv/data/images"})
    assert response.status_code == 403 and str(root) in response.json()["detail"]
    assert client.get("/info").json()["data_roots"] == [str(root)]
