"""Write the measured figures the READMEs quote from the committed result files (``make bench`` ends with it).

Every figure a README quotes sits between markers naming the result that backs it::

    <!-- bench:image_search.summary -->
    ...generated; do not edit by hand...
    <!-- /bench:image_search.summary -->

``image_search.summary`` is the text under ``"readme" -> "summary"`` in ``bench/results/image_search.json``, which
the benchmark script wrote from its own measurements. ``demos.headline`` is a table of one row per registered
demo: each demo's ``readme -> headline`` row. ``python -m bench.report --check`` fails when a README
differs from its result files (a test runs it), so a figure cannot drift from the file behind it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MARKER = re.compile(r"(<!-- bench:([\w.-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "solutions").glob("*/README.md"))]


HEADLINE_HEADER = "| demo | speed | quality |\n|---|---|---|\n"


def figure(key: str) -> str:
    """The generated text for ``<result>.<name>``."""
    stem, _, name = key.partition(".")
    if stem == "demos":
        from common.registry import DEMOS

        return HEADLINE_HEADER + "".join(figure(f"{d.name}.{name}") for d in DEMOS)
    path = RESULTS / f"{stem}.json"
    if not path.is_file():
        raise KeyError(f"{key}: no result file {path.relative_to(ROOT)} (run make bench)")
    readme = json.loads(path.read_text(encoding="utf-8")).get("readme", {})
    if name not in readme:
        raise KeyError(f"{key}: {path.relative_to(ROOT)} has no readme.{name}")
    return str(readme[name]).rstrip("\n") + "\n"


def render(text: str) -> str:
    return MARKER.sub(lambda m: m.group(1) + figure(m.group(2)) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail if a README differs from its result files")
    args = parser.parse_args(argv)
    stale = []
    for doc in documents():
        text = doc.read_text(encoding="utf-8")
        try:
            new = render(text)
        except KeyError as exc:
            print(f"{doc.relative_to(ROOT)}: {exc.args[0]}", file=sys.stderr)
            return 1
        if new != text:
            stale.append(doc)
            if not args.check:
                doc.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("out of date with bench/results: " + ", ".join(str(d.relative_to(ROOT)) for d in stale), file=sys.stderr)
        return 1
    for doc in stale:
        print(f"updated {doc.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
