"""Request and response models of the image service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchForm(BaseModel):
    """The text fields of ``POST /search`` (multipart, beside ``file``)."""

    top_k: int = Field(10, description="results per page (1..100)")
    offset: int = Field(0, description="first result of the page (two pages equal one longer query)")


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
