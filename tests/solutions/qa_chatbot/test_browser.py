"""The /qa/ page in headless Chromium at desktop and phone size: first visit and the sample data, asking (the
highlighted answer and its source, an honest refusal, readable errors), search with load more, batches, the
library (paging, delete after a confirmation), the details of a source, keyboard use, and how it looks (fit,
contrast, dark theme).

The service's sample data here is a real subset of the demo's (the base-files and procps FAQ CSV and two Debian
FAQ chapters, 20 items): the page does the same with all of it, and loading 17 chapters on a shared 2-core
machine would make each first-visit run minutes long. The full sample set is what tests/screenshots.py loads.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from common.pipeline import SampleData
from solutions.qa_chatbot.pipeline import QAPipeline
from solutions.qa_chatbot.samples import write_sample_data
from tests.browser_support import (
    assert_demo_looks,
    assert_first_visit,
    assert_fits,
    assert_inner_fits,
    delete_after_a_confirmation,
    demo_page,
    enter,
    load_sample_data,
    served,
)
from tests.conftest import Backend
from tests.support import wait_task

from .helpers import make_app

pytestmark = pytest.mark.browser
CHAPTERS = ("basic-defs.html", "pkg-basics.html")
SAMPLES = 18 + len(CHAPTERS)  # the FAQ CSV's questions and the chapters
STORED = f"{len(CHAPTERS)} documents and 18 FAQ entries stored"  # the header's count, by kind
FAQ_QUESTION = "how can I find out which debian release I am running?"
PASSAGE_QUESTION = "what is a virtual package?"
OFF_TOPIC = "who painted the mona lisa"
KEYWORD = "essential"  # refused (0.03) though the search ranks the right passage first
CLOSE_FRACTION = 0.5  # app.js: alternatives of a refusal scoring under half the threshold are not offered


class TwoChapterSamples(QAPipeline):
    """The demo's sample data with two of the Debian FAQ's 17 chapters."""

    @classmethod
    def sample_data(cls, dest: Path) -> SampleData:
        sample = write_sample_data(dest)
        for chapter in (dest / "debian-faq").glob("*.html"):
            if chapter.name not in CHAPTERS:
                chapter.unlink()
        return sample


@pytest.fixture(scope="module")
def service(tmp_path_factory, qa_models):
    tmp = tmp_path_factory.mktemp("qa-page")
    app = make_app(Backend("lite", "", ""), tmp, uuid.uuid4().hex[:8], tmp, qa_models)
    with served("qa_chatbot", app, "/qa", timeout=120) as (base, client):
        app.state.pipeline.__class__ = TwoChapterSamples  # POST samples writes the subset
        yield base, client, app


@pytest.fixture
def loaded(service):
    """The service with the (subset) sample data stored; loading it again when a test deleted some."""
    base, client, app = service
    if client.get("/count").json()["count"] != SAMPLES:
        task = wait_task(client, client.post("/samples").json()["task_id"], timeout=600)
        assert task["failed"] == 0, task
    assert client.get("/count").json()["count"] == SAMPLES
    return base, client, app


def opened(browser, base: str, size: str = "desktop", scheme: str = "light"):
    """The page at ``size`` in ``scheme`` and its traffic (checked when the block ends)."""
    return demo_page(browser, base, "/qa", size, scheme)


def ask(page, question: str):
    """Type a question and press Enter, as a person would; the new answer bubble."""
    before = page.locator("#conversation .turn.bot").count()
    enter(page, "#question", question)
    page.wait_for_function("(n) => document.querySelectorAll('#conversation .turn.bot').length > n", arg=before)
    return page.locator("#conversation .turn.bot").last


def chars(text: str, start: int, end: int) -> str:
    return text[start:end]  # Python counts code points, as app.js does with Array.from


def test_first_visit_puts_load_first_and_the_sample_data_button_loads(browser, service, size):
    base, client, _ = service
    client.delete("/data")
    with opened(browser, base, size) as (page, _traffic):
        assert_first_visit(page, client, size, "No FAQ entries or documents stored yet", before="chat")
        # asking with nothing stored: an honest answer that says what to do, not a guess
        empty = ask(page, FAQ_QUESTION)
        assert empty.locator(".answer").inner_text() == "I don't know."
        assert "Nothing is stored yet" in empty.inner_text()
        assert empty.get_by_role("link", name="Load the sample data or your own files").is_visible()

        status = load_sample_data(page, timeout=600_000)
        assert status.inner_text() == f"Done: {SAMPLES} new, 0 already stored, 0 failed."
        assert page.locator("[data-count]").inner_text() == STORED
        assert page.get_by_role("link", name="Now ask a question ↑").is_visible()
        page.locator("#library-box .card").first.wait_for()
        assert not page.locator("#load .welcome").is_visible()
        assert_fits(page)

        # loading it again stores nothing twice, and says so
        page.get_by_role("button", name="Load sample data").click()
        status.filter(has_text=f"Done: 0 new, {SAMPLES} already stored").wait_for(timeout=600_000)
        # the recent loads come from the server's task history: they survive a reload of the page
        page.reload()
        page.locator("[data-count]").filter(has_text=STORED).wait_for()  # from /info this time
        recent = page.locator("#load .recent-item")
        recent.nth(1).wait_for()
        assert "sample data" in recent.nth(1).inner_text() and f"{SAMPLES} new" in recent.nth(1).inner_text()
        assert f"0 new, {SAMPLES} already stored, 0 failed" in recent.first.inner_text()
        # ... and so does the conversation (this tab's session)
        assert page.locator("#conversation .turn.bot").count() == 1


def test_an_answer_shows_its_highlight_and_its_source(browser, loaded, size):
    base, client, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        log = page.locator("#conversation")
        assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"

        expected = client.post("/answer", json={"query": FAQ_QUESTION}).json()
        assert expected["confident"] and expected["kind"] == "faq" and expected["highlight"]
        bot = ask(page, FAQ_QUESTION)
        assert page.locator("#conversation .turn.user").last.locator(".said").inner_text() == FAQ_QUESTION
        assert bot.locator(".answer").inner_text() == expected["answer"]
        marks = bot.locator(".answer mark").all_inner_texts()
        assert marks == [chars(expected["answer"], s, e) for s, e in expected["highlight"]]
        assert expected["question"] in bot.locator(".source").inner_text()
        assert f"confidence {expected['score']:.2f}" in bot.inner_text()
        assert page.evaluate("() => document.activeElement.id") == "question"  # ready for the next question
        assert page.locator("#question").input_value() == ""

        # keyboard: the source is a button; Enter opens the FAQ entry, Esc closes it and gives the focus back
        page.keyboard.press("Shift")
        source = bot.get_by_role("button", name="Show the FAQ entry")
        source.focus()
        page.keyboard.press("Enter")
        dialog = page.locator("dialog.details[open]")
        dialog.wait_for()
        assert dialog.locator("#details-title").inner_text() == expected["question"]
        assert dialog.locator(".faq-answer").inner_text() == expected["answer"]
        assert dialog.locator("dl.facts").filter(has_text="package").is_visible()  # the CSV's extra column
        assert_inner_fits(page, "dialog .details-body")
        page.keyboard.press("Escape")
        dialog.wait_for(state="hidden")
        assert source.evaluate("(el) => el === document.activeElement"), "focus did not return to the source"

        # a passage: the link opens the stored document at its section; the details show it in its document
        expected = client.post("/answer", json={"query": PASSAGE_QUESTION}).json()
        assert expected["confident"] and expected["kind"] == "passage"
        bot = ask(page, PASSAGE_QUESTION)
        marks = bot.locator(".answer mark").all_inner_texts()
        assert marks == [chars(expected["answer"], s, e) for s, e in expected["highlight"]]
        link = bot.locator(".source a")
        assert link.get_attribute("href") == expected["source"]["url"]
        assert page.request.get(base + "/qa/" + expected["source"]["url"].split("#")[0]).ok
        bot.get_by_role("button", name="Show the passage in its document").click()
        current = page.locator("dialog.details[open] .passage.current")
        current.wait_for()
        assert current.locator(".passage-text").inner_text() == expected["answer"]
        assert int(current.get_attribute("data-position")) == expected["source"]["position"]
        assert current.is_visible() and current.evaluate(
            "(el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight; }")
        assert_inner_fits(page, "dialog .details-body")
        page.get_by_role("button", name="Close").click()
        assert_fits(page)


def test_an_off_topic_question_gets_an_honest_i_dont_know(browser, loaded, size):
    base, client, _ = loaded
    expected = client.post("/answer", json={"query": OFF_TOPIC}).json()
    assert not expected["confident"] and expected["answer"] is None
    assert expected["alternatives"], "the API offers alternatives; the page must judge them"
    close = [a for a in expected["alternatives"] if a["score"] >= expected["threshold"] * CLOSE_FRACTION]
    with opened(browser, base, size) as (page, traffic):
        bot = ask(page, OFF_TOPIC)
        assert bot.locator(".answer").inner_text() == "I don't know."
        assert "unsure" in bot.get_attribute("class")
        assert f"scores {expected['score']:.2f}, under the {expected['threshold']:.2f}" in bot.inner_text()
        assert bot.locator("mark").count() == 0
        assert bot.locator("button.alt").count() == len(close)
        assert "Did you mean" not in bot.inner_text()
        if not close:
            assert "Try other words" in bot.inner_text()

        # a question over the length limit: the API's reason in words, no status code
        traffic.allow(422, "/qa/answer")
        page.evaluate("() => document.getElementById('question').removeAttribute('maxlength')")
        enter(page, "#question", "why " * 300)
        error = page.locator("#ask-status.error")
        error.wait_for()
        assert "1000 characters" in error.inner_text() and "422" not in error.inner_text()
        enter(page, "#question", "   ")
        error.filter(has_text="Type a question first").wait_for()


def test_a_refusal_offers_only_the_close_alternatives(browser, loaded, size):
    """With a stricter threshold the FAQ question is refused; alternatives scoring at least half the threshold are
    offered (and ask their question when pressed), the others are not."""
    base, client, app = loaded
    settings = app.state.pipeline.settings
    normal = settings.answer_threshold
    settings.answer_threshold = 0.99
    try:
        expected = client.post("/answer", json={"query": FAQ_QUESTION}).json()
        assert not expected["confident"] and expected["threshold"] == 0.99
        close = [a for a in expected["alternatives"] if a["score"] >= 0.99 * CLOSE_FRACTION]
        assert close and len(close) < len(expected["alternatives"]), expected["alternatives"]
        with opened(browser, base, size) as (page, _traffic):
            bot = ask(page, FAQ_QUESTION)
            assert bot.locator(".answer").inner_text() == "I don't know."
            buttons = bot.locator("button.alt")
            assert buttons.count() == len({a["question"] for a in close})
            first = close[0]
            asked = first["question"] if first["kind"] == "faq" else first["question"].split(" › ")[-1]
            assert buttons.first.inner_text().startswith(asked)
            buttons.first.focus()
            page.keyboard.press("Enter")
            page.wait_for_function("() => document.querySelectorAll('#conversation .turn.user').length === 2")
            assert page.locator("#conversation .turn.user .said").last.inner_text() == asked
    finally:
        settings.answer_threshold = normal


def test_a_refused_keyword_offers_the_search_that_ranks_it(browser, loaded, size):
    """One word is no question: "essential" scores 0.03 (the scores are calibrated on questions), so the chat
    said only "I don't know" although the search ranks "What is an Essential ... package?" first. A refusal now
    offers that search, and its button runs it in the search section."""
    base, client, _ = loaded
    assert not client.post("/answer", json={"query": KEYWORD}).json()["confident"]
    ranking = client.post("/search", json={"query": KEYWORD, "top_k": 10}).json()["results"]
    assert "What is an Essential, Required" in ranking[0]["question"]
    with opened(browser, base, size) as (page, _traffic):
        bot = ask(page, KEYWORD)
        assert bot.locator(".answer").inner_text() == "I don't know."
        offer = bot.get_by_role("button", name="Show the best matches")
        offer.click()
        page.locator("#results .status.ok").wait_for()
        assert page.locator("#search-q").input_value() == KEYWORD
        cards = page.locator("#results .card")
        assert [c.get_attribute("data-id") for c in cards.all()] == [str(h["id"]) for h in ranking]
        assert page.locator("#search").evaluate("(el) => el.getBoundingClientRect().top") < 50  # scrolled to it
        assert_fits(page)


def test_search_load_more_and_batch_questions(browser, loaded, size):
    base, client, _ = loaded
    query = PASSAGE_QUESTION
    ranking = client.post("/search", json={"query": query, "top_k": 20}).json()["results"]
    assert len(ranking) == 20 and ranking[0]["highlight"] and not ranking[-1]["highlight"]
    with opened(browser, base, size) as (page, _traffic):
        enter(page, "#search-q", query)
        cards = page.locator("#results .card")
        page.locator("#results .status.ok").wait_for()
        assert cards.count() == 10
        page.get_by_role("button", name="Load more").click()
        page.wait_for_function("() => document.querySelectorAll('#results .card').length === 20")
        assert [c.get_attribute("data-id") for c in cards.all()] == [str(h["id"]) for h in ranking]
        first = ranking[0]
        marks = cards.first.locator("mark").all_inner_texts()
        assert marks and all(m in first["answer"] for m in marks)
        assert cards.last.locator("mark").count() == 0  # under the answer threshold: no sentence marked
        assert f"score {first['score']:.3f}" in cards.first.inner_text()
        # the 11th result has the focus after "Load more", so a keyboard user goes on from there
        assert cards.nth(10).evaluate("(el) => el === document.activeElement")

        # many questions at once: each its own results, or its own readable error
        page.fill("#batch-queries", f"{FAQ_QUESTION}\n{PASSAGE_QUESTION}\n{'why ' * 300}")
        page.get_by_role("button", name="Search them all").click()
        groups = page.locator(".batch-group")
        groups.nth(2).wait_for()
        batch = client.post("/search/batch", json={"queries": [FAQ_QUESTION, PASSAGE_QUESTION], "top_k": 3}).json()
        for k in range(2):
            shown = [c.get_attribute("data-id") for c in groups.nth(k).locator(".card").all()]
            assert shown == [str(h["id"]) for h in batch["results"][k]["results"]]
        error = groups.nth(2).locator(".status.error").inner_text()
        assert error.startswith("The query is longer than 1000 characters"), error
        assert "1 could not be searched" in page.locator("#batch-status").inner_text()
        assert page.get_by_role("link", name="Download the results (JSON)").is_visible()
        assert_fits(page)


def test_library_pages_and_deletes_after_a_confirmation(browser, loaded, size):
    base, client, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        rows = page.locator("#library-box .library-item")
        rows.first.wait_for()
        assert rows.count() == 12
        where = page.locator("#library-box .pager-where")
        assert where.inner_text() == f"1–12 of {SAMPLES}"
        newest = client.get("/items?limit=50").json()["items"]

        def title(item):
            return item["question"] if item["kind"] == "faq" else item["title"]

        assert rows.first.locator(".card-title").inner_text() == title(newest[0])
        page.get_by_role("button", name="Next ›").click()
        where.filter(has_text=f"13–{SAMPLES} of {SAMPLES}").wait_for()
        assert rows.first.locator(".card-title").inner_text() == title(newest[12])
        assert page.get_by_role("button", name="Next ›").is_disabled()
        page.get_by_role("button", name="‹ Previous").click()
        where.filter(has_text="1–12 of").wait_for()
        assert page.get_by_role("link", name="Export (JSON Lines)").get_attribute("href") == "export"

        after = {"faq": "2 documents and 17 FAQ entries stored",  # what deleting the newest leaves
                 "document": "1 document and 18 FAQ entries stored"}  # (of the two chapters)
        delete_after_a_confirmation(page, client, newest[0], after[newest[0]["kind"]])
        assert rows.first.locator(".card-title").inner_text() == title(newest[1])
        # the focus stays in the list (on the card now in the deleted one's place), not lost on <body>
        assert page.evaluate("() => document.activeElement.classList.contains('card')")
        assert_fits(page)


OFFICE_GUIDE = """# Office guide

