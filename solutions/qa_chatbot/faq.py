"""FAQ entries: records of a CSV/JSONL file → validated entries → vectors, BM25 text and items rows.

An entry's identity is its **normalised question** (NFKC, case-folded, white space collapsed, trailing
``?!.`` dropped): ``How do I reset my password?`` and ``HOW DO I RESET MY PASSWORD`` are one entry, and the
last answer loaded wins. An entry already stored with the same question, answer and metadata is a duplicate
(nothing is written); with another answer it is written again.

A question repeated in one file is said so in the load's task, never silently: an earlier row that a later row
of its batch supersedes is not stored, and its outcome names the row whose answer is kept; a row that replaces
the answer stored from another row of the same file (an earlier batch, or an earlier load) names that row.

Each entry is embedded twice in one encoder call: its question (the ``question`` feature) and its question
followed by the first ``faq_answer_words`` words of its answer (the ``qa`` feature); BM25 indexes the question
and the whole answer.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from common.files import content_id, folded_keys
from common.pipeline import DUPLICATE, NEW, Outcome, WorkItem, warned
from common.sql import SQLStore
from common.text import TextEncoder
from common.vectors import VectorStore, int_list

from .config import QASettings
from .lexical import LexicalIndex
from .store import FAQ

ID_CHUNK = 500


def normalise_question(text: str) -> str:
    """Identity of a question: NFKC, case-folded, whitespace collapsed, trailing punctuation dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"\s+", " ", text).strip().rstrip("?!.。 ").strip()


def qa_text(question: str, answer: str, answer_words: int = 0) -> str:
    """The text of the ``qa`` vector: the question and its answer (its first ``answer_words`` words; 0 = all)."""
    if answer_words:
        answer = " ".join(answer.split()[:answer_words])
    return f"{question}\n{answer}"


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> int:
        return content_id("faq\x00" + normalise_question(self.question))

    def metadata_json(self) -> str:
        return json.dumps(self.metadata, ensure_ascii=False, default=str, sort_keys=True)

    def fingerprint(self) -> str:
        """What the stored entry hashes to: a changed answer or metadata is written again."""
        return hashlib.sha256(json.dumps([self.question, self.answer, self.metadata_json()]).encode()).hexdigest()


def entry_of(record: dict[str, Any], settings: QASettings) -> FaqEntry | str:
    """The entry of one record (``question`` and ``answer`` in any case), or why it cannot be one; its other
    columns are the entry's metadata, named as in the file."""
    record = dict(record)
    keys = folded_keys(record)
    question = record.pop(keys["question"]) if "question" in keys else None
    answer = record.pop(keys["answer"]) if "answer" in keys else None
    for name, value in (("question", question), ("answer", answer)):
        if value is None or (isinstance(value, str) and not value.strip()):
            return f"missing {name}"
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            return f"{name} is not text"
    q, a = str(question).strip(), str(answer).strip()
    if len(q) > settings.max_question_chars:
        return f"question longer than {settings.max_question_chars} characters"
    if len(a) > settings.max_answer_chars:
        return f"answer longer than {settings.max_answer_chars} characters"
    if not normalise_question(q):
        return "question has no text"
    return FaqEntry(q, a, record)


