"""Documents → sections → passages: real Debian documentation and crafted edge cases."""

from __future__ import annotations

import codecs
import gzip
import re
import time
import zlib

import pytest

from solutions.qa_chatbot.documents import (
    DocumentBudget,
    DocumentError,
    codec_of,
    declared_charset,
    decode,
    document_kind,
    media_type,
    parse_bytes,
    parse_document,
    parse_isolated,
    split_sentences,
    write_utf8,
)
from solutions.qa_chatbot.documents.sentences import cut_long, sentence_spans

from .helpers import HANDBOOK, REFERENCE, pdf_with_stream, text_pdf, view_ids

PROSE = " ".join(f"Sentence number {i} explains one more detail of the configuration file." for i in range(60))


def _ends_sentence(text: str) -> bool:
    return text.rstrip()[-1] in ".!?:;)\"”’"


# -- sentences ---------------------------------------------------------------------------------------------
def test_sentences_keep_abbreviations_versions_and_initials_together():
    text = ('Debian runs on e.g. PCs, etc. and more. Version 1.2.3 is out! Dr. Who met J. Smith. '
            'Is it "done?" Yes.\nA new line')
    assert split_sentences(text) == [
        "Debian runs on e.g. PCs, etc. and more.", "Version 1.2.3 is out!", "Dr. Who met J. Smith.",
        'Is it "done?"', "Yes.", "A new line"]
    for s, e in sentence_spans(text):
        assert text[s:e] == text[s:e].strip()


def test_long_sentence_is_cut_at_clause_or_word_boundaries():
    text = "word, " * 400 + "end"
    pieces = cut_long(text, 0, len(text), 100)
    assert all(e - s <= 100 for s, e in pieces)
    assert " ".join(text[s:e] for s, e in pieces).split() == text.split()  # no word lost or split
    one_word = "x" * 250
    assert [e - s for s, e in cut_long(one_word, 0, 250, 100)] == [100, 100, 50]


# -- splitting -----------------------------------------------------------------------------------------------
def test_passages_follow_paragraphs_and_never_cut_a_sentence():
    md = "# Guide\n\n## Install\n\n" + PROSE + "\n\nShort paragraph.\n\n## Other\n\nLast words."
    doc = parse_bytes(md.encode(), "guide.md")
    install = [p for p in doc.passages if p.path == ("Guide", "Install")]
    assert len(install) >= 4
    for p in doc.passages:
        assert len(p.text) <= 1000
        assert _ends_sentence(p.text)
        assert p.text[0].isupper()
    assert [p.position for p in doc.passages] == list(range(len(doc.passages)))
    assert doc.passages[-1].path == ("Guide", "Other") and doc.passages[-1].anchor == "other"
    # every sentence of the long paragraph is in exactly one passage
    joined = " ".join(p.text for p in install)
    assert joined.count("Sentence number 37 explains") == 1


def test_budget_max_chars_and_max_passages():
    doc = parse_bytes(("# T\n\n" + PROSE).encode(), "t.md", DocumentBudget(max_chars=300, max_passages=3))
    assert len(doc.passages) == 3 and doc.truncated
    assert all(len(p.text) <= 300 for p in doc.passages)
    assert any("passages" in w for w in doc.warnings)


def test_max_bytes_is_checked_before_parsing(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2001)
    with pytest.raises(DocumentError, match="2000-byte"):
        parse_document(path, budget=DocumentBudget(max_bytes=2000))


def test_unsupported_suffix():
    assert document_kind("notes.odt") is None
    with pytest.raises(DocumentError, match="not a supported"):
        parse_bytes(b"x", "notes.odt")


# -- formats ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("head", "title"), [
    ("---\ntitle: Frobnicator README\nauthor: Jane Doe\ntags: [cli, tools]\n---\n", "Frobnicator README"),
    ("---\nlayout: post\n...\n", "Frobnicator"),  # YAML may end with "...": no title there, the heading names it
    ('+++\ntitle = "Frobnicator README"\ndraft = false\n+++\n', "Frobnicator README"),  # Hugo's TOML
])
def test_markdown_front_matter_is_metadata_not_text(head, title):
    """It was read as a setext heading: the title "title: Frobnicator README author: Jane Doe tags: [cli, tools]"."""
    doc = parse_bytes(f"{head}\n# Frobnicator\n\nThe tool requires Python 3.9 or newer.\n".encode(), "README.md")
    assert doc.title == title
    assert [p.text for p in doc.passages] == ["The tool requires Python 3.9 or newer."]
    assert "Jane" not in str(doc.view) and "layout" not in str(doc.view) and "draft" not in str(doc.view)
    rule = parse_bytes(b"---\n\nA page between two rules.\n\n---\n", "notes.md")  # no key: value, no front matter
    assert [p.text for p in rule.passages] == ["A page between two rules."]


