"""What a cold run could reach if parsing cost nothing: the budget left to the parser.

Per archive, in one process, best of ``--repeat`` (the two pool runs alternating):

- **floor**: ``git log | git cat-file --batch`` reading every mail (see bench_read);
- **parse, 1 core**: the parser alone — ``parse_encoded`` over every mail (MIME and
  headers, subject, identities, trailers, diffstat and patch-id, the record encoded),
  in this process: microseconds a mail;
- **cold pool**: walk + parse + assemble series, ``Inbox.messages()`` on a process
  pool of ``--workers`` given through ``open_inbox(executor=...)``, then ``assemble()``;
- **without parsing**: the same run on a pool that answers each chunk with the records
  parsed beforehand. Its workers receive the same rows, read the mails they name
  (as ``parse_encoded`` reads them) and send back the same bytes,
  and this process walks, decodes and assembles as before: only the parsing is gone.
  Its rate is the ceiling of this design, whatever a parser costs.

From the CPU time of that run (this process and the workers, ``getrusage``) follows the
parse time a mail that a target rate leaves on these cores: ``cores / rate`` minus the
CPU a mail takes without parsing — next to what parsing takes now.

The replaying workers inherit the parsed records by ``fork``, so this runs where
multiprocessing can fork (Linux).

    python benchmarks/bench_budget.py [ARCHIVE ...] [--merged] [--target 8000] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import patchtrack
from patchtrack._engine._load import CHUNK, Row, parse_encoded, row_mail
from patchtrack._engine._load import rows as mail_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402
    add_settings_option, clone_bundles, floor, merged_inbox, settings, settings_note, write_section,
)

_PARSED: dict[str, bytes] = {}
"""Blob id → the record ``parse_encoded`` made of it: what replaying workers send back."""


def _replay(rows: list[Row]) -> list[bytes]:
    # the mails a row names are read, as parse_encoded reads them: only parsing is left out
    return [_PARSED[row_mail(row)[0]] for row in rows]


class _Replaying(ProcessPoolExecutor):
    """A process pool whose workers answer :func:`parse_encoded` chunks with the
    records parsed beforehand (inherited by fork), instead of parsing. A process
    pool, so it is sent the rows a real one is (see ``patchtrack._engine._load.rows``)."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers, mp_context=multiprocessing.get_context("fork"))

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if fn is not parse_encoded:
            raise ValueError(f"only parse_encoded is replayed, not {fn!r}")
        return super().submit(_replay, *args, **kwargs)


def parse_alone(path: str) -> tuple[int, float]:
    """Parse every mail in this process, keeping the records for the replaying pool;
    returns (mails, seconds of CPU)."""
    rows = mail_rows([r for r in patchtrack.open_inbox(path).walk().refs() if not r[5]], local=False)
    chunks = [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]  # as the pool is given them
    start = time.process_time()
    parsed = [parse_encoded(chunk) for chunk in chunks]
    seconds = time.process_time() - start
    for chunk, records in zip(chunks, parsed):
        _PARSED.update((row[0], record) for row, record in zip(chunk, records))
    return len(rows), seconds


def pool_run(path: str, pool: ProcessPoolExecutor) -> dict[str, float]:
    """Walk + parse + assemble on ``pool``: wall seconds, and CPU seconds of this
    process and of the pool's workers (counted once the pool is shut down)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start, cpu = time.perf_counter(), time.process_time()
    with pool:
        messages = list(patchtrack.open_inbox(path, executor=pool).messages())
    patchtrack.assemble(messages)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return {"seconds": wall, "main": cpu, "workers": workers, "messages": len(messages)}


def measure(path: str, repeat: int, workers: int) -> dict[str, object]:
    inbox = patchtrack.open_inbox(path)
    n_floor, t_floor = floor([str(e.path) for e in inbox.epochs])
    _PARSED.clear()
    parse = min(parse_alone(path)[1] for _ in range(repeat))
    real: list[dict[str, float]] = []
    free: list[dict[str, float]] = []
    for _ in range(repeat):
        real.append(pool_run(path, ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))))
        free.append(pool_run(path, _Replaying(workers)))
    _PARSED.clear()
    best_real = min(real, key=lambda r: r["seconds"])
    best_free = min(free, key=lambda r: r["seconds"])
    return {
        "archive": inbox.name, "messages": int(best_real["messages"]), "floor": n_floor / t_floor,
        "parse": parse, "real": best_real, "free": best_free,
    }


def _cpu(run: dict[str, float], n: int) -> str:
    """A run's CPU a mail: "all (main + workers)", in µs."""
    main, workers = run["main"] / n * 1e6, run["workers"] / n * 1e6
    return f"{main + workers:.0f} ({main:.0f} + {workers:.0f})"


def table(rows: list[dict[str, Any]], target: float, cores: int) -> str:
    lines = [
        "| archive | messages | floor (msg/s) | cold pool (msg/s) | CPU a mail, cold pool (µs: main + workers) | "
        "without parsing (msg/s) | parse, 1 core (µs a mail) | CPU a mail without parsing (µs: main + workers) | "
        f"parse time {target:,.0f} msg/s leaves (µs a mail) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        n = r["messages"]
        real, free = r["real"], r["free"]
        allowed = cores / target * 1e6 - (free["main"] + free["workers"]) / n * 1e6
        lines.append(
            f"| {r['archive']} | {n:,} | {r['floor']:,.0f} | {n / real['seconds']:,.0f} | {_cpu(real, n)} | "
            f"{n / free['seconds']:,.0f} | {r['parse'] / n * 1e6:.0f} | {_cpu(free, n)} | {max(allowed, 0):.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="*", help="archives (default: the corpus bundles)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept (default 2)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pool size (default: one per core)")
    parser.add_argument("--target", type=float, default=8000.0, help="rate whose parse budget is shown (msg/s)")
    parser.add_argument("--write", metavar="FILE", help="put the table into FILE between markers")
    parser.add_argument(
        "--merged", action="store_true",
        help="also measure one epoch holding every archive's mail in arrival order (see bench_scale)",
    )
    add_settings_option(parser)
    args = parser.parse_args(argv)
    if "fork" not in multiprocessing.get_all_start_methods():
        print("bench_budget needs multiprocessing's fork start method", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.archives or clone_bundles(Path(tmp))
        if not archives:
            print("no archives given and no corpus bundles found", file=sys.stderr)
            return 2
        if args.merged:
            archives = [*archives, merged_inbox(archives, Path(tmp) / "merged-corpora")]
        with settings(args.library_defaults):
            rows = [measure(p, args.repeat, args.workers) for p in archives]
    cores = os.cpu_count() or 1
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = (
        f"Measured {stamp} on {cores} cores ({platform.machine()}, Python {platform.python_version()}), "
        f"pools of {args.workers} workers, best of {args.repeat}, {settings_note(args.library_defaults)}.\n\n"
        + table(rows, args.target, cores) + "\n"
    )
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_budget", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