## Parking

Visitors park on level minus two of the garage, next to the lifts. The barrier opens with the code from
`/srv/office/reception/parking-codes-for-visitors-of-the-current-week.txt`.

| floor | what |
|---|---|
| -2 | visitors' parking, bicycles and the charging points for electric cars |

## Lunch

The canteen on the ground floor serves lunch from noon to two.
"""


def test_the_source_link_of_a_markdown_answer_opens_its_section(browser, loaded, size):
    """A Markdown document was served as plain text: its passages' links (``#parking``) landed at its top."""
    base, client, _ = loaded
    task = wait_task(client, client.post("/upload", files=[("files", ("office.md", OFFICE_GUIDE.encode()))]).json()
                     ["task_id"])
    assert task["new"] == 1, task
    try:
        with opened(browser, base, size) as (page, _traffic):
            answer = ask(page, "where do visitors park?")
            link = answer.get_by_role("link", name="office.md › Parking")
            with page.context.expect_page() as opening:
                link.click()
            view = opening.value
            view.wait_for_load_state()
            assert view.url.endswith("/file#parking")
            assert view.evaluate("() => document.querySelector(':target').textContent") == "Parking"
            assert view.evaluate("() => { const top = document.querySelector(':target').getBoundingClientRect().top;"
                                 " return top >= 0 && top < innerHeight / 2; }")  # in sight (the page is short)
            assert "code from /srv/office/reception/" in " ".join(view.locator("body").inner_text().split())
            assert_fits(view)  # the long path wraps on a phone; the table scrolls in its own box
    finally:
        [doc] = [i for i in client.get("/items?limit=50").json()["items"] if i["name"] == "office.md"]
        assert client.delete(f"/items/{doc['id']}").status_code == 204


