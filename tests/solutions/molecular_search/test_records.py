"""Reading molecule files record by record, and turning text into molecules with clear errors (no stores)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from solutions.molecular_search.chem import (
    ChemError,
    canonical_smiles,
    parse_molblock,
    parse_query,
    parse_smiles,
    rdkit_messages,
)
from solutions.molecular_search.ingest import prepare
from solutions.molecular_search.records import MAX_LINE_CHARS, estimate_molecules, read_molecules
from solutions.molecular_search.samples import nci_5k_path, write_samples


def records(path):
    return [(line, r if isinstance(r, str) else (r.kind, r.text, r.name, r.fields))
            for line, r in read_molecules(path)]


def test_smi_lines_names_comments_header_and_a_line_too_long(tmp_path):
    f = tmp_path / "a.smi"
    f.write_text("SMILES Name\nCCO ethanol\n\n# comment\nc1ccccc1\tbenzene ring\nC1CC\n"
                 + "C" * (MAX_LINE_CHARS + 5) + " huge\nCCN last\n", encoding="utf-8")
    assert records(f) == [(2, ("smiles", "CCO", "ethanol", {})), (5, ("smiles", "c1ccccc1", "benzene ring", {})),
                          (6, ("smiles", "C1CC", "", {})), (7, f"line longer than {MAX_LINE_CHARS} characters"),
                          (8, ("smiles", "CCN", "last", {}))]


def test_smi_header_after_comments_and_blank_lines_is_skipped(tmp_path):
    f = tmp_path / "a.smi"
    f.write_text("# exported from my notebook\n\nSMILES Name\nCCO ethanol\nsmiles\n", encoding="utf-8")
    # the header is the first line that is not a comment or blank; a later "smiles" is a record (and an error)
    assert records(f) == [(4, ("smiles", "CCO", "ethanol", {})), (5, ("smiles", "smiles", "", {}))]


def test_smi_tab_separated_columns_after_the_name_stay_out_of_it(tmp_path):
    f = tmp_path / "a.smi"
    f.write_text("CCCCCO\tpentanol\t5.2\tbatch 7\nCCO ethyl alcohol\nc1ccccc1\tbenzene ring\n", encoding="utf-8")
    assert [r[1][2] for r in records(f)] == ["pentanol", "ethyl alcohol", "benzene ring"]


def test_an_inchi_in_a_smi_file_is_reported_as_such():
    with pytest.raises(ChemError, match="is an InChI"):
        parse_smiles("InChI=1S/CH4/h1H4")
    with pytest.raises(ChemError, match="is an InChI"):
        parse_query("  inchi=1S/CH4/h1H4")


def test_csv_fields_multiline_bom_and_missing_smiles(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text('\ufeffID,SMILES,activity,note\nm1,CCO,1.5,"two\nlines"\nm2,,3,\n\nm3,c1ccccc1,7,x\n',
                 encoding="utf-8")
    got = records(f)
    assert got[0] == (2, ("smiles", "CCO", "m1", {"activity": "1.5", "note": "two\nlines"}))
    assert got[1] == (4, "empty SMILES")
    assert got[2] == (6, ("smiles", "c1ccccc1", "m3", {"activity": "7", "note": "x"}))
    bad = tmp_path / "b.csv"
    bad.write_text("name,structure\nx,CCO\n", encoding="utf-8")
    assert records(bad) == [(2, "no SMILES column: the header has 'name', 'structure'; name the column of SMILES "
                                "one of smiles, canonical_smiles, smi, isomeric_smiles (any case), on the first line")]


@pytest.mark.parametrize("header", ["isosmiles", "IsomericSMILES", "Canonical SMILES", "canonicalsmiles", "SMILES"])
def test_pubchem_and_chembl_smiles_columns_are_read_and_columns_keep_their_case(tmp_path, header):
    """PubChem's `isosmiles`, PUG-REST's `IsomericSMILES`... made the whole file fail; and every column was
    lower-cased, so `Activity (µM)` became `activity (µm)`, micrometres."""
    f = tmp_path / "pubchem.csv"
    f.write_text(f"CID,{header},Activity (µM),pIC50\n2244,CC(=O)Oc1ccccc1C(=O)O,1.5,7.2\n", encoding="utf-8")
    assert records(f) == [(2, ("smiles", "CC(=O)Oc1ccccc1C(=O)O", "2244", {"Activity (µM)": "1.5", "pIC50": "7.2"}))]


def test_a_smi_file_with_the_name_first_is_read_as_zinc_and_rdkit_write_it(tmp_path):
    """RDKit's own Contrib/Fastcluster/cdk2.smi is `ZINC03814457<tab>SMILES`: every line failed as the SMILES
    'ZINC03814457'."""
    f = tmp_path / "cdk2.smi"
    f.write_text("ZINC03814457\tCC(C)C(=O)Nc1ccccc1\nZINC00023543  c1ccccc1O\n", encoding="utf-8")
    assert records(f) == [(1, ("smiles", "CC(C)C(=O)Nc1ccccc1", "ZINC03814457", {})),
                          (2, ("smiles", "c1ccccc1O", "ZINC00023543", {}))]
    usual = tmp_path / "usual.smi"  # SMILES first, as before, even when the name reads as SMILES too ("CCO")
    usual.write_text("CCO CCO\nc1ccccc1\tbenzene\tx\n", encoding="utf-8")
    assert records(usual) == [(1, ("smiles", "CCO", "CCO", {})), (2, ("smiles", "c1ccccc1", "benzene", {}))]


@pytest.mark.parametrize(("table", "names"), [
    ("chembl_id\tpref_name\tcanonical_smiles\nCHEMBL25\tASPIRIN\tCC(=O)Oc1ccccc1C(=O)O\nCHEMBL112\t\tCCO\n",
     ["ASPIRIN", "CHEMBL112"]),  # a ChEMBL export: its pref_name is often empty, its chembl_id never
    ('"ChEMBL ID";"Name";"Smiles"\n"CHEMBL25";"ASPIRIN";"CC(=O)Oc1ccccc1C(=O)O"\n', ["ASPIRIN"]),
    ("Compound ID,SMILES,IC50\nCPD-001,CCO,12\n", ["CPD-001"]),
    ("Molecule Name\tSMILES\ncaffeine\tCn1cnc2c1c(=O)n(C)c(=O)n2C\n", ["caffeine"]),
])
def test_a_spreadsheet_names_its_molecules_in_the_columns_chemists_use(tmp_path, table, names):
    f = tmp_path / "export.csv"
    f.write_text(table, encoding="utf-8")
    assert [r[2] for _, r in records(f)] == names


def test_jsonl_and_a_table_without_a_known_suffix(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text('{"smiles": "CCO", "name": "ethanol", "pka": 15.9}\nnot json\n', encoding="utf-8")
    assert records(f) == [(1, ("smiles", "CCO", "ethanol", {"pka": "15.9"})), (2, "invalid JSON: Expecting value")]
    g = tmp_path / "data.txt"
    g.write_text("smiles,name\nCCN,ethylamine\n", encoding="utf-8")
    assert records(g) == [(2, ("smiles", "CCN", "ethylamine", {}))]


def test_sdf_records_tags_and_line_numbers(tmp_path):
    f = tmp_path / "a.sdf"
    with Chem.SDWriter(str(f)) as writer:
        for name, smi in [("ethanol", "CCO"), ("phenol", "Oc1ccccc1")]:
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", name)
            mol.SetProp("activity", "42")
            writer.write(mol)
    got = list(read_molecules(f))
    assert got[0][0] == 1 and got[1][0] > 5
    assert [r.name for _, r in got] == ["ethanol", "phenol"]  # type: ignore[union-attr]
    assert got[0][1].fields == {"activity": "42"}  # type: ignore[union-attr]
    assert canonical_smiles(Chem.MolFromMolBlock(got[1][1].text)) == "Oc1ccccc1"  # type: ignore[union-attr]
    assert estimate_molecules(f) == 2


def test_an_sd_file_and_a_smi_file_written_in_latin_1_are_read(tmp_path):
    """Older tools write names and tags in Latin-1/windows-1252: the files were refused ("not UTF-8 text")."""
    block = Chem.MolToMolBlock(Chem.MolFromSmiles("Cn1cnc2c1c(=O)n(C)c(=O)n2C"))
    sdf = tmp_path / "old.sdf"
    sdf.write_bytes(("Caf\u00e9ine" + block[block.index("\n"):] + "> <source>\nGr\u00fcner Tee\n\n$$$$\n")
                    .encode("cp1252"))
    [(_, record)] = list(read_molecules(sdf))
    assert (record.name, record.fields) == ("Caf\u00e9ine", {"source": "Gr\u00fcner Tee"})  # type: ignore[union-attr]
    smi = tmp_path / "old.smi"
    smi.write_bytes("CCO \u00e9thanol\nOc1ccccc1 ph\u00e9nol\n".encode("latin-1"))
    assert [r.name for _, r in read_molecules(smi)] == ["\u00e9thanol", "ph\u00e9nol"]  # type: ignore[union-attr]


def test_an_unreadable_sd_record_says_which_and_why(tmp_path):
    """RDKit's reason (it only logs it), the record's number and name; other threads' RDKit messages stay out."""
    lines = Chem.MolToMolBlock(Chem.MolFromSmiles("CCO")).splitlines()
    good = "\n".join(["ethanol", *lines[1:]])
    bad_element = "\n".join(["odd", *lines[1:4], lines[4].replace(" C ", " Xx"), *lines[5:]])
    short = "\n".join(["short", *lines[1:3], lines[3].replace("  3  2", "  5  2"), *lines[4:]])
    f = tmp_path / "mixed.sdf"
    f.write_text("\n$$$$\n".join([good, bad_element, short]) + "\n$$$$\n", encoding="utf-8")
    got = [r for _, r in read_molecules(f)]
    assert [(r.number, r.name) for r in got] == [(1, "ethanol"), (2, "odd"), (3, "short")]  # type: ignore[union-attr]
    batch = prepare(got)  # type: ignore[arg-type]
    assert batch.errors[0] is None and batch.smiles == ["CCO"]
    errors = [r.named(e) for r, e in zip(got, batch.errors, strict=True) if e]  # type: ignore[union-attr]
    assert errors[0] == ("SD record 2 ('odd'): unreadable molfile block: Post-condition Violation; "
                         "Element 'Xx' not found")
    assert errors[1] == ("SD record 3 ('short'): unreadable molfile block: Atom line too short: '  1  2  1  0' "
                         "on line 8 of the record")
    with pytest.raises(ChemError, match=r"^unreadable molfile block: Counts line too short"):
        parse_molblock("junk\n\n")
    with rdkit_messages() as said:  # another thread's RDKit messages are not this thread's
        other = threading.Thread(target=Chem.MolFromSmiles, args=("C1CC",))
        other.start()
        other.join()
        Chem.MolFromSmiles("c1cccc1")
    assert said and all("C1CC" not in m for m in said) and any("c1cccc1" in m or "kekulize" in m for m in said)


