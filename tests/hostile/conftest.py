"""The hostile suite: what an attacker or a user with huge or broken input sends, against real services.

Each test asserts the 4xx or the limit, and that what is stored stays consistent: ``/count`` equals the items
listed, the items with vectors and the items whose files are present (:func:`assert_consistent`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.pipeline import Pipeline
from common.vectors import int_list
from tests.common.toy.app import create_app
from tests.common.toy.pipeline import ToySettings
from tests.conftest import Backend

LITE = Backend("lite", "", "")


def assert_consistent(client: TestClient, app: FastAPI) -> int:
    """``/count`` == items listed == items with vectors == items with their files; returns the count."""
    pipeline: Pipeline = app.state.pipeline
    count = client.get("/count").json()["count"]
    listed: list[int] = []
    offset = 0
    while True:
        page = client.get("/items", params={"offset": offset, "limit": 500}).json()
        assert page["total"] == count
        listed += [int(item["id"]) for item in page["items"]]
        if len(page["items"]) < 500:
            break
        offset += 500
    assert len(listed) == len(set(listed)) == count
    spec = pipeline.collections[0]
    with_vectors: set[int] = set()
    for start in range(0, len(listed), 500):
        rows = pipeline.vectors.query(spec.name, filter=f"{spec.item_field} in {int_list(listed[start:start + 500])}",
                                      output_fields=[spec.item_field])
        with_vectors |= {int(r[spec.item_field]) for r in rows}
    assert with_vectors == set(listed), "items listed without their vectors"
    assert pipeline.media_present(set(listed)) == set(listed), "items listed without their files"
    return count


def staging_leftovers(app: FastAPI) -> list[Path]:
    uploads = app.state.resources.data_dir / "uploads"
    return sorted(uploads.iterdir()) if uploads.is_dir() else []


@pytest.fixture
def toy(tmp_path, unique) -> Iterator[tuple[TestClient, FastAPI, Path]]:
    """The toy demo on the embedded backends, with small limits; yields (client, app, data root)."""
    root = tmp_path / "root"
    root.mkdir()
    settings = ToySettings(**LITE.settings(tmp_path / "data", data_roots=[root], store_prefix=f"toy_{unique}",
                                           max_upload_mb=1, max_expand_mb=4, max_archives=3, max_zip_ratio=50))
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, app, root
