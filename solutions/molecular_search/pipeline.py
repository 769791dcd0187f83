"""The molecule pipeline: read records → RDKit sanitise → canonical SMILES → fingerprints → stores.

Stores, and who answers what:

* SQL (``<prefix>_items``) is the store of record: canonical SMILES, name, properties, and both
  fingerprints as packed bytes. A one-row ``<prefix>_state`` table holds a version bumped by every
  write, so each process notices changes made by another one.
* Similarity on a Milvus server with binary vectors: ``BINARY_VECTOR`` + ``BIN_FLAT``/``JACCARD``
  (Jaccard distance = 1 − Tanimoto) gives candidates; their exact Tanimoto is recomputed from the
  stored bits and the candidate list is widened until it provably holds the exact top-k (ties
  included, broken by id).
* Similarity on Milvus Lite (no binary vectors) and every substructure search: the in-memory
  :class:`~.fpindex.FingerprintIndex` (bit-sliced exact Tanimoto, pattern screen), built from SQL and
  snapshotted to ``<data_dir>/<collection>.npz``. Both paths return the same answer.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType
from rdkit import Chem
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    delete,
    func,
    select,
    update,
)

from common.errors import InvalidInput, NotFound
from common.safety import sniff_file
from common.service import Resources, WorkItem, content_id, iter_files, label_for

from .chem import (
    ChemError,
    Fingerprinter,
    Record,
    canonical_smiles,
    draw_svg,
    looks_like_smarts,
    parse_query,
    parse_record,
    parse_smiles,
    properties,
    read_records,
)
from .config import MoleculeSettings
from .fpindex import FingerprintIndex

log = logging.getLogger(__name__)

#: Milvus caps ``limit`` (topk) at 16384
MILVUS_MAX_LIMIT = 16384
#: float32 distances from Milvus are compared with this slack before the exact re-rank
FLOAT_SLACK = 1e-6


class MoleculePipeline:
    accepted_kinds = frozenset({"text"})

    def __init__(self, res: Resources, settings: MoleculeSettings) -> None:
        self.settings = settings
        self.sql = res.sql
        self.vectors = res.vectors
        self.batch_size = settings.batch_size
        self.collection = settings.collection
        self.fingerprinter = Fingerprinter(settings.fp_radius, settings.fp_bits, settings.pattern_bits)
        has_binary = bool(res.vectors.capabilities.binary_vector)
        if settings.similarity_engine == "milvus" and not has_binary:
            raise ValueError(f"MOLECULE_SIMILARITY_ENGINE=milvus but {res.vectors.uri} has no BINARY_VECTOR support")
        self.use_milvus = has_binary and settings.similarity_engine != "index"
        self.snapshot_path = res.data_dir / f"{settings.collection}.npz"
        prefix = settings.table_prefix
        md = res.sql.metadata
        self.items = Table(
            f"{prefix}_items", md,
            Column("id", BigInteger, primary_key=True, autoincrement=False),
            Column("smiles", Text, nullable=False),
            Column("name", String(512), nullable=False, default=""),
            Column("source", String(1024), nullable=False, default=""),
            Column("properties", Text, nullable=False, default="{}"),
            Column("mw", Float, nullable=False),
            Column("logp", Float, nullable=False),
            Column("hbd", Integer, nullable=False),
            Column("hba", Integer, nullable=False),
            Column("heavy_atoms", Integer, nullable=False),
            Column("fp", LargeBinary(1024), nullable=False),
            Column("pfp", LargeBinary(1024), nullable=False),
            extend_existing=True,
        )
        self.state = Table(
            f"{prefix}_state", md,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("version", BigInteger, nullable=False),
            extend_existing=True,
        )
        md.create_all(res.sql.engine, tables=[self.items, self.state])
        with self.sql.begin() as conn:
            self.sql.insert_ignore(conn, self.state, [{"id": 1, "version": 0}])
        self.index = FingerprintIndex(settings.fp_bits, settings.pattern_bits)
        self._version: int | None = None
        self._write_lock = threading.RLock()
        self._mols: dict[int, Chem.Mol] = {}
        if self.use_milvus:
            self._ensure_collection()
        log.info("molecule search: %s similarity path", "Milvus BINARY_VECTOR/JACCARD" if self.use_milvus
                 else "in-memory packed-uint64 index (Milvus Lite has no binary vectors)")
        self._sync()

    # -- stores ------------------------------------------------------------------------------
    def _ensure_collection(self) -> None:
        schema = self.vectors.new_schema()
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("fp", DataType.BINARY_VECTOR, dim=self.settings.fp_bits)
        index = self.vectors.new_index_params()
        # BIN_FLAT: exhaustive, so the candidate list is complete and the re-rank exact
        index.add_index("fp", index_type="BIN_FLAT", metric_type="JACCARD")
        self.vectors.ensure_collection(self.collection, schema, index)

    def _db_version(self, conn: Any = None) -> int:
        stmt = select(self.state.c.version).where(self.state.c.id == 1)
        if conn is not None:
            return int(conn.execute(stmt).scalar_one())
        with self.sql.begin() as c:
            return int(c.execute(stmt).scalar_one())

    def _sync(self) -> None:
        """Bring the in-memory index up to the database's version (snapshot file, else full read)."""
        version = self._db_version()
        if version == self._version:
            return
        with self._write_lock:
            version = self._db_version()
            if version == self._version:
                return
            if self.index.load(self.snapshot_path) == version and len(self.index) == self.count():
                self._version = version
                self._mols.clear()
                self.index.warm()
                log.info("fingerprint index: %d molecules from snapshot v%d", len(self.index), version)
                return
            started = time.perf_counter()
            self.index.clear()
            self._mols.clear()
            cols = [self.items.c.id, self.items.c.fp, self.items.c.pfp, self.items.c.heavy_atoms, self.items.c.smiles]
            with self.sql.engine.connect() as conn:
                result = conn.execution_options(yield_per=20000).execute(select(*cols))
                for chunk in result.partitions():
                    ids, fps, pfps, heavy, smiles = zip(*chunk, strict=True)
                    self.index.add(list(ids), [bytes(f) for f in fps], [bytes(p) for p in pfps], list(heavy),
                                   list(smiles))
            self._version = version
            self.index.warm()
            log.info("fingerprint index: %d molecules read from SQL in %.1f s", len(self.index),
                     time.perf_counter() - started)

    def _bump(self, conn: Any) -> int:
        """Increment the stored version inside a write transaction; returns the version before."""
        stmt = select(self.state.c.version).where(self.state.c.id == 1)
        if self.sql.dialect != "sqlite":
            stmt = stmt.with_for_update()
        before = int(conn.execute(stmt).scalar_one())
        conn.execute(update(self.state).where(self.state.c.id == 1).values(version=before + 1))
        return before

    # -- loading -----------------------------------------------------------------------------
    def list_items(self, path: Path, root: Path) -> Iterator[WorkItem]:
        for file in iter_files(path):
            label = label_for(file, root)
            if sniff_file(file) != "text":
                yield WorkItem(label, file, error="not a molecule file (.smi, .csv or .sdf text expected)")
                continue
            for line, record in read_records(file):
                item_label = f"{label}:{line}" if line else label
                if isinstance(record, str):
                    yield WorkItem(item_label, file, error=record)
                else:
                    yield WorkItem(item_label, file, data=record)

    def process_batch(self, items: list[WorkItem]) -> list[str | None]:
        errors: list[str | None] = []
        rows: dict[int, dict[str, Any]] = {}
        for item in items:
            record: Record = item.data
            try:
                mol = parse_record(record)
                props = properties(mol)
                if props["heavy_atoms"] > self.settings.max_heavy_atoms:
                    raise ChemError(f"{props['heavy_atoms']} heavy atoms; the limit is {self.settings.max_heavy_atoms}")
                smiles = canonical_smiles(mol)
                item_id = content_id(smiles)
                if item_id not in rows:
                    rows[item_id] = {
                        "id": item_id, "smiles": smiles, "name": record.name, "source": item.label[:1024],
                        "properties": json.dumps(record.properties, ensure_ascii=False), **props,
                        "fp": self.fingerprinter.morgan(mol), "pfp": self.fingerprinter.pattern(mol),
                    }
                errors.append(None)
            except ChemError as exc:
                errors.append(str(exc))
        if rows:
            self._store(list(rows.values()))
        return errors

    def _store(self, rows: list[dict[str, Any]]) -> None:
        with self._write_lock:
            if self.use_milvus:  # vectors first: an orphan vector is harmless, a row without one is not
                self.vectors.upsert(self.collection, [{"id": r["id"], "fp": r["fp"]} for r in rows])
            with self.sql.begin() as conn:
                before = self._bump(conn)
                self.sql.insert_ignore(conn, self.items, rows)
            if self._version == before:
                self.index.add([r["id"] for r in rows], [r["fp"] for r in rows], [r["pfp"] for r in rows],
                               [r["heavy_atoms"] for r in rows], [r["smiles"] for r in rows])
                self._version = before + 1
            else:
                self._version = None  # someone else wrote too: re-read on next use

    def finish_load(self) -> None:
        if self.use_milvus:
            self.vectors.flush(self.collection)
        self._save_snapshot()
        self.index.warm()

    def _save_snapshot(self) -> None:
        with self._write_lock:
            if self._version is not None:
                self.index.save(self.snapshot_path, self._version)

    # -- similarity --------------------------------------------------------------------------
    def _check_top_k(self, top_k: int) -> None:
        if not 1 <= top_k <= self.settings.max_top_k:
            raise InvalidInput(f"top_k must be between 1 and {self.settings.max_top_k}")

    def similarity(self, smiles: str, top_k: int, min_similarity: float = 0.0) -> list[dict[str, Any]]:
        self._check_top_k(top_k)
        mol = self._query_mol(smiles)
        fp = self.fingerprinter.morgan(mol)
        self._sync()
        if self.use_milvus:
            hits = self._milvus_topk(fp, top_k, min_similarity)
        else:
            hits = [(i, s) for i, s, _ in self.index.search(fp, top_k, min_similarity)]
        meta = self._rows([i for i, _ in hits])
        return [self._result(meta[i], s) for i, s in hits if i in meta]

    def _milvus_topk(self, fp: bytes, k: int, min_similarity: float) -> list[tuple[int, float]]:
        """Exact top-k from Milvus JACCARD candidates, widened until provably complete."""
        q = np.frombuffer(fp, dtype=np.uint64)
        a = int(np.bitwise_count(q).sum())
        limit = min(MILVUS_MAX_LIMIT, max(2 * k, k + 32))
        while True:
            hits = self.vectors.search(self.collection, [fp], anns_field="fp", limit=limit, metric_type="JACCARD",
                                       output_fields=["fp"], consistency_level=self.settings.search_consistency)[0]
            if not hits:
                return []
            ids = np.asarray([h["id"] for h in hits], dtype=np.int64)
            packed = b"".join(bytes(h["entity"]["fp"]) for h in hits)
            fps = np.frombuffer(packed, dtype=np.uint64).reshape(len(hits), -1)
            c = np.bitwise_count(fps & q).sum(axis=1)
            denom = a + np.bitwise_count(fps).sum(axis=1) - c
            sims = np.divide(c, denom, out=np.zeros(len(hits)), where=denom > 0)
            # rows Milvus still shows but SQL no longer has (a delete not yet visible to this
            # consistency level, a half-failed write) are dropped; the completeness test below still
            # uses every returned candidate, so the answer stays exact
            live = self.index.contains(ids.tolist())
            order = [i for i in np.lexsort((ids, -sims)) if live[i]]
            ranked = [(int(ids[i]), float(sims[i])) for i in order if sims[i] >= min_similarity][:k]
            if len(hits) < limit:
                return ranked  # Milvus returned every row
            cut = ranked[-1][1] if len(ranked) == k else min_similarity
            if float(sims.min()) < cut - FLOAT_SLACK:
                return ranked  # rows beyond the candidates score below the cut: the top-k is exact
            if limit >= MILVUS_MAX_LIMIT:
                log.warning("more than %d tied candidates; answering from the in-memory index", limit)
                return [(i, s) for i, s, _ in self.index.search(fp, k, min_similarity)]
            limit = min(MILVUS_MAX_LIMIT, limit * 4)

    # -- substructure ------------------------------------------------------------------------
    def substructure(self, query: str, top_k: int, timeout_ms: int | None = None) -> dict[str, Any]:
        self._check_top_k(top_k)
        qmol, kind = self._query(query)
        budget = (timeout_ms or self.settings.substructure_timeout_ms) / 1000.0
        started = time.perf_counter()
        self._sync()
        arr, rows = self.index.screen(self.fingerprinter.pattern(qmol))
        qfp = self.fingerprinter.morgan(qmol) if kind == "smiles" else None
        found: list[int] = []
        scanned = 0
        complete = True
        for row in rows.tolist():
            if scanned % 16 == 0 and time.perf_counter() - started > budget:
                complete = False
                break
            scanned += 1
            if self._mol(arr, row).HasSubstructMatch(qmol):
                found.append(row)
                if len(found) >= top_k:
                    break
        meta = self._rows([int(arr.ids[r]) for r in found])
        sims: list[float | None] = [None] * len(found)
        if qfp is not None and found:
            q = np.frombuffer(qfp, dtype=np.uint64)
            fps = arr.fps[np.asarray(found, dtype=np.int64)]
            c = np.bitwise_count(fps & q).sum(axis=1)
            denom = int(np.bitwise_count(q).sum()) + arr.pcs[found] - c
            sims = np.divide(c, denom, out=np.zeros(len(found)), where=denom > 0).tolist()
        results = [self._result(meta[int(arr.ids[row])], sim) for row, sim in zip(found, sims, strict=True)
                   if int(arr.ids[row]) in meta]
        return {"results": results, "complete": complete, "scanned": scanned, "candidates": int(rows.shape[0]),
                "total": arr.size, "query_kind": kind}

    def _mol(self, arr: Any, row: int) -> Chem.Mol:
        item_id = int(arr.ids[row])
        mol = self._mols.get(item_id)
        if mol is None:
            mol = Chem.MolFromSmiles(arr.smiles[row])
            if len(self._mols) >= self.settings.mol_cache_size:
                self._mols.clear()
            if self.settings.mol_cache_size:
                self._mols[item_id] = mol
        return mol

    # -- queries and drawings ----------------------------------------------------------------
    def _query_mol(self, smiles: str) -> Chem.Mol:
        if len(smiles) > self.settings.max_query_chars:
            raise InvalidInput(f"SMILES longer than {self.settings.max_query_chars} characters")
        if looks_like_smarts(smiles):
            raise InvalidInput("similarity search needs a molecule (SMILES); SMARTS queries work in substructure mode")
        try:
            return parse_smiles(smiles)
        except ChemError as exc:
            raise InvalidInput(f"invalid SMILES: {exc}") from exc

    def _query(self, text: str) -> tuple[Chem.Mol, str]:
        if len(text) > self.settings.max_query_chars:
            raise InvalidInput(f"query longer than {self.settings.max_query_chars} characters")
        try:
            return parse_query(text)
        except ChemError as exc:
            raise InvalidInput(f"invalid SMILES/SMARTS: {exc}") from exc

    def svg(self, item_id: int, highlight: str | None = None, width: int = 300, height: int = 220) -> str:
        row = self._rows([item_id]).get(item_id)
        if row is None:
            raise NotFound(f"no molecule {item_id}")
        query = self._query(highlight)[0] if highlight else None
        return draw_svg(Chem.MolFromSmiles(row["smiles"]), width, height, highlight=query)

    def depict(self, smiles: str, width: int = 300, height: int = 220) -> str:
        return draw_svg(self._query(smiles)[0], width, height)

    # -- items -------------------------------------------------------------------------------
    def _rows(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        if not ids:
            return {}
        cols = [c for c in self.items.c if c.name not in ("fp", "pfp")]
        out: dict[int, dict[str, Any]] = {}
        with self.sql.begin() as conn:
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                for row in conn.execute(select(*cols).where(self.items.c.id.in_(chunk))).mappings():
                    out[int(row["id"])] = dict(row)
        return out

    @staticmethod
    def _result(row: dict[str, Any], similarity: float | None) -> dict[str, Any]:
        return {
            "id": int(row["id"]), "smiles": row["smiles"], "name": row["name"],
            "similarity": None if similarity is None else round(similarity, 6),
            "mw": row["mw"], "logp": row["logp"], "hbd": row["hbd"], "hba": row["hba"],
            "heavy_atoms": row["heavy_atoms"], "properties": json.loads(row["properties"] or "{}"),
        }

    def count(self) -> int:
        with self.sql.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(self.items)).scalar_one())

    def get_item(self, item_id: int) -> dict[str, Any]:
        row = self._rows([item_id]).get(item_id)
        if row is None:
            raise NotFound(f"no molecule {item_id}")
        return {**self._result(row, None), "source": row["source"], "svg_url": f"items/{item_id}/svg"}

    def delete_item(self, item_id: int) -> None:
        with self._write_lock:
            if self.use_milvus:
                self.vectors.delete(self.collection, ids=[item_id])
            with self.sql.begin() as conn:
                gone = conn.execute(delete(self.items).where(self.items.c.id == item_id)).rowcount
                if not gone:
                    raise NotFound(f"no molecule {item_id}")
                before = self._bump(conn)
            if self._version == before:
                self.index.delete([item_id])
                self._version = before + 1
            else:
                self._version = None
            self._mols.pop(item_id, None)

    def drop(self) -> int:
        with self._write_lock:
            with self.sql.begin() as conn:
                n = int(conn.execute(select(func.count()).select_from(self.items)).scalar_one())
                conn.execute(delete(self.items))
                before = self._bump(conn)
            if self.use_milvus:
                self.vectors.drop(self.collection)
                self._ensure_collection()
            self.index.clear()
            self._mols.clear()
            self._version = before + 1
            self.snapshot_path.unlink(missing_ok=True)
            return n

    def cli_search(self, query: str, top_k: int) -> dict[str, Any]:
        """``bootcamp search molecular_search SMILES`` (similarity) or ``sub:SMARTS`` (substructure)."""
        if query.startswith("sub:"):
            return self.substructure(query[4:], top_k)
        return {"results": self.similarity(query, top_k)}

    def close(self) -> None:
        try:
            self._save_snapshot()
        except Exception:
            log.warning("could not save the fingerprint snapshot", exc_info=True)