def test_markdown_headings_code_tables_and_unique_anchors():
    md = """Intro line.

# Title

Some *text* with [a link](http://example.com) and `code`.

## Install it

```
pip install x
  indented line
```

| name | value |
|------|-------|
| a    | 1     |

## Install it

<script>alert(1)</script> again
"""
    doc = parse_bytes(md.encode(), "readme.md")
    by_anchor = {p.anchor: p for p in doc.passages}
    assert doc.title == "Title"
    assert "Some text with a link and code." in by_anchor["title"].text
    assert "pip install x\n  indented line" in by_anchor["install-it"].text
    assert "name | value" in by_anchor["install-it"].text and "a | 1" in by_anchor["install-it"].text
    assert "<script>" not in by_anchor["install-it-1"].text  # raw HTML is not rendered into the text
    assert by_anchor["install-it-1"].heading == "Title › Install it"
    # "Open the document" shows it as HTML, each heading with its passages' anchor, so their links land there
    assert set(by_anchor) - {None} <= view_ids(doc.view) == {"title", "install-it", "install-it-1"}
    assert "<title>Title</title>" in doc.view and "<code>pip install x\n  indented line\n</code>" in doc.view
    assert "<td>a</td>" in doc.view


def test_rst_of_a_sphinx_project_reads_as_its_html_would():
    """Sphinx's roles stayed raw (":ref:`starting`"), and a contents directive became a passage of titles only."""
    rst = """Guide
=====

.. contents::

Install
-------

See :ref:`Getting started <starting>` and :doc:`install`, then call :func:`~os.path.join` or
:class:`pkg.Thing`. Press :kbd:`Ctrl+C` to stop.

Use
---

Run it.
"""
    doc = parse_bytes(rst.encode(), "guide.rst")
    assert [p.text for p in doc.passages] == [
        "See Getting started and install, then call join or pkg.Thing. Press Ctrl+C to stop.", "Run it."]
    assert 'class="contents' in str(doc.view)  # the view keeps its table of contents


