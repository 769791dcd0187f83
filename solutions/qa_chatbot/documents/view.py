"""The HTML view of a document whose stored copy a browser cannot show at its sections: what "Open the document"
shows in place of a Markdown, reST, plain text or Word file.

A Markdown or reST view is the body its parser renders from the tree the passages were read from
(:attr:`.model.Reading.body`, in :func:`page`); a text or Word view is written from the sections the passages were
cut from (:func:`sections_view`). Both are made
when the document is parsed, in the same bounded child process, and every heading carries its section's anchor, so
a passage's link lands on its section. HTML and PDF copies are shown as they are. A view is served like a loaded
HTML page: sandboxed, no script runs and nothing is fetched.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from html import escape

from .model import Section

#: written from the sections (Markdown and reST views are rendered by their parsers)
FROM_SECTIONS = frozenset({"text", "docx"})

#: readable type on a phone and on a desktop, light and dark; inline, as the sandbox allows nothing else
STYLE = """
:root { color-scheme: light dark; }
body { margin: 0 auto; max-width: 48rem; padding: 1rem 1.25rem 3rem; font: 1rem/1.6 system-ui, sans-serif; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; margin: 1.6em 0 0.5em; }
:target { background: #fff3b0; color: #000; }
pre { overflow-x: auto; padding: 0.75rem; background: rgba(127, 127, 127, 0.12); border-radius: 4px; }
code { font-size: 0.9em; overflow-wrap: anywhere; }
pre code { overflow-wrap: normal; }
table { border-collapse: collapse; display: block; overflow-x: auto; }
th, td { border: 1px solid rgba(127, 127, 127, 0.5); padding: 0.25rem 0.5rem; text-align: left; }
img { max-width: 100%; }
blockquote { margin-left: 0; padding-left: 1rem; border-left: 3px solid rgba(127, 127, 127, 0.5); }
"""


def sections_view(sections: Sequence[Section], title: str) -> str:
    """The page showing a document as its sections: the title as its one ``<h1>``, then each section's heading
    with its anchor as ``id`` (and the headings above it that have no text of their own), then its paragraphs, a
    preformatted block (an indented block of a text file) as such."""
    return page(title, "".join(_sections_html(sections, title)))


def _sections_html(sections: Sequence[Section], title: str) -> Iterator[str]:
    # the heading that gave the document its title (its first heading, when it has no other) is the h1, and is
    # not shown again where its section starts (after text that came before it)
    titled = next((s.anchor for s in sections if s.anchor and s.path == (title,)), None)
    yield f"<h1{_id(titled)}>{escape(title)}</h1>\n"
    shown: tuple[str, ...] = (title,)  # the heading path shown last
    for section in sections:
        path = section.path
        same = 0
        while same < min(len(path), len(shown)) and path[same] == shown[same]:
            same += 1
        if section.anchor and section.anchor != titled:  # a section that starts at a heading shows it
            same = min(same, len(path) - 1)
        under_title = 1 if path[:1] == (title,) else 2  # the level of the headings right under the title
        for depth in range(same, len(path)):
            level = min(depth + under_title, 6)
            anchor = section.anchor if depth == len(path) - 1 else None
            yield f"<h{level}{_id(anchor)}>{escape(path[depth])}</h{level}>\n"
        shown = path
        for k, block in enumerate(section.blocks):
            yield f"<pre>{escape(block)}</pre>\n" if k in section.literal else f"<p>{escape(block)}</p>\n"


def _id(anchor: str | None) -> str:
    return f' id="{escape(anchor)}"' if anchor else ""


def page(title: str, body: str) -> str:
    """The whole HTML page of a view: ``body`` under the view's style."""
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n")
