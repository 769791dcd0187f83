"""Choose the QA retrieval settings on the TUNING sets only (see qa_chatbot_data.md) and save the grid.

    .venv/bin/python -m bench.qa_chatbot_tune [--only documents|faq|precision|calibration] [--precision int8]

Documents: Debian Reference + qa_chatbot_tune_docs.jsonl, and the Debian FAQ (HTML) + qa_chatbot_tune_docs_3.jsonl,
pooled (115 questions); FAQ: the Debian FAQ + qa_chatbot_paraphrases.jsonl and qa_chatbot_tune_faq_2.jsonl;
off-topic: qa_chatbot_offtopic.jsonl. The report sets are never read here.

- documents: every passage size, heading context (in the embedding, in BM25), BM25 analyzer (``standard`` words or
  ``english``: stop words out, Snowball stems; solutions/qa_chatbot/bm25.py) and fusion weight variant; the
  chosen one has the best pooled (top-1 + top-3) / 2, then top-1 (every variant stores the same vectors: the
  sentence vectors are needed for the highlight anyway).
- FAQ: the ``qa`` text (question + the first N answer words: fewer words, faster loads), the BM25 analyzer and
  the fusion weights;
  the chosen one is the cheapest to load (encoder tokens per entry) whose top-1 is within 0.01 of the method
  chosen before (48 words, 0.4/0.4/0.2: ``BASELINE_FAQ``), then the best top-1, top-3.
- precision: the chosen method with the FP32 and the INT8 encoder (``common.text``), side by side; INT8 is the
  service's default only if no top-1 / top-3 figure of either kind is more than 0.01 below FP32's.
- calibration: Platt scaling of each kind's fused score (right top-1s against wrong top-1s and off-topic
  queries) with the ``--precision`` encoder (the service's default), and one answer threshold for both kinds by
  balanced accuracy.

Writes bench/results/qa_chatbot_tuning.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import qa_chatbot_eval as ev
from bench.qa_chatbot_docs import collection
from bench.qa_chatbot_faq import parse_faq
from common.text import TextEncoder, default_model_dir
from solutions.qa_chatbot.bm25 import ANALYZERS
from solutions.qa_chatbot.config import QASettings
from solutions.qa_chatbot.faq import qa_text
from solutions.qa_chatbot.retrieval import KindModel, Ranker

HERE = Path(__file__).resolve().parent
DOC_SETS = (("tune", "qa_chatbot_tune_docs.jsonl"), ("faq", "qa_chatbot_tune_docs_3.jsonl"))
FAQ_SETS = ("qa_chatbot_paraphrases.jsonl", "qa_chatbot_tune_faq_2.jsonl")
OFFTOPIC = "qa_chatbot_offtopic.jsonl"
BASELINE_FAQ = {"answer_words": 48, "analyzer": "standard", "weights": {"question": 0.4, "qa": 0.4, "bm25": 0.2}}
STEPS = [0, 0.1, 0.2, 0.3, 0.4, 0.5]
#: (passage size, heading path in the embedding) of the document variants; each is tried with and without the
#: heading path in BM25, with each BM25 analyzer and with every fusion weight. (Earlier grids over 300 to 1000
#: characters and heading-in-embedding chose 700 characters without heading in the embedding; 500 is kept as the
#: runner-up, the others are left out to keep a run short.)
VARIANTS = ((700, False), (500, False))
#: the settings chosen before the BM25 analyzer was tuned (the comparison row of a run)
PREVIOUS_DOCS = {"max_chars": 700, "heading": False, "bm25_heading": True, "analyzer": "standard",
                 "weights": {"passage": 0.3, "bm25": 0.5, "sentence": 0.2}}


def read_jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "qa_bench_models")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "qa_chatbot_tuning.json")
    ap.add_argument("--only", choices=["documents", "faq", "precision", "calibration"],
                    help="re-run one part, keeping the others' saved results (the calibration is always re-fitted)")
    ap.add_argument("--precision", choices=["fp32", "int8"], default=QASettings().encoder_precision,
                    help="the encoder of the documents, FAQ and calibration steps (default: the service's)")
    args = ap.parse_args()
    enc = encoder(args.models, args.precision)
    out: dict[str, Any] = {"sets": {"documents": [q for _, q in DOC_SETS], "faq": list(FAQ_SETS), "offtopic": OFFTOPIC}}
    if args.only and args.out.exists():
        out.update(json.loads(args.out.read_text()))
    if args.only in (None, "documents"):
        out["documents"] = tune_documents(enc)
    if args.only in (None, "faq"):
        out["faq"] = tune_faq(enc)
    if args.only in (None, "precision"):
        out["precision"] = compare_precisions(args.models, enc, out["documents"]["chosen"], out["faq"]["chosen"])
    out["calibration"] = {"encoder_precision": args.precision,
                          **calibrate(enc, out["documents"]["chosen"], out["faq"]["chosen"])}
    enc.save()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float))
    print("wrote", args.out)


def encoder(models: Path, precision: str) -> ev.CachedEncoder:
    """The service's text encoder at ``precision``, its embeddings kept on disk between runs."""
    model = TextEncoder.load(default_model_dir(), models, precision=precision)
    return ev.CachedEncoder(model, models / f"tuning-cache-{precision}.npz")


