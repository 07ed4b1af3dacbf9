"""Fixture builders (not tests): mirrors of many lists laid out as lore mirrors are.

From the session's corpus clones (``conftest.corpus_clones``, cloned from the bundles
in ``../shared/corpus``), each repository cloned with ``--shared`` (its objects read
through alternates: no copy, fast):

* :func:`grokmirror_mirror`: ``<root>/<list>/git/0.git`` with ``all.git`` beside,
  as grokmirror writes lore;
* :func:`clone_mirror`: ``<root>/<list>.vger.kernel.org.0.git``, as per-list clones;
* :func:`split_epochs`: one list's epoch cut in two at a commit, ``git/0.git`` and
  ``git/1.git``, the way public-inbox rolls over epochs.

And from mails (no corpus): :func:`small_lists` writes a few small inboxes with
:func:`patchtrack.builder.build_inbox`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pygit2

from patchtrack.builder import build_inbox

_PARENT = re.compile(rb"^parent [0-9a-f]{40}\n", re.MULTILINE)


def short_name(corpus: str) -> str:
    """The list a corpus holds, by lore's short name: ``linux-pwm.vger.kernel.org.0`` → ``linux-pwm``."""
    return corpus.partition(".")[0]


def _git(*args: str, cwd: str | os.PathLike[str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def shared_clone(source: Path, dest: Path) -> Path:
    """A bare clone of ``source`` at ``dest`` reading ``source``'s objects through
    alternates (``git clone --shared``): refs of its own, nothing copied."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _git("clone", "--bare", "--quiet", "--shared", str(source), str(dest))
    return dest


def write_all_git(inbox: Path) -> None:
    """``all.git`` beside ``git/``, its alternates every epoch, as public-inbox keeps it."""
    all_git = inbox / "all.git"
    pygit2.init_repository(str(all_git), bare=True, initial_head="master")
    epochs = sorted((inbox / "git").glob("*.git"), key=lambda p: int(p.name.removesuffix(".git")))
    (all_git / "objects" / "info" / "alternates").write_text(
        "".join(f"../../git/{p.name}/objects\n" for p in epochs)
    )


def grokmirror_mirror(clones: Mapping[str, Path], root: Path, *, nest: str = "") -> Path:
    """``<root>/[nest/]<list>/git/0.git`` (and ``all.git``) for every corpus in
    ``clones`` (corpus name → bare clone). Returns ``root``."""
    for corpus, clone in clones.items():
        inbox = root / nest / short_name(corpus) if nest else root / short_name(corpus)
        shared_clone(clone, inbox / "git" / "0.git")
        write_all_git(inbox)
    return root


def clone_mirror(clones: Mapping[str, Path], root: Path) -> Path:
    """``<root>/<corpus>.git`` (``linux-pwm.vger.kernel.org.0.git``) for every corpus."""
    for corpus, clone in clones.items():
        shared_clone(clone, root / f"{corpus}.git")
    return root


def first_parent_commits(repo: Path) -> list[str]:
    """Every commit of ``repo``'s HEAD, oldest first (an epoch's history is linear)."""
    return _git("rev-list", "--reverse", "--first-parent", "HEAD", cwd=repo).split()


def replay(source: Path, commits: Sequence[str], dest: Path) -> str:
    """Write ``commits`` of ``source`` into ``dest`` (which reads ``source``'s objects
    through alternates) as a new linear history whose first commit is a root: each
    commit's raw object unchanged but for its parent line (authors, committers, times,
    encodings, messages and trees identical). Points ``master`` at the last; returns it."""
    origin = pygit2.Repository(str(source))
    repo = pygit2.Repository(str(dest))
    parent: str | None = None
    for commit in commits:
        raw = origin.odb.read(commit)[1]
        head, sep, body = raw.partition(b"\n\n")  # parent lines live in the header only
        if len(_PARENT.findall(head + b"\n")) > 1:
            raise ValueError(f"{commit}: a merge, not the linear history of an epoch")
        head = _PARENT.sub(b"", head + b"\n")[:-1]
        if parent is not None:
            tree_line, _, rest = head.partition(b"\n")
            head = tree_line + b"\nparent " + parent.encode() + b"\n" + rest
        parent = str(repo.odb.write(pygit2.enums.ObjectType.COMMIT, head + sep + body))
    assert parent is not None, "no commit to replay"
    repo.references.create("refs/heads/master", parent, force=True)
    return parent


def split_epochs(clone: Path, inbox: Path, at: int | None = None) -> tuple[str, str]:
    """The v2 inbox ``inbox`` with ``clone``'s history cut in two epochs after commit
    number ``at`` (oldest first, counted from 1; the middle by default): ``git/0.git``
    ends at that commit (its id unchanged), ``git/1.git`` starts with a root commit
    holding the next mail, as public-inbox starts a new epoch. Returns the two tips."""
    commits = first_parent_commits(clone)
    cut = len(commits) // 2 if at is None else at
    if not 0 < cut < len(commits):
        raise ValueError(f"cannot cut {len(commits)} commits after {cut}")
    first = shared_clone(clone, inbox / "git" / "0.git")
    _git("update-ref", "refs/heads/master", commits[cut - 1], cwd=first)
    second = shared_clone(clone, inbox / "git" / "1.git")
    tip = replay(clone, commits[cut:], second)
    write_all_git(inbox)
    return commits[cut - 1], tip


def small_lists(mails: Sequence[bytes], lists: Mapping[str, Iterable[int]], root: Path) -> dict[str, Path]:
    """One v2 inbox ``<root>/<list>/`` per entry of ``lists`` (list → indexes of
    ``mails`` it carries, in order): a small mirror for tests without a corpus."""
    built = {}
    for name, indexes in lists.items():
        built[name] = build_inbox([mails[i] for i in indexes], root / name)
    return built


_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
_BRACKETED = re.compile(rb"<\s*([^<>\s]+)\s*>")


def header_message_id(raw: bytes) -> str:
    """The first ``Message-ID:`` of a mail's header, read here with a regular
    expression (not patchtrack's parser): the id in the first ``<…>``, or the bare
    value's first word; ``""`` when the header is missing or empty."""
    header = _HEADER_END.split(raw, maxsplit=1)[0]
    found = _MESSAGE_ID.search(header)
    if found is None:
        return ""
    value = found[1]
    if bracketed := _BRACKETED.search(value):
        return bracketed[1].decode("utf-8", "replace")
    words = value.split()
    return words[0].strip(b"<>").decode("utf-8", "replace") if words else ""


def stored_mails(repo: Path) -> list[tuple[str, str, str]]:
    """(commit, blob, Message-ID) of every commit holding ``m`` in ``repo``'s
    history, oldest first: ``git log`` for the commits, ``git cat-file --batch`` for
    the bytes, :func:`header_message_id` for the id."""
    commits = _git("log", "--reverse", "--first-parent", "--format=%H", "HEAD", cwd=repo).split()
    out = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=repo, check=True, capture_output=True,
        input="".join(f"{c}:m\n" for c in commits).encode(),
    ).stdout
    found = []
    at = 0
    for commit in commits:
        line_end = out.index(b"\n", at)
        fields = out[at:line_end].split()
        at = line_end + 1
        if len(fields) == 2 and fields[1] == b"missing":
            continue  # a removal ('d') or an empty purge commit
        blob, kind, size = fields[0].decode(), fields[1], int(fields[2])
        data = out[at:at + size]
        at += size + 1
        if kind == b"blob":
            found.append((commit, blob, header_message_id(data)))
    return found


def union_count(lists: Mapping[str, Sequence[tuple[str, str, str]]]) -> int:
    """How many distinct mails the lists hold together: for each Message-ID, the
    most copies (distinct blobs) any one list holds — two different mails with one
    id on one list (a resend) are two mails, the same mail on two lists one — and
    every mail without a Message-ID once per distinct blob."""
    most: dict[str, int] = {}
    nameless: set[str] = set()
    for mails in lists.values():
        copies: dict[str, set[str]] = {}
        for _commit, blob, msgid in mails:
            if msgid:
                copies.setdefault(msgid, set()).add(blob)
            else:
                nameless.add(blob)
        for msgid, blobs in copies.items():
            most[msgid] = max(most.get(msgid, 0), len(blobs))
    return sum(most.values()) + len(nameless)
