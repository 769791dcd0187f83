"""PyTorch models exported to ONNX once, verified, cached, and run with onnxruntime.

``load_onnx(cache_dir, name, key, export=..., verify=...)`` returns an onnxruntime session for
``cache_dir/<name>-<key>.onnx``. The first call exports the model (``export(path)`` writes the file),
opens it and asks ``verify(session)`` for the largest difference from the PyTorch outputs on a test
batch; only a file within ``max_diff`` is kept, with a ``.json`` note of its SHA-256. Later calls
reuse the file when its hash still matches, and export again when it does not (a corrupt or
half-written cache). An export outside ``max_diff`` raises :class:`ExportRejected` and is not kept; a
``<name>-<key>.rejected.json`` note remembers the refusal, so later calls raise at once instead of exporting
again. ``key`` names what the file was exported from: change it and a new file is made.
``verify`` may also return an :class:`Agreement`: the figure compared with ``max_diff`` plus other
figures worth keeping, which the note records (:func:`read_note`), e.g. how an INT8 variant agrees
with its FP32 reference.

``quantize_int8(src, dst, batches)`` makes a static INT8 copy of an ONNX model (QDQ, per-channel
weights), its activation ranges calibrated on the input batches given.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


CPU = "CPUExecutionProvider"


class ExportRejected(RuntimeError):
    """An export that does not agree with its reference (on this machine): nothing was cached. ``figures`` are
    what its verification found."""

    def __init__(self, message: str, figures: dict[str, float]) -> None:
        super().__init__(message)
        self.figures = figures


def int8_kernels() -> str:
    """Which family of 8-bit kernels onnxruntime runs on this CPU: their results differ, so an INT8 export is
    verified, and cached, per family. x86 without VNNI multiplies 8-bit pairs into saturating 16-bit sums
    (``vpmaddubsw``); VNNI (AVX512-VNNI, AVX-VNNI) and other architectures accumulate in 32 bits."""
    import platform

    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64", "i386", "i686"):
        return machine or "unknown"
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:
        return "x86"
    return "x86-vnni" if {"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags) else "x86-no-vnni"


@dataclass(frozen=True)
class Agreement:
    """What a verification found: ``diff`` is compared with ``max_diff`` (lower is better); ``figures`` are
    kept in the note beside the file (:func:`read_note`)."""

    diff: float
    figures: dict[str, float] = field(default_factory=dict)


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
    verify: Callable[[Any], float | Agreement],
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
    refused = path.with_suffix(".rejected.json")
    if refused.exists():  # verified here before and refused: not made again at every start
        figures = read_note(refused).get("figures", {})
        raise ExportRejected(f"ONNX export of {name} was refused on this machine before ({figures}); delete {refused} "
                             "to try again", figures)
    log.info("exporting %s to ONNX at %s (first start only)", name, path)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=cache_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        export(tmp)
        found = verify(open_session(tmp, threads))  # verified on the CPU, whatever runs it later
        agreement = found if isinstance(found, Agreement) else Agreement(float(found))
        diff = float(agreement.diff)
        if not diff <= max_diff:
            atomic_note(refused, {"key": key, "diff": diff, "max_diff": max_diff, "figures": agreement.figures})
            raise ExportRejected(f"ONNX export of {name} disagrees with its reference (difference {diff:.2e}, "
                                 f"limit {max_diff:.2e}; {agreement.figures or 'max abs diff'})", agreement.figures)
        log.info("ONNX export of %s verified against its reference: difference %.2e%s", name, diff,
                 f" ({_figures(agreement.figures)})" if agreement.figures else "")
        os.replace(tmp, path)
        note = {"sha256": _sha256(path), "verified": True, "max_abs_diff": diff, "key": key,
                **({"agreement": agreement.figures} if agreement.figures else {})}
        atomic_note(meta_path, note)
    finally:
        tmp.unlink(missing_ok=True)
    return open_session(path, threads, providers), path


def atomic_note(path: Path, note: dict[str, Any]) -> None:
    """Write a JSON note beside a model file, whole or not at all."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(note))
    os.replace(tmp, path)


def read_note(path: Path) -> dict[str, Any]:
    """The note kept beside a verified export (hash, difference, agreement figures); {} when absent."""
    try:
        note = json.loads(Path(path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return note if isinstance(note, dict) else {}


def quantize_int8(src: Path, dst: Path, batches: Iterable[dict[str, Any]], *, per_channel: bool = True,
                  exclude_nodes: Sequence[str] = ()) -> None:
    """Write a static INT8 copy of the ONNX model ``src`` to ``dst``.

    QDQ format (onnxruntime fuses each QuantizeLinear/DequantizeLinear pair with its operator into integer
    kernels when the session is made), signed 8-bit weights, per output channel when ``per_channel``
    (depthwise convolutions need it: their channels' weight ranges differ by orders of magnitude), and
    unsigned 8-bit activations whose ranges are the min/max seen over ``batches`` (input name → array,
    one dict per calibration batch). ``exclude_nodes`` stay in float. The model is shape-inferred and
    its batch norms folded first, as onnxruntime recommends.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict[str, Any] | None:
            return next(self._it, None)

    dst = Path(dst)
    with _quiet_quantizer(), tempfile.TemporaryDirectory(dir=dst.parent) as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        if exclude_nodes:
            import onnx

            missing = set(exclude_nodes) - {node.name for node in onnx.load(str(prepared)).graph.node}
            if missing:
                raise ValueError(f"nodes to keep in float not found in {src}: {sorted(missing)}")
        quantize_static(str(prepared), str(dst), _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=list(exclude_nodes))


def quantize_dynamic_int8(src: Path, dst: Path) -> None:
    """Write a dynamic INT8 copy of the ONNX model ``src`` to ``dst``: signed 8-bit weights of the matrix
    products, per output channel; activations quantized on the fly (no calibration data).

    The quantizer's advice to pre-process the model first (a WARNING) is dropped with its INFO lines: the
    caller verifies the result against the FP32 model, and the copy is the one the benchmarks measured.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_quantizer(logging.WARNING):
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)


@contextmanager
def _quiet_quantizer(level: int = logging.INFO) -> Iterator[None]:
    """onnxruntime.quantization logs to the root logger, a line per tensor: its records up to ``level`` are
    dropped while it runs."""
    quiet = _DropRecordsFrom("onnxruntime" + os.sep + "quantization", level)
    logging.getLogger().addFilter(quiet)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(quiet)


class _DropRecordsFrom(logging.Filter):
    """Drops records up to ``level`` logged from files under a path (a library that logs to the root logger)."""

    def __init__(self, fragment: str, level: int = logging.INFO) -> None:
        super().__init__()
        self.fragment = fragment
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > self.level or self.fragment not in record.pathname


def file_key(*parts: object) -> str:
    """A short stable hash of what an export depends on (version tag, weight file names and sizes...)."""
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:16]


def _figures(figures: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


__all__ = ["Agreement", "file_key", "load_onnx", "open_session", "quantize_int8", "read_note", "usable_providers"]
