"""The search engine against brute-force RDKit on the NCI 5k set: every mode × filters, paging,
batches, persistence (mmap) with deletes and adds, time limits, errors. No servers."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

from bench.molecular_search_engine import grid_smiles
from solutions.molecular_search import properties as props
from solutions.molecular_search.chem import ChemError, parse_query
from solutions.molecular_search.engine import MoleculeEngine
from solutions.molecular_search.ingest import Preparer, prepare
from solutions.molecular_search.matching import MatchPool
from solutions.molecular_search.molindex import MoleculeIndex
from solutions.molecular_search.samples import nci_5k_path

GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)

FILTERS = [
    None,
    {"mw": [150, 300]},  # unselective-ish
    {"mw": [250, 260], "logp": [None, 3.0]},  # selective
    {"hbd": [1, 1], "rings": [2, None], "tpsa": [20.5, 90]},
    {"heavy_atoms": [None, 12], "rotatable_bonds": [0, 2], "hba": [1, 4]},
]
SIM_QUERIES = ["CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1", "CCN(CC)CCNC(=O)c1ccc(N)cc1", "O=C(O)CCc1ccccc1"]


class Reference:
    """Stored molecules as RDKit sees them, for brute-force answers."""

    def __init__(self, ids: np.ndarray, smiles: list[str], mols: list[Chem.Mol] | None = None) -> None:
        self.ids = [int(i) for i in ids]
        self.smiles = list(smiles)
        self.mols = mols or [Chem.MolFromSmiles(s) for s in smiles]
        self.fps = [GEN.GetFingerprint(m) for m in self.mols]
        self.props = [{"mw": Descriptors.MolWt(m), "logp": Crippen.MolLogP(m), "tpsa": rdMolDescriptors.CalcTPSA(m),
                       "hbd": rdMolDescriptors.CalcNumHBD(m), "hba": rdMolDescriptors.CalcNumHBA(m),
                       "rotatable_bonds": rdMolDescriptors.CalcNumRotatableBonds(m),
                       "heavy_atoms": m.GetNumHeavyAtoms(), "rings": rdMolDescriptors.CalcNumRings(m)}
                      for m in self.mols]

    def passing(self, filters) -> list[int]:
        f = props.normalize(filters)
        return [i for i, p in enumerate(self.props) if props.passes(p, f)]

    def similarity(self, query: str, filters=None, min_sim: float = 0.0) -> list[tuple[int, float]]:
        sims = DataStructs.BulkTanimotoSimilarity(GEN.GetFingerprint(Chem.MolFromSmiles(query)), self.fps)
        rows = [(self.ids[i], sims[i]) for i in self.passing(filters) if sims[i] >= min_sim]
        return sorted(rows, key=lambda t: (-t[1], t[0]))

    def substructure(self, query: str, filters=None) -> list[int]:
        q = parse_query(query)[0]
        rows = [i for i in self.passing(filters) if self.mols[i].HasSubstructMatch(q)]
        return [self.ids[i] for i in sorted(rows, key=lambda i: (self.props[i]["heavy_atoms"], self.ids[i]))]

    def superstructure(self, query: str, filters=None) -> list[int]:
        q = Chem.MolFromSmiles(query)
        rows = [i for i in self.passing(filters) if q.HasSubstructMatch(self.mols[i])]
        return [self.ids[i] for i in sorted(rows, key=lambda i: (-self.props[i]["heavy_atoms"], self.ids[i]))]

    def exact(self, query: str, filters=None) -> list[int]:
        can = Chem.MolToSmiles(Chem.MolFromSmiles(query))
        return sorted(self.ids[i] for i in self.passing(filters) if self.smiles[i] == can)


def nci_smiles(limit: int | None = None) -> list[str]:
    lines = nci_5k_path().read_text().splitlines()
    return [line.split()[0] for line in lines[:limit]]


def stereo_isomers(n: int = 12) -> list[str]:
    """Different canonical SMILES with identical Morgan fingerprints (exact ties)."""
    from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers

    base = Chem.MolFromSmiles("OCC(O)C(O)C(O)C(O)CCN")
    return sorted({Chem.MolToSmiles(m) for m in EnumerateStereoisomers(base)})[:n]


@pytest.fixture(scope="module")
def matcher():
    with MatchPool(workers=2) as pool:
        yield pool


@pytest.fixture(scope="module")
def loaded(matcher):
    batch = prepare(nci_smiles() + stereo_isomers())
    rng = np.random.default_rng(5)
    ids = rng.choice(2**53, size=len(batch), replace=False).astype(np.int64)
    index = MoleculeIndex(seal_rows=2000)  # several in-memory segments + a pending one
    index.add(ids[:4000], _rows(batch, slice(0, 4000)))
    index.add(ids[4000:], _rows(batch, slice(4000, None)))
    engine = MoleculeEngine(index, matcher, max_top_k=10_000)
    return engine, Reference(ids, batch.smiles)


def _rows(batch, sl):
    from solutions.molecular_search.ingest import PreparedBatch

    return PreparedBatch(batch.errors, batch.rows[sl], batch.smiles[sl], batch.fps[sl], batch.pattern_fps[sl],
                         batch.properties[sl])


def test_properties_are_the_rdkit_definitions():
    mols = [Chem.MolFromSmiles(s) for s in nci_smiles(300)]
    for mol in (m for m in mols if m is not None):
        ref = Reference([0], [Chem.MolToSmiles(mol)], [mol]).props[0]
        assert props.as_dict(props.compute(mol)) == ref


def test_prepare_reports_errors_per_record_and_pool_matches_serial():
    records = ["CCO", "C1CC", "aspirin", "c1ccccc1O", "C(C)(C)(C)(C)C", *nci_smiles(700)]
    serial = prepare(records)
    assert serial.errors[0] is None and serial.errors[3] is None
    assert "syntax error" in serial.errors[1]
    assert "enter a SMILES, not a name" in serial.errors[2]
    assert "valence" in serial.errors[4].lower()
    assert serial.rows[:2].tolist() == [0, 3]
    with Preparer(workers=2, chunk=200) as prep:
        pooled = prep.prepare(records)
    assert pooled.errors == serial.errors and pooled.smiles == serial.smiles
    assert np.array_equal(pooled.fps, serial.fps) and np.array_equal(pooled.pattern_fps, serial.pattern_fps)
    assert np.array_equal(pooled.properties, serial.properties)
    # the packed Morgan bits are RDKit's
    for j in (0, 1, 50):
        bits = np.flatnonzero(np.unpackbits(serial.fps[j].view(np.uint8), bitorder="little")).tolist()
        assert bits == list(GEN.GetFingerprint(Chem.MolFromSmiles(serial.smiles[j])).GetOnBits())


def test_the_first_load_of_a_process_shows_progress_while_its_workers_start():
    """Starting the workers (an interpreter and RDKit each) took seconds, during which a 5,000-molecule load showed
    no progress; now the load's own thread prepares the first chunk, in small pieces, meanwhile."""
    records = nci_smiles(700)
    with Preparer(workers=2, chunk=200) as prep:
        cold = [len(c.errors) for c in prep.prepare_chunks(records)]
        warm = [len(c.errors) for c in prep.prepare_chunks(records)]
        assert cold[0] < 50 and sum(cold[:-3]) == 200 and cold[-3:] == [200, 200, 100]
        assert warm == [200, 200, 200, 100]  # started: every chunk goes to the workers
    with Preparer(workers=2, chunk=200) as other:  # cold too: the pieces come in order
        assert [s for c in other.prepare_chunks(records) for s in c.smiles] == prepare(records).smiles


