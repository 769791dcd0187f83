"""Request and response models of the QA service."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=1000, description="the user's question")
    top_k: int = Field(5, ge=1, le=100)


class AnswerRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=1000, description="the user's question")


class Hit(BaseModel):
    id: int
    question: str
    answer: str
    score: float = Field(..., ge=0, le=1)


class SearchResponse(BaseModel):
    results: list[Hit]
    took_ms: float


class Alternative(BaseModel):
    id: int
    question: str
    score: float


class AnswerResponse(BaseModel):
    answer: str | None
    question: str | None
    id: int | None
    score: float
    confident: bool
    alternatives: list[Alternative]
    threshold: float
    took_ms: float
