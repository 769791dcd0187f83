"""Chemistry with RDKit: reading molecules and queries (with clear errors), canonical SMILES, drawings.

Everything here is pure (no stores). Files are read into records by :mod:`.records`; fingerprints and
properties are computed by :mod:`.ingest` and :mod:`.properties`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rdkit import Chem, RDLogger, rdBase
from rdkit.Chem.Draw import rdMolDraw2D

log = logging.getLogger(__name__)

# RDKit prints parse errors to stderr; we report them per record instead. They go to the Python logger "rdkit",
# whose only handler keeps the messages of a thread inside :func:`rdkit_messages` (RDKit says why a molfile
# block is unreadable only there); the rest is dropped, as before.
RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]


class _Collector(logging.Handler):
    """Keeps RDKit's log lines per thread while that thread is inside :func:`rdkit_messages`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: dict[int, list[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        lines = self.lines.get(record.thread or 0)
        if lines is not None:
            lines.append(record.getMessage())


_collector = _Collector()
_rdkit_log = logging.getLogger("rdkit")
_rdkit_log.handlers[:] = [_collector]
_rdkit_log.propagate = False
rdBase.LogToPythonLogger()
_capturing = 0
_capture_lock = threading.Lock()
#: lines of an RDKit invariant report that say nothing to a user (banner, source location, stack trace)
_NOISE = re.compile(r"^(\*+|-+|Stacktrace:|\s*\d+#.*|Violation occurred on line .*|Failed Expression: .*)$")
_STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


@contextmanager
def rdkit_messages() -> Iterator[list[str]]:
    """RDKit's warnings and errors logged by this thread inside the block (its other threads' are not kept):
    one line each, without time stamps, stack traces or repeats."""
    global _capturing
    me = threading.get_ident()
    raw: list[str] = []
    out: list[str] = []
    with _capture_lock:
        _collector.lines[me] = raw
        _capturing += 1
        if _capturing == 1:
            RDLogger.EnableLog("rdApp.warning")  # type: ignore[attr-defined]
            RDLogger.EnableLog("rdApp.error")  # type: ignore[attr-defined]
    try:
        yield out
    finally:
        with _capture_lock:
            del _collector.lines[me]
            _capturing -= 1
            if _capturing == 0:
                RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]
        for line in raw:
            for part in line.splitlines():
                text = _STAMP.sub("", part).strip()
                if text and not _NOISE.match(text) and text not in out:
                    out.append(text)


#: characters and tokens that only SMARTS gives a meaning to (RDKit's SMILES parser accepts some of them)
_SMARTS_ONLY = re.compile(r"[~;,!&$*?]|\[#")


def looks_like_smarts(text: str) -> bool:
    """True when ``text`` uses SMARTS-only syntax (a query, not a molecule; ``*`` is a SMILES dummy atom)."""
    return bool(_SMARTS_ONLY.search(text.replace("*", "")))


class ChemError(ValueError):
    """A record or query RDKit cannot turn into a molecule; the message says why."""


_INCHI = re.compile(r"\s*InChI=", re.IGNORECASE)


def reject_inchi(text: str) -> None:
    """:class:`ChemError` naming an InChI as such: RDKit's SMARTS parser would take one for a pattern."""
    if _INCHI.match(text):
        raise ChemError(f"{_short(text.strip())} is an InChI: enter a SMILES (or a SMARTS in substructure mode)")


def _top_level_comma(text: str) -> int:
    """Where the first comma outside ``[...]`` is, or -1 (SMARTS lists alternatives inside brackets: ``[C,N]``)."""
    depth = 0
    for i, c in enumerate(text):
        if c == "[":
            depth += 1
        elif c == "]":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            return i
    return -1


def reject_csv_line(text: str) -> None:
    """:class:`ChemError` for a line of a CSV file pasted as a query (``CCO,ethanol``): a SMILES, a comma and
    more. It would be read as a (broken) SMARTS; a real SMARTS with a comma (``[C,N]``, ``C-,=C``) passes."""
    comma = _top_level_comma(text)
    if comma < 0 or Chem.MolFromSmarts(text) is not None:
        return
    head = text[:comma].strip()
    if not head or Chem.MolFromSmiles(head) is None:
        return
    rest = text[comma + 1 :].strip()
    after = f", then {_short(rest)}" if rest else ""
    raise ChemError(f"{_short(text.strip())} looks like a line of a CSV file (a SMILES, a comma{after}), not one "
                    f"query: enter the SMILES alone: {head}")


