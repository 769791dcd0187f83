"""Decoding, keyframes, spans and Range parsing, without the models."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from solutions.video_analysis.ranges import RangeKind, read_range
from solutions.video_analysis.spans import merge_spans, stream_spans
from solutions.video_analysis.video import VideoError, VideoReader, container_of, needs_proxy

from .helpers import OPENCV_DATA, truncated_copy, write_clip


def keyframes(path: Path, **options):
    with VideoReader(path) as reader:
        found = list(reader.keyframes(**options))
        return reader.summary(), found


def test_real_clip_keyframes_at_most_max_interval_apart():
    video, found = keyframes(OPENCV_DATA / "vtest.avi", max_interval_s=1.0)
    assert video.decoded_frames == 795 and abs(video.duration_s - 79.5) < 0.01 and not video.truncated
    times = [k.t for k in found]
    assert times[0] == 0.0 and times == sorted(times) and video.keyframes == len(found)
    assert max(np.diff(times)) <= 1.0 + 1e-6
    assert times[-1] >= 78.0
    assert found[0].rgb.shape == (576, 768, 3)


def test_keyframes_are_downscaled_to_max_side():
    _, found = keyframes(OPENCV_DATA / "Megamind.avi", max_side=360)
    assert max(found[0].rgb.shape[:2]) == 360


def test_scene_change_adds_a_keyframe(tmp_path):
    path = tmp_path / "cut.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (160, 120))
    for i in range(60):  # black for 3.3 s, then white: the cut falls between interval keyframes
        writer.write(np.full((120, 160, 3), 0 if i < 33 else 255, np.uint8))
    writer.release()
    _, found = keyframes(path, max_interval_s=2.0, analysis_fps=10)
    assert [k.t for k in found] == [0.0, 2.0, 3.3, 5.3]  # 3.3: the cut itself


def test_a_truncated_file_decodes_its_readable_part(tmp_path):
    video, found = keyframes(truncated_copy(OPENCV_DATA / "vtest.avi", tmp_path / "cut.avi", 0.3))
    assert video.truncated and video.declared_frames == 795
    assert 100 < video.decoded_frames < 400 and found
    assert video.declared_duration_s == pytest.approx(79.5)


def test_a_cut_wmv_is_truncated_by_the_length_its_header_declares(tmp_path):
    """OpenCV gives a cut WMV a frame count of about -2.3e17: it was stored as a complete, shorter video."""
    from solutions.video_analysis.video import asf_duration_s

    whole = write_clip(tmp_path / "clip.wmv", "WMV2", seconds=5.0, fps=25.0)
    assert asf_duration_s(whole) == pytest.approx(5.0) and asf_duration_s(OPENCV_DATA / "vtest.avi") is None
    video, _ = keyframes(whole)
    assert not video.truncated and video.declared_frames == video.decoded_frames == 125
    video, found = keyframes(truncated_copy(whole, tmp_path / "cut.wmv", 0.5))
    assert video.truncated and video.declared_frames == 125 and 20 < video.decoded_frames < 110 and found
    assert video.declared_duration_s == pytest.approx(5.0)


def test_a_one_frame_wmv_is_whole_at_its_frame_rate(tmp_path):
    """OpenCV gives it 1000 fps (a millisecond time base) and 40 frames (its 40 ms): it read as truncated, "decoded
    1 of 40 frames", at 1000 fps."""
    video, found = keyframes(write_clip(tmp_path / "one.wmv", "WMV2", seconds=0.04, fps=25.0))
    assert (video.fps, video.declared_frames, video.decoded_frames, video.truncated) == (25.0, 1, 1, False)
    assert len(found) == 1


def test_tree_avi_is_truncated_where_opencv_stops_decoding():
    video, _ = keyframes(OPENCV_DATA / "tree.avi")
    assert (video.decoded_frames, video.declared_frames, video.truncated) == (68, 444, True)
    assert video.duration_s == pytest.approx(68 / video.fps) and video.declared_duration_s == pytest.approx(29.6, 0.01)


def test_duration_budget_stops_decoding():
    video, found = keyframes(OPENCV_DATA / "vtest.avi", max_duration_s=10.0)
    assert video.decoded_frames == 100 and video.cut_at_limit and video.truncated
    assert found[-1].t < 10.0


