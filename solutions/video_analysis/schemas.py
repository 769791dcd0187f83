"""Response models of the video service (see SPEC: HTTP contract, video)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Format(BaseModel):
    name: str
    suffixes: list[str]
    media_type: str


class Formats(BaseModel):
    formats: list[Format] = Field(..., description="the video files a load accepts (and .zip files of them)")
    text: str = Field(..., description="their names, as a sentence says them",
                      examples=["AVI, MP4, MOV, MKV, WebM, MPEG, WMV or FLV"])
    accept: str = Field(..., description="the file input's accept attribute: their suffixes and media types, .zip")


class SearchHit(BaseModel):
    video_id: int
    video_name: str
    timestamp_s: float
    score: float
    frame_url: str


class SearchResponse(BaseModel):
    results: list[SearchHit]
    took_ms: float


class BatchEntry(BaseModel):
    query: str = Field(..., description="the query file's name")
    results: list[SearchHit]
    error: str | None = Field(None, description="why this query failed (the others are answered)")


class BatchResponse(BaseModel):
    results: list[BatchEntry]
    took_ms: float


class Moment(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "video_id": 6150393378866519, "video_name": "vtest.avi", "start_s": 12.0, "end_s": 19.0, "kind": "label",
        "label": "streetcar", "score": 0.41, "frame_url": "videos/6150393378866519/frames/15000.jpg"}]})

    video_id: int
    video_name: str
    start_s: float
    end_s: float
    kind: Literal["label", "face"]
    label: str | None = Field(None, description="the ImageNet class (kind 'label')")
    person: str | None = Field(None, description="the enrolled person (kind 'face')")
    score: float
    frame_url: str = Field(..., description="thumbnail of the span's best keyframe")


class MomentsResponse(BaseModel):
    moments: list[Moment]
    total: int


class FaceSpan(BaseModel):
    person: str
    start_s: float
    end_s: float
    score: float


class LabelSpan(BaseModel):
    label: str
    start_s: float
    end_s: float
    score: float


class Frame(BaseModel):
    timestamp_s: float
    frame_url: str


class VideoSummary(BaseModel):
    id: int
    name: str
    duration_s: float = Field(..., description="the part decoded and indexed")
    declared_duration_s: float = Field(..., description="the length the file announces")
    truncated: bool = Field(..., description="the file stops decoding before its announced end")
    fps: float
    width: int
    height: int
    size: int
    sha256: str
    keyframes: int
    codec: str
    container: str
    playable: bool = Field(..., description="false while the browser-playable copy is being written")
    stream_url: str
    added_at: str | None


class VideoDetail(VideoSummary):
    faces: list[FaceSpan]
    labels: list[LabelSpan]
    unknown_faces: int
    frames: list[Frame]


class VideoList(BaseModel):
    videos: list[VideoSummary]


class PhotoError(BaseModel):
    item: str
    error: str


class Person(BaseModel):
    id: int
    name: str
    photos: int


class Enrolled(Person):
    errors: list[PhotoError]


class PeopleList(BaseModel):
    people: list[Person]


class Appearance(BaseModel):
    video_id: int
    video_name: str
    spans: list[FaceSpan]


class PersonDetail(Person):
    appearances: list[Appearance]
