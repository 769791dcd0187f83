"""PyTorch models exported to ONNX once, verified, cached, and run with onnxruntime.

``load_onnx(cache_dir, name, key, export=..., verify=...)`` returns an onnxruntime session for
``cache_dir/<name>-<key>.onnx``. The first call exports the model (``export(path)`` writes the file),
opens it and asks ``verify(session)`` for the largest difference from the PyTorch outputs on a test
batch; only a file within ``max_diff`` is kept, with a ``.json`` note of its SHA-256. Later calls
reuse the file when its hash still matches, and export again when it does not (a corrupt or
half-written cache). ``key`` names what the file was exported from: change it and a new file is made.

Sessions do not busy-wait between operators, because on a small machine the threads that decode
inputs share the cores with the model (measured: 1.3-1.6x more encoder throughput beside a busy
decoding thread on 2 cores, the same speed alone).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


CPU = "CPUExecutionProvider"


def usable_providers(wanted: Sequence[str]) -> list[str]:
    """The execution providers of ``wanted`` this onnxruntime build has, in order, CPU always last.

    A provider that is not available (no GPU, a CPU-only build) is skipped with one warning, so
    ``ONNX_PROVIDERS=CUDAExecutionProvider,CPUExecutionProvider`` runs everywhere.
    """
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    chosen = [p for p in dict.fromkeys(wanted) if p in available and p != CPU]
    if "CUDAExecutionProvider" in chosen and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from NVIDIA's PyPI packages (the GPU image installs them)
    missing = [p for p in wanted if p not in available]
    if missing and missing != _WARNED.get("last"):
        _WARNED["last"] = missing
        log.warning("ONNX provider(s) %s not available in this onnxruntime build (has: %s); using %s",
                    ", ".join(missing), ", ".join(sorted(available)), ", ".join([*chosen, CPU]))
    return [*chosen, CPU]


_WARNED: dict[str, list[str]] = {}


def open_session(path: Path, threads: int | None = None, providers: Sequence[str] = (CPU,)) -> Any:
    """An onnxruntime session with all graph optimisations and no spinning threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=opts, providers=usable_providers(providers))


def load_onnx(
    cache_dir: Path,
    name: str,
    key: str,
    *,
    export: Callable[[Path], None],
    verify: Callable[[Any], float],
    max_diff: float,
    threads: int | None = None,
    providers: Sequence[str] = (CPU,),
) -> tuple[Any, Path]:
    """The session and file path of a verified ONNX export, made on the first call and reused after."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{name}-{key}.onnx"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("verified") and meta.get("sha256") == _sha256(path):
                log.debug("reusing ONNX model %s", path)
                return open_session(path, threads, providers), path
        except Exception as exc:  # a damaged file or note: export again
            log.warning("cached ONNX model %s unusable (%s): exporting again", path, exc)
    log.info("exporting %s to ONNX at %s (first start only)", name, path)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=cache_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        export(tmp)
        diff = float(verify(open_session(tmp, threads)))  # verified on the CPU, whatever runs it later
        if not diff <= max_diff:
            raise RuntimeError(f"ONNX export of {name} disagrees with PyTorch (max abs diff {diff:.2e})")
        log.debug("ONNX export of %s verified against PyTorch: max abs diff %.2e", name, diff)
        os.replace(tmp, path)
        note = {"sha256": _sha256(path), "verified": True, "max_abs_diff": diff, "key": key}
        meta_tmp = meta_path.with_suffix(".json.tmp")
        meta_tmp.write_text(json.dumps(note))
        os.replace(meta_tmp, meta_path)
    finally:
        tmp.unlink(missing_ok=True)
    return open_session(path, threads, providers), path


def file_key(*parts: object) -> str:
    """A short stable hash of what an export depends on (version tag, weight file names and sizes...)."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["file_key", "load_onnx", "open_session", "usable_providers"]
