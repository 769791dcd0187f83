"""The charset a document's text is read in: one rule for the parsers and for the served copy.

    codec_of(data, "html")                    # "utf-8", "utf-16", "shift_jis"...: how the parsers decode it
    decode(data, "html")                      # the text, by that rule
    served_charset(path, "text")              # "windows-1252": the charset its copy is served with

The rule is :func:`common.files.text_codec`'s, which FAQ and molecule files are read with too: a byte order mark,
then (for HTML only) the charset the page declares in its first :data:`CHARSET_WINDOW` bytes (``<meta charset>``,
``http-equiv``, an XML declaration), else UTF-8 with each byte that is not UTF-8 read as windows-1252 (its five
undefined bytes as the C1 controls of the same number, as browsers do), so every byte string decodes.

A load only takes a file that is not UTF-8 when its first bytes look like text (:func:`common.files.sniff`): no
NUL byte, and no control byte that text does not hold.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from common.files import is_utf8, text_codec, text_errors

#: bytes of an HTML file searched for its declared charset (a browser's prescan reads 1024; generated pages
#: can carry long <head>s before their <meta>)
CHARSET_WINDOW = 8192
_DECLARATION = re.compile(rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)"""
                          rb"""|<\?xml\s[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


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


def codec_of(data: bytes, kind: str) -> str:
    """The codec a document's bytes are read with; ``kind`` as from :func:`document_kind` (only HTML declares)."""
    return text_codec(data[:CHARSET_WINDOW], declared_charset(data) if kind == "html" else None)


def decode(data: bytes, kind: str) -> str:
    """A document's text, read with :func:`codec_of`; bytes a declared charset cannot read become U+FFFD (a page
    that declares a charset its bytes are not in)."""
    codec = codec_of(data, kind)
    return data.decode(codec, errors=text_errors(codec, "replace"))


def served_charset(path: Path, kind: str) -> str:
    """The charset label a stored text or HTML document is served with: the one its text was read in, and
    ``windows-1252`` for UTF-8 text that is not all UTF-8 (a browser left to guess shows a windows-1252 text
    file, or a UTF-8 page that declares no charset, garbled; a file of both shows its UTF-8 part garbled)."""
    with open(path, "rb") as fh:
        head = fh.read(CHARSET_WINDOW)
    codec = codec_of(head, kind)
    if codec == "utf-8" and not is_utf8(path):
        return "windows-1252"
    return _LABELS.get(codec) or declared_charset(head) or codec  # a declared charset by the name it was given
