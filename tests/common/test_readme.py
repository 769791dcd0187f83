"""common/README.md shows the toy demo as "add a fifth demo": the code there is the code the tests run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_is_the_tested_toy_demo():
    readme = (ROOT / "common" / "README.md").read_text(encoding="utf-8")
    for name in ("pipeline.py", "app.py"):
        block = re.search(rf"`solutions/notes/{re.escape(name)}`:\n\n```python\n(.*?)\n```", readme, re.S)
        assert block, f"no code block for {name} in common/README.md"
        assert block.group(1) == (ROOT / "tests" / "common" / "toy" / name).read_text(encoding="utf-8").rstrip("\n")
