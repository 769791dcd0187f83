"""Fixtures shared by the demos' tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["desktop", "phone"])
def size(request) -> str:
    """The browser tests run at both sizes of ``tests.browser_support.SIZES``."""
    return str(request.param)
