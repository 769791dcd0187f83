"""The molecule service over HTTP on both backends: loads, exact similarity, exact substructure, drawings."""

from __future__ import annotations

import io
import uuid
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from rdkit import Chem

from solutions.molecular_search.chem import parse_query
from solutions.molecular_search.pipeline import copy_nci
from tests.conftest import Backend
from tests.support import load, wait_task

from .helpers import (
    exact_similarity,
    exact_substructure,
    make_app,
    stored_smiles,
    write_data,
    write_stereo,
)

SIMILARITY_QUERIES = [
    ("CC(=O)Oc1ccccc1C(=O)O", 10, 0.0),
    ("c1ccc2ccccc2c1", 25, 0.0),
    ("CCN(CC)CC", 10, 0.3),
    ("OCC(O)C(O)C(O)C(O)C(O)C(O)CCN", 3, 0.0),  # 64 stereoisomers tie at 1.0
    ("O=C(O)c1ccccc1", 5, 0.99),  # probably nothing at all
]
SUBSTRUCTURE_QUERIES = ["c1ccccc1C(=O)O", "[#6]~[#7]", "C1CCCCC1", "[Cl,Br]c", "S(=O)(=O)N", "[N+](=O)[O-]"]


@pytest.fixture(scope="module", params=["lite", pytest.param("server", marks=pytest.mark.integration)])
def loaded(request, tmp_path_factory):
    """One loaded service per backend, shared by the read-only tests of this module."""
    backend = Backend("lite", "", "") if request.param == "lite" else request.getfixturevalue("server_backend")
    tmp_path = tmp_path_factory.mktemp(f"mol_{request.param}")
    root = write_data(tmp_path / "root")
    write_stereo(root)
    app = make_app(backend, tmp_path, uuid.uuid4().hex[:8], root)
    with TestClient(app) as client:
        assert app.state.pipeline.use_milvus is (request.param == "server")
        task = load(client, root)
        yield client, root, task, app
        client.delete("/data")


def test_load_reports_bad_records_with_line_numbers(loaded):
    client, root, task, _ = loaded
    assert task["state"] == "succeeded"
    errors = {e["item"]: e["error"] for e in task["errors"]}
    assert "syntax error" in errors["bad.smi:3"]
    assert "valence" in errors["bad.smi:5"]
    assert "bad.smi:7" in errors
    assert "bad.smi:2" not in errors and "bad.smi:6" not in errors
    stored = stored_smiles(root)
    assert client.get("/count").json() == {"count": len(stored)}
    # ethanol twice (CCO, OCC) is stored once; loading everything again adds nothing
    again = load(client, root)
    assert again["done"] == task["done"]
    assert client.get("/count").json() == {"count": len(stored)}


