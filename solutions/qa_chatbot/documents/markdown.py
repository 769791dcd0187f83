"""Markdown → sections, with markdown-it-py (CommonMark + tables).

Headings (ATX and setext) open sections; paragraphs, list items, block quotes, table rows and code
blocks are the paragraphs. Inline markup is reduced to its text (link and image text kept, URLs and HTML
tags dropped); a raw HTML block is reduced to its text with lxml, scripts and styles removed. Anchors are
GitHub-style slugs of the heading text, made unique within the document, and set as the ids of the headings'
tokens, which are then rendered as the document's HTML view: a passage's link lands on its section.

Front matter (YAML between ``---`` lines, or TOML between ``+++`` lines, at the very start: Jekyll, Hugo, MkDocs,
Docusaurus pages) is metadata, not text: it is left out of the passages and the view, and its ``title`` names the
document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

from .model import Reading, Section, slugify


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content or "")
        # html_inline (a tag) is dropped; the text between tags is kept
    return "".join(parts)


def _html_block_text(content: str) -> str:
    """Text of a raw HTML block, scripts and styles dropped (parsed with lxml, never rendered)."""
    from lxml import etree, html

    try:
        root = html.document_fromstring(content)
    except (etree.ParserError, ValueError):
        return ""
    for bad in root.xpath("//script|//style|//template|//noscript"):
        bad.drop_tree()
    return root.text_content()


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _heading(tokens: list[Token], i: int) -> str:
    """The text of the heading that opens at ``tokens[i]``: what its section's path and anchor are made of."""
    return " ".join(_inline_text(tokens[i + 1]).split())


#: front matter: a fence, ``key: value`` lines (``key = value`` in TOML), the same fence (YAML may end with ``...``)
_FRONT_MATTER = re.compile(r"\A(---|\+\+\+)[ \t]*\r?\n(?=\s*[\w-]+[ \t]*[:=])"
                           r"(.*?)^(\1|\.\.\.)[ \t]*$\r?\n?", re.S | re.M)
_TITLE = re.compile(r"^title[ \t]*[:=][ \t]*(.+?)[ \t]*$", re.M)


def front_matter(text: str) -> tuple[str, str]:
    """``text`` with its front matter blanked out (lines kept, so positions stay), and the title it declares."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return text, ""
    title = _TITLE.search(match.group(2))
    return "\n" * match.group(0).count("\n") + text[match.end():], title.group(1).strip("'\"") if title else ""


def parse_markdown(text: str, title_hint: str) -> Reading:
    md = _markdown()
    text, declared = front_matter(text.removeprefix("\ufeff"))
    tokens = md.parse(text)
    first = next((i for i, t in enumerate(tokens) if t.type == "heading_open"), None)
    title = declared or (_heading(tokens, first) if first is not None else title_hint)
    # the view: raw HTML is kept, as in an HTML document (the view is served sandboxed)
    return Reading(title, _sections(tokens, title), body=lambda: str(md.renderer.render(tokens, md.options, {})))


def _sections(tokens: list[Token], title: str) -> Iterator[Section]:
    stack: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    section = Section(path=(title,) if title else ())
    row: list[str] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            heading = _heading(tokens, i)
            i += 3
            if not heading:
                continue
            if section.blocks:
                yield section
            level = int(tok.tag[1])
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            anchor = slugify(heading, seen)
            tok.attrSet("id", anchor)  # the view's heading
            section = Section(path=tuple(h for _, h in stack), anchor=anchor)
            continue
        if tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close" and row is not None:
            section.add(" | ".join(c for c in row if c))
            row = None
        elif tok.type == "inline":
            text = _inline_text(tok)
            if row is not None:
                row.append(" ".join(text.split()))
            else:
                section.add(text)
        elif tok.type in ("fence", "code_block"):
            section.add(tok.content, literal=True)
        elif tok.type == "html_block":
            section.add(_html_block_text(tok.content))
        i += 1
    if section.blocks:
        yield section