def test_sanitisation_errors_say_why():
    with pytest.raises(ChemError, match=r"^SMILES syntax error in 'C1CC': unclosed ring$"):
        parse_smiles("C1CC")
    with pytest.raises(ChemError, match=r"^SMILES syntax error in 'CC\(C': extra open parentheses, around position 3$"):
        parse_smiles("CC(C")
    with pytest.raises(ChemError, match=r"^SMILES syntax error in 'C==C', around position 3$"):
        parse_smiles("C==C")
    with pytest.raises(ChemError, match="valence"):
        parse_smiles("C(C)(C)(C)(C)C")
    with pytest.raises(ChemError, match=r"kekulize|aromatic|Kekul"):
        parse_smiles("c1cccc1")
    with pytest.raises(ChemError, match="enter a SMILES, not a name"):
        parse_smiles("acetic acid")
    assert canonical_smiles(parse_smiles("C1=CC=CC=C1")) == canonical_smiles(parse_smiles("c1ccccc1"))


def test_a_csv_line_is_not_taken_for_a_smarts():
    for line, smiles in [("CCO,ethanol", "CCO"), ("c1ccccc1O, phenol", "c1ccccc1O"), ("CC(=O)O,", "CC(=O)O")]:
        with pytest.raises(ChemError, match=rf"line of a CSV file.*enter the SMILES alone: {re.escape(smiles)}$"):
            parse_query(line)
    assert [parse_query(q)[1] for q in ("[C,N]", "[C,N]c1ccccc1", "C-,=C", "[NX3;H2]c")] == ["smarts"] * 4
    with pytest.raises(ChemError, match="looks like a name"):  # no SMILES before the comma: not a CSV line
        parse_query("caffeine,x")


def test_query_smiles_or_smarts():
    assert parse_query("C1=CC=CC=C1")[1] == "smiles"
    assert parse_query("[#6]~[#7]")[1] == "smarts"
    assert parse_query("[NX3;H2]c")[1] == "smarts"
    with pytest.raises(ChemError, match="enter a SMILES, not a name"):
        parse_query("caffeine")
    with pytest.raises(ChemError):
        parse_query("not a molecule ((")


def test_fingerprints_from_the_stored_smiles_equal_those_of_the_records():
    """A rebuild recomputes fingerprints from the canonical SMILES in SQL: they must be the load's own."""
    lines = [line.split()[0] for line in nci_5k_path().read_text().splitlines()]
    loaded = prepare(lines)
    rebuilt = prepare(loaded.smiles, with_properties=False)
    assert rebuilt.errors == [None] * len(loaded)
    assert rebuilt.smiles == loaded.smiles
    assert np.array_equal(rebuilt.fps, loaded.fps) and np.array_equal(rebuilt.pattern_fps, loaded.pattern_fps)
    assert np.isnan(rebuilt.properties).all()


def test_sample_data_is_real_and_reads_cleanly(tmp_path):
    sample = write_samples(tmp_path / "samples")
    assert "NCI" in sample.origin
    names = sorted(p.name for p in sample.path.iterdir())
    assert names == ["drugs.csv", "nci_5k.smi", "steroids.sdf"]
    got = {p.name: list(read_molecules(p)) for p in sample.path.iterdir()}
    assert len(got["nci_5k.smi"]) == 4999 and len(got["drugs.csv"]) == 6 and len(got["steroids.sdf"]) == 2
    batch = prepare([r for rs in got.values() for _, r in rs if not isinstance(r, str)])
    assert sum(e is not None for e in batch.errors) <= 10  # a few NCI records RDKit refuses (valence)


