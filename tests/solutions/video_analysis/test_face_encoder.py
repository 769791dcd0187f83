"""dlib's face ResNet on onnxruntime: read from dlib's own file, verified against dlib, the same vectors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from common.onnx import read_note
from solutions.video_analysis.face_encoder import FaceEncoder, read_dlib_resnet
from solutions.video_analysis.faces import FaceModel, load_face_model

from .helpers import OPENCV_DATA, face_frame


def test_the_network_read_from_dlibs_file():
    from solutions.video_analysis.face_encoder import _model_file

    layers, means = read_dlib_resnet(_model_file())
    kinds = [layer.kind for layer in layers]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds[-1] == "fc"
    assert layers[0].ints == (32, 7, 7, 2, 2, 0, 0) and layers[-1].params.shape == (256, 128)
    assert means == pytest.approx((122.782, 117.001, 104.298), abs=1e-3)  # dlib's input_rgb_image means


def test_a_file_that_is_not_the_network_is_refused(tmp_path):
    bad = tmp_path / "model.dat"
    bad.write_bytes(b"\x01\x05con_4" + bytes(100))
    with pytest.raises(ValueError, match="not the dlib face ResNet"):
        read_dlib_resnet(bad)


def test_the_export_is_verified_against_dlib_and_reused(model_cache, monkeypatch):
    encoder = FaceEncoder(model_cache, threads=1)
    note = read_note(encoder.onnx_path)
    assert note["verified"] and note["max_abs_diff"] < 1e-4

    def no_export(self, path):
        raise AssertionError("exported again")

    monkeypatch.setattr(FaceEncoder, "export", no_export)
    assert FaceEncoder(model_cache, threads=1).onnx_path == encoder.onnx_path


def test_onnx_embeddings_equal_dlibs_on_real_faces(models):
    _, onnx_faces = models
    dlib_faces = FaceModel(5)  # dlib's own ResNet
    assert onnx_faces.embedder is not None and dlib_faces.embedder is None
    frames = [face_frame(), cv2.cvtColor(cv2.imread(str(OPENCV_DATA / "messi5.jpg")), cv2.COLOR_BGR2RGB)]
    for frame in frames:
        got, ref = onnx_faces.faces(frame, upsample=1), dlib_faces.faces(frame, upsample=1)
        assert len(got) == len(ref) >= 1
        for a, b in zip(got, ref, strict=True):
            assert a.box == b.box and a.vector.shape == (128,)
            assert np.abs(a.vector - b.vector).max() < 1e-4


def test_the_face_model_of_a_cache_folder_is_shared(model_cache):
    assert load_face_model(5, model_cache) is load_face_model(5, model_cache)
    assert load_face_model(5, model_cache).embedder is not None and load_face_model(5).embedder is None
