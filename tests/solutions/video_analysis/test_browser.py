"""The /video/ page in headless Chromium at desktop and phone size: first visit with sample data and progress inside
a video, cancel, library, the player opened at a moment (the right video, no scroll jump, timeline seeks), moments
by words, label and person, load more, batch queries, and how it looks (fit, contrast, dark)."""

from __future__ import annotations

import itertools
import shutil
import threading
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.browser_support import (
    Traffic,
    assert_aa,
    assert_demo_looks,
    assert_first_visit,
    assert_fits,
    assert_inner_fits,
    demo_page,
    enter,
    load_sample_data,
    open_page,
    progress_between,
    served,
    visit,
)
from tests.conftest import Backend
from tests.support import wait_task

from .helpers import OPENCV_DATA, frame_at, jpeg, make_app, wait_playable, write_clip, write_face_video

pytestmark = pytest.mark.browser
CLIPS = 10  # small clips beside the samples, so that the library has two pages and searches a second page


def write_small_clip(path: Path, seed: int, seconds: float = 2.0, fps: float = 10.0) -> Path:
    """A small MJPG clip of coloured blocks that differ with ``seed`` (so no two clips are duplicates)."""
    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (160, 120))
    base = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    for i in range(int(seconds * fps)):
        frame = cv2.resize(np.roll(base, i // 5, axis=1), (160, 120), interpolation=cv2.INTER_NEAREST)
        writer.write(frame)
    writer.release()
    return path


def _served(tmp: Path, models, model_cache, **settings):
    app = make_app(Backend("lite", "", ""), tmp, uuid.uuid4().hex[:8], tmp, models, model_cache, **settings)
    return app, served("video_analysis", app, "/video")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, models, model_cache):
    """The sample videos, a clip with a face and small clips, loaded once with browser-playable copies."""
    tmp = tmp_path_factory.mktemp("video-page")
    extra = tmp / "extra"
    extra.mkdir()
    write_face_video(extra / "face.avi")
    for i in range(CLIPS):
        write_small_clip(extra / f"clip-{i}.avi", seed=i)
    _, server = _served(tmp, models, model_cache, playable_proxy=True)
    with server as (base, client):
        wait_task(client, client.post("/samples").json()["task_id"])
        wait_task(client, client.post("/load", json={"path": str(extra)}).json()["task_id"])
        yield base, client, tmp


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, models, model_cache):
    """A service the first-visit tests empty before they start (keyframes analysed 8 at a time)."""
    tmp = tmp_path_factory.mktemp("video-fresh")
    shutil.copyfile(OPENCV_DATA / "vtest.avi", tmp / "vtest.avi")
    app, server = _served(tmp, models, model_cache, playable_proxy=False, chunk_keyframes=8)
    with server as (base, client):
        yield base, client, tmp, app


def goto(page, base: str) -> Traffic:
    return visit(page, base, "/video")


def opened(browser, base: str, size: str = "desktop", scheme: str = "light"):
    """The page at ``size`` in ``scheme`` and its traffic (checked when the block ends)."""
    return demo_page(browser, base, "/video", size, scheme)


def wait_playing_source(page, name: str, at: float, longer_than: float) -> None:
    """The player shows ``name``, has its stream loaded (longer than ``longer_than`` s) and stands at ``at`` s."""
    page.locator("#details-title").filter(has_text=name).wait_for()
    page.wait_for_function(
        "([at, longer]) => { const v = document.getElementById('player'); return v && v.readyState >= 1"
        " && v.duration > longer && v.currentSrc.includes('/stream') && Math.abs(v.currentTime - at) < 0.5; }",
        arg=[at, longer_than], timeout=120_000)


def test_first_visit_loads_the_samples_with_progress_inside_a_video(browser, fresh, size):
    base, client, _, _ = fresh
    client.delete("/data")
    with opened(browser, base, size) as (page, _traffic):
        assert_first_visit(page, client, size, "No videos stored yet")

        status = load_sample_data(page, timeout=180_000)
        assert status.inner_text() == "Done: 3 new, 0 already stored, 0 failed, 1 warning."
        warning = page.locator("#load .problems li.warning")
        assert "tree.avi" in warning.inner_text() and "truncated" in warning.inner_text()
        inside = [value for value, _ in progress_between(page) if value % 1]
        assert inside, "the bar never stood inside a video: it moved only per file"
        page.locator("[data-count]").filter(has_text="3 videos stored").wait_for()
        rows = page.locator("#library-box .library-item")
        rows.nth(2).wait_for()
        tree = rows.filter(has_text="tree.avi")
        assert "truncated" in tree.inner_text() and "readable of" in tree.inner_text()
        assert_fits(page)


