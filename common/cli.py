"""The ``bootcamp`` command.

    bootcamp serve [SOLUTION...] [--host H] [--port P]   serve the demos (all installed by default)
    bootcamp load SOLUTION PATH                           load a file or directory, in this process
    bootcamp search SOLUTION QUERY [--top-k K]            query as the service's search does
    bootcamp sample-data [--dest DIR]                     write small sample data sets to try
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from .launcher import SERVICES, available_services, build_app, create_service
from .service import load_job
from .settings import ServiceSettings

log = logging.getLogger("bootcamp")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bootcamp", description="The vector-search bootcamp demos.")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve demos over HTTP")
    serve.add_argument("solutions", nargs="*", metavar="SOLUTION", help="any of: " + ", ".join(SERVICES))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    load = sub.add_parser("load", help="load a file or directory into a demo")
    load.add_argument("solution", choices=list(SERVICES))
    load.add_argument("path", type=Path)

    search = sub.add_parser("search", help="search a demo (image path, question or SMILES)")
    search.add_argument("solution", choices=list(SERVICES))
    search.add_argument("query")
    search.add_argument("--top-k", type=int, default=5)

    samples = sub.add_parser("sample-data", help="write sample data for every installed demo")
    samples.add_argument("--dest", type=Path, default=Path("data/samples"))

    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.command == "serve":
        import uvicorn

        app = build_app(args.solutions or None)
        if args.host not in LOOPBACK and not ServiceSettings().api_key:
            log.warning("serving on %s without API_KEY: anyone who can reach port %d can load and delete data; "
                        "set API_KEY (and BOOTCAMP_ENV=production) before exposing it", args.host, args.port)
        uvicorn.run(app, host=args.host, port=args.port)
        return 0
    if args.command == "load":
        task = asyncio.run(_with_service(args.solution, _load, args.path.resolve()))
        _emit(task)
        return 0 if task["state"] == "succeeded" else 1
    if args.command == "search":
        _emit(asyncio.run(_with_service(args.solution, _search, args.query, args.top_k)))
        return 0
    if args.command == "sample-data":
        for name in available_services():
            module = importlib.import_module(f"solutions.{name}.pipeline")
            path = module.make_sample_data(args.dest / name)
            log.info("%s: sample data in %s", name, path)
        return 0
    return 2


async def _with_service(name: str, fn: Any, *args: Any) -> Any:
    app = create_service(name)
    async with app.router.lifespan_context(app):
        return await asyncio.get_running_loop().run_in_executor(None, fn, app.state, *args)


def _load(state: Any, path: Path) -> dict[str, Any]:
    root = path if path.is_dir() else path.parent
    result: dict[str, Any] = state.tasks.run_now(str(path), load_job(state.pipeline, path, root))
    return result


def _search(state: Any, query: str, top_k: int) -> Any:
    return state.pipeline.cli_search(query, top_k)


def _emit(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