def test_rst_sections_and_no_file_inclusion(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET CONTENT")
    rst = f"""=====
Guide
=====

Intro text. Second sentence.

Install
=======

Run this::

   pip install x

.. include:: {secret}

.. raw:: html

   <b>raw</b>

Details
-------

* item one
* item two
"""
    doc = parse_bytes(rst.encode(), "guide.rst")
    text = "\n".join(p.text for p in doc.passages)
    assert "TOP SECRET" not in text and "<b>raw</b>" not in text
    paths = {p.path: p for p in doc.passages}
    assert ("Guide", "Install", "Details") in paths
    assert paths[("Guide", "Install")].anchor == "install"
    assert "pip install x" in paths[("Guide", "Install")].text
    assert {p.anchor for p in doc.passages} - {None} <= view_ids(doc.view)  # the title's "guide" too
    assert "TOP SECRET" not in str(doc.view) and "<b>raw</b>" not in str(doc.view)
    assert parse_bytes(b"<h1 id=a>A</h1><p>Shown as it is.</p>", "page.html").view is None



def test_a_view_is_written_from_the_tree_its_passages_were_read_from(monkeypatch):
    """A Markdown or reST document is parsed once: its view is the parser's rendering of that same tree."""
    from docutils.parsers.rst import Parser
    from markdown_it import MarkdownIt

    calls: list[str] = []
    for cls, name in ((MarkdownIt, "markdown"), (Parser, "rst")):
        def counted(self, *args, _parse=cls.parse, _name=name, **kwargs):
            calls.append(_name)
            return _parse(self, *args, **kwargs)

        monkeypatch.setattr(cls, "parse", counted)
    md = parse_bytes(b"# Garage\n\nCars park on level 2.\n\n## Bikes\n\nBikes go to the rack.\n", "garage.md")
    rst = parse_bytes(b"Garage\n======\n\nCars park on level 2.\n\nBikes\n-----\n\nBikes go to the rack.\n",
                      "garage.rst")
    assert calls == ["markdown", "rst"]
    for doc in (md, rst):
        assert [(p.path, p.anchor) for p in doc.passages] == [(("Garage",), "garage"), (("Garage", "Bikes"), "bikes")]
        assert view_ids(doc.view) >= {"garage", "bikes"} and "Bikes go to the rack." in str(doc.view)

def test_text_windows_1252_fallback_and_underlined_headings():
    raw = "Caf\xe9 guide\n==========\n\nL'\xe9t\xe9 est chaud.\n\nUsage\n-----\n\nRun it.\n".encode("latin-1")
    doc = parse_bytes(raw, "cafe.txt")
    assert doc.passages[0].path == ("Café guide",) and doc.passages[0].text == "L'été est chaud."
    assert doc.passages[1].path == ("Café guide", "Usage")
    # viewed as HTML, its underlined headings with their passages' anchors (slugs, as in Markdown)
    assert [p.anchor for p in doc.passages] == ["café-guide", "usage"] and view_ids(doc.view) == {"café-guide", "usage"}
    assert "<p>L&#x27;été est chaud.</p>" in str(doc.view)
    bom = parse_bytes("\ufeffHello world.".encode(), "bom.txt")
    assert bom.passages[0].text == "Hello world."
    [quoted] = parse_bytes("\u201cQuoted\u201d \u2013 it costs 5 \u20ac.".encode("cp1252"), "old.txt").passages
    assert quoted.text == "“Quoted” – it costs 5 €."  # Latin-1 read them as C1 controls: "\x93Quoted\x94 \x96 ..."


def test_one_charset_rule_for_every_text_format():
    """BOM, then (HTML only) the declaration, else UTF-8 with each byte that is not UTF-8 read as windows-1252,
    whose five undefined bytes read as the C1 controls of the same number (as browsers read them), so every byte
    string decodes; a file of UTF-8 with a line pasted from a windows-1252 one reads right throughout."""
    assert codec_of(codecs.BOM_UTF8 + "é".encode(), "text") == "utf-8-sig"
    assert codec_of(codecs.BOM_UTF16_BE + "é".encode("utf-16-be"), "markdown") == "utf-16"
    declared = b'<meta charset="iso-8859-15"><p>\xa4</p>'
    assert (codec_of(declared, "html"), decode(declared, "html")[-8:]) == ("iso8859-15", "<p>€</p>")
    assert (codec_of(declared, "text"), decode(declared, "text")[-8:]) == ("utf-8", "<p>¤</p>")  # text declares nothing
    assert codec_of(b'<meta charset="iso-8859-1">\x80', "html") == "cp1252"  # as browsers read it
    assert codec_of("é".encode(), "rst") == "utf-8"
    assert decode(b"a\x81b\x9dc\x80", "text") == "a\x81b\x9dc€"
    assert decode(b'<meta charset="shift_jis"><p>\xff</p>', "html").endswith("<p>\ufffd</p>")  # declared wrong
    assert decode(b'<meta charset="utf-8"><p>It\x92s</p>', "html").endswith("<p>It\u2019s</p>")  # one pasted byte
    mixed = "Caf\u00e9 cr\u00e8me.\n".encode() + "It\u2019s \u201cfine\u201d \u2013 5 \u20ac.\n".encode("cp1252")
    assert decode(mixed, "text") == "Caf\u00e9 cr\u00e8me.\nIt\u2019s \u201cfine\u201d \u2013 5 \u20ac.\n"


def test_html_skips_navigation_scripts_and_keeps_anchors():
    html = b"""<html><head><title>Doc</title><script>var x = 1;</script></head><body>
    <nav><a href="/">Home</a> Menu</nav><ul class="docnav"><li>Prev</li></ul>
    <section id="intro"><h1>Intro</h1><p>First <b>bold</b> paragraph.</p></section>
    <h2><a id="sect.setup"></a>Setup</h2><div class="para">Do this. Then that.</div>
    <pre>line 1
  line 2</pre>
    <table><tr><td></td><th>Note</th></tr><tr><td>a</td><td>b</td></tr></table>
    <footer>Copyright</footer></body></html>"""
    doc = parse_bytes(html, "page.html")
    text = "\n".join(p.text for p in doc.passages)
    for gone in ("var x", "Menu", "Prev", "Copyright"):
        assert gone not in text
    first, second = doc.passages
    assert first.anchor == "intro" and first.text == "First bold paragraph."
    assert second.anchor == "sect.setup" and second.path == ("Intro", "Setup")
    assert "line 1\n  line 2" in second.text and "Note" in second.text and "a | b" in second.text


def test_html_is_read_in_its_declared_charset_else_as_utf_8():
    """libxml2 reads an HTML file that declares no charset as Latin-1: a UTF-8 page without <meta charset>
    came out as "cafÃ©". A declared charset (meta, http-equiv, XML declaration) or a BOM decides; else UTF-8
    when the bytes are UTF-8, else Latin-1."""
    text = "<h1>Préparer le café</h1><p>Très “fin”.</p>"
    cases = {
        "utf-8, undeclared": text.encode("utf-8"),
        "utf-8 with a BOM": codecs.BOM_UTF8 + text.encode("utf-8"),
        "windows-1252, meta": b'<meta charset="windows-1252">' + text.encode("cp1252"),
        "utf-8, meta": b'<meta charset="utf-8">' + text.encode("utf-8"),
        "windows-1252, XML declaration": b'<?xml version="1.0" encoding="windows-1252"?>' + text.encode("cp1252"),
    }
    for case, data in cases.items():
        [p] = parse_bytes(data, "page.html").passages
        assert (p.heading, p.text) == ("Préparer le café", "Très “fin”."), case
    [latin] = parse_bytes("<h1>Préparer</h1><p>Très fin.</p>".encode("latin-1"), "page.html").passages
    assert (latin.heading, latin.text) == ("Préparer", "Très fin.")
    assert declared_charset(b'<meta content="text/html; charset=ISO-8859-1" http-equiv="Content-Type">') \
        == "ISO-8859-1"
    assert declared_charset(b'<meta charset="no-such-charset">') is None
    assert declared_charset(b"<p>charset=latin-1 in the text is no declaration</p>") is None


def test_deeply_nested_html_is_bounded():
    depth = 50_000
    html = b"<html><body>" + b"<div>" * depth + b"<p>deep text.</p>" + b"</div>" * depth + b"</body></html>"
    started = time.perf_counter()
    doc = parse_bytes(html, "deep.html")  # libxml2 stops at its depth limit; nothing recursive in Python
    assert time.perf_counter() - started < 10
    assert len(doc.passages) <= 1


def test_real_handbook_page():
    doc = parse_document(HANDBOOK / "sect.apt-get.html")
    assert doc.title.startswith("6.2.")
    anchors = {p.anchor for p in doc.passages}
    assert {"sect.apt-get", "sect.apt-update"} <= anchors
    update = next(p for p in doc.passages if p.anchor == "sect.apt-update")
    assert update.heading == "6.2. aptitude, apt-get, and apt Commands › 6.2.1. Initialization"
    assert all(len(p.text) <= 1000 for p in doc.passages)
    assert not any("Prev" in p.text.split() for p in doc.passages)
    full = " ".join(p.text for p in doc.passages)
    assert "Acquire::PDiffs" in full


def test_real_reference_chapter_and_pdf_outline():
    doc = parse_document(REFERENCE / "ch02.en.html")
    assert doc.passages[0].path[0] == "Chapter 2. Debian package management"
    assert any(p.anchor == "_basic_precautions" for p in doc.passages)
    pdf = parse_document(REFERENCE / "debian-reference.en.pdf", budget=DocumentBudget(max_pages=40))
    assert pdf.truncated and any("40 of" in w for w in pdf.warnings)
    assert all(p.anchor and p.anchor.startswith("page=") for p in pdf.passages)
    assert any(len(p.path) >= 2 for p in pdf.passages)  # headings from the PDF outline
    assert all(len(p.text) <= 1000 for p in pdf.passages)
    # its table of contents (pages iii-xxvii, 600 lines "1.1.3 Therootaccount . . . . . 3") is no passage
    assert not any(". . . . ." in p.text for p in pdf.passages), [p.text[:80] for p in pdf.passages
                                                                  if ". . . . ." in p.text][:3]
    assert any("shell prompt" in p.text.lower() for p in pdf.passages)


def test_pdf_table_of_contents_and_index_lines_are_dropped(tmp_path):
    """A manual's contents and index pages are lines of dot leaders to page numbers; as passages they answered
    questions by titles ("What does asn1_create_element do?" got the index: "asn1_array2tree . . . . 9
    asn1_bit_der . . . ."). They are navigation, and are dropped; prose keeps its dots."""
    def page(*lines: bytes) -> bytes:
        shown = b" ".join(b"(%s) Tj 0 -14 Td" % line for line in lines)
        return zlib.compress(b"BT /F1 12 Tf 72 720 Td " + shown + b" ET")

    path = tmp_path / "manual.pdf"
    path.write_bytes(pdf_with_stream(
        page(b"Contents", b"1 Introduction . . . . . . . . . . . . . . . . 1",
             b"2.1 Creating elements. . . . . . . . . . . . . . 2", b"Index . . . . . . . . . . . . . . . . iv"),
        page(b"The create_element function allocates a new element in the tree.", b"",
             b"It waits... and returns 0 on success."),
        page(b"Function Index", b"create_element . . . . . . . . . . . . . . 2, 7",
             b"delete_element..............................3")))
    doc = parse_isolated(path)
    texts = [p.text for p in doc.passages]
    assert not any("Introduction" in t or ". . ." in t or "....." in t for t in texts), texts
    assert any("The create_element function allocates a new element in the tree." in t for t in texts), texts
    assert any("It waits... and returns 0" in t for t in texts), texts


def test_reference_txt_gz_as_plain_text(tmp_path):
    path = tmp_path / "reference.txt"
    with gzip.open(REFERENCE / "debian-reference.en.txt.gz", "rb") as f:
        path.write_bytes(f.read(400_000))
    doc = parse_document(path)
    assert len(doc.passages) > 50 and all(len(p.text) <= 1000 for p in doc.passages)


# -- isolation: time and memory ----------------------------------------------------------------------------
def test_isolated_parse_matches_in_process(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("# Guide\n\n" + PROSE)
    assert parse_isolated(path).passages == parse_document(path).passages


#: a main script like the ``bootcamp`` command's; run again in each parse child, it notes whether the command's
#: module was there already
BOOTCAMP_LIKE = """
import sys
if __name__ != "__main__":
    with open(sys.argv[2], "a") as note:
        note.write(str("common.cli" in sys.modules) + "\\n")
from common.cli import main
if __name__ == "__main__":
    from solutions.qa_chatbot.documents import parse_isolated
    print(len(parse_isolated(sys.argv[1]).passages))
"""


def test_a_parse_child_finds_the_command_imported(tmp_path):
    """Python 3.11's forkserver child runs the parent's main script again before it parses: under ``bootcamp``
    each document imported ``common.cli`` (and pydantic-settings...) afresh, ~170 ms against ~20 ms for the
    parse itself. The forkserver now imports it once."""
    import subprocess
    import sys
    from pathlib import Path

    script, doc, notes = tmp_path / "bootcamp_like.py", tmp_path / "guide.md", tmp_path / "notes.txt"
    script.write_text(BOOTCAMP_LIKE)
    doc.write_text("# Guide\n\nOne passage of text.\n")
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, str(script), str(doc), str(notes)], cwd=root, capture_output=True,
                          text=True, timeout=120, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr
    assert notes.read_text().split() == ["True"]


def test_isolated_parse_is_killed_after_max_seconds(tmp_path):
    path = tmp_path / "huge.md"
    path.write_text(("# H\n\n" + PROSE + "\n\n") * 3000)  # several seconds of parsing without the passage cap
    started = time.perf_counter()
    with pytest.raises(DocumentError, match="longer than"):  # only the time limit may end it
        parse_isolated(path, budget=DocumentBudget(max_seconds=0.5, max_passages=10**7, max_memory_mb=8192))
    assert time.perf_counter() - started < 5


def test_small_pdf_text(tmp_path):
    path = tmp_path / "hello.pdf"
    path.write_bytes(pdf_with_stream(zlib.compress(b"BT /F1 12 Tf 72 720 Td (Hello from a PDF.) Tj ET")))
    doc = parse_isolated(path)
    assert doc.passages[0].text == "Hello from a PDF." and doc.passages[0].anchor == "page=1"


@pytest.mark.parametrize(("declared", "title"), [
    ("about:blank", "travel"),  # Chromium's "Save as PDF" of a page without a title: the file names it
    ("https://intranet.example/travel", "travel"), ("Untitled document", "travel"), ("Document1", "travel"),
    ("Microsoft Word - Travel policy.docx", "Travel policy"), ("Travel  policy 2026", "Travel policy 2026"),
])
def test_a_pdf_placeholder_title_is_not_its_name(declared, title):
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf("The maximum hotel rate is 180 euros a night."))))
    writer.add_metadata({"/Title": declared})
    buf = io.BytesIO()
    writer.write(buf)
    doc = parse_bytes(buf.getvalue(), "travel.pdf")
    assert doc.title == title and doc.passages[0].heading == title


