"""The models, loaded once per session, and one loaded service per backend shared by the package's tests."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common.images import ImageEncoder, shared_image_encoder
from solutions.video_analysis.config import VideoSettings
from solutions.video_analysis.faces import FaceModel, load_face_model
from tests.conftest import Backend
from tests.support import load

from .helpers import BABOON, PHOTO, copy_clips, make_app, write_face_video


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One ONNX export per model for the whole session (apps load the text model from here when asked)."""
    return tmp_path_factory.mktemp("video-models")


@pytest.fixture(scope="session")
def models(model_cache) -> tuple[ImageEncoder, FaceModel]:
    settings = VideoSettings()  # the defaults: INT8 image encoder, ONNX face embeddings
    encoder = shared_image_encoder(settings.encoder_precision, model_cache,
                                   calibration_dir=settings.encoder_calibration_dir)
    return encoder, load_face_model(5, model_cache)


@pytest.fixture(scope="package", params=["lite", pytest.param("server", marks=pytest.mark.integration)])
def loaded(request, tmp_path_factory, models, model_cache):
    """opencv-doc's vtest.avi, Megamind.avi and tree.avi, a clip with a face, and two files that are not videos,
    loaded once per backend: ``(client, root, task, videos by name)``. Tests using it must leave it as it is."""
    backend = Backend("lite", "", "") if request.param == "lite" else request.getfixturevalue("server_backend")
    tmp_path = tmp_path_factory.mktemp(f"video_{request.param}")
    root = tmp_path / "root"
    clips = root / "clips"
    copy_clips(clips, ("vtest.avi", "Megamind.avi", "tree.avi"))
    write_face_video(clips / "face.avi")
    (clips / "notes.txt").write_text("not a video")
    (clips / "fake.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    app = make_app(backend, tmp_path, uuid.uuid4().hex[:8], root, models, model_cache)
    with TestClient(app) as client:
        task = load(client, clips)
        videos = {v["name"]: v for v in client.get("/videos").json()["videos"]}
        yield client, root, task, videos
        client.delete("/data")


@pytest.fixture
def lionel(loaded):
    """Lionel, enrolled from a photo of his face (and one without a face) for one test."""
    client = loaded[0]
    response = client.post("/people", data={"name": "Lionel"},
                           files=[("files", ("messi.jpg", PHOTO, "image/jpeg")),
                                  ("files", ("baboon.jpg", BABOON, "image/jpeg"))])
    assert response.status_code == 201, response.text
    person = response.json()
    yield person
    client.delete(f"/people/{person['id']}")
