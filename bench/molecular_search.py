"""Benchmark of the molecule demo.

1. Ingest: molecules/s of a real load (RDKit's bundled NCI set, 5000 SMILES) through the service's
   /load task on the embedded backends, next to the chemistry alone (parse + fingerprints).
2. Similarity at scale: exact Tanimoto top-10 from the packed-uint64 index vs RDKit
   ``BulkTanimotoSimilarity`` measured in the same run, on one core, at 100k and 1M synthetic
   fingerprints whose popcounts and bit frequencies are sampled from the NCI molecules' real
   Morgan fingerprints. Queries: perturbed copies of stored rows (analogue searches) and the
   real NCI molecules. Top-10 must be identical (ids and scores): recall@10 = 1.0.
3. Substructure: latency of SMILES/SMARTS queries on the NCI set vs RDKit ``HasSubstructMatch``
   over every molecule, with identical answers.

Writes bench/results/molecular_search.json and .png. Defaults finish in a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rdkit import Chem, DataStructs  # noqa: E402

from solutions.molecular_search.chem import Fingerprinter, parse_query, parse_smiles  # noqa: E402
from solutions.molecular_search.fpindex import FingerprintIndex  # noqa: E402
from solutions.molecular_search.pipeline import copy_nci, nci_5k_path  # noqa: E402

SUBSTRUCTURE_QUERIES = [
    "c1ccccc1C(=O)O", "c1ccccc1", "C(=O)N", "[#6]~[#7]", "S(=O)(=O)N", "[N+](=O)[O-]", "[Cl,Br,I]c",
    "c1ccc2ccccc2c1", "[NX3;H2]c1ccccc1", "C1CCCCC1", "[OH]c1ccccc1", "C1~C~C~C2~C(~C1)~C~C~C1~C2~C~C~C2~C~C~C~C~1~2",
]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def nci_molecules() -> list[Chem.Mol]:
    mols = []
    for line in nci_5k_path().read_text(encoding="utf-8").splitlines():
        try:
            mols.append(parse_smiles(line.split()[0]))
        except Exception:  # the few unsanitisable NCI records are skipped, as the service does
            continue
    return mols


# -- 1. ingest --------------------------------------------------------------------------------
def bench_ingest() -> dict:
    from fastapi.testclient import TestClient

    from solutions.molecular_search.app import create_app
    from solutions.molecular_search.config import MoleculeSettings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        copy_nci(root / "nci.smi")
        lines = len((root / "nci.smi").read_text().splitlines())
        fpr = Fingerprinter()
        started = time.perf_counter()
        for line in (root / "nci.smi").read_text().splitlines():
            try:
                mol = parse_smiles(line.split()[0])
            except Exception:  # skipped, as the service does
                continue
            Chem.MolToSmiles(mol)
            fpr.morgan(mol)
            fpr.pattern(mol)
        chem_rate = lines / (time.perf_counter() - started)
        app = create_app(MoleculeSettings(data_dir=Path(tmp) / "data", data_roots=[root]))
        with TestClient(app) as client:
            started = time.perf_counter()
            task_id = client.post("/load", json={"path": str(root)}).json()["task_id"]
            while (task := client.get(f"/tasks/{task_id}").json())["state"] in ("queued", "running"):
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            count = client.get("/count").json()["count"]
    result = {"records": lines, "stored": count, "failed": task["failed"], "seconds": round(elapsed, 2),
              "molecules_per_s": round(lines / elapsed, 1), "chemistry_only_per_s": round(chem_rate, 1)}
    print(f"ingest: {lines} records in {elapsed:.2f} s = {result['molecules_per_s']:.0f}/s end to end "
          f"(chemistry alone {chem_rate:.0f}/s); stored {count}, failed {task['failed']}")
    return result


# -- 2. similarity at scale -------------------------------------------------------------------
def synthetic_fingerprints(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` packed 2048-bit rows with the real set's popcount distribution and per-bit frequencies."""
    dense = np.unpackbits(real.view(np.uint8), axis=1, bitorder="little")
    freq = dense.sum(axis=0).astype(np.float64) + 0.05  # a little mass on bits NCI never sets
    freq /= freq.sum()
    popcounts = dense.sum(axis=1)
    out = np.zeros((n, 256), dtype=np.uint8)
    block = 50_000
    for start in range(0, n, block):
        m = min(block, n - start)
        want = rng.choice(popcounts, size=m)
        draws = rng.choice(2048, size=(m, int(want.max()) * 2), p=freq)  # duplicates collapse: ~realistic counts
        keep = np.arange(draws.shape[1])[None, :] < want[:, None] * 1.1
        rows = np.broadcast_to(np.arange(m)[:, None], draws.shape)[keep]
        bits = draws[keep]
        view = out[start : start + m]
        np.bitwise_or.at(view, (rows, bits >> 3), (1 << (bits & 7)).astype(np.uint8))
    return out.view(np.uint64)


