"""The shape the code keeps (issue 13): classes small enough to read, and a pipeline layer with no web in it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_CLASS_LINES = 250


def class_lengths() -> dict[str, int]:
    out = {}
    for package in ("common", "solutions"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    out[f"{path.relative_to(ROOT)}:{node.name}"] = node.end_lineno - node.lineno + 1
    return out


def test_no_class_in_common_or_solutions_is_longer_than_250_lines():
    lengths = class_lengths()
    assert "solutions/molecular_search/molindex.py:MoleculeIndex" in lengths  # the walk finds the biggest ones
    assert {name: n for name, n in lengths.items() if n > MAX_CLASS_LINES} == {}


def test_the_pipeline_layer_imports_no_web_framework():
    script = ("import sys, common.pipeline, common.resources\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & {'fastapi', 'starlette'}))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
