"""The INT8 image encoder's agreement with FP32 on this CPU, with and without the layers kept in float.

    python -m bench.image_int8_export        # bench/results/image_int8_export.json

Quantizes the FP32 EfficientNet-Lite0 export twice, as ``common.images.Int8ImageEncoder`` does (same calibration
photos, QDQ, per-channel weights): every convolution in 8 bits, and with ``_INT8_FLOAT_NODES`` (the stem and the
first block) in float. Each is verified as the service verifies it, on the photos kept aside (never calibrated
on), and timed against FP32 at batch 16, alternating, so other load on the machine hits all three alike. The kind
of 8-bit kernels this CPU runs (:func:`common.onnx.int8_kernels`) is recorded: the figures differ between them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.results import save
from common import images
from common.onnx import int8_kernels, open_session, quantize_int8

NAME_OF_RESULT = "image_int8_export"
ROUNDS = 8


def agreement(session: Any, reference: Any, batch: np.ndarray) -> dict[str, float]:
    ref_map, ref_logits = reference.run(None, {reference.get_inputs()[0].name: batch})
    got_map, got_logits = session.run(None, {session.get_inputs()[0].name: batch})
    cosine = (images.l2_normalize(ref_map.mean(axis=(2, 3))) * images.l2_normalize(got_map.mean(axis=(2, 3)))).sum(1)
    return {"mean_cosine": round(float(cosine.mean()), 4), "min_cosine": round(float(cosine.min()), 4),
            "top1_agreement": round(float((ref_logits.argmax(1) == got_logits.argmax(1)).mean()), 4)}


def main() -> None:
    calibrate, verify = images.calibration_split(images.CALIBRATION_DIR)
    pixels = images._calibration_pixels(calibrate)
    batch = images.preprocess(images._calibration_pixels(verify))
    with tempfile.TemporaryDirectory() as work:
        fp32 = images.ImageEncoder(Path(work))
        sessions = {"fp32": open_session(fp32.onnx_path, threads=2)}
        variants = {"all_int8": (), "stem_and_first_block_float": images._INT8_FLOAT_NODES}
        out: dict[str, Any] = {"int8_kernels": int8_kernels(), "verification_images": len(batch),
                               "calibration_images": len(pixels), "min_mean_cosine": images.INT8_MIN_COSINE,
                               "float_nodes": list(images._INT8_FLOAT_NODES), "variants": {}}
        for name, exclude in variants.items():
            path = Path(work) / f"{name}.onnx"
            quantize_int8(fp32.onnx_path, path, ({"input": images.preprocess(pixels[i:i + 8])}
                                                 for i in range(0, len(pixels), 8)), exclude_nodes=exclude)
            sessions[name] = open_session(path, threads=2)
            out["variants"][name] = agreement(sessions[name], sessions["fp32"], batch)
            print(name, out["variants"][name])
        x = np.resize(batch, (16, *batch.shape[1:]))
        rates: dict[str, list[float]] = {name: [] for name in sessions}
        for session in sessions.values():
            session.run(None, {session.get_inputs()[0].name: x})
        for _ in range(ROUNDS):
            for name, session in sessions.items():
                started = time.perf_counter()
                session.run(None, {session.get_inputs()[0].name: x})
                rates[name].append(len(x) / (time.perf_counter() - started))
        out["encoder_img_s_batch16"] = {name: round(float(np.median(r)), 1) for name, r in rates.items()}
        print("encoder img/s (median of", ROUNDS, "alternating rounds):", out["encoder_img_s_batch16"])
    print(f"wrote {save(NAME_OF_RESULT, out)}")


if __name__ == "__main__":
    main()
