"""CPU time of ``assemble()`` on the hostile shapes of ``tests/shapes.py``, at growing sizes.

Each shape is built once per size, then assembled ``--repeat`` times; the best CPU time
(``time.process_time``) is printed with its ratio to the previous size's. Linear code
shows a ratio near the size ratio; a size is skipped once the one before took longer
than ``--limit`` seconds.

    python benchmarks/bench_shapes.py [--sizes 5000,20000] [--shape deep-chain ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import patchtrack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from shapes import SHAPES  # noqa: E402


def cpu(messages: list[patchtrack.Message], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        patchtrack.assemble(messages)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=60.0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# {patchtrack.__file__}")
    for name in args.shape or SHAPES:
        before: tuple[int, float] | None = None
        for n in sizes:
            if before is not None and before[1] > args.limit:
                print(f"{name:18} n={n:>6}: skipped (n={before[0]} took {before[1]:.1f} s)")
                continue
            messages = SHAPES[name](n)
            took = cpu(messages, args.repeat if n == sizes[0] else 1 if before and before[1] > 5 else args.repeat)
            ratio = f"  x{took / before[1]:.2f} for x{n / before[0]:.0f}" if before and before[1] > 0 else ""
            print(f"{name:18} n={n:>6}: {took:8.3f} s CPU{ratio}", flush=True)
            before = (n, took)


if __name__ == "__main__":
    main()
