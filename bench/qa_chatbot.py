"""Benchmark of the QA chatbot (``make bench``): retrieval quality of the service on the TUNING and REPORT sets,
with baselines measured in the same run, refusal of off-topic questions, load rate, /answer latency.

Quality (bench/qa_chatbot_data.md: what each set is, where it comes from, how it was written): the service's own
pipeline (``QAPipeline`` on Milvus Lite + SQLite, default settings, which bench/qa_chatbot_tune.py chose on the
TUNING sets only) loads each collection through its load path and answers each question with ``search``:

- documents: top-1 / top-3 = the answering sentence is in the first / first three passages; highlight = the
  highlighted span of a right top-1 overlaps the answering sentence; next to the *naive baseline* (the same
  documents cut every 1000 characters, dense cosine only), same encoder, same run;
- FAQ: top-1 / top-3 = the paraphrased entry comes first / in the first three; next to *plain question
  embeddings* (the same stored question vectors, cosine only), same run;
- refusal: off-topic questions whose ``/answer`` is null (below ``QA_ANSWER_THRESHOLD``); and how many on-topic
  questions get a right answer above it.

Load rate: a real FAQ (the Debian FAQ, copies with distinct questions) through ``POST /load`` over HTTP, end to
end, next to the encoder alone on the same texts; wall-clock and per CPU-second of the process (other work
shares this machine's 2 cores: the CPU figure says what the service costs). /answer latency over HTTP at 1 and 8
concurrent clients with the REPORT collections loaded.

Encoder precision: quality and load rate with the service's default encoder (INT8), then the same with the other
precision (FP32) in the same run, for the side-by-side speed and quality the README quotes.

    .venv/bin/python -m bench.qa_chatbot [--copies 10] [--requests 100] [--roles tuning,report] [--no-compare]

Writes bench/results/qa_chatbot.json (``readme.summary`` is quoted by solutions/qa_chatbot/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import qa_chatbot_eval as ev
from bench.ports import free_port
from bench.qa_chatbot_docs import collection
from bench.qa_chatbot_faq import parse_faq, parse_report_faq
from bench.results import readme as readme_texts
from bench.results import save
from common.pipeline import NullMonitor, batched
from common.resources import Resources
from common.text import TextEncoder
from solutions.qa_chatbot.config import QASettings
from solutions.qa_chatbot.faq import qa_text
from solutions.qa_chatbot.pipeline import QAPipeline

HERE = Path(__file__).resolve().parent
SETS: dict[str, dict[str, Any]] = {
    "tuning": {"documents": {"Debian Reference (debian-reference-en HTML)": ("tune", "qa_chatbot_tune_docs.jsonl"),
                             "Debian FAQ (debian-faq HTML)": ("faq", "qa_chatbot_tune_docs_3.jsonl")},
               "faq": "Debian FAQ (debian-faq text edition)",
               "paraphrases": ["qa_chatbot_paraphrases.jsonl", "qa_chatbot_tune_faq_2.jsonl"],
               "offtopic": "qa_chatbot_offtopic.jsonl"},
    "report": {"documents": {"Debian Administrator's Handbook (debian-handbook HTML)":
                             ("report", "qa_chatbot_report_docs.jsonl")},
               "faq": "zlib + xz-utils + valgrind FAQs",
               "paraphrases": ["qa_chatbot_report_faq.jsonl"], "offtopic": "qa_chatbot_report_offtopic.jsonl"},
}
PACKAGES = {"/usr/share/debian-reference": "debian-reference-en", "/usr/share/doc/debian-handbook": "debian-handbook",
            "/usr/share/doc/debian/FAQ": "debian-faq", "/usr/share/doc/zlib1g-dev/FAQ.gz": "zlib1g-dev",
            "/usr/share/doc/xz-utils/faq.txt.gz": "xz-utils", "/usr/share/doc/valgrind/FAQ.txt.gz": "valgrind"}


def read_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def norm(text: str) -> str:
    return " ".join(text.split())


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Service:
    """A QA pipeline on its own Milvus Lite + SQLite, with the service's settings (the chosen defaults)."""

    def __init__(self, data_dir: Path, models: Path, prefix: str, **extra: Any) -> None:
        self.settings = QASettings(data_dir=data_dir, data_roots=[Path("/")], store_prefix=prefix,
                                   model_cache_dir=models, **extra)
        self.res = Resources.open("qa_chatbot", self.settings)
        self.pipeline = QAPipeline(self.res, self.settings)
        self.res.sql.create_all()

    def load(self, paths: list[Path]) -> dict[str, Any]:
        started, failed = time.perf_counter(), []
        for path in paths:
            for batch in batched(self.pipeline.list_items(path, path.parent), self.settings.batch_size):
                todo = [item for item in batch if not item.error]
                failed += [(item.label, item.error) for item in batch if item.error]
                outcomes = self.pipeline.process_batch(todo, NullMonitor()) if todo else []
                failed += [(item.label, o.message) for item, o in zip(todo, outcomes, strict=True)
                           if o.status == "failed"]
        self.pipeline.finish_load()
        return {"seconds": round(time.perf_counter() - started, 1), "failed": failed}

    def close(self) -> None:
        self.pipeline.close()
        self.res.close()


