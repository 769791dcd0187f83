"""common.images: decoding of real and hostile files, and the EfficientNet-Lite0 ONNX encoder."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from common.images import ImageEncoder, decode_image, load_labels, preprocess

DATA = Path("/usr/share/doc/opencv-doc/examples/data")


@pytest.fixture
def needs_data() -> None:
    """Real photos from Debian opencv-doc; ``make test`` installs them (a missing package fails, never skips)."""
    if not DATA.is_dir():
        pytest.fail(f"{DATA} missing: run `make test-packages` or `apt-get install opencv-doc`")


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def encoder(tmp_path_factory) -> ImageEncoder:
    return ImageEncoder.load(tmp_path_factory.mktemp("onnx"), threads=2)


@pytest.mark.usefixtures("needs_data")
@pytest.mark.parametrize("name", ["baboon.jpg", "fruits.jpg", "pic1.png", "smarties.png", "chicky_512.png"])
def test_decode_real_images(name):
    arr = decode_image((DATA / name).read_bytes())
    ref = np.asarray(Image.open(DATA / name).convert("RGB"))
    assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3
    assert arr.shape == ref.shape


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"\xff\xd8\xff\xe0" + b"garbage" * 10])
def test_corrupt_bytes_are_invalid_input(data):
    with pytest.raises(InvalidInput) as exc:
        decode_image(data)
    assert exc.value.status_code == 422 and exc.value.detail


@pytest.mark.parametrize("data,kind", [(b"not an image at all", "text"), (b"%PDF-1.4 hello", "pdf")])
def test_content_that_is_no_image_is_unsupported_media(data, kind):
    with pytest.raises(UnsupportedMediaType) as exc:
        decode_image(data)
    assert exc.value.status_code == 415 and exc.value.detail == f"not an image (content looks like {kind})"


def test_truncated_jpeg_is_invalid_input():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    data = _encode(img, "JPEG", quality=90)
    with pytest.raises(InvalidInput):
        decode_image(data[: len(data) // 3])


def test_exif_orientation_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW for display
    arr = decode_image(_encode(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert arr.shape[:2] == (40, 20)  # height and width swapped
    top = arr[:8].reshape(-1, 3).mean(0)
    assert top[2] > 200 and top[0] < 60  # the left strip is now on top


def test_cmyk_grey_palette_and_alpha():
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    arr = decode_image(_encode(cmyk, "JPEG", quality=95))
    assert arr[8, 8, 0] > 200 and arr[8, 8, 1] < 60 and arr[8, 8, 2] < 60
    grey = decode_image(_encode(Image.new("L", (10, 12), 77), "PNG"))
    assert grey.shape == (12, 10, 3) and np.all(grey == 77)
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # fully transparent black → white
    rgba.paste((255, 0, 0, 255), (0, 0, 5, 10))
    arr = decode_image(_encode(rgba, "PNG"))
    assert tuple(arr[5, 8]) == (255, 255, 255) and tuple(arr[5, 1]) == (255, 0, 0)
    pal = Image.new("P", (8, 8), 3)
    pal.putpalette([0, 0, 0, 10, 20, 30, 40, 50, 60, 0, 200, 0] + [0] * (256 * 3 - 12))
    assert tuple(decode_image(_encode(pal, "PNG"))[0, 0]) == (0, 200, 0)


def test_gif_first_frame_and_webp_bmp():
    frames = [Image.new("RGB", (12, 12), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    arr = decode_image(buf.getvalue())
    assert arr.shape == (12, 12, 3) and arr[6, 6, 0] > 200 and arr[6, 6, 1] < 50
    for fmt in ("WEBP", "BMP", "TIFF"):
        out = decode_image(_encode(Image.new("RGB", (9, 7), (10, 200, 30)), fmt))
        assert out.shape == (7, 9, 3) and abs(int(out[3, 3, 1]) - 200) < 8


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims a size but holds no pixels (Pillow reads up to the first IDAT chunk to open it)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [9000, 12000, 20000])
def test_an_image_over_the_pixel_limit_is_413_whichever_guard_sees_it(side):
    # 9000: our MAX_IMAGE_MPX check; 12000 and 20000: Pillow's decompression bomb warning and error at open
    with pytest.raises(PayloadTooLarge, match=r"the limit is 40 Mpx \(setting MAX_IMAGE_MPX\)") as caught:
        decode_image(_png_header(side, side))
    assert f"{side * side / 1e6:.0f} Mpx" in str(caught.value)


def test_decompression_bomb_refused(monkeypatch):
    data = _encode(Image.new("L", (2000, 2000), 0), "PNG")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(PayloadTooLarge, match="4 Mpx"):
        decode_image(data)


def test_labels_are_imagenet():
    labels = load_labels()
    assert len(labels) == 1000 and len(set(labels)) == 1000
    assert labels[0] == "tench" and labels[1] == "goldfish" and labels[281] == "tabby cat"


def test_preprocess_shape_and_range():
    x = preprocess([np.zeros((50, 80, 3), np.uint8), np.full((300, 20, 3), 255, np.uint8)])
    assert x.shape == (2, 3, 224, 224) and x.dtype == np.float32
    assert x[0].max() < -0.9 and x[1].min() > 0.9


def test_encoder_outputs_and_cache_reuse(encoder, tmp_path_factory):
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (64 + i * 10, 90, 3), dtype=np.uint8) for i in range(5)]
    feats, probs = encoder.encode(imgs, batch_size=2)
    assert feats.shape == (5, 1280) and probs.shape == (5, 1000)
    assert np.allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
    single, _ = encoder.encode(imgs[3:4])
    assert np.allclose(single[0], feats[3], atol=1e-4)  # batching does not change results
    meta = json.loads(encoder.onnx_path.with_suffix(".json").read_text())
    assert meta["verified"] and meta["max_abs_diff"] < 1e-3
    mtime = encoder.onnx_path.stat().st_mtime_ns
    again = ImageEncoder.load(encoder.onnx_path.parent)
    assert again.onnx_path == encoder.onnx_path and encoder.onnx_path.stat().st_mtime_ns == mtime
    assert np.allclose(again.encode(imgs[:1])[0], feats[:1], atol=1e-5)


def test_corrupt_cache_is_rebuilt(encoder, tmp_path):
    cache = tmp_path / "c"
    cache.mkdir()
    bad = cache / encoder.onnx_path.name
    bad.write_bytes(b"garbage")
    (cache / encoder.onnx_path.with_suffix(".json").name).write_text('{"sha256": "x", "verified": true}')
    enc = ImageEncoder.load(cache)
    assert enc.onnx_path.stat().st_size > 1_000_000


def test_onnx_matches_pytorch(encoder):
    import torch

    from common.images import _torch_model

    rng = np.random.default_rng(7)
    imgs = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(3)]
    x = preprocess(imgs)
    with torch.no_grad():
        fmap, logits = (t.numpy() for t in _torch_model()(torch.from_numpy(x)))
    maps, probs = encoder.encode_maps(imgs)
    assert np.abs(maps - fmap).max() < 1e-3
    ref = np.exp(logits - logits.max(1, keepdims=True))
    assert np.abs(probs - ref / ref.sum(1, keepdims=True)).max() < 1e-4


@pytest.mark.usefixtures("needs_data")
def test_labels_are_sensible_on_real_photos(encoder):
    expect = {"orange.jpg": "orange", "baboon.jpg": "baboon", "butterfly.jpg": "monarch butterfly",
              "squirrel_cls.jpg": "eastern fox squirrel", "apple.jpg": "Granny Smith"}
    imgs = [decode_image((DATA / n).read_bytes()) for n in expect]
    _, probs = encoder.encode(imgs)
    for (name, label), top in zip(expect.items(), encoder.top_labels(probs, 3), strict=True):
        assert label in [t[0] for t in top], (name, top)


@pytest.mark.usefixtures("needs_data")
def test_features_find_near_duplicates(encoder):
    names = ["baboon.jpg", "fruits.jpg", "stuff.jpg", "messi5.jpg", "building.jpg", "home.jpg"]
    imgs = [decode_image((DATA / n).read_bytes()) for n in names]
    feats, _ = encoder.encode(imgs)
    queries = []
    for arr in imgs:
        h, w = arr.shape[:2]
        crop = Image.fromarray(arr[h // 20: h - h // 20, w // 20: w - w // 20]).resize((w // 2, h // 2))
        queries.append(decode_image(_encode(crop, "JPEG", quality=50)))
    q, _ = encoder.encode(queries)
    assert list((q @ feats.T).argmax(1)) == list(range(len(imgs)))


def test_reduced_jpeg_decoding_keeps_max_side():
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (1200, 1800, 3), dtype=np.uint8))
    data = _encode(img, "JPEG", quality=90)
    small = decode_image(data, max_side=400)
    assert 400 <= max(small.shape[:2]) < 1800 and small.shape[1] / small.shape[0] == pytest.approx(1.5, abs=0.01)
    assert decode_image(data).shape == (1200, 1800, 3)
    png = decode_image(_encode(img, "PNG"), max_side=400)  # other formats: shrunk by a whole factor once decoded
    assert png.shape == (300, 450, 3)
    assert decode_image(_encode(img, "PNG"), max_side=1000).shape == (1200, 1800, 3)  # a factor 1.8 is not whole


def test_shrinking_after_decoding_keeps_transparency_and_orientation():
    """A transparent PNG shrunk at decode is composited over white without dark fringes (premultiplied), and
    an EXIF rotation is still applied."""
    rgba = np.zeros((800, 1200, 4), np.uint8)  # transparent black...
    rgba[200:600, 300:900] = (200, 30, 30, 255)  # ...around an opaque red block
    small = decode_image(_encode(Image.fromarray(rgba), "PNG"), max_side=300)
    full = decode_image(_encode(Image.fromarray(rgba), "PNG"))
    assert small.shape == (200, 300, 3) and full.shape == (800, 1200, 3)
    ref = np.asarray(Image.fromarray(full).reduce(4), dtype=np.int16)
    assert np.abs(small.astype(np.int16) - ref).max() <= 2
    assert small[:20].min() == 255  # the transparent border is white, not grey
    img = Image.fromarray(np.random.default_rng(2).integers(0, 255, (400, 1000, 3), dtype=np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    rotated = decode_image(_encode(img, "PNG", exif=exif.tobytes()), max_side=200)
    assert rotated.shape == (200, 80, 3)  # 1000 x 400 shrunk 5x, then turned upright



def test_the_heif_decoder_loads_with_the_first_heif_file():
    """pi-heif costs ~70 ms to import: a demo's start-up does not pay it, nor a PNG; the first HEIC photo does."""
    import subprocess
    import sys

    heic = Path(__file__).parents[1] / "solutions" / "image_search" / "data" / "fruits.heic"
    script = ("import io, sys; from pathlib import Path; from PIL import Image; import common.images as images\n"
              "png = io.BytesIO(); Image.new('RGB', (32, 24), 'red').save(png, 'PNG')\n"
              "images.decode_image(png.getvalue())\n"
              "loaded = 'pi_heif' in sys.modules\n"
              "heic = images.decode_image(Path(sys.argv[1]).read_bytes())\n"
              "print(loaded, 'pi_heif' in sys.modules, heic.shape[0] > 100)")
    done = subprocess.run([sys.executable, "-c", script, str(heic)], capture_output=True, text=True, timeout=120,
                          check=True, cwd=Path(__file__).parents[2])
    assert done.stdout.split() == ["False", "True", "True"]


def test_similar_labels_for_a_label_that_is_no_class_name():
    """"lemons" was refused with no suggestion while "cat" got five: a plural or a typo is spelled alike."""
    from common.images import load_labels, similar_labels

    names = load_labels()
    assert similar_labels("lemons", names) == ["lemon"]
    assert similar_labels("Lemno", names)[:1] == ["lemon"]
    assert similar_labels("cat", names)[:2] == ["tabby cat", "tiger cat"]
    assert similar_labels("no such thing", names) == []
