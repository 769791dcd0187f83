"""The landing page and the offline API docs in a real headless Chromium, at desktop and phone size."""

from __future__ import annotations

import dataclasses
import time

import pytest

from common import registry
from common.web.launcher import build_app
from tests.browser_support import (
    NON_TEXT_AA,
    TEXT_AA,
    Traffic,
    assert_fits,
    background_of,
    contrast,
    focus_ring_contrast,
    open_page,
    text_contrast,
)

from .test_app import TOY, make_app

pytestmark = pytest.mark.browser
FIRST_STEP = "Load the sample notes, then search for “fox”."


@pytest.fixture
def landing(tmp_path, unique, live_server, monkeypatch):
    from tests.conftest import Backend

    app, root = make_app(Backend("lite", "", ""), tmp_path, unique)
    toy = dataclasses.replace(TOY, first_step=FIRST_STEP)
    monkeypatch.setattr(registry, "DEMOS", (*registry.DEMOS, toy))
    return live_server(build_app(services={"toy": app})), root


@pytest.mark.parametrize(("size", "scheme"), [("desktop", "light"), ("phone", "dark")])
def test_landing_page_says_what_to_do_first_and_fits(browser, landing, size, scheme):
    base, _ = landing
    with open_page(browser, size, scheme) as page:
        traffic = Traffic.watch(page, base)
        page.goto(base + "/")
        assert page.title() == "Vector-search bootcamp"
        card = page.locator("[data-prefix='/toy']")
        assert card.locator(".first-step").inner_text() == FIRST_STEP
        card.locator(".stored").filter(has_text="Nothing loaded yet.").wait_for()
        assert_fits(page)
        dark = contrast(background_of(page, "main"), "rgb(0, 0, 0)") < 2
        assert dark == (scheme == "dark")
        for selector in ("header.top p", ".cards p", ".cards a", ".stored"):
            assert text_contrast(page, selector) >= TEXT_AA, selector
        assert focus_ring_contrast(page, ".cards a") >= NON_TEXT_AA
        icon = page.evaluate("() => fetch(document.querySelector('link[rel=icon]').href).then(r => r.status)")
        assert icon == 200
        traffic.check()


def test_landing_page_counts_in_the_demos_words(browser, landing):
    """One stored item is "1 note", more are "notes" (the QA card said "57 FAQ entry or documents")."""
    import httpx

    base, root = landing
    for name, text in (("one.txt", "the quick brown fox"), ("two.txt", "a lazy dog sleeps")):
        (root / name).write_text(text)
        task = httpx.post(f"{base}/toy/load", json={"path": str(root / name)}).json()
        for _ in range(600):
            state = httpx.get(f"{base}/toy/tasks/{task['task_id']}").json()
            if state["state"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert state["new"] == 1, state
        with open_page(browser, "phone") as page:
            page.goto(base + "/")
            expected = "1 note stored." if name == "one.txt" else "2 notes stored."
            page.locator("[data-prefix='/toy'] .stored").filter(has_text=expected).wait_for()


def test_offline_docs_load_nothing_from_outside(browser, landing):
    base, _ = landing
    with open_page(browser) as page:
        traffic = Traffic.watch(page, base)
        page.goto(base + "/")
        page.get_by_role("link", name="API docs").click()
        page.wait_for_url(base + "/toy/docs")
        # Swagger UI renders the service's operations from local assets only
        page.get_by_text("/load", exact=True).first.wait_for(timeout=15_000)
        assert page.locator(".opblock").count() >= 6
        page.goto(base + "/docs")
        page.get_by_text("/toy/upload", exact=True).first.wait_for(timeout=15_000)
        page.goto(base + "/toy/redoc")
        page.get_by_text("Toy", exact=False).first.wait_for(timeout=15_000)
        assert page.locator("redoc, [class*=redoc], .menu-content").count() >= 1
        page.wait_for_timeout(500)
        traffic.check()
