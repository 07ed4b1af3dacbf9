"""Archive scale: cold and warm runs, parallel parsing, reports, memory — in one run.

Per archive, each phase runs in a fresh Python process (so "warm" means what it
means for a cron job: only the on-disk cache is warm) and reports its time, peak
RSS, and heap (anonymous resident memory) at its end:

- **floor**: ``git log | git cat-file --batch`` reading every mail (see bench_read);
- **cold serial** / **cold parallel**: walk + parse + assemble series, no cache, one
  process vs a process pool of one worker per core;
- **cold + cache**: the parallel run filling an empty cache (a first CLI run);
- **warm**: walk + assemble from the filled cache;
- **report, one week** and **report, 1,000 mails**: ``patchtrack report`` on the
  warm cache for the archive's last seven days and for its last 1,000 mails, timed
  inside the process and as the whole command (``python -m patchtrack report``,
  interpreter start and exit included; the package's bytecode compiled first, as
  ``pip install`` does), best of 3 each:
  with the archive's assembly stored (same state); after the last week's mail arrived
  (the archive as it was a week before parsed and its assembly stored, the week's mail
  not: what a weekly cron job meets); and with no assembly stored (messages cached,
  the archive assembled in full);
- **scaling**: cold parallel runs over the first 25 %, 50 % and 100 % of the archive;
  memory per 100k mails is the heap's growth from 25 % to 100 % (RSS also counts the
  pages of git's mapped packs, which a walk touches unevenly).

    python benchmarks/bench_scale.py [ARCHIVE ...] [--merged] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import compileall
import concurrent.futures
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import patchtrack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import (  # noqa: E402
    add_settings_option, clone_bundles, floor, merged_inbox, settings, settings_note, write_section,
)


_DEFAULTS = "BENCH_SCALE_LIBRARY_DEFAULTS"
"""Set when the phases run with the library's defaults (``--library-defaults``)."""


def _phase(name: str, path: str, cache: str, extra: list[str]) -> dict[str, float]:
    """Run one phase in this (fresh) process; returns seconds, messages, peak RSS."""
    start = time.perf_counter()
    count = 0
    if name.startswith("cold") or name == "warm":
        workers = 1 if name == "cold-serial" else None
        inbox = patchtrack.open_inbox(path, cache=cache if name in ("cold-cache", "warm") else None, workers=workers)
        messages = list(inbox.messages(extra[0] if extra else None))
        patchtrack.assemble(messages)
        count = len(messages)
    elif name == "store-base":  # the archive as it was (extra[0]): its assembly stored
        patchtrack.open_inbox(extra[0], cache=cache).series()
    elif name == "report":  # the cache prepared by _prepare_report
        from patchtrack.cli import main

        start = time.perf_counter()
        with open(os.devnull, "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                code = main(["report", path, *extra, "--cache", cache])
            finally:
                sys.stdout = stdout
        if code != 0:
            raise SystemExit(f"report failed: {code}")
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    heap_mb = _anon_mb()  # with the messages and series still held
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "messages": count, "rss_mb": rss_mb, "heap_mb": heap_mb, "worker_rss_mb": children}


