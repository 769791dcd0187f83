"""Build ``label_context.tsv``: each ImageNet class with the more general names WordNet gives it.

Run once, by a maintainer, where Debian ``wordnet-base`` and ``opencv-doc`` are installed (the result ships
with the project; neither package is needed at run time)::

    python -m solutions.image_search.data.build_label_context

The 1000 classes of ``common/data/imagenet_classes.txt`` are WordNet 3.0 noun synsets, in the order of their
offsets (ILSVRC-2012 sorts classes by WordNet id). Each line of opencv-doc's
``classification_classes_ILSVRC2012.txt`` lists one synset's lemmas; it is matched to the synset with exactly
those lemmas, the smallest offset after the previous class's when several have them (``crane`` the bird, then
``crane`` the machine). The output line is ``<class name>\\t<hypernym>; <hypernym's hypernym>; ...`` with up to
:data:`LEVELS` levels, so the text search can tell that a "Granny Smith" is an apple, an edible fruit.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from common.images import load_labels

WORDNET = Path("/usr/share/wordnet/data.noun")
SYNONYMS = Path("/usr/share/doc/opencv-doc/examples/data/dnn/classification_classes_ILSVRC2012.txt")
OUT = Path(__file__).with_name("label_context.tsv")
LEVELS = 3
#: hypernyms too general to say anything about a picture
TOO_GENERAL = frozenset({"entity", "physical entity", "abstraction", "object", "whole", "artifact", "organism",
                         "living thing", "instrumentality", "matter", "causal agent", "unit", "being"})


def parse_wordnet(path: Path) -> tuple[dict[int, list[str]], dict[int, list[int]]]:
    """Lemmas and hypernym offsets of every noun synset."""
    lemmas: dict[int, list[str]] = {}
    hypernyms: dict[int, list[int]] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue  # licence header
        fields = line.split(" | ", 1)[0].split()
        offset, count = int(fields[0]), int(fields[3], 16)
        words = [fields[4 + 2 * i].replace("_", " ") for i in range(count)]
        pos = 4 + 2 * count
        n_ptr = int(fields[pos])
        ptrs = fields[pos + 1: pos + 1 + 4 * n_ptr]
        lemmas[offset] = [_clean(w) for w in words]
        hypernyms[offset] = [int(ptrs[i + 1]) for i in range(0, len(ptrs), 4) if ptrs[i] in ("@", "@i")]
    return lemmas, hypernyms


def _clean(word: str) -> str:
    return word.split("(", 1)[0].strip()  # adjective markers: "large(a)"


def match_classes(lemmas: dict[int, list[str]], lines: list[str]) -> list[int]:
    by_lemmas: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for offset, words in lemmas.items():
        by_lemmas[tuple(w.lower() for w in words)].append(offset)
    chosen: list[int] = []
    for line in lines:
        key = tuple(w.strip().lower() for w in line.split(","))
        after = chosen[-1] if chosen else -1
        options = sorted(o for o in by_lemmas.get(key, []) if o > after)
        if not options:
            raise SystemExit(f"no WordNet synset after {after} with lemmas {key}")
        chosen.append(options[0])
    return chosen


def context(offset: int, lemmas: dict[int, list[str]], hypernyms: dict[int, list[int]]) -> list[str]:
    out: list[str] = []
    level = hypernyms.get(offset, [])
    while level and len(out) < LEVELS:
        name = lemmas[level[0]][0]
        if name.lower() in TOO_GENERAL:
            break
        out.append(name)
        level = hypernyms.get(level[0], [])
    return out


def main() -> int:
    lemmas, hypernyms = parse_wordnet(WORDNET)
    lines = [ln for ln in SYNONYMS.read_text(encoding="utf-8").splitlines() if ln.strip()]
    offsets = match_classes(lemmas, lines)
    names = load_labels()
    rows = [f"{name}\t{'; '.join(context(o, lemmas, hypernyms))}" for name, o in zip(names, offsets, strict=True)]
    OUT.write_text("\n".join(rows) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {OUT} ({len(rows)} classes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
