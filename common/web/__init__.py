"""The web layer: the app factory, the common routes, dependencies, guards, uploads and the launcher.

    from common.web import create_service_app, PipelineDep, PoolDep, get_pipeline
"""

from .app import create_service_app
from .deps import (
    PipelineDep,
    PoolDep,
    ResourcesDep,
    SettingsDep,
    Stopwatch,
    StopwatchDep,
    TasksDep,
    get_pipeline,
    get_pool,
    get_resources,
    get_settings,
    get_tasks,
)
from .schemas import ItemId, PageOffset

__all__ = [
    "ItemId",
    "PageOffset",
    "PipelineDep",
    "PoolDep",
    "ResourcesDep",
    "SettingsDep",
    "Stopwatch",
    "StopwatchDep",
    "TasksDep",
    "create_service_app",
    "get_pipeline",
    "get_pool",
    "get_resources",
    "get_settings",
    "get_tasks",
]
