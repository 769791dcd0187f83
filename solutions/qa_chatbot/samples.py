"""Sample data, all real: the Debian FAQ as HTML documents (package ``debian-faq``) and a small FAQ CSV made from
the FAQs that Debian's ``base-files`` and ``procps`` packages ship (question/answer pairs as their authors wrote
them)."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

from common.errors import NotFound
from common.pipeline import SampleData

DEBIAN_FAQ_HTML = Path("/usr/share/doc/debian/FAQ")
BASE_FILES_FAQ = Path("/usr/share/doc/base-files/FAQ")
PROCPS_FAQ = Path("/usr/share/doc/procps/FAQ.gz")
ORIGIN = ("the Debian FAQ (17 HTML chapters, Debian package debian-faq) and faq.csv: the FAQs of the base-files "
          "and procps packages")


def _need(path: Path, package: str) -> None:
    if not path.exists():
        raise NotFound(f"{path} is missing: install the Debian package {package} "
                       f"(apt-get install {package}, or make setup)")


def base_files_pairs(path: Path = BASE_FILES_FAQ) -> list[tuple[str, str]]:
    """``Q.`` and ``A.`` paragraphs; consecutive questions share the answer that follows them."""
    pairs: list[tuple[str, str]] = []
    questions: list[str] = []
    answer: list[list[str]] | None = None
    for block in _blocks(path.read_text(encoding="utf-8").splitlines()):
        head = block[0]
        if head.startswith("Q. "):
            if answer is not None:
                pairs += [(q, _join(answer)) for q in questions]
                questions, answer = [], None
            questions.append(" ".join(x.strip() for x in [head[3:], *block[1:]]))
        elif head.startswith("A. "):
            answer = [[head[3:], *block[1:]]]
        elif head.startswith("* ") or head.rstrip().endswith(">"):  # a topic heading, the signature
            if answer is not None:
                pairs += [(q, _join(answer)) for q in questions]
            questions, answer = [], None
        elif answer is not None:
            answer.append(block)
    if answer is not None:
        pairs += [(q, _join(answer)) for q in questions]
    return [(q, a) for q, a in pairs if q and a]


def procps_pairs(path: Path = PROCPS_FAQ) -> list[tuple[str, str]]:
    """Questions at the margin, answers indented below them."""
    pairs: list[tuple[str, list[str]]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh.read().splitlines():
            if line and not line[0].isspace():
                pairs.append((line.strip(), []))
            elif pairs:
                pairs[-1][1].append(line)
    return [(q, _join(list(_blocks(a)))) for q, a in pairs if q.endswith("?") and a]


def _blocks(lines: list[str]) -> Iterator[list[str]]:
    """Runs of non-blank lines."""
    block: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []


def _join(blocks: list[list[str]]) -> str:
    """Paragraphs separated by a blank line; the lines of a paragraph joined with spaces, except in a paragraph
    indented deeper than the text around it (a command, an example), which keeps its lines."""
    def indent(line: str) -> int:
        return len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())

    base = min((indent(x) for b in blocks for x in b), default=0)
    out = []
    for block in blocks:
        code = all(indent(x) > base for x in block)
        out.append("\n".join(x.strip() for x in block) if code else " ".join(x.strip() for x in block))
    return "\n\n".join(p for p in out if p).strip()


def write_faq_csv(dest: Path) -> Path:
    _need(BASE_FILES_FAQ, "base-files")
    _need(PROCPS_FAQ, "procps")
    path = dest / "faq.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["question", "answer", "package"])
        for q, a in base_files_pairs():
            writer.writerow([q, a, "base-files"])
        for q, a in procps_pairs():
            writer.writerow([q, a, "procps"])
    return path


def write_sample_data(dest: Path) -> SampleData:
    """``dest/faq.csv`` and ``dest/debian-faq/*.html``."""
    _need(DEBIAN_FAQ_HTML, "debian-faq")
    chapters = sorted(DEBIAN_FAQ_HTML.glob("*.en.html"))
    if not chapters:
        raise NotFound(f"no HTML chapters under {DEBIAN_FAQ_HTML}: install the Debian package debian-faq")
    dest.mkdir(parents=True, exist_ok=True)
    html = dest / "debian-faq"
    html.mkdir(exist_ok=True)
    for chapter in chapters:
        shutil.copyfile(chapter, html / chapter.name.replace(".en.html", ".html"))
    write_faq_csv(dest)
    return SampleData(dest, ORIGIN)
