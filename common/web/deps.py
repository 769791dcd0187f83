"""FastAPI dependencies: what a route needs, read from ``app.state`` (set by the lifespan).

Tests override any of them with ``app.dependency_overrides[get_pipeline] = ...``. A demo types its own
alias over :func:`get_pipeline`: ``ImagePipelineDep = Annotated[ImagePipeline, Depends(get_pipeline)]``.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request

from ..pipeline import Pipeline
from ..pool import WorkerPool
from ..resources import Resources
from ..settings import ServiceSettings
from ..tasks import TaskRunner


class Stopwatch:
    """Started when the request's dependencies are solved; ``ms`` is the ``took_ms`` of a search response."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


def get_tasks(request: Request) -> TaskRunner:
    return get_resources(request).tasks


def get_pool(request: Request) -> WorkerPool:
    return get_resources(request).pool


ResourcesDep = Annotated[Resources, Depends(get_resources)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
TasksDep = Annotated[TaskRunner, Depends(get_tasks)]
PoolDep = Annotated[WorkerPool, Depends(get_pool)]
StopwatchDep = Annotated[Stopwatch, Depends(Stopwatch)]
