"""reStructuredText → sections, with docutils.

The document tree is built with file inclusion, raw passthrough and configuration files switched off
(a document cannot read other files of the server), and with every system message silenced (a broken
document still yields the text it has). Sections follow ``section`` nodes; paragraphs, list items,
literal blocks and table rows are the paragraphs; anchors are the sections' ids. The document's HTML view is
written from the same tree, so its sections carry those ids. A lone top-level heading stays a section (docutils'
``doctitle_xform`` is off): the document's title, whose section is the root of every path.

Sphinx's cross-reference roles (``:ref:`Install <install>```, ``:func:`~os.path.join```...), which plain docutils
does not know, read as the text Sphinx shows ("Install", ``join``), not as their markup; a ``contents``
directive's table of contents is navigation, left out of the passages (the view keeps it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from docutils import nodes, utils
from docutils.core import Publisher, publish_doctree
from docutils.io import DocTreeInput, StringOutput
from docutils.parsers.rst import roles
from docutils.readers.doctree import Reader
from docutils.writers.html5_polyglot import Writer

from .model import Reading, Section

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
    "doctitle_xform": False,
    "math_output": "HTML",
}
_PARAGRAPHS = (nodes.paragraph, nodes.term, nodes.line, nodes.attribution, nodes.caption, nodes.rubric)
#: Sphinx roles that name code (shown as literals) and the other cross-references and inline roles it adds
_CODE_ROLES = ("func", "meth", "class", "mod", "attr", "data", "const", "exc", "obj", "envvar", "option",
               "program", "file", "command", "samp", "makevar", "kbd", "py:func", "py:meth", "py:class", "py:mod",
               "py:attr", "py:data", "py:const", "py:exc", "py:obj", "c:func", "c:type", "c:macro", "c:data",
               "cpp:func", "cpp:class")
_TEXT_ROLES = ("ref", "doc", "term", "numref", "download", "guilabel", "menuselection", "keyword", "token",
               "manpage")
_TARGET = re.compile(r"^(.*?)\s*<[^<>]*>$", re.DOTALL)


def _sphinx_role(name: str, rawtext: str, text: str, lineno: int, inliner: Any, options: dict[str, Any] | None = None,
                 content: list[str] | None = None) -> tuple[list[Any], list[Any]]:
    """What Sphinx shows of a cross-reference: ``Title <target>`` → Title, ``~a.b.c`` → c, ``!x`` → x."""
    label = utils.unescape(text)
    titled = _TARGET.match(label)
    shown = titled.group(1) if titled and titled.group(1) else label
    if shown.startswith("~"):
        shown = shown[1:].rsplit(".", 1)[-1]
    shown = shown.lstrip("!")
    node = nodes.literal if name in _CODE_ROLES else nodes.inline
    return [node(rawtext, shown)], []


for _role in (*_CODE_ROLES, *_TEXT_ROLES):
    roles.register_local_role(_role, _sphinx_role)


def parse_rst(text: str, title_hint: str) -> Reading:
    doctree = publish_doctree(text, settings_overrides=SETTINGS)
    title_node = next(iter(doctree.findall(nodes.title)), None)
    title = " ".join(title_node.astext().split()) if title_node is not None else title_hint
    return Reading(title, _sections(doctree, title), body=lambda: _html_body(doctree))


def _html_body(doctree: nodes.document) -> str:
    """The tree written as HTML (the body of the document's view), each section with its id."""
    publisher = Publisher(reader=Reader(), writer=Writer(), source=DocTreeInput(doctree),
                          destination_class=StringOutput)
    publisher.process_programmatic_settings(None, SETTINGS, None)
    publisher.set_destination(None, None)
    publisher.publish()
    return str(publisher.writer.parts["body"])


def _sections(doctree: nodes.document, title: str) -> Iterator[Section]:
    # text before the first heading is under the title (the first heading's, else the file name's)
    top = Section(path=(title,) if title else (), anchor=(doctree.get("ids") or [None])[0])
    out: list[Section] = [top]
    # iterative depth-first walk keeping the enclosing section of every node
    stack: list[tuple[nodes.Node, Section]] = [(child, top) for child in reversed(doctree.children)]
    while stack:
        node, section = stack.pop()
        if isinstance(node, nodes.section):
            heading = node.next_node(nodes.title)
            name = " ".join(heading.astext().split()) if heading is not None else ""
            parent = section.path if section is not top else ()
            new = Section(path=(*parent, name) if name else parent, anchor=(node.get("ids") or [None])[0])
            out.append(new)
            stack.extend((child, new) for child in reversed(node.children))
        elif isinstance(node, nodes.title | nodes.subtitle | nodes.system_message | nodes.comment
                        | nodes.substitution_definition | nodes.target | nodes.raw) or (
                isinstance(node, nodes.topic) and "contents" in node["classes"]):
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
