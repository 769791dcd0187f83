"""reStructuredText → sections, with docutils.

The document tree is built with file inclusion, raw passthrough and configuration files switched off
(a document cannot read other files of the server), and with every system message silenced (a broken
document still yields the text it has). Sections follow ``section`` nodes; paragraphs, list items,
literal blocks and table rows are the paragraphs; anchors are the sections' ids, which
:func:`render_rst` writes on the sections of the document's HTML view.
"""

from __future__ import annotations

from collections.abc import Iterator

from docutils import nodes
from docutils.core import publish_doctree, publish_parts

from .model import Section

SETTINGS = {
    "file_insertion_enabled": False,
    "raw_enabled": False,
    "_disable_config": True,
    "report_level": 5,
    "halt_level": 5,
    "warning_stream": False,
    "input_encoding": "unicode",
    "line_length_limit": 100_000,
    "syntax_highlight": "none",
    "character_level_inline_markup": False,
}
_PARAGRAPHS = (nodes.paragraph, nodes.term, nodes.line, nodes.attribution, nodes.caption, nodes.rubric)


def parse_rst(text: str, title_hint: str) -> tuple[str, Iterator[Section]]:
    doctree = publish_doctree(text, settings_overrides=SETTINGS)
    title_node = next(iter(doctree.findall(nodes.title)), None)
    title = " ".join(title_node.astext().split()) if title_node is not None else title_hint
    return title, _sections(doctree, title)


def render_rst(text: str) -> str:
    """The document as HTML (the body of its view), built with the settings of the tree its sections come from,
    so its sections carry the same ids. The title stays a section, which keeps the id the tree gives the
    document."""
    overrides = {**SETTINGS, "doctitle_xform": False, "math_output": "HTML"}
    return str(publish_parts(text, writer="html5", settings_overrides=overrides)["body"])


def _sections(doctree: nodes.document, title: str) -> Iterator[Section]:
    # the document title (promoted by docutils from a lone top-level heading) roots every path
    root: tuple[str, ...] = (title,) if _is_titled(doctree) else ()
    top = Section(path=root or ((title,) if title else ()), anchor=(doctree.get("ids") or [None])[0])
    out: list[Section] = [top]
    # iterative depth-first walk keeping the enclosing section of every node
    stack: list[tuple[nodes.Node, Section]] = [(child, top) for child in reversed(doctree.children)]
    while stack:
        node, section = stack.pop()
        if isinstance(node, nodes.section):
            heading = node.next_node(nodes.title)
            name = " ".join(heading.astext().split()) if heading is not None else ""
            parent = section.path if section is not top else root
            new = Section(path=(*parent, name) if name else parent, anchor=(node.get("ids") or [None])[0])
            out.append(new)
            stack.extend((child, new) for child in reversed(node.children))
        elif isinstance(node, nodes.title | nodes.subtitle | nodes.system_message | nodes.comment
                        | nodes.substitution_definition | nodes.target | nodes.raw):
            continue
        elif isinstance(node, nodes.literal_block | nodes.doctest_block):
            section.add(node.astext(), literal=True)
        elif isinstance(node, nodes.row):
            section.add(" | ".join(" ".join(entry.astext().split()) for entry in node.children))
        elif isinstance(node, _PARAGRAPHS):
            section.add(node.astext())
        elif isinstance(node, nodes.Element):
            stack.extend((child, section) for child in reversed(node.children))
    # sections come out in document order, each with the blocks found under it
    yield from (s for s in out if s.blocks)


def _is_titled(doctree: nodes.document) -> bool:
    """docutils promoted a lone top-level section title to the document title."""
    return bool(doctree.children) and isinstance(doctree.children[0], nodes.title)
