"""RDKit worker processes (the matching pool and the ingest pool) die with the process that started them, even
when it is killed by SIGKILL: each worker holds about 200 MB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from solutions.molecular_search.matching import MatchPool

ROOT = Path(__file__).resolve().parents[3]

#: a parent that starts both pools, keeps one matcher busy in a match that runs for minutes, prints the worker
#: pids and waits to be killed
PARENT = textwrap.dedent("""
    import json, threading, time
    from bench.molecular_search_engine import grid_smiles
    from solutions.molecular_search.ingest import Preparer
    from solutions.molecular_search.matching import MatchPool

    pool = MatchPool(workers=2)
    prep = Preparer(workers=2, chunk=4)
    batch = prep.prepare(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCCl", "OCCO", "NCCN", "C1CCCCC1"])
    assert len(batch) == 9
    ring19 = "[#6]1" + "~[#6]" * 18 + "~1"  # exponential backtracking against a carbon grid
    grid = [(1, grid_smiles())]
    busy = threading.Thread(target=pool.match, args=("substructure", ring19, lambda a, b: grid[a:b]),
                            kwargs={"timeout_s": 600}, daemon=True)
    busy.start()
    time.sleep(1.0)
    pids = [w.proc.pid for w in pool._all] + [p.pid for p in prep._pool._processes.values()]
    print(json.dumps(pids), flush=True)
    time.sleep(600)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"  # a zombie is dead, waiting for its reaper
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_when_their_parent_is_killed():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 4 and all(_alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [p for p in pids if _alive(p)]
        for p in left:  # do not leave them behind when the test fails
            os.kill(p, signal.SIGKILL)
        assert not left, f"workers {left} outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_a_respawned_worker_outlives_the_thread_that_asked_for_it():
    """The parent-death signal is tied to the starting thread: a worker replaced after a kill must not die when
    the thread that discarded its predecessor ends."""
    with MatchPool(workers=1) as pool:
        assert pool.match("substructure", "CC", lambda a, b: [(1, "CCC")][a:b], timeout_s=60).matched == [0]
        first = pool._borrow(60)
        pool._discard(first)  # as at a deadline: killed, replaced by the respawn thread
        deadline = time.monotonic() + 60
        while not (pool._all and pool._all[0] is not first) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the respawn thread has ended by now
        out = pool.match("substructure", "CC", lambda a, b: [(1, "CCC")][a:b], timeout_s=60)
        assert out.complete and out.matched == [0]
