"""Reading records, sanitising, fingerprints and the exact in-memory index (no stores)."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from solutions.molecular_search.chem import (
    ChemError,
    Fingerprinter,
    bytes_to_bitvect,
    canonical_smiles,
    parse_query,
    parse_smiles,
    read_records,
)
from solutions.molecular_search.fpindex import FingerprintIndex
from solutions.molecular_search.pipeline import nci_5k_path


def records(path):
    return [(line, r if isinstance(r, str) else (r.kind, r.text, r.name, r.properties))
            for line, r in read_records(path)]


def test_smi_lines_names_comments_and_header(tmp_path):
    f = tmp_path / "a.smi"
    f.write_text("SMILES Name\nCCO ethanol\n\n# comment\nc1ccccc1\tbenzene ring\nC1CC\n", encoding="utf-8")
    got = records(f)
    assert got == [(2, ("smiles", "CCO", "ethanol", {})), (5, ("smiles", "c1ccccc1", "benzene ring", {})),
                   (6, ("smiles", "C1CC", "", {}))]


def test_csv_properties_multiline_bom_and_missing_smiles(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text('\ufeffID,SMILES,activity,note\nm1,CCO,1.5,"two\nlines"\nm2,,3,\n\nm3,c1ccccc1,7,x\n',
                 encoding="utf-8")
    got = records(f)
    assert got[0] == (2, ("smiles", "CCO", "m1", {"activity": "1.5", "note": "two\nlines"}))
    assert got[1] == (4, "empty SMILES")
    assert got[2] == (6, ("smiles", "c1ccccc1", "m3", {"activity": "7", "note": "x"}))
    bad = tmp_path / "b.csv"
    bad.write_text("name,structure\nx,CCO\n", encoding="utf-8")
    assert records(bad) == [(1, "no SMILES column in the header (expected one of: smiles, canonical_smiles, smi, "
                                "isomeric_smiles)")]


def test_sdf_records_tags_and_line_numbers(tmp_path):
    f = tmp_path / "a.sdf"
    with Chem.SDWriter(str(f)) as writer:
        for name, smi in [("ethanol", "CCO"), ("phenol", "Oc1ccccc1")]:
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", name)
            mol.SetProp("activity", "42")
            writer.write(mol)
    got = list(read_records(f))
    assert got[0][0] == 1 and got[1][0] > 5
    assert [r.name for _, r in got] == ["ethanol", "phenol"]
    assert got[0][1].properties == {"activity": "42"}
    assert canonical_smiles(Chem.MolFromMolBlock(got[1][1].text)) == "Oc1ccccc1"


def test_sanitisation_errors_say_why():
    with pytest.raises(ChemError, match="syntax error"):
        parse_smiles("C1CC")
    with pytest.raises(ChemError, match="valence"):
        parse_smiles("C(C)(C)(C)(C)C")
    with pytest.raises(ChemError, match=r"kekulize|aromatic|Kekul"):
        parse_smiles("c1cccc1")
    assert canonical_smiles(parse_smiles("C1=CC=CC=C1")) == canonical_smiles(parse_smiles("c1ccccc1"))


def test_query_smiles_or_smarts():
    assert parse_query("C1=CC=CC=C1")[1] == "smiles"
    assert parse_query("[#6]~[#7]")[1] == "smarts"
    assert parse_query("[NX3;H2]c")[1] == "smarts"
    with pytest.raises(ChemError):
        parse_query("not a molecule ((")


def test_fingerprint_bytes_match_rdkit_tanimoto():
    fpr = Fingerprinter()
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    smiles = [line.split()[0] for line in nci_5k_path().read_text().splitlines()[:60]]
    mols = [m for m in (Chem.MolFromSmiles(s) for s in smiles) if m is not None]
    packed = [fpr.morgan(m) for m in mols]
    for mol, data in zip(mols, packed, strict=True):
        assert bytes_to_bitvect(data, 2048) == gen.GetFingerprint(mol)
    q = np.frombuffer(packed[0], dtype=np.uint64)
    for mol, data in zip(mols, packed, strict=True):
        x = np.frombuffer(data, dtype=np.uint64)
        c = int(np.bitwise_count(q & x).sum())
        ours = c / (int(np.bitwise_count(q).sum()) + int(np.bitwise_count(x).sum()) - c)
        theirs = DataStructs.TanimotoSimilarity(gen.GetFingerprint(mols[0]), gen.GetFingerprint(mol))
        assert ours == pytest.approx(theirs)


def _random_index(n: int, seed: int):
    rng = np.random.default_rng(seed)
    dense = np.zeros((n, 2048), dtype=bool)
    for i in range(n):
        dense[i, rng.choice(2048, rng.integers(5, 90), replace=False)] = True
    dense[10:30] = dense[3]  # 20 exact ties
    packed = np.packbits(dense, axis=1, bitorder="little")
    ids = rng.choice(2**53, size=n, replace=False).astype(np.int64)
    index = FingerprintIndex(2048, 2048)
    index.add(ids.tolist(), [r.tobytes() for r in packed], [r.tobytes() for r in packed], [1] * n, ["C"] * n)
    return index, packed.view(np.uint64), ids


def _brute(fps, ids, q, k, min_sim):
    a = np.bitwise_count(q).sum()
    c = np.bitwise_count(fps & q).sum(axis=1)
    sims = c / (a + np.bitwise_count(fps).sum(axis=1) - c)
    order = [i for i in np.lexsort((ids, -sims)) if sims[i] >= min_sim][:k]
    return [(int(ids[i]), float(sims[i])) for i in order]


@pytest.mark.parametrize("k,min_sim", [(1, 0.0), (10, 0.0), (15, 0.0), (50, 0.2), (5, 0.95), (3000, 0.0)])
def test_index_is_exact_with_ties(k, min_sim):
    index, fps, ids = _random_index(3000, seed=k)
    rng = np.random.default_rng(7)
    for row in [3, 11, 500, 2999]:
        q = fps[row].copy()
        if row == 500:  # a perturbed query: flip some bits
            q ^= rng.integers(0, 2**63, size=q.shape, dtype=np.uint64) & np.uint64(0x0101010101010101)
        got = [(i, s) for i, s, _ in index.search(q.tobytes(), k, min_sim)]
        assert [(i, s) for i, s, _ in index.search_scan(q.tobytes(), k, min_sim)] == got
        assert got == _brute(fps, ids, q, k, min_sim)
    # ties are broken by ascending id: the 21 copies of row 3 come out id-sorted
    top = index.search(fps[3].tobytes(), 21)
    assert [s for _, s, _ in top] == [1.0] * 21
    assert [i for i, _, _ in top] == sorted(int(x) for x in ids[[3, *range(10, 30)]])


def test_index_delete_and_snapshot_roundtrip(tmp_path):
    index, fps, ids = _random_index(500, seed=1)
    index.delete([int(ids[3])])
    assert int(ids[3]) not in [i for i, _, _ in index.search(fps[3].tobytes(), 30)]
    path = tmp_path / "idx.npz"
    index.save(path, version=7)
    again = FingerprintIndex(2048, 2048)
    assert again.load(path) == 7
    assert len(again) == 499
    assert again.search(fps[40].tobytes(), 10) == index.search(fps[40].tobytes(), 10)
    q = fps[40].tobytes()
    _, rows = again.screen(q)
    assert set(again.snapshot().ids[rows].tolist()) >= {int(ids[40])}


def test_sample_data_reads_cleanly(tmp_path):
    from solutions.molecular_search.chem import parse_record
    from solutions.molecular_search.pipeline import make_sample_data

    dest = make_sample_data(tmp_path / "samples")
    names = []
    for path in sorted(dest.iterdir()):
        for _, record in read_records(path):
            assert not isinstance(record, str), (path, record)
            parse_record(record)
            names.append(record.name)
    assert len(names) == 1008 and {"aspirin", "testosterone"} <= set(names)


@pytest.mark.parametrize("n", [1, 63, 65, 700])
def test_index_edge_cases_match_brute_force(n):
    index, fps, ids = _random_index(max(n, 31), seed=n)
    rng = np.random.default_rng(n)
    queries = [np.zeros(32, dtype=np.uint64), fps[0].copy(), rng.integers(0, 2**63, size=32, dtype=np.uint64)]
    for q in queries:
        for k, min_sim in [(1, 0.0), (5, 0.0), (10_000, 0.0), (3, 0.5), (10_000, 0.01)]:
            got = [(i, s) for i, s, _ in index.search(q.tobytes(), k, min_sim)]
            assert got == _brute(fps, ids, q, k, min_sim), (k, min_sim)
