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


class _Blocks:
    """The question/answer blocks of a plain-text FAQ as a parser meets its lines: a numbered question starts a
    block, then lines go to its question (a question may wrap) or to its answer, until the next question or until
    :meth:`close` (what follows is dropped)."""

    def __init__(self) -> None:
        self._blocks: list[tuple[str, list[str], list[str]]] = []
        self._open = False

    def __len__(self) -> int:
        return len(self._blocks)

    def start(self, number: str, first_line: str) -> None:
        self._blocks.append((number, [first_line.strip()], []))
        self._open = True

    def ask(self, line: str) -> None:
        if self._open:
            self._blocks[-1][1].append(line.strip())

    def answer(self, line: str) -> None:
        if self._open:
            self._blocks[-1][2].append(line.strip())

    def close(self) -> None:
        self._open = False

    def pairs(self, prefix: str) -> list[dict[str, str]]:
        out = []
        for number, question, answer in self._blocks:
            q = " ".join(" ".join(question).split())
            a = " ".join(" ".join(answer).split())
            if q and a:
                out.append({"section": f"{prefix}{number}", "question": q, "answer": a})
        return out


def _ends_question(text: str) -> bool:
    return text.rstrip().endswith(("?", "."))


def parse_zlib_faq(path: Path = ZLIB_FAQ) -> list[dict[str, str]]:
    """Numbered questions at the margin; a question may wrap onto indented lines until a blank line."""
    blocks, in_question = _Blocks(), False
    for line in _read(path):
        if m := _ZLIB_Q.match(line):
            blocks.start(m.group(1), m.group(2))
            in_question = True
        elif in_question and line.strip():
            blocks.ask(line)
        else:
            in_question = False
            blocks.answer(line)
    return blocks.pairs("zlib-")


def parse_xz_faq(path: Path = XZ_FAQ) -> list[dict[str, str]]:
    """``Q:`` and ``A:`` paragraphs."""
    blocks, in_question = _Blocks(), False
    for line in _read(path):
        if line.startswith("Q:"):
            blocks.start(str(len(blocks) + 1), line[2:])
            in_question = True
        elif line.startswith("A:"):
            in_question = False
            blocks.answer(line[2:])
        elif in_question:
            blocks.ask(line)
        else:
            blocks.answer(line)
    return blocks.pairs("xz-")


def parse_valgrind_faq(path: Path = VALGRIND_FAQ) -> list[dict[str, str]]:
    """``N.M. Question`` lines (a question may wrap until it ends with ``?`` or ``.``); the answer runs to the next
    ``----`` rule, and text between a rule and the next question is dropped."""
    blocks, in_question = _Blocks(), False
    for line in _read(path):
        if m := _VALGRIND_Q.match(line):
            blocks.start(m.group(1), m.group(2))
            in_question = not _ends_question(m.group(2))
        elif line.startswith("-----"):
            in_question = False
            blocks.close()
        elif in_question and line.strip():
            blocks.ask(line)
            in_question = not _ends_question(line)
        else:
            in_question = False
            blocks.answer(line)
    return blocks.pairs("valgrind-")


def parse_report_faq() -> list[dict[str, str]]:
    return parse_zlib_faq() + parse_xz_faq() + parse_valgrind_faq()
