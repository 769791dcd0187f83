"""The QA retrieval method on the REPORT sets (and, for reference, the TUNING sets), with its baselines and
encoder speed, all in one run. Called by bench/qa_chatbot.py; settings come from QASettings' defaults, which
bench/qa_chatbot_tune.py chose on the tuning sets."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import qa_chatbot_eval as ev
from qa_chatbot_docs import collection
from qa_chatbot_faq import parse_faq, parse_report_faq

from solutions.qa_chatbot.config import QASettings
from common.text import TextEncoder, default_model_dir
from solutions.qa_chatbot.retrieval import ranker_from_settings

HERE = Path(__file__).resolve().parent
SETS = {
    "tuning": {"documents": "Debian Reference (debian-reference-en HTML)",
               "doc_questions": "qa_chatbot_tune_docs.jsonl",
               "faq": "Debian FAQ (debian-faq)",
               "paraphrases": ["qa_chatbot_paraphrases.jsonl", "qa_chatbot_tune_faq_2.jsonl"],
               "offtopic": "qa_chatbot_offtopic.jsonl"},
    "report": {"documents": "Debian Administrator's Handbook (debian-handbook HTML)",
               "doc_questions": "qa_chatbot_report_docs.jsonl", "faq": "zlib + xz-utils + valgrind FAQs",
               "paraphrases": ["qa_chatbot_report_faq.jsonl"], "offtopic": "qa_chatbot_report_offtopic.jsonl"},
}


def read_jsonl(name: str) -> list[dict]:
    return [json.loads(x) for x in (HERE / name).read_text(encoding="utf-8").splitlines() if x.strip()]


def faq_text(settings: QASettings) -> int | None:
    return settings.faq_answer_words or None


def evaluate(role: str, enc, settings: QASettings) -> dict:
    """Documents and FAQ figures of the method and its baselines on one role's sets."""
    sets = SETS[role]
    ranker = ranker_from_settings(settings)
    out: dict = {"sets": sets}
    offtopic = [r["query"] for r in read_jsonl(sets["offtopic"])]
    ov = enc.encode(offtopic)

    questions = read_jsonl(sets["doc_questions"])
    qv = ev.DocQueries(questions, enc.encode([q["query"] for q in questions]))
    paths = collection("tune" if role == "tuning" else "report")
    naive = ev.build_docs(paths, enc, 1000, naive=True)
    method = ev.build_docs(paths, enc, settings.passage_max_chars, heading_context=settings.passage_heading_context,
                           sentences="sentence" in settings.passage_weights)
    r_naive = ev.eval_docs(naive, qv, None, dense_only=True)
    r_dense = ev.eval_docs(method, qv, None, dense_only=True)
    r_rrf = ev.eval_docs(method, qv, ranker, use_rrf=True)
    r_method = ev.eval_docs(method, qv, ranker, lexical_weight=settings.highlight_lexical_weight)
    neg = ev.offtopic_raw_docs(method, offtopic, ov, ranker)
    lengths = [len(t) for t in method.texts]
    out["documents"] = {
        "documents": len(paths), "questions": len(questions), "passages": len(method.texts),
        "passage_chars": {"max": max(lengths), "mean": round(statistics.mean(lengths), 1)},
        "naive_chunks": len(naive.texts),
        "naive_1000_char_chunks_dense": _public(r_naive),
        "passages_dense_only": _public(r_dense),
        "passages_rrf_dense_bm25": _public(r_rrf),
        "method": _public(r_method),
        "refusal": ev.refusal(ranker.passage, r_method["_raw"], neg, settings.answer_threshold),
        "load_seconds": {k: round(v, 2) for k, v in method.seconds.items()},
    }
    faq = parse_faq() if role == "tuning" else parse_report_faq()
    paraphrases = [p for name in sets["paraphrases"] for p in read_jsonl(name)]
    pv = enc.encode([p["query"] for p in paraphrases])
    fc = ev.build_faq(faq, enc, faq_text(settings))
    base = ev.eval_faq(fc, paraphrases, pv, None)
    meth = ev.eval_faq(fc, paraphrases, pv, ranker)
    fneg = ev.offtopic_raw_faq(fc, offtopic, ov, ranker)
    out["faq"] = {
        "pairs": len(faq), "paraphrases": len(paraphrases),
        "questions_only_baseline": _public(base), "method": _public(meth),
        "top1_gain_points": round(100 * (meth["top1"] - base["top1"]), 1),
        "refusal": ev.refusal(ranker.faq, meth["_raw"], fneg, settings.answer_threshold),
    }
    return out


