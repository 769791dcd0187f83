"""Record → row preparation: the chemistry of a load, batched and spread over worker processes.

For each record: parse + sanitise (one RDKit call on the fast path) → canonical isomeric SMILES →
Morgan fingerprint (RDKit generator, radius 2, 2048 bits by default) → pattern fingerprint (the
substructure screen) → the eight properties of :mod:`.properties`. Fingerprints come back as packed
little-endian ``uint64`` rows (bit ``i`` = bit ``i % 64`` of word ``i // 64``), the layout
:class:`~.molindex.MoleculeIndex` stores, built for the whole batch with one ``np.packbits``.

Cost per molecule on this machine (NCI set, 16 heavy atoms on average; ``bench/molecular_search.py``
measures it): parse 77 µs, canonical SMILES 50 µs, Morgan 34 µs, pattern 130 µs, properties 300 µs
(Crippen logP 180 µs, rotatable bonds 70 µs, HBA 35 µs). :class:`Preparer` runs batches on a
process pool (2 workers by default) so a load uses both cores.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from . import properties as props
from .chem import ChemError, parse_molblock, parse_smiles
from .matching import die_with_parent
from .records import Record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FingerprintSpec:
    """What the fingerprints are: Morgan radius and length, pattern-fingerprint length (bits, multiples of 64)."""

    radius: int = 2
    fp_bits: int = 2048
    pattern_bits: int = 2048

    def __post_init__(self) -> None:
        if self.fp_bits % 64 or self.pattern_bits % 64 or self.fp_bits <= 0 or self.pattern_bits < 0:
            raise ValueError("fingerprint lengths must be positive multiples of 64")


@dataclass
class PreparedBatch:
    """Rows ready for the index: one per record that RDKit accepted, with per-record errors."""

    #: one entry per input record: ``None`` when prepared, else why it was refused
    errors: list[str | None]
    #: input position of each prepared row
    rows: np.ndarray
    #: canonical isomeric SMILES per row
    smiles: list[str]
    #: Morgan fingerprints, ``uint64 [n, fp_bits / 64]``
    fps: np.ndarray
    #: pattern fingerprints, ``uint64 [n, pattern_bits / 64]``
    pattern_fps: np.ndarray
    #: ``float64 [n, 8]`` in :data:`.properties.PROPERTY_NAMES` order
    properties: np.ndarray
    #: CPU seconds spent per step (summed over rows), for profiling
    timings: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.smiles)

    @staticmethod
    def concat(batches: Sequence[PreparedBatch], spec: FingerprintSpec) -> PreparedBatch:
        if not batches:
            return _empty(spec, [])
        errors: list[str | None] = []
        rows = []
        offset = 0
        timings: dict[str, float] = {}
        for b in batches:
            errors.extend(b.errors)
            rows.append(b.rows + offset)
            offset += len(b.errors)
            for k, v in b.timings.items():
                timings[k] = timings.get(k, 0.0) + v
        return PreparedBatch(errors, np.concatenate(rows), [s for b in batches for s in b.smiles],
                             np.concatenate([b.fps for b in batches]),
                             np.concatenate([b.pattern_fps for b in batches]),
                             np.concatenate([b.properties for b in batches]), timings)


def _empty(spec: FingerprintSpec, errors: list[str | None]) -> PreparedBatch:
    return PreparedBatch(errors, np.zeros(0, np.int64), [], np.zeros((0, spec.fp_bits // 64), np.uint64),
                         np.zeros((0, spec.pattern_bits // 64), np.uint64),
                         np.zeros((0, len(props.PROPERTY_NAMES)), np.float64))


_GENERATORS: dict[tuple[int, int], object] = {}


def morgan_generator(spec: FingerprintSpec) -> rdFingerprintGenerator.FingerprintGenerator64:
    key = (spec.radius, spec.fp_bits)
    gen = _GENERATORS.get(key)
    if gen is None:
        gen = _GENERATORS[key] = rdFingerprintGenerator.GetMorganGenerator(radius=spec.radius, fpSize=spec.fp_bits)
    return gen  # type: ignore[return-value]


def pack_dense(dense: np.ndarray) -> np.ndarray:
    """``uint8 [n, bits]`` of 0/1 → packed ``uint64 [n, bits / 64]`` (little-endian bit order)."""
    return np.packbits(dense, axis=1, bitorder="little").view(np.uint64)


def morgan_fp(mol: Chem.Mol, spec: FingerprintSpec) -> np.ndarray:
    """The Morgan fingerprint of one molecule as packed ``uint64 [fp_bits / 64]``."""
    return pack_dense(morgan_generator(spec).GetFingerprintAsNumPy(mol)[None, :])[0]


def pattern_fp(mol: Chem.Mol, spec: FingerprintSpec) -> np.ndarray:
    """The pattern (substructure screen) fingerprint of a molecule or query as packed ``uint64``."""
    if spec.pattern_bits == 0:
        return np.zeros(0, np.uint64)
    text = Chem.PatternFingerprint(mol, fpSize=spec.pattern_bits).ToBitString()
    dense = np.frombuffer(text.encode("ascii"), dtype=np.uint8) - 48
    return pack_dense(dense[None, :])[0]


def prepare(records: Sequence[Record | tuple[str, str] | str], spec: FingerprintSpec = FingerprintSpec(),
            max_heavy_atoms: int = 500, with_properties: bool = True) -> PreparedBatch:
    """Prepare records in this process: a :class:`Record`, a ``(kind, text)`` pair or a SMILES string each.

    ``with_properties=False`` skips the eight properties (their values are NaN): an index rebuilt from SQL
    takes them from the stored columns and only needs the fingerprints again.
    """
    gen = morgan_generator(spec)
    n = len(records)
    errors: list[str | None] = [None] * n
    rows: list[int] = []
    smiles: list[str] = []
    dense_fp = np.empty((n, spec.fp_bits), dtype=np.uint8)
    dense_pat = np.empty((n, spec.pattern_bits), dtype=np.uint8)
    values = np.empty((n, len(props.PROPERTY_NAMES)), dtype=np.float64)
    t = {"parse": 0.0, "smiles": 0.0, "morgan": 0.0, "pattern": 0.0, "properties": 0.0}
    clock = time.process_time  # CPU time: per-step costs that other load on the machine does not inflate
    for i, rec in enumerate(records):
        kind, text = ("smiles", rec) if isinstance(rec, str) else (
            (rec.kind, rec.text) if isinstance(rec, Record) else rec)
        t0 = clock()
        try:
            mol = parse_smiles(text) if kind == "smiles" else parse_molblock(text)
            heavy = mol.GetNumHeavyAtoms()
            if heavy > max_heavy_atoms:
                raise ChemError(f"{heavy} heavy atoms; the limit is {max_heavy_atoms}")
        except ChemError as exc:
            errors[i] = str(exc)
            t["parse"] += clock() - t0
            continue
        except Exception as exc:  # RDKit can raise odd types on odd input; never lose the batch
            errors[i] = f"RDKit could not read the record: {exc}"
            t["parse"] += clock() - t0
            continue
        t1 = clock()
        canonical = Chem.MolToSmiles(mol)
        t2 = clock()
        j = len(rows)
        dense_fp[j] = gen.GetFingerprintAsNumPy(mol)
        t3 = clock()
        if spec.pattern_bits:
            bits = Chem.PatternFingerprint(mol, fpSize=spec.pattern_bits).ToBitString()
            dense_pat[j] = np.frombuffer(bits.encode("ascii"), dtype=np.uint8)
        t4 = clock()
        if with_properties:
            values[j] = props.compute(mol)
        else:
            values[j] = np.nan
        t5 = clock()
        rows.append(i)
        smiles.append(canonical)
        t["parse"] += t1 - t0
        t["smiles"] += t2 - t1
        t["morgan"] += t3 - t2
        t["pattern"] += t4 - t3
        t["properties"] += t5 - t4
    m = len(rows)
    if spec.pattern_bits:
        dense_pat[:m] -= 48  # ASCII '0'/'1' → 0/1
    return PreparedBatch(errors, np.asarray(rows, dtype=np.int64), smiles, pack_dense(dense_fp[:m]),
                         pack_dense(dense_pat[:m]), values[:m].copy(), t)


#: records per piece of the first chunk, prepared in the load's thread while the workers start
_WARM_UP_PIECE = 32


def _prepare_chunk(args: tuple[list[str | tuple[str, str]], FingerprintSpec, int, bool]) -> PreparedBatch:
    records, spec, max_heavy, with_properties = args
    return prepare(records, spec, max_heavy, with_properties)


class Preparer:
    """:func:`prepare` spread over a pool of worker processes (``workers <= 1``: in this process).

    Use as a context manager or call :meth:`close`; the pool starts on first use. Safe to call from
    several threads (the executor queues their chunks).
    """

    def __init__(self, spec: FingerprintSpec = FingerprintSpec(), workers: int = 2, max_heavy_atoms: int = 500,
                 chunk: int = 256) -> None:
        self.spec = spec
        self.workers = workers
        self.max_heavy_atoms = max_heavy_atoms
        self.chunk = chunk
        self._pool: ProcessPoolExecutor | None = None

    def prepare(self, records: Iterable[Record | tuple[str, str] | str]) -> PreparedBatch:
        return PreparedBatch.concat(list(self.prepare_chunks(records)), self.spec)

    def prepare_chunks(self, records: Iterable[Record | tuple[str, str] | str],
                       with_properties: bool = True) -> Iterator[PreparedBatch]:
        """:func:`prepare` of consecutive chunks of ``records`` (``chunk`` records each), yielded in order as the
        workers finish them: the caller stores chunk *i* while the workers prepare the next ones."""
        items = [r if isinstance(r, str) else ((r.kind, r.text) if isinstance(r, Record) else r) for r in records]
        if self.workers <= 1 or len(items) <= self.chunk:
            yield prepare(items, self.spec, self.max_heavy_atoms, with_properties)
            return
        cold = self._pool is None
        if self._pool is None:
            # spawn: a clean interpreter per worker (no copied locks/threads of a web server); the workers exit
            # when this process dies, even by SIGKILL (about 200 MB each). A load's thread starts them and may
            # end first, so the watchdog only (no parent-death signal, which that thread's end would send)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                             initializer=die_with_parent, initargs=(os.getpid(),))
        pool = self._pool
        chunks = [(items[s : s + self.chunk], self.spec, self.max_heavy_atoms, with_properties)
                  for s in range(0, len(items), self.chunk)]
        # workers take seconds to start (an interpreter and RDKit each): meanwhile this thread prepares the first
        # chunk, in small pieces, so the first load of a process shows progress at once, not after the start-up
        futures = [pool.submit(_prepare_chunk, c) for c in chunks[1 if cold else 0:]]
        try:
            if cold:
                first = chunks[0][0]
                for s in range(0, len(first), _WARM_UP_PIECE):
                    yield prepare(first[s : s + _WARM_UP_PIECE], self.spec, self.max_heavy_atoms, with_properties)
            for future in futures:
                yield future.result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): the next call starts a new pool
            pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise
        finally:  # a load stopped early (cancelled, failed) leaves no chunk queued
            for future in futures:
                future.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Preparer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
