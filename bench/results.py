"""What every benchmark records beside its figures, and where it saves them."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """The machine and the moment, so a figure can be read for what it is."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=RESULTS.parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    from common.onnx import int8_kernels

    return {
        "cpus": len(os.sched_getaffinity(0)), "machine": platform.machine(), "cpu": _cpu_model(),
        "int8_kernels": int8_kernels(), "python": platform.python_version(),
        "load_average_at_start": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def save(name: str, result: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (with the machine) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    return _write(RESULTS / f"{name}.json", {"machine": machine(), **result})


def _write(path: Path, data: dict[str, Any]) -> Path:
    """The one format of a result file (indented JSON, numpy scalars as floats)."""
    path.write_text(json.dumps(data, indent=2, default=float) + "\n", encoding="utf-8")
    return path


def readme(summary: str, name: str, title: str, *cells: str) -> dict[str, str]:
    """What the READMEs quote (bench/report.py): the tutorial's ``summary`` table, and the ``headline`` row of the
    top-level README's table for the demo ``name``: a link to its tutorial, then ``cells``."""
    return {"summary": summary, "headline": f"| [{title}](solutions/{name}/README.md) | {' | '.join(cells)} |\n"}


def parse_or_rewrite(parser: argparse.ArgumentParser, render: Callable[[dict[str, Any]], dict[str, str]],
                     name: str | None = None) -> argparse.Namespace | None:
    """A benchmark's arguments; ``None`` when ``--readme-only`` asked to re-render the README text of its saved
    result (``bench/results/<name or --name>.json``) instead of measuring, which is then done."""
    parser.add_argument("--readme-only", action="store_true", help="re-render the README text from the saved result")
    args = parser.parse_args()
    if not args.readme_only:
        return args
    print(f"rewrote {rewrite_readme(name or args.name, render)}")
    return None


def rewrite_readme(name: str, render: Callable[[dict[str, Any]], dict[str, str]]) -> Path:
    """Render ``readme`` of ``bench/results/<name>.json`` again from its saved figures (no measuring): for a
    changed table layout or a new ``headline``. The machine and figures stay as measured."""
    path = RESULTS / f"{name}.json"
    out = json.loads(path.read_text(encoding="utf-8"))
    out["readme"] = render(out)
    return _write(path, out)