def test_the_readme_on_hydrogen_counts_in_smiles_and_smarts_queries_is_true(tmp_path):
    """The tutorial's paragraph: a SMILES query ignores bracket H counts, SMARTS enforces them; its counts are those
    of the sample data."""
    readme = (Path(__file__).parents[3] / "solutions/molecular_search/README.md").read_text(encoding="utf-8")
    text = " ".join(readme[readme.index("**Hydrogen counts need SMARTS.**"):].split("\n\n", 1)[0].split())
    assert "821 of the sample data's 4,897 molecules" in text and "finds 428, the phenols only" in text, text
    assert "`[N+](=O)[O-]` finds nitro groups" in text and "`[OH]` alone is any oxygen" in text, text
    assert "`[OX2H]`, `[CX4H3]`" in text, text

    def hits(query: str, smiles: list[str]) -> list[str]:
        q, _ = parse_query(query)
        return [s for s in smiles if Chem.MolFromSmiles(s).HasSubstructMatch(q)]

    named = {"Oc1ccccc1": "phenol", "COc1ccccc1": "anisole", "CC(=O)Oc1ccccc1C(=O)O": "aspirin",
             "Cc1ccccc1": "toluene", "CCc1ccccc1": "ethylbenzene", "OC(=O)c1ccccc1": "benzoic acid",
             "Cc1ccc(C)cc1": "p-xylene"}
    few = list(named)
    assert [parse_query(q)[1] for q in ("c1ccccc1[OH]", "[OH]", "c1ccccc1[O;H1]", "c1ccccc1[C;H3]")] == [
        "smiles", "smiles", "smarts", "smarts"]
    assert hits("c1ccccc1[OH]", few) == hits("c1ccccc1O", few)
    assert {named[s] for s in hits("c1ccccc1[OH]", few)} == {"phenol", "anisole", "aspirin"}
    assert {named[s] for s in hits("c1ccccc1[O;H1]", few)} == {"phenol"}
    assert {named[s] for s in hits("c1ccccc1[CH3]", few)} >= {"toluene", "ethylbenzene", "benzoic acid"}
    assert {named[s] for s in hits("c1ccccc1[C;H3]", few)} == {"toluene", "p-xylene"}
    # open valences are attachment points, not radicals: the nitro group as chemists write it
    nitro = ["c1ccccc1[N+](=O)[O-]", "CC[N+](=O)[O-]", "c1ccccc1N", "c1ccccc1N=O"]
    assert hits("[N+](=O)[O-]", nitro) == nitro[:2]
    assert hits("[OH]", few) == [s for s in few if "O" in s]  # any oxygen, as its H count is not compared
    assert hits("[CH3]", few) == few
    assert hits("[OX2H]", few) == ["Oc1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1"]
    assert {named[s] for s in hits("[CX4H3]", few)} == {"anisole", "aspirin", "toluene", "ethylbenzene", "p-xylene"}

    sample = write_samples(tmp_path / "samples")
    stored = set()
    for path in sample.path.iterdir():
        for _, record in read_molecules(path):
            if isinstance(record, str):
                continue
            try:
                mol = parse_smiles(record.text) if record.kind == "smiles" else parse_molblock(record.text)
            except ChemError:
                continue
            stored.add(canonical_smiles(mol))
    assert len(stored) == 4897
    assert len(hits("c1ccccc1[OH]", sorted(stored))) == 821
    assert len(hits("c1ccccc1[O;H1]", sorted(stored))) == 428
    assert "`c1ccccc1C(=O)[O;H1]`: it finds 140 molecules, all acids" in text, text
    assert "finds 257: those and 117 more, 108 of them benzoate esters" in text, text
    acids, as_smiles = hits("c1ccccc1C(=O)[O;H1]", sorted(stored)), hits("c1ccccc1C(=O)[OH]", sorted(stored))
    assert len(acids) == 140 and all(Chem.MolFromSmiles(s).HasSubstructMatch(Chem.MolFromSmarts("C(=O)[OX2H1]"))
                                     for s in acids)
    esters = Chem.MolFromSmarts("c1ccccc1C(=O)O[#6]")
    more = set(as_smiles) - set(acids)
    assert len(as_smiles) == 257 and len(more) == 117
    assert sum(Chem.MolFromSmiles(s).HasSubstructMatch(esters) for s in more) == 108