def _anon_mb() -> float:
    """This process' anonymous resident memory (its heap), from /proc: unlike RSS it
    leaves out the pages of git's memory-mapped packs, which a walk touches unevenly."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no RssAnon in /proc/self/status (Linux only)")


def _prepare_report(kind: str, path: str, cache: str, base: str | None) -> None:
    """Set the cache up for a report: ``same`` leaves it (the archive's assembly is
    stored), ``full`` drops every assembly (messages stay cached), ``new`` keeps only
    the assembly of the archive as it was at ``base`` (tips, JSON) and forgets the
    mail that arrived since (a weekly cron job's cache)."""
    db = sqlite3.connect(cache)
    try:
        with db:
            if kind == "full":
                db.execute("DELETE FROM assembly")
            elif kind == "new":
                db.execute("DELETE FROM assembly WHERE key NOT IN (SELECT key FROM assembly_state WHERE tips = ?)", (base,))
                week = patchtrack.open_inbox(path).walk(after=json.loads(base or "{}")).refs()
                db.executemany("DELETE FROM message WHERE oid = ?", [(str(r[0]),) for r in week])
    finally:
        db.close()


def best_report(runs: int, kind: str, path: str, cache: str, base: str | None, *args: str) -> dict[str, float]:
    """``patchtrack report ARGS`` on a cache prepared by :func:`_prepare_report`:
    the fastest of ``runs`` timings inside the process (``seconds``) and of ``runs``
    runs of the command as a user runs it (``wall``: ``python -m patchtrack``,
    interpreter start and exit included), the cache prepared again before each."""
    inside, whole = [], []
    command = [sys.executable, "-m", "patchtrack", "report", path, *args, "--cache", cache]
    for _ in range(runs):
        _prepare_report(kind, path, cache, base)
        inside.append(run_phase("report", path, cache, *args)["seconds"])
        _prepare_report(kind, path, cache, base)
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        whole.append(time.perf_counter() - start)
    return {"seconds": min(inside), "wall": min(whole)}


def run_phase(name: str, path: str, cache: str, *extra: str) -> dict[str, float]:
    """``_phase`` in a new interpreter; adds the whole command's wall time."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--phase", name, path, cache, *extra],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} {extra} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.splitlines()[-1])
    result["wall"] = time.perf_counter() - start
    return result


def measure(path: str, tmp: Path) -> dict[str, object]:
    inbox = patchtrack.open_inbox(path)
    refs = [r for r in inbox.walk().refs() if not r[5]]
    total = len(refs)
    cache = str(tmp / f"{inbox.name}.sqlite")
    n_floor, t_floor = floor([str(e.path) for e in inbox.epochs])
    row: dict[str, object] = {"archive": inbox.name, "messages": total, "floor": n_floor / t_floor}
    for phase in ("cold-serial", "cold-parallel", "cold-cache", "warm"):
        row[phase] = run_phase(phase, path, cache)
    last = datetime.fromtimestamp(refs[-1][4], timezone.utc).date()
    week = ["--since", str(last - timedelta(days=6)), "--until", str(last)]
    week_start = datetime.combine(last - timedelta(days=6), datetime.min.time(), timezone.utc).timestamp()
    row["week_mails"] = sum(1 for r in refs if r[4] >= week_start)
    before = _as_it_was(path, refs, week_start, tmp)
    run_phase("store-base", path, cache, str(before))
    base = json.dumps(patchtrack.open_inbox(before).tips())
    span = min(1000, total)
    start = f"{refs[total - span - 1][2]}" if total > span else ""
    ranges = {"week": week, "1000": [f"{start}..{refs[-1][2]}"]}
    for kind, suffix in (("same", ""), ("new", "-new"), ("full", "-full")):  # "full" drops the base
        for label, extra in ranges.items():
            row[f"report-{label}{suffix}"] = best_report(3, kind, path, cache, base, *extra)
    row["span"] = span
    row["scaling"] = {
        share: run_phase("cold-parallel", path, cache, f"..{refs[max(1, total * share // 100) - 1][2]}")
        for share in (25, 50, 100)
    }
    return row


def _as_it_was(path: str, refs: list, since: float, tmp: Path) -> Path:  # type: ignore[type-arg]
    """A repository borrowing ``path``'s objects, its branch at the last commit that
    arrived before ``since`` (a single-epoch archive, as the corpora and the merged
    one are)."""
    (epoch,) = patchtrack.open_inbox(path).epochs
    before = tmp / f"{Path(path).name}.before.git"
    subprocess.run(["git", "init", "-q", "--bare", str(before)], check=True)
    (before / "objects" / "info" / "alternates").write_text(str(Path(epoch.path).resolve() / "objects") + "\n")
    last = [r[2] for r in refs if r[4] < since][-1]
    subprocess.run(["git", "-C", str(before), "update-ref", "refs/heads/master", last], check=True)
    return before


def table(rows: list[dict]) -> str:  # type: ignore[type-arg]
    lines = [
        "| archive | messages | floor (msg/s) | cold serial (msg/s) | cold parallel (msg/s) | "
        "cold + cache (msg/s) | warm (msg/s) | peak RSS, parallel (MB: main + worker) | main heap growth per 100k mails (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        n = r["messages"]
        rate = {k: n / r[k]["seconds"] for k in ("cold-serial", "cold-parallel", "cold-cache", "warm")}
        par = r["cold-parallel"]
        quarter, whole = r["scaling"][25], r["scaling"][100]
        growth = (whole["heap_mb"] - quarter["heap_mb"]) / max(1, whole["messages"] - quarter["messages"]) * 100_000
        lines.append(
            f"| {r['archive']} | {n:,} | {r['floor']:,.0f} | {rate['cold-serial']:,.0f} | "
            f"{rate['cold-parallel']:,.0f} ({rate['cold-parallel'] / r['floor']:.0%} of floor) | "
            f"{rate['cold-cache']:,.0f} | {rate['warm']:,.0f} | "
            f"{par['rss_mb']:,.0f} + {par['worker_rss_mb']:,.0f} | {growth:,.0f} |"
        )
    lines += [
        "",
        "Reports (`patchtrack report`, cache warm), seconds in the process / for the whole "
        "command. *Same state*: the archive's assembly is stored. *After a week's mail*: "
        "the archive as it was a week before is parsed and its assembly stored; the week's "
        "mail is parsed and the assembly extended (a weekly cron job). *In full*: every "
        "message cached, no assembly stored: the archive assembled again.",
        "",
        "| archive | last 7 days (mails) | 7 days: same state | after a week's mail | in full | "
        "last 1,000 mails: same state | after a week's mail | in full |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cells = [
            f"{r[k]['seconds']:.2f} / {r[k]['wall']:.2f}"
            for k in ("report-week", "report-week-new", "report-week-full",
                      "report-1000", "report-1000-new", "report-1000-full")
        ]
        lines.append(f"| {r['archive']} | {r['week_mails']:,} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| archive | cold parallel at 25 % | 50 % | 100 % (msg/s; s) |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        cells = [
            f"{s['messages'] / s['seconds']:,.0f}; {s['seconds']:.1f}" for s in r["scaling"].values()
        ]
        lines.append(f"| {r['archive']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--phase"]:
        name, path, cache, *extra = argv[1:]
        with settings(bool(os.environ.get(_DEFAULTS))):
            print(json.dumps(_phase(name, path, cache, extra)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="*", help="archives (default: the corpus bundles)")
    parser.add_argument("--write", metavar="FILE", help="put the tables into FILE between markers")
    parser.add_argument(
        "--merged", action="store_true",
        help="also build one epoch holding every archive's mail in arrival order (a larger "
        "archive than any of them) and measure it",
    )
    add_settings_option(parser)
    args = parser.parse_args(argv)
    # The commands timed run the package as installed: with its bytecode (pip compiles
    # it at install; a checkout run with PYTHONDONTWRITEBYTECODE would compile every
    # module at every start, ~0.1 s no user pays).
    compileall.compile_dir(Path(patchtrack.__file__).parent, quiet=1)
    if args.library_defaults:
        os.environ[_DEFAULTS] = "1"  # for the phases' processes
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.archives or clone_bundles(Path(tmp))
        if not archives:
            print("no archives given and no corpus bundles found", file=sys.stderr)
            return 2
        if args.merged:  # built in a child: the phases' processes, started from this
            # one, would count the pages it touched (the corpora's packs) as their own peak
            with concurrent.futures.ProcessPoolExecutor(1) as builder:
                archives = [*archives, builder.submit(merged_inbox, archives, Path(tmp) / "merged-corpora").result()]
        rows = [measure(p, Path(tmp)) for p in archives]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}), each phase in a fresh process; one run per cold or "
        "warm phase, best of 3 for the reports, "
        f"{settings_note(args.library_defaults)}.\n\n"
        + table(rows) + "\n"
    )
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_scale", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
