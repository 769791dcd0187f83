"""Plain text → sections: paragraphs are separated by blank lines; a line underlined with a repeated
character (``=====``, ``-----``, ``~~~~``, as in Markdown/reST-style text files) is a heading, its level
given by the order in which underline characters first appear. Indented blocks are kept as preformatted. A
heading's anchor is its slug, as in Markdown: the document's HTML view (:mod:`.view`) gives it that id."""

from __future__ import annotations

from collections.abc import Iterator

from .model import Reading, Section, slugify

UNDERLINE_CHARS = set("=-~*#^+_")


def _underline(line: str, title: str) -> str | None:
    s = line.strip()
    if len(s) >= 3 and len(set(s)) == 1 and s[0] in UNDERLINE_CHARS and title.strip() \
            and len(s) >= 0.6 * len(title.strip()):
        return s[0]
    return None


def parse_text(text: str, title_hint: str) -> Reading:
    lines = text.splitlines()
    return Reading(title_hint, _sections(lines, title_hint))


def _sections(lines: list[str], title: str) -> Iterator[Section]:
    levels: list[str] = []
    stack: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    section = Section(path=(title,) if title else ())
    para: list[str] = []
    literal = False

    def flush() -> None:
        nonlocal para, literal
        section.add("\n".join(para) if literal else " ".join(para), literal=literal)
        para, literal = [], False

    i = 0
    while i < len(lines):
        line = lines[i]
        mark = _underline(lines[i + 1], line) if i + 1 < len(lines) and not para else None
        if mark and line.strip() and not line.startswith((" ", "\t")):
            flush()
            if section.blocks:
                yield section
            if mark not in levels:
                levels.append(mark)
            level = levels.index(mark) + 1
            while stack and stack[-1][0] >= level:
                stack.pop()
            heading = " ".join(line.split())
            stack.append((level, heading))
            section = Section(path=tuple(h for _, h in stack), anchor=slugify(heading, seen))
            i += 2
            continue
        if not line.strip():
            flush()
        else:
            indented = line.startswith(("    ", "\t"))
            if para and indented != literal:
                flush()
            literal = indented
            para.append(line.rstrip() if indented else line.strip())
        i += 1
    flush()
    if section.blocks:
        yield section
