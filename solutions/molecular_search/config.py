"""Settings of the molecule service (environment prefix ``MOLECULE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.settings import ServiceSettings, service_config


class MoleculeSettings(ServiceSettings):
    model_config = service_config("MOLECULE_")

    #: Morgan (ECFP4-like) fingerprint: radius and length in bits
    fp_radius: int = Field(2, ge=1, le=4)
    fp_bits: int = Field(2048, ge=256, le=8192, multiple_of=64)
    #: pattern fingerprint used to screen substructure candidates
    pattern_bits: int = Field(2048, ge=256, le=8192, multiple_of=64)
    #: names on the shared backends (tests give each run its own)
    collection: str = Field("molecule_fps", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    table_prefix: str = Field("molecule", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: records per process_batch call
    batch_size: int = Field(500, gt=0)
    max_top_k: int = Field(1000, gt=0)
    #: substructure search stops after this long and reports ``complete: false``
    substructure_timeout_ms: int = Field(5000, gt=0)
    #: molecules larger than this (heavy atoms) are refused at load time
    max_heavy_atoms: int = Field(500, gt=0)
    max_query_chars: int = Field(2000, gt=0)
    #: similarity engine: ``auto`` = Milvus binary vectors when the server has them, else the in-memory index
    similarity_engine: Literal["auto", "milvus", "index"] = "auto"
    #: consistency of Milvus similarity searches. ``Session`` sees every write of this process at once
    #: (about 35 ms at 100k on Milvus 2.3); ``Strong`` also waits for other writers (about 400 ms)
    search_consistency: Literal["Strong", "Session", "Bounded", "Eventually"] = "Session"
    #: parsed molecules kept in memory for substructure verification
    mol_cache_size: int = Field(200_000, ge=0)
    #: search engine (:mod:`.engine`): index directory under ``data_dir``, RDKit matching worker
    #: processes (killable, for real time limits), query-size cap, ingest chemistry processes
    index_dir: str = Field("molecule_index", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    match_workers: int = Field(2, ge=1, le=16)
    match_mol_cache: int = Field(100_000, ge=0)
    max_query_atoms: int = Field(120, gt=0, le=1000)
    ingest_workers: int = Field(2, ge=1, le=64)
    max_offset: int = Field(100_000, ge=0)
