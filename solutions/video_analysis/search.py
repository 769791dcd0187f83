"""Search by image: the videos whose keyframes look most like a picture, best keyframe per video.

The query's EfficientNet-Lite0 feature is searched among all keyframes (cosine); each video is ranked by its
best keyframe, and no video comes twice. Candidates are fetched ``search_candidates`` keyframes first, four
times more while fewer listed videos than ``offset + top_k`` were found (a video still loading, whose keyframes
are already in Milvus, is not listed and never returned). The candidate schedule does not depend on the page,
so two pages equal one longer query.

A short page of hits does not mean the keyframes ran out: Milvus Lite's HNSW search can return fewer hits than
the limit while more rows exist (442 hits for a limit of 16,384 over 2,004 rows), and a video none of whose
keyframes the graph reached would be missing. The end of the keyframes is told by the collection's row count:
when the index returns fewer hits than both the limit and the rows, the videos are ranked by an exact scan of
every keyframe vector if there are at most :data:`EXACT_SCAN_ROWS`, else the limit keeps growing.

Then, for the ``rerank_videos`` best videos (by absolute rank, whatever the page), the moment is pinned down by
aligning the query to their keyframes (:mod:`.rerank`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from common.images import ImageEncoder
from common.vectors import VectorStore

from .config import VideoSettings
from .media import MediaFiles, frame_ms, frame_url
from .rerank import FrameMatcher, Prepared

log = logging.getLogger(__name__)

#: the most keyframes one Milvus search returns
MILVUS_MAX_LIMIT = 16384
#: the most keyframes ranked by an exact scan when the index returns fewer hits than there are rows (Milvus Lite
#: hands out about 1,000 vectors a second on a busy 2-core machine: 1,971 took 1.9 to 4.4 s)
EXACT_SCAN_ROWS = 4096
#: keyframe vectors fetched per call of an exact scan
SCAN_PAGE = 1000


class FrameSearch:
    def __init__(self, settings: VideoSettings, encoder: ImageEncoder, vectors: VectorStore, collection: str,
                 media: MediaFiles, listed: Callable[[list[int]], dict[int, str]]) -> None:
        """``listed(ids)``: the names of those videos that are listed (fully stored)."""
        self.settings = settings
        self.encoder = encoder
        self.vectors = vectors
        self.collection = collection
        self.media = media
        self.listed = listed
        self.matcher = FrameMatcher(match_side=settings.thumb_max_side)

    def search(self, rgb: np.ndarray, top_k: int, offset: int = 0) -> list[dict[str, Any]]:
        """Videos ``offset .. offset + top_k - 1`` of the ranking for the image ``rgb``."""
        features, _ = self.encoder.encode([rgb])
        query = np.asarray(features, dtype=np.float32)[0]
        ranked, names = self._best_per_video(query, offset + top_k)
        prepared: Prepared | None = None
        page = ranked[offset:offset + top_k]
        for rank, hit in enumerate(page, start=offset):
            if rank < self.settings.rerank_videos:
                prepared = prepared or self.matcher.prepare_query(rgb)
                hit["t"] = self._refine_time(query, prepared, hit)
        return [{"video_id": h["video_id"], "video_name": names[h["video_id"]], "timestamp_s": round(h["t"], 3),
                 "score": round(min(1.0, max(0.0, h["distance"])), 4), "frame_url": frame_url(h["video_id"], h["t"])}
                for h in page]

    def _best_per_video(self, query: np.ndarray, wanted: int) -> tuple[list[dict[str, Any]], dict[int, str]]:
        limit = self.settings.search_candidates
        best: dict[int, dict[str, Any]] = {}
        names: dict[int, str] = {}
        while True:
            hits = self.vectors.search(self.collection, [query.tolist()], anns_field="vector", limit=limit,
                                       metric_type="COSINE", params={"ef": limit},
                                       output_fields=["video_id", "t"])[0]
            best = self._best_of(hits)
            names = self.listed(list(best))
            if len(names) >= wanted:
                break
            if len(hits) < limit:  # the last keyframe, or an index that under-returns: the row count tells
                rows = self.vectors.count(self.collection)
                if len(hits) >= rows:
                    break
                if rows <= EXACT_SCAN_ROWS:
                    log.info("the index returned %d of %d keyframes for a limit of %d: exact scan", len(hits), rows,
                             limit)
                    best = self._exact_best(query, rows)
                    names = self.listed(list(best))
                    break
            if limit >= MILVUS_MAX_LIMIT:
                break
            limit = min(MILVUS_MAX_LIMIT, limit * 4)
        ranked = sorted((h for h in best.values() if h["video_id"] in names),
                        key=lambda h: (-h["distance"], h["video_id"]))
        return ranked, names

    @staticmethod
    def _best_of(hits: list[dict[str, Any]], best: dict[int, dict[str, Any]] | None = None
                 ) -> dict[int, dict[str, Any]]:
        """The best hit of each video among ``hits`` (``{"distance", "entity": {"video_id", "t"}}``) and ``best``."""
        best = {} if best is None else best
        for hit in hits:
            vid = int(hit["entity"]["video_id"])
            if vid not in best or hit["distance"] > best[vid]["distance"]:
                best[vid] = {"video_id": vid, "t": float(hit["entity"]["t"]), "distance": float(hit["distance"])}
        return best

    def _exact_best(self, query: np.ndarray, rows: int) -> dict[int, dict[str, Any]]:
        """The best keyframe of every video by the cosine of the query with each of the ``rows`` stored vectors.

        The ids are listed first, then the vectors fetched by id a page at a time: paging a query by ``id >`` the
        last id of a page (:meth:`VectorStore.iterate`) skips rows on Milvus Lite, whose query with a limit
        returns rows of any ids before its segments are compacted (1,156 of 1,971 rows were seen that way)."""
        unit = query / max(float(np.linalg.norm(query)), 1e-12)
        ids = [int(r["id"]) for r in self.vectors.query(self.collection, filter="id >= 0", output_fields=["id"],
                                                         limit=rows)]
        best: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), SCAN_PAGE):
            page = self.vectors.get(self.collection, ids[start:start + SCAN_PAGE],
                                    output_fields=["video_id", "t", "vector"])
            if not page:
                continue
            vectors = np.asarray([row["vector"] for row in page], dtype=np.float32)
            cosines = vectors @ unit / np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
            self._best_of([{"distance": float(c), "entity": row} for c, row in zip(cosines, page, strict=True)], best)
        return best

    def _refine_time(self, query: np.ndarray, prepared: Prepared, hit: dict[str, Any]) -> float:
        """The timestamp of the keyframe of one video that the query shows (see :mod:`.rerank`)."""
        vid = int(hit["video_id"])
        limit = self.settings.rerank_frames
        frames = self.vectors.search(self.collection, [query.tolist()], anns_field="vector", limit=limit,
                                     metric_type="COSINE", params={"ef": max(64, limit)},
                                     filter=f"video_id == {vid}", output_fields=["t"])[0]
        if len(frames) < 2:
            return float(hit["t"])
        candidates = [(float(f["distance"]), self.media.frame(vid, frame_ms(float(f["entity"]["t"]))))
                      for f in frames]
        index = self.matcher.best(prepared, candidates)
        return float(frames[index]["entity"]["t"])
