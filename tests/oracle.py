"""git's own reading of patch mails: the oracle the corpus tests compare against.

For one mail, ``git mailinfo`` gives author, subject, commit message and the decoded
patch; ``git apply --numstat`` the per-file line counts of that patch; ``git
interpret-trailers --parse`` the trailers of that message; ``git patch-id --stable``
the patch-id. Nothing here uses patchtrack.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pygit2

PATCH_SUBJECT = re.compile(r"^\s*\[[^\]]*\bPATCH\b", re.IGNORECASE)
COVER = re.compile(r"\[[^\]]*\b0+/\d+\b[^\]]*\]")  # [PATCH 0/3], [PATCH 0/2 v2], [PATCH v8 0/3 RESEND]


def archive_blobs(repo_path: str | os.PathLike[str]) -> Iterator[tuple[pygit2.Commit, pygit2.Blob]]:
    """(commit, blob ``m``) of every mail of a public-inbox epoch, oldest first, each
    blob once — read with pygit2 alone, not with patchtrack's walk."""
    repo = pygit2.Repository(str(repo_path))
    seen: set[str] = set()
    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
    for commit in repo.walk(repo.head.target, order):
        tree = commit.tree
        if "m" not in tree:
            continue
        blob = tree["m"]
        if str(blob.id) in seen:
            continue
        seen.add(str(blob.id))
        yield commit, blob


def patch_mails(repo_path: str | os.PathLike[str]) -> list[tuple[str, bytes]]:
    """(blob id, bytes) of every mail whose archive subject marks a patch (not a
    cover letter, not a reply), oldest first, each blob once."""
    found = []
    for commit, blob in archive_blobs(repo_path):
        subject = commit.message.split("\n", 1)[0]
        if PATCH_SUBJECT.match(subject) and not COVER.search(subject):
            found.append((str(blob.id), blob.data))
    return found


def _run(args: list[str], data: bytes | None = None, cwd: str | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(args, input=data, capture_output=True, cwd=cwd)


def git_view(mail: bytes, workdir: str) -> dict[str, Any]:
    """What git makes of one mail (``workdir`` is a private scratch directory)."""
    msg, patch = os.path.join(workdir, "msg"), os.path.join(workdir, "patch")
    info = _run(["git", "mailinfo", "-u", msg, patch], mail)
    if info.returncode != 0:
        return {"mailinfo_failed": True}
    fields: dict[str, str] = {}
    for line in info.stdout.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(": ")
        fields[key] = value
    message = Path(msg).read_bytes().decode("utf-8", "replace")
    patch_text = Path(patch).read_bytes()
    numstat = _run(["git", "apply", "--numstat", patch], cwd=workdir)
    pid = patch_id_of(patch_text) if patch_text.strip() else None
    # trailers of the commit git am would make: the subject is its first paragraph
    committed = os.path.join(workdir, "committed")
    Path(committed).write_bytes(fields.get("Subject", "").encode() + b"\n\n" + Path(msg).read_bytes())
    trailers = _run(["git", "interpret-trailers", "--parse", committed])
    return {
        "author": fields.get("Author", ""),
        "email": fields.get("Email", ""),
        "subject": fields.get("Subject", ""),
        "message": message,
        "patch": patch_text.decode("utf-8", "replace"),
        "numstat": numstat.stdout.decode("utf-8", "replace") if numstat.returncode == 0 else None,
        "trailers": trailers.stdout.decode("utf-8", "replace").splitlines(),
        "patch_id": pid,
    }


def patch_id_of(patch: bytes) -> str | None:
    """``git patch-id --stable`` of one patch text; when git splits the text into
    several patches (an embedded ``commit <sha>`` or ``From <sha>`` line), the first
    id it prints."""
    out = _run(["git", "patch-id", "--stable"], patch).stdout.split()
    return out[0].decode() if out else None


def corpus_oracle(mails: list[tuple[str, bytes]], workers: int = 4) -> dict[str, dict[str, Any]]:
    """git's view of every mail, in parallel: blob id → view (+ ``patch_id``)."""
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [os.path.join(tmp, str(i)) for i in range(workers)]
        for d in dirs:
            os.mkdir(d)

        def one(args: tuple[int, tuple[str, bytes]]) -> tuple[str, dict[str, Any]]:
            i, (oid, data) = args
            return oid, git_view(data, dirs[i % workers])

        # one scratch directory per worker: chunk the work so no two threads share one
        chunks = [[(i, m) for i, m in enumerate(mails) if i % workers == w] for w in range(workers)]
        views: dict[str, dict[str, Any]] = {}

        def run_chunk(chunk: list[tuple[int, tuple[str, bytes]]]) -> list[tuple[str, dict[str, Any]]]:
            return [one(item) for item in chunk]

        with ThreadPoolExecutor(workers) as pool:
            for results in pool.map(run_chunk, chunks):
                views.update(results)
    return views
