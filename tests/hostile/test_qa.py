"""Hostile input for the QA demo: documents that would hang or blow up a parser, huge files, huge records, and
loads cancelled or dropped halfway. The parser runs in a child process bounded in time and memory, so each case
ends as an error of its item, the server stays up, and what is stored stays consistent (every listed FAQ entry
has its vectors, every listed document its passages, vectors and stored copy)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from common.vectors import int_list
from solutions.qa_chatbot.app import create_app
from solutions.qa_chatbot.config import QASettings
from tests.solutions.qa_chatbot.helpers import pdf_with_stream, text_pdf
from tests.support import load

from .conftest import LITE, staging_leftovers
from .test_interrupted import cancel, start_load

PROSE = " ".join(f"Sentence {i} says one more thing about the configuration." for i in range(40))


@pytest.fixture(scope="module")
def qa_models(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qa_models")


@pytest.fixture
def qa(tmp_path, unique, qa_models) -> Iterator[tuple[TestClient, FastAPI, Path]]:
    """The QA demo with small document budgets; yields (client, app, data root)."""
    root = tmp_path / "root"
    root.mkdir()
    settings = QASettings(**LITE.settings(tmp_path / "data", data_roots=[root], store_prefix=f"qa_{unique}",
                                          model_cache_dir=qa_models, document_max_bytes=2_000_000,
                                          document_parse_seconds=3, document_parse_memory_mb=384,
                                          document_max_passages=50, max_upload_mb=8))
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, app, root


def assert_qa_consistent(client: TestClient, app: FastAPI) -> int:
    """/count == items listed; FAQ entries have their vectors; documents their passages, vectors and copy."""
    pipeline = app.state.pipeline
    page = client.get("/items", params={"limit": 500}).json()
    count = client.get("/count").json()["count"]
    assert page["total"] == count == len(page["items"])
    faq = [i["id"] for i in page["items"] if i["kind"] == "faq"]
    docs = [i for i in page["items"] if i["kind"] == "document"]
    if faq:
        rows = pipeline.vectors.query(pipeline.names["q"], filter=f"id in {int_list(faq)}", output_fields=["id"])
        assert {int(r["id"]) for r in rows} == set(faq), "FAQ entries listed without their vectors"
    for doc in docs:
        passages = client.get(f"/items/{doc['id']}/passages", params={"limit": 500}).json()["passages"]
        assert len(passages) == doc["passages"] > 0
        rows = pipeline.vectors.query(pipeline.names["passage"], filter=f"document_id in {int_list([doc['id']])}",
                                      output_fields=["id"])
        assert {int(r["id"]) for r in rows} == {p["id"] for p in passages}, "passages without their vectors"
        assert client.get(f"/items/{doc['id']}/file").status_code == 200
    return count


def test_a_pdf_decompression_bomb_costs_at_most_the_parse_budget(qa):
    client, app, root = qa
    comp = zlib.compressobj(9)
    bomb = b"".join(comp.compress(b"0" * (1 << 20)) for _ in range(1024)) + comp.flush()  # 1 GB in ~1 MB
    (root / "bomb.pdf").write_bytes(pdf_with_stream(bomb))
    (root / "fine.pdf").write_bytes(text_pdf("This leaflet is fine."))
    started = time.monotonic()
    task = load(client, root)
    assert time.monotonic() - started < 60
    assert task["state"] == "succeeded" and task["new"] == 1, task
    errors = {e["item"]: e for e in task["errors"]}
    assert set(errors) <= {"bomb.pdf"}  # refused, or stored without the page that would not inflate
    assert assert_qa_consistent(client, app) == 1 + (task["warnings"] if "bomb.pdf" not in errors else 0)
    assert client.get("/health").status_code == 200


def test_deeply_nested_html_and_a_parse_that_runs_too_long_fail_alone(qa):
    client, app, root = qa
    depth = 200_000
    (root / "deep.html").write_bytes(b"<html><body>" + b"<div>" * depth + b"<p>deep.</p>" + b"</div>" * depth)
    (root / "slow.md").write_text(("# H\n\n" + PROSE + "\n\n") * 1500, encoding="utf-8")  # ~1.3 MB of markdown
    (root / "guide.md").write_text("# Guide\n\nThe guide is short. " + PROSE, encoding="utf-8")
    task = load(client, root)
    errors = {e["item"]: e["error"] for e in task["errors"] if e["level"] == "error"}
    assert "guide.md" not in errors and task["new"] >= 1
    assert "slow.md" in errors or any(e["item"] == "slow.md" for e in task["errors"])  # killed, or truncated
    assert assert_qa_consistent(client, app) == task["new"]


def test_a_document_over_the_byte_budget_is_refused_before_parsing(qa):
    client, app, root = qa
    (root / "huge.txt").write_bytes(b"word " * 500_000)  # 2.5 MB > 2 MB
    task = load(client, root)
    assert task["failed"] == 1 and "2000000-byte limit" in task["errors"][0]["error"]
    assert assert_qa_consistent(client, app) == 0


def test_a_huge_csv_field_is_an_error_of_its_record(qa):
    client, app, root = qa
    (root / "faq.csv").write_text("question,answer\nfine?,yes\nhuge?," + "x" * (1 << 20 | 5) + "\nafter?,ok\n",
                                  encoding="utf-8")
    task = load(client, root)  # the record after it is read too (the whole rest of the file was dropped)
    assert task["new"] == 2 and task["failed"] == 1 and task["errors"][0]["item"] == "faq.csv:3"
    assert assert_qa_consistent(client, app) == 2


def test_a_cancelled_document_load_lists_only_complete_documents(qa):
    client, app, root = qa
    (root / "docs").mkdir()
    for i in range(12):
        (root / "docs" / f"doc{i:02d}.md").write_text(f"# Doc {i}\n\nDocument number {i}. " + PROSE, encoding="utf-8")
    app.state.pipeline.batch_size = 12  # one batch: the cancel stops it between two documents
    task = cancel(client, start_load(client, app, root / "docs", batch_seconds=0.4, running_for=1.0))
    assert task["state"] == "cancelled" and 0 < task["new"] < 12
    # the documents the cancel stopped the batch before were listed as failed, "cancelled before it was loaded"
    assert task["failed"] == 0 and task["errors"] == [], task
    assert assert_qa_consistent(client, app) == task["new"]


def test_delete_data_during_a_faq_load_leaves_nothing_half_written(qa):
    client, app, root = qa
    rows = "".join(f"Question number {i} about topic {i % 9}?,Answer {i}.\n" for i in range(400))
    (root / "faq.csv").write_text("question,answer\n" + rows, encoding="utf-8")
    app.state.pipeline.batch_size = 20
    task_id = start_load(client, app, root / "faq.csv", batch_seconds=0.3, running_for=1.0)
    assert client.delete("/data").json()["dropped"] > 0
    assert client.get(f"/tasks/{task_id}").json()["state"] == "cancelled"
    assert assert_qa_consistent(client, app) == 0
    assert staging_leftovers(app) == []
