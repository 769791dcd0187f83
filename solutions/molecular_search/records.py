"""Molecule files → records, streamed: ``.smi`` lines, CSV/TSV/JSON Lines rows, SD file records.

Each reader yields ``(line, Record)`` per molecule, or ``(line, error)`` for a record it cannot read, and
never holds more than one record (a load's memory is O(batch), whatever the file size):

* ``.smi`` (also ``.smiles``, ``.ism``, ``.can``): ``SMILES [name]`` per line (with tabs, the name is the
  second column), or ``name SMILES`` when the first line's first column is no SMILES and its second is (ZINC's
  and RDKit's data files); ``#`` comments, blank lines and a ``smiles name`` header are skipped.
* ``.csv``/``.tsv``/``.jsonl``/``.json``: read by :func:`common.files.read_records`; a ``smiles`` column
  (or ``canonical_smiles``, ``isosmiles``... any case), a name from ``name``/``id``/``title``/..., every
  other column kept as a text field, named as in the file.
* ``.sdf`` (also ``.sd``, ``.mol``): every ``$$$$``-separated record; the title line is the name and the
  ``> <TAG>`` data items become fields.

RDKit has not looked at a record yet (beyond telling a name column from a SMILES one): :mod:`.ingest` parses and
sanitises it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.files import column, folded_keys, open_text, skip_line
from common.files import read_records as read_table

from .chem import reads_as_smiles

#: columns (any case) a table's SMILES is read from: the first of them the header has. RDKit, ChEMBL and PubChem
#: spellings (``isosmiles``, ``IsomericSMILES``, ``Canonical SMILES``)
SMILES_COLUMNS = ("smiles", "canonical_smiles", "smi", "isomeric_smiles", "isosmiles", "isomericsmiles",
                  "isomeric smiles", "canonicalsmiles", "canonical smiles", "smiles_string")
#: columns (any case) a molecule's name is taken from: the first of them a row fills, names before ids (a ChEMBL
#: export's ``pref_name`` is empty for most molecules, its ``chembl_id`` never is)
NAME_COLUMNS = ("name", "pref_name", "molecule_name", "molecule name", "compound_name", "compound name", "mol_name",
                "title", "compound", "id", "compound_id", "compound id", "molecule_id", "molecule chembl id",
                "chembl_id", "chembl id", "cid", "pubchem_cid", "zinc_id", "catalog_id", "catalog id")
#: fields kept per molecule (CSV columns, SD tags), and their size
MAX_FIELDS = 50
MAX_FIELD_CHARS = 500
MAX_NAME_CHARS = 512
#: longest SMILES line / SD record read; longer ones are reported and skipped without being held
MAX_LINE_CHARS = 100_000
MAX_SDF_RECORD_CHARS = 1 << 20
#: bytes looked at to tell the format of a file whose name does not
HEAD_CHARS = 4096

SMI_SUFFIXES = frozenset({".smi", ".smiles", ".ism", ".can"})
TABLE_SUFFIXES = frozenset({".csv", ".tsv", ".jsonl", ".ndjson", ".json"})
SDF_SUFFIXES = frozenset({".sdf", ".sd", ".mol"})


@dataclass
class Record:
    """One molecule as read from a file: ``kind`` is ``smiles`` or ``molblock``."""

    kind: str
    text: str
    name: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    #: an SD file's record: its number in the file (1 = the first)
    number: int = 0

    def named(self, error: str) -> str:
        """``error`` about this record, which an SD record's number and name start."""
        if self.kind != "molblock":
            return error
        return f"SD record {self.number}{f' ({self.name!r})' if self.name else ''}: {error}"


def detect_format(path: Path) -> str:
    """``smi``, ``table`` (CSV/TSV/JSON Lines) or ``sdf``: from the suffix, else from the first bytes."""
    suffix = path.suffix.lower()
    if suffix in SMI_SUFFIXES:
        return "smi"
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix in SDF_SUFFIXES:
        return "sdf"
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = fh.read(HEAD_CHARS)
    if "M  END" in head or "$$$$" in head:
        return "sdf"
    stripped = head.lstrip()
    first = stripped.splitlines()[0] if stripped else ""
    if stripped.startswith(("{", "[")):
        return "table"
    cells = [c.strip().strip('"').lower() for c in first.replace("\t", ",").split(",")]
    if len(cells) > 1 and any(c in SMILES_COLUMNS for c in cells):
        return "table"
    return "smi"


def read_molecules(path: Path) -> Iterator[tuple[int, Record | str]]:
    """``(line, Record)`` per molecule of ``path``, or ``(line, error)``; the file is read incrementally."""
    fmt = detect_format(path)
    try:
        if fmt == "table":
            yield from _read_table(path)
        elif fmt == "sdf":
            yield from _read_sdf(path)
        else:
            yield from _read_smi(path)
    except UnicodeDecodeError as exc:
        yield 0, f"undecodable text ({exc.reason})"


def estimate_molecules(path: Path) -> int:
    """About how many records ``path`` holds (progress bars): lines, or ``$$$$`` separators of an SD file."""
    marker = b"$$$$" if detect_format(path) == "sdf" else b"\n"
    with path.open("rb") as fh:
        return max(1, sum(block.count(marker) for block in iter(lambda: fh.read(1 << 20), b"")))