def _public(r: dict) -> dict:
    return {k: v for k, v in r.items() if not k.startswith("_")}


def encoding_speed(enc: TextEncoder, settings: QASettings, copies: int = 4) -> dict:
    """Pairs/s of the encoding a FAQ load needs with these settings (question, plus question+answer when the
    ``qa`` feature is used), in the loader's batches of ``settings.batch_size`` pairs, one encoder call per
    batch; and MiniLM alone on short sentences (the anchor of issue 18)."""
    faq = parse_faq()
    pairs = [(f"{p['question']} (copy {k})", p["answer"]) for k in range(copies) for p in faq]
    need_qa = settings.faq_weights.get("qa", 0) > 0
    words = faq_text(settings)
    enc.encode([q for q, _ in pairs[:64]])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(pairs), settings.batch_size):
        batch = pairs[start:start + settings.batch_size]
        texts = [q for q, _ in batch]
        if need_qa:
            texts += [ev.qa_text(q, a, words) for q, a in batch]
        enc.encode(texts, max_batch_tokens=settings.encoder_max_batch_tokens)
    pair_rate = len(pairs) / (time.perf_counter() - started)
    sentences = [q for q, _ in pairs]
    started = time.perf_counter()
    enc.encode(sentences, max_batch_tokens=settings.encoder_max_batch_tokens)
    sent_rate = len(sentences) / (time.perf_counter() - started)
    return {"pairs": len(pairs), "pairs_per_s": round(pair_rate, 1), "short_sentences_per_s": round(sent_rate, 1),
            "texts_per_pair": 2 if need_qa else 1}


def check_sources() -> None:
    """The corpora are Debian packages' documentation: say which package to install when one is missing."""
    from qa_chatbot_docs import HANDBOOK, REFERENCE
    from qa_chatbot_faq import FAQ_TXT, VALGRIND_FAQ, XZ_FAQ, ZLIB_FAQ

    packages = {REFERENCE: "debian-reference-en", HANDBOOK: "debian-handbook", FAQ_TXT: "debian-faq",
                ZLIB_FAQ: "zlib1g-dev", XZ_FAQ: "xz-utils", VALGRIND_FAQ: "valgrind"}
    missing = sorted({pkg for path, pkg in packages.items() if not path.exists()})
    if missing:
        raise SystemExit(f"the QA bench corpora are missing: apt-get install {' '.join(missing)}")


def run(models: Path, roles: tuple[str, ...] = ("tuning", "report")) -> dict:
    check_sources()
    settings = QASettings()
    out: dict = {"settings": {k: getattr(settings, k) for k in (
        "encoder_precision", "passage_max_chars", "passage_heading_context", "faq_weights", "faq_answer_words",
        "passage_weights", "faq_calibration", "passage_calibration", "answer_threshold",
        "highlight_lexical_weight", "bm25_saturation")},
        "settings_chosen_on": "tuning sets, bench/qa_chatbot_tune.py (bench/results/qa_chatbot_tuning.json)"}
    encoders = {p: TextEncoder.load(default_model_dir(), models, precision=p) for p in ("fp32", "int8")}
    out["encoding"] = {}
    for precision, enc in encoders.items():
        out["encoding"][precision] = encoding_speed(enc, settings)
        print(f"encoding ({precision}): {out['encoding'][precision]}")
    out["encoding"]["int8_speedup"] = round(out["encoding"]["int8"]["pairs_per_s"]
                                            / out["encoding"]["fp32"]["pairs_per_s"], 2)
    for role in roles:
        for precision, enc in encoders.items():
            key = f"{role}_{precision}"
            out[key] = evaluate(role, ev.CachedEncoder(enc), settings)
            d, f = out[key]["documents"], out[key]["faq"]
            print(f"[{role.upper()} {precision}] documents ({d['questions']} q over {d['passages']} passages of "
                  f"<= {d['passage_chars']['max']} chars): method top1 {d['method']['top1']:.3f} "
                  f"top3 {d['method']['top3']:.3f} highlight {d['method']['highlight']}; naive 1000-char dense "
                  f"top1 {d['naive_1000_char_chunks_dense']['top1']:.3f} top3 "
                  f"{d['naive_1000_char_chunks_dense']['top3']:.3f}; refusal {d['refusal']}")
            print(f"[{role.upper()} {precision}] FAQ ({f['paraphrases']} paraphrases, {f['pairs']} pairs): method top1 "
                  f"{f['method']['top1']:.3f} vs questions-only {f['questions_only_baseline']['top1']:.3f} "
                  f"({f['top1_gain_points']:+.1f} points); refusal {f['refusal']}")
    return out