@pytest.mark.parametrize("filters", FILTERS)
def test_similarity_is_exact_top_k_among_passing_molecules(loaded, filters):
    engine, ref = loaded
    for q in SIM_QUERIES:
        expected = ref.similarity(q, filters)[:25]
        got = engine.search(q, "similarity", top_k=25, filters=filters).hits
        assert [(h.id, h.similarity) for h in got] == expected
        for h in got:
            assert props.passes(h.properties, props.normalize(filters))
        # two pages equal one longer query
        page1 = engine.search(q, top_k=10, filters=filters).hits
        page2 = engine.search(q, top_k=15, offset=10, filters=filters).hits
        assert [h.id for h in page1 + page2] == [i for i, _ in expected]


def test_similarity_min_similarity_ties_and_properties(loaded):
    engine, ref = loaded
    iso = stereo_isomers()
    got = engine.search(iso[0], top_k=len(iso) + 5, min_similarity=0.6).hits
    assert [(h.id, h.similarity) for h in got] == ref.similarity(iso[0], min_sim=0.6)[: len(iso) + 5]
    assert [h.similarity for h in got[: len(iso)]] == [1.0] * len(iso)
    assert [h.id for h in got[: len(iso)]] == sorted(h.id for h in got[: len(iso)])  # ties by id
    hit = got[0]
    row = ref.ids.index(hit.id)
    assert hit.smiles == ref.smiles[row] and hit.properties == pytest.approx(ref.props[row], rel=1e-12)


