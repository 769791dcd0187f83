"""Where the embedded mode ends: Milvus Lite against a Milvus server with image-search vectors.

For each backend and size (100,000 and 1,000,000 vectors of 1280 dimensions, the image demo's HNSW/COSINE
collection; about 45 minutes on 2 cores, ``--sizes 100000``: minutes), in a fresh process: insert rate (batches of 1,000
through ``common.vectors``), time to make them searchable (flush + index), search p50/p95 of top-10 over 200
queries, memory (the Lite store runs inside the service process: its RSS growth; the server: the growth of the
``milvus`` process), and start-up (open the store again until the first search answers).

Vectors are realistic, not uniform noise: the EfficientNet-Lite0 descriptors of the Debian opencv-doc photos,
each repeated with small Gaussian perturbations (a collection of near-duplicates, like real photo libraries).
The Milvus server is ``milvus-server`` (Milvus 2.3 standalone, ``pip install milvus``) on 127.0.0.1:19530, started
beforehand (``milvus-server --data DIR``); without one the server rows are skipped, saying so.

Writes bench/results/milvus_limits.json.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import queue as queue_module
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.loads import rss_mb
from bench.ports import MILVUS_URI, milvus_server_up
from bench.results import machine, save

DIM = 1280


def base_vectors(limit: int = 300) -> np.ndarray:
    """Real descriptors: EfficientNet-Lite0 pooled features of the opencv-doc photos."""
    from common.images import decode_image
    from common.models import load_model

    photos = sorted(p for p in Path("/usr/share/doc/opencv-doc/examples/data").rglob("*")
                    if p.suffix.lower() in (".jpg", ".png"))[:limit]
    if not photos:
        raise SystemExit("Debian opencv-doc is not installed (make setup installs it)")
    encoder: Any = load_model("efficientnet-lite0", Path(tempfile.gettempdir()) / "bench-models")
    vecs, _ = encoder.encode([decode_image(p.read_bytes(), max_side=400) for p in photos])
    return np.asarray(vecs, np.float32)


def vectors(base: np.ndarray, start: int, n: int, sigma: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(start)
    out = base[np.arange(start, start + n) % len(base)] + rng.normal(0, sigma, (n, DIM)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def server_rss_mb() -> float:
    """RSS of the Milvus server's ``milvus`` process (found by its command line)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
            if cmd and cmd[0].endswith(b"milvus") and b"standalone" in cmd:
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return float("nan")


def _run(backend: str, n: int, base: np.ndarray, workdir: str, out: Any) -> None:
    from common.vectors import CollectionSpec, VectorStore

    uri = MILVUS_URI if backend == "server" else str(Path(workdir) / "milvus.db")
    spec = CollectionSpec(f"limits_{uuid.uuid4().hex[:8]}", dim=DIM,
                          index_params={"M": 16, "efConstruction": 200})
    measure = server_rss_mb if backend == "server" else rss_mb
    before = measure()
    store = VectorStore(uri)
    store.ensure(spec)
    started = time.perf_counter()
    for start in range(0, n, 1000):
        chunk = vectors(base, start, min(1000, n - start))
        store.upsert(spec.name, [{"id": start + i, "vector": v.tolist()} for i, v in enumerate(chunk)])
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    store.flush(spec.name)
    store.client.load_collection(spec.name)
    queries = vectors(base, 10**9, 200, sigma=0.03)
    store.search(spec.name, [queries[0].tolist()], anns_field="vector", limit=10, metric_type="COSINE",
                 params={"ef": 128})
    ready_s = time.perf_counter() - started
    latencies = []
    for q in queries:
        t = time.perf_counter()
        store.search(spec.name, [q.tolist()], anns_field="vector", limit=10, metric_type="COSINE", params={"ef": 128})
        latencies.append((time.perf_counter() - t) * 1000)
    memory = measure() - before
    store.close()
    started = time.perf_counter()
    again = VectorStore(uri)
    again.ensure(spec)
    again.search(spec.name, [queries[0].tolist()], anns_field="vector", limit=10, metric_type="COSINE",
                 params={"ef": 128})
    startup_s = time.perf_counter() - started
    again.drop(spec.name)
    again.close()
    out.put({"backend": backend, "vectors": n, "insert_per_s": n / insert_s, "searchable_after_s": ready_s,
             "search_p50_ms": float(np.percentile(latencies, 50)), "search_p95_ms": float(np.percentile(latencies, 95)),
             "memory_growth_mb": memory, "startup_s": startup_s})


def run(backend: str, n: int, base: np.ndarray) -> dict[str, Any]:
    """One measurement in a fresh process; a process that dies (out of memory, a crash) is reported, not waited
    for."""
    workdir = tempfile.mkdtemp(prefix="bench-limits-")
    try:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(backend, n, base, workdir, queue))
        proc.start()
        while True:
            try:
                result: dict[str, Any] = queue.get(timeout=5)
                break
            except queue_module.Empty:
                if not proc.is_alive():
                    raise SystemExit(f"the {backend} run at {n:,} vectors died (exit code {proc.exitcode})") from None
        proc.join()
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000", help="comma-separated; 1000000 takes most of the 45 minutes")
    ap.add_argument("--backends", default="lite,server")
    args = ap.parse_args()
    base = base_vectors()
    at_start = machine()
    rows: list[dict[str, Any]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        for backend in args.backends.split(","):
            if backend == "server" and not milvus_server_up():
                print(f"server {n:>9,}: skipped, no Milvus server at {MILVUS_URI} (`milvus-server --data DIR`)")
                continue
            row = run(backend, n, base)
            rows.append(row)
            print(f"{backend:6} {n:>9,}: insert {row['insert_per_s']:,.0f}/s, searchable after "
                  f"{row['searchable_after_s']:.1f} s, search p50 {row['search_p50_ms']:.1f} ms "
                  f"p95 {row['search_p95_ms']:.1f} ms, memory +{row['memory_growth_mb']:,.0f} MB, "
                  f"start-up {row['startup_s']:.1f} s")
            path = save_rows(at_start, rows)  # after each row: a long run stopped half-way keeps what it measured
            print(f"saved {path}")


def save_rows(at_start: dict[str, Any], rows: list[dict[str, Any]]) -> Path:
    table = ["| backend | vectors | insert | searchable after | search p50 / p95 | memory | start-up |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        name = "Milvus Lite (embedded)" if r["backend"] == "lite" else "Milvus 2.3 server"
        table.append(f"| {name} | {r['vectors']:,} | {r['insert_per_s']:,.0f}/s | {r['searchable_after_s']:.0f} s | "
                     f"{r['search_p50_ms']:.1f} / {r['search_p95_ms']:.1f} ms | +{r['memory_growth_mb']:,.0f} MB | "
                     f"{r['startup_s']:.1f} s |")
    return save("milvus_limits", {"machine": at_start, "dim": DIM,
                                  "index": "HNSW M=16 efConstruction=200, ef=128, COSINE", "rows": rows,
                                  "readme": {"summary": "\n".join(table)}})


if __name__ == "__main__":
    main()
