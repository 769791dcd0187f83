"""Shared helpers of the QA tests: apps on a backend, FAQ files and documents written for a test."""

from __future__ import annotations

import csv
import zlib
from pathlib import Path

from solutions.qa_chatbot.app import create_app
from solutions.qa_chatbot.config import QASettings
from solutions.qa_chatbot.samples import write_faq_csv

HANDBOOK = Path("/usr/share/doc/debian-handbook/html/en-US")
REFERENCE = Path("/usr/share/debian-reference")
DEBIAN_FAQ = Path("/usr/share/doc/debian/FAQ")


def view_ids(view: str | None) -> set[str]:
    """The ids in a document's HTML view: what its passages' links may land on."""
    from lxml import html

    assert view is not None and view.startswith("<!DOCTYPE html>")
    return {str(i) for i in html.document_fromstring(view).xpath("//@id")}


def settings_for(backend, tmp_path: Path, unique: str, root: Path, models: Path, **extra) -> QASettings:
    return QASettings(**backend.settings(tmp_path / "data", data_roots=[root], store_prefix=f"qa_{unique}",
                                         model_cache_dir=models, **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, models: Path, **extra):
    return create_app(settings_for(backend, tmp_path, unique, root, models, **extra))


def faq_csv(dest: Path) -> Path:
    """The sample FAQ: the base-files and procps FAQs (17 real question/answer pairs) as CSV."""
    dest.mkdir(parents=True, exist_ok=True)
    return write_faq_csv(dest)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def pdf_with_stream(stream: bytes, *more: bytes) -> bytes:
    """A PDF whose pages' content streams are ``stream`` and ``more`` (Flate-compressed), with a correct xref
    table and no outline."""
    streams = (stream, *more)
    kids = b" ".join(b"%d 0 R" % (3 + 2 * k) for k in range(len(streams)))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(streams))]
    for k, page in enumerate(streams):
        objects += [
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R " % (4 + 2 * k)
            + b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(page) + page + b"\nendstream",
        ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def text_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (one line, Helvetica)."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
    return pdf_with_stream(zlib.compress(b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET"))
