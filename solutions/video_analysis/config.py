"""Settings of the video service (environment prefix ``VIDEO_``)."""

from __future__ import annotations

from pydantic import Field

from common.settings import ServiceSettings, service_config


class VideoSettings(ServiceSettings):
    model_config = service_config("VIDEO_")

    #: names on the shared backends (tests give each run its own)
    collection: str = Field("video_frames", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    table_prefix: str = Field("video", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: where the encoder caches its exported ONNX file (default: <data_dir>/models)
    model_cache_dir: str = ""
    #: keyframes: at least one every ``max_interval_s``; one more at every scene change
    max_interval_s: float = Field(1.0, gt=0, le=60)
    #: frames examined per second for scene changes (every frame is still decoded)
    analysis_fps: float = Field(5.0, gt=0, le=60)
    #: mean absolute difference (0..1) of small grey thumbnails that counts as a new scene
    scene_threshold: float = Field(0.12, gt=0, le=1)
    #: a video that decodes to less than this fraction of its declared frames is refused as truncated
    min_decoded_fraction: float = Field(0.5, ge=0, le=1)
    #: keyframes embedded per encoder call
    encode_batch: int = Field(16, gt=0, le=256)
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
    #: labels: ImageNet classes with at least this probability on a keyframe
    label_min_prob: float = Field(0.25, gt=0, le=1)
    labels_per_frame: int = Field(3, ge=1, le=20)
    #: detections of one person/label further apart than this are separate spans
    span_gap_s: float = Field(2.5, gt=0)
    #: timestamps of the best videos are re-ranked by aligning the query to their keyframes (0: off)
    rerank_videos: int = Field(3, ge=0, le=100)
    #: keyframes of one video compared with the aligned query
    rerank_frames: int = Field(96, ge=2, le=1000)
    max_top_k: int = Field(100, gt=0, le=1000)
    #: videos per process_batch call
    batch_size: int = Field(1, gt=0)
