"""The ``bootcamp`` command's log: third-party noise is filtered at its logger (:mod:`common.logs`)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

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


@pytest.mark.integration
def test_connecting_to_mysql_logs_nothing(mariadb_server):
    """mysql-connector logged its authentication plugin's package, name and class (INFO, three lines) at the first
    connection of every service in server mode."""
    script = ("import sys; from common.logs import configure; configure(); from common.sql import SQLStore; "
              "SQLStore(sys.argv[1]).ping()")
    done = subprocess.run([sys.executable, "-c", script, mariadb_server], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stderr == ""
