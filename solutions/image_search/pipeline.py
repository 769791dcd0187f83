"""The image pipeline: decode → EfficientNet-Lite0 regional descriptor → Milvus, SQL, media files; ORB local
features on demand for the geometric re-ranking of search candidates.

Loading (``process_batch``): each file is read once; its bytes give the content id (images already fully
stored are skipped before any decoding), the sha256 and the pixels. The decode threads decode at the
smallest size the encoder and the thumbnail need and write the stored copy and thumbnail (:mod:`.ingest`,
:mod:`.media`) *while* the encoder runs on the previous chunk, and a writer thread stores the vectors
(:data:`WRITE_ROWS` at a time) while the encoder runs on the next images. The items rows are written last, once
every vector of the batch is stored, so an item is listed once fully stored. Local features are not computed at
ingest (:mod:`.local_cache`).

Labels: every image keeps its top-5 ImageNet classes, searchable by name (``label`` filter) and by words
(:mod:`.labels`). Searching by image: :mod:`.search`.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from pymilvus import DataType
from sqlalchemy import BigInteger, Column, Integer, String, Text

from common.errors import NotFound
from common.files import IMAGE_KINDS, content_id, read_query_file
from common.images import ImageEncoder, decode_image, shared_image_encoder
from common.models import load_model
from common.pipeline import DUPLICATE, NEW, Monitor, Outcome, Pipeline, SampleData, WorkItem, failed
from common.resources import Resources
from common.text import TextEncoder
from common.vectors import CollectionSpec, ScalarField

from .config import ImageSettings
from .features import LocalFeatures, LocalMatcher, global_descriptor
from .ingest import Prepared, Preparer, not_an_image
from .labels import FIELDS, Labels, LabelText
from .local_cache import LocalFeatureCache
from .media import MediaStore, media_type
from .samples import copy_samples
from .search import CopySearch

log = logging.getLogger(__name__)

#: vectors per write to the vector store. Milvus Lite's cost per row falls by half from writes of 4 rows to
#: writes of 64, and fewer, larger writes also make the flush at the end of a load cheaper; a write still
#: overlaps the encoding of the next images.
WRITE_ROWS = 32


class ImagePipeline(Pipeline[ImageSettings]):
    accepted_kinds = IMAGE_KINDS
    noun, nouns = "image", "images"

    def __init__(self, res: Resources, settings: ImageSettings, encoder: ImageEncoder | None = None,
                 text_encoder: TextEncoder | None = None) -> None:
        self.encoder = encoder or _shared_encoder(settings)
        self.labels = Labels(self.encoder.labels)
        super().__init__(res, settings)
        self.label_text = LabelText(text_encoder or _shared_text_encoder(settings), self.labels.names,
                                    settings.models_dir())
        self.media = MediaStore(res.data_dir, settings.thumbnail_px)
        self.max_pixels = int(settings.max_image_mpx * 1_000_000)
        self.preparer = Preparer(self.media, self.encoder.input_size, self.max_pixels)
        self.matcher = LocalMatcher(n_features=settings.orb_features, max_side=settings.orb_max_side)
        self._decoders = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="image-decode")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="image-write")
        self.local = LocalFeatureCache(res.data_dir / "local", self._decoders, self._describe,
                                       settings.local_cache_items)
        self.searcher = CopySearch(settings, self.encoder, self.vectors, self.collections[0].name, self.matcher,
                                   self.local)

    # -- storage ------------------------------------------------------------------------------
    def item_columns(self) -> list[Column[Any]]:
        return [
            Column("media", String(256), nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("sha256", String(64), nullable=False),
            Column("width", Integer, nullable=False),
            Column("height", Integer, nullable=False),
            Column("format", String(16), nullable=False),
            Column("labels", Text, nullable=False),
        ]

    def collection_specs(self) -> list[CollectionSpec]:
        """The image vectors (HNSW, COSINE) with the class indices of their labels beside them, and the label
        probabilities (1000-d, FLAT: text search ranks every image exactly)."""
        s = self.settings
        scalars = tuple(ScalarField(f, DataType.INT64) for f in FIELDS)
        return [CollectionSpec(self.collection_name("vectors"), dim=self.encoder.dim, metric="COSINE",
                               index_params={"M": s.hnsw_m, "efConstruction": s.hnsw_ef_construction},
                               scalars=scalars),
                CollectionSpec(self.collection_name("labels"), dim=len(self.labels.names), metric="IP",
                               index_type="FLAT")]

    @property
    def collection(self) -> str:
        return self.collections[0].name

    @property
    def label_collection(self) -> str:
        return self.collections[1].name

    # -- loading ------------------------------------------------------------------------------
    def refusal(self, kind: str) -> str:
        return not_an_image(kind)

    def process_batch(self, items: list[WorkItem], monitor: Monitor) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(items)
        datas: dict[int, bytes] = {}
        ids: dict[int, int] = {}
        for i, item in enumerate(items):  # each file is read once; content ids first (cheap)
            try:
                datas[i] = item.path.read_bytes() if item.path else b""
            except OSError as exc:
                outcomes[i] = failed(f"cannot read file: {exc.strerror or exc}")
                continue
            ids[i] = content_id(datas[i])
        stored = self.stored_ids(ids.values())
        first: dict[int, int] = {}  # content id -> index of its first file in this batch
        todo: list[int] = []
        for i, item_id in ids.items():
            if item_id in stored:
                outcomes[i] = DUPLICATE
            elif item_id not in first:
                first[item_id] = i
                todo.append(i)
        futures = [self._decoders.submit(self.preparer.prepare, ids[i], datas.pop(i)) for i in todo]
        datas.clear()
        try:
            self._encode_and_store(items, todo, futures, outcomes, monitor)
        except BaseException:
            for fut in futures:
                fut.cancel()
            new = [ids[i] for i in todo]  # nothing of a failed batch stays half-written: no files, no vectors
            self.media.delete(new)
            for spec in self.collections:
                self.vectors.delete(spec.name, ids=new)
            raise
        for i, item_id in ids.items():  # a second file with the same content shares the first one's fate
            if outcomes[i] is None:
                head = outcomes[first[item_id]]
                outcomes[i] = DUPLICATE if head is NEW else head
        return [o if o is not None else failed("not processed") for o in outcomes]

    def _encode_and_store(self, items: list[WorkItem], todo: list[int], futures: list[Future[Prepared | str]],
                          outcomes: list[Outcome | None], monitor: Monitor) -> None:
        """Encode chunk k while the decode threads prepare chunks k+1... and the writer stores the vectors of
        earlier chunks; the items rows last, once every vector is stored."""
        chunk = max(1, self.settings.infer_batch)
        rows: list[dict[str, Any]] = []
        writes: list[Future[None]] = []
        vectors: list[dict[str, Any]] = []
        label_vectors: list[dict[str, Any]] = []
        try:
            for start in range(0, len(todo), chunk):
                ready: list[tuple[int, Prepared]] = []
                for i, fut in zip(todo[start:start + chunk], futures[start:start + chunk], strict=True):
                    result = fut.result()
                    if isinstance(result, str):
                        outcomes[i] = failed(result)
                    else:
                        ready.append((i, result))
                if ready:
                    maps, probs = self.encoder.encode_maps([p.pixels for _, p in ready], batch_size=chunk)
                    for (i, p), vec, top in zip(ready, global_descriptor(maps), self.labels.top(probs), strict=True):
                        vectors.append({"id": p.item_id, "vector": vec.tolist(), **self.labels.fields(top)})
                        label_vectors.append({"id": p.item_id, "vector": self.labels.vector(top)})
                        rows.append(self._row(items[i], p, top))
                if len(vectors) >= WRITE_ROWS or (vectors and start + chunk >= len(todo)):
                    writes.append(self._writer.submit(self._store_vectors, vectors, label_vectors))
                    vectors, label_vectors = [], []
                monitor.partial(min(start + chunk, len(todo)))
        finally:
            wait(writes)  # every write of the batch ends before the batch does, whatever happened
        for write in writes:
            write.result()  # a failed write fails the batch
        if rows:
            with self.sql.begin() as conn:
                self.write_items(conn, rows)  # last: an item is listed once fully stored
            for i in todo:
                if outcomes[i] is None:
                    outcomes[i] = NEW

    def _store_vectors(self, vectors: list[dict[str, Any]], label_vectors: list[dict[str, Any]]) -> None:
        """(writer thread) one chunk's image vectors and label vectors."""
        self.vectors.upsert(self.collection, vectors)
        self.vectors.upsert(self.label_collection, label_vectors)

    @staticmethod
    def _row(item: WorkItem, p: Prepared, top: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": p.item_id, "name": item.label[-1024:], "source": item.source[-2048:], "media": p.media,
                "size": p.size, "sha256": p.sha256, "width": p.width, "height": p.height, "format": p.kind,
                "labels": Labels.dumps(top)}

    def media_present(self, ids: set[int]) -> set[int]:
        return self.media.present(self._media_names(ids))

    def _media_names(self, ids: set[int] | list[int]) -> dict[int, str]:
        return {i: str(r["media"]) for i, r in self.rows(list(ids)).items()}

    # -- searching ----------------------------------------------------------------------------
    def search(self, data: bytes, top_k: int, offset: int = 0, label: str | None = None) -> list[dict[str, Any]]:
        """The page ``offset .. offset + top_k - 1`` of the images ranked for the query image ``data``; with
        ``label``, of the images whose top-5 labels include it (filtered in Milvus, before ranking)."""
        self.check_page(top_k, offset)
        expr = self.labels.filter(label) if label else ""
        query = self.searcher.decode(data)
        ranked = self.searcher.ranking(query, offset + top_k, expr, self._copies)[offset:]
        return self._with_rows(ranked)

    def search_text(self, query: str, top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        """The page ``offset .. offset + top_k - 1`` of the images whose labels best match the words
        (:mod:`.labels`: expected similarity of the words to the image's classes, in [0, 1])."""
        self.check_page(top_k, offset)
        relevance = self.label_text.relevance(query)
        hits = self.vectors.search(self.label_collection, [relevance.tolist()], anns_field="vector",
                                   limit=offset + top_k, metric_type="IP")[0][offset:]
        return self._with_rows([{"id": int(h["id"]), "score": round(min(1.0, max(0.0, float(h["distance"]))), 6)}
                                for h in hits])

    def _with_rows(self, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hits with their name, URLs and labels; an id without an items row (not fully stored yet) is left out."""
        rows = self.rows([h["id"] for h in hits])
        return [{"id": h["id"], "name": rows[h["id"]]["name"], **_urls(h["id"]), **h,
                 "labels": Labels.loads(rows[h["id"]]["labels"])}
                for h in hits if h["id"] in rows]

    def _copies(self, ids: list[int]) -> dict[int, Path]:
        return {i: self.media.copy_path(name) for i, name in self._media_names(ids).items()}

    def _describe(self, data: bytes) -> LocalFeatures:
        return self.matcher.extract(decode_image(data, max_side=self.settings.orb_max_side,
                                                 max_pixels=self.max_pixels))

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        """``bootcamp search image_search PATH``: the query is an image file."""
        return self.search(read_query_file(query), top_k)

    # -- items --------------------------------------------------------------------------------
    def describe(self, row: dict[str, Any]) -> dict[str, Any]:
        out = {**super().describe(row), **_urls(int(row["id"]))}
        out["labels"] = Labels.loads(row.get("labels"))
        return out

    def image_file(self, item_id: int) -> tuple[Path, str]:
        item = self.get_item(item_id)
        path = self.media.copy_path(item["media"])
        if not path.is_file():
            raise NotFound(f"the file of image {item_id} is missing")
        return path, media_type(path)

    def thumbnail_file(self, item_id: int) -> Path:
        self.get_item(item_id)
        path = self.media.thumb_path(item_id)
        if not path.is_file():
            raise NotFound(f"the thumbnail of image {item_id} is missing")
        return path

    def delete_files(self, ids: list[int]) -> None:
        self.media.delete(ids)
        self.local.discard(ids)

    def drop_files(self) -> None:
        self.media.clear()
        self.local.clear()

    def close(self) -> None:
        self._decoders.shutdown(wait=False, cancel_futures=True)
        self._writer.shutdown(wait=False, cancel_futures=True)

    @classmethod
    def sample_data(cls, dest: Path) -> SampleData:
        return copy_samples(dest)


def _urls(item_id: int) -> dict[str, str]:
    return {"image_url": f"items/{item_id}/image", "thumbnail_url": f"items/{item_id}/thumbnail"}


def _shared_text_encoder(settings: ImageSettings) -> TextEncoder:
    model = load_model("all-MiniLM-L6-v2", settings.models_dir(), providers=settings.onnx_providers,
                       threads=settings.encoder_threads)
    assert isinstance(model, TextEncoder)
    return model


def _shared_encoder(settings: ImageSettings) -> ImageEncoder:
    return shared_image_encoder(settings.encoder_precision, settings.models_dir(), providers=settings.onnx_providers,
                                threads=settings.encoder_threads, calibration_dir=settings.encoder_calibration_dir)
