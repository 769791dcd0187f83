"""The video pipeline: what the video demo declares to the common base, and the parts it delegates to.

A load hands each video file to :class:`~.ingest.VideoIngest` (decode → keyframes → embeddings, labels, faces,
stored a chunk at a time, with progress and cancel between chunks), keeps a copy of the file, and writes the
video's items row last: a video is listed only once fully stored. The other concerns live in their modules:

==================  =========================================================================================
:mod:`.store`       the SQL tables beside the items table, the Milvus collection of keyframes
:mod:`.media`       the media folder: stored copies, keyframe thumbnails, playable copies
:mod:`.proxies`     browser-playable WebM copies, written in the background
:mod:`.people`      enrolled people; who appears where, from the stored faces
:mod:`.search`      search by image (best keyframe per video, moment re-ranked)
:mod:`.moments`     moments across all videos, by label, words or person
:mod:`.samples`     sample data (real clips from Debian opencv-doc)
==================  =========================================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Column, delete, select
from sqlalchemy.engine import Connection

from common.errors import NotFound
from common.files import file_content_id, read_query_file, sniff_file
from common.images import ImageEncoder, decode_image, shared_image_encoder
from common.models import load_model
from common.pipeline import DUPLICATE, NEW, Monitor, Outcome, Pipeline, SampleData, WorkItem, failed, warned
from common.pool import cpu_threads
from common.resources import Resources
from common.vectors import CollectionSpec

from .config import VideoSettings
from .faces import FaceModel, load_face_model
from .ingest import VideoIngest, Watch
from .media import MediaFiles, frame_url
from .moments import LabelWords, Moments, TextModel
from .people import PeopleRegistry
from .proxies import NONE, PENDING, READY, ProxyMaker
from .samples import write_sample_data
from .search import FrameSearch
from .spans import merge_spans
from .store import VideoTables, frames_spec, item_columns
from .video import ACCEPTED_KINDS, DecodedVideo, VideoError, container_of, formats_text, needs_proxy

log = logging.getLogger(__name__)


class VideoPipeline(Pipeline[VideoSettings]):
    accepted_kinds = ACCEPTED_KINDS
    noun, nouns = "video", "videos"

    def __init__(self, res: Resources, settings: VideoSettings, encoder: ImageEncoder | None = None,
                 face_model: FaceModel | None = None, text_model: TextModel | None = None) -> None:
        self.tables = VideoTables.define(res.sql.metadata, settings.store_prefix)
        super().__init__(res, settings)
        providers, threads = settings.onnx_providers, cpu_threads()
        self.encoder = encoder or shared_image_encoder(settings.encoder_precision, settings.models_dir(),
                                                       providers=providers, threads=threads,
                                                       calibration_dir=settings.encoder_calibration_dir)
        if face_model is None and settings.faces_enabled:
            face_model = load_face_model(settings.face_landmarks,
                                         settings.models_dir() if settings.face_embedder == "onnx" else None,
                                         tuple(settings.onnx_providers))
        self.media = MediaFiles(res.data_dir / "media")
        self.people = PeopleRegistry(res.sql, self.tables, self.items, face_model, settings)

        def text_encoder() -> TextModel:  # loaded by warm_up, or by the first search by words
            return text_model or cast(TextModel, load_model("all-MiniLM-L6-v2", settings.models_dir(),
                                                            providers=providers, threads=threads))

        self.moments = Moments(res.sql, self.items, self.tables, self.people,
                               LabelWords(self.encoder.labels, text_encoder), settings)
        self.frames = FrameSearch(settings, self.encoder, res.vectors, self.frames_collection, self.media,
                                  self.listed_names)
        self.ingester = VideoIngest(settings, self.encoder, face_model, res.vectors, res.sql, self.tables,
                                    self.media, self.frames_collection)
        self.proxies = ProxyMaker(res.sql, self.items, self.media, settings.proxy_max_side)
        res.sql.create_all()
        self.proxies.resume()

    # -- storage --------------------------------------------------------------------------------
    def item_columns(self) -> list[Column[Any]]:
        return item_columns()

    def collection_specs(self) -> list[CollectionSpec]:
        return [frames_spec(self.collection_name("frames"))]

    @property
    def frames_collection(self) -> str:
        return self.collections[0].name

    def media_present(self, ids: set[int]) -> set[int]:
        return self.media.present(ids)

    def delete_extra_rows(self, conn: Connection, ids: list[int]) -> None:
        self.proxies.abandon(ids)
        self.tables.delete_videos(conn, ids)

    def delete_files(self, ids: list[int]) -> None:
        self.media.remove(ids)

    def drop_extra_rows(self, conn: Connection) -> None:
        self.proxies.abandon_all()
        self.tables.drop(conn)

    def drop_files(self) -> None:
        self.media.clear()

    def warm_up(self) -> None:
        self.moments.words.prepare()

    def close(self) -> None:
        self.proxies.close()
        self.ingester.close()

    # -- loading --------------------------------------------------------------------------------
    def refusal(self, kind: str) -> str:
        return f"not a supported file (content looks like {kind}; expected a video: {formats_text()})"

    def process_batch(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        outcomes = []
        for done, item in enumerate(items):
            outcomes.append(self.load_video(item, _watch(monitor, done)))
            monitor.partial(done + 1)
        return outcomes

    def load_video(self, item: WorkItem, watch: Watch) -> Outcome:
        """Store one video: its keyframes (:mod:`.ingest`), its file, then its items row."""
        if item.path is None:
            return failed("no file")
        path = item.path
        with path.open("rb") as fh:
            head = fh.read(64)
        container = container_of(str(item.data or sniff_file(path)), head)
        video_id, sha256 = file_content_id(path)
        if self.stored_ids([video_id]):
            return DUPLICATE
        with self.sql.begin() as conn:  # a row whose vectors or files went is unlisted: the video is stored again
            conn.execute(delete(self.items).where(self.items.c.id == video_id))
        try:
            decoded = self.ingester.ingest(video_id, path, watch)
        except VideoError as exc:
            return failed(str(exc))
        try:
            file, size = self.media.store_original(video_id, path, container)
            proxy = PENDING if self.settings.playable_proxy and needs_proxy(container, decoded.fourcc) else NONE
            with self.sql.begin() as conn:
                self.write_items(conn, [{
                    "id": video_id, "name": item.label[:1024], "source": item.source[-2048:], "file": file,
                    "container": container, "codec": decoded.fourcc[:16], "size": size, "sha256": sha256,
                    "duration_s": round(decoded.duration_s, 3),
                    "declared_duration_s": round(decoded.declared_duration_s, 3), "truncated": decoded.truncated,
                    "fps": decoded.fps, "width": decoded.width, "height": decoded.height,
                    "keyframes": decoded.keyframes, "proxy": proxy,
                }])
        except BaseException:
            self.ingester.purge(video_id)
            raise
        if proxy == PENDING:
            self.proxies.submit(video_id)
        return warned(truncation_warning(decoded, self.settings)) if decoded.truncated else NEW

    # -- items ----------------------------------------------------------------------------------
    def describe(self, row: dict[str, Any]) -> dict[str, Any]:
        out = super().describe(row)
        video_id = int(row["id"])
        return {
            "id": video_id, "name": row["name"], "duration_s": round(float(row["duration_s"]), 3),
            "declared_duration_s": round(float(row["declared_duration_s"]), 3), "truncated": bool(row["truncated"]),
            "fps": round(float(row["fps"]), 3), "width": int(row["width"]), "height": int(row["height"]),
            "size": int(row["size"]), "sha256": row["sha256"], "keyframes": int(row["keyframes"]),
            "codec": row["codec"], "container": row["container"], "playable": row["proxy"] != PENDING,
            "stream_url": f"videos/{video_id}/stream", "added_at": out["added_at"],
        }

    def listed_names(self, ids: list[int]) -> dict[int, str]:
        """Names of the videos among ``ids`` that are listed (fully stored)."""
        return {i: str(r["name"]) for i, r in self.rows(ids).items()}

    def video(self, video_id: int) -> dict[str, Any]:
        """Metadata, who appears when (enrolled people), what appears when (ImageNet labels), keyframes."""
        out = self.get_item(video_id)
        t, s = self.tables, self.settings
        with self.sql.begin() as conn:
            times = conn.execute(select(t.frames.c.t).where(t.frames.c.video_id == video_id)
                                 .order_by(t.frames.c.t)).scalars().all()
            labels = conn.execute(select(t.labels.c.label, t.labels.c.t, t.labels.c.score).where(
                t.labels.c.video_id == video_id, t.labels.c.rank < s.labels_per_frame,
                t.labels.c.score >= s.label_min_prob)).all()
        names = self.encoder.labels
        out["labels"] = merge_spans([(names[int(label)], float(at), float(score)) for label, at, score in labels],
                                    s.span_gap_s, "label")
        out["faces"], out["unknown_faces"] = self.people.video_faces(video_id)
        out["frames"] = [{"timestamp_s": round(float(x), 3), "frame_url": frame_url(video_id, float(x))}
                         for x in times]
        return out

    def stream_file(self, video_id: int) -> tuple[Path, str]:
        """The file ``/stream`` serves (the playable copy when there is one) and its media type."""
        row = self.rows([video_id]).get(int(video_id))
        if row is None:
            raise NotFound(f"no video {video_id}")
        return self.media.stream(video_id, row["file"], row["container"], row["proxy"] == READY)

    def frame_file(self, video_id: int, ms: int) -> Path:
        return self.media.frame_file(video_id, ms)

    # -- searching ------------------------------------------------------------------------------
    def search_bytes(self, data: bytes, top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        self.check_page(top_k, offset)
        # no larger than the keyframes it is compared with: a large JPEG decodes at a reduced scale (as in the image
        # demo), so a phone photo over MAX_IMAGE_MPX is searched, and a PNG of that size is refused before decoding
        s = self.settings
        rgb = decode_image(data, max_side=s.keyframe_max_side, max_pixels=int(s.max_image_mpx * 1e6))
        return self.frames.search(rgb, top_k, offset)

    def search_reading(self, read: Callable[[], bytes], top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        """:meth:`search_bytes` of an image read only now (a batch holds one query image at a time)."""
        return self.search_bytes(read(), top_k, offset)

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        """``bootcamp search video_analysis PATH``: the query is an image file."""
        return self.search_bytes(read_query_file(query), top_k)

    @classmethod
    def sample_data(cls, dest: Path) -> SampleData:
        return write_sample_data(dest)


def _watch(monitor: Monitor, done: int) -> Watch:
    """Progress inside item ``done`` of a batch (a video 40 % analysed is 0.4), and the load's cancel."""
    return Watch(progress=lambda fraction: monitor.partial(done + fraction), cancelled=monitor.cancelled)


def truncation_warning(decoded: DecodedVideo, settings: VideoSettings) -> str:
    """Why a stored video is shorter than it says (the task lists it as a warning)."""
    if decoded.cut_at_limit:
        return (f"longer than {settings.max_duration_min:g} minutes (VIDEO_MAX_DURATION_MIN): indexed the first "
                f"{decoded.duration_s:.1f} s")
    return (f"truncated or damaged: decoded {decoded.decoded_frames} of {decoded.declared_frames} frames; indexed "
            f"the readable {decoded.duration_s:.1f} s of {decoded.declared_duration_s:.1f} s")
