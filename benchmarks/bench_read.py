"""Read a whole public-inbox archive and compare with git's own floor, in one run.

The floor is ``git rev-list --reverse <tip> | git cat-file --batch`` asking for each
commit's ``m`` blob: git doing the same reading in C with no parsing. patchtrack's
walk (``Inbox.walk()``, every message's bytes in hand) is timed on the same archive,
alternating with the floor, best of ``--repeat`` runs each, and reported as msg/s and
as a share of the floor.

    python benchmarks/bench_read.py                   # every bundle in ../shared/corpus
    python benchmarks/bench_read.py /path/to/inbox    # any archive
    python benchmarks/bench_read.py --write docs/performance.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pygit2

import patchtrack
from patchtrack.cli import tuned_process

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def floor(epoch_paths: list[str]) -> tuple[int, float]:
    """``git log --format=%H:m | git cat-file --batch >/dev/null`` per epoch, pipelined.

    Returns (messages, seconds). The message count comes from an untimed
    ``--batch-check`` pass, so the timed pipeline does nothing but read.
    """
    count = 0
    for path in epoch_paths:
        check = subprocess.run(
            ["bash", "-c", "git log --reverse --format=%H:m HEAD | git cat-file --batch-check"],
            cwd=path, check=True, capture_output=True, text=True,
        ).stdout
        count += sum(1 for line in check.splitlines() if line.endswith(" blob " + line.split()[-1]))
    start = time.perf_counter()
    for path in epoch_paths:
        subprocess.run(
            ["bash", "-o", "pipefail", "-c",
             "git log --reverse --format=%H:m HEAD | git cat-file --batch >/dev/null"],
            cwd=path, check=True,
        )
    return count, time.perf_counter() - start


def walk(path: str) -> tuple[int, float]:
    """patchtrack: open the archive and read every message's bytes; (messages, seconds)."""
    start = time.perf_counter()
    count = 0
    size = 0
    for raw in patchtrack.open_inbox(path).walk(dedupe=False):
        count += 1
        size += len(raw.data)
    return count, time.perf_counter() - start


def measure(path: str, repeat: int) -> dict[str, float | int | str]:
    inbox = patchtrack.open_inbox(path)
    epochs = [str(e.path) for e in inbox.epochs]
    best_floor = best_walk = float("inf")
    n_floor = n_walk = 0
    for _ in range(repeat):
        n_floor, t = floor(epochs)
        best_floor = min(best_floor, t)
        n_walk, t = walk(path)
        best_walk = min(best_walk, t)
    return {
        "archive": inbox.name,
        "messages": n_walk,
        "floor_msgs": n_floor,
        "floor_rate": n_floor / best_floor,
        "walk_rate": n_walk / best_walk,
        "ratio": (n_walk / best_walk) / (n_floor / best_floor),
    }


def table(rows: list[dict[str, float | int | str]]) -> str:
    lines = [
        "| archive | messages | git cat-file floor (msg/s) | patchtrack walk (msg/s) | share of floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['archive']} | {r['messages']:,} | {r['floor_rate']:,.0f} | "
            f"{r['walk_rate']:,.0f} | {r['ratio']:.0%} |"
        )
    return "\n".join(lines)


def write_section(target: Path, name: str, text: str) -> None:
    """Put ``text`` between the ``<!-- NAME: begin/end -->`` markers of ``target``
    (appended at the end when the markers are not there yet)."""
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    doc = target.read_text() if target.exists() else ""
    if begin not in doc:
        doc += f"\n{begin}\n{end}\n"
    before, _, rest = doc.partition(begin)
    _, _, after = rest.partition(end)
    target.write_text(f"{before}{begin}\n{text}{end}{after}")


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """``--library-defaults``: measure without the command's process settings."""
    parser.add_argument(
        "--library-defaults", action="store_true",
        help="run with the collector's defaults instead of the settings the patchtrack "
        "command runs under (patchtrack.cli.tuned_process)",
    )


def settings(library_defaults: bool) -> contextlib.AbstractContextManager[None]:
    """The process settings the runs measure under: the command's, or the library's
    defaults (what a script that does not choose gets)."""
    return contextlib.nullcontext() if library_defaults else tuned_process()


def settings_note(library_defaults: bool) -> str:
    """How the header names the settings the runs used."""
    return (
        "with the collector's defaults" if library_defaults
        else "under the command's process settings (`patchtrack.cli.tuned_process`)"
    )


def merged_inbox(archives: list[str], dest: Path) -> str:
    """One v2 epoch holding every mail of ``archives``, in arrival order: a larger
    archive than any corpus, built as public-inbox would have stored the lists' mail
    had it gone to one inbox (each mail committed at its original arrival time), then
    packed as ``git gc`` packs a real epoch. Returns its path."""
    from patchtrack.builder import V2Writer

    # References only, each mail read as it is written: this process must not hold
    # the mails (a process started from it inherits its peak RSS as its own).
    refs = sorted(
        ((ref[4], i, ref[1]) for i, path in enumerate(archives)
         for ref in patchtrack.open_inbox(path).walk().refs() if not ref[5]),
        key=lambda m: (m[0], m[1]),
    )
    writer = V2Writer(dest)
    for when, _, blob in refs:
        writer.add(blob.data, arrival=datetime.fromtimestamp(when, timezone.utc))
    epoch = dest / "git" / "0.git"
    subprocess.run(["git", "-C", str(epoch), "repack", "-a", "-d", "-f", "-q"], check=True)  # -d drops the loose copies
    return str(dest)


def clone_bundles(tmp: Path) -> list[str]:
    paths = []
    for bundle in sorted(CORPUS.glob("*.bundle")):
        dest = tmp / (bundle.stem + ".git")
        subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(dest)], check=True)
        paths.append(str(dest))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="*", help="archives to read (default: the corpus bundles)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept (default 3)")
    parser.add_argument("--write", metavar="FILE", help="put the table into FILE between markers")
    add_settings_option(parser)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        archives = args.archives or clone_bundles(Path(tmp))
        if not archives:
            print(f"no archives given and no bundles in {CORPUS}", file=sys.stderr)
            return 2
        with settings(args.library_defaults):
            rows = [measure(path, args.repeat) for path in archives]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    header = (
        f"Measured {stamp} on {os.cpu_count()} cores ({platform.machine()}, "
        f"Python {platform.python_version()}, pygit2 {pygit2.__version__}, "
        f"libgit2 {pygit2.LIBGIT2_VERSION}), best of {args.repeat} runs, one process, "
        f"{settings_note(args.library_defaults)}.\n"
    )
    text = header + "\n" + table(rows) + "\n"
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_read", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
