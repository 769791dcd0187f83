"""dlib faces: detection on video-sized frames, the same person across photos, no face in a baboon."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from solutions.video_analysis.config import VideoSettings

from .helpers import OPENCV_DATA, face_frame


def test_face_found_and_matches_the_photo_it_came_from(models):
    _, faces = models
    frame = face_frame()
    found = faces.faces(frame, detect_width=480)
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert 200 < x + w / 2 < 440 and 120 < y + h / 2 < 360  # the face is in the middle of the close-up
    photo = cv2.cvtColor(cv2.imread(str(OPENCV_DATA / "messi5.jpg")), cv2.COLOR_BGR2RGB)
    enrolled = faces.enrol_vector(photo)
    assert enrolled is not None and enrolled.shape == (128,)
    assert np.linalg.norm(enrolled - found[0].vector) < 0.6
    # a different face-like region is far: the embedding is not constant
    flipped = faces.faces(np.ascontiguousarray(frame[::-1]), detect_width=480)  # upside down: no frontal face
    assert flipped == []


def test_no_face_in_a_baboon(models):
    _, faces = models
    baboon = cv2.cvtColor(cv2.imread(str(OPENCV_DATA / "baboon.jpg")), cv2.COLOR_BGR2RGB)
    assert faces.enrol_vector(baboon) is None


def test_a_face_that_stays_in_place_reuses_its_embedding(models):
    _, faces = models
    frame = face_frame()
    first = faces.faces(frame)
    moved = np.ascontiguousarray(np.roll(frame, 4, axis=1))  # the next keyframe: the same face, 4 px on
    again = faces.faces(moved, previous=first)
    assert len(again) == 1 and again[0].vector is first[0].vector
    fresh = faces.faces(moved)
    assert fresh[0].vector is not first[0].vector
    assert np.linalg.norm(fresh[0].vector - first[0].vector) < 0.2
    # a different picture at the same place is not taken for the same face
    other = np.ascontiguousarray(cv2.resize(cv2.cvtColor(cv2.imread(str(OPENCV_DATA / "messi5.jpg")),
                                                         cv2.COLOR_BGR2RGB), (640, 480)))
    assert all(f.vector is not first[0].vector for f in faces.faces(other, previous=first))


def test_face_landmarks_is_one_of_dlibs_models(monkeypatch, tmp_path):
    """VIDEO_FACE_LANDMARKS=7 started and silently used the 68-point model."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VIDEO_FACE_LANDMARKS", "68")
    assert VideoSettings().face_landmarks == 68
    monkeypatch.setenv("VIDEO_FACE_LANDMARKS", "7")
    with pytest.raises(ValidationError, match="dlib has 5- and 68-point landmark models, not 7"):
        VideoSettings()
