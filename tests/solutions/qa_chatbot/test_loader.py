"""What a QA load lists: FAQ records (BOM, quoted multi-line answers, empty rows, missing columns, line numbers)
and documents, streamed; FAQ identity; BM25."""

from __future__ import annotations

import codecs
import gzip
import json
from functools import partial

from common.pipeline import sniffed_items
from solutions.qa_chatbot.bm25 import BM25Index, analyzed_text, english_terms, tokenize
from solutions.qa_chatbot.config import QASettings
from solutions.qa_chatbot.documents import parse_document
from solutions.qa_chatbot.faq import FaqEntry, normalise_question
from solutions.qa_chatbot.loader import DocumentFile, estimate_items, file_items

from .helpers import text_pdf

SETTINGS = QASettings(max_question_chars=200)


def list_items(path, root):
    """What QAPipeline.list_items does: every file sniffed, then the loader's items for it."""
    return sniffed_items(path, root, partial(file_items, settings=SETTINGS))


def items_of(path, root=None):
    return list(list_items(path, root or path.parent))


def items_by_label(root) -> dict:
    """The items of every file under ``root``, by label (``faq.csv:2``, ``guide.md``)."""
    return {i.label: i for i in items_of(root, root)}


def excel_lines(rows: list[str], codec: str) -> bytes:
    """Rows as Excel saves them: each ended by CRLF, in ``codec``."""
    return ("\r\n".join(rows) + "\r\n").encode(codec)


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
    items = items_of(f)
    by_label = {i.label: i for i in items}
    ok = by_label["faq.csv:2"]
    assert ok.error is None
    assert ok.data == FaqEntry("How do I start?", "Step one.\nStep two, with a comma.", {"category": "basics"})
    assert by_label["faq.csv:5"].error == "empty row"
    assert by_label["faq.csv:6"].error == "missing answer"
    assert by_label["faq.csv:7"].error == "missing question"
    assert "fields" in by_label["faq.csv:8"].error
    assert by_label["faq.csv:9"].error is None and by_label["faq.csv:9"].data.metadata == {}
    assert len(items) == 6


