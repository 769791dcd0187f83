"""Benchmark of the image search demo (``make bench``): FP32 and INT8 encoders side by side.

Measures, in one run, on images nobody here made (Debian opencv-doc photos, screenshots, diagrams, minus the
photos the INT8 encoder is calibrated and verified on, and their near-duplicates):
- encoder-only throughput at several batch sizes (the 224 x 224 encoder inputs already in memory: normalising
  and onnxruntime only) and end-to-end ingest (the load job of ``POST /load`` on the same files, through the
  service's Resources, until it finishes: read, hash, decode, thumbnail, encode, copy, store), for each
  precision, alternating precisions and the two measurements in ``--rounds`` rounds (medians reported, with
  the process's CPU time per image, a figure other jobs on a shared machine distort less than wall time);
- quality for each precision: each image perturbed (bench/perturb.py: crop 80-92 %, rotate +-5 deg, resize 60 %,
  brightness +-20 %, JPEG 40-60, all combined) is searched; recall@1/@5 with re-ranking and with the global
  descriptor alone; and how INT8 agrees with FP32 on the gallery (descriptor cosine, top-1 label);
- search latency over HTTP (uvicorn) at 1 and 8 concurrent clients with ``--scale`` stored items, with the
  default precision (the real images plus synthetic near-copies: perturbed vectors, same stored file). Each
  level runs *cold* (no local features cached) and then *warm* (the same queries again: features from memory).

Writes bench/results/image_search.json (with a ``readme.summary`` table the tutorial quotes, bench/report.py) and
image_search.png (``--limit N``: a quick smoke run, not saved over the real figures: image_search-smoke.json).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.image_search_data import collect_images
from bench.perturb import DESCRIPTION, perturb_bytes
from bench.ports import free_port
from bench.results import RESULTS, parse_or_rewrite, save
from bench.results import readme as readme_texts
from common.images import CALIBRATION_DIR, ImageEncoder, calibration_split, decode_image, preprocess
from common.pipeline import load_job
from common.resources import Resources
from solutions.image_search.app import NAME, create_app
from solutions.image_search.config import ImageSettings
from solutions.image_search.features import global_descriptor
from solutions.image_search.ingest import encoder_input
from solutions.image_search.labels import FIELDS
from solutions.image_search.pipeline import ImagePipeline

PRECISIONS = ("fp32", "int8")
#: largest recall@1 drop (re-ranked, perturbed copies) at which INT8 may be the default
MAX_RECALL_DROP = 0.01


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=600, help="real images in the gallery (>= 500 for the SPEC bar)")
    ap.add_argument("--queries", type=int, default=0, help="perturbed queries (0 = one per image)")
    ap.add_argument("--scale", type=int, default=10_000, help="stored items for the latency test")
    ap.add_argument("--requests", type=int, default=120, help="HTTP searches per concurrency level")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating encoder-only / end-to-end rounds")
    ap.add_argument("--limit", type=int, default=0, help="smoke run: at most this many images, queries, items")
    args = parse_or_rewrite(ap, readme, "image_search")
    if args is None:
        return
    if args.limit:
        args.images, args.queries = min(args.images, args.limit), min(args.queries or args.limit, args.limit)
        args.scale, args.requests = min(args.scale, 2 * args.limit), min(args.requests, args.limit)

    calibration, verification = calibration_split(CALIBRATION_DIR)
    paths = collect_images(args.images, exclude=(CALIBRATION_DIR,))
    print(f"{len(paths)} distinct real images from {sorted({str(p.parents[len(p.parents) - 5]) for p in paths})}, "
          f"none of the {len(calibration) + len(verification)} INT8 calibration/verification photos of "
          f"{CALIBRATION_DIR} (nor a near-duplicate of one)")
    work = Path(tempfile.mkdtemp(prefix="image-bench-"))
    gallery = work / "gallery"
    gallery.mkdir()
    for i, p in enumerate(paths):  # flat copy with unique names, as a user's folder would be
        (gallery / f"{i:04d}-{p.name}").write_bytes(p.read_bytes())
    datas = [p.read_bytes() for p in sorted(gallery.iterdir())]
    names = sorted(p.name for p in gallery.iterdir())
    default = ImageSettings().encoder_precision
    out: dict[str, Any] = {"images": len(paths), "perturbation": DESCRIPTION, "limit": args.limit or None,
                           "default_precision": default, "rounds": args.rounds,
                           "calibration": {"folder": str(CALIBRATION_DIR), "calibration_files": len(calibration),
                                           "verification_files": len(verification)}}
    settings: dict[str, ImageSettings] = {}
    with contextlib.ExitStack() as stack:
        pipes: dict[str, ImagePipeline] = {}
        resources: dict[str, Resources] = {}
        for prec in PRECISIONS:
            settings[prec] = ImageSettings(data_dir=work / f"data-{prec}", data_roots=[work],
                                           model_cache_dir=work / "models", encoder_precision=prec)
            resources[prec] = stack.enter_context(Resources.open(NAME, settings[prec]))
            pipes[prec] = ImagePipeline(resources[prec], settings[prec])
            stack.callback(pipes[prec].close)
            resources[prec].sql.create_all()
        out["calibration"]["agreement_at_export"] = pipes["int8"].encoder.verification.get("agreement")

        # -- the encoder inputs (224 x 224, as the decode threads make them) ---------------------------
        inputs = [encoder_input(decode_image(d, max_side=448), ImageEncoder.input_size) for d in datas]
        out["encoder"] = {prec: encoder_by_batch(pipes[prec].encoder, inputs[:192]) for prec in PRECISIONS}
        out["ingest"] = {prec: {"img_s_runs": [], "cpu_ms_runs": [], "encoder_img_s_runs": []} for prec in PRECISIONS}
        for r in range(args.rounds):  # alternate, and swap the order every round: load hits all alike
            for prec in PRECISIONS if r % 2 == 0 else PRECISIONS[::-1]:
                enc, ing = out["encoder"][prec], out["ingest"][prec]
                ing["encoder_img_s_runs"].append(encoder_rate(pipes[prec].encoder, inputs, enc["best_batch"]))
                pipes[prec].drop()
                cpu, t = time.process_time(), time.perf_counter()
                task = resources[prec].tasks.run_now(str(gallery), load_job(pipes[prec], gallery, gallery))
                wall, cpu = time.perf_counter() - t, time.process_time() - cpu
                ing["img_s_runs"].append(task["done"] / wall)
                ing["cpu_ms_runs"].append(1000 * cpu / max(1, task["done"]))
                ing.update(done=task["done"], failed=task["failed"], stored=pipes[prec].count())
                print(f"round {r + 1} {prec}: encoder only {ing['encoder_img_s_runs'][-1]:.1f} img/s (batch "
                      f"{enc['best_batch']}), end to end {ing['img_s_runs'][-1]:.1f} img/s ({task['done']} images "
                      f"in {wall:.1f} s, {ing['cpu_ms_runs'][-1]:.1f} ms CPU per image; load {os.getloadavg()[0]:.1f})")
        for prec in PRECISIONS:
            ing = out["ingest"][prec]
            ing["img_s"] = statistics.median(ing["img_s_runs"])
            ing["cpu_ms_per_image"] = statistics.median(ing["cpu_ms_runs"])
            ing["encoder_img_s"] = statistics.median(ing["encoder_img_s_runs"])
            ing["vs_encoder"] = statistics.median(i / e for i, e in zip(ing["img_s_runs"], ing["encoder_img_s_runs"],
                                                                        strict=True))
        f32, i8 = out["ingest"]["fp32"], out["ingest"]["int8"]
        out["int8_vs_fp32"] = {
            "ingest_ratio": statistics.median(a / b for a, b in zip(i8["img_s_runs"], f32["img_s_runs"], strict=True)),
            "ingest_cpu_ratio": f32["cpu_ms_per_image"] / i8["cpu_ms_per_image"],
            "encoder_ratio": statistics.median(a / b for a, b in zip(i8["encoder_img_s_runs"],
                                                                   f32["encoder_img_s_runs"], strict=True)),
            **agreement(pipes["fp32"].encoder, pipes["int8"].encoder, inputs)}
        print(f"INT8 vs FP32: end to end {out['int8_vs_fp32']['ingest_ratio']:.2f}x (CPU per image "
              f"{out['int8_vs_fp32']['ingest_cpu_ratio']:.2f}x less), encoder only "
              f"{out['int8_vs_fp32']['encoder_ratio']:.2f}x; descriptor cosine "
              f"{out['int8_vs_fp32']['descriptor_cosine_mean']:.4f}, same top-1 label "
              f"{out['int8_vs_fp32']['top1_label_agreement']:.3f}")

        # -- quality --------------------------------------------------------------------------------
        rng = random.Random(args.seed)
        order = list(range(len(names)))
        if args.queries:
            order = rng.sample(order, min(args.queries, len(order)))
        queries = [(names[i], perturb_bytes(datas[i], args.seed * 1_000_003 + i)) for i in order]
        out["queries"] = len(queries)
        out["quality"] = {prec: quality(pipes[prec], queries, prec) for prec in PRECISIONS}
        drop = out["quality"]["fp32"]["re-ranked"]["recall@1"] - out["quality"]["int8"]["re-ranked"]["recall@1"]
        out["int8_vs_fp32"]["recall@1_drop"] = drop
        out["int8_vs_fp32"]["global_recall@1_drop"] = (out["quality"]["fp32"]["global only"]["recall@1"]
                                                       - out["quality"]["int8"]["global only"]["recall@1"])
        out["int8_quality_loss_measurable"] = drop > MAX_RECALL_DROP

        # -- scale: synthetic near-copies up to --scale items (default precision) -----------------------
        pipe = pipes[default]
        out["scale_items"] = add_synthetic(pipe, args.scale, args.seed)
    out["http_latency"] = http_latency(settings[default], [q for _, q in queries], args.requests)
    out["load_average_end"] = os.getloadavg()[0]
    out["readme"] = readme(out)
    stem = "image_search-smoke" if args.limit else "image_search"
    path = save(stem, out)
    plot(out, stem)
    print(out["readme"]["summary"])
    print(f"wrote {path} and {stem}.png")


def encoder_rate(encoder: ImageEncoder, inputs: list[np.ndarray], batch: int) -> float:
    t = time.perf_counter()
    for start in range(0, len(inputs), batch):
        encoder._run(preprocess(inputs[start:start + batch]))
    return len(inputs) / (time.perf_counter() - t)


def encoder_by_batch(encoder: ImageEncoder, inputs: list[np.ndarray]) -> dict[str, Any]:
    encoder._run(preprocess(inputs[:8]))  # warm-up
    by_batch = {}
    for bs in (1, 4, 8, 16, 32):
        by_batch[bs] = encoder_rate(encoder, inputs, bs)
        print(f"{encoder.precision} encoder only, batch {bs:2d}: {by_batch[bs]:6.1f} img/s")
    return {"img_s_by_batch": by_batch, "best_batch": max(by_batch, key=lambda b: by_batch[b])}


def agreement(fp32: ImageEncoder, int8: ImageEncoder, inputs: list[np.ndarray]) -> dict[str, float]:
    """How the INT8 encoder's search descriptors and labels agree with FP32 on the gallery."""
    ref_maps, ref_probs = fp32.encode_maps(inputs)
    got_maps, got_probs = int8.encode_maps(inputs)
    cosine = (global_descriptor(ref_maps) * global_descriptor(got_maps)).sum(axis=1)
    top5 = [len(set(np.argsort(-a)[:5]) & set(np.argsort(-b)[:5])) / 5 for a, b in zip(ref_probs, got_probs,
                                                                                      strict=True)]
    return {"descriptor_cosine_mean": float(cosine.mean()), "descriptor_cosine_p5": pct(list(cosine), 5),
            "top1_label_agreement": float((ref_probs.argmax(1) == got_probs.argmax(1)).mean()),
            "top5_label_overlap": float(np.mean(top5))}


def quality(pipe: ImagePipeline, queries: list[tuple[str, bytes]], prec: str) -> dict[str, Any]:
    out = {}
    default_check = pipe.settings.rerank_candidates
    for label, n_check in (("global only", 0), ("re-ranked", default_check)):
        pipe.settings.rerank_candidates = n_check
        r1 = r5 = 0
        lat, misses = [], []
        for name, q in queries:
            t = time.perf_counter()
            res = pipe.search(q, 10)
            lat.append((time.perf_counter() - t) * 1000)
            got = [h["name"] for h in res]
            r1 += got[:1] == [name]
            r5 += name in got[:5]
            if got[:1] != [name]:
                misses.append([name, got[0] if got else None])
        out[label] = {"recall@1": r1 / len(queries), "recall@5": r5 / len(queries),
                      "search_ms_p50_in_process": pct(lat, 50), "misses": misses[:50]}
        print(f"{prec} {label:12s}: recall@1 {r1 / len(queries):.3f}  recall@5 {r5 / len(queries):.3f}  "
              f"(in-process p50 {pct(lat, 50):.0f} ms) over {len(queries)} perturbed queries")
    pipe.settings.rerank_candidates = default_check
    return out


def add_synthetic(pipe: ImagePipeline, scale: int, seed: int) -> int:
    found = pipe.vectors.query(pipe.collection, filter="id >= 0", output_fields=["vector", *FIELDS], limit=16384)
    vecs = {int(r["id"]): np.asarray(r["vector"], np.float32) for r in found}
    labels = {int(r["id"]): {f: int(r[f]) for f in FIELDS} for r in found}
    real_ids = list(vecs)
    meta = pipe.rows(real_ids)
    extra = max(0, scale - len(real_ids))
    nrng = np.random.default_rng(seed)
    batch, rows = [], []
    next_id = 1 << 52
    t = time.perf_counter()
    for k in range(extra):
        src = real_ids[k % len(real_ids)]
        v = vecs[src] + nrng.normal(0, 0.03, size=vecs[src].shape).astype(np.float32)
        v /= np.linalg.norm(v)
        item_id = next_id + k
        batch.append({"id": item_id, "vector": v.tolist(), **labels[src]})
        media = f"{item_id}{Path(meta[src]['media']).suffix}"
        os.link(pipe.media.copy_path(meta[src]["media"]), pipe.media.copy_path(media))
        rows.append({**meta[src], "id": item_id, "name": f"synthetic/{k:05d}", "media": media})
        if len(batch) == 1000:
            store(pipe, batch, rows)
            batch, rows = [], []
    if batch:
        store(pipe, batch, rows)
    pipe.finish_load()
    total = pipe.vectors.count(pipe.collection)
    print(f"added {extra} synthetic items in {time.perf_counter() - t:.1f} s: {total} vectors stored")
    return total


