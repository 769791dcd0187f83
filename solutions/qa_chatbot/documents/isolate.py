"""Parse a document in a child process with a wall-clock limit and an address-space limit.

Parsers of untrusted files can be made to loop or to allocate without end (a PDF whose streams inflate
to gigabytes, pathological HTML). The child is forked from a ``forkserver`` (a clean, single-threaded
process, not the server with its model threads), caps its own memory (``RLIMIT_AS``) and CPU time
(``RLIMIT_CPU``), parses and sends the passages back through a pipe; the parent waits at most
``budget.max_seconds`` and kills it after that. Either way the server only sees a DocumentError.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .model import DocumentBudget, DocumentError, ParsedDocument

_CONTEXT: Any = None
#: Each child runs the parent's main script again before it parses (what Python 3.11's forkserver does, whatever
#: the preload). Under the ``bootcamp`` command that script imports ``common.cli``: preloaded in the forkserver, it
#: costs nothing per document instead of ~170 ms (measured here, against ~20 ms for a child's whole parse).
PRELOAD = ("common.cli",)


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([*PRELOAD, "solutions.qa_chatbot.documents", "lxml.html", "pypdf",
                                    "docutils.core", "markdown_it"])
        _CONTEXT = ctx
    return _CONTEXT


def _child(path: str, name: str, budget: DocumentBudget, conn: Connection) -> None:
    limit = budget.max_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    cpu = int(budget.max_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        from . import parse_document

        conn.send(("ok", parse_document(Path(path), name, budget)))
    except DocumentError as exc:
        conn.send(("error", str(exc)))
    except MemoryError:
        conn.send(("error", f"parsing needs more than {budget.max_memory_mb} MB"))
    except RecursionError:
        conn.send(("error", "the document is nested too deeply"))
    except Exception as exc:  # a parser bug on a hostile file is the file's error, not the server's
        conn.send(("error", f"unreadable document ({type(exc).__name__}: {exc})"[:500]))
    finally:
        conn.close()


def parse_isolated(path: Path | str, name: str | None = None,
                   budget: DocumentBudget | None = None) -> ParsedDocument:
    """:func:`parse_document` in a child process bounded by ``budget.max_seconds`` and ``max_memory_mb``."""
    budget = budget or DocumentBudget()
    path = Path(path)
    ctx = _context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(str(path), name or path.name, budget, sender), daemon=True)
    started = time.monotonic()
    proc.start()
    sender.close()
    try:
        if not receiver.poll(budget.max_seconds):
            raise DocumentError(f"parsing took longer than {budget.max_seconds:g} s")
        try:
            status, payload = receiver.recv()
        except EOFError:
            proc.join(1)
            raise DocumentError(f"the parser died (exit code {proc.exitcode}); the document is probably hostile "
                                f"or needs more than {budget.max_memory_mb} MB") from None
    finally:
        receiver.close()
        if proc.is_alive():
            proc.join(max(0.0, min(1.0, budget.max_seconds - (time.monotonic() - started))))
        if proc.is_alive():
            proc.kill()
            proc.join()
    if status != "ok":
        raise DocumentError(payload)
    return payload
