"""Shared plumbing of the bootcamp services (see common/README.md for a request's path through it).

* :mod:`common.registry`  – the one list of demos
* :mod:`common.pipeline`  – the pipeline base class, work items, outcomes, the load job (no web imports)
* :mod:`common.web`       – app factory, common routes, dependencies, guards, uploads, launcher
* :mod:`common.resources` – what a service opens once: stores, worker pool, task runner
* :mod:`common.settings`  – pydantic-settings base (``ServiceSettings``, ``service_config``)
* :mod:`common.errors`    – the one exception tree, mapped to HTTP codes in :mod:`common.web.app`
* :mod:`common.vectors`, :mod:`common.sql` – Milvus (Lite or server) and SQL (SQLite or MySQL) stores
* :mod:`common.tasks`     – background load tasks with progress persisted in SQL
* :mod:`common.pool`      – the bounded worker pool (``run_in_pool``)
* :mod:`common.files`, :mod:`common.safety` – sniffing, listings, records; DATA_ROOTS and archive safety
* :mod:`common.models`, :mod:`common.images`, :mod:`common.text`, :mod:`common.onnx` – the inference models

Importing the package sets one process-wide default before any third-party import: gRPC's C core logs
keepalive chatter between pymilvus and Milvus Lite ("too_many_pings") straight to stderr; ``GRPC_VERBOSITY``
silences it unless the user set it.
"""

import os

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