def test_details_of_a_document_and_a_faq_entry_from_the_library(browser, loaded, size):
    base, client, _ = loaded
    items = client.get("/items?limit=50").json()["items"]
    doc = next(i for i in items if i["kind"] == "document")
    faq = next(i for i in items if i["kind"] == "faq")
    passages = client.get(f"/items/{doc['id']}/passages?limit=500").json()["passages"]
    with opened(browser, base, size) as (page, _traffic):
        card = page.locator(f"#library-box .card[data-id='{doc['id']}']")
        card.focus()
        scrolled = page.evaluate("() => scrollY")
        page.keyboard.press("Enter")
        dialog = page.locator("dialog.details[open]")
        dialog.wait_for()
        assert dialog.locator("#details-title").inner_text() == doc["title"]
        dialog.locator(".passage").first.wait_for()
        assert dialog.locator(".passage").count() == min(len(passages), 50)
        assert dialog.locator(".passage-text").first.inner_text() == passages[0]["text"]
        text = dialog.inner_text()
        for expected in (doc["name"], doc["sha256"], str(doc["passages"])):
            assert expected in text
        assert dialog.get_by_role("link", name="Open the document").get_attribute("href") == doc["file_url"]
        assert_inner_fits(page, "dialog .details-body")
        page.keyboard.press("Escape")
        page.locator("dialog.details").wait_for(state="hidden")
        assert card.evaluate("(el) => el === document.activeElement")
        assert page.evaluate("() => scrollY") == scrolled

        page.get_by_role("button", name="Next ›").click()
        page.locator("#library-box .pager-where").filter(has_text="13–").wait_for()
        faq_card = page.locator(f"#library-box .card[data-id='{faq['id']}']")
        if not faq_card.count():
            page.get_by_role("button", name="‹ Previous").click()
        faq_card.click()
        dialog.wait_for()
        assert dialog.locator("#details-title").inner_text() == faq["question"]
        assert dialog.locator(".faq-answer").inner_text() == faq["answer"]
        assert faq["name"] in dialog.inner_text()