# -- molecules -------------------------------------------------------------------------------
def parse_smiles(smiles: str) -> Chem.Mol:
    """A sanitised molecule from SMILES, or :class:`ChemError` saying what is wrong."""
    smiles = smiles.strip()
    if not smiles:
        raise ChemError("empty SMILES")
    mol = Chem.MolFromSmiles(smiles)  # fast path: parse and sanitise in one call
    if mol is not None and mol.GetNumAtoms():
        return mol
    with rdkit_messages() as messages:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)  # failed: find out why
    if mol is None:
        reject_inchi(smiles)
        hint = name_hint(smiles)
        raise ChemError(f"SMILES syntax error in {_short(smiles)}{hint or syntax_reason(messages)}")
    return _sanitise(mol, smiles)


def reads_as_smiles(text: str) -> bool:
    """Whether ``text`` is SMILES syntax (not checked chemically): tells a name column from a SMILES column."""
    return Chem.MolFromSmiles(text, sanitize=False) is not None


_PARSE_ERROR = "SMILES Parse Error: "
_POSITION = re.compile(r"check for mistakes around position (\d+)")


def syntax_reason(messages: list[str]) -> str:
    """What RDKit's parser said was wrong (``: unclosed ring``, ``: extra open parentheses, around position 3``,
    ``, around position 1``), from its log lines; empty when it said nothing usable."""
    reasons = [m[len(_PARSE_ERROR):] for m in messages if m.startswith(_PARSE_ERROR)]
    what = reasons[0].split(" while parsing:")[0].split(" for input:")[0].strip() if reasons else ""
    parts = [] if what in ("syntax error", "") or what.startswith("Failed parsing") else [f": {what}"]
    parts += [f", around position {m.group(1)}" for m in map(_POSITION.search, messages) if m][:1]
    return "".join(parts)


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
    """A sanitised molecule from a molfile block, or :class:`ChemError` with RDKit's reason."""
    mol = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
    if mol is None:
        with rdkit_messages() as said:  # failed: parse again to hear why (RDKit only logs it)
            Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
        reason = "; ".join(re.sub(r" on line ?(\d+)$", r" on line \1 of the record", m) for m in said)
        raise ChemError(f"unreadable molfile block: {_clip(reason)}" if reason else "unreadable molfile block")
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


def canonical_smiles(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(mol)


def parse_query(text: str) -> tuple[Chem.Mol, str]:
    """A substructure query: SMILES when it parses as SMILES, else SMARTS; ``(query, "smiles"|"smarts")``.

    A SMILES query is sanitised (so a Kekulé benzene matches aromatic rings, as chemists expect) and its open
    valences are places where the rest of the molecule attaches, not radicals (``[N+](=O)[O-]`` is a nitro group);
    anything SMILES cannot express (``[#6]``, ``[!O]``, ``~``, recursive SMARTS) is read as SMARTS.
    """
    text = text.strip()
    if not text:
        raise ChemError("empty query")
    reject_inchi(text)
    reject_csv_line(text)
    smiles_error: ChemError | None = None
    if not _SMARTS_ONLY.search(text):
        try:
            return _open_valences(parse_smiles(text)), "smiles"
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


def _open_valences(query: Chem.Mol) -> Chem.Mol:
    """A SMILES fragment's bracket atoms with bonds missing are open there, not radicals: RDKit reads the N of
    ``[N+](=O)[O-]`` as having an unpaired electron and compares unpaired electrons, so the nitro group as chemists
    write it found no nitro compound. (Hydrogen counts are not compared either; SMARTS asks for them.)"""
    for atom in query.GetAtoms():
        if atom.GetNumRadicalElectrons():
            atom.SetNumRadicalElectrons(0)
    return query


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
    opts.clearBackground = False  # type: ignore[assignment]
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol, legend=legend, highlightAtoms=sorted(set(atoms)),
                                       highlightBonds=sorted(set(bonds)))
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")
