"""The /image/ page in headless Chromium at desktop and phone size: first visit, sample data, library, details,
search by image and by words, load more, label filter, batch queries, and how it looks (fit, contrast, dark)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from tests.browser_support import (
    assert_demo_looks,
    assert_first_visit,
    assert_fits,
    assert_inner_fits,
    assert_library_pages,
    assert_says_nothing_loaded,
    delete_after_a_confirmation,
    demo_page,
    enter,
    load_sample_data,
    open_first_result,
    progress_between,
    served,
)
from tests.conftest import Backend

from .helpers import DATA, make_app, perturb

pytestmark = pytest.mark.browser
SAMPLES = 91  # the JPEG and PNG files of Debian opencv-doc


def _service(tmp_path_factory, model_cache, loaded: bool):
    tmp = tmp_path_factory.mktemp("image-page")
    app = make_app(Backend("lite", "", ""), tmp, uuid.uuid4().hex[:8], tmp, model_cache)
    with served("image_search", app, "/image", samples=loaded) as (base, client):
        yield base, client, app


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, model_cache):
    """One service with the sample images, shared by the module (tests that delete leave the rest)."""
    yield from _service(tmp_path_factory, model_cache, loaded=True)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, model_cache):
    """A service the first-visit tests empty before they start."""
    yield from _service(tmp_path_factory, model_cache, loaded=False)


def opened(browser, base: str, size: str = "desktop", scheme: str = "light"):
    """The page at ``size`` in ``scheme`` and its traffic (checked when the block ends)."""
    return demo_page(browser, base, "/image", size, scheme)


def test_first_visit_puts_load_first_and_the_sample_data_button_loads(browser, fresh, size):
    base, client, _ = fresh
    client.delete("/data")
    with opened(browser, base, size) as (page, _traffic):
        assert_first_visit(page, client, size, "No images stored yet")
        assert page.locator("#load .welcome").is_visible()
        # a phone has nothing to drop from, but a button to choose files is everywhere
        assert page.get_by_role("button", name="Choose files").is_visible()
        # searching an empty collection says what to do, not "0 results in 49 ms"
        enter(page, "#words", "fruit")
        assert_says_nothing_loaded(page)

        status = load_sample_data(page, timeout=120_000)
        assert status.inner_text() == f"Done: {SAMPLES} new, 0 already stored, 0 failed."
        assert progress_between(page), "the progress bar went from empty to full without moving in between"
        assert page.locator("[data-count]").inner_text() == f"{SAMPLES} images stored"
        assert page.locator(".next-step").is_visible()
        page.locator("#library-box .card").first.wait_for()
        assert not page.locator("#load .welcome").is_visible()
        assert_fits(page)


def test_a_reload_resumes_a_running_load_and_a_new_load_clears_the_old_error(browser, fresh):
    base, client, app = fresh
    client.delete("/data")
    pipeline = app.state.pipeline
    gate = threading.Event()

    def held(items, monitor):  # the load stays running until the page has been reloaded
        gate.wait(120)
        return type(pipeline).process_batch(pipeline, items, monitor)

    pipeline.process_batch = held
    try:
        with opened(browser, base, "desktop") as (page, traffic):
            traffic.allow(403, "/image/load")
            page.get_by_role("button", name="Load", exact=True).click()  # an empty box says what to type
            status = page.locator("#load .task .status")
            assert status.inner_text().startswith("Type a file or folder on the server first")
            page.fill("#load-path", "/srv/data/images")
            page.get_by_role("button", name="Load", exact=True).click()
            status.filter(has_text="outside the data roots").wait_for()
            assert "403" not in status.inner_text() and status.get_attribute("class") == "status error"

            page.get_by_role("button", name="Load sample data").click()
            status.filter(has_text="Loading").wait_for(timeout=60_000)
            assert status.get_attribute("class") == "status busy"  # the old error is gone
            page.reload()
            # the running load is followed again after the reload, and finishes in the panel
            page.locator("#load .task-title").filter(has_text="sample data").wait_for()
            status.filter(has_text="Loading").wait_for()
            assert page.get_by_role("button", name="Cancel").is_visible()
            gate.set()
            status.filter(has_text="Done:").wait_for(timeout=120_000)
            assert status.inner_text() == f"Done: {SAMPLES} new, 0 already stored, 0 failed."
            recent = page.locator("#load .recent-item").first
            assert "sample data" in recent.inner_text() and "done" in recent.inner_text()
    finally:
        gate.set()
        del pipeline.process_batch


def test_library_pages_and_deletes_after_a_confirmation(browser, loaded, size):
    base, client, _ = loaded
    total = client.get("/count").json()["count"]
    per_page = 24 if size == "desktop" else 12
    with opened(browser, base, size) as (page, _traffic):
        newest = assert_library_pages(page, client, per_page, total)
        delete_after_a_confirmation(page, client, newest[0], f"{total - 1} images stored")
        first = page.locator("#library-box .library-item").first
        assert first.locator(".card-title").inner_text() == newest[1]["name"]
        assert_fits(page)


def test_details_open_by_click_and_keyboard_and_close_with_escape(browser, loaded, size):
    base, client, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        enter(page, "#words", "fruit")
        first, item, dialog = open_first_result(page, client)
        assert dialog.locator("#details-title").inner_text() == item["name"]
        page.wait_for_function("() => { const i = document.querySelector('dialog.details .details-media img');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        assert dialog.locator(".details-media img").get_attribute("src") == item["image_url"]
        assert dialog.locator(".scores li").count() == 5
        text = dialog.inner_text()
        dimensions = f"{item['width']} × {item['height']}"
        for expected in (item["labels"][0]["label"], item["sha256"], item["source"], dimensions):
            assert expected in text
        assert_inner_fits(page, "dialog .details-body")
        page.keyboard.press("Escape")
        page.locator("dialog.details").wait_for(state="hidden")
        assert first.evaluate("(el) => el === document.activeElement"), "focus did not return to the result"

        second = page.locator("#results .card").nth(1)
        second.focus()
        scrolled = page.evaluate("() => scrollY")
        page.keyboard.press("Enter")
        page.locator("dialog.details[open]").wait_for()
        page.get_by_role("button", name="Close").click()
        page.locator("dialog.details").wait_for(state="hidden")
        assert second.evaluate("(el) => el === document.activeElement")
        assert page.evaluate("() => scrollY") == scrolled  # opening and closing did not move the page


def test_search_by_image_label_filter_load_more_and_a_rejected_query(browser, loaded, size, tmp_path):
    base, client, _ = loaded
    query = tmp_path / "query.jpg"
    query.write_bytes(perturb((DATA / "building.jpg").read_bytes(), 3))
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image", encoding="utf-8")
    with opened(browser, base, size) as (page, traffic):
        per_page = 24 if size == "desktop" else 12
        page.set_input_files("#query-input", str(query))
        cards = page.locator("#results .card")
        page.locator("#results .status.ok").wait_for(timeout=60_000)
        assert cards.count() == per_page
        assert cards.first.locator(".card-title").inner_text() == "building.jpg"
        assert "copy" in cards.first.inner_text()
        assert page.locator(".query-preview").is_visible()
        page.get_by_role("button", name="Load more").click()
        page.wait_for_function("(n) => document.querySelectorAll('#results .card').length === n", arg=2 * per_page)
        api = client.post("/search", files={"file": ("q.jpg", query.read_bytes())},
                          data={"top_k": str(2 * per_page)}).json()
        assert [c.get_attribute("data-id") for c in cards.all()] == [str(h["id"]) for h in api["results"]]
        page.wait_for_function("() => [...document.querySelectorAll('#results img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")

        # the label filter offers the labels present, and re-runs the search with the query image
        options = page.locator("#label-list option")
        assert options.count() > 20
        label = options.first.get_attribute("value")
        enter(page, "#label-filter", label)
        page.locator("#label-filter").blur()
        page.wait_for_function("(n) => document.querySelectorAll('#results .card').length < n", arg=2 * per_page)
        page.locator("#results .status.ok").wait_for()
        for card in cards.all():
            labels = client.get(f"/items/{card.get_attribute('data-id')}").json()["labels"]
            assert label in [entry["label"] for entry in labels]

        # a file that is not an image: a readable message, no results, no broken picture anywhere
        traffic.allow(415, "/image/search")
        page.set_input_files("#query-input", str(notes))
        error = page.locator("#results .status.error")
        error.wait_for()
        assert error.inner_text().startswith("The query is not an image") and "415" not in error.inner_text()
        assert cards.count() == 0
        assert not page.locator(".query-preview").is_visible()
        broken = page.evaluate("() => [...document.images].filter(i => i.getAttribute('src') && i.complete"
                               " && i.naturalWidth === 0 && i.offsetParent !== null).map(i => i.src)")
        assert broken == []


def test_batch_queries_get_results_or_their_own_error(browser, loaded, size, tmp_path):
    base, _, _ = loaded
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image", encoding="utf-8")
    with opened(browser, base, size) as (page, _traffic):
        page.set_input_files("#batch-input", [str(DATA / "orange.jpg"), str(notes)])
        groups = page.locator(".batch-group")
        groups.nth(1).wait_for(timeout=60_000)
        assert groups.nth(0).locator(".batch-query").inner_text() == "orange.jpg"
        assert groups.nth(0).locator(".card").first.locator(".card-title").inner_text() == "orange.jpg"
        assert "not an image" in groups.nth(1).locator(".status.error").inner_text()
        assert page.get_by_role("link", name="Download the results (JSON)").is_visible()
        assert_fits(page)


def test_fits_the_screen_with_aa_contrast_in_both_themes(browser, loaded, size, scheme):
    base, _, _ = loaded
    with opened(browser, base, size, scheme) as (page, _traffic):
        assert_demo_looks(page, scheme, borders=("#words", "#label-filter", "#query-zone"),
                          focus=("#words", "#query-zone button"))
        icon = page.evaluate("() => fetch(document.querySelector('link[rel=icon]').href).then(r => r.status)")
        assert icon == 200


@pytest.mark.parametrize("width", [375, 320])
def test_search_controls_keep_one_line_on_narrow_phones(browser, loaded, width):
    """On a 375 px phone the words input kept its intrinsic width and squeezed "Search" onto two lines."""
    base, _, _ = loaded
    with opened(browser, base, "phone") as (page, _traffic):
        page.set_viewport_size({"width": width, "height": 812})
        for row in ("#words-form .row", ".label-field .row"):
            field, button = page.locator(f"{row} input"), page.locator(f"{row} button")
            assert button.evaluate("(b) => b.scrollWidth <= b.clientWidth"), row
            assert button.bounding_box()["height"] <= field.bounding_box()["height"] + 1, row
        assert_fits(page)


@pytest.mark.parametrize(("fmt", "kind"), [("TIFF", "tiff"), ("HEIF", "heic")])
def test_details_of_a_tiff_or_heic_show_a_picture(browser, loaded, fmt, kind, tmp_path):
    """Browsers do not draw TIFF (nor Chromium HEIC): the details showed "no preview" for a TIFF the service had
    read fine."""
    import io

    from PIL import Image

    from tests.support import wait_task

    base, client, _ = loaded
    buf = io.BytesIO()
    if kind == "heic":  # made by pillow-heif's encoder; the service only decodes
        buf.write((Path(__file__).parent / "data" / "fruits.heic").read_bytes())
    else:
        Image.open(DATA / "baboon.jpg").convert("CMYK").save(buf, format=fmt)
    r = client.post("/upload", files={"files": (f"monkey.{kind}", buf.getvalue())})
    assert wait_task(client, r.json()["task_id"])["new"] == 1
    item = client.get("/items", params={"limit": 1}).json()["items"][0]
    assert item["name"] == f"monkey.{kind}" and item["format"] == kind
    try:
        with opened(browser, base) as (page, _traffic):
            page.locator("#library-box .card", has_text=f"monkey.{kind}").first.click()
            page.locator("dialog.details[open]").wait_for()
            page.wait_for_function("() => { const i = document.querySelector('dialog.details .details-media img');"
                                   " return i && i.complete && i.naturalWidth > 0; }")
            assert page.locator("dialog.details .img-missing").count() == 0
            page.keyboard.press("Escape")
            # searched with, the file is named where its preview would be (nothing said what was searched)
            query = tmp_path / f"query.{kind}"
            query.write_bytes(buf.getvalue())
            page.set_input_files("#query-input", str(query))
            page.locator("#results .status.ok").wait_for(timeout=60_000)
            assert page.locator("#results .card .card-title").first.inner_text() == f"monkey.{kind}"
            unseen = page.locator(".no-preview")
            assert unseen.is_visible() and unseen.inner_text().startswith(f"query.{kind}: your browser cannot show it")
            assert not page.locator(".query-preview").is_visible()
    finally:
        assert client.delete(f"/items/{item['id']}").status_code == 204
