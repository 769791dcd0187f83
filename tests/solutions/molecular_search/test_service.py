"""The molecule service over HTTP on both backends: loads, batches, errors, items, drawings, uploads."""

from __future__ import annotations

import io
import json

from fastapi.testclient import TestClient
from rdkit import Chem

from tests.support import load, wait_task

from .helpers import copy_nci, make_app


def test_load_reports_bad_records_with_line_numbers_and_stores_each_molecule_once(loaded):
    client, _, task, ref = loaded
    assert task["state"] == "succeeded"
    errors = {e["item"]: e["error"] for e in task["errors"]}
    assert "syntax error" in errors["bad.smi:3"]
    assert "valence" in errors["bad.smi:5"]
    assert "bad.smi:7" in errors
    assert "bad.smi:2" not in errors and "bad.smi:6" not in errors
    assert client.get("/count").json() == {"count": len(ref.ids)}
    assert task["new"] == len(ref.ids) and task["duplicates"] > 0  # ethanol twice (CCO, OCC), NCI repeats


def test_milvus_is_never_opened(loaded):
    """The index answers every mode: the service reports Milvus as not used, and no Milvus Lite file is made
    (whose lock would keep a `bootcamp` command out while the server runs)."""
    client, app, _, _ = loaded
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["vector_store"] == "not used"
    res = app.state.resources
    assert not res.vectors.connected and not (res.data_dir / "milvus.db").exists()


def test_loading_again_stores_nothing_twice(loaded):
    client, app, task, ref = loaded
    again = load(client, app.state.settings.data_roots[0])
    assert (again["new"], again["done"]) == (0, task["done"])
    assert client.get("/count").json() == {"count": len(ref.ids)}


def test_batch_answers_each_query_and_isolates_a_bad_one(loaded):
    client, _, _, _ = loaded
    queries = ["CC(=O)Oc1ccccc1C(=O)O", "aspirin", "C1CC", "c1ccccc1O"]
    filters = {"mw": [None, 350]}
    response = client.post("/search/batch", json={"queries": queries, "top_k": 5, "filters": filters})
    assert response.status_code == 200, response.text
    data = response.json()
    assert [r["query"] for r in data["results"]] == queries and data["took_ms"] >= 0
    good, name, broken, phenol = data["results"]
    assert "enter a SMILES, not a name" in name["error"] and name["results"] == []
    assert "syntax error" in broken["error"]
    for r, q in ((good, queries[0]), (phenol, queries[3])):
        single = client.post("/search", json={"smiles": q, "top_k": 5, "filters": filters}).json()
        assert r["error"] is None and r["results"] == single["results"]


def test_structure_batch_equals_single_searches(loaded):
    client, _, _, _ = loaded
    queries = ["c1ccccc1C(=O)O", "[#6]~[#7", "S(=O)(=O)N"]
    data = client.post("/search/batch", json={"queries": queries, "mode": "substructure", "top_k": 4}).json()
    assert data["results"][1]["error"] and "SMARTS" in data["results"][1]["error"]
    for r in (data["results"][0], data["results"][2]):
        single = client.post("/search", json={"smiles": r["query"], "mode": "substructure", "top_k": 4}).json()
        assert r["complete"] is True and r["results"] == single["results"]