def http_latency(settings: ImageSettings, qs: list[bytes], requests: int) -> dict[str, dict[str, dict[str, float]]]:
    import httpx
    import uvicorn

    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port}/search"
    pipe = app.state.pipeline
    latency: dict[str, dict[str, dict[str, float]]] = {}
    for clients, state in ((1, "cold"), (1, "warm"), (8, "cold"), (8, "warm")):
        if state == "cold":  # forget every candidate's local features, on disk and in memory
            pipe.local.clear()
        lat: list[float] = []

        def one(i: int, lat: list[float] = lat) -> None:
            with httpx.Client(timeout=120) as h:
                t0 = time.perf_counter()
                r = h.post(url, files={"file": ("q.jpg", qs[i % len(qs)])}, data={"top_k": "10"})
                r.raise_for_status()
                lat.append((time.perf_counter() - t0) * 1000)

        t = time.perf_counter()
        with ThreadPoolExecutor(clients) as ex:
            list(ex.map(one, range(requests)))
        wall = time.perf_counter() - t
        latency.setdefault(str(clients), {})[state] = {"p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
                                                       "qps": requests / wall}
        print(f"HTTP /search, {clients} client(s), {state}: p50 {pct(lat, 50):.0f} ms, "
              f"p95 {pct(lat, 95):.0f} ms, {requests / wall:.1f} req/s")
    server.should_exit = True
    th.join(timeout=30)
    return latency


