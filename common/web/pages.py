"""The HTML pages, rendered from Jinja templates as they are served (no build step).

Every demo page extends one frame, ``common/static/parts/demo.html``: the head every page holds (``head.html``: the
charset, the viewport, both colour schemes, the icon and the shared stylesheet), the shared components' scripts
(``components.html``), the header with the demo's title, introduction and navigation, and the library and load
panels. A demo's ``static/index.html`` sets its title, stylesheet, scripts and navigation and fills in its own
sections; the frame's comment says how. The landing page includes ``head.html`` alike. Links are relative, so the
same parts serve the landing page at ``/`` and a demo at ``/image/``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jinja2

from .docs import COMMON_STATIC

PARTS = COMMON_STATIC / "parts"


@functools.cache
def _environment(folder: Path) -> jinja2.Environment:
    # auto_reload (the default) re-reads a template whose file changed: editing a page needs no restart
    return jinja2.Environment(loader=jinja2.FileSystemLoader([folder, PARTS]), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)


def render(page: Path, **context: Any) -> str:
    """The page's HTML: the template at ``page`` rendered with ``context`` (values are escaped unless they are
    :class:`markupsafe.Markup`)."""
    return _environment(page.parent).get_template(page.name).render(**context)
