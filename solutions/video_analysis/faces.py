"""Faces: dlib's HOG detector and its ResNet 128-d face embeddings (``face-recognition-models``).

Two faces belong to the same person when the euclidean distance of their embeddings is below a
threshold (dlib's usual 0.6). Everything loads from installed files; nothing is downloaded. The embeddings
run on onnxruntime when the model is loaded with a cache folder (:mod:`.face_encoder`: the same network,
checked against dlib, ~10x less CPU per face), or on dlib itself without one.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .face_encoder import CHIP_PADDING, CHIP_SIZE, FaceEncoder

log = logging.getLogger(__name__)


@dataclass
class Face:
    box: tuple[int, int, int, int]  # x, y, w, h in the original frame
    vector: np.ndarray  # (128,) float32
    signature: np.ndarray | None = None  # small normalised grey crop, to recognise the same face next frame


def _signature(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    crop = cv2.cvtColor(cv2.resize(rgb[y : y + h, x : x + w], (8, 8), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_RGB2GRAY).astype(np.float32).ravel()
    crop -= crop.mean()
    return crop / (np.linalg.norm(crop) + 1e-6)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


_NO_VECTOR = np.zeros(0, np.float32)  # placeholder until the face is embedded
#: a face is the one of the previous keyframe when boxes overlap this much and crops correlate this much
SAME_IOU = 0.5
SAME_CORRELATION = 0.6


Box = tuple[int, int, int, int]


def _same_face(box: Box, signature: np.ndarray, previous: list[Face]) -> Face | None:
    for face in previous:
        if face.signature is not None and _iou(box, face.box) >= SAME_IOU \
                and float(signature @ face.signature) >= SAME_CORRELATION:
            return face
    return None


class FaceModel:
    """Detect faces and embed them; one instance per process, calls serialised (dlib is not re-entrant)."""

    dim = 128

    def __init__(self, landmarks: int = 5, embedder: FaceEncoder | None = None) -> None:
        import dlib

        with warnings.catch_warnings():  # the package imports the deprecated pkg_resources
            warnings.simplefilter("ignore")
            import face_recognition_models as frm

        self.detector = dlib.get_frontal_face_detector()
        model = (frm.pose_predictor_five_point_model_location() if landmarks == 5
                 else frm.pose_predictor_model_location())
        self.predictor = dlib.shape_predictor(model)
        self.encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
        self.embedder = embedder
        self._dlib: Any = dlib
        self._lock = threading.Lock()

    def faces(self, rgb: np.ndarray, detect_width: int = 480, upsample: int = 0,
              previous: list[Face] | None = None) -> list[Face]:
        """Faces in an RGB frame: detected on a grey copy at most ``detect_width`` wide, embedded at full size.

        ``previous``: the faces of the keyframe just before. A face at the same place that looks the
        same (overlapping boxes, correlated pixels) is the same face: its embedding is reused, which
        skips the costly ResNet for people who stay on screen.
        """
        h, w = rgb.shape[:2]
        scale = min(1.0, detect_width / max(w, 1))
        small = rgb if scale >= 1.0 else cv2.resize(rgb, (int(w * scale), int(h * scale)),
                                                    interpolation=cv2.INTER_AREA)
        # HOG on grey: a quarter faster than on RGB (per-channel gradients), the same faces (measured on the
        # sample clips' keyframes and photos); landmarks and embeddings use the colour frame
        grey = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        rgb = np.ascontiguousarray(rgb)
        out: list[Face] = []
        new: list[tuple[int, Any]] = []  # (index in out, landmarks) of the faces still to embed
        with self._lock:
            rects = self.detector(grey, upsample)
            for r in rects:
                left, top = int(r.left() / scale), int(r.top() / scale)
                right, bottom = int(r.right() / scale), int(r.bottom() / scale)
                left, top = max(0, left), max(0, top)
                right, bottom = min(w - 1, right), min(h - 1, bottom)
                if right - left < 8 or bottom - top < 8:
                    continue
                box = (left, top, right - left, bottom - top)
                signature = _signature(rgb, box)
                same = _same_face(box, signature, previous or [])
                out.append(Face(box, same.vector if same is not None else _NO_VECTOR, signature))
                if same is None:
                    new.append((len(out) - 1, self.predictor(rgb, self._dlib.rectangle(left, top, right, bottom))))
            if new and self.embedder is None:
                for i, shape in new:
                    out[i].vector = np.asarray(self.encoder.compute_face_descriptor(rgb, shape), dtype=np.float32)
            elif new:
                chips = [self._dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING) for _, shape in new]
        if new and self.embedder is not None:  # onnxruntime is thread-safe: outside the dlib lock
            for (i, _), vec in zip(new, self.embedder.encode(chips), strict=True):
                out[i].vector = vec
        return out

    def enrol_vector(self, rgb: np.ndarray) -> np.ndarray | None:
        """The embedding of the largest face of a portrait photo (upsampled once: small faces count)."""
        faces = self.faces(rgb, detect_width=1024, upsample=1)
        if not faces:
            return None
        return max(faces, key=lambda f: f.box[2] * f.box[3]).vector


@functools.cache
def load_face_model(landmarks: int = 5, cache_dir: Path | None = None,
                    providers: tuple[str, ...] = ("CPUExecutionProvider",)) -> FaceModel:
    """The process's face model (dlib's models are read once; calls are serialised by the model). With a
    ``cache_dir``, embeddings run on the ONNX export of dlib's ResNet kept there (one thread: the image encoder
    and the detector use the other core)."""
    embedder = FaceEncoder(cache_dir, providers=providers, threads=1) if cache_dir is not None else None
    return FaceModel(landmarks, embedder)
