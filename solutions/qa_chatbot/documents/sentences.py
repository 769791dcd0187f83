"""Sentence and clause boundaries as character spans, so highlights and passages can point into the text.

A rule-based splitter (prose in European languages): a sentence ends at ``.``, ``!``, ``?`` or ``…``
(plus closing quotes/brackets) followed by white space, unless the next word starts in lower case
(``etc. and``), the word before the stop is a known abbreviation (``e.g.``, ``Dr.``, ``Fig.``...) or a
single initial (``J. Smith``). A line break always ends a unit (list items, lines of code).
"""

from __future__ import annotations

import re

# a candidate end: terminal punctuation, optional closers, then white space
_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_ABBREVIATIONS = frozenset({
    "e.g", "i.e", "cf", "vs", "viz", "al", "approx", "resp", "incl", "esp", "ca", "fig", "figs", "eq", "eqs", "vol",
    "pp", "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "inc", "ltd", "corp", "jan", "feb", "mar", "apr", "jun",
    "jul", "aug", "sep", "sept", "oct", "nov", "dec",
})
_CLAUSE_BREAKS = ("; ", ": ", " — ", " – ", " - ", ", ", ") ", " (")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[(start, end)]`` of the sentences of ``text``, white space trimmed, in order, covering all its words."""
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    for m in _END.finditer(text):
        end = m.end()
        nxt = _next_non_space(text, end)
        if nxt >= n:
            break
        if not _can_start(text[nxt]) or _is_abbreviation(text, m.start()):
            continue
        _add(spans, text, start, end)
        start = nxt
    # line-level boundaries: blank lines, and lines of lists or code
    out: list[tuple[int, int]] = []
    _add(spans, text, start, n)
    for s, e in spans:
        out.extend(_split_lines(text, s, e))
    return out


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def cut_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` into spans of at most ``limit`` characters, at the last clause break
    (``;`` ``:`` dash ``,``) inside the limit, else at the last space, else (one huge word) at the limit."""
    out: list[tuple[int, int]] = []
    while end - start > limit:
        window = text[start:start + limit + 1]
        cut = -1
        for brk in _CLAUSE_BREAKS:
            at = window.rfind(brk)
            if at > limit // 3:  # a break too near the start would leave a stub
                cut = at + (1 if brk[0] != " " else 0)
                break
        if cut <= 0:
            at = window.rfind(" ")
            cut = at if at > 0 else limit
        piece_end = start + cut
        _add(out, text, start, piece_end)
        start = _next_non_space(text, piece_end)
    _add(out, text, start, end)
    return out


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    chunk = text[start:end]
    if "\n" not in chunk:
        return [(start, end)]
    out: list[tuple[int, int]] = []
    pos = start
    for line in chunk.split("\n"):
        _add(out, text, pos, pos + len(line))
        pos += len(line) + 1
    return out


def _add(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _next_non_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace() and text[i] != "\n":
        i += 1
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _can_start(ch: str) -> bool:
    return not ch.islower()


def _is_abbreviation(text: str, stop: int) -> bool:
    """The word before the stop at ``stop`` is an abbreviation or an initial."""
    begin = stop
    while begin > 0 and not text[begin - 1].isspace() and text[begin - 1] not in "([\"'“":
        begin -= 1
    word = text[begin:stop].lower().rstrip(".")
    if not word:
        return False
    if word in _ABBREVIATIONS:
        return True
    # a single letter ("J. Smith", "option b. Then") or a dotted acronym ("U.S.")
    return (len(word) == 1 and word.isalpha()) or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))
