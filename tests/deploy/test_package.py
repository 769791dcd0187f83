"""The wheel the Dockerfile installs (`pip install .`) carries every page and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_pages_and_entry_point(tmp_path: Path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(p.relative_to(ROOT)) for p in ROOT.glob("*/static/*") if p.is_file()}
    expected |= {str(p.relative_to(ROOT)) for p in ROOT.glob("solutions/*/static/*") if p.is_file()}
    assert expected and expected <= names, sorted(expected - names)
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "bootcamp = common.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