@pytest.mark.parametrize("filters", FILTERS[:3])
@pytest.mark.parametrize("query", ["c1ccccc1C(=O)O", "[#6]~[#7]~[#6](=O)", "C1CCCCC1", "S(=O)(=O)N", "[Cl,Br]c"])
def test_substructure_is_exact(loaded, query, filters):
    engine, ref = loaded
    expected = ref.substructure(query, filters)
    got = engine.search(query, "substructure", top_k=10_000, filters=filters, timeout_ms=60_000)
    assert got.complete
    assert [h.id for h in got.hits] == expected
    first = engine.search(query, "substructure", top_k=7, filters=filters, timeout_ms=60_000).hits
    second = engine.search(query, "substructure", top_k=9, offset=7, filters=filters, timeout_ms=60_000).hits
    assert [h.id for h in first + second] == expected[:16]


@pytest.mark.parametrize("filters", FILTERS[:3])
@pytest.mark.parametrize("query", ["CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CCNC(=O)c1ccc(N)cc1",
                                   "OC(=O)c1ccc(cc1)S(=O)(=O)N", "c1ccc2cc3ccccc3cc2c1"])
def test_superstructure_is_exact(loaded, query, filters):
    engine, ref = loaded
    expected = ref.superstructure(query, filters)
    got = engine.search(query, "superstructure", top_k=10_000, filters=filters, timeout_ms=60_000)
    assert got.complete and [h.id for h in got.hits] == expected
    if query.startswith("CCN") and filters is None:
        assert len(expected) >= 3  # the check is not vacuous
    page = engine.search(query, "superstructure", top_k=2, offset=1, filters=filters, timeout_ms=60_000).hits
    assert [h.id for h in page] == expected[1:3]


def test_exact_mode(loaded):
    engine, ref = loaded
    iso = stereo_isomers()
    for q in [iso[3], "OC(=O)c1ccccc1OC(C)=O", nci_smiles(20)[17]]:
        got = engine.search(q, "exact", top_k=10)
        assert [h.id for h in got.hits] == ref.exact(q)
    assert len(engine.search(iso[3], "exact").hits) == 1  # a stereoisomer is not the same molecule
    assert engine.search("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO", "exact").hits == []
    heavy = ref.props[ref.ids.index(engine.search(iso[3], "exact").hits[0].id)]["heavy_atoms"]
    assert engine.search(iso[3], "exact", filters={"heavy_atoms": [heavy + 1, None]}).hits == []


def test_batch_equals_singles_and_isolates_bad_queries(loaded):
    engine, _ = loaded
    queries = [*SIM_QUERIES, "aspirin", "C1CC", "[#6]~[#7]", *nci_smiles(30)[10:]]
    for f in (None, FILTERS[2]):
        batch = engine.search_batch(queries, top_k=5, offset=2, filters=f)
        for q, b in zip(queries, batch, strict=True):
            try:
                single = engine.search(q, top_k=5, offset=2, filters=f)
            except ChemError as exc:
                assert isinstance(b, ChemError) and str(b) == str(exc)
                continue
            assert [(h.id, h.similarity) for h in b.hits] == [(h.id, h.similarity) for h in single.hits]
    sub = engine.search_batch(["c1ccccc1", "C1CC"], mode="substructure", top_k=3)
    assert len(sub[0].hits) == 3 and isinstance(sub[1], ChemError)


