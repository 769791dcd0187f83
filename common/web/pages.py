"""The HTML pages, with their shared parts filled in as they are served (no build step).

A page names a part with a marker: ``<!--HEAD-->`` (first in ``<head>``) becomes what every page's head holds (the
charset, the viewport, both colour schemes, the icon and the shared stylesheet); ``<!--COMPONENTS-->`` the scripts
of the shared components a demo page builds on, deferred so that they run in order, before the page's own deferred
scripts. Links are relative, so the same parts serve the landing page at ``/`` and a demo at ``/image/``.
"""

from __future__ import annotations

from pathlib import Path

from .docs import COMMON_STATIC

PARTS = {"<!--HEAD-->": COMMON_STATIC / "parts" / "head.html",
         "<!--COMPONENTS-->": COMMON_STATIC / "parts" / "components.html"}


def render(page: Path) -> str:
    """The page's HTML with each marker replaced by its part (read on each call: editing a page needs no restart)."""
    text = page.read_text(encoding="utf-8")
    for marker, part in PARTS.items():
        if marker in text:
            text = text.replace(marker, part.read_text(encoding="utf-8").rstrip("\n"))
    return text
