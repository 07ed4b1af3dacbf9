"""The trailer grammar on every real archive in ../shared/corpus.

Commit messages: every distinct patch mail (archive subject with a ``[… PATCH …]``
marker, not a reply; cover letters included) goes through ``git mailinfo`` so that
:func:`parse_trailers` sees exactly the commit message git sees, and the result is
compared with ``git interpret-trailers --parse`` on the same text: keys compared
case-insensitively, values exactly (both unfolded), and a split-off comment must
join back — git's value is our value, the marker (blanks, ``#`` or ``[``), our
comment.  At least 99.5 % of the mails must give identical trailer lists.

git is run in batches: one ``interpret-trailers --only-trailers --unfold --trailer
END`` over many files, which prints exactly what ``--parse`` prints for each file
followed by the ``END`` trailer (``--parse`` itself refuses ``--trailer``).  Every
``CHECK_EVERY``-th mail is also run through a plain ``--parse`` to prove the batch
prints the same.

Replies (archive subject ``Re: …``): :func:`find_reply_trailers` runs on the first
text/plain part of every one; it must never fail, never return a quoted line, and
stay fast.  The hand check of its results is in docs/trailers.md.

Work is spread over a process pool of two (the machines are small and shared).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import tempfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pygit2
import pytest

from patchtrack.trailers import Trailer, find_reply_trailers, parse_trailers

pytestmark = pytest.mark.corpus

TARGET = 0.995
CHUNK = 200  # mails per git batch
CHECK_EVERY = 25  # one mail in this many is also run through a plain --parse
WORKERS = 2

PATCH_SUBJECT = re.compile(r"^\s*\[[^\]]*\bPATCH\b", re.IGNORECASE)
REPLY_SUBJECT = re.compile(r"^\s*re\s*:", re.IGNORECASE)
END = "Patchtrack-Batch-End: 7f3a9c"
GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}


def _blob_ids(repo_path: Path) -> tuple[list[str], list[str]]:
    """(patch mails, replies) of one archive: blob ids, each blob once, oldest first."""
    repo = pygit2.Repository(str(repo_path))
    seen: set[str] = set()
    patches, replies = [], []
    for commit in repo.walk(repo.head.target, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE):
        if "m" not in commit.tree:
            continue
        oid = str(commit.tree["m"].id)
        if oid in seen:
            continue
        seen.add(oid)
        subject = commit.message.split("\n", 1)[0]
        if REPLY_SUBJECT.match(subject):
            replies.append(oid)
        elif PATCH_SUBJECT.match(subject):
            patches.append(oid)
    return patches, replies


def _git(args: list[str], cwd: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], input=data, capture_output=True, cwd=cwd, env=GIT_ENV)


def _split_pairs(lines: list[str]) -> list[tuple[str, str]]:
    return [(line.partition(": ")[0], line.partition(": ")[2]) for line in lines]


def _git_views(job: tuple[str, list[str], int]) -> list[tuple[str, str, list[tuple[str, str]], bool]]:
    """(oid, commit message, git's trailers, plain --parse agreed) per mail that
    ``git mailinfo`` accepts. Runs in a worker process."""
    repo_path, oids, first_index = job
    repo = pygit2.Repository(repo_path)
    done = []
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, oid in enumerate(oids):
            path = os.path.join(tmp, f"{i}.msg")
            if _git(["mailinfo", path, os.path.join(tmp, "patch")], tmp, repo[oid].data).returncode == 0:
                files.append((first_index + i, oid, path))
        if not files:
            return done
        out = _git(["interpret-trailers", "--only-trailers", "--unfold", "--trailer", END, *[f for _, _, f in files]], tmp)
        assert out.returncode == 0, out.stderr
        groups: list[list[str]] = [[]]
        for line in out.stdout.decode("utf-8", "surrogateescape").split("\n")[:-1]:
            if line == END:
                groups.append([])
            else:
                groups[-1].append(line)
        assert len(groups) == len(files) + 1 and not groups[-1]
        for (index, oid, path), lines in zip(files, groups):
            message = Path(path).read_bytes().decode("utf-8", "surrogateescape")
            same = True
            if index % CHECK_EVERY == 0:
                plain = _git(["interpret-trailers", "--parse", path], tmp).stdout.decode("utf-8", "surrogateescape")
                same = plain.split("\n")[:-1] == lines
            done.append((oid, message, _split_pairs(lines), same))
    return done


def _reply_text(data: bytes) -> str | None:
    """The first text/plain part, decoded (compat32: fast, and enough here)."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            continue
        if part.get_content_type() != "text/plain":
            return None
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            return None
        try:
            return payload.decode(part.get_content_charset() or "utf-8", "replace")
        except LookupError:
            return payload.decode("utf-8", "replace")
    return None


def _reply_texts(job: tuple[str, list[str]]) -> list[tuple[str, str]]:
    repo_path, oids = job
    repo = pygit2.Repository(repo_path)
    found = []
    for oid in oids:
        text = _reply_text(repo[oid].data)
        if text is not None:
            found.append((oid, text))
    return found


@pytest.fixture(scope="session")
def corpus_mails(corpus_name: str, corpus_repo: Path) -> dict[str, list]:
    """git's view of every patch mail and the text of every reply of one corpus."""
    patches, replies = _blob_ids(corpus_repo)
    path = str(corpus_repo)
    patch_jobs = [(path, patches[i : i + CHUNK], i) for i in range(0, len(patches), CHUNK)]
    reply_jobs = [(path, replies[i : i + 4 * CHUNK]) for i in range(0, len(replies), 4 * CHUNK)]
    with ProcessPoolExecutor(WORKERS) as pool:
        views = [v for chunk in pool.map(_git_views, patch_jobs) for v in chunk]
        texts = [t for chunk in pool.map(_reply_texts, reply_jobs) for t in chunk]
    return {"patches": patches, "views": views, "replies": replies, "texts": texts}


def _joins_to(trailer: Trailer, git_value: str) -> bool:
    if trailer.comment is None:
        return trailer.value == git_value
    blanks = r"[ \t\r\n]*"
    hashed = re.escape(trailer.value) + blanks + r"[ \t]#" + blanks + re.escape(trailer.comment)
    bracketed = re.escape(trailer.value) + blanks + r"\[" + blanks + re.escape(trailer.comment) + blanks + r"\]"
    return bool(re.fullmatch(hashed, git_value) or re.fullmatch(bracketed, git_value))


def _agrees(ours: tuple[Trailer, ...], theirs: list[tuple[str, str]]) -> bool:
    return len(ours) == len(theirs) and all(
        t.key.lower() == key.lower() and _joins_to(t, value) for t, (key, value) in zip(ours, theirs)
    )


def test_parse_trailers_agrees_with_git(corpus_name: str, corpus_mails: dict[str, list]) -> None:
    views = corpus_mails["views"]
    if not corpus_mails["patches"]:
        pytest.skip(f"{corpus_name}: no patch mails")
    assert len(views) >= 0.99 * len(corpus_mails["patches"]), "git mailinfo refused too many mails"
    assert all(same for *_, same in views), "the batched interpret-trailers differs from a plain --parse"

    disagree = []
    for oid, message, theirs, _ in views:
        ours = parse_trailers(message)
        if not _agrees(ours, theirs):
            disagree.append((oid, [(t.key, t.value, t.comment) for t in ours], theirs))
    rate = 1 - len(disagree) / len(views)
    assert rate >= TARGET, f"{corpus_name}: {rate:.3%} of {len(views)}; first: {disagree[:3]}"


def test_reply_trailers(corpus_name: str, corpus_mails: dict[str, list]) -> None:
    texts = corpus_mails["texts"]
    if not corpus_mails["replies"]:
        pytest.skip(f"{corpus_name}: no replies")
    assert len(texts) >= 0.99 * len(corpus_mails["replies"]), "too many replies without a text/plain part"
    kinds: Counter[str] = Counter()
    for oid, text in texts:
        found = find_reply_trailers(text)
        lines = set(text.replace("\r\n", "\n").split("\n"))
        for t in found:
            first = t.raw.split("\n", 1)[0]
            assert first in lines and not first.lstrip().startswith((">", "|")), (oid, t)
            assert t.key.lower().endswith("-by") or t.key in ("Cc", "Fixes", "Link", "Closes", "BugLink"), (oid, t)
            if t.key.lower().endswith("-by"):
                assert t.person is not None, (oid, t)
            kinds[t.key] += 1
    if len(texts) > 1000:
        assert kinds["Reviewed-by"] + kinds["Acked-by"] > 0
