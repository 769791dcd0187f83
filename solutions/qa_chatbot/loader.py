"""What a QA load is made of: FAQ records and documents, listed as a stream.

* ``.csv`` ``.tsv`` ``.jsonl`` ``.ndjson`` ``.json``: FAQ files, read record by record
  (:func:`common.files.read_records`): one work item per record, labelled ``file:line``. A 1 GB CSV is never
  held in memory: records are handed to the load a batch at a time.
* ``.md`` ``.markdown`` ``.rst`` ``.txt`` ``.html`` ``.htm`` ``.pdf`` ``.docx``: documents, one work item per file,
  parsed when their batch is processed (in a child process bounded in time and memory).

Anything else is reported as an error of the load, by file. The kind of content is sniffed, never taken
from the name alone: a ``.pdf`` must start like a PDF, a ``.docx`` like a zip, every other file must be text
(:func:`common.files.sniff`: UTF-8, UTF-16 with a BOM, or a legacy charset such as windows-1252). FAQ files are
read in their encoding (:func:`common.files.open_text`), documents in the charset :mod:`.documents.charset` finds.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.files import MAX_RECORD_BYTES, count_files, csv_delimiter, iter_files, open_text, read_records
from common.pipeline import GZIP_HINT, WorkItem

from .config import QASettings
from .documents import document_kind, expected_content
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
    elif kind is not None and sniffed == expected_content(kind):
        yield WorkItem(label, file, data=DocumentFile(str(kind)))
    else:
        yield WorkItem(label, file, error=refusal(suffix, sniffed))


def refusal(suffix: str, sniffed: str) -> str:
    return _refusal(suffix, sniffed) + (GZIP_HINT if sniffed == "gzip" else "")


def _refusal(suffix: str, sniffed: str) -> str:
    kind = document_kind(f"x{suffix}")
    if suffix in RECORD_SUFFIXES or (kind is not None and expected_content(kind) == "text"):
        return f"not a text file (content looks like {sniffed})"
    if kind == "pdf":
        return f"not a PDF (content looks like {sniffed})"
    if kind == "docx":
        return f"not a Word document (content looks like {sniffed})"
    return ("not a FAQ (.csv .tsv .jsonl .json) or a document (.md .rst .txt .html .htm .pdf .docx)"
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
        with open_text(file) as fh:
            first = fh.readline(MAX_RECORD_BYTES)
    except (OSError, UnicodeDecodeError):
        return None
    if not first.strip() or first.lstrip().startswith(("{", "[")):
        return None  # empty, or JSON in a .csv: read_records says what it is
    try:
        return next(csv.reader([first], delimiter=csv_delimiter(file.suffix.lower(), first)), None)
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
