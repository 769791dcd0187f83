"""Inference models: one base class, one registry, one process-wide cache.

Every model the demos run is an :class:`InferenceModel`: a reference model (PyTorch, from an installed
package) exported once to ONNX, verified against the reference, cached under the model cache folder and run
with onnxruntime on the providers of the ``ONNX_PROVIDERS`` setting (CPU when a provider is missing). A new
model is one subclass (``cache_key``, ``export``, ``verify``) plus one line in :data:`MODELS`; so is a
variant of one, e.g. ``efficientnet-lite0-int8``, made from the FP32 export and verified against it.

:func:`load_model` returns one shared instance per (model, options) in a process, so the image and video
demos served together run one EfficientNet session, not two. Sessions are thread-safe.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import NotFound
from .onnx import CPU, Agreement, load_onnx

log = logging.getLogger(__name__)


class InferenceModel(ABC):
    """An ONNX model made once from its reference and then run with onnxruntime only."""

    #: file name stem of the cached export (a variant, e.g. INT8, may set its own before ``__init__`` runs)
    file_name: str
    #: largest difference from the reference accepted when the export is verified
    max_diff: float = 1e-3

    def __init__(self, cache_dir: Path, *, providers: Sequence[str] = (CPU,), threads: int | None = None) -> None:
        self.session, self.onnx_path = load_onnx(
            Path(cache_dir), self.file_name, self.cache_key(), export=self.export, verify=self.verify,
            max_diff=self.max_diff, threads=threads, providers=providers,
        )
        self.providers = list(self.session.get_providers())

    @abstractmethod
    def cache_key(self) -> str:
        """What the export depends on (see :func:`common.onnx.file_key`): change it and a new file is made."""

    @abstractmethod
    def export(self, path: Path) -> None:
        """Write the ONNX file to ``path`` (from the reference model)."""

    @abstractmethod
    def verify(self, session: Any) -> float | Agreement:
        """Largest absolute difference between ``session`` and the reference on a test input (or an
        :class:`~common.onnx.Agreement`: a difference plus figures recorded beside the file)."""


def _image_encoder() -> type[InferenceModel]:
    from .images import ImageEncoder

    return ImageEncoder


def _int8_image_encoder() -> type[InferenceModel]:
    from .images import Int8ImageEncoder

    return Int8ImageEncoder


def _text_encoder() -> type[InferenceModel]:
    from .text import TextEncoder

    return TextEncoder


#: model name (a setting) → its class, imported when first used
MODELS = {
    "efficientnet-lite0": _image_encoder,
    "efficientnet-lite0-int8": _int8_image_encoder,
    "all-MiniLM-L6-v2": _text_encoder,
}

_CACHE: dict[tuple[Any, ...], InferenceModel] = {}
#: re-entrant: a variant's constructor loads the shared model it is made from (INT8 text encoder → FP32)
_LOCK = threading.RLock()


def load_model(name: str, cache_dir: Path, *, providers: Sequence[str] = (CPU,), threads: int | None = None,
               **options: Any) -> InferenceModel:
    """The shared instance of model ``name`` (a :data:`MODELS` key), made on first use."""
    if name not in MODELS:
        raise NotFound(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    key = (name, str(Path(cache_dir).resolve()), tuple(providers), threads, tuple(sorted(options.items())))
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = MODELS[name]()(cache_dir, providers=providers, threads=threads, **options)
            _CACHE[key] = model
        return model