# -- quality --------------------------------------------------------------------------------------------------
def document_quality(svc: Service, questions: list[dict[str, Any]]) -> tuple[dict[str, Any], list[tuple[float, bool]]]:
    top1 = top3 = hl = hl_n = 0
    scored: list[tuple[float, bool]] = []
    for q in questions:
        hits = svc.pipeline.search(q["query"], 3)
        found = [norm(q["answer_sentence"]) in norm(h["answer"]) for h in hits]
        top1 += bool(found and found[0])
        top3 += any(found)
        scored.append((hits[0]["score"] if hits else 0.0, bool(found and found[0])))
        if found and found[0] and hits[0]["highlight"]:
            span = _find(hits[0]["answer"], q["answer_sentence"])
            s, e = hits[0]["highlight"][0]
            hl += span is not None and s < span[1] and e > span[0]
            hl_n += 1
    n = len(questions)
    return ({"n": n, "top1": round(top1 / n, 4), "top3": round(top3 / n, 4),
             "highlight": round(hl / hl_n, 4) if hl_n else None}, scored)


def _find(text: str, sentence: str) -> tuple[int, int] | None:
    m = re.search(r"\s+".join(re.escape(w) for w in sentence.split()), text)
    return (m.start(), m.end()) if m else None


def refusal(svc: Service, scored: list[tuple[float, bool]], offtopic: list[str]) -> dict[str, Any]:
    thr = svc.settings.answer_threshold
    answered = [svc.pipeline.answer(q)["confident"] for q in offtopic]
    return {"threshold": thr, "offtopic_refused": round(1 - sum(answered) / len(offtopic), 4),
            "ontopic_answered_correct": round(sum(ok and s >= thr for s, ok in scored) / len(scored), 4),
            "ontopic_answered_wrong": round(sum((not ok) and s >= thr for s, ok in scored) / len(scored), 4)}


def naive_baseline(paths: list[Path], encoder: TextEncoder, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """The documents' text cut every 1000 characters, dense cosine only (same encoder, same run)."""
    corpus = ev.build_docs(paths, encoder, 1000, naive=True)
    queries = ev.DocQueries(questions, encoder.encode([q["query"] for q in questions]))
    r = ev.eval_docs(corpus, queries, None, dense_only=True)
    return {"chunks": len(corpus.texts), "n": r["n"], "top1": r["top1"], "top3": r["top3"]}


def faq_quality(svc: Service, paraphrases: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any],
                                                                          list[tuple[float, bool]]]:
    """The service's ranking, and plain question embeddings (the same stored vectors, cosine only)."""
    section = {int(i["id"]): i["metadata"]["section"] for i in svc.pipeline.export()}
    p = svc.pipeline
    vecs = p.searcher.encode([x["query"] for x in paraphrases])
    method, baseline = {"top1": 0, "top3": 0}, {"top1": 0, "top3": 0}
    scored: list[tuple[float, bool]] = []
    for x, v in zip(paraphrases, vecs, strict=True):
        hits = p.search(x["query"], 3)
        ranked = [section.get(h["id"]) for h in hits]
        plain = p.vectors.search(p.names["q"], [v.tolist()], anns_field="vector", limit=3, metric_type="COSINE",
                                 params={"ef": 64})[0]
        plain_ranked = [section.get(int(h["id"])) for h in sorted(plain, key=lambda h: -float(h["distance"]))]
        for out, order in ((method, ranked), (baseline, plain_ranked)):
            out["top1"] += bool(order) and order[0] == x["section"]
            out["top3"] += x["section"] in order
        scored.append((hits[0]["score"] if hits else 0.0, bool(ranked) and ranked[0] == x["section"]))
    n = len(paraphrases)
    return ({"n": n, **{k: round(v / n, 4) for k, v in method.items()}},
            {"n": n, **{k: round(v / n, 4) for k, v in baseline.items()}}, scored)