def test_cancel_stops_a_running_load(browser, fresh):
    base, client, tmp, app = fresh
    client.delete("/data")
    pipeline = app.state.pipeline
    gate = threading.Event()

    def held(items, monitor):  # the video waits until Cancel was pressed, then checks between its chunks
        gate.wait(120)
        return type(pipeline).process_batch(pipeline, items, monitor)

    pipeline.process_batch = held
    try:
        with opened(browser, base, "desktop") as (page, _traffic):
            page.fill("#load-path", str(tmp / "vtest.avi"))
            page.get_by_role("button", name="Load", exact=True).click()
            status = page.locator("#load .task .status")
            status.filter(has_text="Loading").wait_for(timeout=60_000)
            page.get_by_role("button", name="Cancel").click()
            gate.set()
            status.filter(has_text="Cancelled").wait_for(timeout=60_000)
            assert client.get("/count").json()["count"] == 0  # the video being analysed is removed whole
            assert not page.get_by_role("button", name="Cancel").is_visible()
    finally:
        gate.set()
        del pipeline.process_batch


def test_library_pages_and_deletes_after_a_confirmation(browser, loaded, size, tmp_path):
    base, client, _ = loaded
    doomed = write_small_clip(tmp_path / f"doomed-{size}.avi", seed=100 + len(size))
    task = client.post("/upload", files={"files": (doomed.name, doomed.read_bytes())}).json()
    assert wait_task(client, task["task_id"])["new"] == 1
    total = client.get("/count").json()["count"]
    assert total > 10
    with opened(browser, base, size) as (page, _traffic):
        rows = page.locator("#library-box .library-item")
        rows.first.wait_for()
        assert rows.count() == 10
        assert page.locator("#library-box .pager-where").inner_text() == f"1–10 of {total}"
        page.get_by_role("button", name="Next ›").click()
        page.locator("#library-box .pager-where").filter(has_text=f"11–{total} of {total}").wait_for()
        page.get_by_role("button", name="‹ Previous").click()
        page.locator("#library-box .pager-where").filter(has_text="1–10 of").wait_for()

        delete = page.get_by_role("button", name=f"Delete {doomed.name}")
        delete.click()
        page.locator("dialog.confirm[open]").get_by_role("button", name="Cancel").click()
        assert client.get("/count").json()["count"] == total
        delete.click()
        page.locator("dialog.confirm[open]").get_by_role("button", name="Delete").click()
        page.locator("[data-count]").filter(has_text=f"{total - 1} videos stored").wait_for()
        rows.filter(has_text=doomed.name).wait_for(state="detached")
        assert_fits(page)


def test_player_opens_the_right_video_at_the_moment_and_the_timeline_seeks(browser, loaded, size):
    base, client, _ = loaded
    with opened(browser, base, size) as (page, _traffic):
        enter(page, "#words", "a candle")
        first = page.locator("#results .card").first
        first.wait_for(timeout=60_000)
        assert "candle" in first.inner_text() and "Megamind.avi" in first.inner_text()
        at = float(first.get_attribute("data-t"))
        first.focus()
        scrolled = page.evaluate("() => scrollY")
        page.keyboard.press("Enter")  # every result opens from the keyboard
        wait_playing_source(page, "Megamind.avi", at, 10)
        assert page.evaluate("() => scrollY") == scrolled

        # the timeline: a time axis, a playhead at the moment, spans that seek the player
        timeline = page.locator("dialog .timeline")
        assert timeline.locator(".tl-tick").count() >= 2
        assert timeline.locator(".tl-tick").first.inner_text() == "0:00"
        video = client.get(f"/videos/{first.get_attribute('data-video')}").json()
        span = max(video["labels"], key=lambda s: abs(s["start_s"] - at))  # the span farthest from the moment
        spans = timeline.locator(".tl-span").all()
        next(b for b in spans if float(b.get_attribute("data-start")) == span["start_s"]).click()
        page.wait_for_function("(t) => Math.abs(document.getElementById('player').currentTime - t) < 0.3",
                               arg=span["start_s"])
        left = page.evaluate("() => parseFloat(document.querySelector('.tl-playhead').style.left)")
        assert abs(left - 100 * span["start_s"] / video["duration_s"]) < 1.0
        assert_fits(page)
        # every label is read whole, ImageNet's longest too (a phone's narrow name column cut "monarch butterfly"
        # to "monarch …"): the sample's labels are short, so the last row is given a long one
        cut = page.evaluate("""() => {
            const names = [...document.querySelectorAll('.tl-name')];
            names[names.length - 1].textContent = 'German shepherd, German shepherd dog';
            return names.filter(n => n.scrollWidth > n.clientWidth + 1 || n.scrollHeight > n.clientHeight + 1)
                        .map(n => n.textContent); }""")
        assert cut == []
        assert_fits(page)

        page.keyboard.press("Escape")
        page.locator("dialog.details").wait_for(state="hidden")
        assert first.evaluate("(el) => el === document.activeElement")
        assert page.evaluate("() => [...document.querySelectorAll('video')].every(v => v.paused)")
        assert page.evaluate("() => scrollY") == scrolled


