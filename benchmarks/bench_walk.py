"""CPU per mail of the walk (the library's hot loop) for two checkouts, back to back.

Each round runs, in a fresh process per checkout, alternating, the three ways a walk
is consumed: ``refs()`` without reading a mail (what the cache, a process pool's
rows and progress bars take), iteration with every mail's bytes read, and
``refs()`` with ``blob.size`` (``messages --raw``). The best of ``--rounds`` is
reported as µs of CPU per commit (``time.process_time``, not wall clock: the
machine is shared).

    python benchmarks/bench_walk.py /tmp/c/linux-pwm.vger.kernel.org.0.git \\
        --before /work/main --after .
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

_CHILD = r"""
import json, sys, time
import patchtrack
inbox = patchtrack.open_inbox(sys.argv[1])
def refs():
    return sum(1 for _ in inbox.walk().refs())
def data():
    return sum(len(r.data) > 0 for r in inbox.walk())
def sizes():
    return sum(r[1].size > 0 for r in inbox.walk().refs())
out = {}
for name, fn in (("refs", refs), ("data", data), ("size", sizes)):
    fn()  # warm the page cache and libgit2's pack windows
    start = time.process_time()
    n = fn()
    out[name] = (time.process_time() - start) / n * 1e6
out["file"] = patchtrack.__file__
print(json.dumps(out))
"""


def measure(checkout: str, archive: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.path.abspath(checkout)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, os.path.abspath(archive)],
        env=env, cwd=os.path.abspath(checkout), check=True, capture_output=True, text=True,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("archive")
    parser.add_argument("--before", required=True, help="checkout to compare against")
    parser.add_argument("--after", default=".", help="checkout measured (default: this one)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for round in range(args.rounds):
        pair = [("before", args.before), ("after", args.after)]
        for label, checkout in pair[:: 1 if round % 2 else -1]:  # neither always runs first
            got = measure(checkout, args.archive)
            assert got.pop("file").startswith(os.path.abspath(checkout)), "PYTHONPATH did not take"  # type: ignore[attr-defined]
            for key, value in got.items():
                best[label][key] = min(best[label].get(key, value), value)
    print(f"{'µs CPU / commit':<16}{'before':>10}{'after':>10}{'change':>9}")
    for key in ("refs", "data", "size"):
        b, a = best["before"][key], best["after"][key]
        print(f"{key:<16}{b:>10.2f}{a:>10.2f}{(a - b) / b:>+9.1%}")


if __name__ == "__main__":
    main()
