"""Decoding, keyframes, spans and Range parsing, without the models."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from solutions.video_analysis.ranges import range_ok
from solutions.video_analysis.spans import merge_spans
from solutions.video_analysis.video import VideoError, container_of, decode_keyframes, needs_proxy

from .helpers import OPENCV_DATA, truncated_copy


def test_real_clip_keyframes_at_most_max_interval_apart():
    video = decode_keyframes(OPENCV_DATA / "vtest.avi", max_interval_s=1.0)
    assert video.decoded_frames == 795 and abs(video.duration_s - 79.5) < 0.01
    times = [k.t for k in video.keyframes]
    assert times[0] == 0.0 and times == sorted(times)
    assert max(np.diff(times)) <= 1.0 + 1e-6
    assert times[-1] >= 78.0
    assert video.keyframes[0].rgb.shape == (576, 768, 3)


def test_scene_change_adds_a_keyframe(tmp_path):
    path = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for i in range(60):  # black for 3.3 s, then white: the cut falls between interval keyframes
        writer.write(np.full((120, 160, 3), 0 if i < 33 else 255, np.uint8))
    writer.release()
    video = decode_keyframes(path, max_interval_s=2.0, analysis_fps=10)
    times = [k.t for k in video.keyframes]
    assert 3.3 in times  # the cut itself
    assert times == [0.0, 2.0, 3.3, 5.3]


def test_truncated_and_garbage_files_are_errors(tmp_path):
    with pytest.raises(VideoError, match="truncated"):
        decode_keyframes(truncated_copy(OPENCV_DATA / "vtest.avi", tmp_path / "cut.avi", 0.3))
    (tmp_path / "junk.avi").write_bytes(b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(4000))
    with pytest.raises(VideoError):
        decode_keyframes(tmp_path / "junk.avi")
    # a file name that would mean something to a shell is just a name
    odd = tmp_path / "$(touch pwned); rm -rf x.avi"
    odd.write_bytes((OPENCV_DATA / "Megamind.avi").read_bytes())
    assert decode_keyframes(odd).decoded_frames == 270
    assert not (tmp_path / "pwned").exists()


def test_containers_and_playability():
    assert container_of((OPENCV_DATA / "vtest.avi").read_bytes()[:64]) == "avi"
    assert container_of(b"\x00\x00\x00\x18ftypmp42" + bytes(50)) == "mp4"
    ebml = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\x82\x84"
    assert container_of(ebml + b"webm") == "webm" and container_of(ebml + b"matroska") == "mkv"
    assert container_of(b"hello world") == "other"
    assert needs_proxy("avi", "XVID") and needs_proxy("mp4", "mp4v") and not needs_proxy("mp4", "avc1")
    assert not needs_proxy("webm", "VP80")


def test_merge_spans_splits_on_gaps_and_keeps_best_score():
    detections = [("ann", 0.0, 0.5), ("ann", 1.0, 0.7), ("ann", 2.0, 0.6), ("ann", 9.0, 0.4), ("bob", 1.0, 0.9)]
    assert merge_spans(detections, 2.5, "person") == [
        {"person": "ann", "start_s": 0.0, "end_s": 2.0, "score": 0.7},
        {"person": "bob", "start_s": 1.0, "end_s": 1.0, "score": 0.9},
        {"person": "ann", "start_s": 9.0, "end_s": 9.0, "score": 0.4},
    ]
    assert merge_spans([], 1.0, "label") == []


@pytest.mark.parametrize("spec,ok", [
    ("bytes=0-99", True), ("bytes=100-", True), ("bytes=-500", True), ("bytes=0-0,10-20", True),
    ("bytes=1000-", False), ("bytes=50-10", False), ("bytes=abc", False), ("items=0-1", False),
    ("bytes=-", False), ("bytes=-0", False), ("bytes=0-99,5000-", False),
])
def test_range_header_validation(spec, ok):
    assert range_ok(spec, 1000) is ok