def evaluate(role: str, work: Path, models: Path, encoder: TextEncoder) -> dict[str, Any]:
    """The service's quality on one role's sets, with ``encoder``'s precision."""
    sets = SETS[role]
    work = work / encoder.precision
    offtopic = [r["query"] for r in read_jsonl(sets["offtopic"])]
    out: dict[str, Any] = {"sets": {"documents": {k: v[1] for k, v in sets["documents"].items()},
                                    "faq": sets["faq"], "paraphrases": sets["paraphrases"],
                                    "offtopic": sets["offtopic"]}, "documents": {}}
    for title, (name, question_file) in sets["documents"].items():
        questions = read_jsonl(question_file)
        paths = collection(name)
        svc = Service(work / role / name, models, "qa", encoder_precision=encoder.precision)
        try:
            loaded = svc.load(paths)
            method, scored = document_quality(svc, questions)
            lengths = [len(x["answer"]) for x in [*_passages(svc)]]
            out["documents"][title] = {
                "questions": question_file, "documents": len(paths), "passages": len(lengths),
                "passage_chars": {"max": max(lengths), "mean": round(statistics.mean(lengths), 1)},
                "load_seconds": loaded["seconds"], "load_failures": loaded["failed"],
                "method": method, "naive_1000_char_chunks_dense": naive_baseline(paths, encoder, questions),
                "refusal": refusal(svc, scored, offtopic)}
        finally:
            svc.close()
        d = out["documents"][title]
        print(f"[{role.upper()} {encoder.precision}] {title}: {d['method']} | naive "
              f"{d['naive_1000_char_chunks_dense']} | refusal {d['refusal']}", flush=True)
    pairs = parse_faq() if role == "tuning" else parse_report_faq()
    faq_file = work / role / "faq.jsonl"
    faq_file.parent.mkdir(parents=True, exist_ok=True)
    faq_file.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    svc = Service(work / role / "faq", models, "qa", encoder_precision=encoder.precision)
    try:
        svc.load([faq_file])
        paraphrases = [p for name in sets["paraphrases"] for p in read_jsonl(name)]
        method, baseline, scored = faq_quality(svc, paraphrases)
        out["faq"] = {"pairs": len(pairs), "paraphrases": len(paraphrases), "method": method,
                      "plain_question_embeddings": baseline,
                      "top1_gain_points": round(100 * (method["top1"] - baseline["top1"]), 1),
                      "refusal": refusal(svc, scored, offtopic)}
    finally:
        svc.close()
    print(f"[{role.upper()} {encoder.precision}] FAQ: {out['faq']}", flush=True)
    return out


def _passages(svc: Service) -> list[dict[str, Any]]:
    p = svc.pipeline
    rows = []
    for item in p.export():
        rows += p.document_passages(int(item["id"]), 0, 100_000)["passages"]
    return [{"answer": r["text"]} for r in rows]


# -- load rate and latency over HTTP --------------------------------------------------------------------------
def serve(settings: QASettings) -> tuple[str, Any]:
    import uvicorn

    from common.web.launcher import build_app
    from solutions.qa_chatbot.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(services={"qa_chatbot": create_app(settings)}), port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    return f"http://127.0.0.1:{port}", server


def wait_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    while True:
        task: dict[str, Any] = client.get(f"/qa/tasks/{task_id}").json()
        if task["state"] in ("succeeded", "failed", "cancelled"):
            return task
        time.sleep(0.05)