class FaqWriter:
    """Stores a batch of FAQ entries: vectors (``q``, ``qa``), BM25 text, then the items rows, last."""

    def __init__(self, settings: QASettings, encoder: TextEncoder, vectors: VectorStore, sql: SQLStore,
                 items: Table, collections: dict[str, str], lexical: LexicalIndex,
                 write_items: Callable[[Connection, Sequence[dict[str, Any]]], None]) -> None:
        self.settings = settings
        self.encoder = encoder
        self.vectors = vectors
        self.sql = sql
        self.items = items
        self.collections = collections
        self.lexical = lexical
        self.write_items = write_items

    def store(self, batch: Sequence[tuple[WorkItem, FaqEntry]]) -> list[Outcome]:
        """One outcome per ``(item, entry)``; a later entry with the same question supersedes an earlier one of the
        batch (which is not stored: a duplicate whose message names the later row)."""
        latest: dict[int, int] = {}
        for k, (_, entry) in enumerate(batch):
            latest[entry.id] = k
        stored = self._stored({batch[k][1].id: batch[k][1].fingerprint() for k in latest.values()})
        outcomes: list[Outcome] = []
        todo: list[tuple[WorkItem, FaqEntry]] = []
        for k, (item, entry) in enumerate(batch):
            kept = latest[entry.id]
            if kept != k:
                outcomes.append(superseded(batch[kept][0].label,
                                           batch[kept][1].fingerprint() == entry.fingerprint()))
            elif stored.get(entry.id) is UNCHANGED:
                outcomes.append(DUPLICATE)
            else:
                earlier = stored.get(entry.id)
                name, source = item.label[-1024:], item.source[-2048:]
                if earlier is not None and earlier.name != name and earlier.file == file_of(name, source):
                    outcomes.append(warned(f"repeats the question of {earlier.name}, loaded before: this answer "
                                           "replaces that one"))
                else:
                    outcomes.append(NEW)
                todo.append((item, entry))
        if todo:
            self._write(todo)
        return outcomes

    def _stored(self, fingerprints: dict[int, str]) -> dict[int, Stored]:
        """The stored entries of these ids: :data:`UNCHANGED` for those stored with this very content and with
        their vectors (nothing to write), else where the stored one came from."""
        ids = sorted(fingerprints)
        out: dict[int, Stored] = {}
        c = self.items.c
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            with self.sql.begin() as conn:
                rows = conn.execute(select(c.id, c.name, c.source, c.sha256)
                                    .where(c.id.in_(chunk), c.kind == FAQ)).all()
            out.update((int(r.id), UNCHANGED if r.sha256 == fingerprints[int(r.id)] else Stored(r.name, r.source))
                       for r in rows)
        same = sorted(i for i, s in out.items() if s is UNCHANGED)
        present: set[int] = set()
        for start in range(0, len(same), ID_CHUNK):
            chunk = same[start:start + ID_CHUNK]
            hits = self.vectors.query(self.collections["q"], filter=f"id in {int_list(chunk)}", output_fields=["id"])
            present.update(int(h["id"]) for h in hits)
        for i in same:
            if i not in present:  # stored without its vectors: written again
                del out[i]
        return out

    def _write(self, todo: list[tuple[WorkItem, FaqEntry]]) -> None:
        entries = [e for _, e in todo]
        texts = [e.question for e in entries] + [qa_text(e.question, e.answer, self.settings.faq_answer_words)
                                                 for e in entries]
        vecs = self.encoder.encode(texts, batch_size=256, max_batch_tokens=self.settings.encoder_max_batch_tokens)
        n = len(entries)
        ids = [e.id for e in entries]
        self.vectors.upsert(self.collections["q"], [{"id": i, "vector": v.tolist()} for i, v in zip(ids, vecs[:n],
                                                                                                     strict=True)])
        self.vectors.upsert(self.collections["qa"], [{"id": i, "vector": v.tolist()} for i, v in zip(ids, vecs[n:],
                                                                                                      strict=True)])
        self.lexical.write(FAQ, [{"id": e.id, "text": bm25_text(e)} for e in entries])
        rows = [{"id": e.id, "name": item.label[-1024:], "source": item.source[-2048:], "kind": FAQ,
                 "question": e.question, "answer": e.answer, "metadata": e.metadata_json(),
                 "sha256": e.fingerprint()} for item, e in todo]
        with self.sql.begin() as conn:
            self.write_items(conn, rows)  # last: an entry is listed once fully stored
        self.lexical.changed(FAQ)


@dataclass(frozen=True)
class Stored:
    """Where a stored FAQ entry was loaded from (its items row's ``name``, ``file:line``, and ``source``)."""

    name: str
    source: str

    @property
    def file(self) -> str:
        return file_of(self.name, self.source)


def file_of(name: str, source: str) -> str:
    """The FAQ file an entry was loaded from: its ``source`` (a file on the server), or for an upload or an
    archive member, whose source ends with the ``file:line`` label, that label without its line."""
    return source[: -len(name)] + name.rpartition(":")[0] if name and source.endswith(name) else source


#: a stored entry with the content being loaded, and its vectors
UNCHANGED = Stored("", "")


def superseded(later: str, same_answer: bool) -> Outcome:
    """The outcome of a row whose question a later row of its batch (``later``, ``file:line``) repeats."""
    if same_answer:
        return Outcome("duplicate", f"{later} repeats this question and its answer: stored once")
    return Outcome("duplicate", f"not stored: {later} repeats this question with another answer, and that "
                                "answer is kept (one answer per question: the last one loaded)")


def bm25_text(entry: FaqEntry) -> str:
    return f"{entry.question}\n{entry.answer}"
