"""Memory of streaming loads: a load's memory is O(batch), not O(input).

Measures, each in a fresh child process (peak RSS, VmHWM, minus the RSS before the work):

- listing a directory of 1,000,000 tiny files the way a load does (``estimate_items`` counting pass, then
  ``list_items`` streamed into batches of 64), in a tmpfs so the file system is not what is measured;
- reading a 1 GB FAQ CSV with ``read_records`` streamed into batches;
- the QA demo's own load path over the same CSV: ``QAPipeline.estimate_items`` then ``QAPipeline.list_items``
  (header check, records validated into FAQ entries, work items) streamed into batches of ``QA_BATCH_SIZE``, with
  the pipeline and its stores open (Milvus Lite + SQLite in a scratch folder); the RSS before is taken once the
  pipeline (and its text model) is loaded.

Writes bench/results/loads.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results import RESULTS, save


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    return _status_mb("VmRSS:")


def peak_mb() -> float:
    """This address space's high-water mark (``getrusage``'s ru_maxrss survives exec, so it is not used)."""
    return _status_mb("VmHWM:")


def _listing(path: str, out: Any) -> None:
    from common.files import count_files, iter_files
    from common.pipeline import WorkItem, batched

    before = rss_mb()
    started = time.perf_counter()
    total = count_files(Path(path))
    n = 0
    for batch in batched((WorkItem(p.name, p) for p in iter_files(Path(path))), 64):
        n += len(batch)
    out.put({"files": total, "listed": n, "seconds": time.perf_counter() - started, "rss_before_mb": before,
             "peak_mb": peak_mb(), "growth_mb": peak_mb() - before})


def _records(path: str, out: Any) -> None:
    from common.files import read_records

    before = rss_mb()
    started = time.perf_counter()
    n = bad = 0
    batch: list[Any] = []
    for _, record in read_records(Path(path)):
        if isinstance(record, str):
            bad += 1
            continue
        batch.append(record)
        if len(batch) >= 64:
            n += len(batch)
            batch = []
    n += len(batch)
    out.put({"records": n, "bad": bad, "seconds": time.perf_counter() - started, "rss_before_mb": before,
             "peak_mb": peak_mb(), "growth_mb": peak_mb() - before})


def _qa_list_items(path: str, out: Any) -> None:
    from common.pipeline import Pipeline, batched  # noqa: F401  (imported before common.resources)
    from common.resources import Resources
    from solutions.qa_chatbot.config import QASettings
    from solutions.qa_chatbot.pipeline import QAPipeline

    csv_path = Path(path)
    settings = QASettings(data_dir=csv_path.parent / "qa-data", data_roots=[csv_path.parent],
                          model_cache_dir=Path(tempfile.gettempdir()) / "qa_bench_models")
    with Resources.open("qa_chatbot", settings) as res:
        pipeline = QAPipeline(res, settings)
        before = rss_mb()
        started = time.perf_counter()
        estimate = pipeline.estimate_items(csv_path)
        n = bad = 0
        for batch in batched(pipeline.list_items(csv_path, csv_path.parent), settings.batch_size):
            n += len(batch)
            bad += sum(1 for item in batch if item.error)
        out.put({"items": n, "bad": bad, "estimate": estimate, "batch_size": settings.batch_size,
                 "seconds": time.perf_counter() - started, "rss_before_mb": before, "peak_mb": peak_mb(),
                 "growth_mb": peak_mb() - before})


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def make_files(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    for i in range(n):
        fd = os.open(root / f"{i:07d}.txt", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x")
        os.close(fd)


def make_csv(path: Path, size: int) -> None:
    row = ('"How do I configure the network interface number {i} on a Debian system?",'
           '"Edit /etc/network/interfaces, add an iface stanza for the device, then run ifup. ' + "More text. " * 20
           + '"\n')
    with path.open("w", encoding="utf-8") as fh:
        fh.write("question,answer\n")
        written, i = 0, 0
        while written < size:
            line = row.replace("{i}", str(i))
            fh.write(line)
            written += len(line)
            i += 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1_000_000)
    ap.add_argument("--csv-mb", type=int, default=1024)
    ap.add_argument("--only", choices=["listing", "csv", "qa"], action="append",
                    help="measure only these parts (repeatable); the others keep their saved figures")
    args = ap.parse_args()
    parts = set(args.only or ["listing", "csv", "qa"])
    previous = json.loads((RESULTS / "loads.json").read_text()) if (RESULTS / "loads.json").exists() else {}
    result = {k: previous[k] for k in ("listing", "csv", "qa_list_items") if k in previous}
    scratch = Path(tempfile.mkdtemp(prefix="bench-loads-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    try:
        if "listing" in parts:
            started = time.perf_counter()
            make_files(scratch / "files", args.files)
            print(f"made {args.files} files in {time.perf_counter() - started:.0f} s")
            listing = result["listing"] = in_child(_listing, str(scratch / "files"))
            print(f"listing {listing['files']} files: RSS growth {listing['growth_mb']:.1f} MB "
                  f"in {listing['seconds']:.0f} s")
            shutil.rmtree(scratch / "files")
        if parts & {"csv", "qa"}:
            csv_path = scratch / "faq.csv"
            make_csv(csv_path, args.csv_mb << 20)
            csv_mb = csv_path.stat().st_size / 2**20
        if "csv" in parts:
            records = result["csv"] = {**in_child(_records, str(csv_path)), "size_mb": csv_mb}
            print(f"reading {csv_mb:.0f} MB CSV ({records['records']} records): "
                  f"RSS growth {records['growth_mb']:.1f} MB in {records['seconds']:.0f} s")
        if "qa" in parts:
            qa = result["qa_list_items"] = {**in_child(_qa_list_items, str(csv_path)), "size_mb": csv_mb}
            print(f"QA list_items over it ({qa['items']} items, estimated {qa['estimate']}): "
                  f"RSS growth {qa['growth_mb']:.1f} MB in {qa['seconds']:.0f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = ["| input | RSS growth |", "|---|---|"]
    if "listing" in result:
        rows.append(f"| listing {result['listing']['files']:,} files | {result['listing']['growth_mb']:.0f} MB |")
    if "csv" in result:
        c = result["csv"]
        rows.append(f"| reading a {c['size_mb']:,.0f} MB FAQ CSV ({c['records']:,} records) | "
                    f"{c['growth_mb']:.0f} MB |")
    if "qa_list_items" in result:
        q = result["qa_list_items"]
        rows.append(f"| the QA demo's `list_items` over a {q['size_mb']:,.0f} MB FAQ CSV ({q['items']:,} FAQ entries, "
                    f"batches of {q['batch_size']}) | {q['growth_mb']:.0f} MB |")
    path = save("loads", {**result, "readme": {"summary": "\n".join(rows)}})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
