"""Reading HTTP ``Range`` headers for the video stream (Starlette serves the ranges).

RFC 9110 §14.2: a server ignores a ``Range`` in a unit it does not know and may ignore one it cannot parse,
answering with the whole file; a well-formed range that starts past the end (or asks for the last 0 bytes) is
416 (Range Not Satisfiable).
"""

from __future__ import annotations

import re
from enum import Enum

_RANGE = re.compile(r"^\s*(\d*)-(\d*)\s*$")


class RangeKind(Enum):
    SERVE = "serve"  # 206 with the ranges asked for
    IGNORE = "ignore"  # not a byte range this server reads: 200 with the whole file
    UNSATISFIABLE = "unsatisfiable"  # 416


def read_range(spec: str, size: int) -> RangeKind:
    """What to do with the ``Range`` header ``spec`` of a request for a file of ``size`` bytes."""
    unit, _, ranges = spec.partition("=")
    if unit.strip() != "bytes" or not ranges:
        return RangeKind.IGNORE
    parsed: list[tuple[str, str]] = []
    for part in ranges.split(","):
        match = _RANGE.match(part)
        if not match or match.group(1) == match.group(2) == "":
            return RangeKind.IGNORE
        start, end = match.groups()
        if start != "" and end != "" and int(end) < int(start):
            return RangeKind.IGNORE  # last before first: not a valid range-spec
        parsed.append((start, end))
    # well formed: each must fall in the file (as Starlette, which serves them, wants)
    if any((start == "" and int(end) == 0) or (start != "" and int(start) >= size) for start, end in parsed):
        return RangeKind.UNSATISFIABLE
    return RangeKind.SERVE
