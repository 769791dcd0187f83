"""Request and response models of the image service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    id: int
    name: str
    score: float = Field(..., ge=0, le=1, description="higher is more similar")
    image_url: str
    thumbnail_url: str
    match: str = Field(..., description="'copy' when verified geometrically, else 'similar'")
    cosine: float = Field(..., description="cosine similarity of the global descriptors")
    inliers: int = Field(0, description="RANSAC inliers of ORB matches (0 when not checked or failed)")


class SearchResponse(BaseModel):
    results: list[SearchHit]
    took_ms: float


class ItemInfo(BaseModel):
    id: int
    name: str
    source: str
    size: int
    sha256: str
    width: int
    height: int
    format: str
    labels: str
    image_url: str
    thumbnail_url: str
