"""Read + parse a whole archive on one core, next to the read floor, in one run.

Three timings per archive, best of ``--repeat`` runs each, alternating:

- floor: ``git log --format=%H:m | git cat-file --batch >/dev/null`` (git, in C);
- walk: ``Inbox.walk()`` (patchtrack reading the bytes, no parsing);
- parse: ``Inbox.messages()`` (read + ``parse_message`` of every mail), one process.

``--profile`` adds where parse time goes (cProfile, top functions by own time).

    python benchmarks/bench_parse.py [ARCHIVE ...] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pygit2

import patchtrack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import add_settings_option, clone_bundles, floor, settings, settings_note, write_section  # noqa: E402



def timed(fn) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    count = sum(1 for _ in fn())
    return count, time.perf_counter() - start


def measure(path: str, repeat: int) -> dict[str, object]:
    inbox = patchtrack.open_inbox(path)
    epochs = [str(e.path) for e in inbox.epochs]
    best = {"floor": float("inf"), "walk": float("inf"), "parse": float("inf")}
    counts = {}
    for _ in range(repeat):
        n, t = floor(epochs)
        counts["floor"], best["floor"] = n, min(best["floor"], t)
        n, t = timed(lambda: patchtrack.open_inbox(path).walk(dedupe=False))
        counts["walk"], best["walk"] = n, min(best["walk"], t)
        n, t = timed(lambda: patchtrack.open_inbox(path, workers=1).messages())
        counts["parse"], best["parse"] = n, min(best["parse"], t)
    kinds: dict[str, int] = {}
    for m in patchtrack.open_inbox(path, workers=1).messages():
        kinds[m.kind] = kinds.get(m.kind, 0) + 1
    rates = {k: counts[k] / best[k] for k in best}
    return {"archive": inbox.name, "messages": counts["parse"], "kinds": kinds, **rates}


def profile(path: str, top: int = 18) -> str:
    prof = cProfile.Profile()
    prof.enable()
    for _ in patchtrack.open_inbox(path, workers=1).messages():
        pass
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| archive | messages (patches) | git floor (msg/s) | walk (msg/s) | walk + parse (msg/s, 1 core) | walk + parse vs floor |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kinds = r["kinds"]
        assert isinstance(kinds, dict)
        lines.append(
            f"| {r['archive']} | {r['messages']:,} ({kinds.get('patch', 0):,}) | {r['floor']:,.0f} | "
            f"{r['walk']:,.0f} | {r['parse']:,.0f} | {r['parse'] / r['floor']:.0%} |"  # type: ignore[operator]
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="*")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write", metavar="FILE")
    add_settings_option(parser)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the first archive")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.archives or clone_bundles(Path(tmp))
        with settings(args.library_defaults):
            rows = [measure(p, args.repeat) for p in archives]
            prof = profile(archives[0]) if args.profile else ""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}, pygit2 {pygit2.__version__}), best of {args.repeat}, one process, "
        f"{settings_note(args.library_defaults)}.\n\n"
        + table(rows)
        + "\n"
    )
    print(text)
    if prof:
        print(prof)
    if args.write:
        write_section(Path(args.write), "bench_parse", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
