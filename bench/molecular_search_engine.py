"""Benchmark of the molecule search engine (no web service), side by side with FPSim2 in the same run.

1. Data: ``--n`` real-like molecules: products of amide, ester, urea, Buchwald–Hartwig, SNAr ether and
   Suzuki couplings between building blocks taken from RDKit's bundled NCI set (≤ 18 heavy atoms
   each), joined at the SMILES level (ring-closure bond ``%99`` across fragments) and de-duplicated.
2. Ingest: the chemistry part (parse, sanitise, canonical SMILES, Morgan + pattern fingerprints,
   eight properties) on a 2-process pool, molecules/s and µs per step; then index build + save.
3. Similarity at 1M, each engine in a fresh process pinned to one core: RSS growth of the opened
   index (ours: memory-mapped files; FPSim2 0.7.4: ``FPSim2Engine(in_memory_fps=True)`` on a file it
   built from the same SMILES), top-10 exact Tanimoto p50 on the same SMILES queries (parse and
   fingerprint included for both), top-10 agreement. Filtered similarity (selective / unselective /
   unfiltered), 1,000-query batch vs 1,000 single calls, substructure RSS.
4. 10M synthetic fingerprints whose popcounts and per-bit frequencies are drawn from the real set:
   RSS growth and p50 of the mapped index.
5. Pathological SMARTS on an 8×8 carbon grid with ``timeout_ms=500``.

Writes bench/results/molecular_search_engine.json and prints every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: an odd ring of 19 carbons: never in a grid (whose rings are even), so RDKit backtracks through every path
PATHOLOGICAL_SMARTS = "[#6]1" + "~[#6]" * 18 + "~1"
SUBSTRUCTURE_QUERIES = ["c1ccccc1C(=O)N", "c1ccncc1", "C(=O)Nc1ccccc1", "[#6]~[#7]", "S(=O)(=O)N",
                        "[Cl,Br,I]c", "c1ccc2ccccc2c1", "[NX3;H2]c1ccccc1", "C1CCCCC1", "[OH]c1ccccc1"]


# -- helpers ----------------------------------------------------------------------------------
def rss() -> dict[str, int]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(line.split()[1]) * 1024
    return out


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})


def ms(values: list[float], q: float = 50) -> float:
    return round(float(np.percentile(np.asarray(values), q)) * 1000, 3)


def mb(x: float) -> float:
    return round(x / 2**20, 1)


# -- 1. real-like molecules -------------------------------------------------------------------
def building_blocks() -> dict[str, list[str]]:
    """Attachment-rooted fragments (SMILES starting at the atom that bonds) per reactive group."""
    from rdkit import Chem, RDLogger

    from solutions.molecular_search.samples import nci_5k_path

    RDLogger.DisableLog("rdApp.*")
    groups = {
        "acyl": ("[CX3;!R](=O)[OX2H1]", 2),  # carboxylic acid: leaving OH at index 2, bond at 0
        "amine": ("[NX3;H2,H1;!$(NC=[O,S,N]);!$(N[S,P]=O);!$(N-[N,O])]", None),  # bond at N, loses an H
        "alcohol": ("[OX2H1][CX4,c]", None),
        "aryl": ("c[Cl,Br,I]", 1),  # aryl halide: halogen leaves, bond at the aromatic carbon
    }
    out: dict[str, set[str]] = {k: set() for k in groups}
    for line in nci_5k_path().read_text().splitlines():
        mol = Chem.MolFromSmiles(line.split()[0])
        if mol is None or "." in Chem.MolToSmiles(mol) or mol.GetNumHeavyAtoms() > 18:
            continue
        if any(a.GetFormalCharge() for a in mol.GetAtoms()):
            continue
        for name, (smarts, leaving) in groups.items():
            match = mol.GetSubstructMatch(Chem.MolFromSmarts(smarts))
            if not match:
                continue
            rw = Chem.RWMol(mol)
            attach = match[0]
            dummy = rw.AddAtom(Chem.Atom(0))
            rw.AddBond(attach, dummy, Chem.BondType.SINGLE)
            if leaving is not None:
                rw.RemoveAtom(match[leaving])
                dummy -= 1 if match[leaving] < dummy else 0
            else:
                atom = rw.GetAtomWithIdx(attach)
                atom.SetNumExplicitHs(max(0, mol.GetAtomWithIdx(attach).GetTotalNumHs() - 1))
                atom.SetNoImplicit(True)
            try:
                frag = rw.GetMol()
                Chem.SanitizeMol(frag)
                smi = Chem.MolToSmiles(frag, rootedAtAtom=dummy, canonical=True)
            except Exception:  # odd valences after the edit: skip this block
                continue
            if smi.startswith("*") and "%99" not in smi and "%98" not in smi:
                out[name].add(smi[1:])
    return {k: sorted(v) for k, v in out.items()}


def _with_closure(frag: str, label: str) -> str:
    """Insert ring-closure ``label`` after the first atom token of a fragment."""
    if frag.startswith("["):
        end = frag.index("]") + 1
    elif frag[:2] in ("Cl", "Br"):
        end = 2
    else:
        end = 1
    return frag[:end] + label + frag[end:]


def make_products(n: int, seed: int = 7) -> tuple[list[str], dict]:
    blocks = building_blocks()
    rng = random.Random(seed)
    def pair(a: str, b: str) -> str:
        return f"{_with_closure(rng.choice(blocks[a]), '%99')}.{_with_closure(rng.choice(blocks[b]), '%99')}"

    def urea() -> str:
        return (f"O=C%98%99.{_with_closure(rng.choice(blocks['amine']), '%98')}."
                f"{_with_closure(rng.choice(blocks['amine']), '%99')}")

    reactions = [  # (name, weight, build)
        ("amide", 3, lambda: pair("acyl", "amine")),
        ("ester", 1, lambda: pair("acyl", "alcohol")),
        ("urea", 1, urea),
        ("buchwald", 2, lambda: pair("aryl", "amine")),
        ("ether", 1, lambda: pair("aryl", "alcohol")),
        ("suzuki", 1, lambda: pair("aryl", "aryl")),
    ]
    names = [r[0] for r in reactions]
    weights = [r[1] for r in reactions]
    seen: set[str] = set()
    counts = dict.fromkeys(names, 0)
    out = []
    while len(out) < n:
        i = rng.choices(range(len(reactions)), weights)[0]
        smi = reactions[i][2]()
        if smi not in seen:
            seen.add(smi)
            out.append(smi)
            counts[names[i]] += 1
    return out, {"building_blocks": {k: len(v) for k, v in blocks.items()}, "reactions": counts}


# -- 2. ingest + index ------------------------------------------------------------------------
def ingest(smiles: list[str], index_dir: Path, workers: int) -> tuple[dict, list[str]]:
    import resource

    from solutions.molecular_search.ingest import Preparer
    from solutions.molecular_search.molindex import MoleculeIndex

    index = MoleculeIndex(index_dir)
    index.clear()
    canonical: list[str] = [""] * len(smiles)
    chem_s = 0.0
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    timings: dict[str, float] = {}
    failed = 0
    step = 20_000
    with Preparer(workers=workers, chunk=500) as prep:
        prep.prepare(smiles[:1000])  # start the pool outside the timed part
        for start in range(0, len(smiles), step):
            t = time.perf_counter()
            batch = prep.prepare(smiles[start : start + step])
            chem_s += time.perf_counter() - t
            for k, v in batch.timings.items():
                timings[k] = timings.get(k, 0.0) + v
            failed += sum(e is not None for e in batch.errors)
            rows = batch.rows + start
            index.add(rows, batch)
            for r, s in zip(rows.tolist(), batch.smiles, strict=True):
                canonical[r] = s
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, reaped at close
    worker_cpu_s = (children.ru_utime + children.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    t = time.perf_counter()
    index.save({"bench": True}, compact=True)
    save_s = time.perf_counter() - t
    stored = len(index)
    heavy = np.asarray([h.properties["heavy_atoms"] for h in index.get(list(range(0, len(smiles), 997))) if h])
    files = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())
    result = {"records": len(smiles), "stored": stored, "failed": failed, "workers": workers,
              "chemistry_s": round(chem_s, 1), "molecules_per_s": round(len(smiles) / chem_s, 1),
              "worker_cpu_s": round(worker_cpu_s, 1),
              # what 2 dedicated cores sustain: the workers' CPU time per molecule (includes the 1,000 warm-up
              # molecules and pickling), so other agents' load on the shared machine does not count
              "molecules_per_s_per_2_dedicated_cores": (round(2 * len(smiles) / worker_cpu_s, 1)
                                                        if worker_cpu_s else None),
              "us_cpu_per_molecule_per_step": {k: round(v / len(smiles) * 1e6, 1) for k, v in timings.items()},
              # the same from the per-step CPU time alone (no pool start-up, pickling or batching)
              "molecules_per_s_per_2_cores_from_step_cpu": round(2 * len(smiles) / sum(timings.values()), 1),
              "mean_heavy_atoms": round(float(heavy.mean()), 1), "save_compact_s": round(save_s, 1),
              "index_files_mb": mb(files)}
    print(f"ingest: {len(smiles)} molecules, chemistry on {workers} processes {result['molecules_per_s']:.0f} mol/s "
          f"wall; {result['molecules_per_s_per_2_dedicated_cores']} mol/s from the workers' CPU time on 2 cores "
          f"(CPU µs/mol per step: {result['us_cpu_per_molecule_per_step']}); "
          f"mean heavy atoms {result['mean_heavy_atoms']}; save {save_s:.1f} s; files {result['index_files_mb']} MB")
    return result, canonical


# -- 3. workers run in fresh processes ------------------------------------------------------------
def worker_ours(index_dir: Path, queries: list[str], sub_queries: int) -> dict:
    from solutions.molecular_search.engine import MoleculeEngine
    from solutions.molecular_search.matching import MatchPool
    from solutions.molecular_search.molindex import MoleculeIndex

    pin_one_core()
    base = rss()
    t = time.perf_counter()
    index = MoleculeIndex(index_dir)
    open_s = time.perf_counter() - t
    opened = rss()
    pool = MatchPool(workers=1)
    engine = MoleculeEngine(index, pool)
    for q in queries[:5]:
        engine.search(q, top_k=10)
    times, answers = [], []
    for q in queries:
        t = time.perf_counter()
        r = engine.search(q, top_k=10)
        times.append(time.perf_counter() - t)
        answers.append([(h.id, round(h.similarity, 6)) for h in r.hits])
    after_queries = rss()
    # every page a similarity search can touch: Morgan columns, popcounts, ids, properties
    seg = index.snapshot().parts[0].seg
    _ = int(np.bitwise_xor.reduce(seg.cols, axis=None)) + int(seg.word_b.sum()) + int(seg.ids.sum())
    _ += sum(float(np.nansum(c)) for c in seg.columns.values())
    all_sim = rss()
    filters = {"unfiltered": None, "selective": {"mw": [350, 360], "logp": [2, 3]},
               "unselective": {"mw": [None, 600]}}
    view = index.snapshot()
    filtered = {}
    from solutions.molecular_search import properties as props
    from solutions.molecular_search.bitslice import popcount

    for name, f in filters.items():
        passing = sum(popcount(a) for a in view.allowed(props.normalize(f))) if f else view.size
        lat = []
        for q in queries:
            t = time.perf_counter()
            engine.search(q, top_k=10, filters=f)
            lat.append(time.perf_counter() - t)
        filtered[name] = {"filter": f, "passing_fraction": round(passing / view.size, 4), "p50_ms": ms(lat),
                          "p95_ms": ms(lat, 95)}
    sub = []
    for q in SUBSTRUCTURE_QUERIES[:sub_queries]:
        t = time.perf_counter()
        r = engine.search(q, mode="substructure", top_k=10, timeout_ms=10_000)
        sub.append({"query": q, "ms": round((time.perf_counter() - t) * 1000, 1), "candidates": r.candidates,
                    "complete": r.complete})
    superstructure = []
    for q in queries[0:20:2][:5]:  # stored products: their building blocks are stored too
        t = time.perf_counter()
        r = engine.search(q, mode="superstructure", top_k=10, timeout_ms=10_000)
        superstructure.append({"query": q, "ms": round((time.perf_counter() - t) * 1000, 1),
                               "candidates": r.candidates, "hits": len(r.hits), "complete": r.complete})
    exact = []
    for q in queries[:40]:
        t = time.perf_counter()
        engine.search(q, mode="exact")
        exact.append(time.perf_counter() - t)
    after_sub = rss()
    # pages of the pattern columns: what a long substructure workload would keep resident
    _ = int(np.bitwise_xor.reduce(seg.pcols, axis=None))
    all_pages = rss()
    engine.close()
    return {"open_s": round(open_s, 4), "rss_base": base, "rss_opened": opened, "rss_after_queries": after_queries,
            "rss_all_similarity_pages": all_sim, "rss_after_substructure": after_sub, "rss_all_pages": all_pages,
            "times": times, "answers": answers, "filtered": filtered, "substructure": sub,
            "superstructure": superstructure, "exact_p50_ms": ms(exact)}


def worker_batch(index_dir: Path, queries: list[str]) -> dict:
    from solutions.molecular_search.engine import MoleculeEngine
    from solutions.molecular_search.matching import MatchPool
    from solutions.molecular_search.molindex import MoleculeIndex

    index = MoleculeIndex(index_dir)
    engine = MoleculeEngine(index, MatchPool(workers=1))
    engine.search_batch(queries[:20])
    rounds = []
    same = True
    for _ in range(3):  # interleaved, so load from other processes falls on both alike
        t = time.perf_counter()
        singles = [engine.search(q, top_k=10) for q in queries]
        singles_s = time.perf_counter() - t
        t = time.perf_counter()
        batch = engine.search_batch(queries, top_k=10, threads=2)
        batch_s = time.perf_counter() - t
        same &= all(isinstance(b, type(s)) and [h.id for h in b.hits] == [h.id for h in s.hits]  # type: ignore
                    for b, s in zip(batch, singles, strict=True))
        rounds.append((singles_s, batch_s, os.getloadavg()[0]))
    engine.close()
    singles_s = statistics.median(r[0] for r in rounds)
    batch_s = statistics.median(r[1] for r in rounds)
    return {"queries": len(queries), "singles_s": round(singles_s, 2), "batch_s": round(batch_s, 2),
            "speedup": round(singles_s / batch_s, 2), "batch_threads": 2, "identical": same,
            "rounds": [{"singles_s": round(a, 2), "batch_s": round(b, 2), "load_average": round(c, 2)}
                       for a, b, c in rounds]}


def worker_fpsim2(h5: Path, queries: list[str]) -> dict:
    from FPSim2 import FPSim2Engine

    pin_one_core()
    base = rss()
    t = time.perf_counter()
    fpe = FPSim2Engine(str(h5), in_memory_fps=True)
    open_s = time.perf_counter() - t
    opened = rss()
    for q in queries[:5]:
        fpe.top_k(q, k=10, threshold=0.0)
    times, answers = [], []
    for q in queries:
        t = time.perf_counter()
        r = fpe.top_k(q, k=10, threshold=0.0)
        times.append(time.perf_counter() - t)
        answers.append([(int(i), round(float(c), 5)) for i, c in zip(r["mol_id"], r["coeff"], strict=True)])
    return {"open_s": round(open_s, 3), "rss_base": base, "rss_opened": opened, "rss_after_queries": rss(),
            "times": times, "answers": answers}


def worker_synthetic(index_dir: Path, real_fps: Path, n: int, queries: int, build: bool) -> dict:
    from solutions.molecular_search.ingest import FingerprintSpec
    from solutions.molecular_search.molindex import MoleculeIndex, Part
    from solutions.molecular_search.segment import Segment

    real = np.load(real_fps)
    rng = np.random.default_rng(11)
    spec = FingerprintSpec(pattern_bits=0)
    if build:
        t = time.perf_counter()
        fps = synthetic_fingerprints(real, n, rng)
        values = np.zeros((n, 8))
        seg = Segment.build(np.arange(n, dtype=np.int64), fps, np.zeros((n, 0), np.uint64), values, [""] * n)
        del fps
        index = MoleculeIndex(index_dir, spec)
        index._parts = [Part(seg, seg.padding_free_mask(), n)]  # a prebuilt segment, saved as is
        index.save({"synthetic": n})
        return {"build_s": round(time.perf_counter() - t, 1)}
    pin_one_core()
    base = rss()
    t = time.perf_counter()
    index = MoleculeIndex(index_dir, spec)
    open_s = time.perf_counter() - t
    qs = real[rng.choice(real.shape[0], size=queries, replace=False)]
    for q in qs[:3]:
        index.similarity(q, 10)
    times = []
    for q in qs:
        t = time.perf_counter()
        index.similarity(q, 10)
        times.append(time.perf_counter() - t)
    after = rss()
    seg = index.snapshot().parts[0].seg
    _ = int(np.bitwise_xor.reduce(seg.cols, axis=None)) + int(seg.word_b.sum()) + int(seg.ids.sum())
    return {"n": len(index), "open_s": round(open_s, 4), "rss_base": base, "rss_after_queries": after,
            "rss_all_similarity_pages": rss(), "times": times}


def synthetic_fingerprints(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` packed rows with the real set's popcount distribution and per-bit frequencies."""
    dense = np.unpackbits(real.view(np.uint8), axis=1, bitorder="little")
    freq = dense.sum(axis=0).astype(np.float64) + 0.05
    freq /= freq.sum()
    popcounts = dense.sum(axis=1)
    del dense
    out = np.zeros((n, real.shape[1] * 8), dtype=np.uint8)
    block = 100_000
    for start in range(0, n, block):
        m = min(block, n - start)
        want = rng.choice(popcounts, size=m)
        draws = rng.choice(real.shape[1] * 64, size=(m, int(want.max()) * 2), p=freq)
        keep = np.arange(draws.shape[1])[None, :] < want[:, None] * 1.1  # duplicates collapse: ~realistic counts
        rows = np.broadcast_to(np.arange(m)[:, None], draws.shape)[keep]
        bits = draws[keep]
        np.bitwise_or.at(out[start : start + m], (rows, bits >> 3), (1 << (bits & 7)).astype(np.uint8))
    return out.view(np.uint64)


