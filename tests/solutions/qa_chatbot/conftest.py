"""Every QA app of the test session shares one ONNX export of the text model."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def shared_model_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("qa_models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QA_MODEL_CACHE_DIR", str(path))
        yield path
