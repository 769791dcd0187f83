"""Ranking, calibration and highlight of qa_chatbot.retrieval (no vector store involved)."""

from __future__ import annotations

import numpy as np
import pytest

from solutions.qa_chatbot.retrieval import (
    KindModel,
    Ranker,
    answer_units,
    best_sentence,
    fit_calibration,
    highlight,
    lexical_overlap,
    rrf,
    saturate,
)


def test_features_are_clipped_and_bm25_saturated():
    r = Ranker(bm25_saturation=8.0)
    f = r.features({"passage": 1.3, "sentence": -0.2}, bm25=8.0)
    assert f == {"passage": 1.0, "sentence": 0.0, "bm25": 0.5}
    assert saturate(0.0, 8) == 0.0 and 0 < saturate(1e6, 8) < 1


def test_bm25_of_a_small_collection_is_scaled_to_the_reference_size():
    r = Ranker(passage=KindModel({"passage": 0.5, "bm25": 0.5}, bm25_reference=300))
    # the weight of a word found in one text of N (~ln N) at 300 texts over its weight at N, below 300 only
    assert r.bm25_scale("passage", 6) == pytest.approx(np.log(301) / np.log(7))
    assert r.bm25_scale("passage", 1) == pytest.approx(np.log(301) / np.log(2))
    assert r.bm25_scale("passage", 6) > r.bm25_scale("passage", 60) > 1.0
    assert r.bm25_scale("passage", 300) == r.bm25_scale("passage", 5000) == 1.0
    assert r.bm25_scale("passage", 0) == 1.0  # nothing searched: nothing to scale
    assert r.bm25_scale("faq", 6) == 1.0  # the FAQ model's reference is 0: never scaled
    with pytest.raises(ValueError):
        KindModel({"passage": 1.0}, bm25_reference=-1)


def test_scores_are_probabilities_and_follow_the_weighted_sum():
    model = KindModel({"passage": 0.6, "bm25": 0.2, "sentence": 0.2}, slope=12.0, intercept=-6.0)
    r = Ranker(passage=model)
    cands = [(1, "passage", {"passage": 0.9, "bm25": 0.5, "sentence": 0.8}),
             (2, "passage", {"passage": 0.3, "bm25": 0.0, "sentence": 0.2}),
             (3, "passage", {"passage": 0.9, "bm25": 0.5, "sentence": 0.8})]
    ranked = r.rank(cands, 10)
    assert [i for i, _, _ in ranked] == [1, 3, 2]  # ties broken by id
    assert all(0.0 <= s <= 1.0 for _, _, s in ranked)
    assert ranked[0][2] == pytest.approx(1 / (1 + np.exp(-(12 * model.raw(cands[0][2]) - 6))))
    assert r.rank(cands, 1) == ranked[:1]
    assert model.probability(-100.0) == 0.0


def test_faq_and_passages_rank_on_one_scale():
    r = Ranker(faq=KindModel({"question": 1.0}, 10, -5), passage=KindModel({"passage": 1.0}, 20, -14))
    ranked = r.rank([(1, "faq", {"question": 0.8}), (2, "passage", {"passage": 0.8})], 2)
    assert [i for i, _, _ in ranked] == [1, 2]  # same cosine, different calibrated confidence


def test_calibration_separates_positives_from_negatives():
    rng = np.random.default_rng(0)
    pos = list(rng.normal(0.7, 0.05, 200))
    neg = list(rng.normal(0.4, 0.05, 400))
    slope, intercept = fit_calibration(pos, neg)
    model = KindModel({}, slope, intercept)
    assert slope > 0
    assert model.probability(0.75) > 0.9 and model.probability(0.35) < 0.1
    assert 0.5 < -intercept / slope < 0.6  # the 50 % point lies between the two groups
    with pytest.raises(ValueError):
        fit_calibration([], neg)


def test_rrf():
    fused = rrf([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert max(fused, key=fused.get) == 1


def test_highlight_picks_the_answering_sentence():
    text = ("APT keeps a cache of packages. To save space, run apt clean to delete downloaded files. "
            "Mirrors are listed in sources.list.")
    spans = answer_units(text)
    assert [text[s:e] for s, e in spans][1] == "To save space, run apt clean to delete downloaded files."
    # fake embeddings: the query points at the second sentence
    vecs = np.eye(3, dtype=np.float32)
    q = np.array([0.1, 0.9, 0.2], np.float32)
    q /= np.linalg.norm(q)
    (s, e), = highlight("free disk space used by apt", q, text, spans, vecs, max_spans=1)
    assert text[s:e].startswith("To save space")
    both = highlight("x", q, text, spans, np.array([[0, 1, 0], [0, 0.99, 0.1], [1, 0, 0]], np.float32),
                     lexical_weight=0.0, margin=0.1, max_spans=2)
    assert both == [[spans[0][0], spans[0][1]], [spans[1][0], spans[1][1]]]  # text order
    assert highlight("q", q, "", [], np.zeros((0, 3), np.float32)) == []
    assert best_sentence(q, vecs) == pytest.approx(0.9 / np.linalg.norm([0.1, 0.9, 0.2]))


def test_lexical_overlap():
    assert lexical_overlap("apt clean space", "Run apt clean.") == pytest.approx(2 / 3)
    assert lexical_overlap("", "anything") == 0.0


def test_answer_units_cut_long_sentences():
    text = "A" + ", and more words" * 60 + "."
    units = answer_units(text, max_chars=200)
    assert len(units) > 1 and all(e - s <= 200 for s, e in units)


def test_ranker_from_settings_and_weight_validation():
    from solutions.qa_chatbot.config import QASettings
    from solutions.qa_chatbot.retrieval import ranker_from_settings

    s = QASettings(passage_weights={"passage": 0.5, "sentence": 0.5}, passage_calibration=(8.0, -4.0),
                   passage_bm25_reference=50)
    r = ranker_from_settings(s)
    assert r.passage.weights == {"passage": 0.5, "sentence": 0.5} and (r.passage.slope, r.passage.intercept) == (8, -4)
    assert r.passage.bm25_reference == 50 and r.faq.bm25_reference == 0
    with pytest.raises(ValueError, match="features"):
        KindModel({"title": 1.0})
    with pytest.raises(ValueError):
        KindModel({"passage": -1.0})