def nci_5k_path() -> Path:
    """RDKit's bundled NCI sample (5000 SMILES with NCI numbers)."""
    return Path(str(importlib_resources.files("rdkit"))) / "Data" / "NCI" / "first_5K.smi"


def make_sample_data(dest: Path) -> Path:
    """A small data set to try: 1000 NCI molecules (.smi), a CSV with properties and an SD file."""
    dest.mkdir(parents=True, exist_ok=True)
    source = nci_5k_path()
    lines = source.read_text(encoding="utf-8").splitlines()[:1000]
    (dest / "nci_1000.smi").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (dest / "drugs.csv").write_text(
        "smiles,name,indication\n"
        "CC(=O)Oc1ccccc1C(=O)O,aspirin,pain\n"
        "CC(=O)Nc1ccc(O)cc1,paracetamol,pain\n"
        "CC(C)Cc1ccc(cc1)C(C)C(=O)O,ibuprofen,inflammation\n"
        "Cn1cnc2c1c(=O)n(C)c(=O)n2C,caffeine,stimulant\n"
        "CN1CCC[C@H]1c1cccnc1,nicotine,stimulant\n"
        "O=C(O)c1ccccc1O,salicylic acid,keratolytic\n",
        encoding="utf-8",
    )
    with Chem.SDWriter(str(dest / "steroids.sdf")) as writer:
        for name, smi in [("testosterone", "CC12CCC3C(CCC4=CC(=O)CCC34C)C1CCC2O"),
                          ("cholesterol", "CC(C)CCCC(C)C1CCC2C1(CCC3C2CC=C4C3(CCC(C4)O)C)C")]:
            mol = Chem.MolFromSmiles(smi)
            mol.SetProp("_Name", name)
            writer.write(mol)
    return dest


def copy_nci(dest: Path, limit: int | None = None) -> Path:
    """The NCI sample (or its first ``limit`` lines) copied to ``dest`` (tests, benchmark)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if limit is None:
        shutil.copyfile(nci_5k_path(), dest)
    else:
        lines = nci_5k_path().read_text(encoding="utf-8").splitlines()[:limit]
        dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest
