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
