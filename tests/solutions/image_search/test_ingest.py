"""Ingest internals: vectors are written while the encoder runs, a few chunks at a time, yet a batch that fails
leaves nothing behind; the INT8 encoder setting reaches the service."""

from __future__ import annotations

from fastapi.testclient import TestClient
from PIL import Image

from solutions.image_search import pipeline as pipeline_module
from tests.conftest import Backend
from tests.support import load

from .helpers import DATA, copy_photos, make_app, query

NAMES = ["baboon.jpg", "fruits.jpg", "stuff.jpg", "home.jpg", "orange.jpg", "apple.jpg", "building.jpg"]


def test_a_batch_failing_half_way_leaves_no_vector_or_file_of_its_failed_item(tmp_path, unique, model_cache,
                                                                               monkeypatch):
    """Writing the items rows fails for one image, after the writer stored every vector of its batch (chunks
    of 2): the batch is retried item by item, the others are stored once, and the failed image leaves no
    vector in either collection, no file and no row."""
    root = tmp_path / "root"
    copy_photos(root, NAMES[:3])
    Image.new("RGB", (300, 200), (1, 2, 3)).save(root / "poison.png")  # sorted among the photos
    copy_photos(root, NAMES[3:])
    app = make_app(Backend("lite", "", ""), tmp_path, unique, root, model_cache, infer_batch=2, batch_size=16)
    with TestClient(app) as client:
        pipe = app.state.pipeline
        real = pipe.write_items
        calls = []

        def write_items(conn, rows):
            calls.append(len(rows))
            if any(row["name"].endswith("poison.png") for row in rows):
                raise RuntimeError("the database broke")
            return real(conn, rows)

        monkeypatch.setattr(pipe, "write_items", write_items)
        task = load(client, root)
        assert (task["done"], task["failed"]) == (len(NAMES), 1), task
        assert calls[0] == len(NAMES) + 1 and len(calls) == len(NAMES) + 2  # the batch, then one by one
        assert client.get("/count").json() == {"count": len(NAMES)}
        for spec in pipe.collections:  # no orphan vector of the failed image in either collection
            assert pipe.vectors.count(spec.name) == len(NAMES)
        assert pipe.media.count() == (len(NAMES), len(NAMES))
        assert query(client, "apple.jpg", seed=3)["results"][0]["name"].endswith("apple.jpg")


def test_vectors_are_written_in_groups_while_the_encoder_runs_and_the_last_group_is_not_lost(
        tmp_path, unique, model_cache, monkeypatch):
    """Chunks of 2 images, writes of at least 3 vectors: 7 images make two writes (4, then the 3 left at the
    end of the batch), both before the items rows."""
    root = tmp_path / "root"
    copy_photos(root, NAMES)
    monkeypatch.setattr(pipeline_module, "WRITE_ROWS", 3)
    app = make_app(Backend("lite", "", ""), tmp_path, unique, root, model_cache, infer_batch=2, batch_size=16)
    with TestClient(app) as client:
        pipe = app.state.pipeline
        events: list[tuple[str, int]] = []
        store, write_items = pipe._store_vectors, pipe.write_items

        def store_vectors(vectors, label_vectors):
            events.append(("vectors", len(vectors)))
            assert len(label_vectors) == len(vectors)
            return store(vectors, label_vectors)

        def items(conn, rows):
            events.append(("rows", len(rows)))
            return write_items(conn, rows)

        monkeypatch.setattr(pipe, "_store_vectors", store_vectors)
        monkeypatch.setattr(pipe, "write_items", items)
        assert load(client, root)["done"] == len(NAMES)
        assert events == [("vectors", 4), ("vectors", 3), ("rows", 7)]
        for spec in pipe.collections:
            assert pipe.vectors.count(spec.name) == len(NAMES)


def test_the_int8_encoder_setting_reaches_the_service(tmp_path, unique, model_cache):
    root = tmp_path / "root"
    copy_photos(root, NAMES)
    app = make_app(Backend("lite", "", ""), tmp_path, unique, root, model_cache, encoder_precision="int8",
                   encoder_calibration_dir=DATA)
    with TestClient(app) as client:
        encoder = app.state.pipeline.encoder
        assert encoder.precision == "int8" and encoder.verification["agreement"]["mean_cosine"] >= 0.97
        assert load(client, root)["done"] == len(NAMES)
        for seed, name in enumerate(NAMES[:4]):
            hit = query(client, name, seed=seed)["results"][0]
            assert hit["name"].endswith(name) and 0.0 <= hit["score"] <= 1.0
        orange = query(client, "orange.jpg")["results"][0]
        labels = client.get(f"/items/{orange['id']}").json()["labels"]
        assert len(labels) == 5 and labels[0]["score"] >= labels[-1]["score"] > 0
        assert "orange" in [lab["label"] for lab in labels[:3]]  # the 8-bit classifier still sees an orange
