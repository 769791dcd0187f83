"""The INT8 image encoder: calibration split, export verified against FP32 (and refused when it disagrees),
cache reuse, and the precision setting of the image and video demos."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image
from pydantic import ValidationError

from common import images
from common.images import (
    INT8_MIN_COSINE,
    ImageEncoder,
    Int8ImageEncoder,
    calibration_split,
    decode_image,
    shared_image_encoder,
)
from common.onnx import ExportRejected

DATA = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    if not DATA.is_dir():
        pytest.fail(f"{DATA} missing: run `make test-packages` or `apt-get install opencv-doc`")
    return tmp_path_factory.mktemp("int8-models")


@pytest.fixture(scope="module")
def int8(cache) -> Int8ImageEncoder:
    return Int8ImageEncoder(cache, threads=2, calibration_dir=DATA)


def _photos(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(folder / f"p{i:02d}.png")


def test_every_fourth_photo_verifies_and_is_never_calibrated_on(tmp_path):
    _photos(tmp_path, 30)
    (tmp_path / "notes.txt").write_text("not a photo")
    calibrate, verify = calibration_split(tmp_path)
    assert [p.name for p in verify] == [f"p{i:02d}.png" for i in range(0, 30, 4)]
    assert not set(calibrate) & set(verify) and len(calibrate) + len(verify) == 30


def test_too_few_calibration_photos_is_a_clear_error(tmp_path):
    _photos(tmp_path, 5)
    with pytest.raises(FileNotFoundError, match="IMAGE_ENCODER_PRECISION=fp32"):
        calibration_split(tmp_path)
    with pytest.raises(FileNotFoundError, match="IMAGE_ENCODER_CALIBRATION_DIR"):
        Int8ImageEncoder(tmp_path / "models", calibration_dir=tmp_path / "missing")


def test_the_export_is_verified_against_fp32_and_the_agreement_recorded(int8):
    assert int8.precision == "int8" and int8.onnx_path.exists()
    graph = onnx.load(str(int8.onnx_path)).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in graph.node}  # not the float model
    dequantized = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    weights = {n.name: n.input[1] for n in graph.node if n.op_type == "Conv"}
    # the stem and the first block read float weights (8-bit products saturate there on x86 without VNNI) ...
    assert not {weights[name] for name in images._INT8_FLOAT_NODES} & dequantized
    # ... and every other convolution 8-bit ones
    assert all(w in dequantized for name, w in weights.items() if name not in images._INT8_FLOAT_NODES)
    agreement = int8.verification["agreement"]
    assert agreement["images"] == len(int8.verification_files) >= 8
    assert INT8_MIN_COSINE <= agreement["mean_cosine"] <= 1.0
    assert 0.0 <= agreement["min_cosine"] <= agreement["mean_cosine"]
    assert 0.5 < agreement["top1_agreement"] <= 1.0
    # made from the FP32 export, which sits (verified against PyTorch) in the same cache
    assert ImageEncoder.load(int8.onnx_path.parent).verification["max_abs_diff"] < 1e-3


def test_int8_features_agree_with_fp32_on_photos_it_was_not_calibrated_on(int8, cache):
    fp32 = ImageEncoder.load(cache)
    pixels = [decode_image(p.read_bytes()) for p in int8.verification_files]
    ref, ref_probs = fp32.encode(pixels)
    got, got_probs = int8.encode(pixels)
    assert got.shape == ref.shape == (len(pixels), 1280)
    cosine = (ref * got).sum(axis=1)
    assert cosine.mean() > INT8_MIN_COSINE and cosine.min() > 0.9
    # each photo's INT8 vector is nearest to its own FP32 vector
    assert list((got @ ref.T).argmax(axis=1)) == list(range(len(pixels)))
    assert (got_probs.argmax(1) == ref_probs.argmax(1)).mean() > 0.6


def test_the_export_is_reused_and_not_made_again(int8, monkeypatch):
    def no_export(self, path):
        raise AssertionError("exported again")

    monkeypatch.setattr(Int8ImageEncoder, "export", no_export)
    again = Int8ImageEncoder(int8.onnx_path.parent, calibration_dir=DATA)
    assert again.onnx_path == int8.onnx_path


def test_other_calibration_photos_make_another_file(int8, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for p in sorted(DATA.glob("*.jpg"))[:30]:
        shutil.copy2(p, folder / p.name)
    other = Int8ImageEncoder.__new__(Int8ImageEncoder)
    other.calibration_files, other.verification_files = calibration_split(folder)
    assert other.cache_key() != int8.cache_key()


def test_an_export_that_disagrees_with_fp32_is_refused(int8, tmp_path, monkeypatch):
    """A quantization gone wrong (here: the stem convolution's weights negated) is not kept."""
    cache = tmp_path / "models"
    cache.mkdir()
    fp32 = ImageEncoder.load(int8.onnx_path.parent)
    shutil.copy2(fp32.onnx_path, cache / fp32.onnx_path.name)
    shutil.copy2(fp32.onnx_path.with_suffix(".json"), cache / fp32.onnx_path.with_suffix(".json").name)

    def broken(src, dst, batches, **options):
        model = onnx.load(str(src))
        stem = next(n for n in model.graph.node if n.op_type == "Conv").input[1]
        weight = next(t for t in model.graph.initializer if t.name == stem)
        weight.CopyFrom(onnx.numpy_helper.from_array(-onnx.numpy_helper.to_array(weight), stem))
        onnx.save(model, str(dst))

    monkeypatch.setattr(images, "quantize_int8", broken)
    with pytest.raises(ExportRejected, match="disagrees") as caught:
        Int8ImageEncoder(cache, calibration_dir=DATA)
    assert caught.value.figures["mean_cosine"] < INT8_MIN_COSINE
    assert [p.name for p in cache.glob("efficientnet-lite0-int8*")] == [
        f"efficientnet-lite0-int8-{int8.cache_key()}.rejected.json"]  # no model file, the refusal remembered

    def export_again(*args, **options):
        raise AssertionError("a refused export is not made again")

    monkeypatch.setattr(images, "quantize_int8", export_again)
    with pytest.raises(ExportRejected, match="refused on this machine before"):
        Int8ImageEncoder(cache, calibration_dir=DATA)
    shared = shared_image_encoder("int8", cache, calibration_dir=DATA)  # a service starts, with FP32
    assert type(shared) is ImageEncoder and shared.precision == "fp32"


def test_the_precision_setting_picks_the_shared_encoder(int8, cache, monkeypatch):
    from solutions.image_search.config import ImageSettings
    from solutions.video_analysis.config import VideoSettings

    assert ImageSettings().encoder_precision == VideoSettings().encoder_precision == "int8"  # the default
    monkeypatch.setenv("IMAGE_ENCODER_PRECISION", "fp32")
    assert ImageSettings().encoder_precision == VideoSettings().encoder_precision == "fp32"  # the video demo follows
    monkeypatch.setenv("VIDEO_ENCODER_PRECISION", "int8")
    assert VideoSettings().encoder_precision == "int8"  # unless told otherwise
    monkeypatch.setenv("IMAGE_ENCODER_PRECISION", "int4")
    with pytest.raises(ValidationError):
        ImageSettings()

    shared = shared_image_encoder("int8", cache, threads=2, calibration_dir=DATA)
    assert isinstance(shared, Int8ImageEncoder) and shared.onnx_path == int8.onnx_path
    assert shared_image_encoder("int8", cache, threads=2, calibration_dir=DATA) is shared  # one per process
    plain = shared_image_encoder("fp32", cache, threads=2)
    assert type(plain) is ImageEncoder and plain.precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        shared_image_encoder("fp16", cache)


def test_without_calibration_photos_the_shared_encoder_falls_back_to_fp32(cache, tmp_path, caplog):
    """A container without opencv-doc still starts: FP32, and a warning that says how to get INT8."""
    with caplog.at_level("WARNING", logger="common.images"):
        encoder = shared_image_encoder("int8", cache, threads=2, calibration_dir=tmp_path / "no-photos")
    assert type(encoder) is ImageEncoder and encoder.precision == "fp32"
    assert any("IMAGE_ENCODER_CALIBRATION_DIR" in r.getMessage() and "FP32" in r.getMessage() for r in caplog.records)
