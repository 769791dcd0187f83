"""Every module of ``common`` and ``solutions`` imports first, on its own: no import cycle depends on the order
in which a script happens to import them (``import common.resources`` once failed half-way through a cycle)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: imports each module with no module of the project loaded yet (third-party ones stay, to keep it quick)
SCRIPT = """
import importlib, json, sys, traceback
failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("common", "solutions")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def project_modules() -> list[str]:
    names = []
    for package in ("common", "solutions"):
        for info in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            names.append(info.name)
    return sorted(names)


def test_the_walk_finds_the_modules_that_once_formed_a_cycle():
    names = project_modules()
    assert {"common.resources", "common.tasks", "common.pipeline.loading", "solutions.image_search.app"} <= set(names)


def test_every_module_imports_first_on_its_own():
    names = project_modules()
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(names)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=True)
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert failures == {}, "\n".join(f"{name}:\n{trace}" for name, trace in failures.items())
