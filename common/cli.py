"""The ``bootcamp`` command.

    bootcamp serve [SOLUTION...] [--host H] [--port P]   serve the demos (all installed by default)
    bootcamp load SOLUTION PATH                           load a file or directory, in this process
    bootcamp search SOLUTION QUERY [--top-k K]            query as the service's search does
    bootcamp sample-data [SOLUTION...] [--dest DIR]       write small sample data sets to try
    bootcamp demos                                        the demo names, one per line (for scripts)

``load`` and ``search`` open the demo's stores and pipeline directly (no web app), through the same
:class:`~common.resources.Resources` the server uses.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from . import logs
from .errors import BootcampError, NotFound
from .registry import DEMOS, demo, installed_demos
from .settings import ServiceSettings, invalid_settings

# The stores and pipelines are imported where used, so importing this module stays cheap: a child process
# started through multiprocessing (the QA demo parses each document in one) imports the main script,
# ``bootcamp``, again before it starts; with them it took about 0.8 s a document.
if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .resources import Resources

log = logging.getLogger("bootcamp")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
T = TypeVar("T")


def main(argv: list[str] | None = None) -> int:
    names = [d.name for d in DEMOS]
    parser = argparse.ArgumentParser(prog="bootcamp", description="The vector-search bootcamp demos.")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve demos over HTTP")
    serve.add_argument("solutions", nargs="*", metavar="SOLUTION", help="any of: " + ", ".join(names))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    load = sub.add_parser("load", help="load a file or directory into a demo")
    load.add_argument("solution", choices=names)
    load.add_argument("path", type=Path)

    search = sub.add_parser("search", help="search a demo (image path, question or SMILES)")
    search.add_argument("solution", choices=names)
    search.add_argument("query")
    search.add_argument("--top-k", type=int, default=5)

    samples = sub.add_parser("sample-data", help="write sample data for the installed demos")
    samples.add_argument("solutions", nargs="*", metavar="SOLUTION", help="any of: " + ", ".join(names))
    samples.add_argument("--dest", type=Path, default=None, help="default: DATA_DIR/samples (data/samples)")

    sub.add_parser("demos", help="list the demo names")

    args = parser.parse_args(argv)
    logs.configure(args.log_level)
    unknown = [n for n in getattr(args, "solutions", []) if n not in names]
    if unknown:
        parser.error(f"unknown demo(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    try:
        return _run(args)
    except BootcampError as exc:  # a deliberate error (a bad query, a store in use...) is one line, not a traceback
        log.error("%s", exc.detail)
        return 1
    except ValidationError as exc:  # a bad setting: named, its value never repeated (it may be a secret)
        for line in invalid_settings(exc):
            log.error("%s", line)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(args.solutions, args.host, args.port)
    if args.command == "load":
        from .pipeline import load_job

        path = args.path.expanduser().resolve()
        if not path.exists():  # said before the models load, as /load says it
            raise NotFound(f"{str(args.path)!r} does not exist")
        task = _with_pipeline(args.solution, lambda p, r: r.tasks.run_now(str(path), load_job(p, path, _root(path))))
        _emit(task)
        return 0 if task["state"] == "succeeded" else 1
    if args.command == "search":
        _emit(_with_pipeline(args.solution, lambda p, _r: p.cli_search(args.query, args.top_k)))
        return 0
    if args.command == "sample-data":
        chosen = [demo(n) for n in args.solutions] if args.solutions else installed_demos()
        settings = ServiceSettings()  # DATA_DIR/samples: inside DATA_ROOTS' default, as /load needs
        for entry in chosen:
            dest = args.dest / entry.name if args.dest else settings.samples_dir(entry.name)
            sample = entry.load("pipeline").sample_data(dest)
            log.info("%s: %s (%s)", entry.name, sample.path, sample.origin)
        return 0
    if args.command == "demos":
        sys.stdout.write("".join(f"{d.name}\n" for d in installed_demos()))
        return 0
    return 2


#: the HTTP/1.1 parser and its budget for a request's line and headers: h11 answers 400 past it, where uvicorn's
#: default (httptools) took a 20 MB header and held the memory of unfinished ones (body budgets are the app's)
HTTP_LIMITS: dict[str, Any] = {"http": "h11", "h11_max_incomplete_event_size": 64 * 1024}


def _serve(solutions: list[str], host: str, port: int) -> int:
    import uvicorn

    from .web.launcher import build_app

    if host not in LOOPBACK and not ServiceSettings().api_key:
        log.warning("serving on %s without API_KEY: anyone who can reach port %d could load and delete data, so "
                    "only the host names in ALLOWED_HOSTS (default: localhost) are answered; set API_KEY (and "
                    "BOOTCAMP_ENV=production) before exposing it", host, port)
    shown = f"[{host}]" if ":" in host else host
    app = build_app(solutions or None, base_url=f"http://{shown}:{port}")
    uvicorn.run(app, host=host, port=port, log_config=None, **HTTP_LIMITS)
    return 0


def _with_pipeline(name: str, fn: Callable[[Pipeline, Resources], T]) -> T:
    from .resources import Resources

    entry = demo(name)
    settings = entry.load("settings")()
    with Resources.open(entry.name, settings) as res:
        pipeline: Pipeline = entry.load("pipeline")(res, settings)
        try:
            res.sql.create_all()
            return fn(pipeline, res)
        finally:
            pipeline.close()


def _root(path: Path) -> Path:
    return path if path.is_dir() else path.parent


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