def test_bad_requests_are_422_with_a_clear_message(loaded):
    client, _, _, _ = loaded
    cases = [
        ({"smiles": "aspirin"}, "enter a SMILES, not a name"),
        ({"smiles": "C1CC"}, "SMILES syntax error in 'C1CC': unclosed ring"),
        ({"smiles": "C(C)(C)(C)(C)C"}, "valence"),
        ({"smiles": "xyz((", "mode": "substructure"}, "SMARTS"),
        ({"smiles": "[#6]~[#7]", "mode": "similarity"}, "SMARTS queries work in substructure mode"),
        ({"smiles": "CCO", "filters": {"weight": [1, 2]}},
         "filters: unknown filter 'weight'; the filters are mw, logp, tpsa, hbd, hba, rotatable_bonds, heavy_atoms, "
         "rings"),
        ({"smiles": "CCO", "filters": {"mw": [300, 100]}}, "lower bound"),
        ({"smiles": "CCO", "top_k": 1001}, "top_k"),
        ({"smiles": "CCO", "top_k": 100, "offset": 9950}, "offset + top_k"),
        ({"smiles": "CCO", "mode": "nearest"}, "mode"),
        ({"smiles": "C", "mode": "substructure", "timeout_ms": 10**6}, "timeout_ms"),
        ({"smiles": ""}, "smiles"),
        ({"smiles": "C" * 2500}, "longer than"),
    ]
    for body, message in cases:
        response = client.post("/search", json=body)
        assert response.status_code == 422, (body, response.text)
        assert message in response.json()["detail"], (body, response.json())
    too_many = client.post("/search/batch", json={"queries": ["CCO"] * 1001})
    assert too_many.status_code == 422 and "1000" in too_many.json()["detail"]
    assert client.get("/depict", params={"smiles": "C1CC"}).status_code == 422


def test_a_query_too_large_for_a_structure_search_is_still_searched_by_similarity_and_drawn(loaded):
    """The page previews every query it searches: a 150-atom similarity query was searched, but its drawing was
    refused at the 120 atoms of a structure query ("drawing not available")."""
    client, _, _, _ = loaded
    peptide = "NCC(=O)" + "NC(C)C(=O)" * 24 + "O"  # glycine and 24 alanines: 152 heavy atoms
    assert client.post("/search", json={"smiles": peptide, "top_k": 3}).status_code == 200
    structure = client.post("/search", json={"smiles": peptide, "mode": "substructure"})
    assert structure.status_code == 422 and "the limit is 120" in structure.json()["detail"]
    drawing = client.get("/depict", params={"smiles": peptide})
    assert drawing.status_code == 200 and drawing.headers["content-type"].startswith("image/svg+xml")
    assert client.get("/depict", params={"smiles": "C" * 501}).status_code == 422  # larger than any stored molecule


def test_an_inchi_is_named_as_such_not_taken_for_a_smarts(loaded):
    """Chemists paste InChIs; RDKit's SMARTS parser accepts one ("," and "/" are SMARTS syntax), so similarity
    said "SMARTS queries work in substructure mode" and substructure "neither valid SMILES nor SMARTS"."""
    client, _, _, _ = loaded
    inchi = "InChI=1S/C2H6O/c1-2-3/h3H,2H2,1H3"
    for mode in ("similarity", "substructure", "superstructure", "exact"):
        response = client.post("/search", json={"smiles": inchi, "mode": mode})
        assert response.status_code == 422, (mode, response.text)
        detail = response.json()["detail"]
        assert "is an InChI" in detail and "SMILES" in detail and "SMARTS queries work" not in detail, detail
    batch = client.post("/search/batch", json={"queries": [inchi, "CCO"]}).json()["results"]
    assert "is an InChI" in batch[0]["error"] and batch[1]["error"] is None


def test_a_pasted_csv_line_is_refused_as_such_and_smarts_with_commas_still_work(loaded):
    """"CCO,ethanol" (SMILES, name) was read as a SMARTS: similarity said "SMARTS queries work in substructure
    mode", and substructure then took the name for the query ("looks like a name")."""
    client, _, _, reference = loaded
    for mode in ("similarity", "substructure", "superstructure", "exact"):
        response = client.post("/search", json={"smiles": "CCO,ethanol", "mode": mode})
        assert response.status_code == 422, (mode, response.text)
        detail = response.json()["detail"]
        assert "line of a CSV file" in detail and detail.endswith("enter the SMILES alone: CCO"), detail
        assert "SMARTS" not in detail and "looks like a name" not in detail, detail
    batch = client.post("/search/batch", json={"queries": ["c1ccccc1O, phenol", "c1ccccc1O"]}).json()["results"]
    assert batch[0]["error"].endswith("enter the SMILES alone: c1ccccc1O") and batch[1]["error"] is None
    for smarts in ("[Cl,Br]c", "C-,=C(=O)[O;H1]"):  # commas of SMARTS, inside brackets and in a bond list
        answer = client.post("/search", json={"smiles": smarts, "mode": "substructure", "top_k": 1000}).json()
        assert answer["query_kind"] == "smarts" and answer["complete"], answer
        assert [h["id"] for h in answer["results"]] == reference.substructure(smarts)[:1000]


