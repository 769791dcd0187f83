"""The image pipeline: decode → EfficientNet-Lite0 regional descriptor → Milvus, SQL, media files;
ORB local features on demand for the geometric re-ranking of search candidates.

Loading (``process_batch``): each file is read once; its bytes give the content id (duplicates of stored
images are skipped before any decoding), the sha256 and the decoded pixels. ``decode_threads`` worker
threads decode at the smallest size the encoder and the thumbnail need, make the thumbnail and the
encoder's 224 x 224 input *while* the encoder (onnxruntime) runs on the previous chunk. Every stored image
is copied into the service's media directory (uploads are staged in a temporary folder that is deleted
after the load), with a JPEG thumbnail. Ingest does nothing for local features.

Searching: the query's global descriptor finds ``rerank_candidates`` neighbours in Milvus (HNSW,
COSINE); each is checked with ORB matches + a RANSAC similarity transform + the normalised
cross-correlation (NCC) of the aligned pictures. Verified copies come first (by NCC + 0.2 x cosine),
then the rest by cosine. A candidate's ORB features are computed the first time a search needs them,
from its stored copy, in the decode threads (several candidates in parallel, while the search thread
describes the query), then kept in ``local/<id>.npz`` and an in-memory LRU.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image
from pymilvus import DataType
from sqlalchemy import BigInteger, Column, Integer, String, Table, delete, func, select

from common.errors import InvalidInput, NotFound, UnsupportedMediaType
from common.images import ImageEncoder, decode_image
from common.safety import sniff, sniff_file
from common.service import Resources, WorkItem, content_id, iter_files, label_for

from .config import ImageSettings
from .features import LocalFeatures, LocalMatcher, global_descriptor

log = logging.getLogger(__name__)

IMAGE_KINDS = frozenset({"jpeg", "png", "gif", "webp", "bmp", "tiff"})
EXT = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "bmp": ".bmp", "tiff": ".tif"}
MEDIA_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".webp": "image/webp",
               ".bmp": "image/bmp", ".tif": "image/tiff"}


LOCAL_CACHE_ITEMS = 2000  # local features kept in memory (about 25 kB each)


@dataclass
class Prepared:
    """One decoded file, ready for the encoder; its copy and thumbnail are written already."""

    item_id: int
    kind: str
    media: str
    size: int
    sha256: str
    pixels: np.ndarray  # the encoder's input size
    width: int
    height: int


class ImagePipeline:
    accepted_kinds = IMAGE_KINDS

    def __init__(self, res: Resources, settings: ImageSettings, encoder: ImageEncoder | None = None) -> None:
        self.settings = settings
        self.vectors = res.vectors
        self.sql = res.sql
        self.batch_size = settings.batch_size
        self.collection = settings.collection
        self.root = res.data_dir
        self.media_dir = self.root / "media"
        self.thumb_dir = self.root / "thumbs"
        self.local_dir = self.root / "local"
        for d in (self.media_dir, self.thumb_dir, self.local_dir):
            d.mkdir(parents=True, exist_ok=True)
        cache = settings.model_cache_dir or (self.root / "models")
        self.encoder = encoder or ImageEncoder.load(cache, threads=settings.encoder_threads)
        self.matcher = LocalMatcher(n_features=settings.orb_features, max_side=settings.orb_max_side)
        self._decoders = ThreadPoolExecutor(settings.decode_threads, thread_name_prefix="image-decode")
        self._local_cache: OrderedDict[int, LocalFeatures] = OrderedDict()
        self._pending: dict[int, Future[LocalFeatures | None]] = {}  # local features being computed
        self._cache_lock = threading.Lock()  # the two above, and the npz / media files of an id
        self.table = Table(
            f"{settings.table_prefix}_items", res.sql.metadata,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("name", String(1024), nullable=False),
            Column("source", String(2048), nullable=False),
            Column("media", String(256), nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("sha256", String(64), nullable=False),
            Column("width", Integer, nullable=False),
            Column("height", Integer, nullable=False),
            Column("format", String(16), nullable=False),
            Column("labels", String(512), nullable=False),
            extend_existing=True,
        )
        self._ensure_collection()

    # ------------------------------------------------------------------ storage layout
    def _ensure_collection(self) -> None:
        schema = self.vectors.new_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.encoder.dim)
        schema.add_field("name", DataType.VARCHAR, max_length=1024)
        index = self.vectors.new_index_params()
        index.add_index("vector", index_type="HNSW", metric_type="COSINE",
                        params={"M": self.settings.hnsw_m, "efConstruction": self.settings.hnsw_ef_construction})
        self.vectors.ensure_collection(self.collection, schema, index)

    def _local_path(self, item_id: int) -> Path:
        return self.local_dir / f"{item_id}.npz"

    def _thumb_path(self, item_id: int) -> Path:
        return self.thumb_dir / f"{item_id}.jpg"

    # ------------------------------------------------------------------ loading
    def list_items(self, path: Path, root: Path):
        for file in iter_files(path):
            label = label_for(file, root)
            kind = sniff_file(file)
            if kind not in IMAGE_KINDS:
                yield WorkItem(label, file, error=f"not an image (content looks like {kind})")
            else:
                yield WorkItem(label, file, data=str(file))

    def _prepare(self, item_id: int, data: bytes) -> Prepared | str:
        """Decode one file, resize it for the encoder, store its copy and thumbnail (in a decode thread).

        The metadata row, written last by ``process_batch``, is what makes the item exist: files of a
        batch that fails are rewritten by its retry (same content, same id).
        """
        kind = sniff(data[:64])
        if kind not in IMAGE_KINDS:
            return f"not an image (content looks like {kind})"
        try:
            with Image.open(io.BytesIO(data)) as img:
                w, h = img.size
        except Exception as exc:
            return f"not a readable image: {exc}"
        # the smallest reduced-scale JPEG decode that keeps the thumbnail's long side and the encoder's
        # short side (a non-JPEG decodes at full size whatever max_side says)
        need = max(self.settings.thumbnail_px, math.ceil(self.encoder.input_size * max(w, h) / max(1, min(w, h))))
        try:
            rgb = decode_image(data, max_side=need)
        except InvalidInput as exc:
            return exc.detail
        dh, dw = rgb.shape[:2]
        if (w - h) * (dw - dh) < 0:  # EXIF rotation by 90 degrees: report the size as displayed
            w, h = h, w
        media = f"{item_id}{EXT[kind]}"
        _atomic_write(self.media_dir / media, data)
        _atomic_write(self._thumb_path(item_id), self._thumbnail(rgb))
        return Prepared(item_id, kind, media, len(data), hashlib.sha256(data).hexdigest(), self._encoder_input(rgb),
                        w, h)

    def _encoder_input(self, rgb: np.ndarray) -> np.ndarray:
        """The resize ``common.images.preprocess`` does, so it has none left: done in the caller's thread
        (a decode thread at ingest). Pillow's bilinear filter, not OpenCV's area resize: measured, the latter
        costs 1.5 points of global recall@1."""
        size = self.encoder.input_size
        img = Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(img)

    def _thumbnail(self, rgb: np.ndarray) -> bytes:
        # OpenCV's area resize by a whole factor, then bilinear for the rest (less than 2x): about 2.5x faster
        # than an area resize straight to the size, and 3x than Pillow's thumbnail()
        scale = min(1.0, self.settings.thumbnail_px / max(rgb.shape[:2]))
        k = min(int(1 / scale), *rgb.shape[:2])  # keeps at least one pixel a side
        if k >= 2:
            rgb = cv2.resize(rgb, None, fx=1 / k, fy=1 / k, interpolation=cv2.INTER_AREA)
            scale = min(1.0, self.settings.thumbnail_px / max(rgb.shape[:2]))
        if scale < 1:
            h, w = rgb.shape[:2]
            rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_LINEAR)
        img = Image.fromarray(rgb)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        return buf.getvalue()

    def _existing(self, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        with self.sql.begin() as conn:
            return {int(r[0]) for r in conn.execute(select(self.table.c.id).where(self.table.c.id.in_(ids)))}

    def process_batch(self, items: list[WorkItem]) -> list[str | None]:
        errors: list[str | None] = [None] * len(items)
        # each file is read once; content ids first (cheap), so duplicates of stored images are not decoded
        datas: dict[int, bytes] = {}
        ids: dict[int, int] = {}
        for i, item in enumerate(items):
            try:
                datas[i] = item.path.read_bytes()
            except OSError as exc:
                errors[i] = f"cannot read file: {exc.strerror or exc}"
                continue
            ids[i] = content_id(datas[i])
        stored = self._existing(sorted(set(ids.values())))
        seen: set[int] = set()
        todo = []
        for i, item_id in ids.items():
            if item_id in stored or item_id in seen:
                continue  # stored once: a duplicate is a success, not an error
            seen.add(item_id)
            todo.append(i)
        # decode in background threads; encode chunk k while chunk k+1.. are being decoded
        futures = [self._decoders.submit(self._prepare, ids[i], datas.pop(i)) for i in todo]
        datas.clear()
        chunk = max(1, self.settings.infer_batch)
        rows: list[dict[str, Any]] = []
        meta: list[dict[str, Any]] = []
        for start in range(0, len(todo), chunk):
            ready: list[tuple[int, Prepared]] = []
            for i, fut in zip(todo[start:start + chunk], futures[start:start + chunk], strict=True):
                result = fut.result()
                if isinstance(result, str):
                    errors[i] = result
                else:
                    ready.append((i, result))
            if not ready:
                continue
            maps, probs = self.encoder.encode_maps([p.pixels for _, p in ready], batch_size=chunk)
            vecs = global_descriptor(maps)
            labels = self.encoder.top_labels(probs, 3)
            self._rows(items, ready, vecs, labels, rows, meta)
        if rows:  # one write per batch to each store; metadata last: an item is listed once fully stored
            self.vectors.upsert(self.collection, rows)
            with self.sql.begin() as conn:
                self.sql.upsert(conn, self.table, meta)
        return errors

    @staticmethod
    def _rows(items: list[WorkItem], ready: list[tuple[int, Prepared]], vecs: np.ndarray,
              labels: list[list[tuple[str, float]]], rows: list[dict[str, Any]], meta: list[dict[str, Any]]) -> None:
        for (i, p), vec, top in zip(ready, vecs, labels, strict=True):
            name = items[i].label[-1024:]
            rows.append({"id": p.item_id, "vector": vec.tolist(), "name": name})
            meta.append({
                "id": p.item_id, "name": name, "source": str(items[i].path)[-2048:], "media": p.media,
                "size": p.size, "sha256": p.sha256, "height": p.height, "width": p.width, "format": p.kind,
                "labels": ", ".join(f"{lab} {prob:.2f}" for lab, prob in top)[:512],
            })

    def finish_load(self) -> None:
        self.vectors.flush(self.collection)

    # ------------------------------------------------------------------ search
    def decode_query(self, data: bytes) -> np.ndarray:
        if not data:
            raise InvalidInput("empty query file")
        kind = sniff(data[:64])
        if kind not in IMAGE_KINDS:
            raise UnsupportedMediaType(f"the query is not an image (content looks like {kind})")
        return decode_image(data, max_side=self.settings.orb_max_side)

    def search(self, data: bytes, top_k: int) -> list[dict[str, Any]]:
        rgb = self.decode_query(data)
        maps, _ = self.encoder.encode_maps([self._encoder_input(rgb)])
        vec = global_descriptor(maps)[0]
        n_check = self.settings.rerank_candidates
        limit = max(top_k, n_check)
        hits = self.vectors.search(self.collection, [vec.tolist()], anns_field="vector", limit=limit,
                                   metric_type="COSINE", params={"ef": max(self.settings.hnsw_ef, limit)},
                                   output_fields=["name"])[0]
        cands = [{"id": int(h["id"]), "name": h["entity"]["name"], "cosine": float(h["distance"]),
                  "inliers": 0, "ncc": 0.0} for h in hits]
        if n_check and cands:
            checked = cands[:n_check]
            locals_ = self._local_features([c["id"] for c in checked])  # computing while the query is
            query_local = self.matcher.extract(rgb)
            for cand in checked:
                local = locals_[cand["id"]]
                if isinstance(local, Future):
                    local = local.result()
                if local is not None:
                    cand["inliers"], cand["ncc"] = self.matcher.verify(query_local, local)
        return rank(cands, top_k, self.settings.min_inliers, self.settings.min_ncc)

    # ------------------------------------------------------------------ local features (lazy)
    def _local_features(self, ids: list[int]) -> dict[int, LocalFeatures | Future[LocalFeatures | None]]:
        """Each id's local features from the LRU, else a future of the decode pool that loads its npz or,
        the first time, computes them from the stored copy. One computation per id however many searches
        ask at once."""
        out: dict[int, LocalFeatures | Future[LocalFeatures | None]] = {}
        with self._cache_lock:
            for item_id in ids:
                hit = self._local_cache.get(item_id)
                if hit is not None:
                    self._local_cache.move_to_end(item_id)
                    out[item_id] = hit
                elif item_id in self._pending:
                    out[item_id] = self._pending[item_id]
        missing = [i for i in ids if i not in out]
        if not missing:
            return out
        new = [i for i in missing if not self._local_path(i).is_file()]
        media = self._media_names(new) if new else {}
        with self._cache_lock:
            for item_id in missing:
                fut = self._pending.get(item_id)
                if fut is None:
                    fut = self._decoders.submit(self._fetch_local, item_id, media.get(item_id))
                    self._pending[item_id] = fut
                out[item_id] = fut
        return out

    def _media_names(self, ids: list[int]) -> dict[int, str]:
        with self.sql.begin() as conn:
            rows = conn.execute(select(self.table.c.id, self.table.c.media).where(self.table.c.id.in_(ids)))
            return {int(r[0]): str(r[1]) for r in rows}

    def _fetch_local(self, item_id: int, media: str | None) -> LocalFeatures | None:
        """(decode thread) an item's local features: its npz, else ORB on its stored copy, saved as npz.

        None when neither exists (an item deleted meanwhile). The npz is written under the cache lock
        only while the stored copy still exists, so a concurrent delete leaves no orphan behind.
        """
        try:
            local: LocalFeatures | None = None
            try:
                local = LocalFeatures.from_bytes(self._local_path(item_id).read_bytes())
                media_path = None
            except (OSError, ValueError, KeyError):
                media_path = self.media_dir / media if media else None
            if local is None and media_path is not None:
                try:
                    rgb = decode_image(media_path.read_bytes(), max_side=self.settings.orb_max_side)
                except (OSError, InvalidInput) as exc:
                    log.warning("no local features for image %d: %s", item_id, exc)
                    return None
                local = self.matcher.extract(rgb)
            with self._cache_lock:
                if local is None:
                    return None
                if media_path is not None:
                    if not media_path.is_file():
                        return None  # deleted meanwhile
                    _atomic_write(self._local_path(item_id), local.to_bytes())
                self._local_cache[item_id] = local
                while len(self._local_cache) > LOCAL_CACHE_ITEMS:
                    self._local_cache.popitem(last=False)
            return local
        finally:
            with self._cache_lock:
                self._pending.pop(item_id, None)

    def cli_search(self, query: str, top_k: int) -> list[dict[str, Any]]:
        """``bootcamp search image_search PATH``: the query is an image file."""
        try:
            data = Path(query).read_bytes()
        except OSError as exc:
            raise NotFound(f"cannot read query image {query!r}: {exc.strerror or exc}") from exc
        return self.search(data, top_k)

    # ------------------------------------------------------------------ items
    def count(self) -> int:
        with self.sql.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())

    def get_item(self, item_id: int) -> dict[str, Any]:
        with self.sql.begin() as conn:
            row = conn.execute(select(self.table).where(self.table.c.id == item_id)).mappings().first()
        if row is None:
            raise NotFound(f"no image with id {item_id}")
        out = dict(row)
        out["image_url"] = f"items/{item_id}/image"
        out["thumbnail_url"] = f"items/{item_id}/thumbnail"
        return out

    def image_file(self, item_id: int) -> tuple[Path, str]:
        item = self.get_item(item_id)
        path = self.media_dir / item["media"]
        if not path.is_file():
            raise NotFound(f"the file of image {item_id} is missing")
        return path, MEDIA_TYPES.get(path.suffix, "application/octet-stream")

    def thumbnail_file(self, item_id: int) -> Path:
        self.get_item(item_id)
        path = self._thumb_path(item_id)
        if not path.is_file():
            raise NotFound(f"the thumbnail of image {item_id} is missing")
        return path

    def delete_item(self, item_id: int) -> None:
        item = self.get_item(item_id)
        self.vectors.delete(self.collection, ids=[item_id])
        with self.sql.begin() as conn:
            conn.execute(delete(self.table).where(self.table.c.id == item_id))
        with self._cache_lock:  # see _fetch_local
            for path in (self.media_dir / item["media"], self._thumb_path(item_id), self._local_path(item_id)):
                path.unlink(missing_ok=True)
            self._local_cache.pop(item_id, None)

    def drop(self) -> int:
        n = self.count()
        with self.sql.begin() as conn:
            conn.execute(delete(self.table))
        self.vectors.drop(self.collection)
        self._ensure_collection()
        with self._cache_lock:
            for d in (self.media_dir, self.thumb_dir, self.local_dir):
                shutil.rmtree(d, ignore_errors=True)
                d.mkdir(parents=True, exist_ok=True)
            self._local_cache.clear()
        return n

    def close(self) -> None:
        self._decoders.shutdown(wait=False, cancel_futures=True)


def rank(cands: list[dict[str, Any]], top_k: int, min_inliers: int, min_ncc: float) -> list[dict[str, Any]]:
    """Verified copies first (by aligned NCC + 0.2 x cosine), then the rest by cosine; scores non-increasing.

    A copy's score is ``0.5 + 0.5 * ncc`` (a perfect aligned match scores 1); an unverified candidate keeps
    its cosine, capped so the list stays ordered.
    """
    copies = [c for c in cands if c["inliers"] >= min_inliers and c["ncc"] >= min_ncc]
    others = [c for c in cands if not (c["inliers"] >= min_inliers and c["ncc"] >= min_ncc)]
    copies.sort(key=lambda c: (c["ncc"] + 0.2 * c["cosine"], c["inliers"]), reverse=True)
    others.sort(key=lambda c: c["cosine"], reverse=True)
    out, cap = [], 1.0
    for c in (copies + others)[:top_k]:
        is_copy = c["inliers"] >= min_inliers and c["ncc"] >= min_ncc
        score = 0.5 + 0.5 * c["ncc"] if is_copy else max(0.0, c["cosine"])
        cap = min(cap, score)
        out.append({"id": c["id"], "name": c["name"], "score": round(float(min(1.0, cap)), 6),
                    "image_url": f"items/{c['id']}/image", "thumbnail_url": f"items/{c['id']}/thumbnail",
                    "match": "copy" if is_copy else "similar", "cosine": round(float(c["cosine"]), 6),
                    "inliers": int(c["inliers"])})
    return out


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_sample_data(dest: Path) -> Path:
    """Copy the photos, screenshots and diagrams of Debian ``opencv-doc`` into ``dest/images``."""
    out = dest / "images"
    out.mkdir(parents=True, exist_ok=True)
    src = Path("/usr/share/doc/opencv-doc/examples/data")
    if src.is_dir():
        for path in sorted(src.iterdir()):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png") and path.is_file():
                shutil.copy2(path, out / path.name)
    else:  # no opencv-doc: a few generated pictures so the demo still has something to show
        rng = np.random.default_rng(0)
        for i in range(12):
            arr = (rng.random((8, 8, 3)) * 255).astype(np.uint8)
            Image.fromarray(arr).resize((320, 240), Image.BICUBIC).save(out / f"pattern-{i:02d}.png")
    return out
