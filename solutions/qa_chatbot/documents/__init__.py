"""Documents (.md .rst .txt .html .htm .pdf .docx) → passages that follow headings, paragraphs and sentences.

    parsed = parse_isolated(path)            # in a child process: time and memory bounded (use for uploads)
    parsed = parse_document(path)            # in this process: bytes and passage count bounded
    for p in parsed.passages: p.heading, p.text, p.anchor, p.position
    parsed.view                              # the HTML page that shows a .md .rst .txt or .docx document

Each format is read by a maintained parser (lxml, markdown-it-py, docutils, pypdf, python-docx); plain text is split
at blank lines and underlined headings. See :class:`DocumentBudget` for the limits.

Budgets: a file over ``max_bytes`` is refused before it is read; parsing stops after ``max_passages``
passages (and ``max_pages`` PDF pages), marking the result ``truncated`` with a warning; in
:func:`parse_isolated` the parser runs in a forked child limited to ``max_memory_mb`` of address space and
killed after ``max_seconds``. Sections and passages are produced lazily (generators; PDF pages are
extracted one at a time), so the passage limit also stops the work; HTML, Markdown and reST are parsed
whole, which ``max_bytes`` bounds. Tree walks are iterative, so nesting depth cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from .charset import CHARSET_WINDOW, codec_of, declared_charset, decode, write_utf8
from .isolate import parse_isolated
from .model import PATH_SEPARATOR, DocumentBudget, DocumentError, ParsedDocument, Passage, Reading, Section
from .sentences import sentence_spans, split_sentences
from .split import passages_of
from .view import FROM_SECTIONS, page, sections_view

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text", ".text": "text",
            ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf", ".docx": "docx"}
#: what the content of a document of each kind sniffs as (:func:`common.files.sniff`), when it is not ``text``
CONTENT = {"pdf": "pdf", "docx": "zip"}
#: the media type a stored copy of a binary document is served with (text and HTML: :func:`media_type`)
MEDIA_TYPES = {"pdf": "application/pdf",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}
DEFAULT_BUDGET = DocumentBudget()


def document_kind(name: str) -> str | None:
    """``markdown|rst|text|html|pdf|docx`` for a file name, or None when it is not a document."""
    return SUFFIXES.get(Path(name).suffix.lower())


def expected_content(kind: str) -> str:
    """What a document of ``kind`` must sniff as: ``pdf``, ``zip`` (a .docx) or ``text``."""
    return CONTENT.get(kind, "text")


def media_type(kind: str) -> str:
    """The ``Content-Type`` a stored copy of a document of ``kind`` is served with; text and HTML copies are
    written in UTF-8 (:func:`.charset.write_utf8`)."""
    return MEDIA_TYPES.get(kind) or f"{'text/html' if kind == 'html' else 'text/plain'}; charset=utf-8"


def read_limited(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, refusing (without reading further) a file over ``max_bytes``."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise DocumentError(f"larger than the {max_bytes}-byte limit for a document")
    return data


def read_document(data: bytes, kind: str, name: str, budget: DocumentBudget = DEFAULT_BUDGET,
                  warnings: list[str] | None = None) -> Reading:
    """The title and sections (and for Markdown and reST, the view's body) of a document's bytes; ``kind`` as
    from :func:`document_kind`."""
    warnings = warnings if warnings is not None else []
    hint = Path(name).stem
    if kind == "html":
        from .html import parse_html

        return parse_html(data, hint)
    if kind == "pdf":
        from .pdf import parse_pdf

        return parse_pdf(data, hint, budget.max_pages, warnings)
    if kind == "docx":
        from .docx import parse_docx

        return parse_docx(data, hint)
    text = _text(data, kind)
    if kind == "markdown":
        from .markdown import parse_markdown

        return parse_markdown(text, hint)
    if kind == "rst":
        from .rst import parse_rst

        return parse_rst(text, hint)
    if kind == "text":
        from .plain import parse_text

        return parse_text(text, hint)
    raise DocumentError(f"not a supported document type: {name}")


def _text(data: bytes, kind: str) -> str:
    """A text document's bytes as the parsers read them: decoded (:mod:`.charset`), with ``\\n`` line ends."""
    return decode(data, kind).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def parse_bytes(data: bytes, name: str, budget: DocumentBudget = DEFAULT_BUDGET,
                kind: str | None = None) -> ParsedDocument:
    kind = kind or document_kind(name)
    if kind is None:
        raise DocumentError(f"not a supported document type (.md .rst .txt .html .htm .pdf .docx): {name}")
    if len(data) > budget.max_bytes:
        raise DocumentError(f"larger than the {budget.max_bytes}-byte limit for a document")
    warnings: list[str] = []
    reading = read_document(data, kind, name, budget, warnings)
    title, sections = reading.title, reading.sections
    read: list[Section] = []  # the sections the passages were cut from, for a view written from them
    if kind in FROM_SECTIONS:
        sections = _keeping(sections, read)
    passages = list(passages_of(sections, name, budget.max_chars, budget.max_passages + 1))
    truncated = len(passages) > budget.max_passages
    if truncated:
        passages = passages[: budget.max_passages]
        warnings.append(f"only the first {budget.max_passages} passages were kept")
    truncated = truncated or any(w.startswith("only the first") for w in warnings)
    try:
        view = page(title, reading.body()) if reading.body is not None \
            else sections_view(read, title) if kind in FROM_SECTIONS else None
    except RecursionError:  # docutils writes HTML recursively: without a view, the copy is served as its text
        view = None
    return ParsedDocument(name=name, title=title, passages=passages, truncated=truncated, view=view,
                          warnings=warnings)


def _keeping(sections: Iterator[Section], kept: list[Section]) -> Iterator[Section]:
    for section in sections:
        kept.append(section)
        yield section


def parse_document(path: Path | str, name: str | None = None,
                   budget: DocumentBudget = DEFAULT_BUDGET) -> ParsedDocument:
    """Parse a document file in this process (bytes and passages bounded; time and memory are not:
    use :func:`parse_isolated` for files from users)."""
    path = Path(path)
    return parse_bytes(read_limited(path, budget.max_bytes), name or path.name, budget)


__all__ = [
    "CHARSET_WINDOW", "DEFAULT_BUDGET", "PATH_SEPARATOR", "SUFFIXES", "DocumentBudget", "DocumentError",
    "ParsedDocument", "Passage", "Section", "codec_of", "declared_charset", "decode", "document_kind",
    "expected_content", "media_type",
    "parse_bytes", "parse_document", "parse_isolated", "passages_of", "sentence_spans", "split_sentences", "write_utf8",
]
