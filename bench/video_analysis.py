"""Benchmark of the video demo: ingest speed, search latency, accuracy on perturbed frames of real videos.

    .venv/bin/python bench/video_analysis.py [--queries 40] [--cores 2]

* ingest: every clip loaded through the service's load job (decode, keyframes, embeddings, labels,
  faces, thumbnails, Milvus + SQL) — seconds of video per second of wall time ("× real time"), and
  per CPU-second of this process (a figure other jobs on a shared machine do not distort).
  The browser-playable WebM copy (written in the background after a load) is timed separately.
* accuracy: frames taken at random moments of the real clips (opencv-doc's ``vtest.avi``,
  ``Megamind.avi``, ``tree.avi``; we did not make them), perturbed with the SPEC's edit exactly as the tests
  do (``bench/perturb.py``: crop to 80–92 %, rotate ±5°, resize to 60 %, brightness ±20 %, JPEG quality 40–60,
  all combined), sent to ``POST /search``; a hit is the right video at rank 1 with a timestamp within ±2 s.
  Caveat: these clips are the only real videos available here, and the tests use two of them too; the
  keyframe/re-rank settings were not tuned on a separate set, so this is not a held-out figure.
* latency: p50/p95 of those ``POST /search`` calls over HTTP (in-process client).

``tree.avi`` declares 444 frames, of which OpenCV decodes the first 68 (cinepak): the service indexes its
readable 4.5 s with a warning, and its queries are taken from that part.
Writes ``bench/results/video_analysis.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.perturb import DESCRIPTION, perturb_array  # noqa: E402

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
CLIPS = ("vtest.avi", "Megamind.avi", "tree.avi")


def all_frames(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    misses = 0
    while misses < 5:
        ok, frame = cap.read()
        if not ok:
            misses += 1
            continue
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames, fps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=40, help="perturbed frames per clip")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to pin the process to")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "video_analysis.json")
    args = parser.parse_args()

    cores = sorted(os.sched_getaffinity(0))[: args.cores]
    os.sched_setaffinity(0, cores)
    from fastapi.testclient import TestClient

    from solutions.video_analysis.app import create_app
    from solutions.video_analysis.config import VideoSettings
    from solutions.video_analysis.video import ProxyWriter, VideoReader

    work = Path(tempfile.mkdtemp(prefix="bench-video-"))
    try:
        clips = work / "clips"
        clips.mkdir()
        for name in CLIPS:
            shutil.copyfile(OPENCV_DATA / name, clips / name)
        # playable WebM copies are background work after a load; they are timed separately below
        settings = VideoSettings(data_dir=work / "data", data_roots=[work], allowed_hosts=["testserver"],
                                 model_cache_dir=ROOT / "data" / "models", playable_proxy=False)
        app = create_app(settings)
        with TestClient(app) as client:
            pipeline = app.state.pipeline
            # warm the models once (first ONNX run allocates)
            pipeline.encoder.encode([np.zeros((224, 224, 3), np.uint8)])
            ingest = []
            for name in CLIPS:
                started = time.perf_counter()
                cpu_started = time.process_time()
                response = client.post("/load", json={"path": str(clips / name)})
                assert response.status_code == 202, response.text
                task = response.json()
                while (state := client.get(f"/tasks/{task['task_id']}").json())["state"] not in ("succeeded", "failed"):
                    time.sleep(0.02)
                took = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                assert state["done"] == 1, state
                video = next(v for v in client.get("/videos").json()["videos"] if v["name"] == name)
                detail = client.get(f"/videos/{video['id']}").json()
                ingest.append({"clip": name, "duration_s": video["duration_s"], "keyframes": video["keyframes"],
                               "seconds": round(took, 3), "x_realtime": round(video["duration_s"] / took, 1),
                               "cpu_seconds": round(cpu, 3),
                               "x_realtime_per_cpu_second": round(video["duration_s"] / cpu, 1),
                               "faces_detected": detail["unknown_faces"], "label_spans": len(detail["labels"]),
                               "resolution": f"{video['width']}x{video['height']}",
                               "truncated": video["truncated"], "warnings": state["warnings"]})
                print(f"ingest {name}: {video['duration_s']:.1f} s of video in {took:.2f} s "
                      f"= {video['duration_s'] / took:.1f}x real time ({video['keyframes']} keyframes; "
                      f"{cpu:.2f} CPU-s = {video['duration_s'] / cpu:.1f}x real time per CPU-second)")
            total_video = sum(i["duration_s"] for i in ingest)
            total_time = sum(i["seconds"] for i in ingest)
            total_cpu = sum(i["cpu_seconds"] for i in ingest)
            started = time.perf_counter()
            for name in CLIPS:
                with VideoReader(clips / name) as reader:
                    writer = ProxyWriter(work / f"{name}.webm", reader.fps, reader.width, reader.height,
                                         settings.proxy_max_side)
                    try:
                        for index, bgr in reader.frames():
                            writer(bgr, index)
                    finally:
                        writer.close()
            proxy_s = time.perf_counter() - started
            videos = {v["name"]: v for v in client.get("/videos").json()["videos"]}

            rng = np.random.default_rng(args.seed)
            per_clip = {}
            latencies, server_ms = [], []
            for name in CLIPS:
                frames, fps = all_frames(clips / name)
                usable = min(len(frames), round(videos[name]["duration_s"] * fps))
                hits = video_hits = 0
                errors = []
                for _ in range(args.queries):
                    index = int(rng.integers(0, usable))
                    t = index / fps
                    data = perturb_array(frames[index], int(rng.integers(0, 2**31)))
                    started = time.perf_counter()
                    response = client.post("/search", files={"file": ("q.jpg", data, "image/jpeg")},
                                           data={"top_k": "3"})
                    latencies.append((time.perf_counter() - started) * 1000)
                    body = response.json()
                    server_ms.append(body["took_ms"])
                    best = body["results"][0]
                    if best["video_name"] == name:
                        video_hits += 1
                        errors.append(abs(best["timestamp_s"] - t))
                        if abs(best["timestamp_s"] - t) <= 2.0:
                            hits += 1
                per_clip[name] = {"queries": args.queries, "right_video": video_hits / args.queries,
                                  "right_video_within_2s": hits / args.queries,
                                  "median_time_error_s": round(float(np.median(errors)), 2) if errors else None}
                print(f"accuracy {name}: video {video_hits}/{args.queries}, video and ±2 s {hits}/{args.queries}")
            n = args.queries * len(CLIPS)
            overall = sum(c["right_video_within_2s"] * c["queries"] for c in per_clip.values()) / n
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "cores": len(cores),
        "ingest": {"clips": ingest, "video_seconds": round(total_video, 2), "wall_seconds": round(total_time, 2),
                   "x_realtime": round(total_video / total_time, 1), "cpu_seconds": round(total_cpu, 2),
                   "x_realtime_per_cpu_second": round(total_video / total_cpu, 1),
                   "target_x_realtime": 15, "load_average_1min": round(os.getloadavg()[0], 2),
                   "playable_webm_copies_s": round(proxy_s, 2),
                   "playable_webm_x_realtime": round(total_video / proxy_s, 1)},
        "accuracy": {"per_clip": per_clip, "right_video_within_2s": round(overall, 4), "target": 0.9,
                     "perturbation": DESCRIPTION, "held_out": False},
        "search_ms": {"http_p50": round(float(np.percentile(latencies, 50)), 2),
                      "http_p95": round(float(np.percentile(latencies, 95)), 2),
                      "server_p50": round(float(np.percentile(server_ms, 50)), 2),
                      "server_p95": round(float(np.percentile(server_ms, 95)), 2), "queries": len(latencies)},
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out.with_suffix(".png"))
    return 0


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    clips = result["ingest"]["clips"]
    axes[0].bar([c["clip"] for c in clips], [c["x_realtime"] for c in clips], color="#2454d6")
    axes[0].axhline(15, color="#b42318", linestyle="--", label="target 15×")
    axes[0].set_ylabel("ingest speed (× real time, faces included)")
    axes[0].legend()
    per = result["accuracy"]["per_clip"]
    axes[1].bar(list(per), [v["right_video_within_2s"] for v in per.values()], color="#1b7f3b")
    axes[1].axhline(0.9, color="#b42318", linestyle="--", label="target 90 %")
    axes[1].set_ylim(0, 1.05)
    axes[1].set_ylabel("right video within ±2 s (perturbed frames)")
    axes[1].legend(loc="lower right")
    fig.suptitle(f"video_analysis on {result['cores']} cores — search p50 {result['search_ms']['http_p50']} ms, "
                 f"p95 {result['search_ms']['http_p95']} ms")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
