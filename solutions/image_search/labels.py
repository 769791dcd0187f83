"""ImageNet labels of the stored images: the top five classes of each, filtering by label, and text search.

Every item keeps its top-5 classes ``[{"label", "score"}]`` (the classifier's probabilities). In Milvus, the
class indices sit beside the image vector (``label0`` .. ``label4``), so ``label=...`` is a filter the vector
search applies to the whole collection, and the probabilities form a 1000-d vector (zero outside the top
five) in a second collection that text search ranks exactly (FLAT, inner product).

Text search scores an image by the **expected similarity between the words and what the image shows**:
``score(image) = Σ_c p(c | image) · max(0, cos(query, text_c))`` over its top-5 classes ``c``, where
``text_c`` is the class name with its more general WordNet names ("Granny Smith (eating apple, apple, edible
fruit)", see ``data/build_label_context.py``) embedded by all-MiniLM-L6-v2. The query side is a 1000-d vector
of class relevances, so the score is the inner product Milvus computes; it lies in [0, 1]. The class texts are
embedded once and cached next to the model files.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import InvalidInput
from common.files import atomic_write
from common.images import similar_labels
from common.safety import query_text
from common.text import TextEncoder

#: classes kept per image
TOP = 5
FIELDS = tuple(f"label{i}" for i in range(TOP))
CONTEXT_FILE = Path(__file__).parent / "data" / "label_context.tsv"
_TEXT_CACHE: dict[str, np.ndarray] = {}
_TEXT_LOCK = threading.Lock()


class Labels:
    """The class names of the image model and what the pipeline stores of them."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}
        #: names whatever their case ("Baboon" as a phone keyboard capitalises it); an exact name comes first
        self._folded = {name.casefold(): i for i, name in enumerate(self.names)}

    def top(self, probs: np.ndarray) -> list[list[dict[str, Any]]]:
        """Top-5 ``[{"label", "score"}]`` per row of (n, classes) probabilities."""
        out = []
        for row in np.atleast_2d(probs):
            idx = np.argsort(-row, kind="stable")[:TOP]
            out.append([{"label": self.names[i], "score": round(float(row[i]), 6)} for i in idx])
        return out

    def fields(self, labels: list[dict[str, Any]]) -> dict[str, int]:
        """The ``label0..4`` scalar fields (class indices, -1 when absent)."""
        ids = [self.index[lab["label"]] for lab in labels[:TOP]]
        return {f: ids[i] if i < len(ids) else -1 for i, f in enumerate(FIELDS)}

    def vector(self, labels: list[dict[str, Any]]) -> list[float]:
        """The probabilities as a dense vector over the classes (zero outside the top five)."""
        vec = np.zeros(len(self.names), np.float32)
        for lab in labels:
            vec[self.index[lab["label"]]] = float(lab["score"])
        return vec.tolist()

    def filter(self, label: str) -> str:
        """The Milvus filter of the images whose top five include ``label`` (422 for an unknown class)."""
        name = label.strip()
        cls = self.index.get(name, self._folded.get(name.casefold()))
        if cls is None:
            near = similar_labels(label, self.names)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise InvalidInput(f"unknown label {label!r}: it must be one of the ImageNet class names (GET /labels)"
                               + hint)
        return " or ".join(f"{f} == {int(cls)}" for f in FIELDS)

    @staticmethod
    def dumps(labels: list[dict[str, Any]]) -> str:
        return json.dumps(labels, ensure_ascii=False)

    @staticmethod
    def loads(text: str | None) -> list[dict[str, Any]]:
        try:
            value = json.loads(text or "[]")
        except json.JSONDecodeError:
            return []
        return value if isinstance(value, list) else []


def class_texts(names: Sequence[str], context_file: Path = CONTEXT_FILE) -> list[str]:
    """``name (more general names)`` per class; the bare name when the context file does not list it."""
    context: dict[str, str] = {}
    if context_file.is_file():
        for line in context_file.read_text(encoding="utf-8").splitlines():
            name, _, more = line.partition("\t")
            context[name] = more.replace("; ", ", ").strip()
    return [f"{n} ({context[n]})" if context.get(n) else n for n in names]


class LabelText:
    """The relevance of each class to some words (thread-safe)."""

    def __init__(self, encoder: TextEncoder, names: Sequence[str], cache_dir: Path,
                 context_file: Path = CONTEXT_FILE) -> None:
        self.encoder = encoder
        self.texts = class_texts(names, context_file)
        self.embeddings = _class_embeddings(encoder, self.texts, cache_dir)

    def relevance(self, query: str) -> np.ndarray:
        """``max(0, cos(query, text_c))`` for every class ``c``."""
        words = query_text(query)
        if not words:
            raise InvalidInput("the query is empty")
        q = self.encoder.encode([words])[0]
        return np.clip(self.embeddings @ q, 0.0, 1.0).astype(np.float32)


def _class_embeddings(encoder: TextEncoder, texts: list[str], cache_dir: Path) -> np.ndarray:
    """The class texts embedded once per process and cached on disk (keyed by texts and model file)."""
    key = hashlib.sha256("\n".join([encoder.onnx_path.name, *texts]).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"label-texts-{key}.npy"
    with _TEXT_LOCK:
        cached = _TEXT_CACHE.get(str(path))
        if cached is None:
            try:
                cached = np.load(path)
                if cached.shape != (len(texts), encoder.dim):
                    raise ValueError("stale cache")
            except (OSError, ValueError):
                cached = encoder.encode(texts)
                buf = io.BytesIO()
                np.save(buf, cached)
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, buf.getvalue())
            _TEXT_CACHE[str(path)] = cached
        return cached