def test_player_says_so_when_the_browser_cannot_play_the_file(browser, loaded):
    """When the playable copy could not be written, /stream serves the original (an AVI the browser cannot decode):
    the player stayed a black box with its poster and no word of why."""
    base, client, _ = loaded
    newest = client.get("/items?limit=1").json()["items"][0]
    wait_playable(client, newest["id"])  # its stream is asked for (and answered with bytes no browser plays)
    with opened(browser, base) as (page, _traffic):
        page.route("**/stream", lambda route: route.fulfill(status=200, content_type="video/x-msvideo",
                                                            body=b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(4000)))
        page.locator("#library-box .card").filter(has_text=newest["name"]).first.click()
        status = page.locator("#player-status")
        status.filter(has_text="cannot play").wait_for(timeout=20_000)
        assert "error" in (status.get_attribute("class") or "")
        page.keyboard.press("Escape")


def test_player_waits_for_the_playable_copy_without_playing_the_previous_video_or_scrolling(
        browser, tmp_path, models, model_cache):
    """Issue 17: (1) the previous video played under the new title while the WebM copy was prepared;
    (2) the page scrolled back to the player every 1.5 s during that wait."""
    write_clip(tmp_path / "clip.webm", "VP80")  # browsers play it as uploaded
    shutil.copyfile(OPENCV_DATA / "Megamind.avi", tmp_path / "Megamind.avi")  # needs a WebM copy
    app, server = _served(tmp_path, models, model_cache, playable_proxy=True)
    with server as (base, client):
        proxies = app.state.pipeline.proxies
        held: list[int] = []
        proxies.submit = held.append  # the copy of Megamind.avi stays pending until released below
        wait_task(client, client.post("/load", json={"path": str(tmp_path)}).json()["task_id"])
        assert len(held) == 1
        with open_page(browser, "desktop") as page:
            page.set_viewport_size({"width": 1280, "height": 600})
            traffic = goto(page, base)
            rows = page.locator("#library-box .library-item")
            rows.nth(1).wait_for()
            rows.filter(has_text="clip.webm").locator(".card").click()
            page.wait_for_function("() => { const v = document.getElementById('player');"
                                   " return v && v.readyState >= 1; }")
            page.evaluate("() => document.getElementById('player').play().catch(() => {})")
            page.keyboard.press("Escape")
            rows.filter(has_text="Megamind.avi").locator(".card").click()
            page.locator("#details-title").filter(has_text="Megamind.avi").wait_for()
            page.locator("#player-status").filter(has_text="Preparing").wait_for()
            state = page.evaluate("() => { const v = document.getElementById('player');"
                                  " return {src: v.getAttribute('src'), network: v.networkState, ready: v.readyState,"
                                  " others: document.querySelectorAll('video').length}; }")
            assert state == {"src": None, "network": 0, "ready": 0, "others": 1}, state  # clip.webm is gone

            # scroll the page and the panel away; polling the pending copy moves neither
            where = page.evaluate("""() => { window.scrollTo(0, document.documentElement.scrollHeight);
                const body = document.querySelector('dialog .details-body'); body.scrollTop = body.scrollHeight;
                return [scrollY, body.scrollTop]; }""")
            assert where[0] > 300 and where[1] > 50, where
            page.wait_for_timeout(4000)  # more than two polls of the pending copy
            read = "() => [scrollY, document.querySelector('dialog .details-body').scrollTop]"
            assert page.evaluate(read) == where

            type(proxies).submit(proxies, held[0])  # now write the copy: the page picks it up by itself
            wait_playing_source(page, "Megamind.avi", 0, 10)
            assert page.locator("#player-status").inner_text() == ""
            assert page.evaluate(read) == where
            traffic.check()


