"""Request and response models of the molecule service."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SearchRequest(BaseModel):
    smiles: str = Field(..., min_length=1, max_length=2000,
                        description="query SMILES (SMARTS allowed in substructure mode)",
                        examples=["CC(=O)Oc1ccccc1C(=O)O"])
    top_k: int = Field(10, ge=1, le=1000)
    mode: Literal["similarity", "substructure"] = "similarity"
    min_similarity: float | None = Field(None, ge=0.0, le=1.0, description="similarity mode: drop hits below this")
    timeout_ms: int | None = Field(None, ge=1, le=60_000, description="substructure mode: time budget")


class MoleculeHit(BaseModel):
    id: int
    smiles: str
    name: str
    similarity: float | None = Field(None, description="Tanimoto of Morgan r=2 fingerprints (null for SMARTS queries)")
    mw: float
    logp: float
    hbd: int
    hba: int
    heavy_atoms: int
    properties: dict[str, str] = Field(default_factory=dict, description="extra CSV columns / SD tags")
    svg_url: str


class SearchResponse(BaseModel):
    results: list[MoleculeHit]
    took_ms: float
    mode: str
    complete: bool = Field(True, description="false when a substructure search ran out of its time budget")
    scanned: int | None = Field(None, description="substructure: candidates verified with RDKit")
    candidates: int | None = Field(None, description="substructure: molecules left by the fingerprint screen")
    total: int | None = Field(None, description="substructure: molecules searched")
    query_kind: str | None = Field(None, description="substructure: whether the query was read as smiles or smarts")
