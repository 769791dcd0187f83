"""Request and response models of the molecule service (SPEC: molecule search and its v2 additions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

Mode = Literal["similarity", "substructure", "superstructure", "exact"]
Range = tuple[float | None, float | None]

_MODE: Any = Field("similarity", description="similarity: Tanimoto ranking; substructure: stored molecules "
                   "containing the query (SMILES or SMARTS); superstructure: stored molecules contained in the "
                   "query; exact: same canonical isomeric SMILES")
_TIMEOUT: Any = Field(None, ge=1, description="substructure/superstructure: time limit in ms (default "
                      "MOLECULE_TIMEOUT_MS); past it the answer says complete: false")


def _range(definition: str) -> Any:
    return Field(None, description=f"[lo, hi], inclusive, either may be null: {definition}")


class PropertyFilters(BaseModel):
    """Ranges on the eight RDKit properties; a molecule must pass all of them. Applied in every mode."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mw": [200, 500], "logp": [None, 5]}]})

    mw: Range | None = _range("Descriptors.MolWt")
    logp: Range | None = _range("Crippen.MolLogP")
    tpsa: Range | None = _range("rdMolDescriptors.CalcTPSA")
    hbd: Range | None = _range("rdMolDescriptors.CalcNumHBD")
    hba: Range | None = _range("rdMolDescriptors.CalcNumHBA")
    rotatable_bonds: Range | None = _range("rdMolDescriptors.CalcNumRotatableBonds")
    heavy_atoms: Range | None = _range("HeavyAtomCount")
    rings: Range | None = _range("rdMolDescriptors.CalcNumRings")

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, data: Any) -> Any:
        """An unknown filter is refused with the names there are (not only "extra inputs are not permitted")."""
        if isinstance(data, dict):
            unknown = [str(k) for k in data if k not in cls.model_fields]
            if unknown:
                raise PydanticCustomError("unknown_filter", "unknown filter {unknown}; the filters are {known}",
                                          {"unknown": ", ".join(repr(k) for k in unknown),
                                           "known": ", ".join(cls.model_fields)})
        return data

    def ranges(self) -> dict[str, list[float | None]]:
        return {k: list(v) for k, v in self.model_dump(exclude_none=True).items()}


class SearchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"smiles": "CC(=O)Oc1ccccc1C(=O)O", "top_k": 5},
        {"smiles": "c1ccccc1C(=O)N", "mode": "substructure", "filters": {"mw": [None, 300]}}]})

    smiles: str = Field(..., min_length=1, max_length=100_000,
                        description="query SMILES (SMARTS too in substructure mode)")
    top_k: int = Field(10, ge=1, description="results per page (at most MOLECULE_MAX_TOP_K)")
    offset: int = Field(0, ge=0, description="first rank of the page: two pages equal one longer query")
    mode: Mode = _MODE
    min_similarity: float | None = Field(None, ge=0.0, le=1.0, description="similarity: drop hits below it")
    filters: PropertyFilters | None = None
    timeout_ms: int | None = _TIMEOUT


class BatchRequest(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"queries": ["CCO", "c1ccccc1O", "aspirin"], "top_k": 3, "filters": {"heavy_atoms": [None, 20]}}]})

    queries: list[str] = Field(..., min_length=1, max_length=10_000,
                               description="SMILES (SMARTS in substructure mode); at most MOLECULE_MAX_BATCH_QUERIES")
    mode: Mode = _MODE
    top_k: int = Field(10, ge=1)
    offset: int = Field(0, ge=0)
    min_similarity: float | None = Field(None, ge=0.0, le=1.0)
    filters: PropertyFilters | None = None
    timeout_ms: int | None = Field(None, ge=1, description="structure modes: the time limit of the whole batch")


class Properties(BaseModel):
    mw: float
    logp: float
    tpsa: float
    hbd: int
    hba: int
    rotatable_bonds: int
    heavy_atoms: int
    rings: int


class MoleculeHit(BaseModel):
    id: int
    smiles: str = Field(..., description="canonical isomeric SMILES (RDKit)")
    name: str
    similarity: float | None = Field(None, description="Tanimoto of Morgan fingerprints to the query (null for a "
                                     "SMARTS query)")
    properties: Properties
    fields: dict[str, str] = Field(default_factory=dict, description="extra CSV columns / SD tags of the record")
    svg_url: str


class SearchResponse(BaseModel):
    results: list[MoleculeHit]
    took_ms: float
    mode: Mode
    complete: bool = Field(True, description="false when a structure search reached its time limit: the results "
                           "are then the matches verified so far")
    query_kind: str = Field(..., description="how the query was read: smiles or smarts")
    candidates: int | None = Field(None, description="structure modes: molecules left by the fingerprint screen")
    scanned: int | None = Field(None, description="structure modes: candidates RDKit verified")
    total: int = Field(..., description="molecules searched")


class BatchResult(BaseModel):
    query: str
    results: list[MoleculeHit]
    error: str | None
    complete: bool


class BatchResponse(BaseModel):
    results: list[BatchResult]
    mode: Mode
    total: int = Field(..., description="molecules searched (0: nothing is loaded yet), as in /search")
    took_ms: float


class Columns(BaseModel):
    smiles: list[str] = Field(..., description="columns a table's SMILES is read from, the first found (any case)")
    name: list[str] = Field(..., description="columns a row's name is read from, the first the row fills (any case)")
