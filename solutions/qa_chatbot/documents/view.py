"""The HTML view of a Markdown or reST document: what "Open the document" shows in place of its source text.

The view is rendered when the document is parsed (in the same bounded child process), by the parser that made its
passages, so every heading carries its section's anchor and a passage's link lands on its section. It is served
like a loaded HTML page: sandboxed, no script runs and nothing is fetched.
"""

from __future__ import annotations

from html import escape

#: the kinds of document shown through a view
VIEWED = frozenset({"markdown", "rst"})

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


def render_view(text: str, kind: str, title: str) -> str:
    """A whole HTML page showing ``text``, a document of a kind in :data:`VIEWED`. The others are shown as they
    are (HTML, PDF, Word) or have no markup to render (plain text)."""
    if kind == "markdown":
        from .markdown import render_markdown

        body = render_markdown(text)
    elif kind == "rst":
        from .rst import render_rst

        body = render_rst(text)
    else:
        raise ValueError(f"no view for {kind} documents")
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n")
