"""The ``bootcamp`` command's log: third-party noise is filtered at its logger (:mod:`common.logs`)."""

from __future__ import annotations

import json
import subprocess
import sys

from .test_imports import ROOT, project_modules

#: the command's logging, then every module of the project imported, as ``bootcamp serve`` imports the demos
SCRIPT = """
import importlib, json, sys
from common.logs import configure
configure()
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
"""


def test_importing_the_demos_logs_nothing():
    """pymilvus imports pandas, which imports numexpr, which logged "NumExpr defaulting to 2 threads." (INFO) as
    the first line of every ``make run``."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(project_modules())], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=True)
    assert done.stderr == ""
