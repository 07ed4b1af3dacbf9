"""Every record of a corpus parsed by two versions of patchtrack must be the same.

For each mail (git blob, once) of the given public-inbox epochs, ``parse_message`` of
the working tree and of ``--base`` (a commit, extracted with ``git archive`` into a
temporary directory and run in a process of its own) give a digest of the whole record
(``attrs.asdict``, every field); the Message-ID, In-Reply-To and References are also
compared as text. Prints the count compared and each difference; exit 1 on any.

    python benchmarks/record_identity.py /tmp/c/*.git [--base 8b92fc5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def dump(paths: list[str], out: str) -> None:
    """Write ``oid digest msgid in_reply_to references`` of every mail of ``paths``."""
    import attrs
    import pygit2

    from patchtrack.message import parse_message

    seen: set[str] = set()
    with open(out, "w", encoding="utf-8") as f:
        for path in paths:
            repo = pygit2.Repository(path)
            for commit in repo.walk(repo.head.target):
                if "m" not in commit.tree:
                    continue
                blob = commit.tree["m"]
                oid = str(blob.id)
                if oid in seen:
                    continue
                seen.add(oid)
                m = parse_message(blob.data)
                digest = hashlib.sha256(repr(attrs.asdict(m)).encode("utf-8", "surrogatepass")).hexdigest()
                f.write(json.dumps([oid, digest, m.msgid, m.in_reply_to, list(m.references)]) + "\n")


def run(tree: Path, paths: list[str], out: str) -> None:
    """Dump with the patchtrack of ``tree`` (first on the path) in a process of its own."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--dump", out, *paths], env=env, check=True, cwd=tree)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archives", nargs="+")
    parser.add_argument("--base", default="8b92fc5", help="the commit to compare with")
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--keep", type=Path, help="keep the two dumps here (base.jsonl is reused when present)")
    args = parser.parse_args(argv)
    paths = [str(Path(p).resolve()) for p in args.archives]
    if args.dump:
        dump(paths, args.dump)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        keep = args.keep or Path(tmp)
        keep.mkdir(parents=True, exist_ok=True)
        old, new = keep / "base.jsonl", keep / "new.jsonl"
        if not old.exists():
            base = Path(tmp) / "base"
            base.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base], check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
            run(base, paths, str(old))
        run(ROOT, paths, str(new))
        before = {row[0]: row for row in map(json.loads, old.read_text(encoding="utf-8").splitlines())}
        after = {row[0]: row for row in map(json.loads, new.read_text(encoding="utf-8").splitlines())}
    differ = [oid for oid in before if before[oid] != after.get(oid)]
    ids = [oid for oid in before if after.get(oid) and before[oid][2:] != after[oid][2:]]
    print(f"{len(before):,} mails compared ({len(after):,} parsed by the working tree), "
          f"{len(differ)} records differ, {len(ids)} of them in Message-ID/In-Reply-To/References")
    for oid in differ[:50]:
        print("differs:", oid, before[oid][2:] if oid in ids else "")
    return 1 if differ or len(before) != len(after) else 0


if __name__ == "__main__":
    sys.exit(main())
