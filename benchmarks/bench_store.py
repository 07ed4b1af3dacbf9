"""Lore scale: the store's ingest, memory and queries on a synthetic mirror.

The mirrors are written by ``benchmarks/make_mirror.py`` (copies of the corpora with
rewritten Message-IDs, references and dates, ~5 % cross-posted, several epochs), kept
between runs under ``/work/bench-data/mirror/<size>``. For each size given, in one run:

- the floor: ``git log --format=%H:m | git cat-file --batch`` over every epoch;
- a cold ingest (no store yet) with one process, the process pool (one worker per
  core) and a 2-worker Dask ``LocalCluster`` (each in a fresh process; the pool at
  every size, on the mirror cut back by a day, the others at ``--all-modes`` sizes): seconds, deliveries a second and
  that rate's share of the floor's, the peak RSS of the ingesting process — its own
  memory (``RssAnon``) and all of it (``VmHWM``, which counts the pack files git maps:
  file pages the kernel takes back under pressure);
- one day of new mail (``--all-modes`` sizes): the pool's store, ingested from the
  mirror shared-cloned with every epoch's ref moved back one day (epochs begun in
  that day left out), after the refs are moved forward again: that ingest's seconds;
- warm queries on that store, each the best of three: series touching
  ``drivers/pwm/`` in any list in the last 30 days with their review state (as a
  library call and as a ``patchtrack sql`` command), a full-archive count of trailers
  by key, and the weekly report of one list (a library call, and a ``patchtrack report`` command);
- the store's size per million mails.

    python benchmarks/bench_store.py --sizes 250k,500k,1M --all-modes 250k --write docs/performance.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import floor, write_section  # noqa: E402

MIRRORS = Path("/work/bench-data/mirror")
PWM_QUERY = """
SELECT s.series_id, s.title, s.version, s.patches, s.reviewed_patches, s.reviews, s.status
FROM series s
WHERE s.last_date >= (SELECT max(last_date) FROM series) - INTERVAL 30 DAY
  AND s.series_id IN (SELECT p.series_id FROM patches p JOIN files f ON f.oid = p.oid
                      WHERE f.path LIKE 'drivers/pwm/%')
ORDER BY s.last_date DESC"""
TRAILER_QUERY = "SELECT key, count(*) AS n FROM mail_trailers GROUP BY key ORDER BY n DESC"

# Run in a fresh process: one cold ingest, its own peak memory read from /proc.
_INGEST = r"""
import json, sys, time
import patchtrack
from patchtrack.cli import tuned_process
root, store, mode = sys.argv[1:4]

def peak():
    fields = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        fields[key] = int(value.split()[0]) // 1024 if value.strip().endswith("kB") else 0
    return fields

anon_peak = 0
def progress(done):
    global anon_peak
    anon_peak = max(anon_peak, peak()["RssAnon"])

# sampled all along, not only when a window reports progress: the series are
# assembled and stored after the last window, where 500k's peak was (2,756 MB against
# the 1,847 MB the windows saw)
import threading
def sample():
    while True:
        progress(None)
        time.sleep(0.2)
threading.Thread(target=sample, daemon=True).start()

with tuned_process():
    client = None
    if mode == "dask":
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    archive = patchtrack.open_archive(root, cache=store, workers=1 if mode == "one" else None)
    start = time.perf_counter()
    stats = archive.ingest(client=client, progress=progress) if client else archive.ingest(progress=progress)
    seconds = time.perf_counter() - start
    anon_peak = max(anon_peak, peak()["RssAnon"])
    archive.cache.close()
    if client is not None:
        client.close(); cluster.close()
print(json.dumps({"seconds": seconds, "deliveries": stats.deliveries, "mails": stats.mails, "series": stats.series,
                  "anon_mb": anon_peak, "hwm_mb": peak()["VmHWM"]}))
"""


def ingest(root: Path, store: Path, mode: str) -> dict[str, Any]:
    """A cold ingest in a fresh process (``mode``: one, pool, dask)."""
    done = subprocess.run([sys.executable, "-c", _INGEST, str(root), str(store), mode], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{mode} ingest of {root} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def epochs(root: Path) -> list[Path]:
    return sorted(root.glob("*/git/*.git"))


def cut_back(root: Path, dest: Path, seconds: int) -> tuple[Path, dict[Path, str]]:
    """``root`` shared-cloned at ``dest`` with each epoch's branch moved back to its
    last commit older than the newest mail minus ``seconds``; returns the clone and
    each epoch's full tip (epochs wholly newer are left out of the clone)."""
    newest = max(
        int(subprocess.run(["git", "log", "-1", "--format=%ct"], cwd=e, capture_output=True, text=True).stdout)
        for e in epochs(root)
    )
    tips: dict[Path, str] = {}
    for epoch in epochs(root):
        target = dest / epoch.relative_to(root)
        before = subprocess.run(
            ["git", "log", "-1", "--format=%H", f"--before={newest - seconds}"], cwd=epoch, capture_output=True,
            text=True,
        ).stdout.strip()
        if not before:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", "--shared", str(epoch), str(target)], check=True)
        tips[target] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=epoch, capture_output=True, text=True).stdout.strip()
        subprocess.run(["git", "update-ref", "HEAD", before], cwd=target, check=True)
    return dest, tips


def best(fn: Any, repeat: int = 3) -> float:
    found = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        found = min(found, time.perf_counter() - start)
    return found


