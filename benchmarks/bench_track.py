"""Tracking at scale: index an upstream repository and track every series of its list.

Runs ``patchtrack track INBOX --upstream REPO --format json`` twice in fresh
processes: cold (empty cache: every mail parsed, every upstream commit indexed) and
warm (the same again: parsed mail, the archive's assembly and the upstream index
read from the cache). Reports seconds and what was found.

    python benchmarks/bench_track.py [INBOX] [--upstream REPO] [--write docs/performance.md]

Defaults: the linux-man corpus bundle and ``$PATCHTRACK_UPSTREAM_MANPAGES``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import CORPUS, write_section  # noqa: E402


def run(inbox: str, upstream: str, cache: str) -> tuple[float, list[dict]]:  # type: ignore[type-arg]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "patchtrack", "track", inbox, "--upstream", upstream, "--cache", cache, "--format", "json"],
        check=True, capture_output=True, text=True,
    )
    return time.perf_counter() - start, json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inbox", nargs="?")
    parser.add_argument("--upstream", default=os.environ.get("PATCHTRACK_UPSTREAM_MANPAGES"))
    parser.add_argument("--write", metavar="FILE")
    args = parser.parse_args(argv)
    if not args.upstream:
        print("give --upstream or set PATCHTRACK_UPSTREAM_MANPAGES", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        inbox = args.inbox
        if inbox is None:
            inbox = os.path.join(tmp, "linux-man.vger.kernel.org.0.git")
            subprocess.run(["git", "clone", "-q", "--bare", str(CORPUS / "linux-man.vger.kernel.org.0.bundle"), inbox],
                           check=True)
        cache = os.path.join(tmp, "cache.sqlite")
        cold, rows = run(inbox, args.upstream, cache)
        warm, again = run(inbox, args.upstream, cache)
    assert again == rows, "the warm run must give the same answers"
    commits = int(subprocess.run(["git", "rev-list", "--count", "--no-merges", "HEAD"], cwd=args.upstream,
                                 check=True, capture_output=True, text=True).stdout)
    states = collections.Counter(r["state"] for r in rows)
    methods = collections.Counter(p["method"] for r in rows for p in r["patches"] if p["method"])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    text = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, Python {platform.python_version()}): "
        f"`patchtrack track` over all {len(rows):,} series of the archive against {commits:,} upstream commits, "
        "each run a fresh process.\n\n"
        "| run | seconds |\n|---|---:|\n"
        f"| cold (empty cache) | {cold:.1f} |\n| warm | {warm:.1f} |\n\n"
        + "Series: " + ", ".join(f"{n:,} {s}" for s, n in states.most_common()) + ". "
        + "Patches found by: " + ", ".join(f"{m} {n:,}" for m, n in methods.most_common()) + ".\n"
    )
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_track", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