def test_errors_are_clear(loaded):
    engine, _ = loaded
    with pytest.raises(ChemError, match="enter a SMILES, not a name"):
        engine.search("aspirin")
    with pytest.raises(ChemError, match="enter a SMILES, not a name"):
        engine.search("acetic acid", mode="substructure")
    with pytest.raises(ChemError, match="syntax error"):
        engine.search("C1CC(")
    with pytest.raises(ChemError, match="SMARTS"):
        engine.search("[#6]~[#7]", mode="similarity")
    with pytest.raises(ChemError, match="SMARTS"):
        engine.search("[#6]~[#7]", mode="superstructure")
    with pytest.raises(props.FilterError, match="unknown property"):
        engine.search("CCO", filters={"weight": [1, 2]})
    with pytest.raises(props.FilterError, match="above"):
        engine.search("CCO", filters={"mw": [300, 200]})
    with pytest.raises(ValueError, match="top_k"):
        engine.search("CCO", top_k=0)
    with pytest.raises(ChemError, match="atoms; the limit"):
        engine.search("C" * 200, mode="substructure")


def _brute(index_rows: dict[int, str], query: str, k: int) -> list[tuple[int, float]]:
    ids = list(index_rows)
    ref = Reference(np.asarray(ids), [index_rows[i] for i in ids])
    return ref.similarity(query)[:k]


def test_delete_add_save_reopen_mmap(tmp_path, matcher):
    smiles = nci_smiles(1500)
    batch = prepare(smiles)
    ids = np.arange(len(batch), dtype=np.int64) * 3 + 1
    rows = dict(zip(ids.tolist(), batch.smiles, strict=True))
    index = MoleculeIndex(tmp_path / "idx", seal_rows=400)
    assert index.add(ids[:1000], _rows(batch, slice(0, 1000))) == 1000
    assert index.add(ids[:10], _rows(batch, slice(0, 10))) == 0  # already stored
    index.save({"version": 1})
    # delete from the mapped segment, add more (pending + sealed), delete one pending row
    gone = [*ids[[0, 5, 999]].tolist(), ids[1200].item()]
    index.add(ids[1000:], _rows(batch, slice(1000, None)))
    assert index.delete(gone) == 4
    assert index.delete(gone) == 0
    for g in gone:
        rows.pop(g)
    assert len(index) == len(rows) and not index.contains(gone).any()
    engine = MoleculeEngine(index, matcher)
    for q in [*SIM_QUERIES, batch.smiles[5]]:
        assert [(h.id, h.similarity) for h in engine.search(q, top_k=12).hits] == _brute(rows, q, 12)
    index.save({"version": 2})  # tombstones saved (no compaction needed at this dead fraction)
    again = MoleculeIndex(tmp_path / "idx")
    assert again.meta == {"version": 2} and len(again) == len(rows)
    assert all(p.seg.path is not None for p in again.snapshot().parts)
    assert not any(p.seg.cols.flags.writeable for p in again.snapshot().parts)  # read-only maps
    engine2 = MoleculeEngine(again, matcher)
    for q in SIM_QUERIES:
        assert [(h.id, h.similarity) for h in engine2.search(q, top_k=12).hits] == _brute(rows, q, 12)
    assert engine2.search(batch.smiles[5], "exact").hits == []
    assert [h.id for h in engine2.search(batch.smiles[6], "exact").hits] == [int(ids[6])]
    # compaction rewrites one segment and removes the old files
    again.save(compact=True)
    assert len(again.snapshot().parts) == 1
    names = sorted(p.name for p in (tmp_path / "idx").iterdir())
    assert names == ["manifest.json", again.snapshot().parts[0].seg.path.name]
    third = MoleculeIndex(tmp_path / "idx")
    for q in SIM_QUERIES:
        assert [(h.id, h.similarity) for h in MoleculeEngine(third, matcher).search(q, top_k=12).hits] \
            == _brute(rows, q, 12)
    assert third.get([int(ids[6]), int(ids[0])])[1] is None


