"""What a service opens once: its stores, its worker pool and its task runner.

``Resources.open(name, settings)`` is used alike by the app's lifespan, the CLI and the benchmarks, so a
pipeline never cares who runs it. It blocks (the SQL store connects; Milvus connects on first use, so a demo
that keeps no vectors never opens it): call it in a thread from async code. On open it also removes upload
staging folders a dead process left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .pool import WorkerPool
from .settings import ServiceSettings
from .sql import SQLStore, open_sql_store
from .tasks import BOOT_ID, TaskRunner
from .vectors import VectorStore, open_vector_store

log = logging.getLogger(__name__)
#: the folder of DATA_DIR/<service> where uploads and extracted archives are staged
STAGING_DIR = "uploads"


@dataclass
class Resources:
    """A service's connections; ``data_dir`` is its own folder under ``DATA_DIR``."""

    name: str
    settings: ServiceSettings
    vectors: VectorStore
    sql: SQLStore
    pool: WorkerPool
    tasks: TaskRunner
    data_dir: Path

    @classmethod
    def open(cls, name: str, settings: ServiceSettings) -> Resources:
        data_dir = settings.service_dir(name)
        data_dir.mkdir(parents=True, exist_ok=True)
        sweep_staging(data_dir / STAGING_DIR)
        vectors = open_vector_store(settings.milvus_uri, settings.milvus_token, data_dir / "milvus.db",
                                    settings.milvus_search_consistency)
        try:
            sql = open_sql_store(settings.database_url, data_dir / "meta.db")
        except Exception:
            vectors.close()
            raise
        pool = WorkerPool(settings.workers, settings.queue_limit, name)
        return cls(name, settings, vectors, sql, pool, TaskRunner(sql, name), data_dir)

    @property
    def staging_root(self) -> Path:
        """Where uploads and extracted archives wait for their loads (their files are known by name only)."""
        return self.data_dir / STAGING_DIR

    def new_staging_dir(self) -> Path:
        """A new folder where an upload or an extracted archive waits for its load (removed when it ends).

        Its name starts with this process's pid, so a later start-up removes it only if this process is gone.
        """
        path = self.staging_root / f"{os.getpid()}-{BOOT_ID}-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        return path

    def close(self) -> None:
        self.tasks.shutdown(wait=True)
        self.pool.shutdown()
        self.vectors.close()
        self.sql.dispose()

    def __enter__(self) -> Resources:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def sweep_staging(staging: Path) -> None:
    """Remove what dead processes left in the staging folder (their loads were interrupted anyway)."""
    if not staging.is_dir():
        return
    leftovers = [p for p in staging.iterdir() if not _owner_alive(p.name)]
    for path in leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if leftovers:
        log.info("removed %d upload staging folder(s) left by a previous run", len(leftovers))


def _owner_alive(name: str) -> bool:
    pid, _, rest = name.partition("-")
    if not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return rest.startswith(f"{BOOT_ID}-")
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
