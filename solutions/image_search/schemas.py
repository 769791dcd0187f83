"""Request and response models of the image service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchForm(BaseModel):
    """The text fields of ``POST /search`` and ``/search/batch`` (multipart, beside the files)."""

    top_k: int = Field(10, description="results per page (1..100)", examples=[10])
    offset: int = Field(0, description="first result of the page (two pages equal one longer query)", examples=[0])
    label: str | None = Field(None, max_length=200, examples=["orange"],
                              description="only images whose top-5 ImageNet labels include this class name")


class TextQuery(BaseModel):
    query: str = Field(..., min_length=1, max_length=1000, examples=["a squirrel on a branch"])
    top_k: int = Field(10, description="results per page (1..100)", examples=[5])
    offset: int = Field(0, description="first result of the page", examples=[0])


class Label(BaseModel):
    label: str = Field(..., description="ImageNet class name")
    score: float = Field(..., ge=0, le=1, description="the classifier's probability")


class TextHit(BaseModel):
    id: int
    name: str
    score: float = Field(..., ge=0, le=1, description="expected similarity of the words to what the image shows")
    image_url: str
    thumbnail_url: str
    labels: list[Label]


class SearchHit(TextHit):
    score: float = Field(..., ge=0, le=1, description="higher is more similar")
    match: str = Field(..., description="'copy' when verified geometrically, else 'similar'")
    cosine: float = Field(..., description="cosine similarity of the global descriptors")
    inliers: int = Field(0, description="RANSAC inliers of ORB matches (0 when not checked or failed)")


class SearchResponse(BaseModel):
    results: list[SearchHit]
    took_ms: float


class TextSearchResponse(BaseModel):
    results: list[TextHit]
    took_ms: float


class BatchEntry(BaseModel):
    query: str = Field(..., description="the query file's name")
    results: list[SearchHit]
    error: str | None = Field(None, description="why this query failed (the others are unaffected)")


class BatchResponse(BaseModel):
    results: list[BatchEntry]
    took_ms: float


class LabelList(BaseModel):
    labels: list[str]
