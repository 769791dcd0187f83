"""Fixtures shared by the demos' tests."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["desktop", "phone"])
def size(request) -> str:
    """The browser tests run at both sizes of ``tests.browser_support.SIZES``."""
    return str(request.param)


@pytest.fixture(params=["light", "dark"])
def scheme(request) -> str:
    """The looks tests run in both colour schemes the system may ask for."""
    return str(request.param)
