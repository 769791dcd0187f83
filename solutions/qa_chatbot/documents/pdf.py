"""PDF → sections, with pypdf.

Text is extracted page by page (pages are read lazily, at most ``max_pages``). The outline (bookmarks),
when the file has one, gives the headings: each entry starts a section at its page, at the place where
its title appears in the page text (else at the top of the page). Without an outline, each page
starts a section (a sentence a page break cuts ends in the section it started in). Lines are joined into paragraphs
at blank lines and at lines that end a sentence and are shorter than the page's usual line; a word
hyphenated across lines is joined. The lines of a table of contents or an index (dot leaders to a page number)
are dropped. Anchors are ``page=N`` (1-based), which PDF viewers understand.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from typing import Any

from .model import DocumentError, Reading, Section

log = logging.getLogger(__name__)
MAX_OUTLINE_ENTRIES = 20_000
#: the Latin ligatures of Unicode's presentation forms (ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ), which fonts' ligature glyphs extract as,
#: as their letters: BM25 and the encoder know "file", not "ﬁle"
LIGATURES = {c: unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
#: a line of a table of contents or an index: a title, dot leaders, page numbers ("2.1 Naming . . . . . 3",
#: "asn1_der_coding . . . . 12, 15"); navigation, not text: as passages they answered questions with their titles
LEADER_LINE = re.compile(r"(?:\s?\.){6,}\s*(?:[\dIVXLCDMivxlcdm][\dIVXLCDMivxlcdm,\s\u2013-]*)?$")


#: what PDF producers write as the title of a document that has none: a browser's blank page or the address it
#: printed, an office program's placeholder; and the program's name and the file's extension around a file name
_NO_TITLE = re.compile(r"(about:blank|[a-z][a-z0-9+.-]*://\S*|untitled\b.*|document ?\d*|presentation ?\d*|"
                       r"powerpoint presentation|slide ?\d*|title)", re.IGNORECASE)
_PROGRAM = re.compile(r"^microsoft (word|powerpoint|excel) - ", re.IGNORECASE)
_EXTENSION = re.compile(r"\.(docx?|pptx?|xlsx?|odt|odp|rtf|txt|html?|md|tex)$", re.IGNORECASE)


def metadata_title(value: str) -> str:
    """The title a PDF's metadata gives, or ``""`` when it is a placeholder (``about:blank``, ``Untitled``,
    ``Microsoft Word - Document1``): ``Microsoft Word - report.docx`` is ``report``."""
    title = _EXTENSION.sub("", _PROGRAM.sub("", " ".join(value.split())))
    return "" if _NO_TITLE.fullmatch(title) else title


def parse_pdf(data: bytes, title_hint: str, max_pages: int, warnings: list[str]) -> Reading:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise DocumentError("the PDF is encrypted") from exc
        n_pages = len(reader.pages)
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"unreadable PDF: {exc}") from exc
    title = title_hint
    try:
        metadata = reader.metadata
        meta_title = metadata.get("/Title") if metadata is not None else None
        if isinstance(meta_title, str):
            title = metadata_title(meta_title) or title_hint
    except Exception:  # metadata is optional; a broken info dictionary is not worth failing the file
        log.debug("PDF metadata unreadable", exc_info=True)
    if n_pages > max_pages:
        warnings.append(f"only the first {max_pages} of {n_pages} pages were read")
    return Reading(title, _sections(reader, min(n_pages, max_pages), title, warnings))


def _outline(reader: Any) -> list[tuple[int, int, str]]:
    """``[(page, level, title)]`` of the bookmarks, in page order (iterative: nesting depth is untrusted)."""
    try:
        outline = reader.outline
    except Exception:
        return []
    entries: list[tuple[int, int, str]] = []
    stack: list[tuple[list[Any], int]] = [(list(outline), 1)]
    while stack and len(entries) < MAX_OUTLINE_ENTRIES:
        items, level = stack.pop()
        pending: list[tuple[list[Any], int]] = []
        for item in items:
            if isinstance(item, list):
                pending.append((item, level + 1))
                continue
            try:
                page = reader.get_destination_page_number(item)
                title = " ".join(str(item.title).split())
            except Exception:  # a bookmark to nowhere: skipped, the text is still read
                log.debug("PDF outline entry unreadable", exc_info=True)
                continue
            if page is not None and page >= 0 and title:
                entries.append((page, level, title))
        stack.extend(reversed(pending))
    return sorted(entries, key=lambda e: e[0])  # stable: keeps outline order within a page


def _sections(reader: Any, n_pages: int, title: str, warnings: list[str]) -> Iterator[Section]:
    entries = _outline(reader)
    stack: list[tuple[int, str]] = []
    section = Section(path=(title,), anchor="page=1")
    pending: list[str] = []  # lines of the current paragraph run
    running: Counter[str] = Counter()
    k = 0
    for page_no in range(n_pages):
        try:
            text = (reader.pages[page_no].extract_text() or "").translate(LIGATURES)
        except Exception as exc:  # one broken page does not lose the rest
            warnings.append(f"page {page_no + 1} unreadable: {type(exc).__name__}")
            continue
        text = _strip_leader_lines(_strip_running_lines(text, running))
        if not entries and page_no > 0:  # no bookmarks: each page is a section, so a passage links to its page
            if _unfinished(pending):  # the page break cut a sentence: it ends where it started
                head, text = _continuation(text)
                pending.extend(head)
            _flush(section, pending)
            if section.blocks:
                yield section
            section = Section(path=(title,), anchor=f"page={page_no + 1}")
        cuts: list[tuple[int, int, int, str]] = []  # (heading line begin, text resumes at, level, title)
        cursor = 0
        folded = text.casefold()
        while k < len(entries) and entries[k][0] <= page_no:
            _, level, heading = entries[k]
            found = _find_heading(folded, heading.casefold(), cursor)
            begin, cursor = found if found else (cursor, cursor)
            cuts.append((begin, cursor, level, heading))
            k += 1
        previous = 0
        for begin, resume, level, heading in cuts:
            pending.extend(text[previous:begin].splitlines())
            _flush(section, pending)
            if section.blocks:
                yield section
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            section = Section(path=tuple(h for _, h in stack), anchor=f"page={page_no + 1}")
            previous = resume  # the heading line itself is not body text
        pending.extend(text[previous:].splitlines())
    _flush(section, pending)
    if section.blocks:
        yield section


def _unfinished(lines: list[str]) -> bool:
    """The last of ``lines`` that holds text does not end a sentence."""
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    return bool(last) and last[-1] not in ".!?:"


def _continuation(text: str) -> tuple[list[str], str]:
    """The first lines of a page up to the end of the sentence a page break cut (a blank line, or a line that
    ends a sentence), and the rest of the page."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if not line.strip():
            return lines[:k], "\n".join(lines[k:])
        if line.strip()[-1] in ".!?:":
            return lines[:k + 1], "\n".join(lines[k + 1:])
    return lines, ""


