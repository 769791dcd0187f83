"""The /qa/ page in headless Chromium: upload with progress, chat with matched question, refusal, alternatives."""

from __future__ import annotations

import pytest

from common.web.launcher import build_app
from tests.conftest import Backend

from .helpers import faq_csv, make_app


@pytest.mark.browser
def test_page_upload_and_chat(tmp_path, unique, live_server, browser_page, qa_models):
    files = tmp_path / "files"
    sample = faq_csv(files)
    (files / "broken.csv").write_text("question,answer\nA question without answer,\n", encoding="utf-8")
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, qa_models)
    base = live_server(build_app(services={"qa_chatbot": app}))
    page = browser_page
    page.goto(base + "/qa/")
    assert page.title() == "FAQ chatbot"
    page.locator("#count").filter(has_text="0").wait_for(timeout=10_000)

    page.set_input_files("#file-input", [str(sample), str(files / "broken.csv")])
    status = page.locator("#load-status")
    status.filter(has_text="succeeded").wait_for(timeout=90_000)
    assert "1 failed" in status.inner_text()
    assert "broken.csv:2" in page.locator("#load-errors").inner_text()
    progress = page.locator("#progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    page.locator("#count").filter(has_text="18").wait_for(timeout=10_000)

    question = "how can I find out which debian distribution I am running?"
    page.fill("#query", question)
    page.click("#ask-btn")
    bot = page.locator("#chat li.bot").first
    bot.wait_for(timeout=15_000)
    assert "/etc/debian_version" in bot.inner_text()
    assert "Matched question: “Ok, but how do I know which distribution I'm running?” — score 0." in bot.inner_text()
    assert page.locator("#chat li.user").first.inner_text() == question

    page.fill("#query", "who painted the mona lisa")
    page.click("#ask-btn")
    unsure = page.locator("#chat li.bot.unsure")
    unsure.wait_for(timeout=15_000)
    assert "not sure" in unsure.inner_text()
    alt = unsure.locator("button.alt").first
    alt_question = alt.inner_text().rsplit(" (", 1)[0]
    alt.click()  # "did you mean": asks the suggested question
    page.locator("#chat li.bot").nth(2).wait_for(timeout=15_000)
    assert page.locator("#chat li.user").nth(2).inner_text() == alt_question
    assert page.locator("#chat li").count() == 6

    # history survives a reload of the page
    page.reload()
    page.locator("#chat li").nth(5).wait_for(timeout=10_000)

    # an empty (whitespace) question shows the API's 422
    page.fill("#query", "   ")
    page.click("#ask-btn")
    page.locator("#ask-status.error").wait_for(timeout=10_000)
    assert "422" in page.locator("#ask-status").inner_text()
