"""The landing page and the offline API docs in a real headless Chromium."""

from __future__ import annotations

import pytest

from common import registry
from common.web.launcher import build_app

from .test_app import TOY, make_app


@pytest.mark.browser
def test_landing_page_and_offline_docs(tmp_path, unique, live_server, browser_page, monkeypatch):
    from tests.conftest import Backend

    app, _ = make_app(Backend("lite", "", ""), tmp_path, unique)
    monkeypatch.setattr(registry, "DEMOS", (*registry.DEMOS, TOY))
    base = live_server(build_app(services={"toy": app}))
    requests_outside, missing = [], []
    # everything (scripts, styles, API calls, images, fonts) comes from our server, and nothing is missing
    browser_page.on("request", lambda r: requests_outside.append(r.url) if not r.url.startswith(
        (base, "blob:", "data:")) else None)
    browser_page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)

    browser_page.goto(base + "/")
    assert browser_page.title() == "Vector-search bootcamp"
    browser_page.get_by_role("link", name="API docs").click()
    browser_page.wait_for_url(base + "/toy/docs")
    # Swagger UI renders the service's operations from local assets only
    browser_page.get_by_text("/load", exact=True).first.wait_for(timeout=15_000)
    assert browser_page.locator(".opblock").count() >= 6
    browser_page.goto(base + "/docs")
    browser_page.get_by_text("/toy/upload", exact=True).first.wait_for(timeout=15_000)
    browser_page.goto(base + "/toy/redoc")
    browser_page.get_by_text("Toy", exact=False).first.wait_for(timeout=15_000)
    assert browser_page.locator("redoc, [class*=redoc], .menu-content").count() >= 1
    browser_page.wait_for_timeout(500)
    assert requests_outside == [], f"pages loaded code or data from outside the server: {requests_outside}"
    assert missing == [], f"requests that failed (a missing favicon counts): {missing}"