def test_fits_the_screen_with_aa_contrast_in_both_themes(browser, loaded, size, scheme):
    base, _, _ = loaded
    with opened(browser, base, size, scheme) as (page, _traffic):
        ask(page, FAQ_QUESTION)
        ask(page, OFF_TOPIC)
        enter(page, "#search-q", "virtual package")
        page.locator("#results .card").first.wait_for()
        assert_demo_looks(
            page, scheme, borders=("#question", "#search-q", "#batch-queries"),
            focus=("#question", "#conversation .source-open", "#results .card", "#clear-chat"),
            text=(".turn.user .said", ".turn.bot .said", ".turn .meta", ".turn.bot mark", "#results mark",
                  "#results .card-line", ".alt-score, .turn.unsure .meta", ".badge"))


def test_the_ask_and_search_buttons_keep_their_word_on_one_line_on_a_small_phone(browser, service):
    """At 360 px (the most common Android width, narrower than the suite's 390) the inputs give way, not the
    buttons' words ("Searc" / "h")."""
    base, _, _ = service
    context = browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{base}/qa/")
        for selector in ("#ask-btn", "#search-form button[type=submit]"):
            lines = page.locator(selector).evaluate(
                "(el) => { const r = document.createRange(); r.selectNodeContents(el);"
                " return r.getClientRects().length; }")
            assert lines == 1, f"{selector} wraps over {lines} lines"
        assert_fits(page)
    finally:
        context.close()