def readme(out: dict[str, Any]) -> dict[str, str]:
    """What the READMEs quote (bench/report.py): the tutorial's table and the top-level headline row."""
    default = out["default_precision"]
    ingest, quality = out["ingest"][default], out["quality"][default]["re-ranked"]
    warm = out["http_latency"]["1"]["warm"] if "1" in out["http_latency"] else None
    latency = f", search p50 {warm['p50_ms']:.0f} ms at {out['scale_items']:,} images" if warm else ""
    return readme_texts(summary(out), "image_search", "Reverse image search",
                        f"ingest {ingest['img_s']:.0f} img/s ({default.upper()}){latency}",
                        f"recall@1 {quality['recall@1']:.3f} on {out['queries']} edited copies")


def summary(out: dict[str, Any]) -> str:
    """The markdown table the tutorial quotes (bench/report.py)."""
    enc, ing, q, cmp = out["encoder"], out["ingest"], out["quality"], out["int8_vs_fp32"]

    def by_batch(prec: str) -> str:
        return ", ".join(f"{b}: {v:.0f}" for b, v in enc[prec]["img_s_by_batch"].items())

    def recall(prec: str, mode: str) -> str:
        return f"{q[prec][mode]['recall@1']:.3f} / {q[prec][mode]['recall@5']:.3f}"

    lat = out["http_latency"]
    default = out["default_precision"]
    check = out["calibration"].get("agreement_at_export") or {}
    verdict = (f"Re-ranked recall@1 with INT8 minus FP32: {-cmp['recall@1_drop']:+.3f} (INT8 may be the default "
               f"only if it loses at most {MAX_RECALL_DROP}): "
               + ("a measurable loss, so FP32 should stay the default" if out["int8_quality_loss_measurable"]
                  else "no measurable loss"))
    rows = [
        "| measure | FP32 | INT8 |",
        "|---|---|---|",
        f"| encoder only, 224 x 224 inputs in memory (img/s by batch) | {ing['fp32']['encoder_img_s']:.0f} "
        f"({by_batch('fp32')}) | {ing['int8']['encoder_img_s']:.0f} ({by_batch('int8')}) = "
        f"**{cmp['encoder_ratio']:.2f}x** |",
        f"| end-to-end `POST /load` of {out['images']} images (read, hash, decode, thumbnail, encode, copy, store) "
        f"| {ing['fp32']['img_s']:.0f} img/s, {ing['fp32']['cpu_ms_per_image']:.1f} ms CPU per image "
        f"| **{ing['int8']['img_s']:.0f} img/s** (per-round ratio to FP32: **{cmp['ingest_ratio']:.2f}x**), "
        f"{ing['int8']['cpu_ms_per_image']:.1f} ms CPU per image |",
        f"| end to end / encoder only | {ing['fp32']['vs_encoder']:.2f}x | {ing['int8']['vs_encoder']:.2f}x |",
        f"| recall@1 / @5 on {out['queries']} perturbed copies, global descriptor only "
        f"| {recall('fp32', 'global only')} | {recall('int8', 'global only')} |",
        f"| recall@1 / @5, with geometric re-ranking (the service) | **{recall('fp32', 're-ranked')}** "
        f"| **{recall('int8', 're-ranked')}** |",
        f"| INT8 against FP32 on the same images: descriptor cosine (mean, 5th percentile), same top-1 label, "
        f"top-5 labels shared | — | {cmp['descriptor_cosine_mean']:.4f}, {cmp['descriptor_cosine_p5']:.4f}; "
        f"{cmp['top1_label_agreement']:.2f}; {cmp['top5_label_overlap']:.2f} |",
        f"| INT8 export check against FP32 on its {out['calibration']['verification_files']} verification photos "
        f"(refused below 0.97): mean cosine, same top-1 label | — | {check.get('mean_cosine', float('nan')):.4f}, "
        f"{check.get('top1_agreement', float('nan')):.2f} |",
        latency_row(f"`POST /search` over HTTP, {out['scale_items']} items, the default {default.upper()}, "
                    "1 client warm / cold", f"p50 {lat['1']['warm']['p50_ms']:.0f} / {lat['1']['cold']['p50_ms']:.0f} "
                    f"ms, p95 {lat['1']['warm']['p95_ms']:.0f} / {lat['1']['cold']['p95_ms']:.0f} ms", default),
        latency_row("the same, 8 clients warm / cold", f"p50 {lat['8']['warm']['p50_ms']:.0f} / "
                    f"{lat['8']['cold']['p50_ms']:.0f} ms, {lat['8']['warm']['qps']:.0f} / "
                    f"{lat['8']['cold']['qps']:.0f} req/s", default),
    ]
    note = (f"\n{out['rounds']} alternating rounds, medians; load average {out['load_average_end']:.1f} at the end "
            f"on {len(os.sched_getaffinity(0))} cores shared with other jobs (wall-time figures move with it; CPU "
            f"per image less so). The gallery holds none of the {out['calibration']['calibration_files']} photos "
            f"INT8 was calibrated on nor the {out['calibration']['verification_files']} it was verified on. "
            f"{verdict}.\n")
    return "\n".join(rows) + "\n" + note


