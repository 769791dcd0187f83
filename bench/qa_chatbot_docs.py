"""The document collections of the QA bench and the tool used to write their question sets.

TUNING documents: Debian Reference (package ``debian-reference-en``), its HTML chapters; and the Debian FAQ
(package ``debian-faq``), its HTML chapters (a second tuning set, added to make the choice of settings robust).
REPORT documents: The Debian Administrator's Handbook (package ``debian-handbook``), its HTML pages.

    .venv/bin/python bench/qa_chatbot_docs.py sample tune 40 --seed 16 [--start 0 --count 20]

prints randomly drawn passages (seeded, prose only) with numbered sentences; a question was written for
each by reading that passage only, and its answering sentence copied verbatim (see qa_chatbot_data.md).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from solutions.qa_chatbot.documents import DocumentBudget, parse_document, split_sentences

REFERENCE = Path("/usr/share/debian-reference")
DEBIAN_FAQ_HTML = Path("/usr/share/doc/debian/FAQ")
HANDBOOK = Path("/usr/share/doc/debian-handbook/html/en-US")


def collection(name: str) -> list[Path]:
    if name == "tune":
        return sorted(p for p in REFERENCE.glob("*.en.html") if p.name != "index.en.html")
    if name == "faq":
        return sorted(p for p in DEBIAN_FAQ_HTML.glob("*.en.html") if p.name != "index.en.html")
    if name == "report":
        return sorted(p for p in HANDBOOK.glob("*.html") if p.name != "index.html")
    raise ValueError(name)


def load(name: str, max_chars: int = 1000) -> dict[str, list]:
    budget = DocumentBudget(max_chars=max_chars)
    return {p.name: parse_document(p, budget=budget).passages for p in collection(name)}


def prose(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    return len(text) >= 300 and letters / len(text) > 0.7 and len(split_sentences(text)) >= 3


def draw(name: str, n: int, seed: int, exclude: list[str]) -> list:
    """The passages a ``sample`` command printed (seeded, prose only, earlier draws left out)."""
    docs = load(name)
    pool = [p for ps in docs.values() for p in ps if prose(p.text)]
    for spec in exclude:
        k, s = map(int, spec.split(":"))
        taken = {(p.document, p.position) for p in random.Random(s).sample(pool, k)}
        pool = [p for p in pool if (p.document, p.position) not in taken]
    return random.Random(seed).sample(pool, n)


def build(name: str, n: int, seed: int, exclude: list[str], spec: Path) -> list[dict[str, str]]:
    """The question set of a ``draw|sentence|question`` spec: query, document, heading, answering sentence."""
    picked = draw(name, n, seed, exclude)
    out = []
    for line in spec.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        k, j, query = line.split("|", 2)
        p = picked[int(k)]
        out.append({"query": query, "document": p.document, "heading": p.heading,
                    "answer_sentence": split_sentences(p.text)[int(j)]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["sample", "build"], help="build: write the JSONL of a spec (--spec) to stdout")
    ap.add_argument("--spec", type=Path)
    ap.add_argument("set", choices=["tune", "faq", "report"])
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--exclude", type=str, action="append", default=[],
                    help="leave out the passages an earlier draw (n, seed) picked, given as N:SEED", metavar="N:SEED")
    args = ap.parse_args()
    if args.cmd == "build":
        for row in build(args.set, args.n, args.seed, args.exclude, args.spec):
            print(json.dumps(row, ensure_ascii=False))
        return
    picked = draw(args.set, args.n, args.seed, args.exclude)
    for k, p in enumerate(picked[args.start:args.start + args.count], args.start):
        print(f"## {k} {p.document} #{p.position} | {p.heading}")
        for i, s in enumerate(split_sentences(p.text)):
            print(f"  [{i}] {s}")


if __name__ == "__main__":
    main()
