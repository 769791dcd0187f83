"""Where a video's data lives: the SQL tables beside the items table, and the Milvus collection of keyframes.

* ``<prefix>_items`` (the base's items table, one row per video; its columns are :func:`item_columns`):
  written **last**, so a video is listed only once everything below is stored.
* ``<prefix>_frames``: one row per keyframe (``id`` = its vector's id, ``video_id``, ``t``).
* ``<prefix>_labels``: the top ImageNet classes of each keyframe (``label`` index, ``rank``, ``score``), indexed
  by label so ``GET /moments?label=`` reads only the keyframes that show it, across all videos, in one query.
* ``<prefix>_faces``: every face detected on a keyframe, with its 128-d embedding, known or not: who appears
  when is computed when asked, from the people enrolled *now*.
* ``<prefix>_people`` and ``<prefix>_person_faces``: enrolled people and the embeddings of their photos.
* Milvus ``<prefix>_frames``: ``id``, ``video_id``, ``t`` and the 1280-d EfficientNet-Lite0 feature (cosine), for
  each distinct picture of a video (a keyframe repeating one exactly has SQL rows only, see ``ingest.picture_key``);
  ``item_field="video_id"``: the base deletes a video's keyframes by ``video_id``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymilvus import DataType
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    delete,
)
from sqlalchemy.engine import Connection

from common.sql import SQLStore
from common.vectors import CollectionSpec, ScalarField

FEATURE_DIM = 1280
FACE_DIM = 128


def item_columns() -> list[Column[Any]]:
    """The video's columns of the items table (beside ``id``, ``name``, ``source``, ``added_at``)."""
    return [
        Column("file", String(64), nullable=False),  # the stored copy, in the video's media folder
        Column("container", String(16), nullable=False),
        Column("codec", String(16), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("duration_s", Float, nullable=False),  # what was decoded and indexed
        Column("declared_duration_s", Float, nullable=False),  # what the container announces
        Column("truncated", Boolean, nullable=False, default=False),
        Column("fps", Float, nullable=False),
        Column("width", Integer, nullable=False),
        Column("height", Integer, nullable=False),
        Column("keyframes", Integer, nullable=False),
        Column("proxy", String(16), nullable=False),  # none | pending | ready | failed
    ]


def frames_spec(name: str) -> CollectionSpec:
    return CollectionSpec(
        name, dim=FEATURE_DIM, index_params={"M": 16, "efConstruction": 200},
        scalars=(ScalarField("video_id", DataType.INT64), ScalarField("t", DataType.FLOAT)), item_field="video_id",
    )


def frame_id(video_id: int, t: float) -> int:
    """The id of the keyframe of ``video_id`` at ``t`` seconds (its vector's and its SQL row's)."""
    digest = hashlib.sha256(f"{int(video_id)}:{round(t * 1000)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 11


@dataclass(frozen=True)
class VideoTables:
    """The tables of the video service other than the items table."""

    frames: Table
    labels: Table
    faces: Table
    people: Table
    person_faces: Table

    @classmethod
    def define(cls, metadata: MetaData, prefix: str) -> VideoTables:
        def table(name: str, *columns: Column[Any]) -> Table:
            """The table ``<prefix>_<name>`` (defining it again on the same metadata, as another pipeline with the
            same prefix does, extends it rather than failing)."""
            return Table(f"{prefix}_{name}", metadata, *columns, extend_existing=True)

        return cls(
            frames=table(
                "frames",
                Column("id", BigInteger, primary_key=True, autoincrement=False),
                Column("video_id", BigInteger, nullable=False, index=True),
                Column("t", Float, nullable=False),
            ),
            labels=table(
                "labels",
                Column("frame_id", BigInteger, primary_key=True, autoincrement=False),
                Column("label", SmallInteger, primary_key=True, autoincrement=False, index=True),
                Column("video_id", BigInteger, nullable=False, index=True),
                Column("t", Float, nullable=False),
                Column("rank", SmallInteger, nullable=False),  # 0 = the keyframe's most likely class
                Column("score", Float, nullable=False),
            ),
            faces=table(
                "faces",
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("video_id", BigInteger, nullable=False, index=True),
                Column("t", Float, nullable=False),
                Column("box", String(64), nullable=False),
                Column("vector", LargeBinary(1024), nullable=False),
            ),
            people=table(
                "people",
                Column("id", BigInteger, primary_key=True, autoincrement=False),
                Column("name", String(200), nullable=False),
                Column("created_at", DateTime, nullable=False),
            ),
            person_faces=table(
                "person_faces",
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("person_id", BigInteger, nullable=False, index=True),
                Column("photo", String(512), nullable=False),
                Column("vector", LargeBinary(1024), nullable=False),
            ),
        )

    @property
    def per_video(self) -> tuple[Table, Table, Table]:
        """The tables whose rows belong to one video."""
        return self.frames, self.labels, self.faces

    def write_chunk(self, sql: SQLStore, conn: Connection, frames: Sequence[dict[str, Any]],
                    labels: Sequence[dict[str, Any]], faces: Sequence[dict[str, Any]]) -> None:
        """The rows of some analysed keyframes (keyed by frame id, so a retried chunk stores nothing twice)."""
        sql.insert_ignore(conn, self.frames, frames)
        sql.insert_ignore(conn, self.labels, labels)
        if faces:
            conn.execute(self.faces.insert(), list(faces))

    def delete_videos(self, conn: Connection, ids: Sequence[int]) -> None:
        for table in self.per_video:
            conn.execute(delete(table).where(table.c.video_id.in_(list(ids))))

    def drop(self, conn: Connection) -> None:
        for table in (*self.per_video, self.person_faces, self.people):
            conn.execute(delete(table))
