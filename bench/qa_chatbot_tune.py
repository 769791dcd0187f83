"""Choose the QA retrieval settings on the TUNING sets only (see qa_chatbot_data.md) and save the grid.

    .venv/bin/python bench/qa_chatbot_tune.py [--precision fp32|int8]

Documents: Debian Reference + qa_chatbot_tune_docs.jsonl; FAQ: Debian FAQ + qa_chatbot_paraphrases.jsonl;
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

from solutions.qa_chatbot.encoder import TextEncoder, default_model_dir
from solutions.qa_chatbot.retrieval import KindModel, Ranker

HERE = Path(__file__).resolve().parent


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pick(results: list[dict]) -> dict:
    return max(results, key=lambda r: (r["top1"], r["top3"], -r.get("complexity", 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--precision", choices=["fp32", "int8"], default="fp32")
    ap.add_argument("--models", type=Path, default=Path(tempfile.gettempdir()) / "qa_bench_models")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "qa_chatbot_tuning.json")
    args = ap.parse_args()
    enc = ev.CachedEncoder(TextEncoder.load(default_model_dir(), args.models, precision=args.precision))
    out: dict = {"precision": args.precision, "documents": {}, "faq": {}}

    # -- documents -------------------------------------------------------------------------------------
    questions = read_jsonl(HERE / "qa_chatbot_tune_docs.jsonl")
    offtopic = [r["query"] for r in read_jsonl(HERE / "qa_chatbot_offtopic.jsonl")]
    qv = ev.DocQueries(questions, enc.encode([q["query"] for q in questions]))
    ov = enc.encode(offtopic)
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
                         "top3": r["top3"], "complexity": 1})
            for w in ev.weight_grid(["passage", "bm25", "sentence"], [0, 0.1, 0.2, 0.3, 0.4, 0.5]):
                ranker = Ranker(passage=KindModel(w))
                r = ev.eval_docs(corpus, qv, ranker, lexical_weight=0.2)
                rows.append({"variant": f"passages {max_chars}, heading {heading}, fusion {w}", "max_chars": max_chars,
                             "heading": heading, "weights": w, "top1": r["top1"], "top3": r["top3"],
                             "highlight": r["highlight"], "complexity": sum(1 for v in w.values() if v)})
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
    r = ev.eval_docs(corpus, qv, ranker, lexical_weight=lexical)
    neg = ev.offtopic_raw_docs(corpus, offtopic, ov, ranker)
    slope, intercept, thr = ev.calibrate(r["_raw"], neg)
    out["documents"] = {"variants": rows, "chosen": chosen, "chosen_lexical_weight": lexical,
                        "highlight_lexical_weight": {str(k): v for k, v in hl.items()},
                        "calibration": {"slope": slope, "intercept": intercept, "threshold": thr}}
    for row in rows:
        if "weights" not in row or row is chosen:
            print(f"  {row['variant']:70s} top1 {row['top1']:.3f} top3 {row['top3']:.3f}")
    print("documents chosen:", chosen, "lexical", lexical, "calibration", slope, intercept, thr)

    # -- FAQ -------------------------------------------------------------------------------------------
    faq = parse_faq()
    paraphrases = read_jsonl(HERE / "qa_chatbot_paraphrases.jsonl")
    pv = enc.encode([p["query"] for p in paraphrases])
    frows = []
    for answer_words in (None, 48):
        fc = ev.build_faq(faq, enc, answer_words)
        base = ev.eval_faq(fc, paraphrases, pv, None)
        frows.append({"variant": "questions only (baseline)", "top1": base["top1"], "top3": base["top3"]})
        for w in ev.weight_grid(["question", "qa", "bm25"], [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]):
            r = ev.eval_faq(fc, paraphrases, pv, Ranker(faq=KindModel(w)))
            frows.append({"variant": f"qa text {answer_words or 'all'} words, fusion {w}", "answer_words": answer_words,
                          "weights": w, "top1": r["top1"], "top3": r["top3"],
                          "complexity": sum(1 for v in w.values() if v) + (0 if answer_words else 0.5)})
    fchosen = pick([x for x in frows if "weights" in x])
    fc = ev.build_faq(faq, enc, fchosen["answer_words"])
    franker = Ranker(faq=KindModel(fchosen["weights"]))
    r = ev.eval_faq(fc, paraphrases, pv, franker)
    neg = ev.offtopic_raw_faq(fc, offtopic, ov, franker)
    fslope, fintercept, fthr = ev.calibrate(r["_raw"], neg)
    out["faq"] = {"variants": frows, "chosen": fchosen,
                  "calibration": {"slope": fslope, "intercept": fintercept, "threshold": fthr}}
    top = sorted((x for x in frows if "weights" in x), key=lambda x: (-x["top1"], -x["top3"]))[:10]
    for row in [frows[0], *top]:
        print(f"  {row['variant']:70s} top1 {row['top1']:.3f} top3 {row['top3']:.3f}")
    print("faq chosen:", fchosen, "calibration", fslope, fintercept, fthr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
