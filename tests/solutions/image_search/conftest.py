from __future__ import annotations

import pytest

from tests.support import loaded

from .helpers import DATA, PHOTOS, copy_photos, make_app


@pytest.fixture(scope="session", autouse=True)
def _opencv_doc():
    """The tests need real photos; ``make test`` installs them (no silent skip)."""
    missing = [n for n in PHOTOS if not (DATA / n).is_file()]
    if missing:
        pytest.fail(f"Debian opencv-doc images missing under {DATA} ({', '.join(missing[:3])}...): "
                    "run `make test-packages` or `apt-get install opencv-doc`")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):
    """One ONNX export for the whole session (later loads reuse the verified file)."""
    return tmp_path_factory.mktemp("image-models")


@pytest.fixture
def root(tmp_path):
    """The 24 photos, a duplicate of one, and three files that are not images."""
    root = tmp_path / "root"
    copy_photos(root / "photos")
    (root / "photos" / "zz-again.jpg").write_bytes((DATA / PHOTOS[0]).read_bytes())  # duplicate content
    (root / "notes.txt").write_text("not an image", encoding="utf-8")
    good = (DATA / "baboon.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(good[: len(good) // 5])
    (root / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    return root


@pytest.fixture
def service(backend, tmp_path, unique, root, model_cache):
    """A client of an image service on ``backend``, with ``root`` loaded; yields (client, app, first task)."""
    app = make_app(backend, tmp_path, unique, root, model_cache)
    with loaded(app, root) as running:
        yield running