def test_a_time_limit_past_the_servers_is_refused_in_the_pages_unit_too(loaded):
    """The page asks for the time limit in seconds: "timeout_ms must be between 1 and 30000" alone left a user
    who typed 60 to work out the unit and the limit."""
    client, app, _, _ = loaded
    most = app.state.settings.max_timeout_ms
    response = client.post("/search", json={"smiles": "C", "mode": "substructure", "timeout_ms": most + 1})
    assert response.status_code == 422
    seconds = f"{most / 1000:g} s"
    assert response.json()["detail"] == f"timeout_ms must be between 1 and {most} (a time limit of at most {seconds})"


def test_a_drawing_of_an_id_no_molecule_can_have_is_422_not_500(loaded):
    client, _, _, _ = loaded
    for bad in (10**22, 2**63, 2**53, -1):  # past SQLite's INTEGER (OverflowError before), past any id, below any
        response = client.get(f"/items/{bad}/svg")
        assert response.status_code == 422 and "item_id" in response.json()["detail"], (bad, response.text)
    assert client.get(f"/items/{2**53 - 1}/svg").status_code == 404  # a possible id that is not stored


def test_items_export_drawings_and_delete(backend, tmp_path, unique):
    root = tmp_path / "root"
    copy_nci(root / "nci.smi", limit=300)
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        load(client, root)
        total = client.get("/count").json()["count"]
        page = client.get("/items", params={"limit": 500}).json()
        assert page["total"] == total == len(page["items"])
        item = page["items"][0]
        assert set(item) >= {"id", "name", "source", "added_at", "smiles", "properties", "fields", "svg_url"}
        assert item["source"].startswith("nci.smi:") and set(item["properties"]) == {
            "mw", "logp", "tpsa", "hbd", "hba", "rotatable_bonds", "heavy_atoms", "rings"}
        exported = [json.loads(line) for line in client.get("/export").text.splitlines()]
        assert {e["id"] for e in exported} == {i["id"] for i in page["items"]}
        plain = client.get(f"/items/{item['id']}/svg")
        assert plain.status_code == 200 and plain.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in plain.text and plain.headers["x-highlight-complete"] == "true"
        lit = client.get(f"/items/{item['id']}/svg", params={"highlight": "C"})
        assert lit.status_code == 200 and lit.text != plain.text
        assert client.get(f"/items/{item['id']}/svg", params={"highlight": "C1CC(("}).status_code == 422
        assert client.delete(f"/items/{item['id']}").status_code == 204
        assert client.get(f"/items/{item['id']}").status_code == 404
        assert client.get(f"/items/{item['id']}/svg").status_code == 404
        assert client.get("/count").json()["count"] == total - 1
        again = client.post("/search", json={"smiles": item["smiles"], "mode": "exact"}).json()
        assert again["results"] == [] and again["total"] == total - 1
        assert client.delete("/data").json() == {"dropped": total - 1}
        for mode in ("similarity", "substructure", "exact"):
            assert client.post("/search", json={"smiles": "CCO", "mode": mode}).json()["results"] == []


def _sdf(records: list[tuple[str, str]]) -> str:
    out = io.StringIO()
    with Chem.SDWriter(out) as writer:
        for name, smiles in records:
            mol = Chem.MolFromSmiles(smiles)
            mol.SetProp("_Name", name)
            mol.SetProp("source_db", "demo")
            writer.write(mol)
    return out.getvalue()