def test_empty_index_and_zero_similarity_fill(matcher):
    index = MoleculeIndex()
    engine = MoleculeEngine(index, matcher)
    assert engine.search("CCO").hits == []
    assert engine.search("CCO", "substructure").hits == []
    batch = prepare(["CCO", "c1ccccc1", "CCN", "O=C=O"])
    index.add([10, 3, 7, 1], batch)
    got = engine.search("c1ccncc1", top_k=4).hits  # shares bits with few rows: zero scores fill by id
    ref = Reference(np.asarray([10, 3, 7, 1]), batch.smiles)
    assert [(h.id, h.similarity) for h in got] == ref.similarity("c1ccncc1")[:4]


def test_pathological_match_stops_at_the_time_limit():
    ring19 = "[#6]1" + "~[#6]" * 18 + "~1"  # an odd ring: never in a grid, exponential backtracking
    index = MoleculeIndex()
    index.add([1, 2], prepare([grid_smiles(), "CCCC"]))
    with MatchPool(workers=1) as pool:
        engine = MoleculeEngine(index, pool)
        assert engine.search("CC", "substructure").complete  # worker warm
        started = time.perf_counter()
        result = engine.search(ring19, "substructure", timeout_ms=500)
        elapsed = time.perf_counter() - started
        assert not result.complete and result.hits == []
        assert elapsed < 1.5, elapsed
        assert pool.kills == 1
        started = time.perf_counter()
        svg, complete = engine.svg(grid_smiles(), highlight=ring19, timeout_ms=500)
        assert not complete and svg.startswith("<?xml") and time.perf_counter() - started < 1.5
        # the replacement worker answers the next query
        after = engine.search("CCCC", "substructure", timeout_ms=20_000)
        assert after.complete and [h.id for h in after.hits] == [2, 1]
        svg, complete = engine.svg("c1ccccc1O", highlight="c1ccccc1", timeout_ms=20_000)
        assert complete and "<path" in svg


def test_refresh_sees_another_processs_save(tmp_path):
    batch = prepare(nci_smiles(300))
    writer = MoleculeIndex(tmp_path / "idx")
    writer.add(np.arange(200), _rows(batch, slice(0, 200)))
    writer.save({"version": 1})
    reader = MoleculeIndex(tmp_path / "idx")
    assert len(reader) == 200 and not reader.refresh()  # nothing new
    writer.add(np.arange(200, len(batch)), _rows(batch, slice(200, None)))
    writer.delete([0])
    writer.save({"version": 2})
    assert reader.refresh() and len(reader) == len(batch) - 1 and reader.meta == {"version": 2}
    assert reader.get([0, 250])[0] is None and reader.get([250])[0].smiles == batch.smiles[250]
    reader.delete([1])  # unsaved changes of its own: a refresh would lose them, so it does not happen
    writer.delete([2])
    writer.save()
    assert not reader.refresh() and reader.get([2])[0] is not None


def test_waiting_for_a_busy_worker_counts_against_the_budget():
    import threading

    ring19 = "[#6]1" + "~[#6]" * 18 + "~1"
    index = MoleculeIndex()
    index.add([1, 2], prepare([grid_smiles(), "CCCC"]))
    with MatchPool(workers=1) as pool:
        engine = MoleculeEngine(index, pool)
        assert engine.search("CC", "substructure").complete
        busy = threading.Thread(target=engine.search, args=(ring19, "substructure"), kwargs={"timeout_ms": 1500})
        busy.start()
        time.sleep(0.2)
        started = time.perf_counter()
        result = engine.search("CCCC", "substructure", timeout_ms=300)
        assert not result.complete and result.scanned == 0
        assert time.perf_counter() - started < 1.0
        busy.join()
