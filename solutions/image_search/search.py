"""Search by image: the query's global descriptor finds candidates in Milvus, the best of them are checked
geometrically (ORB + RANSAC + aligned NCC), and one ranking orders them all.

The ranking does not depend on the page asked for: the same ``rerank_candidates`` nearest neighbours are
verified whatever ``offset`` and ``top_k`` are, the graph is explored as deeply as the deepest page
(``max_results``), and a page is a slice of that one list. So two pages equal one longer query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InvalidInput, UnsupportedMediaType
from common.files import IMAGE_KINDS, SNIFF_BYTES, sniff
from common.images import ImageEncoder, decode_image
from common.vectors import VectorStore

from .config import ImageSettings
from .features import LocalMatcher, global_descriptor
from .ingest import encoder_input, load_decode, not_an_image
from .local_cache import LocalFeatureCache, resolve


@dataclass
class QueryImage:
    """A query image: the encoder's input (``pixels``) and the pixels its local features are computed on."""

    pixels: np.ndarray
    rgb: np.ndarray


@dataclass
class Candidate:
    """A stored image found by the global descriptor, with the outcome of its geometric check."""

    id: int
    cosine: float
    inliers: int = 0
    ncc: float = 0.0

    def is_copy(self, min_inliers: int, min_ncc: float) -> bool:
        return self.inliers >= min_inliers and self.ncc >= min_ncc


def rank(cands: list[Candidate], min_inliers: int, min_ncc: float) -> list[dict[str, Any]]:
    """All candidates in one order: verified copies first (by aligned NCC + 0.2 x cosine), then the rest by
    cosine; scores non-increasing.

    A copy's score is ``0.5 + 0.5 * ncc`` (a perfect aligned match scores 1); an unverified candidate keeps
    its cosine, capped so the list stays ordered. Ties are broken by id, so the order is total.
    """
    copies = [c for c in cands if c.is_copy(min_inliers, min_ncc)]
    others = [c for c in cands if not c.is_copy(min_inliers, min_ncc)]
    copies.sort(key=lambda c: (-(c.ncc + 0.2 * c.cosine), -c.inliers, c.id))
    others.sort(key=lambda c: (-c.cosine, c.id))
    out, cap = [], 1.0
    for c in copies + others:
        is_copy = c.is_copy(min_inliers, min_ncc)
        score = 0.5 + 0.5 * c.ncc if is_copy else max(0.0, c.cosine)
        cap = min(cap, score)
        out.append({"id": c.id, "score": round(float(min(1.0, cap)), 6), "match": "copy" if is_copy else "similar",
                    "cosine": round(float(c.cosine), 6), "inliers": int(c.inliers)})
    return out


@dataclass(eq=False)
class CopySearch:
    """The query side of the image search (thread-safe; the pipeline owns one)."""

    settings: ImageSettings
    encoder: ImageEncoder
    vectors: VectorStore
    collection: str
    matcher: LocalMatcher
    local: LocalFeatureCache

    def decode(self, data: bytes) -> QueryImage:
        """The query's encoder input, decoded as a load decodes a file (:func:`.ingest.load_decode`: a stored file
        searched for finds itself at cosine 1), and its pixels for the local features (at most ``orb_max_side``
        for JPEGs); 415 for a non-image, 413 over the pixel cap."""
        if not data:
            raise InvalidInput("empty query file")
        kind = sniff(data[:SNIFF_BYTES])
        if kind not in IMAGE_KINDS:
            raise UnsupportedMediaType(f"the query is {not_an_image(kind)}")
        s = self.settings
        max_pixels = int(s.max_image_mpx * 1_000_000)
        loaded, _, _ = load_decode(data, s.thumbnail_px, self.encoder.input_size, max_pixels)
        return QueryImage(encoder_input(loaded, self.encoder.input_size),
                          decode_image(data, max_side=s.orb_max_side, max_pixels=max_pixels))

    def ranking(self, query: QueryImage, depth: int, filter: str,
                copies: Callable[[list[int]], dict[int, Path]]) -> list[dict[str, Any]]:
        """The first ``depth`` images of the ranking for the ``query`` among those matching ``filter``."""
        s = self.settings
        maps, _ = self.encoder.encode_maps([query.pixels])
        vec = global_descriptor(maps)[0]
        n_check = s.rerank_candidates
        limit = max(depth, n_check)
        hits = self.vectors.search(self.collection, [vec.tolist()], anns_field="vector", limit=limit,
                                   metric_type="COSINE", params={"ef": max(s.hnsw_ef, s.max_results, limit)},
                                   filter=filter)[0]
        cands = [Candidate(int(h["id"]), float(h["distance"])) for h in hits]
        if n_check and cands:
            checked = cands[:n_check]
            found = self.local.lookup([c.id for c in checked], copies)  # computing while the query is
            query_local = self.matcher.extract(query.rgb)
            for cand in checked:
                local = resolve(found[cand.id])
                if local is not None:
                    cand.inliers, cand.ncc = self.matcher.verify(query_local, local)
        return rank(cands, s.min_inliers, s.min_ncc)[:depth]
