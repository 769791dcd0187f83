"""The video pipeline: decode → keyframes → frame embeddings + labels + faces → Milvus, SQL, media files.

Stores, and who answers what:

* Milvus (``<collection>``): one row per keyframe — ``id``, ``video_id``, ``t`` (seconds) and the
  1280-d EfficientNet-Lite0 feature (cosine). Search by image asks for many frames and keeps the
  best one per video.
* SQL (``<prefix>_videos``, ``_frames``, ``_faces``, ``_people``, ``_person_faces``): video
  metadata, the top ImageNet labels of every keyframe, every face detected on a keyframe with its
  128-d embedding (known or not), and the enrolled people with the embeddings of their photos.
  Who appears when is computed when asked, from the stored faces and the people enrolled *now*:
  a person enrolled after a video was loaded is found without loading it again.
* Media (``<data_dir>/media/<video id>/``): a copy of the video (uploads are temporary), a JPEG
  thumbnail per keyframe (``frame_url``) and, for videos browsers cannot play (AVI, MKV ...), a
  WebM copy written in the background at low priority.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)

from common.errors import InvalidInput, NotFound
from common.safety import SNIFF_BYTES
from common.service import Resources, WorkItem, iter_files, label_for

from .config import VideoSettings
from .rerank import FrameMatcher
from .spans import merge_spans
from .video import (
    MEDIA_TYPES,
    DecodedVideo,
    Keyframe,
    ProxyWriter,
    VideoError,
    container_of,
    decode_keyframes,
    needs_proxy,
    thumbnail_jpeg,
)

log = logging.getLogger(__name__)

MILVUS_MAX_LIMIT = 16384
#: labels kept per keyframe in SQL (the display threshold is applied when read)
STORED_LABELS = 5
STORED_LABEL_FLOOR = 0.02
VIDEO_EXTS = {"mp4": ".mp4", "webm": ".webm", "mkv": ".mkv", "avi": ".avi"}


def file_id(path: Path) -> int:
    """:func:`common.service.content_id` of a file's bytes, hashed in chunks (videos are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return int.from_bytes(digest.digest()[:8], "big") >> 11


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _low_priority() -> None:
    """Lower this thread's CPU priority (Linux: niceness is per thread)."""
    with contextlib.suppress(OSError, AttributeError):  # other platforms: normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)


