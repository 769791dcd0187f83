"""Chemistry with RDKit: reading records, sanitising, canonical SMILES, fingerprints, properties, drawings.

Everything here is pure (no stores): the pipeline calls it, the tests and the benchmark too.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem.Draw import rdMolDraw2D

log = logging.getLogger(__name__)

# RDKit prints parse errors to stderr; we report them per record instead.
RDLogger.DisableLog("rdApp.*")

SMILES_COLUMNS = ("smiles", "canonical_smiles", "smi", "isomeric_smiles")
NAME_COLUMNS = ("name", "id", "title", "mol_name", "compound", "compound_id")
#: properties kept from CSV columns / SD tags (per molecule)
MAX_PROPERTIES = 50
MAX_PROPERTY_CHARS = 500


#: characters and tokens that only SMARTS gives a meaning to (RDKit's SMILES parser accepts some of them)
_SMARTS_ONLY = re.compile(r"[~;,!&$*?]|\[#")


def looks_like_smarts(text: str) -> bool:
    """True when ``text`` uses SMARTS-only syntax (a query, not a molecule; ``*`` is a SMILES dummy atom)."""
    return bool(_SMARTS_ONLY.search(text.replace("*", "")))


class ChemError(ValueError):
    """A record or query RDKit cannot turn into a molecule; the message says why."""


@dataclass
class Record:
    """One molecule as read from a file, before RDKit looked at it."""

    kind: str  # "smiles" or "molblock"
    text: str
    name: str = ""
    properties: dict[str, str] = field(default_factory=dict)


# -- reading files ----------------------------------------------------------------------------
def detect_format(path: Path, head: str) -> str:
    """``smi``, ``csv`` or ``sdf`` from the extension, else from the content."""
    suffix = path.suffix.lower()
    if suffix in (".smi", ".smiles", ".ism", ".can", ".txt"):
        return "sdf" if "$$$$" in head or "M  END" in head else "smi"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".sdf", ".sd", ".mol"):
        return "sdf"
    if "M  END" in head or "$$$$" in head:
        return "sdf"
    first = head.lstrip("\ufeff").splitlines()[0] if head.strip() else ""
    if "," in first and any(c.strip().strip('"').lower() in SMILES_COLUMNS for c in first.split(",")):
        return "csv"
    return "smi"


def read_records(path: Path) -> Iterator[tuple[int, Record | str]]:
    """``(line_number, Record)`` per molecule of a file, or ``(line, error message)`` for a bad record."""
    with path.open("r", encoding="utf-8-sig", errors="strict", newline="") as fh:
        try:
            head = fh.read(4096)
        except UnicodeDecodeError:
            yield 0, "not a UTF-8 text file"
            return
        fh.seek(0)
        fmt = detect_format(path, head)
        try:
            if fmt == "csv":
                yield from _read_csv(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            elif fmt == "sdf":
                yield from _read_sdf(fh)
            else:
                yield from _read_smi(fh)
        except UnicodeDecodeError as exc:
            yield 0, f"file is not valid UTF-8 ({exc.reason} at byte {exc.start} of a block)"
        except csv.Error as exc:
            yield 0, f"unreadable CSV: {exc}"


def _read_smi(fh: io.TextIOBase) -> Iterator[tuple[int, Record | str]]:
    for number, raw in enumerate(fh, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if number == 1 and parts[0].lower() in SMILES_COLUMNS:
            continue  # a header line
        name = parts[1].strip() if len(parts) > 1 else ""
        yield number, Record("smiles", parts[0], name=name[:512])


def _read_csv(fh: io.TextIOBase, delimiter: str) -> Iterator[tuple[int, Record | str]]:
    reader = csv.reader(fh, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    lowered = [h.strip().lower() for h in header]
    smiles_col = next((lowered.index(c) for c in SMILES_COLUMNS if c in lowered), None)
    if smiles_col is None:
        yield 1, f"no SMILES column in the header (expected one of: {', '.join(SMILES_COLUMNS)})"
        return
    name_col = next((lowered.index(c) for c in NAME_COLUMNS if c in lowered), None)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= smiles_col or not row[smiles_col].strip():
            yield start, "empty SMILES"
            continue
        props: dict[str, str] = {}
        for i, cell in enumerate(row):
            if i in (smiles_col, name_col) or i >= len(header) or not header[i].strip():
                continue
            if len(props) < MAX_PROPERTIES:
                props[header[i].strip()[:100]] = cell[:MAX_PROPERTY_CHARS]
        name = row[name_col].strip() if name_col is not None and name_col < len(row) else ""
        yield start, Record("smiles", row[smiles_col].strip(), name=name[:512], properties=props)


def _read_sdf(fh: io.TextIOBase) -> Iterator[tuple[int, Record | str]]:
    lines: list[str] = []
    start = 1
    for number, raw in enumerate(fh, start=1):
        if raw.rstrip("\r\n") == "$$$$":
            if any(line.strip() for line in lines):
                yield start, _sdf_record(lines)
            lines = []
            start = number + 1
        else:
            lines.append(raw.rstrip("\r\n"))
    if any(line.strip() for line in lines):
        yield start, _sdf_record(lines)


def _sdf_record(lines: list[str]) -> Record:
    try:
        end = next(i for i, line in enumerate(lines) if line.startswith("M  END"))
    except StopIteration:
        end = len(lines) - 1
    block = "\n".join(lines[: end + 1]) + "\n"
    props: dict[str, str] = {}
    key: str | None = None
    values: list[str] = []
    for line in lines[end + 1 :]:
        if line.startswith(">"):
            if key is not None:
                props[key] = "\n".join(values).strip()[:MAX_PROPERTY_CHARS]
            inside = line[line.find("<") + 1 : line.rfind(">")] if "<" in line else ""
            key, values = (inside.strip()[:100] or None), []
        elif key is not None:
            values.append(line)
    if key is not None:
        props[key] = "\n".join(values).strip()[:MAX_PROPERTY_CHARS]
    name = lines[0].strip() if lines else ""
    if not name:
        name = next((props.pop(k) for k in list(props) if k.lower() in NAME_COLUMNS), "")
    return Record("molblock", block, name=name[:512], properties=dict(list(props.items())[:MAX_PROPERTIES]))


# -- molecules -------------------------------------------------------------------------------
def parse_smiles(smiles: str) -> Chem.Mol:
    """A sanitised molecule from SMILES, or :class:`ChemError` saying what is wrong."""
    smiles = smiles.strip()
    if not smiles:
        raise ChemError("empty SMILES")
    mol = Chem.MolFromSmiles(smiles)  # fast path: parse and sanitise in one call
    if mol is not None and mol.GetNumAtoms():
        return mol
    mol = Chem.MolFromSmiles(smiles, sanitize=False)  # failed: find out why
    if mol is None:
        raise ChemError(f"SMILES syntax error in {_short(smiles)}{name_hint(smiles)}")
    return _sanitise(mol, smiles)


#: text that reads as a word or a name ("aspirin", "acetic acid", "Vitamin C")
_NAME_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9 ,'\-]*[A-Za-z0-9)]?")


def name_hint(text: str) -> str:
    """A hint appended to a parse error when the text looks like a compound name, not a SMILES."""
    text = text.strip()
    if len(text) >= 3 and _NAME_LIKE.fullmatch(text) and any(c.islower() for c in text if c not in "cnosp"):
        return (f" — {_short(text)} looks like a name: enter a SMILES, not a name "
                "(e.g. CC(=O)Oc1ccccc1C(=O)O for aspirin)")
    return ""


def parse_molblock(block: str) -> Chem.Mol:
    mol = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
    if mol is None:
        raise ChemError("unreadable molfile block")
    mol = _sanitise(mol, "molfile record")
    return Chem.RemoveHs(mol)


def _sanitise(mol: Chem.Mol, what: str) -> Chem.Mol:
    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        raise ChemError(f"RDKit sanitisation failed for {_short(what)}: {problems[0].Message()}")
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several sanitisation exception types
        raise ChemError(f"RDKit sanitisation failed for {_short(what)}: {exc}") from exc
    if mol.GetNumAtoms() == 0:
        raise ChemError("molecule has no atoms")
    return mol


def parse_record(record: Record) -> Chem.Mol:
    return parse_smiles(record.text) if record.kind == "smiles" else parse_molblock(record.text)


def canonical_smiles(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(mol)


def parse_query(text: str) -> tuple[Chem.Mol, str]:
    """A substructure query: SMILES when it parses as SMILES, else SMARTS; ``(query, "smiles"|"smarts")``.

    A SMILES query is sanitised (so a Kekulé benzene matches aromatic rings, as chemists expect);
    anything SMILES cannot express (``[#6]``, ``[!O]``, ``~``, recursive SMARTS) is read as SMARTS.
    """
    text = text.strip()
    if not text:
        raise ChemError("empty query")
    smiles_error: ChemError | None = None
    if not _SMARTS_ONLY.search(text):
        try:
            return parse_smiles(text), "smiles"
        except ChemError as exc:
            smiles_error = exc
    query = Chem.MolFromSmarts(text)
    if query is None or query.GetNumAtoms() == 0:
        hint = name_hint(text)
        if hint:
            raise ChemError(f"not a SMILES or SMARTS{hint}")
        reason = f": {smiles_error}" if smiles_error else ""
        raise ChemError(f"neither valid SMILES nor SMARTS {_short(text)}{reason}")
    query.UpdatePropertyCache(strict=False)
    Chem.FastFindRings(query)
    return query, "smarts"


def properties(mol: Chem.Mol) -> dict[str, float | int]:
    """Basic properties: molecular weight, Crippen logP, Lipinski H-bond donors/acceptors, heavy atoms."""
    return {
        "mw": round(float(Descriptors.MolWt(mol)), 3),
        "logp": round(float(Crippen.MolLogP(mol)), 3),
        "hbd": int(rdMolDescriptors.CalcNumHBD(mol)),
        "hba": int(rdMolDescriptors.CalcNumHBA(mol)),
        "heavy_atoms": int(mol.GetNumHeavyAtoms()),
    }


# -- fingerprints ----------------------------------------------------------------------------
class Fingerprinter:
    """Morgan (similarity) and pattern (substructure screen) fingerprints as packed bytes.

    Bit ``i`` of a fingerprint is bit ``i % 8`` of byte ``i // 8`` (little-endian), so the bytes are
    both Milvus ``BINARY_VECTOR`` data and, viewed as ``uint64``, rows of the numpy index.
    """

    def __init__(self, radius: int = 2, bits: int = 2048, pattern_bits: int = 2048) -> None:
        self.radius = radius
        self.bits = bits
        self.pattern_bits = pattern_bits
        self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)

    def morgan(self, mol: Chem.Mol) -> bytes:
        dense = self._generator.GetFingerprintAsNumPy(mol)
        return np.packbits(dense.astype(bool), bitorder="little").tobytes()

    def morgan_bitvect(self, mol: Chem.Mol) -> DataStructs.ExplicitBitVect:
        return self._generator.GetFingerprint(mol)

    def pattern(self, mol: Chem.Mol) -> bytes:
        fp = Chem.PatternFingerprint(mol, fpSize=self.pattern_bits)
        return pack_bits(list(fp.GetOnBits()), self.pattern_bits)


def pack_bits(on_bits: list[int], nbits: int) -> bytes:
    dense = np.zeros(nbits, dtype=bool)
    if on_bits:
        dense[np.asarray(on_bits, dtype=np.int64)] = True
    return np.packbits(dense, bitorder="little").tobytes()


def bytes_to_bitvect(data: bytes, nbits: int) -> DataStructs.ExplicitBitVect:
    """The RDKit bit vector of packed bytes (for comparisons with RDKit's own Tanimoto)."""
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")[:nbits]
    bv = DataStructs.ExplicitBitVect(nbits)
    bv.SetBitsFromList(np.flatnonzero(bits).tolist())
    return bv


# -- drawings --------------------------------------------------------------------------------
def draw_svg(mol: Chem.Mol, width: int = 300, height: int = 220, highlight: Chem.Mol | None = None,
             legend: str = "") -> str:
    """An SVG depiction; atoms and bonds of every match of ``highlight`` are coloured."""
    mol = Chem.Mol(mol)
    atoms: list[int] = []
    bonds: list[int] = []
    if highlight is not None:
        for match in mol.GetSubstructMatches(highlight, maxMatches=50):
            atoms.extend(match)
            for bond in highlight.GetBonds():
                b = mol.GetBondBetweenAtoms(match[bond.GetBeginAtomIdx()], match[bond.GetEndAtomIdx()])
                if b is not None:
                    bonds.append(b.GetIdx())
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    opts = drawer.drawOptions()
    opts.clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol, legend=legend, highlightAtoms=sorted(set(atoms)),
                                       highlightBonds=sorted(set(bonds)))
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def describe(mol: Chem.Mol) -> dict[str, Any]:
    return {"smiles": canonical_smiles(mol), **properties(mol)}
