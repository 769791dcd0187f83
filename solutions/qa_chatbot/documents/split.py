"""Sections → passages of at most ``max_chars`` characters that follow paragraphs and sentences.

Paragraphs of a section are packed greedily into passages; a paragraph that does not fit in an empty
passage is split between sentences (lines for preformatted blocks), and only a single sentence longer
than the limit is cut, at a clause break or a space (:func:`sentences.cut_long`). A passage never spans two
sections, so its heading path is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .model import Passage, Section
from .sentences import _split_lines, cut_long, sentence_spans

PARAGRAPH_JOIN = "\n\n"


def section_pieces(section: Section, max_chars: int) -> Iterator[str]:
    """The texts of the passages of one section, in order."""
    current: list[str] = []
    size = 0

    def flush() -> Iterator[str]:
        nonlocal current, size
        if current:
            yield PARAGRAPH_JOIN.join(current)
        current, size = [], 0

    for index, block in enumerate(section.blocks):
        extra = len(block) + (len(PARAGRAPH_JOIN) if current else 0)
        if size + extra <= max_chars:
            current.append(block)
            size += extra
            continue
        yield from flush()
        if len(block) <= max_chars:
            current, size = [block], len(block)
            continue
        units = _units(block, index in section.literal, max_chars)
        glue = "\n" if index in section.literal else " "
        piece: list[str] = []
        piece_size = 0
        for unit in units:
            add = len(unit) + (len(glue) if piece else 0)
            if piece and piece_size + add > max_chars:
                yield glue.join(piece)
                piece, piece_size = [], 0
                add = len(unit)
            piece.append(unit)
            piece_size += add
        if piece:  # the tail of a long paragraph may share a passage with what follows
            current, size = [glue.join(piece)], piece_size
    yield from flush()


def _units(block: str, literal: bool, max_chars: int) -> list[str]:
    spans = _split_lines(block, 0, len(block)) if literal else sentence_spans(block)
    out: list[str] = []
    for start, end in spans:
        if end - start <= max_chars:
            out.append(block[start:end])
        else:
            out.extend(block[s:e] for s, e in cut_long(block, start, end, max_chars))
    return out


def passages_of(sections: Iterable[Section], document: str, max_chars: int = 1000,
                max_passages: int | None = None) -> Iterator[Passage]:
    """Every passage of ``sections`` in document order, stopping after ``max_passages``."""
    position = 0
    for section in sections:
        for text in section_pieces(section, max_chars):
            if max_passages is not None and position >= max_passages:
                return
            yield Passage(document=document, path=section.path, text=text, position=position,
                          anchor=section.anchor)
            position += 1