def command(*args: str) -> float:
    """The best of three wall times of ``patchtrack ARGS`` (a fresh process each),
    with the package's bytecode written and read as an installed package has it
    (``pip install`` compiles it): this machine sets ``PYTHONDONTWRITEBYTECODE=1``,
    under which every command compiled patchtrack's modules again (0.3 s of the
    0.55 s its imports took)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run = ["patchtrack", *args]
    subprocess.run(run, check=True, capture_output=True, env=env)  # writes the bytecode
    return best(lambda: subprocess.run(run, check=True, capture_output=True, env=env))


def measure(root: Path, modes: list[str], work: Path, full: bool) -> dict[str, Any]:
    """The figures of one mirror: the floor and a cold ingest per mode; with
    ``full``, also a day of new mail, the warm queries and the store's size. The
    pool's cold ingest runs on the mirror cut back by a day (the day is then ingested
    on its store): one ingest fewer, for a day's difference in the figures."""
    manifest = json.loads((root / "manifest.json").read_text())
    n, t = floor([str(e) for e in epochs(root)])
    row: dict[str, Any] = {"size": root.name, "mails": n, "floor_rate": n / t, "lists": len(manifest["lists"])}
    clone, tips = cut_back(root, work / f"{root.name}-day", 86400)
    store = work / f"{root.name}-pool.duckdb"
    row["pool"] = ingest(clone, store, "pool")
    for mode in modes:
        if mode != "pool":
            other = work / f"{root.name}-{mode}.duckdb"
            row[mode] = ingest(root, other, mode)
            other.unlink()
    if not full:
        store.unlink()
        shutil.rmtree(clone)
        return row
    for target, tip in tips.items():
        subprocess.run(["git", "update-ref", "HEAD", tip], cwd=target, check=True)
    row["day"] = ingest(clone, store, "pool")
    # warm queries, on the store of the whole mirror (the day's ingest brought it there)
    import patchtrack

    archive = patchtrack.open_archive(clone, cache=store)
    row["pwm_query_s"] = best(lambda: archive.sql(PWM_QUERY, ingest=False))
    row["pwm_rows"] = archive.sql(PWM_QUERY, ingest=False).num_rows
    row["trailer_query_s"] = best(lambda: archive.sql(TRAILER_QUERY, ingest=False))
    newest = archive.sql("SELECT max(arrived) FROM deliveries", ingest=False).column(0)[0].as_py()
    since = newest.timestamp() - 7 * 86400
    row["report_library_s"] = best(lambda: archive.report(since=f"@{int(since)}", lists=["linux-pwm"]))
    archive.cache.close()  # type: ignore[union-attr]
    row["pwm_command_s"] = command("sql", str(clone), PWM_QUERY, "--no-ingest", "--cache", str(store))
    row["report_command_s"] = command(
        "report", str(clone), "--list", "linux-pwm", "--since", f"@{int(since)}", "--cache", str(store)
    )
    row["store_mb"] = store.stat().st_size / 1e6
    db = duckdb.connect(str(store), read_only=True)
    row["store_mails"] = db.execute("SELECT count(*) FROM mail").fetchall()[0][0]
    db.close()
    shutil.rmtree(clone)
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| mirror | lists | mails (floor) | git floor (msg/s) | mode | cold ingest (s) | deliveries/s | share of floor "
        "| peak RSS own (MB) | peak RSS with mapped packs (MB) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        for mode in ("one", "pool", "dask"):
            if mode not in r:
                continue
            m = r[mode]
            rate = m["deliveries"] / m["seconds"]
            lines.append(
                f"| {r['size']} | {r['lists']} | {r['mails']:,} | {r['floor_rate']:,.0f} | {mode} | {m['seconds']:.0f} "
                f"| {rate:,.0f} | {rate / r['floor_rate']:.0%} | {m['anon_mb']:,} | {m['hwm_mb']:,} |"
            )
    lines += [
        "",
        "| mirror | one day of new mail: deliveries, ingest (s) | drivers/pwm/ series, 30 days: library (s) / command (s) "
        "| trailers by key, whole archive (s) | weekly report of linux-pwm: library (s) / command (s) | store (MB per million mails) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "day" not in r:
            continue
        lines.append(
            f"| {r['size']} | {r['day']['deliveries']:,} in {r['day']['seconds']:.1f} | {r['pwm_query_s']:.2f} / "
            f"{r['pwm_command_s']:.2f} ({r['pwm_rows']} series) | {r['trailer_query_s']:.2f} | "
            f"{r['report_library_s']:.2f} / {r['report_command_s']:.2f} "
            f"| {r['store_mb'] / r['store_mails'] * 1e6:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, default=MIRRORS, help=f"where make_mirror.py wrote them ({MIRRORS})")
    parser.add_argument("--sizes", default="250k", help="comma-separated mirror names (default 250k)")
    parser.add_argument("--all-modes", default="250k", help="sizes also ingested with one process and Dask")
    parser.add_argument("--modes", default="pool,one,dask", help="the modes of those sizes (default pool,one,dask)")
    parser.add_argument("--write", metavar="FILE", help="put the tables into FILE between markers")
    args = parser.parse_args(argv)
    rows = []
    full = set(args.all_modes.split(","))
    with tempfile.TemporaryDirectory(dir="/work/bench-data" if Path("/work/bench-data").is_dir() else None) as tmp:
        for size in args.sizes.split(","):
            root = args.mirrors / size
            if not (root / "manifest.json").is_file():
                print(f"{root}: no mirror (benchmarks/make_mirror.py writes it)", file=sys.stderr)
                return 2
            modes = args.modes.split(",") if size in full else ["pool"]
            rows.append(measure(root, modes, Path(tmp), size in full))
            print(json.dumps(rows[-1], default=str), file=sys.stderr)
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    text = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}), each ingest a fresh process under the command's process settings.\n\n"
        + table(rows) + "\n"
    )
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_store", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
