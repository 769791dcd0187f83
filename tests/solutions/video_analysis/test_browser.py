"""The /video/ page in headless Chromium: upload with progress, enrol, search by image, player, timeline."""

from __future__ import annotations

import shutil

import pytest

from common.web.launcher import build_app
from tests.conftest import Backend

from .helpers import OPENCV_DATA, frame_at, jpeg, make_app, write_face_video


@pytest.mark.browser
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
