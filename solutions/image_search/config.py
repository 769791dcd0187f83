"""Settings of the image service (environment prefix ``IMAGE_``; shared ones in :mod:`common.settings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from common.images import CALIBRATION_DIR
from common.settings import ServiceSettings, service_config


class ImageSettings(ServiceSettings):
    model_config = service_config("IMAGE_")

    #: first part of the collection and table names (``image_vectors``, ``image_items``)
    store_prefix: str = Field("image", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: files per process_batch call, and images per encoder run (measured: bench/image_search.py)
    batch_size: int = Field(64, gt=0)
    infer_batch: int = Field(4, gt=0)
    #: onnxruntime intra-op threads (default: all cores)
    encoder_threads: int | None = Field(None, gt=0)
    #: EfficientNet-Lite0 in "int8" (static quantization: ~2.5x less CPU per image; bench/image_search.py measured
    #: recall@1 on perturbed copies no lower than FP32's, on images it was not calibrated on) or "fp32". The video
    #: demo follows this setting unless VIDEO_ENCODER_PRECISION is set.
    encoder_precision: Literal["fp32", "int8"] = "int8"
    #: photos the INT8 encoder is calibrated on at its first export (every fourth one verifies it instead)
    encoder_calibration_dir: Path = CALIBRATION_DIR
    #: threads decoding images while the encoder runs; they also compute candidates' local features at search
    decode_threads: int = Field(2, gt=0)
    #: HNSW parameters (COSINE on the 1280-d regional descriptor); a search explores at least ``max_results``
    #: candidates, so every page is a slice of the same ranking
    hnsw_m: int = Field(16, gt=1)
    hnsw_ef_construction: int = Field(200, gt=0)
    hnsw_ef: int = Field(128, gt=0)
    #: deepest result a search may page to (``offset + top_k``)
    max_results: int = Field(500, gt=0, le=16384)
    #: geometric re-ranking: how many global candidates are checked with ORB + RANSAC + aligned NCC
    rerank_candidates: int = Field(10, ge=0, le=200)
    #: ORB keypoints per image, on the image scaled to at most orb_max_side (the query's, and each candidate's
    #: the first time a search re-ranks it)
    orb_features: int = Field(500, gt=0)
    orb_max_side: int = Field(640, gt=64)
    min_inliers: int = Field(6, ge=3)
    min_ncc: float = Field(0.5, ge=0, le=1)
    #: local features kept in memory (about 25 kB each); the rest are read from local/<id>.npz
    local_cache_items: int = Field(2000, ge=0)
    thumbnail_px: int = Field(256, ge=32, le=1024)
    #: largest query image (``POST /search``; each file of ``/search/batch``), below ``MAX_UPLOAD_MB``
    max_query_mb: int = Field(20, gt=0)
