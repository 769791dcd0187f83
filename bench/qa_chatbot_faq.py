"""Parse the Debian FAQ (Debian package ``debian-faq``, plain-text edition) into question/answer pairs."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

FAQ_TXT = Path("/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz")
HEAD = re.compile(r"^(\d+)\.(\d+)\.[\s\u00a0]+(\S.*)$")
CHAPTER = re.compile(r"^(Chapter )?\d+\.[\s\u00a0]+[A-Z]")


def parse_faq(path: Path = FAQ_TXT) -> list[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    pairs: list[dict[str, str]] = []
    i = 0
    current: dict[str, object] | None = None
    while i < len(lines):
        m = HEAD.match(lines[i])
        if m and not lines[i].startswith(" "):
            if current:
                pairs.append(_close(current))
            title = [m.group(3)]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(" "):
                title.append(lines[i].strip())
                i += 1
            current = {"section": f"{m.group(1)}.{m.group(2)}", "question": " ".join(title), "body": []}
            continue
        if CHAPTER.match(lines[i]) and current:
            pairs.append(_close(current))
            current = None
        elif current is not None:
            current["body"].append(lines[i].strip())  # type: ignore[union-attr]
        i += 1
    if current:
        pairs.append(_close(current))
    return [p for p in pairs if p["answer"]]


def _close(current: dict[str, object]) -> dict[str, str]:
    body = " ".join(x for x in current["body"] if x)  # type: ignore[union-attr]
    return {"section": str(current["section"]), "question": str(current["question"]), "answer": body.strip()}


if __name__ == "__main__":
    for pair in parse_faq():
        print(pair["section"], "|", pair["question"], "|", len(pair["answer"]))


# -- the REPORT FAQ: three upstream FAQs shipped by Debian packages, parsed from their plain text ------------
ZLIB_FAQ = Path("/usr/share/doc/zlib1g-dev/FAQ.gz")
XZ_FAQ = Path("/usr/share/doc/xz-utils/faq.txt.gz")
VALGRIND_FAQ = Path("/usr/share/doc/valgrind/FAQ.txt.gz")
_ZLIB_Q = re.compile(r"^ ?(\d+)\. (\S.*)$")
_VALGRIND_Q = re.compile(r"^(\d+\.\d+)\. (\S.*)$")


def _read(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def _pairs(blocks: list[tuple[str, list[str], list[str]]], prefix: str) -> list[dict[str, str]]:
    out = []
    for number, question, answer in blocks:
        q = " ".join(" ".join(question).split())
        a = " ".join(" ".join(answer).split())
        if q and a:
            out.append({"section": f"{prefix}{number}", "question": q, "answer": a})
    return out


def parse_zlib_faq(path: Path = ZLIB_FAQ) -> list[dict[str, str]]:
    """Numbered questions at the margin; a question may wrap onto indented lines until a blank line."""
    blocks: list[tuple[str, list[str], list[str]]] = []
    in_question = False
    for line in _read(path):
        m = _ZLIB_Q.match(line)
        if m:
            blocks.append((m.group(1), [m.group(2)], []))
            in_question = True
        elif blocks and in_question and line.strip():
            blocks[-1][1].append(line.strip())
        elif blocks:
            in_question = False
            blocks[-1][2].append(line.strip())
    return _pairs(blocks, "zlib-")


def parse_xz_faq(path: Path = XZ_FAQ) -> list[dict[str, str]]:
    """``Q:`` and ``A:`` paragraphs."""
    blocks: list[tuple[str, list[str], list[str]]] = []
    target: list[str] | None = None
    for line in _read(path):
        if line.startswith("Q:"):
            blocks.append((str(len(blocks) + 1), [line[2:].strip()], []))
            target = blocks[-1][1]
        elif line.startswith("A:") and blocks:
            target = blocks[-1][2]
            target.append(line[2:].strip())
        elif target is not None:
            target.append(line.strip())
    return _pairs(blocks, "xz-")


def parse_valgrind_faq(path: Path = VALGRIND_FAQ) -> list[dict[str, str]]:
    """``N.M. Question`` lines; the answer runs to the next ``----`` rule."""
    blocks: list[tuple[str, list[str], list[str]]] = []
    in_question = False
    for line in _read(path):
        m = _VALGRIND_Q.match(line)
        if m:
            blocks.append((m.group(1), [m.group(2)], []))
            in_question = not m.group(2).rstrip().endswith(("?", "."))
        elif line.startswith("-----"):
            in_question = False
            if blocks:
                blocks[-1][2].append("\n")
                blocks.append(("", [], []))  # text between a rule and the next question is dropped
        elif blocks and blocks[-1][0]:
            if in_question and line.strip():
                blocks[-1][1].append(line.strip())
                in_question = not line.rstrip().endswith(("?", "."))
            else:
                in_question = False
                blocks[-1][2].append(line.strip())
    return _pairs([b for b in blocks if b[0]], "valgrind-")


def parse_report_faq() -> list[dict[str, str]]:
    return parse_zlib_faq() + parse_xz_faq() + parse_valgrind_faq()
