"""The memory-mapped index and SQL stay in step (both backends): a restart maps the saved index, a missing or
stale one is rebuilt from SQL with the same answers, and another process's load (``bootcamp load``) is seen by
a running service; one writer at a time."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from rdkit import Chem

from common.pipeline import NullMonitor, load_job
from common.pool import WorkerPool
from common.sql import open_sql_store
from common.tasks import TaskRunner
from solutions.molecular_search.bitslice import transpose, untranspose
from solutions.molecular_search.keeper import IndexKeeper
from solutions.molecular_search.pipeline import MoleculePipeline
from tests.support import load

from .helpers import copy_nci, make_app, settings_for

QUERIES = [{"smiles": "CC(=O)Oc1ccccc1C(=O)O", "top_k": 10, "filters": {"mw": [100, 400]}},
           {"smiles": "c1ccccc1C(=O)O", "mode": "substructure", "top_k": 20},
           {"smiles": "CCN(CC)CCNC(=O)c1ccc(N)cc1", "mode": "superstructure", "top_k": 20}]


def answers(client) -> list[list[dict]]:
    return [client.post("/search", json=q).json()["results"] for q in QUERIES]


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    copy_nci(root / "nci.smi", limit=400)
    return root


def test_a_restart_maps_the_saved_index_and_rebuilds_a_missing_one(backend, tmp_path, unique, root, monkeypatch,
                                                                     caplog):
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        load(client, root)
        expected = answers(client)
        index_dir = client.app.state.pipeline.keeper.path
    assert (index_dir / "manifest.json").is_file()

    def no_rebuild(self, version):
        raise AssertionError("the saved index should have been used")

    with monkeypatch.context() as m:
        m.setattr(IndexKeeper, "rebuild", no_rebuild)
        caplog.clear()
        app = make_app(backend, tmp_path, unique, root)
        with caplog.at_level("INFO", logger="solutions"), TestClient(app) as client:
            assert answers(client) == expected
        # a routine start says nothing beyond the launcher's one line per demo (mapping it was an INFO line)
        assert [r.getMessage() for r in caplog.records if r.name.startswith("solutions")] == []
    shutil.rmtree(index_dir)
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        assert answers(client) == expected  # rebuilt from SQL: same molecules, fingerprints, properties
        assert (index_dir / "manifest.json").is_file()
        client.delete("/data")


def test_a_stale_index_is_rebuilt_at_start(backend, tmp_path, unique, root):
    """Rows written after the last save (a crash before it) are in SQL only: the next start rebuilds."""
    app = make_app(backend, tmp_path, unique, root)
    with TestClient(app) as client:
        load(client, root)
        pipeline: MoleculePipeline = app.state.pipeline
        pipeline.keeper.save = lambda: None  # type: ignore[method-assign]  # this process "dies" before saving
        extra = root / "extra.smi"
        extra.write_text("CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO long-alcohol\n", encoding="utf-8")
        load(client, extra)
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        hits = client.post("/search", json={"smiles": "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO", "mode": "exact"}).json()
        assert [h["name"] for h in hits["results"]] == ["long-alcohol"]
        client.delete("/data")


def second_process(app, settings):
    """What ``bootcamp load`` opens in another process: its own SQL connection, task runner and writer lock on
    the same data directory (flock treats two descriptors of one file like two processes)."""
    res = app.state.resources
    sql = open_sql_store(settings.database_url, res.data_dir / "meta.db")
    other = replace(res, sql=sql, pool=WorkerPool(1, 0, "other"), tasks=TaskRunner(sql, "molecular_search"))
    return MoleculePipeline(other, settings), other


def test_a_load_by_another_process_is_seen_by_the_running_service(backend, tmp_path, unique, root):
    settings = settings_for(backend, tmp_path, unique, root, sync_check_ms=0, writer_wait_s=0.5)
    app = make_app(backend, tmp_path, unique, root, sync_check_ms=0, writer_wait_s=0.5)
    with TestClient(app) as client:
        load(client, root)
        before = client.get("/count").json()["count"]
        other, res = second_process(app, settings)
        try:
            extra = tmp_path / "extra.smi"
            stored = (root / "nci.smi").read_text(encoding="utf-8").split()[0]  # already loaded by the service
            extra.write_text(f"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO long-alcohol\n{stored}\n", encoding="utf-8")
            other.keeper.begin_load(NullMonitor().cancelled)  # the other process is loading: one writer at a time
            try:
                refused = client.delete("/data")
                assert refused.status_code == 503 and "another process" in refused.json()["detail"]
            finally:
                other.keeper.end_load()
            task = res.tasks.run_now(str(extra), load_job(other, extra, extra.parent))
            assert task["new"] == 1 and task["duplicates"] == 1
        finally:
            other.close()
            res.tasks.shutdown(wait=True)
            res.pool.shutdown()
            res.sql.dispose()
        assert client.get("/count").json()["count"] == before + 1
        hits = client.post("/search", json={"smiles": "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCO", "top_k": 1}).json()
        assert hits["results"][0]["name"] == "long-alcohol" and hits["total"] == before + 1
        client.delete("/data")


def test_an_item_is_listed_only_once_it_is_searchable(backend, tmp_path, unique, root):
    """While a load runs, every listed molecule is found by an exact search (index first, SQL row last)."""
    copy_nci(root / "nci.smi", limit=3000)
    with TestClient(make_app(backend, tmp_path, unique, root, batch_size=256, ingest_chunk=64)) as client:
        task_id = client.post("/load", json={"path": str(root)}).json()["task_id"]
        seen = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            items = client.get("/items", params={"limit": 20}).json()["items"]
            for item in items:
                hits = client.post("/search", json={"smiles": item["smiles"], "mode": "exact"}).json()["results"]
                assert [h["id"] for h in hits] == [item["id"]]
            seen += len(items)
            if client.get(f"/tasks/{task_id}").json()["state"] not in ("queued", "running"):
                break
        assert seen > 0
        assert Chem.MolFromSmiles(items[0]["smiles"]) is not None
        client.delete("/data")


def test_a_writer_waits_for_another_processs_load_then_goes_on(backend, tmp_path, unique, root):
    settings = settings_for(backend, tmp_path, unique, root, writer_wait_s=5)
    app = make_app(backend, tmp_path, unique, root, writer_wait_s=5)
    with TestClient(app) as client:
        load(client, root)
        other, res = second_process(app, settings)
        try:
            other.keeper.begin_load(NullMonitor().cancelled)
            threading.Timer(0.5, other.keeper.end_load).start()
            started = time.monotonic()
            assert client.delete("/data").status_code == 200  # waited for the other load to end
            assert 0.3 < time.monotonic() - started < 5
        finally:
            other.close()
            res.tasks.shutdown(wait=True)
            res.pool.shutdown()
            res.sql.dispose()


def test_untranspose_of_a_one_word_segment_leaves_its_columns_alone():
    """A segment of at most 64 molecules has one word per column: its transposed slice is already contiguous, so
    ``np.ascontiguousarray`` returned a view and the in-place 64×64 transpose wrote into the segment itself (a
    mapped, read-only segment: "output array is read-only", and every later load of the service failed)."""
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 2**63, size=(64, 32), dtype=np.uint64)
    cols = transpose(rows)
    mapped = cols.copy()
    mapped.flags.writeable = False
    assert np.array_equal(untranspose(mapped), rows)
    writable = cols.copy()
    assert np.array_equal(untranspose(writable, np.array([5, 0, 63])), rows[[5, 0, 63]])
    assert np.array_equal(writable, cols)


def test_loads_of_one_molecule_each_succeed_and_are_saved(backend, tmp_path, unique, monkeypatch):
    """Each load saves its segment, then mapped read-only from its file; a segment of one molecule has one word
    per column, and compacting it (the load after) failed with "output array is read-only" before."""
    root = tmp_path / "root"
    root.mkdir()
    files = []
    for k, smiles in enumerate(["CCO", "c1ccccc1N", "CC(=O)Oc1ccccc1C(=O)O", "CCCCCl", "OC(=O)CCC(=O)O"]):
        files.append(root / f"{k}.smi")
        files[-1].write_text(f"{smiles} m{k}\n", encoding="utf-8")
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        for f in files:
            task = load(client, f)
            assert (task["state"], task["message"], task["new"]) == ("succeeded", None, 1), task
        expected = client.post("/search", json={"smiles": "CCO", "top_k": 10}).json()["results"]
        assert len(expected) == 5

    def no_rebuild(self, version):
        raise AssertionError("the index saved at the end of the last load should have been used")

    monkeypatch.setattr(IndexKeeper, "rebuild", no_rebuild)
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        assert client.post("/search", json={"smiles": "CCO", "top_k": 10}).json()["results"] == expected
        client.delete("/data")