def test_moments_by_label_and_person_and_load_more(browser, loaded, size, tmp_path):
    base, client, _ = loaded
    query = tmp_path / "query.jpg"
    query.write_bytes(jpeg(frame_at(OPENCV_DATA / "vtest.avi", 30.0), 80))
    with opened(browser, base, size) as (page, _traffic):
        # by label: the choices are the labels seen in the videos
        page.wait_for_function("() => [...document.querySelectorAll('#label-list option')]"
                               ".some(o => o.value === 'candle')")
        page.fill("#label", "candle")
        page.locator("#label-form button").click()
        cards = page.locator("#results .card")
        cards.first.wait_for()
        assert all("candle" in c.inner_text() for c in cards.all())

        # by person: enrol from the page, then their moments across the videos
        page.fill("#person-name", "   ")  # passes `required`; the page sent "", and showed "Name: Field required"
        page.set_input_files("#person-photos", str(OPENCV_DATA / "messi5.jpg"))
        page.click("#enrol-btn")
        assert page.locator("#enrol-status.error").inner_text(timeout=30_000) == \
            "Type the person's name: spaces alone are no name."
        assert page.evaluate("document.activeElement.id") == "person-name"
        page.fill("#person-name", f"Lionel {size}")
        page.click("#enrol-btn")
        page.locator("#enrol-status.ok").wait_for(timeout=60_000)
        page.select_option("#person", label=f"Lionel {size}")
        page.locator("#person-form button").click()
        page.locator("#results .card", has_text="face.avi").first.wait_for()
        assert all("face.avi" in c.inner_text() for c in cards.all())
        cards.first.click()
        page.locator("dialog .timeline .face").first.wait_for()
        assert f"Lionel {size}" in page.locator("dialog .timeline").inner_text()
        page.keyboard.press("Escape")

        # by image: load more asks the next page of the same ranking
        page.set_input_files("#query-input", str(query))
        page.wait_for_function("() => document.querySelectorAll('#results .card').length === 12", timeout=60_000)
        assert "vtest.avi" in cards.first.inner_text()
        page.get_by_role("button", name="Load more").click()
        page.wait_for_function("() => document.querySelectorAll('#results .card').length > 12")
        api = client.post("/search", files={"file": ("q.jpg", query.read_bytes())}, data={"top_k": "24"}).json()
        assert [c.get_attribute("data-video") for c in cards.all()] == [str(h["video_id"]) for h in api["results"]]
        person = next(p for p in client.get("/people").json()["people"] if p["name"] == f"Lionel {size}")
        client.delete(f"/people/{person['id']}")
        assert_fits(page)


def test_batch_queries_get_results_or_their_own_error(browser, loaded, tmp_path):
    base, _, _ = loaded
    query = tmp_path / "query.jpg"
    query.write_bytes(jpeg(frame_at(OPENCV_DATA / "vtest.avi", 30.0), 80))
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image", encoding="utf-8")
    with opened(browser, base, "phone") as (page, _traffic):
        page.set_input_files("#batch-input", [str(query), str(notes)])
        groups = page.locator(".batch-group")
        groups.nth(1).wait_for(timeout=60_000)
        assert "vtest.avi" in groups.nth(0).locator(".card").first.inner_text()
        assert groups.nth(1).locator(".status.error").inner_text()
        assert_fits(page)


def test_file_picker_offers_what_the_server_loads(browser, fresh):
    """The picker accepted video/* and .webm while a refusal said "expected avi, mkv, mp4": the page now takes
    the accept attribute and the formats sentence from GET formats, the list the server checks with."""
    base, client = fresh[0], fresh[1]
    formats = client.get("/formats").json()
    with opened(browser, base, "phone") as (page, _):
        page.wait_for_function("(accept) => document.getElementById('load-files').accept === accept",
                               arg=formats["accept"])
        assert page.locator("#load .dropzone .hint").inner_text().startswith(f"{formats['text']} files, or .zip")


