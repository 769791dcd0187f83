"""Screenshots of the demo pages with results, for the tutorials: ``python -m tests.screenshots [DEMO ...]``.

Starts each demo on a throwaway data folder, loads its sample data, drives the page in headless Chromium at
desktop (1280x800) and phone (390x844) size and writes JPEGs (quality 70) to ``solutions/<demo>/docs/``.
Not a test: it writes into the source tree. Needs what the browser tests need (Chromium, opencv-doc).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from common.registry import demo
from common.web.launcher import build_app
from tests.browser_support import open_page, serve
from tests.conftest import CHROMIUM
from tests.support import wait_task

log = logging.getLogger("screenshots")
ROOT = Path(__file__).resolve().parent.parent
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def shoot(page: Any, path: Path) -> None:
    page.wait_for_timeout(400)
    page.wait_for_function("() => [...document.images].filter(i => i.getBoundingClientRect().bottom > 0"
                           " && i.getBoundingClientRect().top < innerHeight).every(i => i.complete)")
    page.screenshot(path=str(path), type="jpeg", quality=70)
    log.info("%s: %.0f KB", path.relative_to(ROOT), path.stat().st_size / 1024)


def scroll_to(page: Any, selector: str, offset: int = 8) -> None:
    page.evaluate(f"() => window.scrollTo(0, document.querySelector({selector!r}).getBoundingClientRect().top"
                  f" + scrollY - {offset})")


def image_pages(base: str, browser: Any, docs: Path, tmp: Path) -> None:
    from bench.perturb import perturb_bytes

    query = tmp / "building-edited.jpg"
    query.write_bytes(perturb_bytes((OPENCV_DATA / "building.jpg").read_bytes(), 7))
    for size in ("desktop", "phone"):
        with open_page(browser, size) as page:
            page.goto(base + "/image/")
            page.locator("#library-box .card").first.wait_for()
            page.set_input_files("#query-input", str(query))
            page.locator("#results .status.ok").wait_for(timeout=120_000)
            if size == "phone":
                scroll_to(page, "#query-zone")
            shoot(page, docs / f"image-{size}.jpg")
            if size == "desktop":
                page.locator("#results .card").first.click()
                page.locator("dialog.details[open] .details-media img").wait_for()
                shoot(page, docs / "image-details.jpg")


def video_pages(base: str, browser: Any, docs: Path, tmp: Path) -> None:
    for size in ("desktop", "phone"):
        with open_page(browser, size) as page:
            page.goto(base + "/video/")
            page.locator("#library-box .card").first.wait_for()
            page.fill("#words", "a house")
            page.press("#words", "Enter")
            page.locator("#results .status.ok").wait_for(timeout=120_000)
            if size == "phone":
                scroll_to(page, "#words-form")
            shoot(page, docs / f"video-{size}.jpg")
            page.locator("#results .card").nth(1).click()
            page.wait_for_function("() => { const v = document.getElementById('player');"
                                   " return v && v.readyState >= 3 && !v.seeking; }", timeout=300_000)
            page.wait_for_timeout(2500)  # the native controls hide their loading spinner
            shoot(page, docs / f"video-player-{size}.jpg")


def molecule_pages(base: str, browser: Any, docs: Path, tmp: Path) -> None:
    for size in ("desktop", "phone"):
        with open_page(browser, size) as page:
            page.goto(base + "/molecule/")
            page.locator("#library-box .card").first.wait_for()
            page.get_by_role("button", name="benzoic acid, inside").click()
            page.locator("#results .status.ok").wait_for(timeout=120_000)
            scroll_to(page, "#query-view")
            shoot(page, docs / f"molecule-{size}.jpg")
            if size == "desktop":
                page.locator("#results .card").nth(5).click()
                page.locator("dialog.details[open] .mol-large img").wait_for()
                shoot(page, docs / "molecule-details.jpg")


def qa_pages(base: str, browser: Any, docs: Path, tmp: Path) -> None:
    questions = ("how can I find out which debian release I am running?", "who painted the mona lisa",
                 "what is a virtual package?")
    for size in ("desktop", "phone"):
        with open_page(browser, size) as page:
            page.goto(base + "/qa/")
            page.locator("#library-box .card").first.wait_for()
            for n, question in enumerate(questions, 1):
                page.fill("#question", question)
                page.press("#question", "Enter")
                page.wait_for_function("(n) => document.querySelectorAll('#conversation .turn.bot').length === n",
                                       arg=n)
            if size == "phone":  # the last question, its answer and source
                page.evaluate("() => { const turns = document.querySelectorAll('#conversation .turn.user');"
                              " const last = turns[turns.length - 1];"
                              " window.scrollTo(0, last.getBoundingClientRect().top + scrollY - 8); }")
            else:
                scroll_to(page, "#chat")
            shoot(page, docs / f"qa-{size}.jpg")
            if size == "desktop":
                answer = page.locator("#conversation .turn.bot").last
                answer.get_by_role("button", name="Show the passage in its document").click()
                page.locator("dialog.details[open] .passage.current").wait_for()
                shoot(page, docs / "qa-details.jpg")


DEMOS: dict[str, tuple[str, Callable[[str, Any, Path, Path], None]]] = {
    "image_search": ("solutions.image_search", image_pages),
    "molecular_search": ("solutions.molecular_search", molecule_pages),
    "video_analysis": ("solutions.video_analysis", video_pages),
    "qa_chatbot": ("solutions.qa_chatbot", qa_pages),
}


def make(name: str, data: Path) -> Any:
    entry = demo(name)
    settings = entry.load("settings")(data_dir=data, data_roots=[data])
    return entry.load("app")(settings)


def wait_playable(client: httpx.Client, timeout: float = 600) -> None:
    """Wait for the browser-playable copies (a video page's player needs them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = client.get("/items?limit=500").json()["items"]
        if all(v.get("playable", True) for v in items):
            return
        time.sleep(1)
    raise TimeoutError("playable copies not written in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demos", nargs="*", metavar="DEMO", help=f"any of {', '.join(DEMOS)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.demos) - set(DEMOS)
    if unknown:
        parser.error(f"no screenshots for {', '.join(sorted(unknown))}; known: {', '.join(DEMOS)}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        for name in args.demos or DEMOS:
            package, pages = DEMOS[name]
            tmp = Path(folder) / name
            tmp.mkdir()
            with serve(build_app(services={name: make(name, tmp / "data")})) as base:
                with httpx.Client(base_url=base + demo(name).prefix, timeout=120) as client:
                    wait_task(client, client.post("/samples").json()["task_id"], timeout=600)
                    wait_playable(client)
                docs = ROOT / package.replace(".", "/") / "docs"
                docs.mkdir(exist_ok=True)
                pages(base, browser, docs, tmp)
        browser.close()


if __name__ == "__main__":
    main()