def latency_row(label: str, value: str, precision: str) -> str:
    """A table row with ``value`` in the column of ``precision`` (the one the HTTP test ran with)."""
    return f"| {label} | {value} | |" if precision == "fp32" else f"| {label} | | {value} |"


def store(pipe: ImagePipeline, vectors: list[dict], rows: list[dict]) -> None:
    pipe.vectors.upsert(pipe.collection, vectors)
    with pipe.sql.begin() as conn:
        pipe.write_items(conn, rows)


def plot(out: dict, stem: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    xs = np.arange(len(PRECISIONS))
    axes[0].bar(xs - 0.2, [out["ingest"][p]["encoder_img_s"] for p in PRECISIONS], 0.4, label="encoder only")
    axes[0].bar(xs + 0.2, [out["ingest"][p]["img_s"] for p in PRECISIONS], 0.4, label="end-to-end ingest")
    axes[0].set_xticks(xs, PRECISIONS)
    axes[0].set(title=f"images/s (median of {out['rounds']} rounds)", ylabel="images/s")
    axes[0].legend()
    q = out["quality"]
    width = 0.2
    for j, (prec, mode) in enumerate((p, m) for p in PRECISIONS for m in ("global only", "re-ranked")):
        axes[1].bar(j * width, q[prec][mode]["recall@1"], width, label=f"{prec} {mode}")
    axes[1].axhline(0.95, color="red", ls="--", lw=1)
    axes[1].set_xticks([])
    axes[1].set(title=f"recall@1, perturbed copies, {out['queries']} queries", ylim=(0, 1.05))
    axes[1].legend(fontsize=8, loc="lower right")
    lat = [(f"{k} client(s)\n{state}", v) for k, by_state in out["http_latency"].items()
           for state, v in by_state.items()]
    xs = np.arange(len(lat))
    axes[2].bar(xs, [v["p50_ms"] for _, v in lat], 0.35, label="p50")
    axes[2].bar(xs + 0.35, [v["p95_ms"] for _, v in lat], 0.35, label="p95")
    axes[2].set_xticks(xs + 0.17, [k for k, _ in lat])
    axes[2].set(title=f"HTTP /search latency, {out['scale_items']} items ({out['default_precision']})", ylabel="ms")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(RESULTS / f"{stem}.png", dpi=110)


if __name__ == "__main__":
    main()
