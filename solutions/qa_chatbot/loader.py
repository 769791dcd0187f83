"""What a QA load is made of: FAQ records and documents, listed as a stream.

* ``.csv`` ``.tsv`` ``.jsonl`` ``.ndjson`` ``.json``: FAQ files, read record by record
  (:func:`common.files.read_records`): one work item per record, labelled ``file:line``. A 1 GB CSV is never
  held in memory: records are handed to the load a batch at a time.
* ``.md`` ``.markdown`` ``.rst`` ``.txt`` ``.html`` ``.htm`` ``.pdf``: documents, one work item per file,
  parsed when their batch is processed (in a child process bounded in time and memory).

Anything else is reported as an error of the load, by file. The kind of content is sniffed, never taken
from the name alone: a ``.pdf`` must start like a PDF, a FAQ file must be UTF-8 text, and a text document
must be text: UTF-8, or bytes that look like text in another charset (:func:`.documents.looks_like_text`),
which is read in the one :mod:`.documents.charset` finds (declared by HTML, else windows-1252).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.files import MAX_RECORD_BYTES, count_files, iter_files, read_records
from common.pipeline import WorkItem

from .config import QASettings
from .documents import CHARSET_WINDOW, document_kind, looks_like_text
from .faq import FaqEntry, entry_of

RECORD_SUFFIXES = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".json"})
#: bytes read to estimate the number of records of a large file
ESTIMATE_BYTES = 1 << 20


@dataclass(frozen=True)
class DocumentFile:
    """The data of a document work item: its format (``markdown``, ``rst``, ``text``, ``html``, ``pdf``)."""

    kind: str


def file_items(file: Path, label: str, sniffed: str, settings: QASettings) -> Iterator[WorkItem]:
    """The FAQ records or the document of one file whose content sniffed as ``sniffed``."""
    suffix = file.suffix.lower()
    kind = document_kind(file.name)
    if suffix in RECORD_SUFFIXES and sniffed == "text":
        yield from faq_items(file, label, settings)
    elif (kind == "pdf" and sniffed == "pdf") or (kind not in (None, "pdf") and sniffed == "text") \
            or (kind not in (None, "pdf") and sniffed == "binary" and reads_as_text(file)):
        yield WorkItem(label, file, data=DocumentFile(str(kind)))
    else:
        yield WorkItem(label, file, error=refusal(suffix, sniffed))


def reads_as_text(file: Path) -> bool:
    """A document that is not UTF-8 but whose first bytes look like text in another charset (a Latin-1 or
    windows-1252 file, UTF-16 with a byte order mark), rather than binary content under a text name."""
    try:
        with file.open("rb") as fh:
            return looks_like_text(fh.read(CHARSET_WINDOW))
    except OSError:
        return False


def refusal(suffix: str, sniffed: str) -> str:
    if suffix in RECORD_SUFFIXES:
        return f"not a UTF-8 text file (content looks like {sniffed})"
    if document_kind(f"x{suffix}") not in (None, "pdf"):
        return f"not a text file (content looks like {sniffed})"
    if suffix == ".pdf":
        return f"not a PDF (content looks like {sniffed})"
    return ("not a FAQ (.csv .tsv .jsonl .json) or a document (.md .rst .txt .html .htm .pdf)"
            + (f"; content looks like {sniffed}" if sniffed != "text" else ""))


def faq_items(file: Path, label: str, settings: QASettings) -> Iterator[WorkItem]:
    """One work item per record of a FAQ file; a file without ``question``/``answer`` columns is one error."""
    header = csv_header(file)
    if header is not None:
        missing = [c for c in ("question", "answer") if c not in [h.strip().lower() for h in header]]
        if missing:
            yield WorkItem(f"{label}:1", file, error=f"missing column(s) {', '.join(missing)}; header is {header!r}")
            return
    for line, record in read_records(file):
        where = f"{label}:{line}"
        if isinstance(record, str):
            yield WorkItem(where, file, error=record)
            continue
        entry = entry_of(record, settings)
        if isinstance(entry, FaqEntry):
            yield WorkItem(where, file, data=entry)
        else:
            yield WorkItem(where, file, error=entry)


def csv_header(file: Path) -> list[str] | None:
    """The header row of a CSV/TSV FAQ file (None for JSON files, or when it cannot be read: the record reader
    then reports why)."""
    if file.suffix.lower() not in (".csv", ".tsv"):
        return None
    try:
        with file.open("r", encoding="utf-8-sig", errors="strict", newline="") as fh:
            first = fh.readline(MAX_RECORD_BYTES)
    except (OSError, UnicodeDecodeError):
        return None
    if not first.strip() or first.lstrip().startswith(("{", "[")):
        return None  # empty, or JSON in a .csv: read_records says what it is
    tabbed = file.suffix.lower() == ".tsv" or ("\t" in first and "," not in first)
    try:
        return next(csv.reader([first], delimiter="\t" if tabbed else ","), None)
    except csv.Error:
        return None


def estimate_items(path: Path) -> int:
    """About how many items a load of ``path`` lists: files, and the lines of FAQ files (estimated from their
    first megabyte for large ones), without reading everything."""
    total = 0
    for file in iter_files(path):
        if file.suffix.lower() not in RECORD_SUFFIXES:
            total += 1
            continue
        try:
            size = file.stat().st_size
            with file.open("rb") as fh:
                head = fh.read(ESTIMATE_BYTES)
        except OSError:
            total += 1
            continue
        lines = max(1, head.count(b"\n"))
        total += max(1, lines - 1) if size <= len(head) else max(1, int(size * lines / len(head)))
    return total or count_files(path)
