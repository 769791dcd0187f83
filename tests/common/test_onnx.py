"""ONNX export once, verification against PyTorch, cache reuse and repair."""

from __future__ import annotations

import json
import logging
import warnings

import numpy as np
import pytest
import torch

from common.onnx import ExportRejected, file_key, load_onnx

X = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU()).eval()


class Exporter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, path) -> None:
        self.calls += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter, as common/images.py
            torch.onnx.export(tiny_model(), (torch.from_numpy(X),), str(path), dynamo=False, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})


def verify(session) -> float:
    with torch.no_grad():
        ref = tiny_model()(torch.from_numpy(X)).numpy()
    return float(np.abs(session.run(None, {"x": X})[0] - ref).max())


def test_exported_once_then_reused(tmp_path):
    export = Exporter()
    session, path = load_onnx(tmp_path, "tiny", file_key("v1", 8), export=export, verify=verify, max_diff=1e-5)
    assert export.calls == 1 and path.exists()
    assert verify(session) < 1e-5
    note = json.loads(path.with_suffix(".json").read_text())
    assert note["verified"] and note["max_abs_diff"] < 1e-5
    again, same = load_onnx(tmp_path, "tiny", file_key("v1", 8), export=export, verify=verify, max_diff=1e-5)
    assert same == path and export.calls == 1
    assert np.array_equal(again.run(None, {"x": X})[0], session.run(None, {"x": X})[0])
    # another key (other weights or export code) is another file
    load_onnx(tmp_path, "tiny", file_key("v2", 8), export=export, verify=verify, max_diff=1e-5)
    assert export.calls == 2


def test_corrupt_cache_is_exported_again(tmp_path):
    export = Exporter()
    _, path = load_onnx(tmp_path, "tiny", "k", export=export, verify=verify, max_diff=1e-5)
    path.write_bytes(b"half a file")
    session, _ = load_onnx(tmp_path, "tiny", "k", export=export, verify=verify, max_diff=1e-5)
    assert export.calls == 2 and verify(session) < 1e-5


def test_export_that_disagrees_is_not_kept_and_not_made_again(tmp_path):
    exporter = Exporter()
    with pytest.raises(ExportRejected, match="disagrees"):
        load_onnx(tmp_path, "tiny", "k", export=exporter, verify=lambda session: 0.5, max_diff=1e-3)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-k.rejected.json"]  # no model file, the refusal noted
    with pytest.raises(ExportRejected, match="refused on this machine before"):
        load_onnx(tmp_path, "tiny", "k", export=exporter, verify=lambda session: 0.5, max_diff=1e-3)
    assert exporter.calls == 1
    (tmp_path / "tiny-k.rejected.json").unlink()  # deleting the note tries again
    load_onnx(tmp_path, "tiny", "k", export=exporter, verify=verify, max_diff=1e-5)
    assert exporter.calls == 2


def test_a_missing_gpu_provider_falls_back_to_cpu_with_one_warning(tmp_path, caplog):
    """ONNX_PROVIDERS=CUDAExecutionProvider,CPUExecutionProvider on this CPU-only machine runs on the CPU."""
    import onnxruntime

    from common import onnx

    assert "CUDAExecutionProvider" not in onnxruntime.get_available_providers()  # the premise of this test
    onnx._WARNED.clear()
    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    with caplog.at_level("WARNING", logger="common.onnx"):
        session, _ = load_onnx(tmp_path, "tiny", "k", export=Exporter(), verify=verify, max_diff=1e-5,
                               providers=wanted)
        load_onnx(tmp_path, "tiny", "k", export=Exporter(), verify=verify, max_diff=1e-5, providers=wanted)
    assert session.get_providers() == ["CPUExecutionProvider"] and verify(session) < 1e-5
    warnings_ = [r.getMessage() for r in caplog.records if "not available" in r.getMessage()]
    assert len(warnings_) == 1
    assert "CUDAExecutionProvider" in warnings_[0] and "using CPUExecutionProvider" in warnings_[0]


