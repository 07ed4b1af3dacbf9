"""CPU time of ``parse_message`` on a megabyte of each hostile line shape, next to the floor.

The shapes are ``tests/mail_shapes.py``'s: a mail whose header block or body is one
short line repeated (a megabyte of two-byte lines is half a million lines). Each is
parsed after a warm-up, best of ``--repeat`` runs, memoised readers emptied and the
garbage collector paused (its pauses follow what the process holds, not the input).
The floors, measured in the same run:

- ordinary mail: the CPU time ``parse_message`` spends per megabyte of an archive's
  own mails (the first ``--sample`` mails, parsed the same way);
- git: the CPU time per megabyte of ``git cat-file --batch`` reading that archive's
  mails (git reading the bytes in C, no parsing; user + system time of the children).

Issue 19's bound is 100 ms for any mail of at most 1 MB.

    python benchmarks/bench_hostile.py [ARCHIVE] [--shape NAME ...] [--size 1048576]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from patchtrack import identity, subject
from patchtrack.message import parse_message

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench_read import CORPUS, write_section  # noqa: E402
from mail_shapes import SHAPES  # noqa: E402

BOUND = 0.100


def _clear_memos() -> None:
    for module in (identity, subject):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def cpu(fn: Callable[[], object], repeat: int, clear: bool = True) -> float:
    """Least CPU time of ``repeat`` calls of ``fn``, after one untimed call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        if clear:
            _clear_memos()
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            fn()
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return best


def archive_mails(path: str, sample: int) -> list[bytes]:
    """The first ``sample`` mails of an archive epoch (a bare git repository)."""
    repo = pygit2.Repository(path)
    found = []
    for commit in repo.walk(repo.head.target):
        if "m" in commit.tree:
            found.append(commit.tree["m"].data)
            if len(found) >= sample:
                break
    return found


def git_floor(path: str, repeat: int) -> tuple[float, int]:
    """(CPU seconds, bytes) of ``git cat-file --batch`` reading every mail of ``path``."""
    best, size = float("inf"), 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            ["bash", "-o", "pipefail", "-c", "git log --format=%H:m HEAD | git cat-file --batch | wc -c"],
            cwd=path, check=True, capture_output=True, text=True,
        ).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best, size = min(best, spent), int(out)
    return best, size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", nargs="?", help="an archive epoch for the floors (default: linux-pwm's bundle)")
    parser.add_argument("--shape", action="append", help="only these shapes (default: all)")
    parser.add_argument("--size", type=int, default=1 << 20, help="bytes of each shape (default 1 MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, best kept (default 3)")
    parser.add_argument("--sample", type=int, default=3000, help="ordinary mails parsed for the floor")
    parser.add_argument("--write", metavar="FILE", help="put the table into FILE between markers")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.archive
        if path is None:
            bundles = sorted(CORPUS.glob("linux-pwm*.bundle")) or sorted(CORPUS.glob("*.bundle"))
            if not bundles:
                print(f"no archive given and no bundles in {CORPUS}", file=sys.stderr)
                return 2
            path = str(Path(tmp) / "floor.git")
            subprocess.run(["git", "clone", "-q", "--bare", str(bundles[0]), path], check=True)
        mails = archive_mails(path, args.sample)
        size = sum(map(len, mails))
        ordinary = cpu(lambda: [parse_message(m) for m in mails], args.repeat, clear=False) / size * (1 << 20)
        git_cpu, git_size = git_floor(path, args.repeat)
    git_mb = git_cpu / git_size * (1 << 20)
    rows = []
    for name, make in SHAPES.items():
        if args.shape and name not in args.shape:
            continue
        data = make(args.size)
        spent = cpu(lambda: parse_message(data), args.repeat)
        rows.append((name, len(data), spent))
        print(f"{name:32} {len(data):>9,} B {spent * 1000:8.1f} ms", file=sys.stderr, flush=True)
    header = (
        f"CPU time of `parse_message`, {platform.machine()}, Python {platform.python_version()}, "
        f"best of {args.repeat} after a warm-up, garbage collector paused. Floors per MiB: "
        f"ordinary mail ({len(mails):,} mails of {Path(path).name}, {size / len(mails) / 1024:.1f} KiB each) "
        f"{ordinary * 1000:.1f} ms; `git cat-file --batch` {git_mb * 1000:.1f} ms.\n"
    )
    lines = ["| shape | bytes | CPU (ms) | x ordinary mail |", "|---|---:|---:|---:|"]
    for name, n, spent in sorted(rows, key=lambda r: -r[2]):
        mark = " **over**" if spent > BOUND and n <= 1 << 20 else ""
        lines.append(f"| `{name}` | {n:,} | {spent * 1000:.1f}{mark} | {spent / (n / (1 << 20)) / ordinary:.1f} |")
    text = header + "\n" + "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(Path(args.write), "bench_hostile", text)
    over = sum(1 for _, n, spent in rows if spent > BOUND and n <= 1 << 20)
    print(f"{over} of {len(rows)} shapes over {BOUND * 1000:.0f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
