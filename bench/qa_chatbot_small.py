"""Small collections: does the QA service still answer when a user loads only a few documents or a short FAQ?

    .venv/bin/python -m bench.qa_chatbot_small [--models DIR]

BM25 scores grow with the number of texts searched (a word found in one text of N weighs about ln N), and the
fused score's calibration was fitted on whole collections (297 to 1,016 passages, 112 FAQ pairs). Loaded on its
own, a document of a few passages scores lower for the same match, and right answers were refused. The service
scales a small collection's passage BM25 scores to the scale of ``QA_PASSAGE_BM25_REFERENCE`` passages
(``Ranker.bm25_scale``); that reference is not tuned: it is the size of the smallest collection the calibration
was fitted on (the Debian FAQ in HTML, 297 passages), rounded to 300.

Small collections are cut from the bench's collections (bench/qa_chatbot_data.md): for every document that
answers a question, that document alone ("one document") and with two other documents of its collection drawn at
random ("three documents"); for FAQs, every chapter of the Debian FAQ (tuning) and each of the three upstream
FAQs (report) alone. Each is asked the questions it answers and every off-topic question of its role.

- TUNING (the tuning documents, FAQ and off-topic sets): the reference grid, for passages and for FAQ entries;
  FAQ entries are scaled only if no small FAQ loses top-1 with it (they do: FAQ entries are not scaled).
- REPORT (the report documents and off-topic set, never used to choose anything): without and with the
  service's reference.

Figures: top-1 (the answering passage / pair ranks first), answered right (top-1 right and scored at or above
the answer threshold), the share of right top-1s answered, off-topic questions refused. Writes
bench/results/qa_chatbot_small.json.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench import qa_chatbot_eval as ev
from bench import qa_chatbot_tune as tune
from bench.qa_chatbot_docs import collection
from bench.qa_chatbot_faq import parse_faq
from solutions.qa_chatbot.config import QASettings
from solutions.qa_chatbot.retrieval import Ranker, ranker_from_settings

HERE = Path(__file__).resolve().parent
REPORT_DOCS = (("report", "qa_chatbot_report_docs.jsonl"),)
REPORT_OFFTOPIC = "qa_chatbot_report_offtopic.jsonl"
PASSAGE_REFERENCES = (0, 100, 300, 1000, 2000)
FAQ_REFERENCES = (0, 50, 112, 300)
SEED = 7

#: (name, corpus, questions, their vectors)
Small = tuple[str, Any, list[dict[str, Any]], np.ndarray]


def with_reference(ranker: Ranker, kind: str, reference: int) -> Ranker:
    if kind == "faq":
        return replace(ranker, faq=replace(ranker.faq, bm25_reference=reference))
    return replace(ranker, passage=replace(ranker.passage, bm25_reference=reference))


def document_collections(enc: ev.CachedEncoder, settings: QASettings,
                         sets: tuple[tuple[str, str], ...]) -> dict[str, list[Small]]:
    """``{"one document": [...], "three documents": [...]}`` cut from each collection of ``sets``."""
    rng = random.Random(SEED)
    out: dict[str, list[Small]] = {"one document": [], "three documents": []}

    def build(paths: list[Path]) -> Any:
        return ev.build_docs(paths, enc, settings.passage_max_chars, heading_context=settings.passage_heading_context,
                             bm25_heading=settings.passage_bm25_heading, analyzer=settings.passage_bm25_analyzer)

    for name, questions in sets:
        paths = collection(name)
        by_name = {p.name: p for p in paths}
        by_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in tune.read_jsonl(questions):
            by_doc[item["document"]].append(item)
        for doc, items in sorted(by_doc.items()):
            vecs = enc.encode([i["query"] for i in items])
            others = rng.sample([p for p in paths if p.name != doc], 2)
            out["one document"].append((doc, build([by_name[doc]]), items, vecs))
            out["three documents"].append((doc, build([by_name[doc], *others]), items, vecs))
        enc.save()
    return out


def faq_collections(enc: ev.CachedEncoder, settings: QASettings, pairs: list[dict[str, str]],
                    paraphrases: list[dict[str, Any]], group: Callable[[str], str]) -> list[Small]:
    by_group: dict[str, list[dict[str, str]]] = defaultdict(list)
    for p in pairs:
        by_group[group(p["section"])].append(p)
    out = []
    for name, members in sorted(by_group.items()):
        asked = [q for q in paraphrases if group(q["section"]) == name]
        if asked:
            corpus = ev.build_faq(members, enc, settings.faq_answer_words, settings.faq_bm25_analyzer)
            out.append((name, corpus, asked, enc.encode([q["query"] for q in asked])))
    return out


def evaluate(kind: str, smalls: list[Small], ranker: Ranker, threshold: float, offtopic: list[str],
             off_vecs: np.ndarray) -> dict[str, Any]:
    model = ranker.model(kind)
    n = right = answered = off_n = refused = 0
    for _, corpus, items, vecs in smalls:
        if kind == "faq":
            raw = ev.eval_faq(corpus, items, vecs, ranker)["_raw"]
            negatives = ev.offtopic_raw_faq(corpus, offtopic, off_vecs, ranker)
        else:
            raw = ev.eval_docs(corpus, ev.DocQueries(items, vecs), ranker)["_raw"]
            negatives = ev.offtopic_raw_docs(corpus, offtopic, off_vecs, ranker)
        for x, ok in raw:
            n += 1
            right += ok
            answered += ok and model.probability(x) >= threshold
        off_n += len(negatives)
        refused += sum(model.probability(x) < threshold for x in negatives)
    sizes = [len(c.texts) if kind == "passage" else len(c.sections) for _, c, _, _ in smalls]
    return {"collections": len(smalls), "texts": {"min": min(sizes), "median": int(np.median(sizes)),
                                                   "max": max(sizes)},
            "questions": n, "top1": round(right / n, 4), "answered_right": round(answered / n, 4),
            "answered_of_right_top1": round(answered / right, 4) if right else None,
            "offtopic_asked": off_n, "offtopic_refused": round(refused / off_n, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "qa_bench_models")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "qa_chatbot_small.json")
    args = ap.parse_args()
    settings = QASettings()
    enc = tune.encoder(args.models, settings.encoder_precision)
    service = ranker_from_settings(settings)
    threshold = settings.answer_threshold
    out: dict[str, Any] = {"settings": {"passage_bm25_reference": settings.passage_bm25_reference,
                                        "answer_threshold": threshold, "encoder_precision": settings.encoder_precision},
                           "seed": SEED}

    tuning_off = [r["query"] for r in tune.read_jsonl(tune.OFFTOPIC)]
    tuning_off_vecs = enc.encode(tuning_off)
    docs = document_collections(enc, settings, tune.DOC_SETS)
    faq = faq_collections(enc, settings, parse_faq(), [p for name in tune.FAQ_SETS for p in tune.read_jsonl(name)],
                          lambda s: s.split(".")[0])
    tuning: dict[str, Any] = {"sets": {"documents": [q for _, q in tune.DOC_SETS], "faq": list(tune.FAQ_SETS),
                                       "offtopic": tune.OFFTOPIC}, "passage": {}, "faq": {}}
    for reference in PASSAGE_REFERENCES:
        ranker = with_reference(service, "passage", reference)
        tuning["passage"][str(reference)] = {
            cut: evaluate("passage", smalls, ranker, threshold, tuning_off, tuning_off_vecs)
            for cut, smalls in docs.items()}
        print("tuning passages, reference", reference, tuning["passage"][str(reference)], flush=True)
    for reference in FAQ_REFERENCES:
        ranker = with_reference(service, "faq", reference)
        tuning["faq"][str(reference)] = {
            "one chapter": evaluate("faq", faq, ranker, threshold, tuning_off, tuning_off_vecs)}
        print("tuning FAQ, reference", reference, tuning["faq"][str(reference)], flush=True)
    out["tuning"] = tuning

    report_off = [r["query"] for r in tune.read_jsonl(REPORT_OFFTOPIC)]
    report_off_vecs = enc.encode(report_off)
    docs = document_collections(enc, settings, REPORT_DOCS)
    report: dict[str, Any] = {"sets": {"documents": [q for _, q in REPORT_DOCS], "offtopic": REPORT_OFFTOPIC}}
    for label, reference in (("without scaling", 0), ("service", settings.passage_bm25_reference)):
        ranker = with_reference(service, "passage", reference)
        report[label] = {"passage_bm25_reference": reference, **{
            cut: evaluate("passage", smalls, ranker, threshold, report_off, report_off_vecs)
            for cut, smalls in docs.items()}}
        print("report,", label, report[label], flush=True)
    out["report"] = report
    enc.save()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
