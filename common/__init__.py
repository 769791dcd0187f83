"""Shared plumbing of the bootcamp services.

* :mod:`common.settings`  – pydantic-settings base (``ServiceSettings``, ``service_config``)
* :mod:`common.errors`    – the one exception tree, mapped to HTTP codes in :mod:`common.app`
* :mod:`common.vectors`   – Milvus (Lite file or server) store with capability detection
* :mod:`common.sql`       – SQLAlchemy Core store (SQLite file or MySQL)
* :mod:`common.tasks`     – background load tasks with progress persisted in SQL
* :mod:`common.safety`    – DATA_ROOTS checks, content sniffing, safe zip extraction
* :mod:`common.pool`      – the bounded worker pool (``run_in_pool``)
* :mod:`common.service`   – the pipeline contract, load job and common routes
* :mod:`common.app`       – ``create_service_app``: lifespan, errors, API key, CORS, size limit
* :mod:`common.launcher`  – mounts services at their prefixes with a landing page
* :mod:`common.images`    – image decoding and the EfficientNet-Lite0 encoder (image + video)
"""
