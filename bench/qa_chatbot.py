"""Benchmark of the QA chatbot: load rate, /answer latency over HTTP, retrieval quality on FAQs and documents.

Method (bench/qa_chatbot_method.py, the retrieval of solutions/qa_chatbot/retrieval.py with the documents
package): figures on the REPORT sets (Debian Handbook questions; zlib/xz/valgrind FAQ paraphrases; report
off-topic questions) next to baselines measured in the same run (fixed 1000-character chunks with dense
search; plain question embeddings), with the settings chosen on the TUNING sets (Debian Reference, Debian
FAQ; bench/qa_chatbot_tune.py); encoding speed FP32 vs INT8. Provenance: bench/qa_chatbot_data.md.

Service (the current HTTP service):
Quality: the Debian FAQ (Debian package ``debian-faq``, parsed by ``qa_chatbot_faq.py``) is loaded, then the
paraphrased questions of ``qa_chatbot_paraphrases.jsonl`` (written for this bench; each names the FAQ
section it asks about) are ranked by several retrieval variants in the same run, including the plain
"embed the stored questions" baseline. The confidence threshold is calibrated on half of the paraphrases
(held-out positives) and half of ``qa_chatbot_offtopic.jsonl`` (negatives) and checked on the other halves.

    .venv/bin/python bench/qa_chatbot.py [--copies 10] [--requests 200] [--no-service] [--no-method]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import uvicorn
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import qa_chatbot_method
from qa_chatbot_faq import parse_faq

from common.launcher import build_app
from solutions.qa_chatbot.app import create_app
from solutions.qa_chatbot.config import QASettings

HERE = Path(__file__).resolve().parent
VARIANTS = {
    "questions only (baseline)": {"retrieval": "question"},
    "question+answer dense only": {"weight_question": 0, "weight_qa": 1, "weight_bm25": 0},
    "BM25 only": {"weight_question": 0, "weight_qa": 0, "weight_bm25": 1},
    "dense q + dense q+a": {"weight_question": 0.6, "weight_qa": 0.4, "weight_bm25": 0},
    "dense q + BM25 0.8/0.2 (default)": {"weight_question": 0.8, "weight_qa": 0, "weight_bm25": 0.2},
    "dense q + BM25 0.7/0.3": {"weight_question": 0.7, "weight_qa": 0, "weight_bm25": 0.3},
    "fusion 0.70/0.10/0.20": {"weight_question": 0.7, "weight_qa": 0.1, "weight_bm25": 0.2},
    "fusion 0.55/0.30/0.15": {"weight_question": 0.55, "weight_qa": 0.3, "weight_bm25": 0.15},
    "fusion 0.45/0.35/0.20": {"weight_question": 0.45, "weight_qa": 0.35, "weight_bm25": 0.2},
    "fusion 0.40/0.40/0.20": {"weight_question": 0.4, "weight_qa": 0.4, "weight_bm25": 0.2},
    "fusion 0.50/0.25/0.25": {"weight_question": 0.5, "weight_qa": 0.25, "weight_bm25": 0.25},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_task(client, task_id: str, prefix: str = "/qa") -> dict:
    while True:
        task = client.get(f"{prefix}/tasks/{task_id}").json()
        if task["state"] in ("succeeded", "failed"):
            return task
        time.sleep(0.05)


def latency(base: str, queries: list[str], clients: int, n: int) -> dict:
    def one(i: int) -> float:
        with httpx.Client(base_url=base, timeout=60) as c:
            t = time.perf_counter()
            r = c.post("/qa/answer", json={"query": queries[i % len(queries)]})
            r.raise_for_status()
            return (time.perf_counter() - t) * 1000

    with ThreadPoolExecutor(clients) as ex:
        list(ex.map(one, range(min(clients * 2, n))))  # warm-up
        started = time.perf_counter()
        times = sorted(ex.map(one, range(n)))
        wall = time.perf_counter() - started
    return {"clients": clients, "requests": n, "p50_ms": round(times[len(times) // 2], 1),
            "p95_ms": round(times[int(len(times) * 0.95) - 1], 1), "qps": round(n / wall, 1)}


def quality(pipeline, pairs_by_section: dict[str, int], paraphrases: list[dict], overrides: dict) -> dict:
    saved = pipeline.settings
    pipeline.settings = saved.model_copy(update=overrides)
    try:
        top1 = top3 = rr = 0.0
        scores = []
        for p in paraphrases:
            ranked = pipeline.rank(p["query"], 10)
            ids = [i for i, _ in ranked]
            target = pairs_by_section[p["section"]]
            rank = ids.index(target) + 1 if target in ids else None
            top1 += rank == 1
            top3 += rank is not None and rank <= 3
            rr += 1 / rank if rank else 0
            scores.append((ranked[0][1] if ranked else 0.0, rank == 1))
        n = len(paraphrases)
        return {"top1": round(top1 / n, 4), "top3": round(top3 / n, 4), "mrr": round(rr / n, 4), "_scores": scores}
    finally:
        pipeline.settings = saved


def calibrate(pos: list[tuple[float, bool]], neg: list[float]) -> float:
    """Threshold maximising (correct positives answered + negatives refused); ties → the higher threshold."""
    candidates = sorted({s for s, _ in pos} | set(neg))
    best, best_t = -1.0, 0.5
    for i, t in enumerate(candidates):
        thr = (t + candidates[i - 1]) / 2 if i else t
        good = sum(1 for s, ok in pos if ok and s >= thr) + sum(1 for s in neg if s < thr)
        if good >= best:
            best, best_t = good, thr
    return round(best_t, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=10, help="copies of the FAQ loaded for the load-rate figure")
    ap.add_argument("--requests", type=int, default=200, help="/answer requests per concurrency level")
    ap.add_argument("--bm25-engine", choices=["auto", "milvus", "local"], default="auto",
                    help="local = the in-process BM25 a Milvus 2.3 server uses")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "qa_chatbot.json")
    ap.add_argument("--no-service", action="store_true", help="skip the HTTP service measurements")
    ap.add_argument("--no-method", action="store_true", help="skip the retrieval method on the tuning/report sets")
    args = ap.parse_args()
    out: dict = {}
    if args.out.exists() and (args.no_method or args.no_service):  # keep the part not re-measured
        previous = json.loads(args.out.read_text())
        out.update({k: v for k, v in previous.items() if k in ("method", "service")})
    if not args.no_method:
        models = Path(tempfile.mkdtemp(prefix="qa_bench_models_"))
        out["method"] = qa_chatbot_method.run(models)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2))
    if not args.no_service:
        out["service"] = service(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print("wrote", args.out)


def service(args: argparse.Namespace) -> dict:

    faq = parse_faq()
    paraphrases = read_jsonl(HERE / "qa_chatbot_paraphrases.jsonl")
    offtopic = [r["query"] for r in read_jsonl(HERE / "qa_chatbot_offtopic.jsonl")]
    tmp = Path(tempfile.mkdtemp(prefix="qa_bench_"))
    models = tmp / "models"  # one ONNX export of the text model for both apps
    app = create_app(QASettings(data_dir=tmp / "data", data_roots=[tmp], bm25_engine=args.bm25_engine,
                                model_cache_dir=models))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(services={"qa_chatbot": app}), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.1)
    out: dict = {"faq_pairs": len(faq), "paraphrases": len(paraphrases), "offtopic": len(offtopic),
                 "note": "the current service (pipeline.py) on the TUNING FAQ set; its fusion was chosen on it"}
    with httpx.Client(base_url=base, timeout=120) as client:
        # load rate: the FAQ copied (distinct questions) through /load, end to end
        copies = tmp / "copies.jsonl"
        with copies.open("w", encoding="utf-8") as f:
            for k in range(args.copies):
                for p in faq:
                    f.write(json.dumps({"question": f"{p['question']} (copy {k})", "answer": p["answer"]}) + "\n")
        t = time.perf_counter()
        task = wait_task(client, client.post("/qa/load", json={"path": str(copies)}).json()["task_id"])
        secs = time.perf_counter() - t
        out["load"] = {"pairs": task["done"], "seconds": round(secs, 2), "pairs_per_s": round(task["done"] / secs, 1)}
        print(f"load: {task['done']} pairs in {secs:.1f} s = {task['done'] / secs:.1f} pairs/s")
        client.delete("/qa/data").raise_for_status()

        faq_file = tmp / "debian_faq.jsonl"
        faq_file.write_text("".join(json.dumps(p) + "\n" for p in faq), encoding="utf-8")
        task = wait_task(client, client.post("/qa/load", json={"path": str(faq_file)}).json()["task_id"])
        assert task["done"] == len(faq), task
    # quality variants that use the question+answer vectors need them indexed: a second app, same FAQ
    app2 = create_app(QASettings(data_dir=tmp / "data2", data_roots=[tmp], index_answers=True,
                                 bm25_engine=args.bm25_engine, model_cache_dir=models))
    with TestClient(app2) as client2:
        task = wait_task(client2, client2.post("/load", json={"path": str(faq_file)}).json()["task_id"], "")
        assert task["done"] == len(faq), task
        pipeline = app2.state.pipeline
        by_section = {}
        for item_id in [i for i, _ in pipeline.rank("debian", 1000, "question")]:
            row = pipeline.get_item(item_id)
            by_section[row["metadata"]["section"]] = item_id
        out["bm25_engine"] = pipeline.bm25_engine

        results = {}
        for name, overrides in VARIANTS.items():
            q = quality(pipeline, by_section, paraphrases, overrides)
            results[name] = q
            print(f"{name:34s} top1 {q['top1']:.3f}  top3 {q['top3']:.3f}  MRR {q['mrr']:.3f}")
        default = results["dense q + BM25 0.8/0.2 (default)"]
        baseline = results["questions only (baseline)"]
        out["quality"] = {k: {m: v for m, v in q.items() if not m.startswith("_")} for k, q in results.items()}
        out["top1_gain_points"] = round(100 * (default["top1"] - baseline["top1"]), 1)
        print(f"default vs baseline: top-1 {100 * (default['top1'] - baseline['top1']):+.1f} points")

        # threshold: calibrate on even halves, check on odd halves
        neg_scores = [pipeline.rank(q, 1)[0][1] for q in offtopic]
        pos = default["_scores"]
        thr = calibrate(pos[0::2], neg_scores[0::2])
        held_pos, held_neg = pos[1::2], neg_scores[1::2]
        out["threshold"] = {
            "calibrated": thr,
            "configured": pipeline.settings.confidence_threshold,
            "heldout_offtopic_refused": round(sum(s < thr for s in held_neg) / len(held_neg), 3),
            "heldout_correct_answered": round(sum(ok and s >= thr for s, ok in held_pos) / len(held_pos), 3),
            "heldout_wrong_answered": round(sum((not ok) and s >= thr for s, ok in held_pos) / len(held_pos), 3),
            "offtopic_max": round(max(neg_scores), 3),
            "positive_correct_median": round(statistics.median([s for s, ok in pos if ok]), 3),
        }
        conf_thr = pipeline.settings.confidence_threshold
        out["threshold"]["all_offtopic_refused_at_configured"] = round(
            sum(s < conf_thr for s in neg_scores) / len(neg_scores), 3)
        print("threshold:", out["threshold"])

    with httpx.Client(base_url=base, timeout=120) as client:
        queries = [p["query"] for p in paraphrases] + offtopic
        out["answer_latency"] = [latency(base, queries, c, args.requests) for c in (1, 8)]
        for row in out["answer_latency"]:
            print(f"/answer {row['clients']} clients: p50 {row['p50_ms']} ms p95 {row['p95_ms']} ms {row['qps']} req/s")
    server.should_exit = True
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(out["quality"])
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ax.barh(names, [out["quality"][n]["top1"] for n in names], label="top-1")
        ax.barh(names, [out["quality"][n]["mrr"] for n in names], alpha=0.4, label="MRR")
        ax.set_xlim(0, 1)
        ax.set_title(f"Debian FAQ paraphrases ({len(paraphrases)}), backend BM25: {out['bm25_engine']}")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out.with_suffix(".png"), dpi=110)
    except Exception as exc:
        print("plot skipped:", exc)
    return out


if __name__ == "__main__":
    main()