def test_csv_missing_column_is_one_error_for_the_file(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("question,reply\n" + "q,a\n" * 1000, encoding="utf-8")
    [item] = items_of(f)
    assert item.label == "bad.csv:1" and "missing column(s) answer" in item.error


def test_jsonl_with_errors_and_limits(tmp_path):
    f = tmp_path / "faq.jsonl"
    f.write_text('{"question": "Q1?", "answer": "A1", "tags": ["x"]}\n\n{broken\n{"question": "Q2"}\n[1]\n'
                 + json.dumps({"question": "x" * 201, "answer": "long"}) + "\n"
                 + json.dumps({"question": "?!", "answer": "no words"}) + "\n"
                 + json.dumps({"question": True, "answer": "bool"}) + "\n", encoding="utf-8")
    items = items_of(f)
    assert [(i.label, i.error is None) for i in items] == [
        ("faq.jsonl:1", True), ("faq.jsonl:3", False), ("faq.jsonl:4", False), ("faq.jsonl:5", False),
        ("faq.jsonl:6", False), ("faq.jsonl:7", False), ("faq.jsonl:8", False)]
    assert items[0].data.metadata == {"tags": ["x"]}
    assert items[2].error == "missing answer"
    assert "longer than 200" in items[4].error and items[5].error == "question has no text"
    assert items[6].error == "question is not text"


def test_documents_and_refusals_are_sniffed(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "guide.md").write_text("# Guide\n\nText.", encoding="utf-8")
    (root / "page.html").write_text("<h1>Page</h1><p>Text.</p>", encoding="utf-8")
    (root / "doc.pdf").write_bytes(text_pdf("Hello."))
    (root / "fake.pdf").write_text("not a pdf", encoding="utf-8")
    (root / "image.md").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (root / "notes.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (root / "faq.csv").write_text("question,answer\nQ?,A.\n", encoding="utf-8")
    (root / "report.docx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (root / "letter.docx").write_text("not a Word document", encoding="utf-8")
    (root / "manual.html.gz").write_bytes(gzip.compress(b"<h1>Manual</h1>"))
    items = items_by_label(root)
    assert items["report.docx"].data == DocumentFile("docx")
    assert items["letter.docx"].error == "not a Word document (content looks like text)"
    assert items["guide.md"].data == DocumentFile("markdown")
    assert items["page.html"].data == DocumentFile("html")
    assert items["doc.pdf"].data == DocumentFile("pdf")
    assert "not a PDF" in items["fake.pdf"].error
    assert items["image.md"].error == "not a text file (content looks like png)"
    assert "not a FAQ" in items["notes.xlsx"].error
    assert items["manual.html.gz"].error.endswith("content looks like gzip (gzip-compressed: decompress it first, "
                                                  "or load it in a .zip)")
    assert items["faq.csv:2"].data == FaqEntry("Q?", "A.", {})
    assert estimate_items(root) == 10


def test_a_document_in_another_charset_is_a_document_and_binary_under_a_text_name_is_not(tmp_path):
    """Not UTF-8 in its first bytes, but text: a Latin-1 or windows-1252 file, declared by HTML or not, or UTF-16
    with a byte order mark, is loaded and read in its charset (they were refused: "not a UTF-8 text file"). Bytes
    that no text holds (NUL, control bytes) under a text name are refused, saying why."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "meta.html").write_bytes('<meta charset="iso-8859-1"><title>Café crème</title><p>Très fin.</p>'
                                     .encode("latin-1"))
    (root / "equiv.htm").write_bytes('<title>Résumé</title><meta http-equiv="Content-Type" '
                                     'content="text/html; charset=ISO-8859-1"><p>Über uns.</p>'.encode("latin-1"))
    (root / "bare.html").write_bytes("<title>Café crème</title><p>Très fin.</p>".encode("latin-1"))
    (root / "notes.txt").write_bytes("Caf\u00e9\r\n\r\nIt is \u201cfine\u201d \u2013 really.\r\n".encode("cp1252"))
    (root / "guide.md").write_bytes("# \u00dcbersicht\n\nGr\u00fc\u00dfe.\n".encode("latin-1"))
    (root / "notes.rst").write_bytes("Caf\u00e9\n====\n\nCr\u00e8me.\n".encode("latin-1"))
    (root / "wide.txt").write_bytes(codecs.BOM_UTF16_LE + "Caf\u00e9 cr\u00e8me.".encode("utf-16-le"))
    (root / "nul.html").write_bytes(b'<meta charset="iso-8859-1"><title>\xe9\x00\x00</title>')
    (root / "program.txt").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)))
    items = items_by_label(root)
    for name, kind in [("meta.html", "html"), ("equiv.htm", "html"), ("bare.html", "html"), ("notes.txt", "text"),
                       ("guide.md", "markdown"), ("notes.rst", "rst"), ("wide.txt", "text")]:
        assert items[name].data == DocumentFile(kind), (name, items[name].error)
    assert items["nul.html"].error == items["program.txt"].error == "not a text file (content looks like binary)"
    parsed = parse_document(root / "meta.html")
    assert parsed.title == "Café crème" and parsed.passages[0].text == "Très fin."
    assert parse_document(root / "equiv.htm").passages[0].text == "Über uns."
    assert parse_document(root / "bare.html").passages[0].text == "Très fin."
    notes = parse_document(root / "notes.txt").passages[0]
    assert (notes.heading, notes.text) == ("notes", "Café\n\nIt is “fine” – really.")  # not "It is \x93fine\x94"
    guide = parse_document(root / "guide.md").passages[0]
    assert (guide.heading, guide.text) == ("Übersicht", "Grüße.")
    assert parse_document(root / "notes.rst").passages[0].text == "Crème."
    assert parse_document(root / "wide.txt").passages[0].text == "Café crème."


def test_large_file_estimate_reads_only_its_head(tmp_path):
    f = tmp_path / "big.csv"
    row = "How do I configure interface number N on a Debian system?,Edit /etc/network/interfaces.\n"
    f.write_text("question,answer\n" + row * 60_000, encoding="utf-8")
    assert abs(estimate_items(f) - 60_000) < 600
    listed = list_items(f, tmp_path)  # a generator: nothing is read before it is consumed
    assert next(listed).label == "big.csv:2"


def test_normalised_question_identity():
    assert normalise_question("  How do I  Reset my password?? ") == normalise_question("how do i reset my password")
    assert normalise_question("Reset password") != normalise_question("Reset passwords")
    assert FaqEntry("How do I Reset?", "a").id == FaqEntry("how do i reset", "b").id
    assert FaqEntry("How do I Reset?", "a").fingerprint() != FaqEntry("How do I Reset?", "b").fingerprint()


def test_bm25_ranks_rare_terms_first():
    index = BM25Index().build([(1, "install the kernel package"), (2, "install a printer"), (3, "the the the")])
    ranked = index.search("kernel install", 3)
    assert [doc for doc, _ in ranked] == [1, 2]
    assert ranked[0][1] > ranked[1][1] > 0
    assert index.search("nothing matches", 3) == []
    assert index.score("kernel install", [1, 3]) == {1: ranked[0][1], 3: 0.0}


def test_english_analyzer_stems_and_drops_stop_words():
    assert english_terms("How do I stop Installing the configured kernels?") == ["stop", "instal", "configur", "kernel"]
    index = BM25Index(analyzer_name="english").build([(1, "installation of a kernel"), (2, "printer setup")])
    assert [doc for doc, _ in index.search("installing kernels", 2)] == [1]
    assert BM25Index().build([(1, "installation of a kernel")]).search("installing kernels", 2) == []
    assert index.search("how do i", 2) == []  # stop words only


def test_analysed_text_gives_milvus_the_same_terms():
    """Milvus' standard analyzer (lower-cased \\w+ tokens) splits the analysed text back into exactly the terms
    the in-process index makes of the raw text: the two engines index the same terms."""
    text = "Flying skies: naïve café über_x v3.14 dpkg-reconfigure'd, ÉCOLE Straße"
    for name in ("standard", "english"):
        index = BM25Index(analyzer_name=name)
        assert tokenize(analyzed_text(text, name)) == index.terms(text)
    assert analyzed_text(text, "standard") == text



def test_a_faq_exported_by_excel_in_windows_1252_with_semicolons_is_read(tmp_path):
    """Excel's "CSV" in a Western locale is windows-1252, and where the decimal mark is a comma it separates
    fields with semicolons: each record was "not UTF-8 text", or one "question;answer" column was missing."""
    root = tmp_path / "root"
    root.mkdir()
    rows = ["Question;Answer;Prix",
            "O\u00f9 est la caf\u00e9t\u00e9ria ?;Au rez-de-chauss\u00e9e, \u00ab B \u00bb.;2,50 \u20ac",
            "Quand ouvre-t-elle ?;\u00c0 7 h 30 \u2013 tous les jours.;0"]
    (root / "faq.csv").write_bytes(excel_lines(rows, "cp1252"))
    items = items_by_label(root)
    assert items["faq.csv:2"].data == FaqEntry("O\u00f9 est la caf\u00e9t\u00e9ria ?",
                                               "Au rez-de-chauss\u00e9e, \u00ab B \u00bb.", {"Prix": "2,50 \u20ac"})
    assert items["faq.csv:3"].data.answer == "\u00c0 7 h 30 \u2013 tous les jours."


def test_a_faq_saved_by_excel_as_unicode_text_is_read(tmp_path):
    """Excel's "Unicode Text" is UTF-16 (little-endian, with a byte order mark) separated by tabs; saved as .csv
    it is a FAQ like any other, and the same file without its BOM is refused as binary, not read as garbage."""
    root = tmp_path / "root"
    root.mkdir()
    rows = ["Question\tAnswer\tCategory",
            "O\u00f9 est la caf\u00e9t\u00e9ria ?\tAu rez-de-chauss\u00e9e, \u00ab B \u00bb.\tlieux",
            "\u4f1a\u8bae\u5ba4\u5728\u54ea\u91cc\uff1f\t\u5728\u4e09\u697c\u3002\tlieux"]
    (root / "faq.csv").write_bytes(excel_lines(rows, "utf-16"))
    (root / "bare.csv").write_bytes(excel_lines(rows, "utf-16-le"))
    items = items_by_label(root)
    assert items["faq.csv:2"].data == FaqEntry("O\u00f9 est la caf\u00e9t\u00e9ria ?",
                                               "Au rez-de-chauss\u00e9e, \u00ab B \u00bb.", {"Category": "lieux"})
    assert items["faq.csv:3"].data.question == "\u4f1a\u8bae\u5ba4\u5728\u54ea\u91cc\uff1f"
    assert items["bare.csv"].data is None and "binary" in items["bare.csv"].error