# -- documents ----------------------------------------------------------------------------------------------
def doc_sets(enc: ev.CachedEncoder) -> list[tuple[list[Path], ev.DocQueries]]:
    sets = []
    for name, questions in DOC_SETS:
        items = read_jsonl(questions)
        sets.append((collection(name), ev.DocQueries(items, enc.encode([q["query"] for q in items]))))
    return sets


def pooled(results: list[dict[str, Any]]) -> dict[str, float]:
    n = sum(r["n"] for r in results)
    top1 = sum(r["top1"] * r["n"] for r in results) / n
    top3 = sum(r["top3"] * r["n"] for r in results) / n
    return {"n": n, "top1": round(top1, 4), "top3": round(top3, 4), "objective": round((top1 + top3) / 2, 4),
            "per_set": [(r["top1"], r["top3"]) for r in results]}


def tune_documents(enc: ev.CachedEncoder) -> dict[str, Any]:
    sets = doc_sets(enc)
    rows: list[dict[str, Any]] = []
    naive = pooled([ev.eval_docs(ev.build_docs(p, enc, 1000, naive=True), q, None, dense_only=True) for p, q in sets])
    rows.append({"variant": "naive 1000-char chunks, dense", **naive})
    for (max_chars, heading), bm25_heading, analyzer in itertools.product(VARIANTS, (False, True), ANALYZERS):
        corpora = [ev.build_docs(p, enc, max_chars, heading_context=heading, bm25_heading=bm25_heading,
                                 analyzer=analyzer) for p, _ in sets]
        base = {"max_chars": max_chars, "heading": heading, "bm25_heading": bm25_heading, "analyzer": analyzer}
        r = pooled([ev.eval_docs(c, q, None, dense_only=True) for c, (_, q) in zip(corpora, sets, strict=True)])
        rows.append({"variant": f"{base} dense only", **r})
        for w in ev.weight_grid(["passage", "bm25", "sentence"], STEPS):
            ranker = Ranker(passage=KindModel(w))
            r = pooled([ev.eval_docs(c, q, ranker) for c, (_, q) in zip(corpora, sets, strict=True)])
            rows.append({"variant": f"{base} fusion {w}", **base, "weights": w, **r})
        best = max((x for x in rows if x.get("max_chars") == max_chars and "weights" in x),
                   key=lambda x: (x["objective"], x["top1"]))
        print(f"documents {base}: best so far {best['variant']} top1 {best['top1']} top3 {best['top3']}",
              flush=True)
        enc.save()
    fused = [x for x in rows if "weights" in x]
    chosen = max(fused, key=lambda x: (x["objective"], x["top1"], x["top3"]))
    previous = next(x for x in fused if all(x[k] == v for k, v in PREVIOUS_DOCS.items()))
    print("documents chosen:", chosen, "\nprevious settings:", previous)
    return {"variants": rows, "chosen": chosen, "previous": previous, "naive": naive}


# -- FAQ ------------------------------------------------------------------------------------------------------
def tokens_per_entry(enc: ev.CachedEncoder, faq: list[dict[str, str]], answer_words: int) -> float:
    tok = enc.encoder._tokenizer
    questions = [p["question"] for p in faq]
    qa = [qa_text(p["question"], p["answer"], answer_words) for p in faq]
    lengths = [len(x) for x in tok(questions + qa, truncation=True, max_length=enc.encoder.max_length)["input_ids"]]
    return float(np.sum(lengths) / len(faq))


def tune_faq(enc: ev.CachedEncoder) -> dict[str, Any]:
    faq = parse_faq()
    paraphrases = [p for name in FAQ_SETS for p in read_jsonl(name)]
    pv = enc.encode([p["query"] for p in paraphrases])
    rows: list[dict[str, Any]] = []
    for answer_words, analyzer in itertools.product((48, 40, 32, 24, 16), ANALYZERS):
        fc = ev.build_faq(faq, enc, answer_words, analyzer)
        cost = round(tokens_per_entry(enc, faq, answer_words), 1)
        base = ev.eval_faq(fc, paraphrases, pv, None)
        rows.append({"variant": "questions only (baseline)", "top1": base["top1"], "top3": base["top3"]})
        for w in ev.weight_grid(["question", "qa", "bm25"], STEPS):
            if not w["qa"]:
                continue
            r = ev.eval_faq(fc, paraphrases, pv, Ranker(faq=KindModel(w)))
            rows.append({"variant": f"qa text {answer_words} words, BM25 {analyzer}, fusion {w}",
                         "answer_words": answer_words, "analyzer": analyzer, "weights": w,
                         "tokens_per_entry": cost, "top1": r["top1"], "top3": r["top3"], "mrr@10": r["mrr@10"]})
        print(f"faq {answer_words} words ({cost} tokens/entry), BM25 {analyzer}: best", max(
            (x for x in rows if x.get("answer_words") == answer_words and x.get("analyzer") == analyzer),
            key=lambda x: (x["top1"], x["top3"])), flush=True)
    fused = [x for x in rows if "weights" in x]
    previous = next(x for x in fused if all(x[k] == v for k, v in BASELINE_FAQ.items()))
    near = [x for x in fused if x["top1"] >= previous["top1"] - 0.01 - 1e-9]
    chosen = min(near, key=lambda x: (x["tokens_per_entry"], -x["top1"], -x["top3"], -x["mrr@10"]))
    print("faq chosen:", chosen, "\nprevious method:", previous)
    return {"variants": rows, "chosen": chosen, "previous": previous}


