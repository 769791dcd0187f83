"""Fixtures of the QA tests: one ONNX export of the text model for the session, real Debian documentation."""

from __future__ import annotations

import pytest

from tests.support import loaded

from .helpers import DEBIAN_FAQ, HANDBOOK, REFERENCE, make_app


@pytest.fixture(scope="session")
def qa_models(tmp_path_factory):
    """One ONNX export for the whole session (later loads reuse the verified file)."""
    return tmp_path_factory.mktemp("qa_models")


@pytest.fixture(scope="session", autouse=True)
def _debian_docs():
    """The tests read real documentation; ``make test`` installs it (no silent skip)."""
    missing = [str(p) for p in (DEBIAN_FAQ, HANDBOOK, REFERENCE) if not p.exists()]
    if missing:
        pytest.fail(f"Debian documentation missing ({', '.join(missing)}): run `make test-packages` "
                    "(debian-faq, debian-handbook, debian-reference-en)")


@pytest.fixture
def service(backend, tmp_path, unique, root, qa_models):
    """A QA service on ``backend`` (paths under ``tmp_path`` allowed) with the test module's ``root`` loaded;
    yields (client, app, finished load task)."""
    app = make_app(backend, tmp_path, unique, tmp_path, qa_models)
    with loaded(app, root) as running:
        yield running
