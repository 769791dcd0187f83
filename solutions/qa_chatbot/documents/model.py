"""What a parsed document is made of: sections (following its headings) and passages (what gets indexed)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

#: separator of the heading path shown to users ("Tutorial › Errors › Handling exceptions")
PATH_SEPARATOR = " › "


_SLUG_DROP = re.compile(r"[^\w\- ]", re.UNICODE)


def slugify(text: str, seen: dict[str, int]) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces → ``-``, ``-1``, ``-2`` for repeats. The
    anchors of Markdown headings, and of the headings of text and Word documents (in their HTML view)."""
    slug = _SLUG_DROP.sub("", unicodedata.normalize("NFKC", text).lower()).strip().replace(" ", "-")
    count = seen.get(slug, 0)
    seen[slug] = count + 1
    return f"{slug}-{count}" if count else slug


class DocumentError(ValueError):
    """A document that cannot be read at all (unsupported, corrupt, over a budget with nothing kept)."""


@dataclass(frozen=True)
class DocumentBudget:
    """Limits that every document must stay within, whatever its content.

    ``max_bytes`` is checked before parsing (a larger file is refused, nothing is read past it);
    ``max_passages`` and ``max_pages`` stop the parse early and mark the result ``truncated``;
    ``max_seconds`` and ``max_memory_mb`` bound a parse run by :func:`parse_isolated` in a child
    process (wall-clock kill and address-space limit), which is how the service should parse files
    it did not write: a hostile PDF or HTML file then costs at most these, and never the server.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_passages: int = 5000
    max_pages: int = 2000
    max_seconds: float = 60.0
    max_memory_mb: int = 1024
    #: longest passage, in characters (a single sentence longer than this is cut at a clause or word boundary)
    max_chars: int = 1000


@dataclass
class Section:
    """The text under one heading: ``path`` is the chain of headings from the top, ``blocks`` its paragraphs."""

    path: tuple[str, ...]
    anchor: str | None = None
    blocks: list[str] = field(default_factory=list)
    #: block indices that are preformatted (code, tables): split at lines, not at sentences
    literal: set[int] = field(default_factory=set)

    def add(self, text: str, literal: bool = False) -> None:
        text = text.strip("\n") if literal else " ".join(text.split())
        if text.strip():
            if literal:
                self.literal.add(len(self.blocks))
            self.blocks.append(text)


@dataclass(frozen=True)
class Passage:
    """One retrievable piece of a document, at most ``max_chars`` characters of ``text``."""

    document: str
    path: tuple[str, ...]
    text: str
    #: 0-based order of the passage in its document
    position: int
    #: the section's id in the source (HTML id, Markdown slug, reST id, ``page=N`` for PDF), for a link
    anchor: str | None = None

    @property
    def heading(self) -> str:
        return PATH_SEPARATOR.join(self.path) if self.path else self.document

    def embedding_text(self) -> str:
        """What to embed and index for full-text search: the heading path gives the passage its context."""
        return f"{self.heading}\n{self.text}"


@dataclass
class Reading:
    """What a parser reads from a document: its title, its sections (a generator: read lazily, so a budget can stop
    the work) and, for a format whose parser also renders it (Markdown, reST), ``body``: the HTML body of the
    document's view, written from the tree the sections came from. Call ``body`` once the sections are read: the
    headings carry their sections' anchors as ids from then on."""

    title: str
    sections: Iterator[Section]
    body: Callable[[], str] | None = None


@dataclass
class ParsedDocument:
    name: str
    title: str
    passages: list[Passage]
    #: a budget cut the document short (the passages kept are whole and valid)
    truncated: bool = False
    #: the HTML page "Open the document" shows for a Markdown, reST, text or Word document (:mod:`.view`); None for
    #: HTML and PDF, shown as they are
    view: str | None = None
    warnings: list[str] = field(default_factory=list)
