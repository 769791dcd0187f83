"""Fixtures of the QA tests: one ONNX export of the text model for the session, real Debian documentation."""

from __future__ import annotations

import pytest

from .helpers import DEBIAN_FAQ, HANDBOOK, REFERENCE


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
