"""The ONNX text encoder reproduces sentence-transformers' all-MiniLM-L6-v2 embeddings."""

from __future__ import annotations

import numpy as np

from common.text import TextEncoder, _reference, default_model_dir

TEXTS = [
    "How do I reset my password?",
    "a",
    "Why does apt say that a package has unmet dependencies when I try to install it? " * 20,  # > 256 tokens
    "¿Dónde está mi pedido? 注文はどこですか",
    "'; DROP TABLE qa_pairs; --",
]


def test_matches_sentence_transformers_in_any_order(qa_models):
    encoder = TextEncoder.load(default_model_dir(), qa_models)
    ref = _reference(default_model_dir(), TEXTS)
    got = encoder.encode(TEXTS, batch_size=2)  # batches of mixed lengths, sorted and put back in order
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert np.abs(got - ref).max() < 1e-4
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert np.abs(encoder.encode(TEXTS[::-1])[::-1] - got).max() < 1e-5
    assert encoder.encode([]).shape == (0, 384)


def test_export_is_cached(qa_models):
    first = TextEncoder.load(default_model_dir(), qa_models)
    mtime = first.onnx_path.stat().st_mtime_ns
    again = TextEncoder.load(default_model_dir(), qa_models)
    assert again.onnx_path == first.onnx_path and again.onnx_path.stat().st_mtime_ns == mtime


def test_int8_export_is_verified_against_fp32_and_cached(qa_models):
    fp32 = TextEncoder.load(default_model_dir(), qa_models)
    int8 = TextEncoder.load(default_model_dir(), qa_models, precision="int8")
    assert int8.onnx_path != fp32.onnx_path and "int8" in int8.onnx_path.name
    assert int8.onnx_path.stat().st_size < fp32.onnx_path.stat().st_size / 2
    a, b = fp32.encode(TEXTS), int8.encode(TEXTS)
    assert (a * b).sum(axis=1).min() > 0.97  # verified at export: within cosine 0.03 of FP32
    mtime = int8.onnx_path.stat().st_mtime_ns
    again = TextEncoder.load(default_model_dir(), qa_models, precision="int8")
    assert again.onnx_path.stat().st_mtime_ns == mtime


def test_batching_by_token_budget_gives_the_same_vectors(qa_models):
    encoder = TextEncoder.load(default_model_dir(), qa_models)
    texts = [f"question {i} " + "word " * (i % 40) for i in range(90)]
    one_by_one = np.concatenate([encoder.encode([t]) for t in texts])
    assert np.abs(encoder.encode(texts, batch_size=64, max_batch_tokens=256) - one_by_one).max() < 1e-5
    assert np.abs(encoder.encode(texts, batch_size=7, max_batch_tokens=100_000) - one_by_one).max() < 1e-5


def test_unknown_precision_is_refused(qa_models):
    import pytest

    with pytest.raises(ValueError, match="precision"):
        TextEncoder.load(default_model_dir(), qa_models, precision="fp8")


def test_the_shared_int8_encoder_loads_the_shared_fp32_one_it_is_made_from(qa_models):
    """The INT8 encoder's constructor asks the shared-model cache for FP32 while that cache is building it (the
    service's default path): this hung for ever on a non-re-entrant lock."""
    import threading

    from common.models import load_model

    loaded: list[TextEncoder] = []
    worker = threading.Thread(target=lambda: loaded.append(
        load_model("all-MiniLM-L6-v2", qa_models, precision="int8")), daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert loaded, "load_model of the INT8 text encoder did not return"
    assert loaded[0].precision == "int8" and loaded[0]._fp32 is not None and loaded[0]._fp32.precision == "fp32"
    assert load_model("all-MiniLM-L6-v2", qa_models, precision="int8") is loaded[0]


def test_the_batches_of_one_call_run_side_by_side_one_core_each_with_the_same_vectors(qa_models):
    """A load's texts make many batches: they run ``threads`` at a time on single-threaded onnxruntime runs (a
    small model keeps the cores busier so than with intra-op threads), each batch as it would alone."""
    import threading
    import time

    serial = TextEncoder.load(default_model_dir(), qa_models, threads=1, precision="int8")
    side_by_side = TextEncoder.load(default_model_dir(), qa_models, threads=2, precision="int8")
    assert side_by_side.session.get_session_options().intra_op_num_threads == 1
    texts = [f"question {i} " + "word " * (i % 40) for i in range(300)]
    expected = serial.encode(texts, batch_size=16, max_batch_tokens=512)

    real, running, most, lock = side_by_side.session, [0], [0], threading.Lock()

    class Watched:
        def __getattr__(self, name):
            return getattr(real, name)

        def run(self, *args):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            try:
                time.sleep(0.005)
                return real.run(*args)
            finally:
                with lock:
                    running[0] -= 1

    side_by_side.session = Watched()
    got = side_by_side.encode(texts, batch_size=16, max_batch_tokens=512)
    assert most[0] == 2
    assert np.array_equal(got, expected)  # INT8 vectors depend on their batch: the batches are the same
    assert np.array_equal(side_by_side.encode(texts[:1]), serial.encode(texts[:1]))