@pytest.fixture(scope="module")
def same_names(tmp_path_factory, qa_models):
    """A service holding two documents named README.md (with one title) from two folders, each folder loaded on
    its own (so each is labelled README.md), and a FAQ file of the same name in each folder."""
    tmp = tmp_path_factory.mktemp("qa-names")
    for folder, what in (("a", "converts images"), ("b", "plays audio files")):
        (tmp / folder).mkdir()
        (tmp / folder / "README.md").write_text(f"# README\n\nThis tool {what}.\n", encoding="utf-8")
        (tmp / folder / "faq.csv").write_text(f"question,answer\nWhat does the {folder} tool do?,It {what}.\n",
                                              encoding="utf-8")
    app = make_app(Backend("lite", "", ""), tmp, uuid.uuid4().hex[:8], tmp, qa_models)
    with served("qa_chatbot", app, "/qa", timeout=120) as (base, client):
        for folder in ("a", "b"):
            task = wait_task(client, client.post("/load", json={"path": str(tmp / folder)}).json()["task_id"])
            assert task["new"] == 2, task
        yield base, client, tmp


def test_the_library_tells_two_files_of_one_name_apart(browser, same_names, size):
    """/a/README.md and /b/README.md, both listed as README.md: the API's items say where each came from
    (source), and so do the library's cards (and the delete buttons' names), at desktop and phone size."""
    base, client, root = same_names
    items = client.get("/items").json()["items"]
    assert sorted(i["name"] for i in items) == ["README.md", "README.md", "faq.csv:2", "faq.csv:2"]
    assert sorted(i["source"] for i in items) == sorted(str(root / f / n) for f in "ab" for n in ("README.md",
                                                                                                   "faq.csv"))
    # where each item came from, as the cards show it, and its name
    origins = {f"{root / f / 'README.md'}": "README.md" for f in "ab"} | {f"{root / f / 'faq.csv'}:2": "faq.csv:2"
                                                                          for f in "ab"}
    with opened(browser, base, size) as (page, _traffic):
        cards = page.locator("#library-box .library-item .card")
        cards.nth(3).wait_for()
        lines = sorted(card.locator(".card-line").first.inner_text().removesuffix(" · 1 passage")
                       for card in cards.all())
        assert lines == sorted(origins), lines
        deletes = page.locator("#library-box .library-item button.delete")
        assert sorted(d.get_attribute("aria-label") for d in deletes.all()) == sorted(
            f"Delete {name} ({where})" for where, name in origins.items())
        assert_fits(page)


