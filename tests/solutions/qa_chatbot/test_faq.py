"""FAQ entries (solutions/qa_chatbot/faq.py): a question repeated in one file is reported by the load, and the
last answer loaded is the one stored."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import load

from .helpers import make_app, write_csv

RESET = "How do I reset my password?"
CONFIG = "Where is the config file?"


def answers(client: TestClient) -> dict[str, str]:
    items = client.get("/items", params={"limit": 100}).json()["items"]
    return {i["question"]: i["answer"] for i in items if i["kind"] == "faq"}


def test_a_question_repeated_in_one_batch_names_the_row_whose_answer_is_kept(backend, tmp_path, unique, qa_models):
    faq = write_csv(tmp_path / "in" / "faq.csv", [
        ["question", "answer"],
        [RESET, "Click 'forgot password' on the login page."],          # line 2: superseded by line 4
        [CONFIG, "It is in /etc/app/app.conf."],                         # line 3: repeated as is on line 5
        [RESET.upper(), "Ask your administrator to reset it."],          # line 4
        [CONFIG, "It is in /etc/app/app.conf."],                         # line 5
    ])
    with TestClient(make_app(backend, tmp_path, unique, tmp_path, qa_models)) as client:
        task = load(client, faq)
        assert (task["new"], task["duplicates"], task["failed"]) == (2, 2, 0), task
        notes = {e["item"]: e for e in task["errors"]}
        assert set(notes) == {"faq.csv:2", "faq.csv:3"}, task["errors"]
        assert all(e["level"] == "warning" for e in notes.values())
        assert "not stored" in notes["faq.csv:2"]["error"] and "faq.csv:4" in notes["faq.csv:2"]["error"]
        assert "faq.csv:5" in notes["faq.csv:3"]["error"] and "stored once" in notes["faq.csv:3"]["error"]
        assert answers(client) == {RESET.upper(): "Ask your administrator to reset it.",
                                   CONFIG: "It is in /etc/app/app.conf."}
        client.delete("/data")


def test_a_question_repeated_in_a_later_batch_says_which_answer_it_replaces(backend, tmp_path, unique, qa_models):
    faq = write_csv(tmp_path / "in" / "faq.csv", [
        ["question", "answer"],
        [RESET, "Click 'forgot password' on the login page."],  # line 2: batch 1
        [CONFIG, "It is in /etc/app/app.conf."],                 # line 3: batch 1
        [RESET, "Ask your administrator to reset it."],          # line 4: batch 2, replaces line 2
    ])
    with TestClient(make_app(backend, tmp_path, unique, tmp_path, qa_models, batch_size=2)) as client:
        task = load(client, faq)
        assert (task["new"], task["failed"], task["warnings"]) == (3, 0, 1), task
        assert [(e["item"], e["level"]) for e in task["errors"]] == [("faq.csv:4", "warning")]
        assert "faq.csv:2" in task["errors"][0]["error"] and "replaces" in task["errors"][0]["error"]
        assert answers(client) == {RESET: "Ask your administrator to reset it.", CONFIG: "It is in /etc/app/app.conf."}
        # the same file again: each row replaces the other's answer again, and each says so; the last one wins
        again = load(client, faq)
        assert [(e["item"], e["level"]) for e in again["errors"]] == [("faq.csv:2", "warning"),
                                                                       ("faq.csv:4", "warning")], again
        assert answers(client)[RESET] == "Ask your administrator to reset it."
        client.delete("/data")
