"""CSV/JSONL parsing: BOM, quoted multi-line answers, empty rows, missing columns, line numbers."""

from __future__ import annotations

from solutions.qa_chatbot.bm25 import BM25Index
from solutions.qa_chatbot.pipeline import normalise_question, parse_file


def test_csv_bom_multiline_empty_rows_and_metadata(tmp_path):
    f = tmp_path / "faq.csv"
    f.write_bytes("\ufeffQuestion,Answer,category\n"
                  '"How do I start?","Step one.\nStep two, with a comma.",basics\n'
                  "\n"
                  ",,\n"
                  "Where is the manual?,,docs\n"
                  ",An answer without a question,x\n"
                  "Who wrote it?,We did.,about,extra\n"
                  "Who are you?,A bot.\n".encode())
    items = parse_file(f, "faq.csv")
    by_label = {i.label: i for i in items}
    ok = by_label["faq.csv:2"]
    assert ok.error is None
    assert ok.data == {"question": "How do I start?", "answer": "Step one.\nStep two, with a comma.",
                       "metadata": {"category": "basics"}}
    assert by_label["faq.csv:5"].error == "empty row"
    assert by_label["faq.csv:6"].error == "missing answer"
    assert by_label["faq.csv:7"].error == "missing question"
    assert "fields" in by_label["faq.csv:8"].error
    assert by_label["faq.csv:9"].error is None and by_label["faq.csv:9"].data["metadata"] == {}
    assert len(items) == 6


def test_csv_missing_column(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("question,reply\nq,a\n", encoding="utf-8")
    [item] = parse_file(f, "bad.csv")
    assert item.label == "bad.csv:1" and "missing column(s) answer" in item.error


def test_jsonl_with_errors(tmp_path):
    f = tmp_path / "faq.jsonl"
    f.write_text('{"question": "Q1?", "answer": "A1", "tags": ["x"]}\n\n{broken\n{"question": "Q2"}\n[1]\n',
                 encoding="utf-8")
    items = parse_file(f, "faq.jsonl")
    assert [(i.label, i.error is None) for i in items] == [
        ("faq.jsonl:1", True), ("faq.jsonl:3", False), ("faq.jsonl:4", False), ("faq.jsonl:5", False)]
    assert items[0].data["metadata"] == {"tags": ["x"]}
    assert items[2].error == "missing answer"


def test_normalised_question_identity():
    assert normalise_question("  How do I  Reset my password?? ") == normalise_question("how do i reset my password")
    assert normalise_question("Reset password") != normalise_question("Reset passwords")


def test_bm25_ranks_rare_terms_first():
    index = BM25Index().build([(1, "install the kernel package"), (2, "install a printer"), (3, "the the the")])
    ranked = index.search("kernel install", 3)
    assert [doc for doc, _ in ranked] == [1, 2]
    assert ranked[0][1] > ranked[1][1] > 0
    assert index.search("nothing matches", 3) == []
