"""The people registry: enrolled people, their face embeddings, and who appears where.

A stored face (found on a keyframe at load time, known or not) belongs to the enrolled person whose photo
embedding is nearest, when that distance is under ``face_threshold`` (dlib's usual 0.6). This is computed when
asked, from the people enrolled *now*: a person enrolled after a video was loaded is found without loading it
again, and a removed person is gone from every timeline at once.

The enrolled embeddings (the *gallery*) are cached and re-read only when the tables changed (any process may
enrol). Finding one person everywhere reads the stored faces of all listed videos in chunks, one query per
chunk of faces (never one per video), and matches each chunk with one matrix operation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Table, delete, func, select
from sqlalchemy.sql import Select

from common.errors import InvalidInput, NotFound, UnsupportedMediaType
from common.files import content_id
from common.images import decode_image
from common.pipeline import utcnow
from common.sql import SQLStore

from .config import VideoSettings
from .faces import FaceModel
from .spans import Span, merge_spans, stream_spans
from .store import FACE_DIM, VideoTables

#: stored faces read per query when searching all videos for a person
FACE_CHUNK = 5000
#: an enrolment photo is decoded with at least this many pixels on its longer side (a large JPEG at a reduced
#: DCT scale, so a 48 Mpx phone photo fits MAX_IMAGE_MPX); the detector looks at a copy 1024 px wide
ENROL_MAX_SIDE = 2048


@dataclass(frozen=True)
class Gallery:
    """The enrolled face embeddings: one row per photo, ``owners[i]`` is the person of row ``i``."""

    matrix: np.ndarray
    owners: list[int]
    names: dict[int, str]
    version: tuple[int, int, int]


@dataclass(frozen=True)
class Match:
    person_id: int
    name: str
    score: float


class PeopleRegistry:
    def __init__(self, sql: SQLStore, tables: VideoTables, items: Table, face_model: FaceModel | None,
                 settings: VideoSettings) -> None:
        self.sql = sql
        self.tables = tables
        self.items = items
        self.face_model = face_model
        self.settings = settings
        self._lock = threading.Lock()
        self._gallery: Gallery | None = None

    # -- enrolment ------------------------------------------------------------------------------
    def enrol(self, name: str, photos: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
        """Add a person (or more photos of one, by name); photos without a face are reported, not stored.

        ``photos`` may be a generator: each photo is read, decoded and embedded before the next is read.
        """
        name = name.strip()
        if not name:
            raise InvalidInput("name must not be empty")
        if self.face_model is None:
            raise InvalidInput("face recognition is disabled (VIDEO_FACES_ENABLED=false)")
        vectors: list[tuple[str, np.ndarray]] = []
        errors: list[dict[str, str]] = []
        max_pixels = int(self.settings.max_image_mpx * 1e6)
        for photo_name, data in photos:
            try:
                rgb = decode_image(data, max_side=ENROL_MAX_SIDE, max_pixels=max_pixels)
                vec = self.face_model.enrol_vector(rgb)
            except (InvalidInput, UnsupportedMediaType) as exc:  # this photo is refused, the others count
                errors.append({"item": photo_name, "error": exc.detail})
                continue
            if vec is None:
                errors.append({"item": photo_name, "error": "no face found"})
            else:
                vectors.append((photo_name, vec))
        if not vectors:
            detail = "; ".join(f"{e['item']}: {e['error']}" for e in errors) or "no photo"
            raise InvalidInput(f"no usable face photo ({detail})")
        person_id = content_id(f"person:{name}")
        t = self.tables
        with self.sql.begin() as conn:
            self.sql.insert_ignore(conn, t.people, [{"id": person_id, "name": name[:200], "created_at": utcnow()}])
            conn.execute(t.person_faces.insert(), [
                {"person_id": person_id, "photo": photo[:512], "vector": vec.astype(np.float32).tobytes()}
                for photo, vec in vectors])
        return {**self.person(person_id), "errors": errors}

    def list_people(self) -> list[dict[str, Any]]:
        return [self._public(r) for r in self.sql_rows(self._people_query())]

    def person(self, person_id: int) -> dict[str, Any]:
        rows = self.sql_rows(self._people_query().where(self.tables.people.c.id == int(person_id)))
        if not rows:
            raise NotFound(f"no person {person_id}")
        return self._public(rows[0])

    def delete_person(self, person_id: int) -> None:
        self.person(person_id)
        t = self.tables
        with self.sql.begin() as conn:
            conn.execute(delete(t.person_faces).where(t.person_faces.c.person_id == int(person_id)))
            conn.execute(delete(t.people).where(t.people.c.id == int(person_id)))

    def _people_query(self) -> Select[Any]:
        people, faces = self.tables.people, self.tables.person_faces
        return (select(people.c.id, people.c.name, func.count(faces.c.id).label("photos"))
                .select_from(people.outerjoin(faces, faces.c.person_id == people.c.id))
                .group_by(people.c.id, people.c.name).order_by(people.c.name))

    def sql_rows(self, query: Select[Any]) -> list[Any]:
        with self.sql.begin() as conn:
            return list(conn.execute(query).all())

    @staticmethod
    def _public(row: Any) -> dict[str, Any]:
        return {"id": int(row.id), "name": row.name, "photos": int(row.photos)}

    # -- matching -------------------------------------------------------------------------------
    def gallery(self) -> Gallery:
        """The enrolled embeddings, re-read when people or photos changed since the last read."""
        t = self.tables
        with self.sql.begin() as conn:
            n, last = conn.execute(select(func.count(t.person_faces.c.id), func.max(t.person_faces.c.id))).one()
            people = conn.execute(select(func.count()).select_from(t.people)).scalar_one()
        version = (int(n or 0), int(last or 0), int(people or 0))
        with self._lock:
            if self._gallery is not None and self._gallery.version == version:
                return self._gallery
        with self.sql.begin() as conn:
            names = {int(r.id): r.name for r in conn.execute(select(t.people.c.id, t.people.c.name))}
            rows = conn.execute(select(t.person_faces.c.person_id, t.person_faces.c.vector)).all()
        kept = [r for r in rows if int(r.person_id) in names]
        matrix = (np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in kept]) if kept
                  else np.zeros((0, FACE_DIM), np.float32))
        gallery = Gallery(matrix, [int(r.person_id) for r in kept], names, version)
        with self._lock:
            self._gallery = gallery
        return gallery

    def match(self, vectors: np.ndarray, gallery: Gallery) -> list[Match | None]:
        """The enrolled person each face (rows of ``vectors``) belongs to, or None."""
        if not len(vectors) or not gallery.owners:
            return [None] * len(vectors)
        # squared distances via the dot product: one (faces x photos) matrix, no (faces x photos x 128) tensor
        d2 = ((vectors ** 2).sum(1)[:, None] + (gallery.matrix ** 2).sum(1)[None, :]
              - 2.0 * vectors @ gallery.matrix.T)
        nearest = np.argmin(d2, axis=1)
        dist = np.sqrt(np.maximum(d2[np.arange(len(vectors)), nearest], 0.0))
        out: list[Match | None] = []
        for j, d in zip(nearest, dist, strict=True):
            owner = gallery.owners[int(j)]
            out.append(Match(owner, gallery.names[owner], max(0.0, 1.0 - float(d)))
                       if d < self.settings.face_threshold else None)
        return out

    # -- who appears where ----------------------------------------------------------------------
    def video_faces(self, video_id: int) -> tuple[list[dict[str, Any]], int]:
        """Spans of the enrolled people in one video, and how many detections match nobody."""
        f = self.tables.faces
        with self.sql.begin() as conn:
            rows = conn.execute(select(f.c.t, f.c.vector).where(f.c.video_id == int(video_id))).all()
        if not rows:
            return [], 0
        vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
        matches = self.match(vectors, self.gallery())
        hits = [(m.name, float(t), m.score) for (t, _), m in zip(rows, matches, strict=True) if m is not None]
        return merge_spans(hits, self.settings.span_gap_s, "person"), sum(m is None for m in matches)

    def spans_of(self, person_id: int) -> list[tuple[int, str, Span]]:
        """``(video_id, video_name, span)`` of one person across all listed videos."""
        gallery = self.gallery()
        if person_id not in gallery.names:
            raise NotFound(f"no person {person_id}")
        rows = self._detections(person_id, gallery)
        return [(vid, name, span) for (vid, name), span in stream_spans(rows, self.settings.span_gap_s)]

    def appearances(self, person_id: int) -> list[dict[str, Any]]:
        """Every video a person appears in, with the spans."""
        by_video: dict[int, dict[str, Any]] = {}
        for vid, name, span in self.spans_of(person_id):
            entry = by_video.setdefault(vid, {"video_id": vid, "video_name": name, "spans": []})
            entry["spans"].append(span.public("person"))
        return sorted(by_video.values(), key=lambda a: (a["video_name"], a["video_id"]))

    def _detections(self, person_id: int, gallery: Gallery) -> Iterator[tuple[tuple[int, str], str, float, float]]:
        """``((video_id, video_name), person, t, score)`` of the person's faces, by video then time."""
        per_video: dict[tuple[int, str], list[tuple[float, float]]] = {}
        f, items = self.tables.faces, self.items
        last = -1
        while True:
            with self.sql.begin() as conn:
                rows = conn.execute(
                    select(f.c.id, f.c.video_id, items.c.name, f.c.t, f.c.vector)
                    .join(items, items.c.id == f.c.video_id)
                    .where(f.c.id > last).order_by(f.c.id).limit(FACE_CHUNK)).all()
            if not rows:
                break
            last = int(rows[-1].id)
            vectors = np.stack([np.frombuffer(r.vector, dtype=np.float32) for r in rows])
            for (_, vid, name, t, _), m in zip(rows, self.match(vectors, gallery), strict=True):
                if m is not None and m.person_id == person_id:
                    per_video.setdefault((int(vid), str(name)), []).append((float(t), m.score))
            if len(rows) < FACE_CHUNK:
                break
        name = gallery.names[person_id]
        for key in sorted(per_video):
            for t, score in sorted(per_video[key]):
                yield key, name, t, score