def _read_smi(path: Path) -> Iterator[tuple[int, Record | str]]:
    with open_text(path) as fh:
        number = 0
        first = True  # a header may only be the first line that is not blank or a comment
        name_first: bool | None = None  # a file whose lines start with the name, then the SMILES
        while True:
            raw = fh.readline(MAX_LINE_CHARS + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_CHARS and not raw.endswith("\n"):
                yield number, f"line longer than {MAX_LINE_CHARS} characters"
                skip_line(fh, MAX_LINE_CHARS)
                continue
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)
            header, first = first and parts[0].lower() in SMILES_COLUMNS, False
            if header:
                continue
            if name_first is None and len(parts) > 1:  # decided on the first line with two columns
                name_first = not reads_as_smiles(parts[0]) and reads_as_smiles(parts[1].split(None, 1)[0])
            if name_first and len(parts) > 1:  # "ZINC03814457<tab>SMILES", as ZINC and RDKit's data write them
                smiles, name = parts[1].split(None, 1)[0], parts[0]
            else:  # the name is the rest of the line, or its first column when the line is tab-separated
                smiles = parts[0]
                name = parts[1].split("\t", 1)[0].strip() if len(parts) > 1 else ""
            yield number, Record("smiles", smiles.strip(), name=name[:MAX_NAME_CHARS])


def _read_table(path: Path) -> Iterator[tuple[int, Record | str]]:
    smiles_key: str | None = None
    for line, row in read_table(path):
        if isinstance(row, str):
            yield line, row
            continue
        if smiles_key is None:
            smiles_key = column(row, SMILES_COLUMNS)
            if smiles_key is None:
                found = ", ".join(repr(k) for k in list(row)[:8]) + (" ..." if len(row) > 8 else "")
                yield line, (f"no SMILES column: the header has {found}; name the column of SMILES one of "
                             f"{', '.join(SMILES_COLUMNS[:4])} (any case), on the first line")
                return
        yield line, _table_record(row, smiles_key)


def _table_record(row: dict[str, Any], smiles_key: str) -> Record | str:
    smiles = _text(row.get(smiles_key)).strip()
    if not smiles:
        return "empty SMILES"
    keys = folded_keys(row)
    name_key = next((keys[c] for c in NAME_COLUMNS if c in keys and _text(row[keys[c]]).strip()), None)
    name = _text(row.get(name_key)).strip() if name_key else ""
    fields: dict[str, str] = {}
    for key, value in row.items():
        if key in (smiles_key, name_key) or not key or len(fields) >= MAX_FIELDS:
            continue
        fields[key[:100]] = _text(value)[:MAX_FIELD_CHARS]
    return Record("smiles", smiles, name=name[:MAX_NAME_CHARS], fields=fields)


def _text(value: Any) -> str:
    """A cell or a JSON value as text (a JSON list or object as JSON, not Python's repr)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)


def _read_sdf(path: Path) -> Iterator[tuple[int, Record | str]]:
    with open_text(path) as fh:
        lines: list[str] = []
        size = 0
        start = 1
        too_big = False
        records = 1  # the number of the record being read
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if line == "$$$$":
                if too_big:
                    yield start, f"SD record {records} longer than {MAX_SDF_RECORD_CHARS} characters"
                elif any(x.strip() for x in lines):
                    yield start, _sdf_record(lines, records)
                records += 1
                lines, size, too_big, start = [], 0, False, number + 1
                continue
            size += len(raw)
            if size > MAX_SDF_RECORD_CHARS:
                too_big, lines = True, []
            elif not too_big:
                lines.append(line)
        if too_big:
            yield start, f"SD record {records} longer than {MAX_SDF_RECORD_CHARS} characters"
        elif any(x.strip() for x in lines):
            yield start, _sdf_record(lines, records)


def _sdf_record(lines: list[str], number: int) -> Record:
    end = next((i for i, line in enumerate(lines) if line.startswith("M  END")), len(lines) - 1)
    block = "\n".join(lines[: end + 1]) + "\n"
    fields: dict[str, str] = {}
    key: str | None = None
    values: list[str] = []
    for line in lines[end + 1 :]:
        if line.startswith(">"):
            if key is not None and len(fields) < MAX_FIELDS:
                fields[key] = "\n".join(values).strip()[:MAX_FIELD_CHARS]
            inside = line[line.find("<") + 1 : line.rfind(">")] if "<" in line else ""
            key, values = (inside.strip()[:100] or None), []
        elif key is not None:
            values.append(line)
    if key is not None and len(fields) < MAX_FIELDS:
        fields[key] = "\n".join(values).strip()[:MAX_FIELD_CHARS]
    name = lines[0].strip() if lines else ""
    if not name:
        key = next((k for c in NAME_COLUMNS for k in fields if k.lower() == c and fields[k].strip()), None)
        name = fields.pop(key) if key else ""
    return Record("molblock", block, name=name[:MAX_NAME_CHARS], fields=fields, number=number)
