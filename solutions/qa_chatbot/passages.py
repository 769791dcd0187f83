"""Documents: one file → passages (parsed in a bounded child process) → vectors, BM25 text, rows, a stored copy.

A document's id is a hash of its bytes, so the same file loaded twice (under any name) is stored once. A
document with other content loaded from the same file on the server (its absolute path, whether the file or a
folder holding it was loaded), or uploaded under the name of a stored upload, is a new version: it is stored in
full first, then the older version (its passages, vectors and copy) is deleted, so a search finds one or the
other at every moment, never neither. Two files of the same name in different folders are two documents.

Every passage is embedded (its text, or "heading path + text" with ``passage_heading_context``) and so is each
sentence of it (the ``sentence`` feature, and the vectors the highlight is computed from).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from common.files import content_id
from common.pipeline import DUPLICATE, NEW, Outcome, WorkItem, failed, warned
from common.vectors import VectorStore, int_list

from .config import QASettings
from .documents import (
    DocumentBudget,
    DocumentError,
    ParsedDocument,
    Passage,
    document_kind,
    expected_content,
    parse_isolated,
    write_utf8,
)
from .lexical import LexicalIndex
from .retrieval import answer_units
from .store import DOCUMENT, Stores

log = logging.getLogger(__name__)
PASSAGE = "passage"
#: sentence ids asked per passage by the first lookup of :func:`sentence_rows` (most passages have fewer sentences)
SENTENCE_PROBE = 16
#: above this many ids, one scan of the sentences by ``passage_id`` costs less than lookups by id (Milvus Lite,
#: 11,694 sentences, one run: lookups 29 ms against the scan's 72 for 30 passages, 84 / 92 for 100, 243 / 127 for 300)
MAX_LOOKUP_IDS = 1024


def budget_of(settings: QASettings) -> DocumentBudget:
    return DocumentBudget(max_bytes=settings.document_max_bytes, max_passages=settings.document_max_passages,
                          max_pages=settings.document_max_pages, max_seconds=settings.document_parse_seconds,
                          max_memory_mb=settings.document_parse_memory_mb, max_chars=settings.passage_max_chars)


def document_key(name: str) -> int:
    """Which stored documents an uploaded one (or a member of an archive) replaces: those uploaded under the
    same name (an upload has no other identity)."""
    return content_id("document-name\x00" + name)


def file_key(path: Path) -> int:
    """Which stored documents a file loaded from the server replaces: earlier versions of the same file."""
    return content_id("document-path\x00" + str(path.resolve()))


def passage_id(document_id: int, position: int) -> int:
    return content_id(f"passage:{document_id}:{position}")


def sentence_id(document_id: int, position: int, k: int) -> int:
    """The id of the ``k``-th sentence (from 0) of the passage at ``position`` of a document."""
    return content_id(f"sentence:{document_id}:{position}:{k}")


def sentence_rows(vectors: VectorStore, collection: str, located: Mapping[int, tuple[int, int]],
                  fields: Sequence[str]) -> list[dict[str, Any]]:
    """The stored sentences (``passage_id`` and ``fields``) of the passages ``{passage id: (document id,
    position)}``, in no particular order, fetched by primary key: a passage's sentences are numbered from 0
    (:func:`sentence_id`), so their ids are asked for in ranges that double until every passage has fewer sentences
    than the range. Milvus Lite answers a lookup by primary key several times faster than a scalar filter
    (``passage_id in [...]``), which scans the whole collection; for many passages (a deep page), the scan is
    cheaper, and is used."""
    if len(located) * SENTENCE_PROBE > MAX_LOOKUP_IDS:
        return vectors.query(collection, filter=f"passage_id in {int_list(list(located))}",
                             output_fields=["passage_id", *fields])
    out: list[dict[str, Any]] = []
    todo, start, width = dict(located), 0, SENTENCE_PROBE
    while todo:
        ids = [sentence_id(doc, position, k) for doc, position in todo.values() for k in range(start, start + width)]
        rows = vectors.get(collection, ids, output_fields=["passage_id", *fields])
        out += rows
        found = Counter(int(r["passage_id"]) for r in rows)
        todo = {pid: where for pid, where in todo.items() if found[pid] == width}
        start, width = start + width, width * 2
    return out


#: letters of scripts the default encoder (all-MiniLM-L6-v2, trained on English) does not read, most written without
#: spaces between words, which the word index needs: Thai, Japanese kana, Han, Hangul
_UNREAD_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def script_warning(passages: Sequence[Passage], sample: int = 50) -> str:
    """A warning for a document whose text is mostly in a script the search does not read (it is stored, and
    found by almost nothing); empty for the others."""
    text = "".join(p.text for p in passages[:sample])
    letters = sum(c.isalpha() for c in text)
    if not letters or len(_UNREAD_SCRIPT.findall(text)) < 0.3 * letters:
        return ""
    return ("most of its text is Chinese, Japanese, Korean or Thai, which the default text model (English) and the "
            "word index do not read: searches will rarely find it (setting QA_MODEL)")


def embedding_text(passage: Passage, heading_context: bool) -> str:
    """What a passage's vector embeds (and BM25 indexes, with ``heading_context`` for BM25)."""
    return passage.embedding_text() if heading_context else passage.text