def test_upload_csv_jsonl_and_sdf_keep_names_and_fields(backend, tmp_path, unique):
    head, tail = _sdf([("testosterone", "CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O"), ("broken", "C")]).split("$$$$\n", 1)
    tail = tail.replace("    0.0000", "    x.xxxx", 1)  # corrupt the second record's atom line
    files = [
        ("files", ("drugs.csv", b"smiles,name,target\nCC(=O)Oc1ccccc1C(=O)O,aspirin,COX\nnot_a_smiles,bad,x\n",
                   "text/csv")),
        ("files", ("more.jsonl", b'{"smiles": "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "name": "caffeine", "dose_mg": 80}\n',
                   "application/x-ndjson")),
        ("files", ("steroids.sdf", (head + "$$$$\n" + tail).encode(), "chemical/x-mdl-sdfile")),
    ]
    with TestClient(make_app(backend, tmp_path, unique, tmp_path)) as client:
        response = client.post("/upload", files=files)
        assert response.status_code == 202, response.text
        task = wait_task(client, response.json()["task_id"])
        assert (task["new"], task["failed"]) == (3, 2), task
        items = {e["item"] for e in task["errors"]}
        assert "drugs.csv:3" in items and any(i.startswith("steroids.sdf:") for i in items)
        sdf_error = next(e["error"] for e in task["errors"] if e["item"].startswith("steroids.sdf:"))
        # the record by number and name, and RDKit's reason (it was only "unreadable molfile block")
        assert sdf_error.startswith("SD record 2 ('broken'): unreadable molfile block: "), sdf_error
        assert sdf_error.endswith("Cannot process coordinates on line 5 of the record"), sdf_error
        hits = client.post("/search", json={"smiles": "CC(=O)Oc1ccccc1C(=O)O", "top_k": 5}).json()["results"]
        assert hits[0]["name"] == "aspirin" and hits[0]["similarity"] == 1.0 and hits[0]["fields"] == {"target": "COX"}
        caffeine = client.post("/search", json={"smiles": "CN1C=NC2=C1C(=O)N(C)C(=O)N2C", "mode": "exact"}).json()
        assert [(h["name"], h["fields"]) for h in caffeine["results"]] == [("caffeine", {"dose_mg": "80"})]
        core = "C1~C~C~C2~C(~C1)~C~C~C1~C2~C~C~C2~C~C~C~C~1~2"  # the steroid skeleton, any bond order (SMARTS)
        steroid = client.post("/search", json={"smiles": core, "mode": "substructure"}).json()
        assert [(h["name"], h["fields"]) for h in steroid["results"]] == [("testosterone", {"source_db": "demo"})]


def test_a_batch_on_an_empty_store_says_how_many_molecules_it_searched_as_a_single_search_does(
        backend, tmp_path, unique):
    """``total`` tells "nothing is loaded yet" (0) from "no match"; the batch answer lacked it."""
    root = tmp_path / "root"
    root.mkdir()
    with TestClient(make_app(backend, tmp_path, unique, root)) as client:
        for mode in ("similarity", "substructure"):
            single = client.post("/search", json={"smiles": "CCO", "mode": mode}).json()
            batch = client.post("/search/batch", json={"queries": ["CCO", "c1ccccc1"], "mode": mode}).json()
            assert single["total"] == batch["total"] == 0, batch
            assert [r["results"] for r in batch["results"]] == [[], []]
        copy_nci(root / "nci.smi", limit=50)
        load(client, root)
        count = client.get("/count").json()["count"]
        batch = client.post("/search/batch", json={"queries": ["CCO"]}).json()
        assert batch["total"] == client.post("/search", json={"smiles": "CCO"}).json()["total"] == count > 0


def test_the_page_reads_table_columns_from_the_loaders_lists(loaded):
    """The page's batch reader kept its own copy of the loader's SMILES and name columns, kept in step by hand; it
    now reads the loader's lists."""
    from pathlib import Path

    from solutions.molecular_search.records import NAME_COLUMNS, SMILES_COLUMNS

    client = loaded[0]
    answer = client.get("/columns")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"smiles": list(SMILES_COLUMNS), "name": list(NAME_COLUMNS)}
    page = (Path(__file__).parents[3] / "solutions" / "molecular_search" / "static" / "app.js").read_text()
    assert "pref_name" not in page and "isosmiles" not in page
