from __future__ import annotations

import pytest

from .helpers import DATA


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One ONNX export for the whole session (later loads reuse the verified file)."""
    return tmp_path_factory.mktemp("image-models")


@pytest.fixture(autouse=True)
def _needs_opencv_doc():
    if not DATA.is_dir():
        pytest.skip("Debian opencv-doc sample images are not installed")
