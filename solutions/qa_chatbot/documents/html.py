"""HTML → sections, with lxml (libxml2's HTML parser).

The tree is walked with ``lxml.etree.iterwalk`` (no Python recursion, so nesting depth costs nothing but
memory, which ``DocumentBudget.max_bytes`` bounds together with libxml2's own depth limit). ``h1``-``h6``
open sections; block elements (``p``, ``li``, ``div``, ``pre``, table rows...) end paragraphs; scripts,
styles, forms and navigation (``nav``, ``footer``, and the usual navigation classes of generated
documentation: ``docnav``, ``navheader``, ``toc``...) are skipped. A section's anchor is the heading's
``id``, an ``id`` inside it (DocBook's ``<h2><a id=...>``) or that of the element it opens. A file is read in the
charset :mod:`.charset` finds (a BOM, the charset it declares, UTF-8, else windows-1252), not libxml2's guess:
it reads a file that declares no charset as Latin-1 ("café" in UTF-8 became "cafÃ©").
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree, html

from .charset import decode
from .model import Reading, Section

SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "nav", "footer", "form", "button",
                       "select", "textarea", "svg", "math", "iframe", "object", "canvas", "map", "audio", "video"})
SKIP_MARKERS = frozenset({"docnav", "navheader", "navfooter", "toc", "breadcrumb", "breadcrumbs", "banner",
                          "navigation", "navbar", "skip-link", "sr-only", "visually-hidden", "headerlink",
                          "footer", "site-footer", "site-header", "sidebar-nav", "menu"})
HEADINGS = {f"h{i}": i for i in range(1, 7)}
BLOCKS = frozenset({"p", "div", "li", "dt", "dd", "pre", "blockquote", "tr", "table", "ul", "ol", "dl", "section",
                    "article", "main", "aside", "figure", "figcaption", "caption", "address", "details",
                    "summary", "hr", "br", "body", "header", "fieldset", "legend", "center"})
CELLS = frozenset({"td", "th"})
CELL = "\x1f"  # marks a cell boundary inside a row until the row is flushed


def parse_html(data: bytes, title_hint: str) -> Reading:
    # decoded here, handed to libxml2 as UTF-8 that it is told is UTF-8 (which overrides any declaration)
    parser = html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, recover=True,
                             encoding="utf-8")
    try:
        root = html.document_fromstring(decode(data, "html").encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError) as exc:
        from .model import DocumentError

        raise DocumentError(f"unreadable HTML: {exc}") from exc
    title_el = root.find(".//title")
    title = " ".join((title_el.text_content() if title_el is not None else "").split()) or title_hint
    return Reading(title, _walk(root, title))


def _skipped(el: etree._Element) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in SKIP_TAGS or el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    if el.get("role") in ("navigation", "banner", "contentinfo", "search"):
        return True
    markers = (el.get("class") or "").lower().split()
    ident = (el.get("id") or "").lower()
    return ident in SKIP_MARKERS or any(m in SKIP_MARKERS for m in markers)


def _anchor(heading: etree._Element) -> str | None:
    if heading.get("id"):
        return heading.get("id")
    for el in heading.iter():
        if el.get("id") or (el.tag == "a" and el.get("name")):
            return el.get("id") or el.get("name")
    # <section id=...><h2>, or DocBook's <div class="section" id=...><div class="titlepage"><div><h2>
    el = heading.getparent()
    for _ in range(4):
        if el is None:
            break
        if el.get("id"):
            first = next((h for h in el.iter(*HEADINGS) if h is not None), None)
            return el.get("id") if first is heading else None
        el = el.getparent()
    return None


def _walk(root: etree._Element, title: str) -> Iterator[Section]:
    body = root.find("body")
    start = body if body is not None else root
    stack: list[str] = []  # heading texts by level
    levels: list[int] = []
    section = Section(path=(title,) if title else ())
    buffer: list[str] = []
    heading: etree._Element | None = None
    heading_buffer: list[str] = []
    pre_depth = 0
    skipped: etree._Element | None = None

    def sink() -> list[str]:
        return heading_buffer if heading is not None else buffer

    def flush_paragraph() -> None:
        text = "".join(buffer)
        buffer.clear()
        if CELL in text:  # a table row: its non-empty cells, " | "-separated
            text = " | ".join(c for c in (" ".join(part.split()) for part in text.split(CELL)) if c)
        section.add(text, literal=pre_depth > 0)

    walker = etree.iterwalk(start, events=("start", "end"))
    for event, el in walker:
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if not tag or _skipped(el):
                walker.skip_subtree()  # its end event still comes, next
                skipped = el
                if (tag in BLOCKS or tag in SKIP_TAGS) and heading is None:
                    flush_paragraph()
                continue
            if tag in HEADINGS and heading is None:
                flush_paragraph()
                heading = el
                heading_buffer.clear()
            elif tag in BLOCKS and heading is None:
                flush_paragraph()
                if tag == "pre":
                    pre_depth += 1
            elif tag in CELLS:
                sink().append(CELL)
            if el.text:
                sink().append(el.text)
            continue
        # end
        if el is skipped:
            skipped = None
        elif el is heading:
            text = " ".join("".join(heading_buffer).split())
            heading = None
            if text:
                if section.blocks:
                    yield section
                level = HEADINGS[tag]
                while levels and levels[-1] >= level:
                    levels.pop()
                    stack.pop()
                levels.append(level)
                stack.append(text)
                section = Section(path=tuple(stack), anchor=_anchor(el))
        elif tag in BLOCKS and heading is None:
            if tag == "br" and pre_depth:
                buffer.append("\n")
            else:
                flush_paragraph()
            if tag == "pre":
                pre_depth -= 1
        if el.tail and el is not start:
            sink().append(el.tail)
    flush_paragraph()
    if section.blocks:
        yield section
