"""Files of a :class:`~.molindex.MoleculeIndex`: the manifest, segment generations, tombstones, compaction.

``<index dir>/manifest.json`` names the live generation: ``{"format", "generation", "segments": [{"dir",
"live"}], "meta", "spec"}``. Each ``dir`` is a segment directory (see :mod:`.segment`); ``live`` names a
``.npy`` word mask of the rows still alive in it (``null``: all of them). A save writes new segment
directories and masks first (fsynced), then replaces the manifest atomically, then removes files no
manifest names any more; readers that mapped the previous generation keep valid mappings (POSIX).
One writer process per directory; any number of readers (:meth:`.MoleculeIndex.refresh`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .bitslice import popcount, positions
from .ingest import FingerprintSpec
from .segment import Segment

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Part:
    """A segment with its live-row word mask (deleted and padding positions are 0)."""

    seg: Segment
    live: np.ndarray
    n_live: int
    live_file: str | None = None  # the saved tombstone mask this part was opened with



def read_manifest(path: Path, spec: FingerprintSpec) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text())
    saved = manifest["spec"]
    if (saved["radius"], saved["fp_bits"], saved["pattern_bits"]) != (spec.radius, spec.fp_bits, spec.pattern_bits):
        raise ValueError(f"{path}: index built with {saved}, settings ask for {spec}")
    return manifest


def open_parts(path: Path, manifest: Mapping[str, Any]) -> list[Part]:
    """Memory-map every segment of the manifest, with its tombstones."""
    parts = []
    for entry in manifest["segments"]:
        seg = Segment.open(path / entry["dir"])
        live = seg.padding_free_mask() if entry.get("live") is None else np.load(path / entry["live"])
        parts.append(Part(seg, live, popcount(live), entry.get("live")))
    return parts


def write_generation(path: Path, parts: Sequence[Part], generation: int, meta: Mapping[str, Any],
                     spec: FingerprintSpec) -> list[Part]:
    """Save what is not on disk yet, switch the manifest, drop stale files; returns the mapped parts."""
    path.mkdir(parents=True, exist_ok=True)
    entries, mapped = [], []
    for i, part in enumerate(parts):
        seg = part.seg
        if seg.path is None or seg.path.parent != path:
            name = f"seg-{generation:06d}-{i:03d}"
            seg.save(path / name)
            seg = Segment.open(path / name)
        live_file = part.live_file
        if part.n_live != seg.size:  # tombstones to keep
            if live_file is None or not np.array_equal(np.load(path / live_file), part.live):
                live_file = f"live-{generation:06d}-{i:03d}.npy"
                with (path / live_file).open("wb") as fh:
                    np.save(fh, part.live)
                    fh.flush()
                    os.fsync(fh.fileno())
        else:
            live_file = None
        entries.append({"dir": seg.path.name if seg.path else "", "live": live_file})
        mapped.append(Part(seg, part.live, part.n_live, live_file))
    manifest = {"format": 1, "generation": generation, "segments": entries, "meta": dict(meta),
                "spec": {"radius": spec.radius, "fp_bits": spec.fp_bits, "pattern_bits": spec.pattern_bits}}
    tmp = path / (MANIFEST + ".tmp")
    with tmp.open("w") as fh:
        json.dump(manifest, fh)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path / MANIFEST)
    keep = {e["dir"] for e in entries} | {e["live"] for e in entries if e["live"]}
    for child in path.iterdir():  # earlier generations (mapped files stay valid until unmapped)
        if child.name not in keep and child.name.startswith(("seg-", "live-")):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    return mapped


def compacted(parts: Sequence[Part]) -> Part | None:
    """One segment holding the live rows of ``parts``."""
    chunks = []
    for p in parts:
        pos = positions(p.live)
        if pos.size == 0:
            continue
        fps, pfps = p.seg.fingerprints(pos)
        chunks.append((np.asarray(p.seg.ids[pos]), fps, pfps, p.seg.values(pos),
                       [p.seg.smiles(int(i)) for i in pos.tolist()]))
    if not chunks:
        return None
    seg = Segment.build(np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks]),
                        np.concatenate([c[2] for c in chunks]), np.concatenate([c[3] for c in chunks]),
                        [s for c in chunks for s in c[4]])
    live = seg.padding_free_mask()
    return Part(seg, live, popcount(live))


def tombstoned(part: Part, ids: np.ndarray) -> tuple[Part, int]:
    """``part`` with the rows of ``ids`` marked dead, and how many live rows that removed."""
    pos = part.seg.find_ids(ids)
    pos = pos[pos >= 0]
    if pos.size == 0:
        return part, 0
    words, bits = pos >> 6, (pos & 63).astype(np.uint64)
    alive = ((part.live[words] >> bits) & np.uint64(1)).astype(bool)
    if not alive.any():
        return part, 0
    live = part.live.copy()
    np.bitwise_and.at(live, words[alive], ~(np.uint64(1) << bits[alive]))
    n = int(alive.sum())
    return Part(part.seg, live, part.n_live - n, part.live_file), n
