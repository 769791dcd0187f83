"""Results (solutions/qa_chatbot/search.py): a highlight only on a result that plausibly answers the query."""

from __future__ import annotations

import pytest

from .helpers import faq_csv


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "in"
    faq_csv(root)
    return root


def test_only_results_at_the_answer_threshold_carry_a_highlight(service):
    """A highlight claims "these sentences answer": a result that /answer would refuse (its calibrated score
    under the threshold) has none, in /search and /search/batch alike."""
    client, app, _ = service
    threshold = app.state.pipeline.settings.answer_threshold
    query = "how can I find out which debian distribution I am running"
    results = client.post("/search", json={"query": query, "top_k": 10}).json()["results"]
    above = [r for r in results if r["score"] >= threshold]
    below = [r for r in results if r["score"] < threshold]
    assert above and below, [r["score"] for r in results]
    assert all(r["highlight"] for r in above)
    assert all(r["highlight"] == [] for r in below), [(r["score"], r["highlight"]) for r in below]
    [batch] = client.post("/search/batch", json={"queries": [query], "top_k": 10}).json()["results"]
    assert [r["highlight"] for r in batch["results"]] == [r["highlight"] for r in results]
