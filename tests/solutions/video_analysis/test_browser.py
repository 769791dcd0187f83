"""The /video/ page in headless Chromium: upload with progress, enrol, search by image, the player, deletes."""

from __future__ import annotations

import shutil

import pytest

from common.web.launcher import build_app
from tests.conftest import Backend

from .helpers import OPENCV_DATA, frame_at, jpeg, make_app, write_clip, write_face_video

pytestmark = pytest.mark.browser


def test_page_upload_enrol_search_and_play(tmp_path, unique, live_server, browser_page, models, model_cache):
    files = tmp_path / "files"
    files.mkdir()
    write_face_video(files / "face.avi")
    shutil.copyfile(OPENCV_DATA / "Megamind.avi", files / "Megamind.avi")
    (files / "broken.avi").write_bytes(b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(2000))
    (tmp_path / "query.jpg").write_bytes(jpeg(frame_at(OPENCV_DATA / "Megamind.avi", 6.0), 70))
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, model_cache, playable_proxy=True)
    base = live_server(build_app(services={"video_analysis": app}))
    page = browser_page
    page.goto(base + "/video/")
    assert page.title() == "Video analysis"
    page.locator("#count").filter(has_text="0").wait_for(timeout=10_000)

    # upload: the bad file fails alone, the progress bar fills
    page.set_input_files("#file-input", [str(files / "face.avi"), str(files / "Megamind.avi"),
                                         str(files / "broken.avi")])
    status = page.locator("#load-status")
    status.filter(has_text="succeeded").wait_for(timeout=120_000)
    assert "2 loaded" in status.inner_text() and "1 failed" in status.inner_text()
    assert "broken.avi" in page.locator("#load-errors").inner_text()
    progress = page.locator("#progress")
    assert progress.get_attribute("value") == progress.get_attribute("max")
    page.locator("#count").filter(has_text="2").wait_for(timeout=10_000)
    assert page.locator("#videos li").count() == 2

    # enrol a person after the videos were loaded
    page.fill("#person-name", "Lionel")
    page.set_input_files("#person-photos", str(OPENCV_DATA / "messi5.jpg"))
    page.click("#enrol-btn")
    page.locator("#enrol-status.ok").wait_for(timeout=20_000)
    assert page.locator("#people li").count() == 1

    # search by image; the best result is Megamind near 6 s; clicking it plays from there
    page.set_input_files("#query-input", str(tmp_path / "query.jpg"))
    first = page.locator("#results li").first
    first.wait_for(timeout=20_000)
    assert "Megamind.avi" in first.inner_text()
    timestamp = float(first.get_attribute("data-timestamp"))
    assert abs(timestamp - 6.0) <= 2.0
    page.wait_for_function("() => [...document.querySelectorAll('#results img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=15_000)
    first.click()
    page.locator("#player-title").filter(has_text="Megamind.avi").wait_for(timeout=10_000)
    page.wait_for_function(
        f"() => {{ const v = document.getElementById('player'); return v.readyState >= 1 && v.duration > 10"
        f" && Math.abs(v.currentTime - {timestamp}) < 0.5; }}", timeout=60_000)

    # the face video's timeline shows the person enrolled later, and labels
    page.locator("#videos li", has_text="face.avi").get_by_role("button", name="open").click()
    page.locator("#player-title").filter(has_text="face.avi").wait_for(timeout=10_000)
    track = page.locator(".track.face")
    track.first.wait_for(timeout=10_000)
    assert "Lionel" in track.first.inner_text()
    assert page.locator(".track.label").count() >= 1


def test_player_waits_for_the_playable_copy_without_playing_the_previous_video_or_scrolling(
        tmp_path, unique, live_server, browser_page, models, model_cache):
    """Issue 17: (1) the previous video played under the new title while the WebM copy was prepared;
    (2) the page scrolled back to the player every 1.5 s during that wait."""
    files = tmp_path / "files"
    files.mkdir()
    write_clip(files / "clip.webm", "VP80")  # browsers play it as uploaded
    shutil.copyfile(OPENCV_DATA / "Megamind.avi", files / "Megamind.avi")  # needs a WebM copy
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, model_cache, playable_proxy=True)
    base = live_server(build_app(services={"video_analysis": app}))
    proxies = app.state.pipeline.proxies
    held: list[int] = []
    proxies.submit = held.append  # the copy of Megamind.avi stays pending until released below
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 600})
    page.goto(base + "/video/")
    page.set_input_files("#file-input", [str(files / "clip.webm"), str(files / "Megamind.avi")])
    page.locator("#load-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    page.locator("#videos li").nth(1).wait_for(timeout=10_000)
    assert len(held) == 1

    page.locator("#videos li", has_text="clip.webm").get_by_role("button", name="open").click()
    page.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=30_000)
    page.evaluate("() => document.getElementById('player').play().catch(() => {})")

    page.locator("#videos li", has_text="Megamind.avi").get_by_role("button", name="open").click()
    page.locator("#player-title").filter(has_text="Megamind.avi").wait_for(timeout=10_000)
    page.locator("#player-status").filter(has_text="preparing").wait_for(timeout=10_000)
    state = page.evaluate("() => { const v = document.getElementById('player');"
                          " return {src: v.getAttribute('src'), network: v.networkState, ready: v.readyState,"
                          " paused: v.paused}; }")
    assert state == {"src": None, "network": 0, "ready": 0, "paused": True}, state  # clip.webm no longer plays

    page.wait_for_timeout(800)  # the smooth scroll of the open has ended
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    scrolled = page.evaluate("() => window.scrollY")
    assert scrolled > 300
    page.wait_for_timeout(4000)  # more than two polls of the pending copy
    assert page.evaluate("() => window.scrollY") == scrolled

    type(proxies).submit(proxies, held[0])  # now write the copy: the page picks it up by itself
    page.wait_for_function("() => { const v = document.getElementById('player');"
                           " return v.readyState >= 1 && v.duration > 10 && v.currentSrc.includes('/stream'); }",
                           timeout=120_000)
    assert page.locator("#player-status").inner_text() == ""


def test_delete_asks_for_confirmation_and_progress_moves_inside_a_video(
        tmp_path, unique, live_server, browser_page, models, model_cache):
    shutil.copyfile(OPENCV_DATA / "vtest.avi", tmp_path / "vtest.avi")
    app = make_app(Backend("lite", "", ""), tmp_path, unique, tmp_path, models, model_cache, chunk_keyframes=8)
    base = live_server(build_app(services={"video_analysis": app}))
    page = browser_page
    page.goto(base + "/video/")
    page.evaluate("""() => { window.progressSeen = [];
        setInterval(() => window.progressSeen.push(document.getElementById('progress').value), 100); }""")
    page.fill("#path-input", str(tmp_path / "vtest.avi"))
    page.click("#path-form button")
    page.locator("#load-status").filter(has_text="succeeded").wait_for(timeout=120_000)
    seen = page.evaluate("() => window.progressSeen")
    assert any(0 < value < 1 for value in seen), seen  # one file, yet the bar moved before it was done

    item = page.locator("#videos li", has_text="vtest.avi")
    item.wait_for(timeout=10_000)
    messages: list[str] = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    item.get_by_role("button", name="delete vtest.avi").click()
    page.wait_for_timeout(500)
    assert messages and "vtest.avi" in messages[0]
    assert page.locator("#videos li").count() == 1  # dismissed: nothing deleted
    page.once("dialog", lambda dialog: dialog.accept())
    item.get_by_role("button", name="delete vtest.avi").click()
    page.locator("#count").filter(has_text="0").wait_for(timeout=10_000)
    assert page.locator("#videos li").count() == 0
