"""Validation of HTTP ``Range`` headers for the video stream (Starlette serves the ranges)."""

from __future__ import annotations

import re

_RANGE = re.compile(r"^bytes=\s*(\d*)-(\d*)\s*$")


def range_ok(spec: str, size: int) -> bool:
    """Whether every range of a ``Range`` header is well formed and inside the file."""
    if not spec.startswith("bytes="):
        return False
    for part in spec[len("bytes="):].split(","):
        match = _RANGE.match("bytes=" + part.strip())
        if not match or match.group(1) == match.group(2) == "":
            return False
        start, end = match.group(1), match.group(2)
        if start == "":  # suffix range: the last N bytes
            if int(end) == 0:
                return False
            continue
        if int(start) >= size or (end != "" and int(end) < int(start)):
            return False
    return True