def _find_heading(folded: str, heading: str, start: int) -> tuple[int, int] | None:
    """``(begin, end)`` of the line at or after ``start`` that reads ``heading``, possibly after a section
    number ("2.1 Title"), white space insensitive; None when the page has no such line."""
    target = " ".join(heading.split())
    if not target:
        return None
    first = target.split()[0]
    pos = folded.find(first, start)
    while pos >= 0:
        begin = folded.rfind("\n", 0, pos) + 1
        before = folded[begin:pos].strip()
        if (not before or before.replace(".", "").replace(" ", "").isdigit() or before.startswith("chapter")) \
                and " ".join(folded[pos:pos + len(heading) + 40].split()).startswith(target):
            end = folded.find("\n", pos + len(first))
            return begin, (end + 1 if end >= 0 else len(folded))
        pos = folded.find(first, pos + 1)
    return None


def _strip_running_lines(text: str, seen: Counter[str]) -> str:
    """Drop a page's first and last lines when, digits aside, earlier pages had them too (running headers,
    footers, page numbers)."""
    lines = text.split("\n")
    for index in (0, -1):
        if not lines:
            break
        key = "".join(ch for ch in lines[index] if not ch.isdigit()).strip()
        seen[key] += 1
        if seen[key] > 2 or not key:
            lines.pop(index)
    return "\n".join(lines)


def _strip_leader_lines(text: str) -> str:
    """Drop the lines of a table of contents or an index (dot leaders to a page number)."""
    if ". ." not in text and "....." not in text:
        return text
    return "\n".join(line for line in text.split("\n") if not LEADER_LINE.search(line.rstrip()))


def _flush(section: Section, lines: list[str]) -> None:
    """Join extracted lines into paragraphs: blank lines, and short lines that end a sentence, end one."""
    if not lines:
        return
    widths = sorted(len(line.strip()) for line in lines if line.strip())
    usual = widths[int(len(widths) * 0.75)] if widths else 0
    para: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            section.add(_join(para))
            para = []
            continue
        para.append(line)
        if line[-1] in ".!?:" and len(line) < 0.8 * usual:
            section.add(_join(para))
            para = []
    section.add(_join(para))
    lines.clear()


def _join(lines: list[str]) -> str:
    out = ""
    for line in lines:
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and line[:1].islower():
            out = out[:-1] + line  # a word hyphenated at the end of a line
        else:
            out = f"{out} {line}" if out else line
    return out
