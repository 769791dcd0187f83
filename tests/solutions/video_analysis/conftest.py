"""The models, loaded once per session and shared by every app the video tests build."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    from common.images import ImageEncoder
    from solutions.video_analysis.faces import FaceModel

    return ImageEncoder.load(tmp_path_factory.mktemp("video_models")), FaceModel(5)
