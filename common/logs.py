"""Logging for the ``bootcamp`` command: our lines readable, third-party noise filtered at its logger.

What is filtered, and why it is noise rather than a failure:

* ``faiss.loader`` tries the AVX-512 and AVX2 builds of FAISS first and logs a ``ModuleNotFoundError`` for
  each optional build that is not installed before loading the portable one (INFO) – lowered to WARNING.
* Milvus Lite's embedded gRPC server answers ``AllocTimestamp`` (a method pymilvus calls when creating a
  collection) with "Method not implemented", and ``grpc._server`` logs that with a traceback at ERROR.
  Exactly that record is dropped; every other gRPC error still shows.
* ``milvus_lite.server_manager`` logs a traceback at ERROR when the data file is locked by another process (a
  server using the same DATA_DIR); :class:`common.vectors.VectorStore` says that in one line, so exactly that
  record is dropped.
* ``milvus_lite``, ``sentence_transformers``, ``transformers``, ``httpx``: start-up chatter – WARNING and up.
  So is ``numexpr`` (pymilvus imports pandas, which imports it): "NumExpr defaulting to 2 threads." (INFO), and
  ``mysql.connector``, which names its authentication plugin in three INFO lines at the first connection.
* Hugging Face progress bars while the text model is exported once: disabled.
* ``uvicorn.error`` start-up lines and ``uvicorn.access`` lines per request: WARNING and up (the launcher
  logs one line per demo with its URL instead).
"""

from __future__ import annotations

import logging
import os

QUIET_LOGGERS = ("faiss.loader", "faiss", "milvus_lite", "sentence_transformers", "transformers", "httpx",
                 "urllib3", "PIL", "matplotlib", "numexpr", "mysql.connector", "uvicorn.error", "uvicorn.access")


class MilvusLiteNotImplemented(logging.Filter):
    """Drops grpc's ERROR record for Milvus Lite's unimplemented ``AllocTimestamp`` method only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, NotImplementedError) and "Method not implemented" in str(exc))


class MilvusLiteLocked(logging.Filter):
    """Drops Milvus Lite's traceback for a data file that another process holds (``DataDirLockedError``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if type(exc).__name__ == "DataDirLockedError":
                return False
            exc = exc.__cause__ or exc.__context__
        return True


def quiet_third_parties() -> None:
    """Filter the noise above; safe to call more than once (tests, CLI, benchmarks)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    grpc_server = logging.getLogger("grpc._server")
    if not any(isinstance(f, MilvusLiteNotImplemented) for f in grpc_server.filters):
        grpc_server.addFilter(MilvusLiteNotImplemented())
    lite_server = logging.getLogger("milvus_lite.server_manager")
    if not any(isinstance(f, MilvusLiteLocked) for f in lite_server.filters):
        lite_server.addFilter(MilvusLiteLocked())


def configure(level: str = "INFO") -> None:
    """The ``bootcamp`` command's logging: one format, our INFO lines, third parties quiet."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    quiet_third_parties()
