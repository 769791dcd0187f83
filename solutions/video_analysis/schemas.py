"""Response models of the video service."""

from __future__ import annotations

from pydantic import BaseModel


class SearchHit(BaseModel):
    video_id: int
    video_name: str
    timestamp_s: float
    score: float
    frame_url: str


class SearchResponse(BaseModel):
    results: list[SearchHit]
    took_ms: float


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
    duration_s: float
    fps: float
    width: int
    height: int
    size: int
    keyframes: int
    codec: str
    container: str
    playable: bool
    stream_url: str
    created_at: str | None


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