def run_worker(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True, env=env,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f"worker {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- 5. pathological query --------------------------------------------------------------------
def grid_smiles(n: int = 8) -> str:
    """An n×n grid of carbons: an odd ring SMARTS (:data:`PATHOLOGICAL_SMARTS`) never matches it, slowly."""
    from rdkit import Chem

    rw = Chem.RWMol()
    for _ in range(n * n):
        rw.AddAtom(Chem.Atom(6))
    for r in range(n):
        for c in range(n):
            if c + 1 < n:
                rw.AddBond(r * n + c, r * n + c + 1, Chem.BondType.SINGLE)
            if r + 1 < n:
                rw.AddBond(r * n + c, (r + 1) * n + c, Chem.BondType.SINGLE)
    return Chem.MolToSmiles(rw.GetMol())


def pathological(timeout_ms: int = 500) -> dict:

    from solutions.molecular_search.engine import MoleculeEngine
    from solutions.molecular_search.ingest import prepare
    from solutions.molecular_search.molindex import MoleculeIndex

    grid = grid_smiles()
    index = MoleculeIndex()
    index.add([1], prepare([grid]))
    with MoleculeEngine(index, match_workers=1) as engine:
        engine.search("C", mode="substructure")  # worker started
        t = time.perf_counter()
        r = engine.search(PATHOLOGICAL_SMARTS, mode="substructure", timeout_ms=timeout_ms)
        search_s = time.perf_counter() - t
        t = time.perf_counter()
        _, svg_complete = engine.svg(grid, highlight=PATHOLOGICAL_SMARTS, timeout_ms=timeout_ms)
        svg_s = time.perf_counter() - t
        t = time.perf_counter()
        after = engine.search("CC", mode="substructure", timeout_ms=5000)  # the replacement worker answers
        next_s = time.perf_counter() - t
    result = {"query": PATHOLOGICAL_SMARTS, "timeout_ms": timeout_ms, "search_s": round(search_s, 3),
              "complete": r.complete, "svg_s": round(svg_s, 3), "svg_complete": svg_complete,
              "next_query_s": round(next_s, 3), "next_query_complete": after.complete}
    print(f"pathological SMARTS on an 8x8 grid, timeout {timeout_ms} ms: search {search_s:.3f} s "
          f"(complete={r.complete}), svg highlight {svg_s:.3f} s (complete={svg_complete}); next query {next_s:.3f} s")
    return result


# -- main ---------------------------------------------------------------------------------------
def workload_arguments(parser: argparse.ArgumentParser) -> None:
    """The workload of both molecule benchmarks (this one and bench/molecular_search.py, the service end to end),
    so that their figures compare: how many real-like molecules, similarity queries and batch queries."""
    parser.add_argument("--n", type=int, default=1_000_000, help="real-like molecules")
    parser.add_argument("--queries", type=int, default=100, help="similarity queries (p50 over them)")
    parser.add_argument("--batch", type=int, default=1000, help="queries of the batch-vs-singles comparison")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    workload_arguments(parser)
    parser.add_argument("--n-synthetic", type=int, default=10_000_000, help="synthetic fingerprints (0: skip)")
    parser.add_argument("--workers", type=int, default=2, help="ingest processes")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/molecule_engine_bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "molecular_search_engine.json")
    parser.add_argument("--only-ingest", type=int, default=0, metavar="N",
                        help="only re-measure ingest on N molecules and update the ingest section of --out")
    parser.add_argument("--only-batch", action="store_true",
                        help="only re-measure batch vs singles on the index of --workdir and update --out")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only_batch:
        res = run_worker("batch", str(args.workdir / "index"), str(args.workdir / "batch.json"))
        previous = json.loads(args.out.read_text())
        previous["batch_1m_first_run"] = previous.get("batch_1m")
        previous["batch_1m"] = res
        args.out.write_text(json.dumps(previous, indent=2))
        print(f"batch: {res}")
        return 0
    if args.only_ingest:
        smiles, info = make_products(args.only_ingest)
        res, _ = ingest(smiles, args.workdir / "index_ingest_only", args.workers)
        res["load_average_before"] = os.getloadavg()
        previous = json.loads(args.out.read_text()) if args.out.exists() else {}
        previous["ingest_rerun"] = res
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(previous, indent=2))
        return 0
    if args.worker:
        kind, *rest = args.worker
        if kind == "ours":
            res = worker_ours(Path(rest[0]), json.loads(Path(rest[1]).read_text()), int(rest[2]))
        elif kind == "batch":
            res = worker_batch(Path(rest[0]), json.loads(Path(rest[1]).read_text()))
        elif kind == "fpsim2":
            res = worker_fpsim2(Path(rest[0]), json.loads(Path(rest[1]).read_text()))
        else:
            res = worker_synthetic(Path(rest[0]), Path(rest[1]), int(rest[2]), int(rest[3]), rest[4] == "build")
        print(json.dumps(res))
        return 0

    import importlib.util

    if importlib.util.find_spec("FPSim2") is None:
        print("FPSim2 is not installed; it is the bench-only extra: pip install -c constraints.txt -e '.[bench]'")
        return 2
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"cores": len(os.sched_getaffinity(0)), "fingerprint": "Morgan r=2, 2048 bits; pattern 2048 bits"}
    t = time.perf_counter()
    smiles, info = make_products(args.n)
    result["data"] = {"molecules": len(smiles), "generate_s": round(time.perf_counter() - t, 1), **info}
    print(f"data: {len(smiles)} real-like products {info}")

    from solutions.molecular_search.samples import nci_5k_path

    nci_lines = [line.split()[0] for line in nci_5k_path().read_text().splitlines()]
    result["ingest_nci_5k"], _ = ingest(nci_lines, work / "index_nci", args.workers)
    index_dir = work / "index"
    result["ingest"], canonical = ingest(smiles, index_dir, args.workers)

    # queries: stored products (their analogues are in the set) and NCI molecules
    rng = random.Random(3)
    nci = nci_lines
    pool = [s for s in canonical if s]
    queries = [rng.choice(pool) if i % 2 == 0 else rng.choice(nci) for i in range(args.queries)]
    from rdkit import Chem

    queries = [q for q in queries if Chem.MolFromSmiles(q) is not None]
    (work / "queries.json").write_text(json.dumps(queries))
    batch_queries = [rng.choice(pool) for _ in range(args.batch)]
    (work / "batch.json").write_text(json.dumps(batch_queries))

    # FPSim2 builds its own file from the same canonical SMILES (ids = our ids = row numbers)
    from FPSim2.io import create_db_file

    h5 = work / "fpsim2.h5"
    t = time.perf_counter()
    create_db_file([[s, i] for i, s in enumerate(canonical) if s], str(h5), "smiles", "Morgan",
                   {"radius": 2, "fpSize": 2048})
    fpsim2_build_s = time.perf_counter() - t

    ours = run_worker("ours", str(index_dir), str(work / "queries.json"), "10")
    theirs = run_worker("fpsim2", str(h5), str(work / "queries.json"))
    agree = sum(np.allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
                for a, b in zip(ours["answers"], theirs["answers"], strict=True))
    growth = {k: ours[k]["VmRSS"] - ours["rss_base"]["VmRSS"]
              for k in ("rss_opened", "rss_after_queries", "rss_all_similarity_pages", "rss_after_substructure",
                        "rss_all_pages")}
    fp_growth = theirs["rss_after_queries"]["VmRSS"] - theirs["rss_base"]["VmRSS"]
    result["similarity_1m"] = {
        "n": result["ingest"]["stored"], "queries": len(queries),
        "ours_p50_ms": ms(ours["times"]), "ours_p95_ms": ms(ours["times"], 95),
        "fpsim2_p50_ms": ms(theirs["times"]), "fpsim2_p95_ms": ms(theirs["times"], 95),
        "speed_ratio_fpsim2_over_ours_p50": round(ms(theirs["times"]) / ms(ours["times"]), 2),
        "top10_scores_identical_to_fpsim2": f"{agree}/{len(queries)}",
        "ours_open_s": ours["open_s"], "fpsim2_load_s": theirs["open_s"], "fpsim2_build_s": round(fpsim2_build_s, 1),
        "ours_rss_growth_mb": {k: mb(v) for k, v in growth.items()},
        "ours_rss_anon_growth_all_similarity_pages_mb": mb(ours["rss_all_similarity_pages"]["RssAnon"]
                                                          - ours["rss_base"]["RssAnon"]),
        "fpsim2_rss_growth_mb": mb(fp_growth),
        "rss_ratio_similarity_pages": round(growth["rss_all_similarity_pages"] / fp_growth, 2),
        "rss_ratio_after_queries": round(growth["rss_after_queries"] / fp_growth, 2),
        "rss_ratio_all_pages_incl_substructure": round(growth["rss_all_pages"] / fp_growth, 2),
    }
    s = result["similarity_1m"]
    print(f"similarity at {s['n']}: ours p50 {s['ours_p50_ms']} ms (p95 {s['ours_p95_ms']}) vs FPSim2 p50 "
          f"{s['fpsim2_p50_ms']} ms (p95 {s['fpsim2_p95_ms']}) → FPSim2/ours x{s['speed_ratio_fpsim2_over_ours_p50']}; "
          f"top-10 scores identical {s['top10_scores_identical_to_fpsim2']}")
    print(f"RSS growth: ours {s['ours_rss_growth_mb']} MB vs FPSim2 {s['fpsim2_rss_growth_mb']} MB → ratio "
          f"{s['rss_ratio_similarity_pages']} (every similarity page resident), {s['rss_ratio_after_queries']} "
          f"(after the queries), {s['rss_ratio_all_pages_incl_substructure']} (pattern columns too); open "
          f"{s['ours_open_s']} s vs FPSim2 load {s['fpsim2_load_s']} s")
    result["filtered_similarity_1m"] = ours["filtered"]
    for name, f in ours["filtered"].items():
        print(f"filtered similarity {name:<11} passing {f['passing_fraction']:.4f}: p50 {f['p50_ms']} ms "
              f"p95 {f['p95_ms']} ms")
    result["substructure_1m"] = ours["substructure"]
    for q in ours["substructure"]:
        print(f"substructure top-10 {q['query']:<20} {q['ms']:>8} ms (screen left {q['candidates']})")
    result["superstructure_1m"] = ours["superstructure"]
    for q in ours["superstructure"]:
        print(f"superstructure top-10 {q['query'][:40]:<40} {q['ms']:>8} ms (screen left {q['candidates']}, "
              f"{q['hits']} hits)")
    result["exact_1m_p50_ms"] = ours["exact_p50_ms"]
    print(f"exact mode p50 {ours['exact_p50_ms']} ms")
    result["batch_1m"] = run_worker("batch", str(index_dir), str(work / "batch.json"))
    b = result["batch_1m"]
    print(f"batch: {b['queries']} queries in one call {b['batch_s']} s vs singles {b['singles_s']} s "
          f"(x{b['speedup']}, identical {b['identical']})")

    if args.n_synthetic:
        real = np.load(index_dir / next(p.name for p in index_dir.iterdir() if p.name.startswith("seg-")) / "cols.npy",
                       mmap_mode="r")
        from solutions.molecular_search.bitslice import untranspose

        positions = real.shape[1] * 64
        sample = np.sort(np.random.default_rng(5).choice(positions, size=min(200_000, positions), replace=False))
        fps = untranspose(np.asarray(real), sample)
        fps = fps[np.bitwise_count(fps).sum(axis=1) > 0]
        np.save(work / "real_fps.npy", fps)
        syn_dir = work / "synthetic"
        import shutil

        shutil.rmtree(syn_dir, ignore_errors=True)
        built = run_worker("synthetic", str(syn_dir), str(work / "real_fps.npy"), str(args.n_synthetic),
                           str(args.queries), "build")
        syn = run_worker("synthetic", str(syn_dir), str(work / "real_fps.npy"), str(args.n_synthetic),
                         str(args.queries), "open")
        result["synthetic_10m"] = {
            "n": syn["n"], "build_s": built["build_s"], "open_s": syn["open_s"],
            "p50_ms": ms(syn["times"]), "p95_ms": ms(syn["times"], 95),
            "rss_growth_after_queries_mb": mb(syn["rss_after_queries"]["VmRSS"] - syn["rss_base"]["VmRSS"]),
            "rss_growth_all_similarity_pages_mb": mb(syn["rss_all_similarity_pages"]["VmRSS"]
                                                     - syn["rss_base"]["VmRSS"]),
        }
        y = result["synthetic_10m"]
        print(f"synthetic {y['n']}: open {y['open_s']} s, p50 {y['p50_ms']} ms p95 {y['p95_ms']} ms, RSS growth "
              f"{y['rss_growth_after_queries_mb']} MB after queries, {y['rss_growth_all_similarity_pages_mb']} MB "
              "with every similarity page resident")
    result["pathological"] = pathological()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    print("summary: " + json.dumps({
        "p50_ms_ours_vs_fpsim2": [s["ours_p50_ms"], s["fpsim2_p50_ms"]],
        "rss_ratio": s["rss_ratio_similarity_pages"], "ingest_mol_s": result["ingest"]["molecules_per_s"],
        "batch_speedup": b["speedup"], "filtered_p50_ms": {k: v["p50_ms"] for k, v in ours["filtered"].items()},
        "median_substructure_ms": statistics.median(q["ms"] for q in ours["substructure"])}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
