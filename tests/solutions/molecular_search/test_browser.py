"""The /molecule/ page in headless Chromium: upload with progress, similarity and substructure searches."""

from __future__ import annotations

import pytest

from common.web.launcher import build_app
from tests.conftest import Backend

from .helpers import copy_nci, make_app


@pytest.mark.browser
def test_page_upload_and_search(tmp_path, unique, live_server, browser_page):
    files = tmp_path / "files"
    copy_nci(files / "nci.smi", limit=400)
    (files / "drugs.csv").write_text("smiles,name\nCC(=O)Oc1ccccc1C(=O)O,aspirin\nC1CC,broken\n", encoding="utf-8")
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path)
    base = live_server(build_app(services={"molecular_search": app}))
    page = browser_page
    page.goto(base + "/molecule/")
    assert page.title() == "Molecular search"
    page.locator("#count").filter(has_text="0").wait_for(timeout=10_000)

    page.set_input_files("#file-input", [str(files / "nci.smi"), str(files / "drugs.csv")])
    status = page.locator("#load-status")
    status.filter(has_text="succeeded").wait_for(timeout=60_000)
    assert "1 failed" in status.inner_text()
    assert "drugs.csv:3" in page.locator("#load-errors").inner_text()
    progress = page.locator("#progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    stored = int(page.locator("#count").inner_text())
    assert 380 < stored <= 401

    # similarity: the aspirin example finds aspirin itself first, drawn as an SVG
    page.get_by_role("button", name="aspirin").click()
    first = page.locator("#results li").first
    first.wait_for(timeout=15_000)
    assert "aspirin" in first.inner_text() and "Tanimoto 1.000" in first.inner_text()
    assert page.locator("#results li").count() == 12
    page.wait_for_function("() => [...document.querySelectorAll('#results img')].slice(0, 3)"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)

    # substructure with a SMARTS typed in, highlighted drawings, honest status line
    page.fill("#query", "c1ccccc1C(=O)[OH]")
    page.check("input[name=mode][value=substructure]")
    assert page.locator("#min-sim-label").is_hidden()
    page.click("#search-btn")
    page.locator("#search-status").filter(has_text="verified").wait_for(timeout=15_000)
    assert "highlight=" in page.locator("#results li img").first.get_attribute("src")
    assert page.locator("#results li").count() >= 1

    # an invalid SMILES shows the API's 422 message, no results
    page.fill("#query", "C1CC")
    page.check("input[name=mode][value=similarity]")
    page.click("#search-btn")
    page.locator("#search-status.error").wait_for(timeout=10_000)
    assert "422" in page.locator("#search-status").inner_text()
    assert page.locator("#results li").count() == 0
