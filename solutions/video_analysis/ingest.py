"""Ingest of one video: decode → keyframes → embeddings, labels and faces, stored a chunk of keyframes at a time.

Keyframes are analysed in chunks of ``chunk_keyframes`` while decoding goes on (a decode thread runs ahead by
at most one chunk, beside the face detector and the encoder), and each chunk is stored at once (its vectors in
Milvus, its frames/labels/faces rows in SQL, its thumbnails on disk), so memory stays flat however long the
video is. Between chunks the ingest reports how far into the video it is and checks for a
cancel. None of this is visible before the video's items row is written (by the pipeline, last); a video whose
ingest stops half-way (cancel, error) has its partial rows, vectors and files removed by :meth:`purge`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from common.images import ImageEncoder
from common.pipeline import Cancelled
from common.sql import SQLStore
from common.vectors import VectorStore

from .config import VideoSettings
from .faces import Face, FaceModel
from .media import MediaFiles
from .store import VideoTables, frame_id
from .video import DecodedVideo, Keyframe, VideoReader, thumbnail_jpeg

log = logging.getLogger(__name__)
T = TypeVar("T")

#: labels kept per keyframe in SQL (the display threshold and count are applied when read)
STORED_LABELS = 5
STORED_LABEL_FLOOR = 0.02


@dataclass
class Watch:
    """How an ingest reports: ``progress(fraction of this video)`` and ``cancelled()``."""

    progress: Callable[[float], None] = lambda _fraction: None
    cancelled: Callable[[], bool] = lambda: False


@dataclass
class _Pending:
    keyframes: list[Keyframe] = field(default_factory=list)
    previous_faces: list[Face] = field(default_factory=list)
    stored_keyframes: int = 0
    stored_faces: int = 0
    #: the pictures whose vector is stored already (:func:`picture_key`): a picture shown again is not stored twice
    stored_pictures: set[bytes] = field(default_factory=set)


class VideoIngest:
    """Analyses and stores videos' keyframes; one instance per pipeline (its encoder thread is reused)."""

    def __init__(self, settings: VideoSettings, encoder: ImageEncoder, face_model: FaceModel | None,
                 vectors: VectorStore, sql: SQLStore, tables: VideoTables, media: MediaFiles, collection: str) -> None:
        self.settings = settings
        self.encoder = encoder
        self.face_model = face_model
        self.vectors = vectors
        self.sql = sql
        self.tables = tables
        self.media = media
        self.collection = collection
        # the encoder (onnxruntime, releases the GIL) runs beside the face detector (dlib)
        self._encode_pool = ThreadPoolExecutor(1, thread_name_prefix="video-encode")

    def close(self) -> None:
        self._encode_pool.shutdown(wait=False, cancel_futures=True)

    # -- one video ------------------------------------------------------------------------------
    def ingest(self, video_id: int, path: Path, watch: Watch) -> DecodedVideo:
        """Analyse and store the keyframes of ``path`` (any earlier partial attempt is removed first).

        A file that stops decoding before its declared end is stored for its readable part (the result says
        ``truncated``). Raises :class:`~.video.VideoError` for a file without a decodable frame and
        :class:`~common.pipeline.Cancelled` when ``watch`` says so; either way nothing of it stays stored.
        """
        s = self.settings
        started = time.perf_counter()
        self.purge(video_id)
        pending = _Pending()
        try:
            with VideoReader(path, max_pixels=int(s.max_image_mpx * 1e6)) as reader:
                keyframes = reader.keyframes(max_interval_s=s.max_interval_s, analysis_fps=s.analysis_fps,
                                             scene_threshold=s.scene_threshold, max_side=s.keyframe_max_side,
                                             max_duration_s=s.max_duration_min * 60)
                with ReadAhead(keyframes, s.chunk_keyframes, f"video-decode-{video_id}") as ahead:
                    for keyframe in ahead:
                        pending.keyframes.append(keyframe)
                        if len(pending.keyframes) >= s.chunk_keyframes:
                            self._store_chunk(video_id, pending, watch)
                            watch.progress(reader.progress(keyframe.index + 1))
                self._store_chunk(video_id, pending, watch)
                decoded = reader.summary()
        except BaseException:
            self.purge(video_id)
            raise
        log.info("video %s: %.1f s, %d keyframes, %d faces in %.2f s", path.name, decoded.duration_s,
                 pending.stored_keyframes, pending.stored_faces, time.perf_counter() - started)
        return decoded

    def purge(self, video_id: int) -> None:
        """Remove whatever is stored of one video except its items row: vectors, child rows, media files."""
        self.vectors.delete(self.collection, filter=f"video_id == {int(video_id)}")
        with self.sql.begin() as conn:
            self.tables.delete_videos(conn, [video_id])
        self.media.remove([video_id])

    # -- chunks ---------------------------------------------------------------------------------
    def _store_chunk(self, video_id: int, pending: _Pending, watch: Watch) -> None:
        if watch.cancelled():
            raise Cancelled
        keyframes, pending.keyframes = pending.keyframes, []
        if not keyframes:
            return
        features, probs, faces = self.analyse(keyframes, pending.previous_faces)
        s = self.settings
        ids = [frame_id(video_id, k.t) for k in keyframes]
        for k in keyframes:
            self.media.write_frame(video_id, k.t, thumbnail_jpeg(k.rgb, s.thumb_max_side, s.thumb_quality))
        label_rows: list[dict[str, object]] = []
        for fid, k, prob in zip(ids, keyframes, probs, strict=True):
            top = np.argsort(-prob)[:STORED_LABELS]
            label_rows.extend({"frame_id": fid, "label": int(c), "video_id": video_id, "t": float(k.t), "rank": rank,
                               "score": round(float(prob[c]), 4)}
                              for rank, c in enumerate(top) if prob[c] >= STORED_LABEL_FLOOR)
        face_rows = [{"video_id": video_id, "t": float(t), "box": ",".join(map(str, f.box)),
                      "vector": f.vector.astype(np.float32).tobytes()} for t, f in faces]
        rows = []
        for fid, k, vec in zip(ids, keyframes, features, strict=True):
            key = picture_key(vec)
            if key not in pending.stored_pictures:
                pending.stored_pictures.add(key)
                rows.append({"id": fid, "video_id": video_id, "t": float(k.t), "vector": vec.tolist()})
        if rows:
            self.vectors.upsert(self.collection, rows)
        with self.sql.begin() as conn:
            self.tables.write_chunk(self.sql, conn, [{"id": fid, "video_id": video_id, "t": float(k.t)}
                                                     for fid, k in zip(ids, keyframes, strict=True)],
                                    label_rows, face_rows)
        last_t = keyframes[-1].t
        pending.previous_faces = [f for t, f in faces if t == last_t]
        pending.stored_keyframes += len(keyframes)
        pending.stored_faces += len(faces)

    def analyse(self, keyframes: list[Keyframe], previous: list[Face]
                ) -> tuple[np.ndarray, np.ndarray, list[tuple[float, Face]]]:
        """Embeddings, label probabilities and faces of some keyframes (``previous``: faces just before)."""
        encoded = self._encode_pool.submit(self._encode, [k.rgb for k in keyframes])
        faces: list[tuple[float, Face]] = []
        try:
            if self.face_model is not None:
                for k in keyframes:
                    previous = self.face_model.faces(k.rgb, self.settings.face_detect_width, previous=previous)
                    faces.extend((k.t, face) for face in previous)
        finally:
            features, probabilities = encoded.result()
        return features, probabilities, faces

    def _encode(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        features, probs = self.encoder.encode(frames, batch_size=self.settings.encode_batch)
        return np.asarray(features, dtype=np.float32), np.asarray(probs, dtype=np.float32)


def picture_key(vector: np.ndarray) -> bytes:
    """The same picture gives the same key (its feature, normalised and rounded past the encoder's float noise).

    A still scene, slides or a title card shown again give one keyframe a second with exactly the same feature.
    Only the first is stored in Milvus (the frame, labels and faces rows keep every keyframe): HNSW graphs do not
    reach every copy of a vector stored many times, and whole other videos went missing from the search results.
    """
    unit = vector / (float(np.linalg.norm(vector)) or 1.0)
    return hashlib.blake2b(np.round(unit, 5).astype(np.float32).tobytes(), digest_size=16).digest()


_DONE = object()


class ReadAhead(Generic[T]):
    """Iterates ``source`` in a thread of its own, at most ``depth`` items ahead of the consumer.

    Decoding a video (one core) then overlaps the analysis of the keyframes already found. Leaving the ``with``
    block early (a cancel, an error) stops the thread before the source is closed; an error of the source is
    raised in the consumer.
    """

    def __init__(self, source: Iterator[T], depth: int, name: str) -> None:
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting for room
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _run(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        self._put(_DONE)

    def _put(self, item: object) -> bool:
        """Queue ``item`` once there is room; False when the consumer has gone."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                if self._error is not None:
                    raise self._error
                return
            yield item  # type: ignore[misc]