def test_garbage_and_cut_before_the_first_frame_are_errors(tmp_path):
    (tmp_path / "junk.avi").write_bytes(b"RIFF\x10\x00\x00\x00AVI LIST" + bytes(4000))
    with pytest.raises(VideoError):
        keyframes(tmp_path / "junk.avi")
    head = (OPENCV_DATA / "vtest.avi").read_bytes()
    (tmp_path / "head.avi").write_bytes(head[: head.find(b"movi") + 16])  # the headers, cut before any frame
    with pytest.raises(VideoError, match="no frame"):
        keyframes(tmp_path / "head.avi")


def test_an_mp4_cut_before_its_index_says_so(tmp_path):
    """OpenCV's mp4v (as many phones) writes the MP4's index last: half the file opens as nothing, and the error
    blamed the container ("unknown container") instead of the cut."""
    whole = tmp_path / "whole.mp4"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(30):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = whole.read_bytes()
    assert data.rfind(b"moov") > len(data) // 2  # the index is at the end
    assert keyframes(whole)[0].decoded_frames == 30
    for name, part in (("cut.mp4", data[: len(data) // 2]), ("cut.mov", data[: int(len(data) * 0.6)])):
        (tmp_path / name).write_bytes(part)
        with pytest.raises(VideoError, match=r"without its index \(the 'moov' box\): the file was cut off"):
            keyframes(tmp_path / name)
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 4000)  # no ftyp: not said to be a cut MP4
    with pytest.raises(VideoError, match="not a video OpenCV can open"):
        keyframes(tmp_path / "junk.mp4")


def test_frames_over_the_pixel_limit_are_refused():
    with pytest.raises(VideoError, match="over the limit"):
        VideoReader(OPENCV_DATA / "vtest.avi", max_pixels=100_000)


def test_a_file_name_is_never_interpreted(tmp_path):
    odd = tmp_path / "$(touch pwned); rm -rf x.avi"
    odd.write_bytes((OPENCV_DATA / "Megamind.avi").read_bytes())
    assert keyframes(odd)[0].decoded_frames == 270
    assert not (tmp_path / "pwned").exists()


def test_containers_and_playability():
    assert container_of("avi", b"RIFF") == "avi" and container_of("mp4", b"") == "mp4"
    ebml = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\x82\x84"
    assert container_of("mkv", ebml + b"webm") == "webm" and container_of("mkv", ebml + b"matroska") == "mkv"
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


def test_stream_spans_merges_sorted_rows_per_group_and_remembers_the_best_moment():
    rows = [(1, "dog", 0.0, 0.3), (1, "dog", 1.0, 0.8), (1, "dog", 9.0, 0.5), (2, "dog", 1.0, 0.4)]
    spans = [(group, s.name, s.start_s, s.end_s, s.score, s.best_t) for group, s in stream_spans(rows, 2.5)]
    assert spans == [(1, "dog", 0.0, 1.0, 0.8, 1.0), (1, "dog", 9.0, 9.0, 0.5, 9.0), (2, "dog", 1.0, 1.0, 0.4, 1.0)]


@pytest.mark.parametrize("spec,kind", [
    ("bytes=0-99", "serve"), ("bytes=100-", "serve"), ("bytes=-500", "serve"), ("bytes=0-0,10-20", "serve"),
    ("bytes=1000-", "unsatisfiable"), ("bytes=-0", "unsatisfiable"), ("bytes=0-99,5000-", "unsatisfiable"),
    # not a byte range this server reads: ignored (RFC 9110 §14.2), the whole file is sent
    ("bytes=50-10", "ignore"), ("bytes=abc", "ignore"), ("items=0-1", "ignore"), ("bytes=-", "ignore"),
    ("bytes=", "ignore"), ("Bytes=0-1", "ignore"), ("bytes=0-1,x", "ignore"),
])
def test_range_header_reading(spec, kind):
    assert read_range(spec, 1000) is RangeKind(kind)


def test_read_ahead_keeps_order_hands_over_errors_and_stops_early():
    import threading

    from solutions.video_analysis.ingest import ReadAhead

    with ReadAhead(iter(range(100)), 4, "t") as ahead:
        assert list(ahead) == list(range(100))

    def broken():
        yield 1
        raise VideoError("damaged stream")

    with pytest.raises(VideoError, match="damaged"), ReadAhead(broken(), 4, "t") as ahead:
        list(ahead)

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    with ReadAhead(endless(), 3, "t") as ahead:
        for item in ahead:
            if item == 5:
                break  # a cancelled load: the consumer leaves
    assert not any(t.name == "t" for t in threading.enumerate())  # the decode thread has stopped
    assert len(produced) <= 5 + 1 + 3 + 1  # never more than the queue's depth ahead