#: what a phone needs to show a page at its width (else it lays it out 980 px wide, in tiny text)
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'
_HEAD_WINDOW = 1 << 16
_VIEWPORT = re.compile(r"<meta\s[^>]*name\s*=\s*[\"']?viewport", re.IGNORECASE)
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!doctype[^>]*>", re.IGNORECASE)


def with_viewport(page: str) -> str:
    """An HTML page that declares no viewport, with :data:`VIEWPORT` after its ``<head>`` (else its doctype, else
    first); a page that declares one, as it is."""
    head = page[:_HEAD_WINDOW]
    if _VIEWPORT.search(head):
        return page
    tag = _HEAD.search(head) or _DOCTYPE.search(head)
    at = tag.end() if tag else 0
    return page[:at] + VIEWPORT + page[at:]


class Originals:
    """Stored copies of the loaded documents (``<data>/documents/<id><suffix>``, or ``<id><suffix>.html`` for the
    HTML view of a Markdown, reST, text or Word document), served for source links."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / name

    def keep(self, source: Path, document_id: int, view: str | None = None) -> str:
        """Store the copy of a document and return its name in the folder: its HTML ``view`` when it has one
        (``<id><suffix>.html``), else a PDF as it is, an HTML page (or a text a view could not be made of) as its
        text was read, in UTF-8 (:func:`.documents.write_utf8`); a page, :func:`with_viewport`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{document_id}{source.suffix.lower()[:10]}{'.html' if view is not None else ''}"
        tmp = self.folder / f".{name}.tmp"
        kind = document_kind(name)
        if view is not None:
            tmp.write_text(view, encoding="utf-8")
        elif kind is not None and expected_content(kind) == "text":
            write_utf8(source, tmp, kind)
            if kind == "html":
                with tmp.open(encoding="utf-8", newline="") as fh:
                    page = fh.read()
                with tmp.open("w", encoding="utf-8", newline="") as fh:
                    fh.write(with_viewport(page))
        else:
            shutil.copyfile(source, tmp)
        tmp.replace(self.folder / name)
        return name

    def present(self, names: dict[int, str]) -> set[int]:
        return {i for i, name in names.items() if (self.folder / name).is_file()}

    def remove(self, names: Sequence[str]) -> None:
        for name in names:
            (self.folder / name).unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(eq=False)
