"""common.web.pages: every demo page is rendered from the one frame; values are escaped; a missing one fails."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import jinja2
import pytest

from common import registry
from common.web.docs import COMMON_STATIC
from common.web.pages import render


def page_of(entry: registry.Demo) -> Path:
    spec = importlib.util.find_spec(entry.package)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / "static" / "index.html"


@pytest.mark.parametrize("entry", registry.DEMOS, ids=lambda d: d.name)
def test_each_demo_page_is_the_shared_frame_around_its_own_sections(entry):
    html = render(page_of(entry))
    assert html.startswith("<!doctype html>") and "{%" not in html and "{{" not in html
    title = re.search(r"<title>(.*)</title>", html)
    assert title and f"<h1>{title.group(1)}</h1>" in html
    head = (COMMON_STATIC / "parts" / "head.html").read_text().strip()
    components = (COMMON_STATIC / "parts" / "components.html").read_text().strip()
    assert head in html and components in html
    # the page's own scripts run after the shared components, and each names a file that exists
    own = re.findall(r'<script defer src="static/([^"]+)"></script>', html)
    assert own and html.index(components) < html.index(f'src="static/{own[0]}"')
    assert all((page_of(entry).parent / script).is_file() for script in own)
    for panel in ("library", "load"):
        assert html.count(f'<section id="{panel}" class="panel"></section>') == 1
    # every link of the navigation leads to a section of the page
    for anchor in re.findall(r'<nav aria-label="page">.*?</nav>', html, re.S)[0].split('href="#')[1:]:
        assert f'id="{anchor.split(chr(34))[0]}"' in html
    assert html.index('id="load"') > html.index('id="library"') > html.index('id="search"')


def test_values_are_escaped_and_a_missing_one_fails_loudly(tmp_path):
    page = tmp_path / "index.html"
    page.write_text('{% extends "demo.html" %}\n{% set title, stylesheet, scripts = "A <b> & C", "x.css", ["app.js"] %}'
                    '\n{% set nav = [] %}\n{% block main %}<p>mine</p>{% endblock %}\n')
    html = render(page)
    assert "<title>A &lt;b&gt; &amp; C</title>" in html and "<p>mine</p>" in html
    untitled = tmp_path / "untitled.html"
    untitled.write_text('{% extends "demo.html" %}\n{% block main %}{% endblock %}\n')
    with pytest.raises(jinja2.UndefinedError):
        render(untitled)
