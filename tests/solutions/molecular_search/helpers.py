"""Shared helpers of the molecule tests: app construction, data files, exact references."""

from __future__ import annotations

from pathlib import Path

from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from solutions.molecular_search.app import create_app
from solutions.molecular_search.config import MoleculeSettings
from solutions.molecular_search.pipeline import copy_nci

#: NCI lines loaded by the service tests (keeps both backends fast)
NCI_LINES = 1500


def settings_for(backend, tmp_path: Path, unique: str, root: Path, **extra) -> MoleculeSettings:
    return MoleculeSettings(**backend.settings(tmp_path / "data", data_roots=[root], collection=f"mol_{unique}",
                                               table_prefix=f"mol_{unique}", **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, **extra):
    return create_app(settings_for(backend, tmp_path, unique, root, **extra))


def write_data(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    copy_nci(root / "nci.smi", limit=NCI_LINES)
    (root / "bad.smi").write_text(
        "# a comment line\n"
        "CCO ethanol\n"
        "C1CC unclosed-ring\n"
        "\n"
        "C(C)(C)(C)(C)C pentavalent-carbon\n"
        "OCC ethanol-again\n"
        "c1cccc1 bad-aromatic\n",
        encoding="utf-8",
    )
    return root


_GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def exact_similarity(stored: list[str], query: str, k: int, min_similarity: float = 0.0):
    """RDKit's own BulkTanimotoSimilarity over every stored molecule: [(canonical smiles, sim)]."""
    fps = [_GEN.GetFingerprint(Chem.MolFromSmiles(s)) for s in stored]
    sims = DataStructs.BulkTanimotoSimilarity(_GEN.GetFingerprint(Chem.MolFromSmiles(query)), fps)
    from common.service import content_id

    ranked = sorted(((s, content_id(smi), smi) for smi, s in zip(stored, sims, strict=True) if s >= min_similarity),
                    key=lambda t: (-t[0], t[1]))
    return [(smi, round(s, 6)) for s, _, smi in ranked[:k]]


def exact_substructure(stored: list[str], query: Chem.Mol) -> set[str]:
    return {s for s in stored if Chem.MolFromSmiles(s).HasSubstructMatch(query)}


def write_stereo(root: Path, n: int = 64) -> list[str]:
    """Stereoisomers of one chain: different canonical SMILES, identical Morgan fingerprints (exact ties)."""
    from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers

    base = Chem.MolFromSmiles("OCC(O)C(O)C(O)C(O)C(O)C(O)CCN")
    isomers = sorted({Chem.MolToSmiles(m) for m in EnumerateStereoisomers(base)})[:n]
    (root / "stereo.smi").write_text("".join(f"{s} iso{i}\n" for i, s in enumerate(isomers)), encoding="utf-8")
    return isomers


def stored_smiles(root: Path) -> list[str]:
    """Canonical SMILES of every valid record of the .smi files under root, read by RDKit directly."""
    out = set()
    for path in sorted(root.rglob("*.smi")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            mol = Chem.MolFromSmiles(line.split()[0])
            if mol is not None:
                out.add(Chem.MolToSmiles(mol))
    return sorted(out)
