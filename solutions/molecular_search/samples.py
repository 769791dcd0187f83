"""Sample data to try the demo: RDKit's bundled NCI set, plus a small CSV and SD file of well-known drugs."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from rdkit import Chem

from common.pipeline import SampleData

#: real molecules with their common names, as a CSV (extra columns become fields) and an SD file (tags)
DRUGS = (
    ("CC(=O)Oc1ccccc1C(=O)O", "aspirin", "pain"),
    ("CC(=O)Nc1ccc(O)cc1", "paracetamol", "pain"),
    ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "ibuprofen", "inflammation"),
    ("Cn1cnc2c1c(=O)n(C)c(=O)n2C", "caffeine", "stimulant"),
    ("CN1CCC[C@H]1c1cccnc1", "nicotine", "stimulant"),
    ("O=C(O)c1ccccc1O", "salicylic acid", "keratolytic"),
)
STEROIDS = (
    ("testosterone", "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O"),
    ("cholesterol", "CC(C)CCC[C@@H](C)[C@H]1CC[C@H]2[C@@H]3CC=C4C[C@@H](O)CC[C@]4(C)[C@H]3CC[C@]12C"),
)


def nci_5k_path() -> Path:
    """RDKit's bundled NCI sample: 4,999 SMILES with their NCI numbers (``rdkit/Data/NCI/first_5K.smi``)."""
    return Path(str(resources.files("rdkit"))) / "Data" / "NCI" / "first_5K.smi"


def write_samples(dest: Path) -> SampleData:
    """``nci_5k.smi`` (RDKit's NCI set), ``drugs.csv`` and ``steroids.sdf`` under ``dest``."""
    source = nci_5k_path()
    if not source.is_file():
        raise FileNotFoundError(f"{source} is missing: the rdkit package installs it (pip install rdkit)")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest / "nci_5k.smi")
    (dest / "drugs.csv").write_text("smiles,name,indication\n" + "".join(f"{s},{n},{i}\n" for s, n, i in DRUGS),
                                    encoding="utf-8")
    with Chem.SDWriter(str(dest / "steroids.sdf")) as writer:
        for name, smiles in STEROIDS:
            mol = Chem.MolFromSmiles(smiles)
            mol.SetProp("_Name", name)
            mol.SetProp("class", "steroid")
            writer.write(mol)
    return SampleData(dest, "4,999 molecules of the NCI open database bundled with RDKit (first_5K.smi), "
                            "six common drugs (CSV) and two steroids (SD file)")
