"""Parse cost of many lists as one archive against each list alone, next to git's floor.

A mail delivered to k lists is parsed once: opening lists A+B as one archive
(``patchtrack.open_archive``) should cost what its distinct mails cost, not the sum
of A alone and B alone. Timed cold (no cache), one core (``workers=1``), best of
``--repeat`` runs, alternating, in one run with the read floor of
``bench_read.floor`` (``git log --format=%H:m | git cat-file --batch``) over every
epoch:

- sum: ``open_inbox(A).messages()`` + ``open_inbox(B).messages()`` + …;
- union: ``open_archive([A, B, …]).messages()`` (each distinct mail once).

Two rows per run: the lists given (real cross-posts, whose copies differ by list
footers and headers), and the first list opened twice (a shared clone under a second
name, so that every mail is on two lists with the same bytes: the union should cost
one list, not two).

Both shares of the floor count the lists' mails (Σ), the work git's floor does: the
archive's share above the sum's is the reading it saved.

    python benchmarks/bench_lists.py                       # the corpus bundles
    python benchmarks/bench_lists.py A.git B.git           # any archives
    python benchmarks/bench_lists.py --write docs/performance.md
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import pygit2

import patchtrack
from patchtrack.archive import open_sources

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import CORPUS, add_settings_option, clone_bundles, floor, settings, settings_note, write_section  # noqa: E402


def timed(fn: Callable[[], Iterable[object]]) -> tuple[int, float]:
    """How many records ``fn`` gives, and the seconds it took, the records kept
    until the end as a caller that assembles them keeps them (an archive of many
    lists holds its messages until every delivery is known; counting one list's
    while dropping them measured the garbage collector's work on 58,000 held
    records, 1.7 s on the five corpora, as parsing)."""
    start = time.perf_counter()
    kept = list(fn())
    return len(kept), time.perf_counter() - start


def epochs_of(lists: Mapping[str, str]) -> list[str]:
    """Every epoch repository of the lists (for the floor)."""
    return [str(e.path) for source in open_sources(dict(lists)).values() for e in source.epochs]


def measure(label: str, lists: Mapping[str, str], repeat: int) -> dict[str, object]:
    """Cold parse of each list alone (summed) and of all of them as one archive."""
    best = {"floor": float("inf"), "sum": float("inf"), "union": float("inf")}
    counts: dict[str, int] = {}
    epochs = epochs_of(lists)
    for _ in range(repeat):
        n, t = floor(epochs)
        counts["floor"], best["floor"] = n, min(best["floor"], t)
        total, seconds = 0, 0.0
        for path in lists.values():
            n, t = timed(lambda: patchtrack.open_inbox(path, workers=1).messages())
            total, seconds = total + n, seconds + t
        counts["sum"], best["sum"] = total, min(best["sum"], seconds)
        n, t = timed(lambda: patchtrack.open_archive(dict(lists), workers=1).messages())  # type: ignore[attr-defined]
        counts["union"], best["union"] = n, min(best["union"], t)
    floor_rate = counts["floor"] / best["floor"]
    return {
        "label": label,
        "mails": counts["sum"],
        "distinct": counts["union"],
        "floor_rate": floor_rate,
        "sum_s": best["sum"],
        "union_s": best["union"],
        "sum_share": counts["sum"] / best["sum"] / floor_rate,
        "union_share": counts["sum"] / best["union"] / floor_rate,
        # 1.0 when the union costs exactly its distinct mails' share of the sum
        "per_distinct": (best["union"] / counts["union"]) / (best["sum"] / counts["sum"]),
    }


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| lists | mails (Σ lists) | distinct | git floor (msg/s) | each alone, Σ (s) | as one archive (s) "
        "| one archive / Σ | cost per distinct mail / per mail alone | Σ vs floor | one archive vs floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['mails']:,} | {r['distinct']:,} | {r['floor_rate']:,.0f} | {r['sum_s']:.1f} | "
            f"{r['union_s']:.1f} | {r['union_s'] / r['sum_s']:.0%} | {r['per_distinct']:.2f} | "  # type: ignore[operator]
            f"{r['sum_share']:.0%} | {r['union_share']:.0%} |"
        )
    return "\n".join(lines)


def short(path: str) -> str:
    """lore's short list name of a clone: ``linux-pwm.vger.kernel.org.0.git`` → ``linux-pwm``."""
    return Path(path).name.partition(".")[0]


def shared_copy(path: str, dest: Path) -> str:
    """A second archive of the same mails as ``path`` (its epochs cloned with
    ``--shared``: new refs, the objects read through alternates): a v2 inbox at
    ``dest``, or a v1 repository ``dest.git``."""
    (source,) = open_sources(path).values()
    if source.layout == "v1":
        target = dest.with_suffix(".git")
        subprocess.run(["git", "clone", "-q", "--bare", "--shared", str(source.path), str(target)], check=True)
        return str(target)
    for epoch in source.epochs:
        target = dest / "git" / f"{epoch.number}.git"
        subprocess.run(["git", "clone", "-q", "--bare", "--shared", str(epoch.path), str(target)], check=True)
    return str(dest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="*", help="one inbox per list (default: the corpus bundles)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept (default 2)")
    parser.add_argument("--write", metavar="FILE", help="put the table into FILE between markers")
    add_settings_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.archives or clone_bundles(Path(tmp))
        if not archives:
            print(f"no archives given and no bundles in {CORPUS}", file=sys.stderr)
            return 2
        lists = {short(p): p for p in archives}
        first = archives[0]
        copy = shared_copy(first, Path(tmp) / "copy")
        twice = {short(first): first, f"{short(first)}-copy": copy}
        with settings(args.library_defaults):
            rows = [
                measure(" + ".join(lists), lists, args.repeat),
                measure(f"{short(first)} twice", twice, args.repeat),
            ]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}, pygit2 {pygit2.__version__}), best of {args.repeat}, one process, "
        f"no cache, {settings_note(args.library_defaults)}.\n\n" + table(rows) + "\n"
    )
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_lists", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
