"""Choose the QA retrieval settings on the TUNING sets only (see qa_chatbot_data.md) and save the grid.

    .venv/bin/python bench/qa_chatbot_tune.py [--precision fp32|int8]

Documents: Debian Reference + qa_chatbot_tune_docs.jsonl; FAQ: Debian FAQ + qa_chatbot_paraphrases.jsonl and
qa_chatbot_tune_faq_2.jsonl;
off-topic: qa_chatbot_offtopic.jsonl. Prints every variant and the chosen one (best top-1, then top-3, then
the simpler variant); writes bench/results/qa_chatbot_tuning.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import qa_chatbot_eval as ev
from qa_chatbot_docs import collection
from qa_chatbot_faq import parse_faq

from common.text import TextEncoder, default_model_dir
from solutions.qa_chatbot.retrieval import KindModel, Ranker

HERE = Path(__file__).resolve().parent


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pick(results: list[dict], tolerance: float = 0.01) -> dict:
    """The cheapest variant to load (``cost``: encoder work per item) among those within ``tolerance`` of the
    best top-1 (the same tolerance as for INT8), then the best top-1, top-3, MRR@10."""
    best = max(r["top1"] for r in results)
    near = [r for r in results if r["top1"] >= best - tolerance - 1e-9]
    return min(near, key=lambda r: (r.get("cost", 0), -r["top1"], -r["top3"], -r.get("mrr@10", 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--precision", choices=["fp32", "int8"], default="fp32")
    ap.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "qa_bench_models")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "qa_chatbot_tuning.json")
    ap.add_argument("--only", choices=["documents", "faq", "calibration"],
                    help="re-run one part, keeping the others' saved results")
    args = ap.parse_args()
    enc = ev.CachedEncoder(TextEncoder.load(default_model_dir(), args.models, precision=args.precision))
    out: dict = {"precision": args.precision, "documents": {}, "faq": {}}
    if args.only and args.out.exists():
        out.update(json.loads(args.out.read_text()))
    offtopic = [r["query"] for r in read_jsonl(HERE / "qa_chatbot_offtopic.jsonl")]
    ov = enc.encode(offtopic)
    if args.only in (None, "documents"):
        tune_documents(enc, offtopic, ov, out)
    if args.only in (None, "faq"):
        tune_faq(enc, offtopic, ov, out)
    calibrate(enc, offtopic, ov, out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float))
    print("wrote", args.out)


def tune_documents(enc, offtopic: list[str], ov, out: dict) -> None:

    # -- documents -------------------------------------------------------------------------------------
    questions = read_jsonl(HERE / "qa_chatbot_tune_docs.jsonl")
    qv = ev.DocQueries(questions, enc.encode([q["query"] for q in questions]))
    paths = collection("tune")
    rows = []
    naive = ev.build_docs(paths, enc, 1000, naive=True)
    r = ev.eval_docs(naive, qv, None, dense_only=True)
    rows.append({"variant": "naive 1000-char chunks, dense", "top1": r["top1"], "top3": r["top3"]})
    best_corpus = None
    for max_chars in (500, 700, 1000):
        for heading in (False, True):
            corpus = ev.build_docs(paths, enc, max_chars, heading_context=heading)
            r = ev.eval_docs(corpus, qv, None, dense_only=True)
            rows.append({"variant": f"passages {max_chars}, heading {heading}, dense", "max_chars": max_chars,
                         "heading": heading, "top1": r["top1"], "top3": r["top3"]})
            r = ev.eval_docs(corpus, qv, Ranker(), use_rrf=True)
            rows.append({"variant": f"passages {max_chars}, heading {heading}, RRF dense+BM25", "top1": r["top1"],
                         "top3": r["top3"]})
            for w in ev.weight_grid(["passage", "bm25", "sentence"], [0, 0.1, 0.2, 0.3, 0.4, 0.5]):
                ranker = Ranker(passage=KindModel(w))
                r = ev.eval_docs(corpus, qv, ranker, lexical_weight=0.2)
                rows.append({"variant": f"passages {max_chars}, heading {heading}, fusion {w}", "max_chars": max_chars,
                             "heading": heading, "weights": w, "top1": r["top1"], "top3": r["top3"],
                             "highlight": r["highlight"], "cost": 1 + (2 if w["sentence"] else 0)})
            print(f"max_chars {max_chars} heading {heading}: best so far",
                  pick([x for x in rows if "weights" in x]))
            if best_corpus is None or (max_chars, heading) == (pick([x for x in rows if "weights" in x])["max_chars"],
                                                                pick([x for x in rows if "weights" in x])["heading"]):
                best_corpus = corpus
    fused = [x for x in rows if "weights" in x]
    chosen = pick(fused)
    corpus = ev.build_docs(paths, enc, chosen["max_chars"], heading_context=chosen["heading"])
    ranker = Ranker(passage=KindModel(chosen["weights"]))
    hl = {}
    for lw in (0.0, 0.2, 0.4):
        hl[lw] = ev.eval_docs(corpus, qv, ranker, lexical_weight=lw)["highlight"]
    lexical = max(hl, key=lambda k: (hl[k], -k))
    out["documents"] = {"variants": rows, "chosen": chosen, "chosen_lexical_weight": lexical,
                        "highlight_lexical_weight": {str(k): v for k, v in hl.items()}}
    for row in rows:
        if "weights" not in row or row is chosen:
            print(f"  {row['variant']:70s} top1 {row['top1']:.3f} top3 {row['top3']:.3f}")
    print("documents chosen:", chosen, "highlight lexical weight", lexical)


def tune_faq(enc, offtopic: list[str], ov, out: dict) -> None:
    faq = parse_faq()
    paraphrases = read_jsonl(HERE / "qa_chatbot_paraphrases.jsonl") + read_jsonl(HERE / "qa_chatbot_tune_faq_2.jsonl")
    pv = enc.encode([p["query"] for p in paraphrases])
    frows = []
    for answer_words in (None, 48):
        fc = ev.build_faq(faq, enc, answer_words)
        base = ev.eval_faq(fc, paraphrases, pv, None)
        frows.append({"variant": "questions only (baseline)", "top1": base["top1"], "top3": base["top3"],
                      "mrr@10": base["mrr@10"]})
        for w in ev.weight_grid(["question", "qa", "bm25", "sentence"], [0, 0.1, 0.2, 0.3, 0.4, 0.5]):
            if answer_words and not w["qa"]:
                continue  # the same variant as with the whole answer
            r = ev.eval_faq(fc, paraphrases, pv, Ranker(faq=KindModel(w)))
            frows.append({"variant": f"qa text {answer_words or 'all'} words, fusion {w}", "answer_words": answer_words,
                          "weights": w, "top1": r["top1"], "top3": r["top3"], "mrr@10": r["mrr@10"],
                          "cost": 1 + (0 if not w["qa"] else 1 if answer_words else 3) + (3 if w["sentence"] else 0)})
    fchosen = pick([x for x in frows if "weights" in x])
    out["faq"] = {"variants": frows, "chosen": fchosen}
    top = sorted((x for x in frows if "weights" in x), key=lambda x: (-x["top1"], -x["top3"], -x["mrr@10"]))[:10]
    for row in [frows[0], *top]:
        print(f"  {row['variant']:70s} top1 {row['top1']:.3f} top3 {row['top3']:.3f} mrr {row['mrr@10']:.3f}")
    print("faq chosen:", fchosen)


def calibrate(enc, offtopic: list[str], ov, out: dict) -> None:
    """Platt calibration of each kind's chosen fused score, and one answer threshold for both kinds."""
    dc, fcho = out["documents"]["chosen"], out["faq"]["chosen"]
    questions = read_jsonl(HERE / "qa_chatbot_tune_docs.jsonl")
    qv = ev.DocQueries(questions, enc.encode([q["query"] for q in questions]))
    corpus = ev.build_docs(collection("tune"), enc, dc["max_chars"], heading_context=dc["heading"])
    ranker = Ranker(passage=KindModel(dc["weights"]))
    r = ev.eval_docs(corpus, qv, ranker, lexical_weight=out["documents"]["chosen_lexical_weight"])
    dneg = ev.offtopic_raw_docs(corpus, offtopic, ov, ranker)
    dslope, dint = ev.calibrate(r["_raw"], dneg)
    faq = parse_faq()
    paraphrases = read_jsonl(HERE / "qa_chatbot_paraphrases.jsonl") + read_jsonl(HERE / "qa_chatbot_tune_faq_2.jsonl")
    pv = enc.encode([p["query"] for p in paraphrases])
    fc = ev.build_faq(faq, enc, fcho["answer_words"])
    franker = Ranker(faq=KindModel(fcho["weights"]))
    fr = ev.eval_faq(fc, paraphrases, pv, franker)
    fneg = ev.offtopic_raw_faq(fc, offtopic, ov, franker)
    fslope, fint = ev.calibrate(fr["_raw"], fneg)
    dm, fm = KindModel({}, dslope, dint), KindModel({}, fslope, fint)
    on = [(dm.probability(x), ok) for x, ok in r["_raw"]] + [(fm.probability(x), ok) for x, ok in fr["_raw"]]
    off = [dm.probability(x) for x in dneg] + [fm.probability(x) for x in fneg]
    thr = ev.choose_threshold(on, off)
    out["calibration"] = {"passage": [dslope, dint], "faq": [fslope, fint], "answer_threshold": thr,
                          "tuning_refusal_documents": ev.refusal(dm, r["_raw"], dneg, thr),
                          "tuning_refusal_faq": ev.refusal(fm, fr["_raw"], fneg, thr)}
    print("calibration:", out["calibration"])


if __name__ == "__main__":
    main()