class VideoPipeline:
    accepted_kinds = frozenset({"avi", "mp4", "mkv"})

    def __init__(self, res: Resources, settings: VideoSettings, encoder: Any = None, face_model: Any = None) -> None:
        self.settings = settings
        self.sql = res.sql
        self.vectors = res.vectors
        self.batch_size = settings.batch_size
        self.collection = settings.collection
        self.media = res.data_dir / "media"
        self.media.mkdir(parents=True, exist_ok=True)
        if encoder is None:
            from common.images import ImageEncoder

            cache = Path(settings.model_cache_dir) if settings.model_cache_dir else settings.data_dir / "models"
            encoder = ImageEncoder.load(cache)
        self.encoder = encoder
        if face_model is None and settings.faces_enabled:
            from .faces import FaceModel

            face_model = FaceModel(settings.face_landmarks)
        self.face_model = face_model
        self._define_tables(res)
        self._ensure_collection()
        self._people_lock = threading.Lock()
        self._people_cache: tuple[np.ndarray, list[int], dict[int, str]] | None = None
        self._write_lock = threading.RLock()
        self._encode_pool = ThreadPoolExecutor(1, thread_name_prefix="video-encode")
        self.matcher = FrameMatcher(match_side=settings.thumb_max_side)
        self._proxies = ThreadPoolExecutor(1, thread_name_prefix="video-proxy", initializer=_low_priority)
        self._resume_proxies()

    # -- schema ------------------------------------------------------------------------------
    def _define_tables(self, res: Resources) -> None:
        p = self.settings.table_prefix
        md = res.sql.metadata
        self.videos = Table(
            f"{p}_videos", md,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("name", String(1024), nullable=False),
            Column("file", String(64), nullable=False),
            Column("container", String(16), nullable=False),
            Column("codec", String(16), nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("duration_s", Float, nullable=False),
            Column("fps", Float, nullable=False),
            Column("width", Integer, nullable=False),
            Column("height", Integer, nullable=False),
            Column("keyframes", Integer, nullable=False),
            Column("proxy", String(16), nullable=False),  # none | pending | ready | failed
            Column("created_at", DateTime, nullable=False),
            extend_existing=True,
        )
        self.frames = Table(
            f"{p}_frames", md,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("video_id", BigInteger, nullable=False, index=True),
            Column("t", Float, nullable=False),
            Column("labels", Text, nullable=False),
            extend_existing=True,
        )
        self.faces = Table(
            f"{p}_faces", md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("video_id", BigInteger, nullable=False, index=True),
            Column("t", Float, nullable=False),
            Column("box", String(64), nullable=False),
            Column("vector", LargeBinary(1024), nullable=False),
            extend_existing=True,
        )
        self.people = Table(
            f"{p}_people", md,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("name", String(200), nullable=False),
            Column("created_at", DateTime, nullable=False),
            extend_existing=True,
        )
        self.person_faces = Table(
            f"{p}_person_faces", md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("person_id", BigInteger, nullable=False, index=True),
            Column("photo", String(512), nullable=False),
            Column("vector", LargeBinary(1024), nullable=False),
            extend_existing=True,
        )
        md.create_all(res.sql.engine, tables=[self.videos, self.frames, self.faces, self.people, self.person_faces])

    def _ensure_collection(self) -> None:
        schema = self.vectors.new_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("video_id", DataType.INT64)
        schema.add_field("t", DataType.FLOAT)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(self.encoder.dim))
        index = self.vectors.new_index_params()
        index.add_index("vector", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 200})
        self.vectors.ensure_collection(self.collection, schema, index)

    # -- loading -----------------------------------------------------------------------------
    def list_items(self, path: Path, root: Path) -> Iterator[WorkItem]:
        for file in iter_files(path):
            yield WorkItem(label_for(file, root), file)

    def process_batch(self, items: list[WorkItem]) -> list[str | None]:
        return [self.ingest(item.path, item.label) if item.path else "no file" for item in items]

    def ingest(self, path: Path, name: str) -> str | None:
        """Load one video; returns an error message for a file that is not a loadable video."""
        with path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
        container = container_of(head)
        if container == "other":
            return "not a video (AVI, MP4, MKV or WebM expected)"
        video_id = file_id(path)
        with self.sql.begin() as conn:
            if conn.execute(select(self.videos.c.id).where(self.videos.c.id == video_id)).first():
                return None  # same content already stored
        started = time.perf_counter()
        folder = self.media / str(video_id)
        frames_dir = folder / "frames"
        frames_dir.mkdir(parents=True, exist_ok=True)
        # keyframes are analysed in chunks while decoding goes on: memory stays flat for long videos
        chunks = _Chunks(self, frames_dir)
        try:
            decoded = decode_keyframes(
                path, max_interval_s=self.settings.max_interval_s, analysis_fps=self.settings.analysis_fps,
                scene_threshold=self.settings.scene_threshold,
                min_decoded_fraction=self.settings.min_decoded_fraction, on_keyframe=chunks.add,
            )
            chunks.flush()
        except VideoError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            return str(exc)
        except Exception:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            self._store(video_id, name, path, container, decoded, chunks, folder)
        except Exception:
            self._remove(video_id)
            raise
        log.info("video %s: %.1f s, %d keyframes, %d faces in %.2f s", name, decoded.duration_s,
                 len(chunks.rows), len(chunks.faces), time.perf_counter() - started)
        return None

    def analyse(self, keyframes: list[Keyframe], previous: list[Any]) -> tuple[np.ndarray, np.ndarray, list]:
        """Embeddings, label probabilities and faces of some keyframes (``previous``: faces just before)."""
        frames = [k.rgb for k in keyframes]
        # the encoder (onnxruntime, releases the GIL) runs beside the face detector (dlib)
        encoded = self._encode_pool.submit(self._encode, frames)
        faces: list[tuple[float, Any]] = []
        try:
            if self.face_model is not None:
                for k in keyframes:
                    previous = self.face_model.faces(k.rgb, self.settings.face_detect_width, previous=previous)
                    faces.extend((k.t, face) for face in previous)
        finally:
            features, probabilities = encoded.result()
        return features, probabilities, faces

    def _encode(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        feats, probs = [], []
        for start in range(0, len(frames), self.settings.encode_batch):
            f, p = self.encoder.encode(frames[start : start + self.settings.encode_batch])
            feats.append(np.asarray(f, dtype=np.float32))
            probs.append(np.asarray(p, dtype=np.float32))
        return np.concatenate(feats), np.concatenate(probs)

    def _store(self, video_id: int, name: str, path: Path, container: str, decoded: DecodedVideo,
               chunks: _Chunks, folder: Path) -> None:
        file_name = "original" + VIDEO_EXTS[container]
        target = folder / file_name
        try:
            os.link(path, target)  # same filesystem: no copy (the staging link is removed, the file stays)
        except OSError:
            shutil.copyfile(path, target)
        rows = [{"id": self.frame_id(video_id, round(t * 1000)), "video_id": video_id, "t": float(t),
                 "vector": vec.tolist()} for t, vec, _ in chunks.rows]
        frame_rows = [{"id": row["id"], "video_id": video_id, "t": row["t"], "labels": json.dumps(labels)}
                      for row, (_, _, labels) in zip(rows, chunks.rows, strict=True)]
        face_rows = [{"video_id": video_id, "t": float(t), "box": ",".join(map(str, f.box)),
                      "vector": f.vector.astype(np.float32).tobytes()} for t, f in chunks.faces]
        proxy = "pending" if self.settings.playable_proxy and needs_proxy(container, decoded.fourcc) else "none"
        with self._write_lock:
            self.vectors.upsert(self.collection, rows)
            with self.sql.begin() as conn:
                self.sql.insert_ignore(conn, self.frames, frame_rows)
                if face_rows:
                    conn.execute(self.faces.insert(), face_rows)
                self.sql.insert_ignore(conn, self.videos, [{
                    "id": video_id, "name": name[:1024], "file": file_name, "container": container,
                    "codec": decoded.fourcc[:16], "size": target.stat().st_size,
                    "duration_s": round(decoded.duration_s, 3), "fps": decoded.fps, "width": decoded.width,
                    "height": decoded.height, "keyframes": len(rows), "proxy": proxy, "created_at": _now(),
                }])
        if proxy == "pending":
            self._proxies.submit(self._make_proxy, video_id)

    @staticmethod
    def frame_id(video_id: int, ms: int) -> int:
        digest = hashlib.sha256(f"{video_id}:{ms}".encode()).digest()
        return int.from_bytes(digest[:8], "big") >> 11

    def finish_load(self) -> None:
        self.vectors.flush(self.collection)

    # -- playable copies ---------------------------------------------------------------------
    def _resume_proxies(self) -> None:
        with self.sql.begin() as conn:
            pending = conn.execute(select(self.videos.c.id).where(self.videos.c.proxy == "pending")).scalars().all()
        for video_id in pending:
            self._proxies.submit(self._make_proxy, int(video_id))

    def _make_proxy(self, video_id: int) -> None:
        try:
            row = self._video_row(video_id)
        except NotFound:
            return
        folder = self.media / str(video_id)
        tmp = folder / "playable.tmp.webm"
        state = "failed"
        try:
            writer = ProxyWriter(tmp, row["fps"], row["width"], row["height"], self.settings.proxy_max_side)
            try:
                decode_keyframes(folder / row["file"], max_interval_s=3600, analysis_fps=0.01,
                                 min_decoded_fraction=0.0, on_frame=writer)
            finally:
                writer.close()
            tmp.replace(folder / "playable.webm")
            state = "ready"
        except Exception:
            log.exception("cannot write a playable copy of video %s", video_id)
            tmp.unlink(missing_ok=True)
        if folder.exists():
            with self.sql.begin() as conn:
                conn.execute(update(self.videos).where(self.videos.c.id == video_id).values(proxy=state))

    def wait_proxies(self, timeout: float = 120) -> None:
        """Block until queued playable copies are written (tests, benchmarks)."""
        self._proxies.submit(lambda: None).result(timeout=timeout)

    # -- search ------------------------------------------------------------------------------
    def search(self, rgb: np.ndarray, top_k: int) -> list[dict[str, Any]]:
        features, _ = self.encoder.encode([rgb])
        query = np.asarray(features, dtype=np.float32)[0]
        limit = min(MILVUS_MAX_LIMIT, max(64, top_k * 16))
        best: dict[int, dict[str, Any]] = {}
        while True:
            hits = self.vectors.search(self.collection, [query.tolist()], anns_field="vector", limit=limit,
                                       metric_type="COSINE", params={"ef": max(64, limit)},
                                       output_fields=["video_id", "t"])[0]
            for hit in hits:
                vid = int(hit["entity"]["video_id"])
                if vid not in best or hit["distance"] > best[vid]["distance"]:
                    best[vid] = {"video_id": vid, "t": float(hit["entity"]["t"]), "distance": float(hit["distance"])}
            if len(best) >= top_k or len(hits) < limit or limit >= MILVUS_MAX_LIMIT:
                break
            limit = min(MILVUS_MAX_LIMIT, limit * 4)
        ranked = sorted(best.values(), key=lambda h: (-h["distance"], h["video_id"]))[:top_k]
        if self.settings.rerank_videos and ranked:
            prepared = self.matcher.prepare_query(rgb)
            for hit in ranked[: self.settings.rerank_videos]:
                hit["t"] = self._refine_time(query, prepared, hit)
        names = self._names([h["video_id"] for h in ranked])
        results = []
        for hit in ranked:
            if hit["video_id"] not in names:  # deleted meanwhile
                continue
            ms = round(hit["t"] * 1000)
            results.append({
                "video_id": hit["video_id"], "video_name": names[hit["video_id"]],
                "timestamp_s": round(hit["t"], 3), "score": round(min(1.0, max(0.0, hit["distance"])), 4),
                "frame_url": f"videos/{hit['video_id']}/frames/{ms}.jpg",
            })
        return results

    def _refine_time(self, query: np.ndarray, prepared: Any, hit: dict[str, Any]) -> float:
        """The timestamp of the keyframe of one video that the query shows (see :mod:`.rerank`)."""
        vid = int(hit["video_id"])
        limit = self.settings.rerank_frames
        frames = self.vectors.search(self.collection, [query.tolist()], anns_field="vector", limit=limit,
                                     metric_type="COSINE", params={"ef": max(64, limit)},
                                     filter=f"video_id == {vid}", output_fields=["t"])[0]
        if len(frames) < 2:
            return hit["t"]
        folder = self.media / str(vid) / "frames"
        candidates = [(float(f["distance"]), folder / f"{round(float(f['entity']['t']) * 1000)}.jpg") for f in frames]
        index = self.matcher.best(prepared, candidates)
        return float(frames[index]["entity"]["t"])

    def search_bytes(self, data: bytes, top_k: int) -> list[dict[str, Any]]:
        from common.images import decode_image

        return self.search(decode_image(data), top_k)

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        return self.search_bytes(Path(query).read_bytes(), top_k)

    def _names(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        with self.sql.begin() as conn:
            rows = conn.execute(select(self.videos.c.id, self.videos.c.name).where(self.videos.c.id.in_(ids)))
            return {int(r.id): r.name for r in rows}

    # -- videos ------------------------------------------------------------------------------
    def _video_row(self, video_id: int) -> dict[str, Any]:
        with self.sql.begin() as conn:
            row = conn.execute(select(self.videos).where(self.videos.c.id == video_id)).mappings().first()
        if row is None:
            raise NotFound(f"no video {video_id}")
        return dict(row)

    def _public(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": int(row["id"]), "name": row["name"], "duration_s": round(float(row["duration_s"]), 3),
            "fps": round(float(row["fps"]), 3), "width": row["width"], "height": row["height"],
            "size": int(row["size"]), "keyframes": row["keyframes"], "codec": row["codec"],
            "container": row["container"], "playable": row["proxy"] != "pending",
            "stream_url": f"videos/{int(row['id'])}/stream",
            "created_at": row["created_at"].isoformat() if row["created_at"] else None,
        }

    def list_videos(self, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        with self.sql.begin() as conn:
            rows = conn.execute(select(self.videos).order_by(self.videos.c.created_at.desc(), self.videos.c.id)
                                .limit(limit).offset(offset)).mappings().all()
        return [self._public(dict(r)) for r in rows]

    def video(self, video_id: int) -> dict[str, Any]:
        """Metadata, who appears when (enrolled people) and what appears when (ImageNet labels)."""
        out = self._public(self._video_row(video_id))
        with self.sql.begin() as conn:
            frames = conn.execute(select(self.frames.c.id, self.frames.c.t, self.frames.c.labels)
                                  .where(self.frames.c.video_id == video_id).order_by(self.frames.c.t)).all()
            faces = conn.execute(select(self.faces.c.t, self.faces.c.vector)
                                 .where(self.faces.c.video_id == video_id)).all()
        names = self.encoder.labels
        label_hits = []
        for _fid, t, labels in frames:
            for idx, prob in json.loads(labels)[: self.settings.labels_per_frame]:
                if prob >= self.settings.label_min_prob:
                    label_hits.append((names[idx], t, prob))
        out["labels"] = merge_spans(label_hits, self.settings.span_gap_s, "label")
        matched, unknown = self._match_faces([(t, np.frombuffer(v, dtype=np.float32)) for t, v in faces])
        out["faces"] = merge_spans(matched, self.settings.span_gap_s, "person")
        out["unknown_faces"] = unknown
        out["frames"] = [{"timestamp_s": round(t, 3),
                          "frame_url": f"videos/{video_id}/frames/{round(t * 1000)}.jpg"}
                         for _fid, t, _labels in frames]
        return out

    def media_path(self, video_id: int) -> tuple[Path, str]:
        """The file /stream serves (the playable copy when there is one) and its media type."""
        row = self._video_row(video_id)
        folder = self.media / str(video_id)
        proxy = folder / "playable.webm"
        if row["proxy"] == "ready" and proxy.exists():
            return proxy, "video/webm"
        original = folder / row["file"]
        if not original.exists():
            raise NotFound(f"the file of video {video_id} is missing")
        return original, MEDIA_TYPES.get(row["container"], "application/octet-stream")

    def frame_path(self, video_id: int, ms: int) -> Path:
        path = self.media / str(int(video_id)) / "frames" / f"{int(ms)}.jpg"
        if not path.is_file():
            raise NotFound("no such frame")
        return path

    # -- people ------------------------------------------------------------------------------
    def enrol(self, name: str, photos: list[tuple[str, bytes]]) -> dict[str, Any]:
        """Add a person (or more photos of one, by name); every photo must show a face."""
        from common.images import decode_image

        name = name.strip()
        if not name:
            raise InvalidInput("name must not be empty")
        if self.face_model is None:
            raise InvalidInput("face recognition is disabled (VIDEO_FACES_ENABLED=false)")
        vectors, errors = [], []
        for photo_name, data in photos:
            try:
                vec = self.face_model.enrol_vector(decode_image(data))
            except InvalidInput as exc:
                errors.append({"item": photo_name, "error": exc.detail})
                continue
            if vec is None:
                errors.append({"item": photo_name, "error": "no face found"})
            else:
                vectors.append((photo_name, vec))
        if not vectors:
            detail = "; ".join(f"{e['item']}: {e['error']}" for e in errors) or "no photo"
            raise InvalidInput(f"no usable face photo ({detail})")
        person_id = int.from_bytes(hashlib.sha256(f"person:{name}".encode()).digest()[:8], "big") >> 11
        with self.sql.begin() as conn:
            self.sql.insert_ignore(conn, self.people, [{"id": person_id, "name": name[:200], "created_at": _now()}])
            conn.execute(self.person_faces.insert(), [
                {"person_id": person_id, "photo": photo[:512], "vector": vec.astype(np.float32).tobytes()}
                for photo, vec in vectors])
        self._people_cache = None
        person = self.person(person_id)
        person["errors"] = errors
        return person

    def list_people(self) -> list[dict[str, Any]]:
        with self.sql.begin() as conn:
            rows = conn.execute(
                select(self.people.c.id, self.people.c.name, func.count(self.person_faces.c.id).label("photos"))
                .select_from(self.people.outerjoin(self.person_faces,
                                                   self.person_faces.c.person_id == self.people.c.id))
                .group_by(self.people.c.id, self.people.c.name).order_by(self.people.c.name)).all()
        return [{"id": int(r.id), "name": r.name, "photos": int(r.photos)} for r in rows]

    def person(self, person_id: int) -> dict[str, Any]:
        for p in self.list_people():
            if p["id"] == person_id:
                return p
        raise NotFound(f"no person {person_id}")

    def delete_person(self, person_id: int) -> None:
        self.person(person_id)
        with self.sql.begin() as conn:
            conn.execute(delete(self.person_faces).where(self.person_faces.c.person_id == person_id))
            conn.execute(delete(self.people).where(self.people.c.id == person_id))
        self._people_cache = None

    def appearances(self, person_id: int) -> list[dict[str, Any]]:
        """Every video a person appears in, with spans (scans the stored faces of all videos)."""
        person = self.person(person_id)
        out = []
        with self.sql.begin() as conn:
            video_ids = conn.execute(select(self.faces.c.video_id).distinct()).scalars().all()
        for vid in video_ids:
            with self.sql.begin() as conn:
                faces = conn.execute(select(self.faces.c.t, self.faces.c.vector)
                                     .where(self.faces.c.video_id == vid)).all()
            matched, _ = self._match_faces([(t, np.frombuffer(v, dtype=np.float32)) for t, v in faces])
            spans = merge_spans([m for m in matched if m[0] == person["name"]], self.settings.span_gap_s, "person")
            if spans:
                names = self._names([int(vid)])
                out.append({"video_id": int(vid), "video_name": names.get(int(vid), "?"), "spans": spans})
        return out

    def _people_matrix(self) -> tuple[np.ndarray, list[int], dict[int, str]]:
        with self._people_lock:
            if self._people_cache is None:
                with self.sql.begin() as conn:
                    names = {int(r.id): r.name for r in conn.execute(select(self.people.c.id, self.people.c.name))}
                    rows = conn.execute(select(self.person_faces.c.person_id, self.person_faces.c.vector)).all()
                owners = [int(r.person_id) for r in rows if int(r.person_id) in names]
                vecs = [np.frombuffer(r.vector, dtype=np.float32) for r in rows if int(r.person_id) in names]
                matrix = np.stack(vecs) if vecs else np.zeros((0, 128), dtype=np.float32)
                self._people_cache = (matrix, owners, names)
            return self._people_cache

    def _match_faces(self, faces: list[tuple[float, np.ndarray]]) -> tuple[list[tuple[str, float, float]], int]:
        """(person name, t, score) for faces closer than the threshold to an enrolled person; + unknown count."""
        matrix, owners, names = self._people_matrix()
        if not faces:
            return [], 0
        if not len(owners):
            return [], len(faces)
        queries = np.stack([v for _, v in faces])
        dists = np.linalg.norm(queries[:, None, :] - matrix[None, :, :], axis=2)
        matched, unknown = [], 0
        for (t, _), row in zip(faces, dists, strict=True):
            j = int(np.argmin(row))
            if row[j] < self.settings.face_threshold:
                matched.append((names[owners[j]], t, max(0.0, 1.0 - float(row[j]))))
            else:
                unknown += 1
        return matched, unknown

    # -- items -------------------------------------------------------------------------------
    def count(self) -> int:
        with self.sql.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(self.videos)).scalar_one())

    def get_item(self, item_id: int) -> dict[str, Any]:
        return self._public(self._video_row(item_id))

    def delete_item(self, item_id: int) -> None:
        self._video_row(item_id)
        self._remove(item_id)

    def _remove(self, video_id: int) -> None:
        with self._write_lock:
            self.vectors.delete(self.collection, filter=f"video_id == {int(video_id)}")
            with self.sql.begin() as conn:
                conn.execute(delete(self.frames).where(self.frames.c.video_id == video_id))
                conn.execute(delete(self.faces).where(self.faces.c.video_id == video_id))
                conn.execute(delete(self.videos).where(self.videos.c.id == video_id))
        shutil.rmtree(self.media / str(int(video_id)), ignore_errors=True)

    def drop(self) -> int:
        with self._write_lock:
            n = self.count()
            with self.sql.begin() as conn:
                for table in (self.frames, self.faces, self.videos, self.person_faces, self.people):
                    conn.execute(delete(table))
            self.vectors.drop(self.collection)
            self._ensure_collection()
            shutil.rmtree(self.media, ignore_errors=True)
            self.media.mkdir(parents=True, exist_ok=True)
        self._people_cache = None
        return n

    def close(self) -> None:
        self._proxies.shutdown(wait=False, cancel_futures=True)
        self._encode_pool.shutdown(wait=False, cancel_futures=True)


class _Chunks:
    """Collects keyframes while a video decodes and analyses them a chunk at a time."""

    def __init__(self, pipeline: VideoPipeline, frames_dir: Path, size: int = 64) -> None:
        self.pipeline = pipeline
        self.frames_dir = frames_dir
        self.size = size
        self.pending: list[Keyframe] = []
        self.previous_faces: list[Any] = []
        #: (t, feature, stored labels) per keyframe, and (t, face) per detection
        self.rows: list[tuple[float, np.ndarray, list[list[float]]]] = []
        self.faces: list[tuple[float, Any]] = []

    def add(self, keyframe: Keyframe) -> None:
        self.pending.append(keyframe)
        if len(self.pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        settings = self.pipeline.settings
        features, probs, faces = self.pipeline.analyse(self.pending, self.previous_faces)
        for k, vec, prob in zip(self.pending, features, probs, strict=True):
            (self.frames_dir / f"{round(k.t * 1000)}.jpg").write_bytes(
                thumbnail_jpeg(k.rgb, settings.thumb_max_side, settings.thumb_quality))
            top = np.argsort(-prob)[:STORED_LABELS]
            labels = [[int(i), round(float(prob[i]), 4)] for i in top if prob[i] >= STORED_LABEL_FLOOR]
            self.rows.append((k.t, vec, labels))
        self.faces.extend(faces)
        last_t = self.pending[-1].t
        self.previous_faces = [f for t, f in faces if t == last_t]
        self.pending = []


# -- sample data -------------------------------------------------------------------------------
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def make_sample_data(dest: Path) -> Path:
    """Videos to load in ``dest/videos`` (OpenCV's sample clips when installed, else a synthetic clip) and
    ``dest/query.jpg``, a frame 30 s into the first clip (5 s into the synthetic one) to search with."""
    import cv2

    videos = dest / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    clips = [videos / name for name in ("vtest.avi", "Megamind.avi") if (OPENCV_DATA / name).is_file()]
    for clip in clips:
        shutil.copyfile(OPENCV_DATA / clip.name, clip)
    if not clips:
        clips = [write_synthetic_video(videos / "synthetic.avi")]
    cap = cv2.VideoCapture(str(clips[0]))
    try:
        cap.set(cv2.CAP_PROP_POS_MSEC, 30_000 if clips[0].name == "vtest.avi" else 5_000)
        ok, frame = cap.read()
    finally:
        cap.release()
    if ok:
        cv2.imwrite(str(dest / "query.jpg"), frame)
    return dest


def write_synthetic_video(path: Path, seconds: float = 6.0, fps: float = 10.0, size: tuple[int, int] = (320, 240),
                          seed: int = 0) -> Path:
    """A clip of moving coloured shapes whose scene changes halfway (for tests and offline demos)."""
    import cv2

    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    colours = rng.integers(0, 255, size=(2, 3))
    n = int(seconds * fps)
    for i in range(n):
        scene = 0 if i < n // 2 else 1
        frame = np.full((size[1], size[0], 3), 40 + 160 * scene, dtype=np.uint8)
        x = int((i % (n // 2)) / (n // 2) * (size[0] - 60))
        cv2.circle(frame, (30 + x, size[1] // 2), 30, tuple(int(c) for c in colours[scene]), -1)
        writer.write(frame)
    writer.release()
    return path
