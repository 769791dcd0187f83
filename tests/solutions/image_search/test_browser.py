"""The /image/ page in headless Chromium: drag-and-drop style upload with progress, then a search."""

from __future__ import annotations

import pytest

from common.web.launcher import build_app
from tests.conftest import Backend

from .helpers import DATA, copy_photos, make_app, perturb


@pytest.mark.browser
def test_page_upload_and_search(tmp_path, unique, live_server, browser_page, model_cache):
    files = tmp_path / "files"
    names = copy_photos(files, ["baboon.jpg", "fruits.jpg", "building.jpg", "orange.jpg", "messi5.jpg"])
    (files / "notes.txt").write_text("no image here", encoding="utf-8")
    query = tmp_path / "query.jpg"
    query.write_bytes(perturb((DATA / "building.jpg").read_bytes(), 5))
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, model_cache)
    base = live_server(build_app(services={"image_search": app}))
    page = browser_page
    page.on("dialog", lambda d: d.accept())
    page.goto(base + "/image/")
    assert page.title() == "Reverse image search"
    page.locator("#count").filter(has_text="0").wait_for(timeout=10_000)

    page.set_input_files("#file-input", [str(files / n) for n in names] + [str(files / "notes.txt")])
    status = page.locator("#load-status")
    status.filter(has_text="succeeded").wait_for(timeout=60_000)
    assert f"{len(names)} loaded" in status.inner_text() and "1 failed" in status.inner_text()
    assert "notes.txt" in page.locator("#load-errors").inner_text()
    progress = page.locator("#progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    page.locator("#count").filter(has_text=str(len(names))).wait_for(timeout=10_000)

    page.set_input_files("#query-input", str(query))
    page.locator("#search-status.ok").wait_for(timeout=30_000)
    items = page.locator("#results li")
    assert items.count() == len(names)
    assert "building.jpg" in items.first.inner_text() and "copy" in items.first.inner_text()
    page.wait_for_function("() => [...document.querySelectorAll('#results img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    assert page.locator("#query-preview").is_visible()

    # a non-image query shows the API's 415, clear all empties the store
    page.set_input_files("#query-input", str(files / "notes.txt"))
    page.locator("#search-status.error").wait_for(timeout=10_000)
    assert "415" in page.locator("#search-status").inner_text()
    page.click("#clear")
    page.locator("#count").filter(has_text="0").wait_for(timeout=10_000)
    assert f"{len(names)} image(s) deleted" in status.inner_text()