def test_search_buttons_keep_their_words_whole_on_a_narrow_phone(browser, fresh):
    """At 360 px (a common Android width) the input beside it shrank the Search button until it read "Searc / h"."""
    base = fresh[0]
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        goto(page, base)
        lines = page.evaluate("""() => [...document.querySelectorAll('.moment-forms button')].map((b) => {
            const range = document.createRange();
            range.selectNodeContents(b);
            return [b.textContent.trim(), new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size];
        })""")
        assert [text for text, _ in lines] == ["Search", "Show", "Show"]
        assert all(n == 1 for _, n in lines), lines
    finally:
        context.close()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_face_photos_picker_is_wide_enough_to_say_what_it_holds(browser, fresh, size):
    """At 375 px the Enrol button sat beside the file input and squeezed it to "No ...osen". On a phone the button
    now goes to the next line and the picker takes the row; on a desktop all three stay on one line."""
    base = fresh[0]
    with opened(browser, base, size) as (page, _traffic):
        picker, button = page.locator("#person-photos").bounding_box(), page.locator("#enrol-btn").bounding_box()
        name = page.locator("#person-name").bounding_box()
        assert picker and button and name
        if size == "phone":
            assert picker["width"] >= 280, picker
            assert button["y"] >= picker["y"] + picker["height"], (picker, button)
        else:
            assert name["y"] == pytest.approx(picker["y"], abs=4) and button["x"] > picker["x"] + picker["width"]


@pytest.mark.parametrize("duration", [1200.0, 600.0, 79.5, 12.0, 3.0])
def test_timeline_axis_labels_do_not_overlap_on_a_phone(browser, fresh, duration):
    """A 20-minute video on a phone had ticks 0:00, 5:00, 10:00, 15:00, 20:00 (five, for "at most four"), and the
    last two labels ran into each other ("15:2020:00")."""
    base = fresh[0]
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        goto(page, base)
        boxes = page.evaluate("""(duration) => {
            const video = {duration_s: duration, name: "x", faces: [], labels: []};
            const timeline = VideoTimeline.build(document.createElement("video"), video);
            const holder = document.createElement("div");
            holder.style.width = "339px";  // the dialog's width at 375 px
            holder.append(timeline.node);
            document.body.append(holder);
            return [...timeline.node.querySelectorAll(".tl-tick")].map((t) => {
                const r = document.createRange();
                r.selectNodeContents(t);
                const box = r.getBoundingClientRect();
                return [t.textContent, box.left, box.right];
            });
        }""", duration)
        assert 2 <= len(boxes) <= 4, boxes
        for (_, _, right), (_, left, _) in itertools.pairwise(boxes):
            assert right < left, boxes
    finally:
        context.close()


def test_fits_the_screen_with_aa_contrast_in_both_themes(browser, loaded, size, scheme):
    base, _, _ = loaded
    with opened(browser, base, size, scheme) as (page, _traffic):
        assert_demo_looks(page, scheme,
                          borders=("#words", "#label", "#person", "#person-name", "#person-photos", "#query-zone"),
                          focus=("#words", "#person-form button"), text=("label",))
        page.locator("#library-box .card").first.click()
        page.locator("dialog .timeline").wait_for()
        assert_fits(page)
        assert_inner_fits(page, "dialog .details-body")
        assert_aa(page, focus=("dialog .tl-span",), text=("dialog .tl-tick",))
        page.keyboard.press("Escape")


def test_a_long_file_name_wraps_at_its_parts_on_a_phone(browser, loaded):
    """Card and panel titles broke anywhere, leaving "renamed_mpg.fl" / "v" at phone size; they now wrap after
    ``_ . - /`` first, and still copy as written."""
    base = loaded[0]
    with opened(browser, base, "phone") as (page, _traffic):
        page.locator("#library-box .library-item").first.wait_for()
        title = page.locator("#library-box .card-title").first
        assert title.evaluate("(n) => n.querySelectorAll('wbr').length") >= 1  # "vtest." / "avi" ...
        breaks = page.evaluate("""() => {
            const box = document.createElement("span");
            box.style.cssText = "display:inline-block;width:9ch;font:16px monospace;overflow-wrap:anywhere";
            box.append(...Bootcamp.breakable("renamed_mpg.flv"));
            document.body.append(box);
            const text = box.textContent, tops = [];
            for (const node of box.childNodes) {
                if (node.nodeType !== Node.TEXT_NODE) continue;
                for (let i = 0; i < node.length; i += 1) {
                    const range = document.createRange();
                    range.setStart(node, i);
                    range.setEnd(node, i + 1);
                    tops.push(Math.round(range.getBoundingClientRect().top));
                }
            }
            box.remove();
            return [text, [...text].filter((_, i) => i && tops[i] !== tops[i - 1]).length,
                    [...text].map((c, i) => (i && tops[i] !== tops[i - 1] ? "|" : "") + c).join("")];
        }""")
        assert breaks == ["renamed_mpg.flv", 1, "renamed_|mpg.flv"]
