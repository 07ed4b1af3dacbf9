"""Series assembly next to parsing, per archive, in one run.

For each archive: the time to read + parse every message (``Inbox.messages()``), and
the time ``assemble()`` then takes on those messages (thread, group, follow-ups,
revision links), best of ``--repeat`` each. The issue's bar: assembly adds < 20 %.

    python benchmarks/bench_series.py [ARCHIVE ...] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import patchtrack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import add_settings_option, clone_bundles, settings, settings_note, write_section  # noqa: E402



def measure(path: str, repeat: int) -> dict[str, object]:
    parse = assemble = float("inf")
    messages: list[patchtrack.Message] = []
    series: tuple[patchtrack.Series, ...] = ()
    for _ in range(repeat):
        start = time.perf_counter()
        messages = list(patchtrack.open_inbox(path, workers=1).messages())
        parse = min(parse, time.perf_counter() - start)
        start = time.perf_counter()
        series = patchtrack.assemble(messages)
        assemble = min(assemble, time.perf_counter() - start)
    return {
        "archive": patchtrack.open_inbox(path).name,
        "messages": len(messages),
        "series": len(series),
        "parse": parse,
        "assemble": assemble,
    }


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| archive | messages | series | read + parse (s) | assemble (s) | assembly adds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        parse, assemble = float(r["parse"]), float(r["assemble"])  # type: ignore[arg-type]
        lines.append(
            f"| {r['archive']} | {r['messages']:,} | {r['series']:,} | {parse:.2f} | {assemble:.2f} | "
            f"{assemble / parse:.1%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="*")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--write", metavar="FILE")
    add_settings_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.archives or clone_bundles(Path(tmp))
        with settings(args.library_defaults):
            rows = [measure(p, args.repeat) for p in archives]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}), best of {args.repeat}, one process, "
        f"{settings_note(args.library_defaults)}.\n\n" + table(rows) + "\n"
    )
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_series", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