def load_rate(work: Path, models: Path, encoder: TextEncoder, copies: int) -> dict[str, Any]:
    """``POST /load`` of the Debian FAQ copied ``copies`` times (distinct questions), end to end, and the encoder
    alone on the same texts, in the loader's batches."""
    faq = parse_faq()
    pairs = [(f"{p['question']} (copy {k})", p["answer"]) for k in range(copies) for p in faq]
    path = work / "load" / "copies.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in pairs), encoding="utf-8")
    settings = QASettings(data_dir=work / "load" / encoder.precision, data_roots=[path.parent],
                          model_cache_dir=models, encoder_precision=encoder.precision)
    base, server = serve(settings)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            cpu, started = cpu_seconds(), time.perf_counter()
            task = wait_task(client, client.post("/qa/load", json={"path": str(path)}).json()["task_id"])
            wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
            assert task["new"] == len(pairs), task
    finally:
        server.should_exit = True
    words = settings.faq_answer_words
    enc_cpu, enc_started = cpu_seconds(), time.perf_counter()
    for start in range(0, len(pairs), settings.batch_size):
        batch = pairs[start:start + settings.batch_size]
        encoder.encode([q for q, _ in batch] + [qa_text(q, a, words) for q, a in batch], batch_size=256,
                       max_batch_tokens=settings.encoder_max_batch_tokens)
    enc_wall, enc_cpu = time.perf_counter() - enc_started, cpu_seconds() - enc_cpu
    cores = len(os.sched_getaffinity(0))
    n = len(pairs)
    out = {"pairs": n, "faq": f"Debian FAQ (debian-faq) x {copies}, distinct questions",
           "encoder_precision": encoder.precision, "max_batch_tokens": settings.encoder_max_batch_tokens,
           "end_to_end": {"seconds": round(wall, 1), "pairs_per_s": round(n / wall, 1),
                          "cpu_seconds": round(cpu, 1), "pairs_per_cpu_s_times_cores": round(cores * n / cpu, 1)},
           "encoder_only": {"seconds": round(enc_wall, 1), "pairs_per_s": round(n / enc_wall, 1),
                            "cpu_seconds": round(enc_cpu, 1),
                            "pairs_per_cpu_s_times_cores": round(cores * n / enc_cpu, 1)},
           "texts_per_pair": 2, "answer_words": words, "batch_size": settings.batch_size, "cores": cores,
           "load_average": round(os.getloadavg()[0], 1)}
    print(f"load: {out}", flush=True)
    return out


