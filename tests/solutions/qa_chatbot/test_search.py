"""Results (solutions/qa_chatbot/search.py): a highlight only on a result that plausibly answers the query;
/answer's alternatives are questions to ask, never a file's name."""

from __future__ import annotations

import pytest

from .helpers import faq_csv


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "in"
    faq_csv(root)
    # a document without a title or headings: its passage's only heading is its file's name
    (root / "notes").mkdir()
    (root / "notes" / "backup-notes.txt").write_text(
        "The backup job runs every night at two. It copies the home folders to the NAS.\n\n"
        "Old backups are deleted after thirty days.\n", encoding="utf-8")
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


def test_alternatives_are_questions_to_ask_not_file_names(service):
    """A passage whose heading path is only its file's name ("backup-notes") is no suggestion: /answer's
    alternatives, which the page offers as questions to click, skip it and are filled from deeper results."""
    client, app, _ = service
    query = "how long are old copies kept on the storage?"
    ranked = client.post("/search", json={"query": query, "top_k": 4}).json()["results"]
    assert "backup-notes" in [r["question"] for r in ranked]  # the heading-less passage ranks near the top
    r = client.post("/answer", json={"query": query}).json()
    assert len(r["alternatives"]) == app.state.pipeline.settings.alternatives
    assert all(a["kind"] == "faq" or a["question"] not in ("backup-notes", "backup-notes.txt",
                                                            "notes/backup-notes.txt") for a in r["alternatives"])
    deeper = client.post("/search", json={"query": query, "top_k": 10}).json()["results"]
    offered = [h["question"] for h in deeper
               if h["question"] != "backup-notes" and (not r["confident"] or h["id"] != r["id"])]
    assert [a["question"] for a in r["alternatives"]] == offered[:len(r["alternatives"])]
