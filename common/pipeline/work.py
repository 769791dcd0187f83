"""What a load is made of: work items, their outcomes, and the monitor a running batch reports to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from ..files import EMPTY_FILE, iter_files, label_for, sniff_file


@dataclass
class WorkItem:
    """One unit of a load: a file, or a record of a file (a CSV row, a SMILES line).

    ``label`` names it in task errors (``photos/cat.jpg``, ``faq.csv:12``). ``error`` set by ``list_items`` marks
    an item that already failed (an unreadable record): it is counted as failed and never processed.
    """

    label: str
    path: Path | None = None
    data: Any = None
    error: str | None = None
    #: set by the load job for a staged copy (an upload, an extracted archive), whose files are gone after the load
    origin: str | None = None

    @property
    def source(self) -> str:
        """Where the item came from, as its items row keeps it: the file on the server, or ``<origin>: <label>``
        (``upload: photos/cat.jpg``, ``/data/docs.zip: docs/intro.md``)."""
        return f"{self.origin}: {self.label}" if self.origin else str(self.path or "")


Status = Literal["new", "duplicate", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one item of a batch.

    ``new``: stored now; ``duplicate``: already stored (same content), nothing written; ``failed``: not stored,
    ``message`` says why. A stored item may carry a warning (``new`` with ``message``: e.g. a truncated video
    indexed for its readable part); warnings are listed with the task's errors but not counted as failures.
    """

    status: Status
    message: str | None = None

    @property
    def level(self) -> Literal["error", "warning"]:
        return "error" if self.status == "failed" else "warning"


NEW = Outcome("new")
DUPLICATE = Outcome("duplicate")
#: the outcome of an item a batch did not reach because the load was cancelled: it is not recorded (neither
#: stored nor failed), and the task ends ``cancelled``
NOT_REACHED = Outcome("failed", "not reached: the load was cancelled")


def failed(message: str) -> Outcome:
    return Outcome("failed", message)


def warned(message: str) -> Outcome:
    """Stored, with a warning."""
    return Outcome("new", message)


class Monitor(Protocol):
    """Handed to ``process_batch``: report progress inside a long item, and learn of a cancel."""

    def cancelled(self) -> bool:
        """True once the load was cancelled: stop at the next point where nothing is half-written."""
        ...

    def partial(self, items_done: float) -> None:
        """Items of this batch done so far, fractions allowed (a video 40 % analysed is 0.4)."""
        ...


class NullMonitor:
    """The monitor of a batch nobody watches (tests, benchmarks)."""

    def cancelled(self) -> bool:
        return False

    def partial(self, items_done: float) -> None:
        return None


def sniffed_items(path: Path, root: Path, file_items: Callable[[Path, str, str], Iterator[WorkItem]]
                  ) -> Iterator[WorkItem]:
    """Every file under ``path`` sniffed, labelled relative to ``root`` and turned into work items by
    ``file_items(file, label, kind)``; a file that cannot be read is one failed item. Streamed."""
    for file in iter_files(path):
        label = label_for(file, root)
        try:
            kind = sniff_file(file)
        except OSError as exc:
            yield WorkItem(label, file, error=f"cannot read file: {exc.strerror or exc}")
            continue
        if kind == "empty":  # whatever its name says it is (it sniffed as text before: "content looks like text")
            yield WorkItem(label, file, error=EMPTY_FILE)
            continue
        yield from file_items(file, label, kind)
