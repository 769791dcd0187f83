"""The charset a document's text is read in: one rule for the parsers and for the stored copy.

    codec_of(data, "html")                    # "utf-8", "utf-16", "shift_jis"...: how the parsers decode it
    decode(data, "html")                      # the text, by that rule
    write_utf8(source, target, "text")        # the stored copy: that text, in UTF-8 (served as such)

The rule is :func:`common.files.text_codec`'s, which FAQ and molecule files are read with too: a byte order mark,
then (for HTML only) the charset the page declares in its first :data:`CHARSET_WINDOW` bytes (``<meta charset>``,
``http-equiv``, an XML declaration), else UTF-8 with each byte that is not UTF-8 read as windows-1252 (its five
undefined bytes as the C1 controls of the same number, as browsers do), so every byte string decodes.

A load only takes a file that is not UTF-8 when its first bytes look like text (:func:`common.files.sniff`): no
NUL byte, and no control byte that text does not hold.

The copy a result links to is the text as the parsers read it, written in UTF-8 and served as UTF-8 (an HTTP
charset overrides a page's ``<meta charset>``), so a browser shows what was searched: also a UTF-8 file with a few
windows-1252 bytes, which no single charset label shows right.
"""

from __future__ import annotations

import codecs
import re
import shutil
from pathlib import Path

from common.files import text_codec, text_errors

#: bytes of an HTML file searched for its declared charset (a browser's prescan reads 1024; generated pages
#: can carry long <head>s before their <meta>)
CHARSET_WINDOW = 8192
_DECLARATION = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)"""
                          rb"""|<\?xml\s[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


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


def codec_of(data: bytes, kind: str) -> str:
    """The codec a document's bytes are read with; ``kind`` as from :func:`document_kind` (only HTML declares)."""
    return text_codec(data[:CHARSET_WINDOW], declared_charset(data) if kind == "html" else None)


def decode(data: bytes, kind: str) -> str:
    """A document's text, read with :func:`codec_of`; bytes a declared charset cannot read become U+FFFD (a page
    that declares a charset its bytes are not in)."""
    codec = codec_of(data, kind)
    return data.decode(codec, errors=text_errors(codec, "replace"))


def write_utf8(source: Path, target: Path, kind: str) -> None:
    """Write the text of the document ``source`` (read by :func:`decode`'s rule) to ``target`` in UTF-8, without a
    byte order mark, newlines as written; a chunk at a time, so a large file is never held."""
    with open(source, "rb") as fh:
        codec = codec_of(fh.read(CHARSET_WINDOW), kind)
    with open(source, encoding=codec, errors=text_errors(codec, "replace"), newline="") as src, \
            open(target, "w", encoding="utf-8", newline="") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