def answer_latency(work: Path, models: Path, queries: list[str], requests: int) -> list[dict[str, Any]]:
    """/answer over HTTP with the REPORT Handbook documents and FAQs loaded (by :func:`evaluate` under ``work``, with
    the default encoder), at 1 and 8 concurrent clients."""
    settings = QASettings(data_dir=work / "report" / "report", data_roots=[Path("/")], store_prefix="qa",
                          model_cache_dir=models)
    base, server = serve(settings)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            task = wait_task(client, client.post("/qa/load", json={"path": str(work / "report" / "faq.jsonl")}
                                                 ).json()["task_id"])
            assert task["failed"] == 0, task

        def one(i: int) -> float:
            with httpx.Client(base_url=base, timeout=120) as c:
                t = time.perf_counter()
                r = c.post("/qa/answer", json={"query": queries[i % len(queries)]})
                r.raise_for_status()
                return (time.perf_counter() - t) * 1000

        rows = []
        for clients in (1, 8):
            with ThreadPoolExecutor(clients) as ex:
                list(ex.map(one, range(clients * 2)))  # warm-up
                started = time.perf_counter()
                times = sorted(ex.map(one, range(requests)))
                wall = time.perf_counter() - started
            rows.append({"clients": clients, "requests": requests, "p50_ms": round(times[len(times) // 2], 1),
                         "p95_ms": round(times[int(len(times) * 0.95) - 1], 1), "qps": round(requests / wall, 1)})
            print(f"/answer {rows[-1]}", flush=True)
        return rows
    finally:
        server.should_exit = True


# -- summary --------------------------------------------------------------------------------------------------
def readme(out: dict[str, Any]) -> dict[str, str]:
    """What the READMEs quote (bench/report.py): the tutorial's table and the top-level headline row."""
    r = out["quality"]["report"]
    docs = f"top-1 / top-3 {documents_top1_top3(r)}"
    f, e = r["faq"], out["load"]["end_to_end"]
    return readme_texts(summary(out), "qa_chatbot", "QA chatbot",
                        f"FAQ load {e['pairs_per_s']} pairs/s wall ({e['pairs_per_cpu_s_times_cores']} per CPU-second "
                        f"× cores)",
                        f"documents {docs}; FAQ paraphrases top-1 {f['method']['top1']:.2f} "
                        f"({f['top1_gain_points']:+.1f} points over plain embeddings); report sets, not tuned on")


def summary(out: dict[str, Any]) -> str:
    r = out["quality"]["report"]
    lines = ["| figure (REPORT sets: never used to choose a setting) | measured | target |", "|---|---|---|"]
    for title, d in r["documents"].items():
        m, b = d["method"], d["naive_1000_char_chunks_dense"]
        lines.append(f"| documents, {title}: {m['n']} questions, answering sentence in the top-1 / top-3 passage "
                     f"(passages ≤ {d['passage_chars']['max']} chars) | **{m['top1']:.3f} / {m['top3']:.3f}** "
                     f"(naive 1000-char chunks, dense: {b['top1']:.3f} / {b['top3']:.3f}) | 0.75 / 0.90 |")
        lines.append(f"| documents: highlighted sentence of a right top-1 is the answering one | "
                     f"{m['highlight']:.3f} | |")
    f = r["faq"]
    lines.append(f"| FAQ ({f['pairs']} entries of the zlib, xz-utils and valgrind FAQs): {f['paraphrases']} "
                 f"paraphrases, top-1 | **{f['method']['top1']:.3f}** vs {f['plain_question_embeddings']['top1']:.3f} "
                 f"plain question embeddings (**{f['top1_gain_points']:+.1f} points**) | +5 points |")
    refused = [d["refusal"]["offtopic_refused"] for d in r["documents"].values()] + [f["refusal"]["offtopic_refused"]]
    lines.append(f"| off-topic questions refused (documents / FAQ) | "
                 f"{' / '.join(f'{x:.1%}' for x in refused)} | all |")
    t = out["quality"].get("tuning")
    if t:
        docs = "; ".join(f"{k}: {d['method']['top1']:.3f} / {d['method']['top3']:.3f}"
                         for k, d in t["documents"].items())
        lines.append(f"| for reference, TUNING sets (settings chosen on them): documents top-1 / top-3 {docs}; FAQ "
                     f"{t['faq']['method']['top1']:.3f} vs {t['faq']['plain_question_embeddings']['top1']:.3f} | | |")
    elif "tuning_eval" in out:
        te = out["tuning_eval"]
        (r1, r3), (f1, f3) = te["documents"]["per_set"]
        lines.append(f"| for reference, TUNING sets (settings chosen on them; in-process evaluation of "
                     f"bench/qa_chatbot_tune.py, {precision(te)} encoder): documents top-1 / top-3 Debian Reference "
                     f"{r1:.3f} / {r3:.3f}, Debian FAQ HTML {f1:.3f} / {f3:.3f}; FAQ top-1 "
                     f"{te['faq']['top1']:.3f} | | |")
    load = out.get("load")
    if load:
        e, enc = load["end_to_end"], load["encoder_only"]
        lines.append(f"| load of a real FAQ through `/load` ({load['pairs']} entries, {precision(load)} encoder), "
                     f"pairs/s: wall clock (load average {load['load_average']} on {load['cores']} cores) / per "
                     f"CPU-second × {load['cores']} cores | **{e['pairs_per_s']}** / "
                     f"{e['pairs_per_cpu_s_times_cores']} (encoder alone: {enc['pairs_per_s']} / "
                     f"{enc['pairs_per_cpu_s_times_cores']}) | ≥ 150 |")
    other = out.get("other_precision")
    if other and "report" in other["quality"]:
        o, name = other["quality"]["report"], precision(other)
        docs, mine = documents_top1_top3(o), documents_top1_top3(r)
        ol, oe = other["load"]["end_to_end"], other["load"]["encoder_only"]
        lines.append(f"| the same with the {name} encoder, same run: documents top-1 / top-3 {docs} (vs {mine}); FAQ "
                     f"top-1 {o['faq']['method']['top1']:.3f} (vs {f['method']['top1']:.3f}); load {ol['pairs_per_s']} "
                     f"pairs/s (encoder alone {oe['pairs_per_s']}) | | within 0.01 |")
    for row in out.get("answer_latency", []):
        lines.append(f"| `/answer` latency, {row['clients']} client(s), REPORT documents + FAQ loaded | "
                     f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms ({row['qps']} req/s) | |")
    return "\n".join(lines)


def documents_top1_top3(quality: dict[str, Any]) -> str:
    """``0.772 / 0.911`` for each document collection of one role's quality figures."""
    return "; ".join(f"{d['method']['top1']:.3f} / {d['method']['top3']:.3f}" for d in quality["documents"].values())


def precision(section: dict[str, Any]) -> str:
    return str(section.get("encoder_precision", "fp32")).upper()


def check_sources() -> None:
    missing = sorted({pkg for path, pkg in PACKAGES.items() if not Path(path).exists()})
    if missing:
        raise SystemExit(f"the QA bench corpora are missing: apt-get install {' '.join(missing)} (make bench does)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, default=10, help="copies of the Debian FAQ loaded for the load rate")
    ap.add_argument("--requests", type=int, default=100, help="/answer requests per concurrency level")
    ap.add_argument("--roles", default="report", help="sets evaluated through the service: report, tuning or both "
                    "(the tuning sets' figures of bench/qa_chatbot_tune.py are quoted otherwise)")
    ap.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "qa_bench_models")
    ap.add_argument("--no-compare", action="store_true",
                    help="skip the other encoder precision's quality and load rate (about half of the run)")
    args = ap.parse_args()
    check_sources()
    work = Path(tempfile.mkdtemp(prefix="qa_bench_"))
    defaults = QASettings()
    model = defaults.model or _default_model()
    encoder = TextEncoder.load(model, args.models, precision=defaults.encoder_precision)
    out: dict[str, Any] = {"settings": {k: getattr(defaults, k) for k in (
        "passage_max_chars", "passage_heading_context", "passage_bm25_heading", "faq_bm25_analyzer",
        "passage_bm25_analyzer", "faq_answer_words", "faq_weights",
        "passage_weights", "faq_calibration", "passage_calibration", "answer_threshold", "bm25_saturation",
        "encoder_precision")}, "settings_chosen_on": "the TUNING sets only (bench/qa_chatbot_tune.py, "
                                                      "bench/results/qa_chatbot_tuning.json)", "quality": {}}
    for role in [r for r in args.roles.split(",") if r]:
        out["quality"][role] = evaluate(role, work, args.models, encoder)
    tuning = HERE / "results" / "qa_chatbot_tuning.json"
    if "tuning" not in out["quality"] and tuning.exists():
        chosen = json.loads(tuning.read_text())
        mine = chosen.get("precision", {}).get(encoder.precision, {})  # the chosen method with this encoder
        out["tuning_eval"] = {"documents": {**chosen["documents"]["chosen"], **mine.get("documents", {})},
                              "faq": {**chosen["faq"]["chosen"], **mine.get("faq", {})},
                              "encoder_precision": encoder.precision,
                              "source": "bench/results/qa_chatbot_tuning.json"}
    out["load"] = load_rate(work, args.models, encoder, args.copies)
    if not args.no_compare:
        other = TextEncoder.load(model, args.models, precision="fp32" if encoder.precision == "int8" else "int8")
        roles = [r for r in out["quality"] if r == "report"]
        out["other_precision"] = {"encoder_precision": other.precision,
                                  "quality": {role: evaluate(role, work, args.models, other) for role in roles},
                                  "load": load_rate(work, args.models, other, args.copies)}
    if "report" in out["quality"]:
        queries = ([q["query"] for q in read_jsonl("qa_chatbot_report_docs.jsonl")]
                   + [q["query"] for q in read_jsonl("qa_chatbot_report_faq.jsonl")]
                   + [q["query"] for q in read_jsonl("qa_chatbot_report_offtopic.jsonl")])
        out["answer_latency"] = answer_latency(work / encoder.precision, args.models, queries, args.requests)
        out["readme"] = readme(out)
        print(out["readme"]["summary"])
    path = save("qa_chatbot", out)
    print("wrote", path)


def _default_model() -> Path:
    from common.text import default_model_dir

    return default_model_dir()

if __name__ == "__main__":
    main()
