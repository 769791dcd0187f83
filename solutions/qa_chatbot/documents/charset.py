"""The charset a document's text is read in: one rule for the parsers, the loader's check and the served copy.

    charset_of(data, "text").codec           # "utf-8", "cp1252", "utf-16"...: how the parsers decode it
    decode(data, "html")                      # the text, by that rule
    media_type(path, "text")                  # "text/plain; charset=windows-1252": how its copy is served

The rule, in order (the one browsers follow for HTML):

1. a byte order mark: UTF-8 or UTF-16;
2. for HTML, the charset the page declares in its first :data:`CHARSET_WINDOW` bytes (``<meta charset>``,
   ``http-equiv``, an XML declaration), ISO-8859-1 and ASCII read as windows-1252;
3. UTF-8 when the bytes are UTF-8;
4. else windows-1252: the legacy charset of Western Windows, in which most old text files that are not UTF-8
   were written (Latin-1 is the same for every letter). Its five undefined bytes read as the C1 controls of
   the same number, as browsers do, so every byte string decodes.

Rule 4 is a guess, so the load only takes a file that is not UTF-8 when its first bytes look like text
(:func:`common.files.sniff`): no NUL byte, and no control byte that text does not hold. Rules 1, 3 and 4 are
:func:`common.files.text_encoding`'s, which FAQ and molecule files are read with.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from common.files import WINDOWS_1252_ERRORS, is_utf8

#: bytes of an HTML file searched for its declared charset (a browser's prescan reads 1024; generated pages
#: can carry long <head>s before their <meta>)
CHARSET_WINDOW = 8192
_DECLARATION = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)"""
                          rb"""|<\?xml\s[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_WINDOWS_1252_ALIASES = frozenset({"latin-1", "iso8859-1", "ascii", "cp1252"})


@dataclass(frozen=True)
class Charset:
    """``codec``: the Python codec the text is decoded with; ``label``: its name in a ``Content-Type``."""

    codec: str
    label: str


UTF8 = Charset("utf-8", "utf-8")
UTF8_BOM = Charset("utf-8-sig", "utf-8")
UTF16 = Charset("utf-16", "utf-16")
WINDOWS_1252 = Charset("cp1252", "windows-1252")


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


def _charset(head: bytes, kind: str, utf8: Callable[[], bool]) -> Charset:
    """The rule; ``utf8()``: whether the whole text is valid UTF-8, asked only when rules 1-2 do not decide."""
    if head.startswith(codecs.BOM_UTF8):
        return UTF8_BOM
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return UTF16
    declared = declared_charset(head) if kind == "html" else None
    if declared is not None:
        codec = codecs.lookup(declared).name
        return WINDOWS_1252 if codec in _WINDOWS_1252_ALIASES else Charset(codec, declared)
    return UTF8 if utf8() else WINDOWS_1252


def charset_of(data: bytes, kind: str) -> Charset:
    """The charset a document's bytes are read in; ``kind`` as from :func:`document_kind` (only HTML declares)."""
    return _charset(data, kind, lambda: _is_utf8_bytes(data))


def decode(data: bytes, kind: str) -> str:
    """A document's text, read in :func:`charset_of`; bytes the charset cannot read become U+FFFD (a page
    that declares a charset its bytes are not in), but for windows-1252, which reads every byte."""
    charset = charset_of(data, kind)
    return data.decode(charset.codec, errors=WINDOWS_1252_ERRORS if charset is WINDOWS_1252 else "replace")


def media_type(path: Path, kind: str) -> str:
    """The ``Content-Type`` a stored copy of a document of ``kind`` is served with: for text and HTML, with the
    charset its text was read in. A browser left to guess shows a windows-1252 text file, or a UTF-8 page that
    declares no charset, garbled."""
    if kind == "pdf":
        return "application/pdf"
    if kind == "docx":
        return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    with open(path, "rb") as fh:
        head = fh.read(CHARSET_WINDOW)
    charset = _charset(head, kind, lambda: is_utf8(path))
    return f"{'text/html' if kind == 'html' else 'text/plain'}; charset={charset.label}"


def _is_utf8_bytes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
