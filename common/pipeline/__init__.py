"""The pipeline contract, with no web imports: what a demo subclasses and what a load is made of.

    from common.pipeline import Pipeline, WorkItem, Outcome, NEW, DUPLICATE, NOT_REACHED, failed, warned, load_job
"""

from ..tasks import Cancelled
from .base import GZIP_HINT, Pipeline, SampleData, utcnow
from .batch import search_each, search_one
from .loading import batched, load_job, process_safely
from .work import DUPLICATE, NEW, NOT_REACHED, Monitor, NullMonitor, Outcome, WorkItem, failed, sniffed_items, warned

__all__ = [
    "DUPLICATE",
    "GZIP_HINT",
    "NEW",
    "NOT_REACHED",
    "Cancelled",
    "Monitor",
    "NullMonitor",
    "Outcome",
    "Pipeline",
    "SampleData",
    "WorkItem",
    "batched",
    "failed",
    "load_job",
    "process_safely",
    "search_each",
    "search_one",
    "sniffed_items",
    "utcnow",
    "warned",
]