def test_the_example_question_is_one_the_loaded_data_answers(browser, service):
    """The page offered the Debian sample's question whatever was loaded: with one's own files only, clicking it
    gave "I don't know"."""
    base, client, _ = service
    client.delete("/data")
    question = "How do I reset my badge PIN?"
    files = {"policy.md": b"# Badges\n\nA lost badge is replaced at the front desk within one day.\n",
             "faq.csv": f'question,answer\n"{question}","Call the front desk: they reset it at once."\n'.encode()}
    with opened(browser, base) as (page, _traffic):
        example = page.locator("#chat-empty .example")
        assert "Debian release" in example.inner_text()  # nothing loaded: the sample's, which the sample answers
        for name in files:
            task = client.post("/upload", files=[("files", (name, files[name]))]).json()
            assert wait_task(client, task["task_id"], timeout=300)["new"] == 1
            page.reload()
            if name == "policy.md":  # documents only: no example rather than one they cannot answer
                page.locator("[data-count]").filter(has_text="1 document stored").wait_for()
                expect(page.locator("#example-line")).to_be_hidden()
        expect(example).to_have_text(question)
        example.click()
        answer = page.locator("#conversation .turn.bot").last
        expect(answer.locator(".answer")).to_contain_text("they reset it at once")
    client.delete("/data")