def test_onnx_providers_setting_reaches_the_shared_models(tmp_path, monkeypatch):
    from common.models import load_model
    from common.settings import ServiceSettings

    monkeypatch.setenv("ONNX_PROVIDERS", "CUDAExecutionProvider,CPUExecutionProvider")
    settings = ServiceSettings(data_dir=tmp_path)
    assert settings.onnx_providers == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    model = load_model("efficientnet-lite0", settings.models_dir(), providers=settings.onnx_providers)
    assert model.providers == ["CPUExecutionProvider"]
    assert load_model("efficientnet-lite0", settings.models_dir(), providers=settings.onnx_providers) is model


def test_agreement_figures_are_recorded_beside_the_file(tmp_path):
    from common.onnx import Agreement, read_note

    figures = {"images": 3, "mean_cosine": 0.99}
    _, path = load_onnx(tmp_path, "tiny", "k", export=Exporter(), verify=lambda s: Agreement(0.01, figures),
                        max_diff=0.02)
    assert read_note(path)["agreement"] == figures and read_note(path)["max_abs_diff"] == 0.01
    with pytest.raises(RuntimeError, match="mean_cosine"):
        load_onnx(tmp_path, "tiny", "k2", export=Exporter(), verify=lambda s: Agreement(0.5, figures), max_diff=0.02)
    assert read_note(tmp_path / "absent.onnx") == {}


def test_static_int8_quantization_of_a_small_model(tmp_path):
    import onnx

    from common.onnx import open_session, quantize_int8

    Exporter()(tmp_path / "float.onnx")
    rng = np.random.default_rng(1)
    quantize_int8(tmp_path / "float.onnx", tmp_path / "int8.onnx",
                  ({"x": rng.normal(size=(16, 8)).astype(np.float32)} for _ in range(4)))
    ops = [n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    got = open_session(tmp_path / "int8.onnx").run(None, {"x": X})[0]
    ref = open_session(tmp_path / "float.onnx").run(None, {"x": X})[0]
    assert 0 < np.abs(got - ref).max() < 0.05 * np.abs(ref).max()  # 8-bit steps, close to the float model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.onnx", "int8.onnx"]  # no scratch files left


def test_dynamic_int8_quantization_logs_nothing_on_the_root_logger(tmp_path, caplog):
    """onnxruntime's quantizer logs a line per tensor (and advice) to the root logger: a first start's log
    would fill with them."""
    import onnx

    from common.onnx import open_session, quantize_dynamic_int8

    Exporter()(tmp_path / "float.onnx")
    with caplog.at_level(logging.DEBUG):
        quantize_dynamic_int8(tmp_path / "float.onnx", tmp_path / "int8.onnx")
    assert [r.getMessage() for r in caplog.records if "onnxruntime" in r.pathname] == []
    ops = [n.op_type for n in onnx.load(str(tmp_path / "int8.onnx")).graph.node]
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    # the 8-bit weights are the float ones to within half a step of each output channel's scale
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / "int8.onnx")).graph.initializer}
    (name,) = [n for n in stored if n.endswith("_quantized")]
    base = name.removesuffix("_quantized")
    weights = stored[name].astype(np.float32) - stored[base + "_zero_point"].astype(np.float32)
    scale = stored[base + "_scale"]
    reference = tiny_model()[0].weight.detach().numpy().T  # (in, out): the MatMul's B
    assert stored[name].dtype == np.int8 and scale.shape == (reference.shape[1],)  # per output channel
    assert np.abs(weights * scale - reference).max() <= scale.max() / 2 + 1e-7
    # and it runs (its products are the CPU's: on x86 without VNNI they saturate, which an 8-input layer does
    # not average out; the real text encoder is verified against FP32 at export, tests/solutions/qa_chatbot)
    got = open_session(tmp_path / "int8.onnx").run(None, {"x": X})[0]
    assert got.shape == (len(X), 4) and np.isfinite(got).all()