def test_pdf_ligatures_become_letters(tmp_path):
    """A PDF font's fi/fl ligature glyphs (codes 0xAE/0xAF of the standard encoding; LaTeX and browsers emit
    them) read as the letters, so "configuration" finds "conﬁguration" and the encoder sees a known word."""
    path = tmp_path / "ligatures.pdf"
    path.write_bytes(pdf_with_stream(zlib.compress(b"BT /F1 12 Tf 72 720 Td (The con\xaeguration \xafag is "
                                                   b"\xaeled here.) Tj ET")))
    doc = parse_isolated(path)
    assert doc.passages[0].text == "The configuration flag is filed here."


def test_a_pdf_without_outline_links_each_passage_to_its_page(tmp_path):
    """Without bookmarks, a passage's anchor is the page its text is on (a source link opens that page), and a
    paragraph cut by a page break stays one paragraph."""
    def page(*lines: bytes) -> bytes:
        shown = b" ".join(b"(%s) Tj 0 -14 Td" % line for line in lines)
        return zlib.compress(b"BT /F1 12 Tf 72 720 Td " + shown + b" ET")

    path = tmp_path / "kayak.pdf"
    path.write_bytes(pdf_with_stream(
        page(b"The Narwhal kayak weighs fourteen kilograms.", b"", b"Its hull is made of"),
        page(b"polyethylene and lasts ten years.", b"", b"Scratches in the hull are filled with epoxy."),
        page(b"Store the kayak upside down, out of the sun.")))
    doc = parse_isolated(path)

    def anchor_of(words: str) -> str | None:
        return next(p.anchor for p in doc.passages if words in p.text)

    assert [anchor_of(w) for w in ("fourteen kilograms", "filled with epoxy", "upside down")] == \
        ["page=1", "page=2", "page=3"], [(p.anchor, p.text) for p in doc.passages]
    assert any("Its hull is made of polyethylene" in p.text for p in doc.passages)