@pytest.mark.parametrize("query,k,min_sim", SIMILARITY_QUERIES)
def test_similarity_is_exact_rdkit_tanimoto(loaded, query, k, min_sim):
    client, root, _, _ = loaded
    body = {"smiles": query, "top_k": k, "mode": "similarity"}
    if min_sim:
        body["min_similarity"] = min_sim
    response = client.post("/search", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["took_ms"] >= 0
    got = [(h["smiles"], h["similarity"]) for h in data["results"]]
    assert got == exact_similarity(stored_smiles(root), query, k, min_sim)
    for hit in data["results"]:
        assert {"mw", "logp", "hbd", "hba"} <= hit.keys() and hit["mw"] > 0


def test_substructure_is_exact_and_capped(loaded):
    client, root, _, _ = loaded
    stored = stored_smiles(root)
    for query in SUBSTRUCTURE_QUERIES:
        data = client.post("/search", json={"smiles": query, "mode": "substructure", "top_k": 1000}).json()
        expected = exact_substructure(stored, parse_query(query)[0])
        assert data["complete"] is True
        assert {h["smiles"] for h in data["results"]} == expected, query
        assert data["candidates"] <= data["total"] == len(stored)
        if data["query_kind"] == "smiles":  # hits carry their exact Tanimoto to the query
            exact = dict(exact_similarity([h["smiles"] for h in data["results"]], query, 1000))
            assert {h["smiles"]: h["similarity"] for h in data["results"]} == exact
        else:
            assert all(h["similarity"] is None for h in data["results"])
        capped = client.post("/search", json={"smiles": query, "mode": "substructure", "top_k": 3}).json()
        assert [h["id"] for h in capped["results"]] == [h["id"] for h in data["results"][:3]]
    # the screen really prunes: a rare group leaves few candidates
    rare = client.post("/search", json={"smiles": "S(=O)(=O)N", "mode": "substructure", "top_k": 1000}).json()
    assert rare["candidates"] < rare["total"] / 4


def test_substructure_time_budget_reports_partial_results(loaded):
    client, root, _, _ = loaded
    data = client.post("/search", json={"smiles": "C", "mode": "substructure", "top_k": 1000, "timeout_ms": 1}).json()
    assert data["complete"] is False
    assert data["scanned"] < data["candidates"]
    assert len(data["results"]) <= data["scanned"]
    expected = exact_substructure(stored_smiles(root), Chem.MolFromSmiles("C"))
    assert {h["smiles"] for h in data["results"]} <= expected


def test_bad_queries_are_422(loaded):
    client, _, _, _ = loaded
    for body in [{"smiles": "C1CC"}, {"smiles": "C(C)(C)(C)(C)C"}, {"smiles": "xyz((", "mode": "substructure"},
                 {"smiles": "[#6]~[#7]", "mode": "similarity"}, {"smiles": ""}, {"smiles": "CCO", "top_k": 0},
                 {"smiles": "CCO", "mode": "nearest"}, {"smiles": "C" * 3000}]:
        response = client.post("/search", json=body)
        assert response.status_code == 422, body
        assert isinstance(response.json()["detail"], str)
    assert client.get("/depict", params={"smiles": "C1CC"}).status_code == 422


def test_items_svg_highlight_delete(backend, tmp_path, unique):
    root = tmp_path / "root"
    copy_nci(root / "nci.smi", limit=300)
    client = TestClient(make_app(backend, tmp_path, unique, root))
    client.__enter__()
    load(client, root)
    hit = client.post("/search", json={"smiles": "c1ccccc1C(=O)O", "mode": "substructure", "top_k": 1}).json()
    item = hit["results"][0]
    assert item["svg_url"] == f"items/{item['id']}/svg?highlight={quote('c1ccccc1C(=O)O', safe='')}"
    plain = client.get(f"/items/{item['id']}/svg")
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("image/svg+xml")
    assert plain.text.lstrip().startswith("<?xml") and "<svg" in plain.text
    lit = client.get("/" + item["svg_url"])
    assert lit.status_code == 200 and lit.text != plain.text  # highlighted atoms are drawn differently
    assert client.get(f"/items/{item['id']}/svg", params={"highlight": "C1CC(("}).status_code == 422
    meta = client.get(f"/items/{item['id']}").json()
    assert meta["smiles"] == item["smiles"] and meta["source"].startswith("nci.smi:")
    before = client.get("/count").json()["count"]
    assert client.delete(f"/items/{item['id']}").status_code == 204
    assert client.get(f"/items/{item['id']}").status_code == 404
    assert client.get(f"/items/{item['id']}/svg").status_code == 404
    assert client.get("/count").json()["count"] == before - 1
    again = client.post("/search", json={"smiles": item["smiles"], "top_k": 1}).json()["results"]
    assert again[0]["id"] != item["id"]
    assert client.delete("/data").json() == {"dropped": before - 1}
    assert client.post("/search", json={"smiles": "CCO"}).json()["results"] == []
    assert client.post("/search", json={"smiles": "C", "mode": "substructure"}).json()["results"] == []
    client.__exit__(None, None, None)


def test_upload_csv_sdf_properties_and_restart(backend, tmp_path, unique):
    root = tmp_path / "root"
    root.mkdir()
    sdf = io.StringIO()
    with Chem.SDWriter(sdf) as writer:
        for name, smi in [("testosterone", "CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O"), ("broken", "C")]:
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", name)
            mol.SetProp("source_db", "demo")
            writer.write(mol)
    sdf_text = sdf.getvalue().replace("broken\n", "broken\n", 1)
    # corrupt the second record's atom line
    head, tail = sdf_text.split("$$$$\n", 1)
    tail = tail.replace("    0.0000", "    x.xxxx", 1)
    files = [
        ("files", ("drugs.csv", b"smiles,name,target\nCC(=O)Oc1ccccc1C(=O)O,aspirin,COX\nnot_a_smiles,bad,x\n",
                   "text/csv")),
        ("files", ("steroids.sdf", (head + "$$$$\n" + tail).encode(), "chemical/x-mdl-sdfile")),
    ]
    app = make_app(backend, tmp_path, unique, root)
    with TestClient(app) as client:
        response = client.post("/upload", files=files)
        assert response.status_code == 202, response.text
        task = wait_task(client, response.json()["task_id"])
        assert (task["done"], task["failed"]) == (2, 2), task
        items = {e["item"] for e in task["errors"]}
        assert "drugs.csv:3" in items and any(i.startswith("steroids.sdf:") for i in items)
        hits = client.post("/search", json={"smiles": "CC(=O)Oc1ccccc1C(=O)O", "top_k": 5}).json()["results"]
        assert hits[0]["name"] == "aspirin" and hits[0]["similarity"] == 1.0
        assert hits[0]["properties"] == {"target": "COX"}
        core = "C1~C~C~C2~C(~C1)~C~C~C1~C2~C~C~C2~C~C~C~C~1~2"  # the steroid skeleton, any bond order (SMARTS)
        steroid = client.post("/search", json={"smiles": core, "mode": "substructure"}).json()
        assert [h["name"] for h in steroid["results"]] == ["testosterone"]
        assert steroid["results"][0]["properties"] == {"source_db": "demo"}
        expected = client.post("/search", json={"smiles": "CCO", "top_k": 5}).json()["results"]
        snapshot = app.state.pipeline.snapshot_path
    assert snapshot.exists()
    # a restart reads the snapshot; without it, the index is rebuilt from SQL: same answers
    for remove in (False, True):
        if remove:
            snapshot.unlink()
        with TestClient(make_app(backend, tmp_path, unique, root)) as client:
            assert client.post("/search", json={"smiles": "CCO", "top_k": 5}).json()["results"] == expected
            if remove:
                client.delete("/data")


def test_page_is_served(backend, tmp_path, unique):
    with TestClient(make_app(backend, tmp_path, unique, tmp_path)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "Molecular search" in page.text
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/depict", params={"smiles": "c1ccccc1"}).headers["content-type"].startswith("image/svg")
