"""The background job of a load: stream work items, process them in batches, report every outcome.

Memory is O(batch): items are listed lazily (directories, archives already extracted, record files read
incrementally) and handed to the pipeline ``batch_size`` at a time. The total shown while loading is an
estimate (files counted first, records estimated by the pipeline); it becomes exact at the end.
A cancel is honoured between batches (and inside a batch by pipelines that check their monitor), so every
item a cancelled load reports as stored is complete; the items a batch did not reach are not reported. A load
that finds nothing, or whose every item fails, ends ``failed`` with a reason; the per-item errors stay on the
task.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import InvalidInput
from ..tasks import Cancelled, Job, Progress
from .base import Pipeline
from .work import NOT_REACHED, Outcome, WorkItem, failed

log = logging.getLogger(__name__)


def batched(items: Iterable[WorkItem], size: int) -> Iterator[list[WorkItem]]:
    batch: list[WorkItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_job(pipeline: Pipeline, path: Path, root: Path, cleanup: Path | None = None, origin: str | None = None) -> Job:
    """A job for :class:`~common.tasks.TaskRunner` that loads ``path``; ``cleanup`` is removed when it ends.
    ``origin`` names what a staged ``path`` is a copy of (``upload``, an archive's path): the items' source."""

    def job(progress: Progress) -> None:
        try:
            progress.check_cancelled()  # cancelled while queued: only the staged copy is removed
            progress.set_total(pipeline.estimate_items(path))
            try:
                for batch in batched(pipeline.list_items(path, root), max(1, pipeline.batch_size)):
                    progress.check_cancelled()
                    for item in batch:
                        item.origin = origin
                    outcomes: dict[int, Outcome] = {i: failed(it.error) for i, it in enumerate(batch) if it.error}
                    todo = [i for i in range(len(batch)) if i not in outcomes]
                    if todo:
                        results = process_safely(pipeline, [batch[i] for i in todo], progress)
                        outcomes.update(zip(todo, results, strict=True))
                    progress.record([(batch[i].label, outcomes[i]) for i in range(len(batch))
                                     if outcomes[i] != NOT_REACHED])
                    progress.check_cancelled()
            finally:
                pipeline.finish_load()
            _check_something_loaded(progress.tally)
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)

    return job


def _check_something_loaded(tally: dict[str, int]) -> None:
    """A load that found nothing, or whose every item failed, ends ``failed`` with a reason (the per-item
    errors stay on the task); one that stored or found at least one item (new or already stored) succeeds."""
    items = sum(tally.values())
    if items == 0:
        raise InvalidInput("found nothing to load there (hidden files, symbolic links and empty folders are "
                           "skipped)")
    if tally["failed"] == items:
        raise InvalidInput("nothing was loaded: the item failed (its error is below)" if items == 1 else
                           f"nothing was loaded: all {items} items failed (their errors are below)")


def process_safely(pipeline: Pipeline, batch: list[WorkItem], progress: Progress) -> list[Outcome]:
    """``process_batch``; a batch that raises is retried item by item, so one bad item fails alone."""
    try:
        outcomes = pipeline.process_batch(batch, progress)
        if len(outcomes) != len(batch):
            raise RuntimeError(f"process_batch returned {len(outcomes)} outcomes for {len(batch)} items")
        return outcomes
    except Cancelled:
        raise
    except Exception:
        if progress.cancelled():
            raise Cancelled from None
        if len(batch) == 1:
            log.exception("%s: item %s failed", type(pipeline).__name__, batch[0].label)
            return [failed("internal error while processing this item")]
        log.warning("a batch of %d failed; retrying its items one by one", len(batch), exc_info=True)
        return [process_safely(pipeline, [item], progress)[0] for item in batch]