def test_pdf_decompression_bomb_is_bounded(tmp_path):
    comp = zlib.compressobj(9)
    chunk = b"0" * (1 << 20)
    bomb = b"".join(comp.compress(chunk) for _ in range(400)) + comp.flush()  # 400 MB of zeros in 400 kB
    path = tmp_path / "bomb.pdf"
    path.write_bytes(pdf_with_stream(bomb))
    started = time.perf_counter()
    try:
        doc = parse_isolated(path, budget=DocumentBudget(max_memory_mb=256, max_seconds=20))
    except DocumentError:
        pass  # refused: out of memory, time, or pypdf's own decompression limit
    else:
        assert doc.warnings or not doc.passages  # the page was skipped, not inflated
    assert time.perf_counter() - started < 25


def test_corrupt_pdf_is_a_document_error(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(DocumentError):
        parse_isolated(path)


@pytest.mark.parametrize(("name", "data", "text"), [
    ("notes.txt", "Caf\u00e9 cr\u00e8me".encode("latin-1"), "Caf\u00e9 cr\u00e8me"),
    ("notes.md", "# Caf\u00e9\r\n\r\ncr\u00e8me".encode(), "# Caf\u00e9\r\n\r\ncr\u00e8me"),
    ("notes.txt", codecs.BOM_UTF16_LE + "Caf\u00e9".encode("utf-16-le"), "Caf\u00e9"),
    ("page.html", b"<meta charset='iso-8859-1'><p>caf\xe9</p>", "<meta charset='iso-8859-1'><p>caf\u00e9</p>"),
    ("page.html", b"<meta charset='koi8-r'><p>\xe3</p>", "<meta charset='koi8-r'><p>\u0426</p>"),
    ("notes.txt", b"<meta charset='koi8-r'><p>\xe3</p>", "<meta charset='koi8-r'><p>\u00e3</p>"),
    ("page.htm", "<p>caf\u00e9</p>".encode(), "<p>caf\u00e9</p>"),
    ("page.html", b"<p>caf\xe9</p>", "<p>caf\u00e9</p>"),
    ("notes.txt", "caf\u00e9 ".encode() + b"it\x92s", "caf\u00e9 it\u2019s"),  # UTF-8 with one windows-1252 byte
    ("page.html", codecs.BOM_UTF8 + b"<meta charset='iso-8859-1'><p>caf\xc3\xa9</p>",
     "<meta charset='iso-8859-1'><p>caf\u00e9</p>"),
])
def test_a_stored_copy_is_the_text_as_read_written_in_utf8(tmp_path, name, data, text):
    """The copy was served as it came, labelled with the charset it was read in; a UTF-8 file with one line from a
    windows-1252 program had no label that shows it right. The copy is now the text the passages were cut from."""
    path, copy = tmp_path / name, tmp_path / "copy"
    path.write_bytes(data)
    kind = document_kind(name)
    assert decode(data, kind) == text
    write_utf8(path, copy, kind)
    assert copy.read_bytes() == text.encode()
    assert media_type(kind) == f"{'text/html' if kind == 'html' else 'text/plain'}; charset=utf-8"


def test_pdf_and_word_copies_keep_their_media_types():
    assert media_type("pdf") == "application/pdf"
    assert media_type("docx") == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _word(path, title: str | None = None):
    """A .docx written by python-docx: the Title style (or none), headings, a list, a table with a merged cell,
    and a heading in a custom style based on "Heading 2"."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE

    d = docx.Document()
    if title:
        d.add_heading(title, 0)
    d.add_paragraph("Written before any heading.")
    d.add_heading("Schedules", 1)
    d.add_paragraph("Backups of the mail server run every night at 02:30.")
    d.add_paragraph("A weekly full backup runs on Sundays.", style="List Bullet")
    table = d.add_table(rows=3, cols=3)
    for r, row in enumerate([("Day", "Kind", "Hour"), ("Sunday", "full", "02:30"), ("Monday", "incremental", "")]):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    table.cell(2, 1).merge(table.cell(2, 2))
    custom = d.styles.add_style("Runbook step", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = d.styles["Heading 2"]
    d.add_paragraph("Restoring", style=custom)
    d.add_paragraph("Run restore-mailbox NAME on the backup host.")
    d.save(str(path))
    return path


def test_word_documents_follow_their_heading_styles_and_tables(tmp_path):
    doc = parse_document(_word(tmp_path / "runbook.docx", title="Backup runbook"))
    assert doc.title == "Backup runbook"
    got = [(p.path, p.text) for p in doc.passages]
    assert got == [
        (("Backup runbook",), "Written before any heading."),
        (("Schedules",), "Backups of the mail server run every night at 02:30.\n\nA weekly full backup runs on "
                         "Sundays.\n\nDay | Kind | Hour\n\nSunday | full | 02:30\n\nMonday | incremental"),
        (("Schedules", "Restoring"), "Run restore-mailbox NAME on the backup host."),
    ], got
    # a browser cannot show a Word file: it is viewed as HTML, each heading with its passages' anchor
    assert [p.anchor for p in doc.passages] == [None, "schedules", "restoring"]
    assert {"schedules", "restoring"} <= view_ids(doc.view) and "<h1>Backup runbook</h1>" in str(doc.view)
    assert "<p>Monday | incremental</p>" in str(doc.view)
    untitled = parse_document(_word(tmp_path / "notes.docx"))  # no Title: the first heading names it
    assert untitled.title == "Schedules" and untitled.passages[0].path == ("Schedules",)
    # its view has one h1, the heading that names it, shown once though text came before it
    headings = re.findall(r"<h(\d)[^>]*>([^<]*)</h\d>", str(untitled.view))
    assert headings == [("1", "Schedules"), ("2", "Restoring")] and '<h1 id="schedules">' in str(untitled.view)
    assert str(untitled.view).index("Written before any heading.") < str(untitled.view).index("every night")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DocumentError, match="not a readable Word document"):
        parse_isolated(tmp_path / "broken.docx")


def test_a_document_nested_too_deep_for_its_view_is_loaded_without_one(monkeypatch):
    """docutils writes HTML recursively: a view that cannot be written leaves the copy served as its text."""
    import solutions.qa_chatbot.documents.rst as rst

    def too_deep(*_args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(rst, "_html_body", too_deep)
    doc = parse_bytes(b"Notes\n=====\n\nThe printer needs toner.\n", "notes.rst")
    assert doc.view is None and doc.passages[0].text == "The printer needs toner."
