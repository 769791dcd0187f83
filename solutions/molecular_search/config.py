"""Settings of the molecule service (environment prefix ``MOLECULE_``; shared ones in :mod:`common.settings`)."""

from __future__ import annotations

from pydantic import Field

from common.settings import ServiceSettings, service_config


class MoleculeSettings(ServiceSettings):
    model_config = service_config("MOLECULE_")

    #: first part of the SQL table names (``molecule_items``, ``molecule_state``)
    store_prefix: str = Field("molecule", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
    #: records per process_batch call (the chemistry of a batch runs on ``ingest_workers`` processes,
    #: ``ingest_chunk`` records per task; each chunk is stored while the next ones are computed)
    batch_size: int = Field(4096, gt=0)
    ingest_workers: int = Field(2, ge=1, le=64)
    ingest_chunk: int = Field(512, ge=16)
    max_top_k: int = Field(1000, gt=0, le=16384)
    #: deepest result a search may page to (``offset + top_k``)
    max_results: int = Field(10_000, gt=0, le=16384)
    #: queries per ``POST /search/batch``
    max_batch_queries: int = Field(1000, ge=1, le=10_000)

    #: Morgan (ECFP4-like) fingerprint: radius and length in bits; pattern fingerprint of the substructure
    #: screen. Changing any of them needs the index rebuilt (it is, from SQL, at the next start).
    fp_radius: int = Field(2, ge=1, le=4)
    fp_bits: int = Field(2048, ge=256, le=8192, multiple_of=64)
    pattern_bits: int = Field(2048, ge=256, le=8192, multiple_of=64)

    #: time limit of substructure/superstructure matching and of highlighted drawings (``timeout_ms`` of a
    #: request may lower it, or raise it up to ``max_timeout_ms``); past it, answers say ``complete: false``
    timeout_ms: int = Field(5000, gt=0, le=600_000)
    max_timeout_ms: int = Field(30_000, gt=0, le=600_000)
    #: RDKit matching worker processes (killable at the time limit); molecules each keeps parsed
    match_workers: int = Field(2, ge=1, le=16)
    match_mol_cache: int = Field(50_000, ge=0)
    #: query size caps (characters of a SMILES/SMARTS, atoms of a structure query)
    max_query_chars: int = Field(2000, gt=0, le=100_000)
    max_query_atoms: int = Field(120, gt=0, le=1000)
    #: molecules larger than this (heavy atoms) are refused at load time
    max_heavy_atoms: int = Field(500, gt=0)

    #: the memory-mapped index, under this service's data directory
    index_dir: str = Field("index", pattern=r"^[A-Za-z0-9_.-]{1,100}$")
    #: how often a search checks whether another process changed the database (ms)
    sync_check_ms: int = Field(1000, ge=0)
    #: a long load saves the index every this many new molecules, so its memory stays bounded
    save_every: int = Field(250_000, gt=0)
    #: how long a write waits for another process (``bootcamp load``) writing to the same index
    writer_wait_s: float = Field(10.0, ge=0)
