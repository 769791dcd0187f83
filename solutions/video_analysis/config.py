"""Settings of the video service (environment prefix ``VIDEO_``).

The shared knobs (backends, ``store_prefix``, ``batch_size``, ``max_top_k``, ``max_results``, the model cache,
``onnx_providers``, ``max_image_mpx``) live in :class:`common.settings.ServiceSettings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator

from common.images import CALIBRATION_DIR
from common.settings import ServiceSettings, service_config


class VideoSettings(ServiceSettings):
    model_config = service_config("VIDEO_")

    #: first part of the Milvus collection (``<prefix>_frames``) and SQL table names (``<prefix>_items`` ...)
    store_prefix: str = Field("video", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: videos per process_batch call (a video is already a long item, analysed in chunks of keyframes)
    batch_size: int = Field(1, gt=0)
    #: keyframes: at least one every ``max_interval_s``; one more at every scene change
    max_interval_s: float = Field(1.0, gt=0, le=60)
    #: frames examined per second for scene changes (every frame is still decoded)
    analysis_fps: float = Field(5.0, gt=0, le=60)
    #: mean absolute difference (0..1) of small grey thumbnails that counts as a new scene
    scene_threshold: float = Field(0.12, gt=0, le=1)
    #: keyframes are analysed at most this large (longer side, pixels); thumbnails and faces come from them
    keyframe_max_side: int = Field(1280, ge=224, le=4096)
    #: a video is indexed up to this length; a longer one is stored for its first part, with a warning
    max_duration_min: float = Field(240.0, gt=0)
    #: keyframes analysed together (embeddings, labels, faces) and then stored: the unit of progress and cancel
    chunk_keyframes: int = Field(32, ge=1, le=1024)
    #: keyframes embedded per encoder call
    encode_batch: int = Field(16, gt=0, le=256)
    #: EfficientNet-Lite0 in "fp32" or "int8"; unset, the image demo's IMAGE_ENCODER_PRECISION applies, so the two
    #: demos served together share one encoder
    encoder_precision: Literal["fp32", "int8"] = Field("int8", validation_alias=AliasChoices(
        "VIDEO_ENCODER_PRECISION", "IMAGE_ENCODER_PRECISION", "encoder_precision"))
    #: photos the INT8 encoder is calibrated on (likewise VIDEO_ then IMAGE_ENCODER_CALIBRATION_DIR)
    encoder_calibration_dir: Path = Field(CALIBRATION_DIR, validation_alias=AliasChoices(
        "VIDEO_ENCODER_CALIBRATION_DIR", "IMAGE_ENCODER_CALIBRATION_DIR", "encoder_calibration_dir"))
    #: keyframe thumbnails (JPEG) served as ``frame_url``
    thumb_max_side: int = Field(320, ge=64, le=1920)
    thumb_quality: int = Field(85, ge=30, le=100)
    #: write a browser-playable WebM copy of videos the browser cannot play (AVI, MKV, MPEG-4 part 2)
    playable_proxy: bool = True
    proxy_max_side: int = Field(480, ge=128, le=1920)
    #: faces: detect on keyframes downscaled to this width (HOG is quadratic in pixels)
    faces_enabled: bool = True
    face_detect_width: int = Field(480, ge=160, le=4096)
    #: euclidean distance between 128-d dlib embeddings under which two faces are the same person
    face_threshold: float = Field(0.6, gt=0, le=2)
    #: 5-point landmarks are faster; 68-point are the dlib default
    face_landmarks: int = Field(5)
    #: face embeddings: dlib's ResNet exported to ONNX ("onnx", checked against dlib at export, ~10x less CPU per
    #: face) or run by dlib itself ("dlib"); the vectors are the same
    face_embedder: Literal["onnx", "dlib"] = "onnx"
    #: labels: ImageNet classes with at least this probability on a keyframe
    label_min_prob: float = Field(0.25, gt=0, le=1)
    labels_per_frame: int = Field(3, ge=1, le=5)
    #: ``GET /moments?q=``: label names whose text similarity to the words is at least this...
    text_min_similarity: float = Field(0.5, ge=0, le=1)
    #: ...and at most this many of the best matching label names
    text_max_labels: int = Field(10, ge=1, le=1000)
    #: detections of one person/label further apart than this are separate spans
    span_gap_s: float = Field(2.5, gt=0)
    #: nearest keyframes fetched first when searching by image (more are fetched when videos are missing)
    search_candidates: int = Field(64, ge=16, le=16384)
    #: timestamps of the best videos are re-ranked by aligning the query to their keyframes (0: off)
    rerank_videos: int = Field(3, ge=0, le=100)
    #: keyframes of one video compared with the aligned query
    rerank_frames: int = Field(96, ge=2, le=1000)
    #: largest query image or face photo read into memory
    max_image_mb: int = Field(25, gt=0, le=1024)
    #: face photos per enrolment and query images per ``POST /search/batch``
    max_photos: int = Field(20, gt=0, le=100)
    max_batch_queries: int = Field(32, gt=0, le=256)

    @field_validator("face_landmarks")
    @classmethod
    def _a_dlib_landmark_model(cls, value: int) -> int:
        if value not in (5, 68):
            raise ValueError(f"dlib has 5- and 68-point landmark models, not {value}")
        return value
