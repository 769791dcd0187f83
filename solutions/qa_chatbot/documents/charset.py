"""The charset a document's text is read in: one rule for the parsers and for the served copy.

    charset_of(data, "text").codec           # "utf-8", "cp1252", "utf-16"...: how the parsers decode it
    decode(data, "html")                      # the text, by that rule
    served_charset(path, "html").label        # "windows-1252": the charset its copy is served with

The rule is :func:`common.files.text_codec`'s, which FAQ and molecule files are read with too: a byte order mark,
then (for HTML only) the charset the page declares in its first :data:`CHARSET_WINDOW` bytes (``<meta charset>``,
``http-equiv``, an XML declaration), then UTF-8 when the bytes are UTF-8, else windows-1252 (its five undefined
bytes read as the C1 controls of the same number, as browsers do, so every byte string decodes).

The last rule is a guess, so a load only takes a file that is not UTF-8 when its first bytes look like text
(:func:`common.files.sniff`): no NUL byte, and no control byte that text does not hold.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.files import WINDOWS_1252_ERRORS, is_utf8, text_codec

#: bytes of an HTML file searched for its declared charset (a browser's prescan reads 1024; generated pages
#: can carry long <head>s before their <meta>)
CHARSET_WINDOW = 8192
_DECLARATION = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)"""
                          rb"""|<\?xml\s[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Charset:
    """``codec``: the Python codec the text is decoded with; ``label``: its name in a ``Content-Type``."""

    codec: str
    label: str


#: how each codec is named in a ``Content-Type`` when no declared label names it
_LABELS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16", "cp1252": "windows-1252"}


def declared_charset(head: bytes) -> str | None:
    """The charset an HTML file declares in its first bytes (``<meta charset>``, ``<meta http-equiv=
    "Content-Type" content="...; charset=...">`` or an XML declaration's ``encoding``), when Python knows it
    and it reads ASCII as ASCII (a UTF-16 declaration in bytes read as ASCII is wrong); else None."""
    for match in _DECLARATION.finditer(head[:CHARSET_WINDOW]):
        label = (match.group(1) or match.group(2)).decode("ascii")
        try:
            name = codecs.lookup(label).name
        except LookupError:
            continue
        if not name.startswith(("utf-16", "utf-32")):
            return label
    return None


def _charset(head: bytes, kind: str, is_utf8_text: Callable[[], bool]) -> Charset:
    declared = declared_charset(head) if kind == "html" else None
    codec = text_codec(head, is_utf8_text, declared)
    return Charset(codec, _LABELS.get(codec) or declared or codec)


def charset_of(data: bytes, kind: str) -> Charset:
    """The charset a document's bytes are read in; ``kind`` as from :func:`document_kind` (only HTML declares)."""
    return _charset(data, kind, lambda: is_utf8(data))


def decode(data: bytes, kind: str) -> str:
    """A document's text, read in :func:`charset_of`; bytes the charset cannot read become U+FFFD (a page
    that declares a charset its bytes are not in), but for windows-1252, which reads every byte."""
    codec = charset_of(data, kind).codec
    return data.decode(codec, errors=WINDOWS_1252_ERRORS if codec == "cp1252" else "replace")


def served_charset(path: Path, kind: str) -> Charset:
    """The charset a stored text or HTML document is served with: the one its text was read in (a browser left
    to guess shows a windows-1252 text file, or a UTF-8 page that declares no charset, garbled)."""
    with open(path, "rb") as fh:
        head = fh.read(CHARSET_WINDOW)
    return _charset(head, kind, lambda: is_utf8(path))
