"""Shared helpers of the molecule tests: app construction, data files, brute-force RDKit references."""

from __future__ import annotations

from pathlib import Path

from rdkit import Chem, DataStructs
from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

from common.files import content_id
from solutions.molecular_search.app import create_app
from solutions.molecular_search.chem import parse_query
from solutions.molecular_search.config import MoleculeSettings
from solutions.molecular_search.samples import nci_5k_path

#: NCI lines loaded by the service tests (keeps both backends fast)
NCI_LINES = 1500
GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


def settings_for(backend, tmp_path: Path, unique: str, root: Path, **extra) -> MoleculeSettings:
    return MoleculeSettings(**backend.settings(tmp_path / "data", data_roots=[root], store_prefix=f"mol_{unique}",
                                               **extra))


def make_app(backend, tmp_path: Path, unique: str, root: Path, **extra):
    return create_app(settings_for(backend, tmp_path, unique, root, **extra))


def copy_nci(dest: Path, limit: int | None = None) -> Path:
    """The first ``limit`` lines of RDKit's NCI set written to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lines = nci_5k_path().read_text(encoding="utf-8").splitlines()[:limit]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def write_data(root: Path) -> Path:
    """NCI molecules, a file of bad records, and 64 stereoisomers whose fingerprints tie exactly."""
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
    write_stereo(root)
    return root


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


def rdkit_properties(mol: Chem.Mol) -> dict[str, float]:
    """The eight properties as the SPEC defines them, computed here independently of the service."""
    return {"mw": Descriptors.MolWt(mol), "logp": Crippen.MolLogP(mol), "tpsa": rdMolDescriptors.CalcTPSA(mol),
            "hbd": rdMolDescriptors.CalcNumHBD(mol), "hba": rdMolDescriptors.CalcNumHBA(mol),
            "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds(mol), "heavy_atoms": mol.GetNumHeavyAtoms(),
            "rings": rdMolDescriptors.CalcNumRings(mol)}


def passes(values: dict[str, float], filters: dict | None) -> bool:
    for name, (lo, hi) in (filters or {}).items():
        v = values[name]
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return False
    return True


class Reference:
    """Every stored molecule as RDKit sees it: brute-force answers of each mode, ids = content ids of the
    canonical SMILES (what the service must use)."""

    def __init__(self, smiles: list[str]) -> None:
        self.smiles = list(smiles)
        self.ids = [content_id(s) for s in self.smiles]
        self.mols = [Chem.MolFromSmiles(s) for s in self.smiles]
        self.fps = [GEN.GetFingerprint(m) for m in self.mols]
        self.props = [rdkit_properties(m) for m in self.mols]

    def _passing(self, filters: dict | None) -> list[int]:
        return [i for i, p in enumerate(self.props) if passes(p, filters)]

    def similarity(self, query: str, filters: dict | None = None, min_sim: float = 0.0) -> list[tuple[int, float]]:
        sims = DataStructs.BulkTanimotoSimilarity(GEN.GetFingerprint(Chem.MolFromSmiles(query)), self.fps)
        rows = [(self.ids[i], sims[i]) for i in self._passing(filters) if sims[i] >= min_sim]
        return sorted(rows, key=lambda t: (-t[1], t[0]))

    def substructure(self, query: str, filters: dict | None = None) -> list[int]:
        q = parse_query(query)[0]
        rows = [i for i in self._passing(filters) if self.mols[i].HasSubstructMatch(q)]
        return [self.ids[i] for i in sorted(rows, key=lambda i: (self.props[i]["heavy_atoms"], self.ids[i]))]

    def superstructure(self, query: str, filters: dict | None = None) -> list[int]:
        q = Chem.MolFromSmiles(query)
        rows = [i for i in self._passing(filters) if q.HasSubstructMatch(self.mols[i])]
        return [self.ids[i] for i in sorted(rows, key=lambda i: (-self.props[i]["heavy_atoms"], self.ids[i]))]

    def exact(self, query: str, filters: dict | None = None) -> list[int]:
        canonical = Chem.MolToSmiles(Chem.MolFromSmiles(query))
        return sorted(self.ids[i] for i in self._passing(filters) if self.smiles[i] == canonical)

    def ranked(self, mode: str, query: str, filters: dict | None = None) -> list[int]:
        if mode == "similarity":
            return [i for i, _ in self.similarity(query, filters)]
        return {"substructure": self.substructure, "superstructure": self.superstructure,
                "exact": self.exact}[mode](query, filters)