# -- precision ------------------------------------------------------------------------------------------------
def chosen_quality(enc: ev.CachedEncoder, dc: dict[str, Any], fc: dict[str, Any]) -> dict[str, Any]:
    """Top-1 / top-3 of the chosen document and FAQ methods with this encoder."""
    ranker = Ranker(passage=KindModel(dc["weights"]))
    docs = pooled([ev.eval_docs(ev.build_docs(paths, enc, dc["max_chars"], heading_context=dc["heading"],
                                              bm25_heading=dc["bm25_heading"], analyzer=dc["analyzer"]),
                                queries, ranker) for paths, queries in doc_sets(enc)])
    paraphrases = [p for name in FAQ_SETS for p in read_jsonl(name)]
    corpus = ev.build_faq(parse_faq(), enc, fc["answer_words"], fc.get("analyzer", "standard"))
    faq = ev.eval_faq(corpus, paraphrases, enc.encode([p["query"] for p in paraphrases]),
                      Ranker(faq=KindModel(fc["weights"])))
    return {"documents": {"n": docs["n"], "top1": docs["top1"], "top3": docs["top3"], "per_set": docs["per_set"]},
            "faq": {"n": len(paraphrases), "top1": faq["top1"], "top3": faq["top3"]}}


def compare_precisions(models: Path, enc: ev.CachedEncoder, dc: dict[str, Any], fc: dict[str, Any]) -> dict[str, Any]:
    """The chosen methods with each encoder precision (``enc`` for its own, the other opened here); INT8 qualifies
    when it loses at most 0.01 anywhere."""
    rows = {}
    for precision in ("fp32", "int8"):
        this = enc if enc.encoder.precision == precision else encoder(models, precision)
        rows[precision] = chosen_quality(this, dc, fc)
        this.save()
    loss = max(rows["fp32"][kind][k] - rows["int8"][kind][k] for kind in ("documents", "faq") for k in ("top1", "top3"))
    out = {**rows, "int8_largest_loss": round(loss, 4), "int8_qualifies": bool(loss <= 0.01 + 1e-9)}
    print("precision:", out)
    return out


# -- calibration ----------------------------------------------------------------------------------------------
def calibrate(enc: ev.CachedEncoder, dc: dict[str, Any], fc_chosen: dict[str, Any]) -> dict[str, Any]:
    """Platt calibration of each kind's chosen fused score, and one answer threshold for both kinds."""
    offtopic = [r["query"] for r in read_jsonl(OFFTOPIC)]
    ov = enc.encode(offtopic)
    ranker = Ranker(passage=KindModel(dc["weights"]))
    raw, dneg = [], []
    for paths, queries in doc_sets(enc):
        corpus = ev.build_docs(paths, enc, dc["max_chars"], heading_context=dc["heading"],
                               bm25_heading=dc["bm25_heading"], analyzer=dc["analyzer"])
        raw += ev.eval_docs(corpus, queries, ranker)["_raw"]
        dneg += ev.offtopic_raw_docs(corpus, offtopic, ov, ranker)
    dslope, dint = ev.calibrate(raw, dneg)
    faq = parse_faq()
    paraphrases = [p for name in FAQ_SETS for p in read_jsonl(name)]
    pv = enc.encode([p["query"] for p in paraphrases])
    fc = ev.build_faq(faq, enc, fc_chosen["answer_words"], fc_chosen.get("analyzer", "standard"))
    franker = Ranker(faq=KindModel(fc_chosen["weights"]))
    fr = ev.eval_faq(fc, paraphrases, pv, franker)
    fneg = ev.offtopic_raw_faq(fc, offtopic, ov, franker)
    fslope, fint = ev.calibrate(fr["_raw"], fneg)
    dm, fm = KindModel({}, dslope, dint), KindModel({}, fslope, fint)
    on = [(dm.probability(x), ok) for x, ok in raw] + [(fm.probability(x), ok) for x, ok in fr["_raw"]]
    off = [dm.probability(x) for x in dneg] + [fm.probability(x) for x in fneg]
    thr = ev.choose_threshold(on, off)
    out = {"passage": [round(dslope, 3), round(dint, 3)], "faq": [round(fslope, 3), round(fint, 3)],
           "answer_threshold": thr, "tuning_refusal_documents": ev.refusal(dm, raw, dneg, thr),
           "tuning_refusal_faq": ev.refusal(fm, fr["_raw"], fneg, thr)}
    print("calibration:", out)
    return out


if __name__ == "__main__":
    main()
