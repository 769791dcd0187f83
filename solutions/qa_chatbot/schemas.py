"""Request and response models of the QA service (see SPEC: qa, and qa document mode)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: queries per ``POST /search/batch``
MAX_BATCH = 100


class SearchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"query": "how do I reset my password?", "top_k": 5}]})

    query: str = Field(..., min_length=1, max_length=1000, description="the user's question")
    top_k: int = Field(5, ge=1, le=100)
    offset: int = Field(0, ge=0, description="first result of the page (two pages equal one longer query)")


class BatchRequest(BaseModel):
    queries: list[str] = Field(..., min_length=1, max_length=MAX_BATCH,
                               description="questions; an empty or too long one gets its own error")
    top_k: int = Field(5, ge=1, le=100)
    offset: int = Field(0, ge=0)


class AnswerRequest(BaseModel):
    query: str = Field(..., min_length=1, max_length=1000, description="the user's question")


class Source(BaseModel):
    """Where a result comes from: the FAQ file and its line, or the document, its section and a link to it."""

    document: str
    section: str | None = Field(None, description="heading path of the passage")
    position: int | None = Field(None, description="passage number in its document (0-based); FAQ: line")
    anchor: str | None = Field(None, description="id of the section in the document (HTML id, page=N for PDF)")
    title: str | None = None
    document_id: int | None = None
    url: str | None = Field(None, description="the stored document at this section, relative to the service")


class Hit(BaseModel):
    id: int
    kind: Literal["faq", "passage"]
    question: str = Field(..., description="the FAQ question, or the heading path of the passage")
    answer: str = Field(..., description="the FAQ answer, or the passage text")
    score: float = Field(..., ge=0, le=1)
    source: Source
    highlight: list[list[int]] = Field(..., description="[start, end] character spans of the sentences of answer "
                                                        "that best answer the query; none when the score is under "
                                                        "the answer threshold")


class SearchResponse(BaseModel):
    results: list[Hit]
    took_ms: float


class BatchEntry(BaseModel):
    query: str
    results: list[Hit]
    error: str | None


class BatchResponse(BaseModel):
    results: list[BatchEntry]
    took_ms: float


class Alternative(BaseModel):
    id: int
    kind: Literal["faq", "passage"]
    question: str
    score: float


class AnswerResponse(BaseModel):
    answer: str | None
    question: str | None
    id: int | None
    kind: Literal["faq", "passage"] | None
    source: Source | None
    highlight: list[list[int]]
    score: float
    confident: bool
    alternatives: list[Alternative]
    threshold: float
    took_ms: float


class PassageRow(BaseModel):
    id: int
    position: int
    heading: str
    anchor: str | None
    text: str


class DocumentPassages(BaseModel):
    document: dict[str, object]
    passages: list[PassageRow]
    total: int