def perturb(row: np.ndarray, rng: np.random.Generator, flips: int) -> np.ndarray:
    dense = np.unpackbits(row.view(np.uint8), bitorder="little").astype(bool)
    on = np.flatnonzero(dense)
    off = np.flatnonzero(~dense)
    dense[rng.choice(on, size=min(flips, max(1, on.size // 4)), replace=False)] = False
    dense[rng.choice(off, size=flips, replace=False)] = True
    return np.packbits(dense, bitorder="little").view(np.uint64)


def to_bitvects(fps: np.ndarray) -> list:
    dense = np.unpackbits(fps.view(np.uint8), axis=1, bitorder="little")
    out = []
    for row in dense:
        bv = DataStructs.ExplicitBitVect(2048)
        bv.SetBitsFromList(np.flatnonzero(row).tolist())
        out.append(bv)
    return out


def bench_similarity(sizes: list[int], n_queries: int, real: np.ndarray, rng: np.random.Generator) -> list[dict]:
    results = []
    for n in sizes:
        t0 = time.perf_counter()
        fps = synthetic_fingerprints(real, n, rng)
        ids = rng.choice(2**53, size=n, replace=False).astype(np.int64)
        index = FingerprintIndex(2048, 2048)
        index.add(ids.tolist(), [r.tobytes() for r in fps], [bytes(256)] * n, [0] * n, [""] * n)
        index.warm()
        gen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        bitvects = to_bitvects(fps)
        conv_s = time.perf_counter() - t0
        queries = []
        for i in range(n_queries):
            if i % 2 == 0:
                queries.append(("analogue", perturb(fps[rng.integers(n)], rng, flips=6)))
            else:
                queries.append(("nci", real[rng.integers(real.shape[0])].copy()))
        ours, rdkit_times, full_scan, agree = [], [], [], 0
        by_kind: dict[str, list[float]] = {"analogue": [], "nci": []}
        for kind, q in queries:
            t = time.perf_counter()
            got = index.search(q.tobytes(), 10)
            dt = time.perf_counter() - t
            ours.append(dt)
            by_kind[kind].append(dt)
            qbv = to_bitvects(q[None, :])[0]
            t = time.perf_counter()
            sims = np.asarray(DataStructs.BulkTanimotoSimilarity(qbv, bitvects))
            top = np.argpartition(-sims, 10)[:10 + 50]  # a margin for ties at the 10th place
            cut = np.sort(sims[top])[::-1][9]
            cand = np.flatnonzero(sims >= cut)
            order = cand[np.lexsort((ids[cand], -sims[cand]))][:10]
            rdkit_times.append(time.perf_counter() - t)
            exact = [(int(ids[i]), float(sims[i])) for i in order]
            mine = [(i, s) for i, s, _ in got]
            same_ids = [i for i, _ in mine] == [i for i, _ in exact]
            same_scores = np.allclose([s for _, s in mine], [s for _, s in exact], rtol=0, atol=1e-12)
            agree += int(same_ids and same_scores)
            t = time.perf_counter()
            arr = index.snapshot()
            a = int(np.bitwise_count(q).sum())
            for s in range(0, n, 32768):
                c = np.bitwise_count(arr.fps[s : s + 32768] & q).sum(axis=1, dtype=np.int32)
                _ = c / (a + arr.pcs[s : s + 32768] - c)
            full_scan.append(time.perf_counter() - t)
        row = {
            "n": n, "queries": n_queries, "build_s": round(gen_s, 1), "rdkit_bitvect_build_s": round(conv_s, 1),
            "ours_p50_ms": round(pct(ours, 50) * 1000, 2), "ours_p95_ms": round(pct(ours, 95) * 1000, 2),
            "ours_analogue_p50_ms": round(pct(by_kind["analogue"], 50) * 1000, 2),
            "ours_nci_query_p50_ms": round(pct(by_kind["nci"], 50) * 1000, 2),
            "numpy_full_scan_p50_ms": round(pct(full_scan, 50) * 1000, 2),
            "rdkit_bulk_p50_ms": round(pct(rdkit_times, 50) * 1000, 2),
            "rdkit_bulk_p95_ms": round(pct(rdkit_times, 95) * 1000, 2),
            "speedup_p50": round(pct(rdkit_times, 50) / pct(ours, 50), 1),
            "recall_at_10": agree / n_queries, "identical_top10": f"{agree}/{n_queries}",
        }
        print(f"similarity n={n:>8}: ours p50 {row['ours_p50_ms']} ms p95 {row['ours_p95_ms']} ms "
              f"(analogue p50 {row['ours_analogue_p50_ms']}, nci p50 {row['ours_nci_query_p50_ms']}, "
              f"full scan {row['numpy_full_scan_p50_ms']}) | RDKit BulkTanimoto p50 {row['rdkit_bulk_p50_ms']} ms "
              f"p95 {row['rdkit_bulk_p95_ms']} ms | x{row['speedup_p50']} | identical top-10 {row['identical_top10']}")
        results.append(row)
        del bitvects, index, fps
    return results


def bench_milvus(uri: str, n: int, n_queries: int, real: np.ndarray, rng: np.random.Generator,
                 consistency: str = "Session") -> dict:
    """The server path: BINARY_VECTOR + BIN_FLAT/JACCARD candidates, exact re-rank (same answers as the index)."""
    from common.vectors import VectorStore
    from solutions.molecular_search.pipeline import MoleculePipeline

    store = VectorStore(uri)
    if not store.capabilities.binary_vector:
        print(f"milvus at {uri} has no binary vectors; skipped")
        return {}
    fps = synthetic_fingerprints(real, n, rng)
    ids = rng.choice(2**53, size=n, replace=False).astype(np.int64)
    index = FingerprintIndex(2048, 2048)
    index.add(ids.tolist(), [r.tobytes() for r in fps], [bytes(256)] * n, [0] * n, [""] * n)
    index.warm()
    searcher = MoleculePipeline.__new__(MoleculePipeline)  # only the Milvus search path is exercised
    searcher.vectors, searcher.collection, searcher.index = store, f"bench_molecule_{os.getpid()}", index
    searcher.settings = type("S", (), {"fp_bits": 2048, "search_consistency": consistency})()
    store.drop(searcher.collection)
    searcher._ensure_collection()
    try:
        t = time.perf_counter()
        store.upsert(searcher.collection, [{"id": int(i), "fp": r.tobytes()} for i, r in zip(ids, fps, strict=True)])
        store.flush(searcher.collection)
        insert_s = time.perf_counter() - t
        times, agree = [], 0
        for i in range(n_queries):
            q = perturb(fps[rng.integers(n)], rng, 6) if i % 2 == 0 else real[rng.integers(real.shape[0])].copy()
            t = time.perf_counter()
            got = searcher._milvus_topk(q.tobytes(), 10, 0.0)
            times.append(time.perf_counter() - t)
            agree += int(got == [(i_, s) for i_, s, _ in index.search(q.tobytes(), 10)])
    finally:
        store.drop(searcher.collection)
        store.close()
    row = {"n": n, "consistency": consistency, "insert_s": round(insert_s, 1),
           "p50_ms": round(pct(times, 50) * 1000, 2), "p95_ms": round(pct(times, 95) * 1000, 2),
           "identical_to_index": f"{agree}/{n_queries}"}
    print(f"milvus server n={n} ({consistency}): insert {row['insert_s']} s, BIN_FLAT/JACCARD + exact re-rank "
          f"p50 {row['p50_ms']} ms p95 {row['p95_ms']} ms, "
          f"top-10 identical to the in-memory index {row['identical_to_index']}")
    return row


# -- 3. substructure --------------------------------------------------------------------------
def bench_substructure(repeats: int) -> list[dict]:
    from fastapi.testclient import TestClient

    from solutions.molecular_search.app import create_app
    from solutions.molecular_search.config import MoleculeSettings

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        copy_nci(root / "nci.smi")
        app = create_app(MoleculeSettings(data_dir=Path(tmp) / "data", data_roots=[root], max_top_k=100_000))
        with TestClient(app) as client:
            task_id = client.post("/load", json={"path": str(root)}).json()["task_id"]
            while client.get(f"/tasks/{task_id}").json()["state"] in ("queued", "running"):
                time.sleep(0.05)
            pipeline = app.state.pipeline
            arr = pipeline.index.snapshot()
            stored = [Chem.MolFromSmiles(s) for s in arr.smiles]
            for query in SUBSTRUCTURE_QUERIES:
                qmol = parse_query(query)[0]
                pipeline.substructure(query, 100_000)  # warm the molecule cache, as a running service has
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    out = pipeline.substructure(query, 100_000)
                    times.append(time.perf_counter() - t)
                t = time.perf_counter()
                expected = {arr.smiles[i] for i, m in enumerate(stored) if m.HasSubstructMatch(qmol)}
                brute = time.perf_counter() - t
                got = {h["smiles"] for h in out["results"]}
                first10 = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    pipeline.substructure(query, 10)
                    first10.append(time.perf_counter() - t)
                rows.append({"query": query, "kind": out["query_kind"], "matches": len(got),
                             "candidates": out["candidates"], "total": out["total"], "exact": got == expected,
                             "all_p50_ms": round(pct(times, 50) * 1000, 2),
                             "all_p95_ms": round(pct(times, 95) * 1000, 2),
                             "top10_p50_ms": round(pct(first10, 50) * 1000, 2),
                             "rdkit_brute_force_ms": round(brute * 1000, 1)})
                r = rows[-1]
                print(f"substructure {query:<48} {r['kind']:<6} matches {r['matches']:>5} screen {r['candidates']:>5}"
                      f"/{r['total']} all p50 {r['all_p50_ms']:>7} ms p95 {r['all_p95_ms']:>7} ms, top-10 p50 "
                      f"{r['top10_p50_ms']:>6} ms | brute force {r['rdkit_brute_force_ms']:>7} ms | exact {r['exact']}")
    return rows


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    sims = result["similarity"]
    x = np.arange(len(sims))
    w = 0.2
    series = [("ours_p50_ms", "index p50"), ("ours_p95_ms", "index p95"),
              ("rdkit_bulk_p50_ms", "RDKit Bulk p50"), ("rdkit_bulk_p95_ms", "RDKit Bulk p95")]
    for j, (key, label) in enumerate(series):
        ax1.bar(x + (j - 1.5) * w, [s[key] for s in sims], w, label=label)
    ax1.set_xticks(x, [f"{s['n']:,}" for s in sims])
    ax1.set_ylabel("ms per query (top-10, one core)")
    ax1.set_title("Exact Tanimoto top-10")
    ax1.legend()
    sub = result["substructure"]
    y = np.arange(len(sub))
    ax2.barh(y - 0.2, [s["all_p50_ms"] for s in sub], 0.4, label="screen + verify (all matches)")
    ax2.barh(y + 0.2, [s["rdkit_brute_force_ms"] for s in sub], 0.4, label="HasSubstructMatch on all")
    ax2.set_yticks(y, [s["query"][:28] for s in sub], fontsize=7)
    ax2.set_xlabel("ms (NCI 5k)")
    ax2.set_title("Substructure search")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated database sizes")
    parser.add_argument("--queries", type=int, default=40, help="similarity queries per size")
    parser.add_argument("--repeats", type=int, default=5, help="substructure repeats per query")
    parser.add_argument("--milvus-uri", default="", help="also time the server path on this Milvus (binary vectors)")
    parser.add_argument("--milvus-n", type=int, default=100_000, help="fingerprints stored in Milvus")
    parser.add_argument("--all-cores", action="store_true", help="do not pin the process to one core")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "molecular_search.json")
    parser.add_argument("--engine", action="store_true",
                        help="run the engine benchmark instead (bench/molecular_search_engine.py: 1M real-like "
                             "molecules vs FPSim2, filters, batch, ingest, 10M synthetic); its options follow --")
    args, rest = parser.parse_known_args()
    if args.engine:
        import runpy

        sys.argv = [str(ROOT / "bench" / "molecular_search_engine.py"), *[a for a in rest if a != "--"]]
        runpy.run_path(sys.argv[0], run_name="__main__")
        return 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rng = np.random.default_rng(42)
    result: dict = {"cores": len(os.sched_getaffinity(0)), "fingerprint": "Morgan r=2, 2048 bits"}
    result["ingest"] = bench_ingest()
    fpr = Fingerprinter()
    real = np.frombuffer(b"".join(fpr.morgan(m) for m in nci_molecules()), dtype=np.uint64).reshape(-1, 32)
    result["real_mean_bits_on"] = round(float(np.bitwise_count(real).sum(axis=1).mean()), 1)
    result["similarity"] = bench_similarity([int(s) for s in args.sizes.split(",")], args.queries, real, rng)
    if args.milvus_uri:
        result["milvus_server"] = bench_milvus(args.milvus_uri, args.milvus_n, args.queries, real, rng)
    result["substructure"] = bench_substructure(args.repeats)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    plot(result, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")
    sims = result["similarity"]
    print("summary: " + "; ".join(f"n={s['n']}: x{s['speedup_p50']} vs RDKit, recall@10 {s['recall_at_10']}"
                                  for s in sims)
          + f"; substructure exact on all {sum(r['exact'] for r in result['substructure'])}/"
          f"{len(result['substructure'])} queries, median p50 "
          f"{statistics.median(r['all_p50_ms'] for r in result['substructure']):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
