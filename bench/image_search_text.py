"""Search by words (``POST /search/text``) on real photos: quality and latency.

Quality: the photos of Debian opencv-doc among other real images nobody here made (bench/image_search_data.py)
are loaded; each query of :data:`REPORT` names what one or more photos show, in words that are not ImageNet
class names. The method (class names with their WordNet hypernyms, probability-weighted similarity) was
chosen on :data:`TUNING` only; REPORT was written apart from it and is what the figures are about. Measured in
the same run: the plain method without the WordNet context (class names alone), as a baseline.

Latency: ``search_text`` in process with ``--scale`` stored images (the real ones plus synthetic copies of
their label vectors), p50/p95 over the REPORT queries repeated.

    python bench/image_search_text.py [--images 300] [--scale 10000]   # bench/results/image_search_text.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.image_search_data import collect_images
from bench.results import parse_or_rewrite, save
from common.pipeline import load_job
from common.resources import Resources
from solutions.image_search.app import NAME
from solutions.image_search.config import ImageSettings
from solutions.image_search.labels import LabelText
from solutions.image_search.pipeline import ImagePipeline
from solutions.image_search.samples import OPENCV_DATA

NAME_OF_RESULT = "image_search_text"
METHOD = "class names + WordNet hypernyms (the method)"
BASELINE = "class names only (baseline)"
#: the queries the method was chosen on (not reported)
TUNING = {"a squirrel": ["squirrel_cls.jpg"], "fruit": ["fruits.jpg", "orange.jpg", "apple.jpg"],
          "a monkey": ["baboon.jpg"], "a butterfly": ["butterfly.jpg"], "a castle": ["leuvenA.jpg", "leuvenB.jpg"],
          "a dog": ["chicky_512.png"]}
#: the queries reported: what the photos show, in other words
REPORT = {"a rodent": ["squirrel_cls.jpg"], "citrus": ["fruits.jpg", "orange.jpg"], "an apple": ["apple.jpg"],
          "a primate": ["baboon.jpg"], "an insect": ["butterfly.jpg"], "a puppy": ["chicky_512.png"],
          "a footballer kicking the ball": ["messi5.jpg"], "a sudoku puzzle": ["sudoku.png"],
          "electronics": ["board.jpg"], "a palace": ["home.jpg"], "a cartoon fish": ["HappyFish.jpg"],
          "candy": ["smarties.png"], "a city seen from the air": ["aero1.jpg", "aero3.jpg"]}


def evaluate(search, queries: dict[str, list[str]]) -> dict:
    """MRR of the first relevant photo, share of queries whose first result is relevant, and with one in the top 5."""
    rr, at1, at5, ranks = [], 0, 0, {}
    for words, relevant in queries.items():
        names = [Path(n).name.split("-", 1)[1] for n in search(words)]
        hits = [i for i, n in enumerate(names) if n in relevant]
        first = hits[0] + 1 if hits else None
        ranks[words] = first
        rr.append(1 / first if first else 0.0)
        at1 += first == 1
        at5 += bool(first and first <= 5)
    n = len(queries)
    return {"mrr": round(float(np.mean(rr)), 3), "top1": round(at1 / n, 3), "top5": round(at5 / n, 3),
            "first_relevant_rank": ranks}


def readme(out: dict[str, Any]) -> dict[str, str]:
    """The rows the image tutorial quotes (bench/report.py), from the saved figures."""
    method, plain = (out["quality"][k]["report"] for k in (METHOD, BASELINE))
    lat = out["latency"]
    return {"summary": "\n".join([
        "| measure | value |", "|---|---|",
        f"| `/search/text`, {len(out['queries']['report'])} report queries over {out['images']} real images (words "
        f"that are not class names: \"a rodent\", \"citrus\", \"a palace\"...; the method was chosen on "
        f"{len(out['queries']['tuning'])} other queries) | MRR **{method['mrr']:.2f}**, first result relevant "
        f"{method['top1']:.2f}, a relevant image in the top 5 {method['top5']:.2f} |",
        f"| the same without the WordNet context (class names alone), same run | MRR {plain['mrr']:.2f}, first result "
        f"relevant {plain['top1']:.2f}, top 5 {plain['top5']:.2f} |",
        f"| `/search/text` in process, {lat['items']:,} images (Milvus Lite, exact FLAT) | p50 {lat['p50_ms']:.0f} ms, "
        f"p95 {lat['p95_ms']:.0f} ms |"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=300, help="real images in the gallery")
    ap.add_argument("--scale", type=int, default=10_000, help="stored images for the latency test")
    args = parse_or_rewrite(ap, readme, NAME_OF_RESULT)
    if args is None:
        return
    work = Path(tempfile.mkdtemp(prefix="image-text-bench-"))
    gallery = work / "gallery"
    gallery.mkdir()
    needed = {n for q in (TUNING, REPORT) for names in q.values() for n in names}
    paths = [p for p in collect_images(args.images) if p.name not in needed] + [OPENCV_DATA / n for n in sorted(needed)]
    for i, p in enumerate(paths):
        shutil.copy2(p, gallery / f"{i:04d}-{p.name}")
    settings = ImageSettings(data_dir=work / "data", data_roots=[work], model_cache_dir=work / "models")
    out: dict = {"images": len(paths), "queries": {"tuning": TUNING, "report": REPORT}}
    with Resources.open(NAME, settings) as res:
        pipe = ImagePipeline(res, settings)
        res.sql.create_all()
        task = res.tasks.run_now(str(gallery), load_job(pipe, gallery, gallery))
        print(f"{task['new']} images stored ({task['failed']} failed)")
        plain = LabelText(pipe.label_text.encoder, pipe.labels.names, settings.models_dir(),
                          context_file=work / "none.tsv")

        def with_context(words: str) -> list[str]:
            return [h["name"] for h in pipe.search_text(words, 20)]

        def names_only(words: str) -> list[str]:
            hits = pipe.vectors.search(pipe.label_collection, [plain.relevance(words).tolist()], anns_field="vector",
                                       limit=20, metric_type="IP")[0]
            rows = pipe.rows([int(h["id"]) for h in hits])
            return [rows[int(h["id"])]["name"] for h in hits]

        out["quality"] = {}
        for label, fn in ((METHOD, with_context), (BASELINE, names_only)):
            out["quality"][label] = {"report": evaluate(fn, REPORT), "tuning": evaluate(fn, TUNING)}
            r = out["quality"][label]["report"]
            print(f"{label}: REPORT ({len(REPORT)} queries) MRR {r['mrr']}, first result relevant {r['top1']}, "
                  f"relevant in top 5 {r['top5']}; tuning MRR {out['quality'][label]['tuning']['mrr']}")

        # -- latency at --scale images: synthetic copies of the real label vectors ------------------------
        real = pipe.rows([int(r["id"]) for r in pipe.vectors.query(pipe.label_collection, filter="id >= 0",
                                                                   output_fields=["id"], limit=16384)])
        sources = list(real.values())
        rng = np.random.default_rng(0)
        extra = max(0, args.scale - len(sources))
        for start in range(0, extra, 1000):
            vecs, rows = [], []
            for k in range(start, min(extra, start + 1000)):
                row = dict(sources[k % len(sources)])
                labels = json.loads(row["labels"])
                for lab in labels:
                    lab["score"] = float(lab["score"]) * float(rng.uniform(0.8, 1.0))
                row.update(id=(1 << 52) + k, name=f"synthetic/{k:05d}", labels=json.dumps(labels))
                vecs.append({"id": row["id"], "vector": pipe.labels.vector(labels)})
                rows.append(row)
            pipe.vectors.upsert(pipe.label_collection, vecs)
            with pipe.sql.begin() as conn:
                pipe.write_items(conn, rows)
        pipe.finish_load()
        lat = []
        for _ in range(3):
            for words in REPORT:
                t = time.perf_counter()
                pipe.search_text(words, 10)
                lat.append((time.perf_counter() - t) * 1000)
        stored = pipe.vectors.count(pipe.label_collection)
        out["latency"] = {"items": stored, "p50_ms": round(float(np.percentile(lat, 50)), 1),
                          "p95_ms": round(float(np.percentile(lat, 95)), 1), "searches": len(lat)}
        print(f"search_text over {stored} images: p50 {out['latency']['p50_ms']} ms, p95 {out['latency']['p95_ms']} ms")
        pipe.close()
    out["readme"] = readme(out)
    print(f"wrote {save(NAME_OF_RESULT, out)}")


if __name__ == "__main__":
    main()