class DocumentWriter(Stores):
    """Stores one document at a time; see the module docstring."""

    collections: dict[str, str]
    lexical: LexicalIndex
    originals: Originals
    write_items: Callable[[Connection, Sequence[dict[str, Any]]], None]
    delete_items: Callable[[list[int]], None]
    #: where uploads and extracted archives wait for their load (their files are known by name only)
    staging: Path

    def __post_init__(self) -> None:
        self.budget = budget_of(self.settings)

    def key(self, item: WorkItem) -> int:
        """The identity of a document across versions: its file on the server, or the name it was uploaded as."""
        assert item.path is not None
        path = item.path.resolve()
        return document_key(item.label) if path.is_relative_to(self.staging.resolve()) else file_key(path)

    def store(self, item: WorkItem) -> Outcome:
        if item.path is None:
            return failed("no file")
        try:
            size = item.path.stat().st_size
            if size > self.budget.max_bytes:
                return failed(f"larger than the {self.budget.max_bytes}-byte limit for a document "
                              "(setting QA_DOCUMENT_MAX_BYTES)")
            data = item.path.read_bytes()
        except OSError as exc:
            return failed(f"cannot read file: {exc.strerror or exc}")
        document_id, sha256 = content_id(data), hashlib.sha256(data).hexdigest()
        del data
        if self._stored(document_id):
            return DUPLICATE
        try:
            parsed = parse_isolated(item.path, item.label, self.budget)
        except DocumentError as exc:
            return failed(str(exc))
        if not parsed.passages:
            return failed("no text found in the document")
        self._write(item, parsed, document_id, sha256)
        notes = [*(parsed.warnings if parsed.truncated else []), script_warning(parsed.passages)]
        return warned("; ".join(n for n in notes if n)) if any(notes) else NEW

    def _stored(self, document_id: int) -> bool:
        """Listed, with its passages' vectors and its copy present."""
        with self.sql.begin() as conn:
            row = conn.execute(select(self.items.c.file).where(self.items.c.id == document_id,
                                                               self.items.c.kind == DOCUMENT)).first()
        if row is None or not self.originals.present({document_id: str(row.file)}):
            return False
        return bool(self.vectors.query(self.collections["passage"], filter=f"document_id in {int_list([document_id])}",
                                       output_fields=["id"], limit=1))

    def _write(self, item: WorkItem, parsed: ParsedDocument, document_id: int, sha256: str) -> None:
        assert item.path is not None
        s = self.settings
        passages = parsed.passages
        pids = [passage_id(document_id, p.position) for p in passages]
        units = [answer_units(p.text) for p in passages]
        sentences = [(k, j, span) for k, spans in enumerate(units) for j, span in enumerate(spans)]
        texts = [embedding_text(p, s.passage_heading_context) for p in passages]
        texts += [passages[k].text[a:b] for k, _, (a, b) in sentences]
        vecs = self.encoder.encode(texts, batch_size=256, max_batch_tokens=s.encoder_max_batch_tokens)
        n = len(passages)
        with self.sql.begin() as conn:  # the passage rows first: they are read only through a listed document
            self.sql.upsert(conn, self.passages, [
                {"id": pid, "document_id": document_id, "position": p.position, "heading": p.heading,
                 "anchor": (p.anchor or None) and p.anchor[:512], "text": p.text} for pid, p in zip(pids, passages,
                                                                                                      strict=True)])
        self.vectors.upsert(self.collections["passage"], [
            {"id": pid, "document_id": document_id, "vector": v.tolist()} for pid, v in zip(pids, vecs[:n],
                                                                                            strict=True)])
        self.vectors.upsert(self.collections["sentence"], [
            {"id": sentence_id(document_id, passages[k].position, j), "document_id": document_id,
             "passage_id": pids[k], "span_start": a, "span_end": b, "vector": v.tolist()}
            for (k, j, (a, b)), v in zip(sentences, vecs[n:], strict=True)])
        self.lexical.write(PASSAGE, [{"id": pid, "document_id": document_id,
                                      "text": embedding_text(p, s.passage_bm25_heading)}
                                     for pid, p in zip(pids, passages, strict=True)])
        file = self.originals.keep(item.path, document_id, parsed.view)
        key = self.key(item)
        row = {"id": document_id, "name": item.label[-1024:], "source": item.source[-2048:], "kind": DOCUMENT,
               "title": (parsed.title or item.path.name)[:1024], "doc_key": key, "passages": n,
               "truncated": parsed.truncated, "file": file, "sha256": sha256}
        with self.sql.begin() as conn:
            self.write_items(conn, [row])  # last: the document is listed once fully stored
            c = self.items.c
            older = [int(r.id) for r in conn.execute(select(c.id).where(c.doc_key == key, c.id != document_id))]
        self.lexical.changed(PASSAGE)
        if older:
            log.info("%s: a new version replaces %d older one(s)", item.label, len(older))
            self.delete_items(older)
