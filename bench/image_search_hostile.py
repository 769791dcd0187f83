"""Hostile image queries against the image service: time and peak memory of each (issue 14).

Cases: a 9400 x 9400 16-bit greyscale PNG (172 KB on disk, 88 Mpx: over ``MAX_IMAGE_MPX``, refused with 413
before its pixels are decoded); a 6000 x 6000 16-bit PNG (36 Mpx, under the cap: decoded and converted to 8
bits in strips, then searched); a body over ``IMAGE_MAX_QUERY_MB`` (413 while streaming). For each, the
process's peak resident memory is reset (``/proc/self/clear_refs``) just before the request and read after
it (``VmHWM``), so the figure is the request's own peak above the idle service.

    python bench/image_search_hostile.py            # writes bench/results/image_search_hostile.json
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import parse_or_rewrite, save

NAME = "image_search_hostile"


def hostile_png(side: int = 9400, bits: int = 16) -> bytes:
    """A valid greyscale PNG of ``side`` x ``side`` pixels of zeros, compressed row by row (small memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + side * bits // 8)  # filter byte + pixels
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    header = struct.pack(">IIBBBBB", side, side, bits, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def request_peak(send) -> tuple[object, float, int]:
    """(response, seconds, peak RSS above the RSS before) of ``send()``."""
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status("VmRSS")
    started = time.perf_counter()
    response = send()
    took = time.perf_counter() - started
    return response, took, _status("VmHWM") - before


def readme(out: dict[str, Any]) -> dict[str, str]:
    """The rows the image tutorial quotes (bench/report.py), from the saved figures."""
    rows = ["| hostile query | what the service does |", "|---|---|"]
    for name, case in out["cases"].items():
        what = {413: "refused with 413", 200: "searched (200)"}.get(case["status"], f"answered {case['status']}")
        memory = (f"peak RSS +{case['peak_rss_above_idle_mb']:.0f} MB" if case["peak_rss_above_idle_mb"] >= 1
                  else "no growth of peak RSS")
        n = case["file_bytes"]
        size = f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n >> 10} KB"
        rows.append(f"| query: {name}, {size} on the wire | {what} in "
                    f"{case['seconds'] * 1000:,.0f} ms, {memory} |")
    return {"summary": "\n".join(rows)}


def main() -> None:
    args = parse_or_rewrite(argparse.ArgumentParser(description=__doc__.split("\n")[0]), readme, NAME)
    if args is None:
        return
    from fastapi.testclient import TestClient

    from bench.image_search_data import collect_images
    from solutions.image_search.app import create_app
    from solutions.image_search.config import ImageSettings

    work = Path(tempfile.mkdtemp(prefix="image-hostile-"))
    gallery = work / "gallery"
    gallery.mkdir()
    for i, p in enumerate(collect_images(20)):
        (gallery / f"{i:02d}-{p.name}").write_bytes(p.read_bytes())
    settings = ImageSettings(data_dir=work / "data", data_roots=[work], model_cache_dir=work / "models",
                             allowed_hosts=["testserver"])
    cases = {"9400x9400 16-bit PNG (88 Mpx)": hostile_png(9400), "6000x6000 16-bit PNG (36 Mpx)": hostile_png(6000),
             f"{settings.max_query_mb + 1} MB body": b"\xff\xd8\xff" + b"\x00" * ((settings.max_query_mb + 1) << 20)}
    out: dict = {"max_image_mpx": settings.max_image_mpx, "max_query_mb": settings.max_query_mb, "cases": {}}
    with TestClient(create_app(settings)) as client:
        task = client.post("/load", json={"path": str(gallery)}).json()
        while client.get(f"/tasks/{task['task_id']}").json()["state"] in ("queued", "running"):
            time.sleep(0.2)
        client.post("/search", files={"file": ("q.jpg", next(gallery.iterdir()).read_bytes())})  # warm up
        for name, data in cases.items():
            r, took, peak = request_peak(lambda d=data: client.post("/search", files={"file": ("q.png", d)}))
            out["cases"][name] = {"file_bytes": len(data), "status": r.status_code, "seconds": round(took, 3),
                                  "peak_rss_above_idle_mb": round(peak / 2**20, 1),
                                  "detail": r.json().get("detail") if r.status_code != 200 else None}
            print(f"{name}: {len(data) / 1024:.0f} KB -> {r.status_code} in {took:.2f} s, "
                  f"peak RSS +{peak / 2**20:.1f} MB")
    out["readme"] = readme(out)
    print(f"wrote {save(NAME, out)}")


if __name__ == "__main__":
    main()
