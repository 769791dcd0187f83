"""Word documents (.docx) → sections, with python-docx.

The body is read in order, paragraphs and tables alike. A paragraph in a heading style ("Heading 1" to
"Heading 9", or a style based on one) opens a section at that level; the "Title" style names the document.
Other paragraphs (list items included) are blocks, and so is each row of a table, its cells joined with " | "
(as for Markdown and HTML tables). The section path is the chain of headings and the anchor the heading's slug, as
for Markdown (the document's HTML view, :mod:`.view`, gives the heading that id). Word stores
built-in style names in English whatever the language of its interface ("Überschrift 1" is "heading 1").

A .docx is a zip of XML: its decompressed size is bounded only by the parse's child process
(:func:`.isolate.parse_isolated`: memory and time), as for a PDF.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from .model import DocumentError, Reading, Section, slugify

_HEADING = re.compile(r"heading ([1-9])$", re.IGNORECASE)


#: one block of the body: its heading level (0 for the Title style, 1-9 for a heading, None for body text) and text
Block = tuple[int | None, str]


def parse_docx(data: bytes, title_hint: str) -> Reading:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(f"not a readable Word document: {exc}") from exc
    blocks = list(_blocks(document))
    title = (document.core_properties.title or "").strip()
    if not title:  # the Title paragraph, else the first heading (as for Markdown), else the file's name
        title = next((text for level, text in blocks if level == 0 and text), "") \
            or next((text for level, text in blocks if level and text), "") or title_hint
    return Reading(title, _sections(blocks, title))


def _blocks(document: Any) -> Iterator[Block]:
    """The body in order: each paragraph with its heading level, each table row as its cells joined by " | "."""
    from docx.table import Table

    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                yield None, " | ".join(t for t in (" ".join(c.text.split()) for c in _unique_cells(row)) if t)
        else:
            yield _level(block), _text(block)


def _sections(blocks: list[Block], title: str) -> Iterator[Section]:
    stack: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    section = Section(path=(title,) if title else ())
    for level, text in blocks:
        if level is None or not text:
            section.add(text)
            continue
        if level == 0:  # the document's title: already its name
            continue
        if section.blocks:
            yield section
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        section = Section(path=tuple(h for _, h in stack), anchor=slugify(text, seen))
    if section.blocks:
        yield section


def _text(paragraph: Any) -> str:
    return " ".join(str(getattr(paragraph, "text", "") or "").split())


def _level(block: Any) -> int | None:
    """0 for the Title style, 1-9 for a heading style (or one based on it), else None."""
    style = getattr(block, "style", None)
    for _ in range(8):  # a style's base styles, a few deep at most
        if style is None:
            return None
        name = (style.name or "").strip()
        if name.lower() == "title":
            return 0
        match = _HEADING.match(name)
        if match:
            return int(match.group(1))
        style = style.base_style
    return None


def _unique_cells(row: Any) -> list[Any]:
    """A row's cells, a merged cell once (python-docx repeats it for every grid column it spans)."""
    seen: list[Any] = []
    for cell in row.cells:
        if not any(cell._tc is other._tc for other in seen):
            seen.append(cell)
    return seen
