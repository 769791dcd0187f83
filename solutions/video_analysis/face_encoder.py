"""dlib's ResNet face embeddings on onnxruntime: the same 128-d vectors, about ten times less CPU per face.

dlib runs its face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat`` from the installed
``face-recognition-models`` package) on one core with its own convolution code: ~75 ms per face here, most of
the time of a face-heavy video. This module reads the weights from that same file, rebuilds the network in
PyTorch (29 convolutions with batch-norm-like ``affine`` layers, residual blocks whose downsampling shortcut is a
2x2 average pool zero-padded to the block's channels, a 128-d linear projection), exports it to ONNX once and
checks it against dlib itself before keeping it (:class:`common.models.InferenceModel`): any difference over
1e-4 on the test chips and the file is refused. Faces are still found, landmarked and aligned by dlib
(``get_face_chip``, the chip dlib's own ``compute_face_descriptor`` uses); only the embedding moves.

The file format is dlib's serialisation: variable-length integers (a length byte, then little-endian bytes;
0x80 in the length byte for a negative value), floats as mantissa and exponent integers, strings prefixed by
their length, tensors as a version, four dimensions and raw float32 data. Layer details come in order from the
input to the output, each behind its type name (``con_4``, ``affine_``, ``relu_``, ``max_pool_2``,
``avg_pool_2``, ``add_prev_``, ``fc_2``); :func:`read_dlib_resnet` reads only what it needs and checks the
structure it expects.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.models import InferenceModel
from common.onnx import CPU, file_key

CHIP_SIZE = 150
CHIP_PADDING = 0.25
_EXPORT_VERSION = "dlib-face-resnet-onnx-v1"
_MAX_DIFF = 1e-4
_LAYER = re.compile(rb"\x01([\x04-\x20])([a-z_]+[0-9]*)")
_KNOWN = {"con_4", "affine_", "relu_", "max_pool_2", "avg_pool_2", "add_prev_", "fc_2", "input_rgb_image_sized",
          "loss_metric_2"}


@dataclass
class Layer:
    kind: str
    params: np.ndarray | None = None
    ints: tuple[int, ...] = ()


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def integer(self) -> int:
        head = self.data[self.pos]
        n = head & 0x0F
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + n], "little")
        self.pos += 1 + n
        return -value if head & 0x80 else value

    def real(self) -> float:
        mantissa = self.integer()
        return mantissa * 2.0 ** self.integer()

    def ints(self, n: int) -> tuple[int, ...]:
        return tuple(self.integer() for _ in range(n))

    def tensor(self) -> np.ndarray:
        version = self.integer()
        if version != 2:
            raise ValueError(f"unexpected dlib tensor version {version}")
        dims = self.ints(4)
        count = int(np.prod(dims))
        out = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).copy()
        self.pos += 4 * count
        return out.reshape(dims)


def read_dlib_resnet(path: Path) -> tuple[list[Layer], tuple[float, float, float]]:
    """The layers (input to output) and the input's per-channel means of dlib's face ResNet file; ValueError
    for any other file."""
    try:
        return _read(Path(path).read_bytes())
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{path} is not the dlib face ResNet this module knows: {exc}") from exc


def _read(data: bytes) -> tuple[list[Layer], tuple[float, float, float]]:
    layers: list[Layer] = []
    means: tuple[float, float, float] | None = None
    pos = 0
    while (match := _LAYER.search(data, pos)) is not None:
        size, name = match.group(1)[0], match.group(2)
        if len(name) < size or name[:size].decode() not in _KNOWN:
            pos = match.start() + 1
            continue
        kind = name[:size].decode()
        r = _Reader(data, match.start() + 2 + size)
        if kind == "input_rgb_image_sized":
            means = (r.real(), r.real(), r.real())
        elif kind == "con_4":
            params = r.tensor().ravel()
            layers.append(Layer("con", params, r.ints(7)))  # filters, rows, cols, stride y/x, padding y/x
        elif kind == "affine_":
            layers.append(Layer("affine", r.tensor().ravel()))
        elif kind == "fc_2":
            outputs, inputs = r.ints(2)
            layers.append(Layer("fc", r.tensor().reshape(inputs, outputs), (outputs, inputs)))
        elif kind in ("max_pool_2", "avg_pool_2"):
            layers.append(Layer(kind.removesuffix("_2"), None, r.ints(6)))  # rows, cols, stride y/x, padding y/x
        elif kind in ("relu_", "add_prev_"):
            layers.append(Layer(kind.rstrip("_")))
        pos = max(r.pos, match.end())
    kinds = [layer.kind for layer in layers]
    if means is None or kinds.count("con") != 29 or kinds.count("affine") != 29 or kinds[-1] != "fc":
        raise ValueError(f"{len(layers)} layers read, not the 29 convolutions expected")
    return layers, means


def _torch_net(layers: list[Layer], means: tuple[float, float, float]) -> Any:
    import torch
    import torch.nn.functional as F

    class DlibFaceResNet(torch.nn.Module):
        """dlib's network, layer by layer: (N, 150, 150, 3) RGB chips (0..255 floats) → (N, 128)."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(means, dtype=torch.float32).view(1, 3, 1, 1))
            self.params = torch.nn.ParameterList()
            for layer in layers:
                p = layer.params
                if p is None:
                    continue
                if layer.kind == "con":  # the filters (out, in, rows, cols), then one bias per filter
                    filters, rows, cols = layer.ints[:3]
                    size = p.size - filters
                    self._add(p[:size].reshape(filters, size // (filters * rows * cols), rows, cols), p[size:])
                elif layer.kind == "affine":  # a scale, then a shift, per channel
                    half = p.size // 2
                    self._add(p[:half].reshape(1, half, 1, 1), p[half:].reshape(1, half, 1, 1))
                elif layer.kind == "fc":
                    self._add(p)

        def _add(self, *arrays: np.ndarray) -> None:
            for a in arrays:
                self.params.append(torch.nn.Parameter(torch.from_numpy(np.ascontiguousarray(a)), requires_grad=False))

        def forward(self, chips: Any) -> Any:
            x = (chips.permute(0, 3, 1, 2) - self.mean) / 256.0
            params = iter(self.params)
            block_input, shortcut, summed = x, None, False
            for layer in layers:
                if layer.kind == "con":
                    x = F.conv2d(x, next(params), next(params), stride=layer.ints[3:5], padding=layer.ints[5:7])
                elif layer.kind == "affine":
                    x = x * next(params) + next(params)
                elif layer.kind == "relu":
                    x = F.relu(x)
                    if summed:  # after a residual sum: the next block starts here
                        block_input, shortcut, summed = x, None, False
                elif layer.kind == "max_pool":
                    x = F.max_pool2d(x, layer.ints[:2], layer.ints[2:4], layer.ints[4:6])
                    block_input = x
                elif layer.kind == "avg_pool" and layer.ints[0] == 0:  # the global average at the end
                    x = x.mean(dim=(2, 3))
                elif layer.kind == "avg_pool":  # a downsampling block's shortcut
                    shortcut = F.avg_pool2d(block_input, layer.ints[:2], layer.ints[2:4], layer.ints[4:6])
                elif layer.kind == "add_prev":
                    x = _add_padded(x, block_input if shortcut is None else shortcut)
                    summed = True
                elif layer.kind == "fc":
                    x = x.reshape(x.shape[0], -1) @ next(params)
            return x

    def _add_padded(a: Any, b: Any) -> Any:
        """dlib's add_prev: tensors of different channels or sizes are summed as if zero-padded to the larger."""
        size = [max(a.shape[i], b.shape[i]) for i in (1, 2, 3)]

        def pad(t: Any) -> Any:
            return F.pad(t, (0, size[2] - t.shape[3], 0, size[1] - t.shape[2], 0, size[0] - t.shape[1]))

        return pad(a) + pad(b)

    return DlibFaceResNet().eval()


def _model_file() -> Path:
    with warnings.catch_warnings():  # the package imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    return Path(frm.face_recognition_model_location())


def _test_chips(n: int = 6) -> np.ndarray:
    """Smooth random 150 x 150 chips: what dlib and the export are compared on (any input must agree)."""
    import cv2

    rng = np.random.default_rng(150)
    chips = [cv2.resize(rng.integers(0, 256, (10, 10, 3)).astype(np.uint8), (CHIP_SIZE, CHIP_SIZE),
                        interpolation=cv2.INTER_CUBIC) for _ in range(n)]
    return np.stack(chips).astype(np.float32)


class FaceEncoder(InferenceModel):
    """dlib's face ResNet exported to ONNX and verified against dlib; :meth:`encode` takes aligned chips."""

    file_name = "dlib-face-resnet-v1"
    max_diff = _MAX_DIFF
    dim = 128

    def __init__(self, cache_dir: Path, *, providers: Sequence[str] = (CPU,), threads: int | None = None) -> None:
        super().__init__(cache_dir, providers=providers, threads=threads)
        self._input = self.session.get_inputs()[0].name

    def cache_key(self) -> str:
        path = _model_file()
        return file_key(_EXPORT_VERSION, path.name, path.stat().st_size)

    def export(self, path: Path) -> None:
        import torch

        layers, means = read_dlib_resnet(_model_file())
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_torch_net(layers, means), (torch.from_numpy(_test_chips(1)),), str(path),
                              dynamo=False, input_names=["chips"], output_names=["descriptor"],
                              dynamic_axes={"chips": {0: "n"}, "descriptor": {0: "n"}}, opset_version=17)

    def verify(self, session: Any) -> float:
        """Largest difference from dlib's own ``compute_face_descriptor`` on the test chips."""
        import dlib

        chips = _test_chips()
        reference = dlib.face_recognition_model_v1(str(_model_file()))
        ref = np.array([np.asarray(reference.compute_face_descriptor(c.astype(np.uint8))) for c in chips])
        got = session.run(None, {session.get_inputs()[0].name: chips})[0]
        return float(np.abs(got - ref).max())

    def encode(self, chips: list[np.ndarray]) -> np.ndarray:
        """(n, 128) float32 descriptors of (150, 150, 3) uint8 RGB chips aligned by ``dlib.get_face_chip``."""
        if not chips:
            return np.zeros((0, self.dim), np.float32)
        batch = np.stack(chips).astype(np.float32)
        return np.asarray(self.session.run(None, {self._input: batch})[0], dtype=np.float32)


__all__ = ["CHIP_PADDING", "CHIP_SIZE", "FaceEncoder", "read_dlib_resnet"]
