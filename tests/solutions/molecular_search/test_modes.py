"""Every search mode, with property filters, against brute-force RDKit over every stored molecule (both backends):
exact results and order, pages that equal one longer query, properties on every result."""

from __future__ import annotations

import pytest

from .helpers import passes

FILTERS = [
    None,
    {"mw": [150, 300]},
    {"hbd": [1, 1], "rings": [1, None], "tpsa": [20, 90]},
    {"heavy_atoms": [None, 12], "rotatable_bonds": [0, 2]},
    {"logp": [None, 1.5], "hba": [2, None]},
]
QUERIES = {
    "similarity": ["CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1", "CCN(CC)CCNC(=O)c1ccc(N)cc1",
                   "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN"],
    "substructure": ["c1ccccc1C(=O)O", "[#6]~[#7]", "S(=O)(=O)N", "[Cl,Br]c", "C1CCCCC1"],
    "superstructure": ["CCN(CC)CCNC(=O)c1ccc(N)cc1", "CC(=O)Oc1ccccc1C(=O)O", "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN",
                       "Clc1ccc(cc1)C(c1ccc(Cl)cc1)C(Cl)(Cl)Cl"],
    "exact": ["OCC", "C(O)C", "c1ccc2ccccc2c1", "CC(=O)Oc1ccccc1C(=O)O"],
}
CASES = [(mode, q) for mode, queries in QUERIES.items() for q in queries]


def search(client, **body) -> dict:
    response = client.post("/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "none" if f is None else ",".join(f))
@pytest.mark.parametrize("mode,query", CASES)
def test_results_are_exact_among_passing_molecules(loaded, mode, query, filters):
    client, _, _, ref = loaded
    top_k = 25 if mode == "similarity" else 1000
    data = search(client, smiles=query, mode=mode, top_k=top_k, filters=filters, timeout_ms=30_000)
    assert data["complete"] is True and data["mode"] == mode and data["total"] == len(ref.ids)
    assert [h["id"] for h in data["results"]] == ref.ranked(mode, query, filters)[:top_k]
    by_id = dict(zip(ref.ids, ref.props, strict=True))
    for hit in data["results"]:
        assert passes(hit["properties"], filters)
        assert hit["properties"] == pytest.approx(by_id[hit["id"]], rel=1e-12, abs=1e-12)
        assert hit["smiles"] == ref.smiles[ref.ids.index(hit["id"])]
    if mode == "similarity":  # the scores are RDKit's Tanimoto, exactly
        assert [(h["id"], h["similarity"]) for h in data["results"]] == ref.similarity(query, filters)[:top_k]


def test_similarity_ties_are_broken_by_id_and_min_similarity_cuts(loaded):
    client, _, _, ref = loaded
    chain = "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN"  # 64 stored stereoisomers share its fingerprint
    data = search(client, smiles=chain, top_k=70, min_similarity=0.5)
    expected = ref.similarity(chain, min_sim=0.5)[:70]
    assert [(h["id"], h["similarity"]) for h in data["results"]] == expected
    assert [h["similarity"] for h in data["results"][:64]] == [1.0] * 64
    assert all(h["similarity"] >= 0.5 for h in data["results"])


@pytest.mark.parametrize("mode,query", [("similarity", "CC(=O)Oc1ccccc1C(=O)O"), ("substructure", "[#6]~[#7]"),
                                        ("superstructure", "CCN(CC)CCNC(=O)c1ccc(N)cc1"),
                                        ("similarity", "OCC(O)C(O)C(O)C(O)C(O)C(O)CCN")])
@pytest.mark.parametrize("filters", [None, {"mw": [100, 400]}], ids=["none", "mw"])
def test_two_pages_equal_one_longer_query(loaded, mode, query, filters):
    client, _, _, _ = loaded
    body = {"smiles": query, "mode": mode, "filters": filters, "timeout_ms": 30_000}
    whole = search(client, **body, top_k=16)["results"]
    first = search(client, **body, top_k=7)["results"]
    second = search(client, **body, top_k=9, offset=7)["results"]
    assert [h["id"] for h in first + second] == [h["id"] for h in whole]
    assert len(whole) == 16 or mode == "superstructure"


def test_substructure_hits_are_highlighted_and_carry_their_similarity(loaded):
    client, _, _, ref = loaded
    data = search(client, smiles="c1ccccc1C(=O)O", mode="substructure", top_k=5)
    assert data["query_kind"] == "smiles" and data["candidates"] < data["total"]
    sims = dict(ref.similarity("c1ccccc1C(=O)O"))
    for hit in data["results"]:
        assert hit["svg_url"] == f"items/{hit['id']}/svg?highlight=c1ccccc1C%28%3DO%29O"
        assert hit["similarity"] == sims[hit["id"]]
    smarts = search(client, smiles="[#6]~[#7]", mode="substructure", top_k=3)
    assert smarts["query_kind"] == "smarts" and all(h["similarity"] is None for h in smarts["results"])
