"""The walk: commits of an archive, in order, turned into :class:`RawMessage` records.

A v2 epoch stores one mail per commit (blob ``m``, or ``d`` for a removal); a v1
archive keeps every mail in one tree and each commit adds or deletes a path. Both
yield the same records. The reading loop is the hot path of every later stage, so it
touches as few pygit2 objects as it can and filters on commit time before reading
any blob.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

import attrs
import pygit2

from ._revs import Segment

__all__ = ["RawMessage", "WalkStats", "Walk", "Ref", "raw_from", "raw_message", "stored_at", "read_stored"]

_ORDER = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
_ADDED = (pygit2.enums.DeltaStatus.ADDED, pygit2.enums.DeltaStatus.MODIFIED)
_DELETED = pygit2.enums.DeltaStatus.DELETED
_V2_NAMES = b"md"  # a v2 commit's one file: "m" a mail, "d" a removal


@attrs.frozen
class RawMessage:
    """One stored mail, exactly as the archive holds it.

    ``time`` is the commit time: when the mail arrived at the archive (its ``Date:``
    header is the next stage's business). ``deleted`` marks a removal commit (``d``
    in v2, a deleted path in v1); ``data`` is then the mail that was removed.
    """

    oid: str
    commit: str
    epoch: int
    time: datetime
    data: bytes = attrs.field(repr=False)
    deleted: bool = False

    @property
    def size(self) -> int:
        """Length of the raw mail in bytes."""
        return len(self.data)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready fields (the raw bytes left out, ``size`` in)."""
        return {
            "oid": self.oid,
            "commit": self.commit,
            "epoch": self.epoch,
            "time": self.time.isoformat(),
            "size": self.size,
            "deleted": self.deleted,
        }


@attrs.frozen
class WalkStats:
    """What a walk saw besides the messages it yielded.

    ``commits`` counts every commit in the range; each ends up in exactly one of
    ``messages`` (mails yielded), ``removals`` (removals yielded), ``duplicates``
    (a blob already yielded by this walk, delivered again), ``skipped`` (no ``m`` or
    ``d``: purge artefacts) or ``filtered`` (outside ``since``/``until``).
    """

    commits: int = 0
    messages: int = 0
    removals: int = 0
    duplicates: int = 0
    skipped: int = 0
    filtered: int = 0


EpochLookup = Callable[[int], pygit2.Repository]


class Readable(Protocol):
    """A blob to read: a :class:`pygit2.Blob`, or a v2 mail not read yet."""

    @property
    def data(self) -> bytes: ...

    @property
    def size(self) -> int: ...


_Found = tuple[pygit2.Oid, Readable, bool]  # blob id, blob, is a removal
Ref = tuple[pygit2.Oid, Readable, str, int, int, bool]
"""A record not yet read: blob id, blob (``.data`` reads it), commit id, epoch,
commit time (seconds since the epoch), removal."""


class Walk(Iterator[RawMessage]):
    """An iterator over the messages of a planned range, with its bookkeeping.

    Made by :meth:`patchtrack.Inbox.walk`, which has already resolved the range (so
    a bad revision raises there, not at the first ``next``). ``plan`` and ``notes``
    say what is walked and why it differs from what was asked; ``stats`` counts what
    was seen so far.
    """

    def __init__(
        self,
        repo_of: EpochLookup,
        plan: Sequence[Segment],
        *,
        layout: str,
        since: float | None = None,
        until: float | None = None,
        dedupe: bool = True,
    ) -> None:
        self.plan: tuple[Segment, ...] = tuple(plan)
        self.window: tuple[float | None, float | None] = (since, until)
        """The arrival-time bounds (seconds since the epoch, inclusive) or ``None``."""
        self.notes: tuple[str, ...] = tuple(s.note for s in self.plan if s.note)
        self._counts = dict.fromkeys(attrs.fields_dict(WalkStats), 0)
        self._present: set[pygit2.Oid] | None = set() if dedupe else None
        self._refs_it: Iterator[Ref] | None = self._refs(repo_of, layout, since, until)
        self._it = self._run()

    @property
    def stats(self) -> WalkStats:
        """Counts so far (final once the iterator is exhausted)."""
        return WalkStats(**self._counts)

    def __iter__(self) -> Iterator[RawMessage]:
        return self._it  # the generator itself: no extra call per message

    def __next__(self) -> RawMessage:
        return next(self._it)

    def _run(self) -> Iterator[RawMessage]:
        # a generator: the refs are taken at the first ``next``, so ``refs()`` stays
        # available until the walk is iterated
        yield from map(raw_message, self.refs())

    def refs(self) -> Iterator[Ref]:
        """The same walk without reading any mail: one :data:`Ref` per record.

        For readers that may not need the bytes (the cache knows the mail by its
        blob id): ``ref[1].data`` reads them. Use either this or iteration, not both:
        they share the walk and its counts.
        """
        if self._refs_it is None:
            raise RuntimeError("this walk is already being iterated")
        it, self._refs_it = self._refs_it, None
        return it

    def _refs(
        self,
        repo_of: EpochLookup,
        layout: str,
        since: float | None,
        until: float | None,
    ) -> Iterator[Ref]:
        # The hot loop of the whole library: v2 reading is inlined, and each commit
        # is tested against the time window before its tree is read. No blob is
        # read here: callers read ``blob.data`` when they need the bytes.
        counts = self._counts
        present = self._present
        for segment in self.plan:
            repo = repo_of(segment.epoch)
            objects = _Objects(repo.odb, repo.path)
            walker = repo.walk(segment.tip, _ORDER)
            for hidden in segment.hide:
                walker.hide(hidden)
            epoch = segment.epoch
            for commit in walker:
                counts["commits"] += 1
                when = commit.commit_time
                if (since is not None and when < since) or (until is not None and when > until):
                    counts["filtered"] += 1
                    continue
                found = _read_v1(repo, commit) if layout == "v1" else _read_v2(objects, objects.read(commit.tree_id))
                if not found:
                    counts["skipped"] += 1
                for oid, blob, deleted in found:
                    if deleted:
                        if present is not None:
                            present.discard(oid)
                        counts["removals"] += 1
                    elif present is not None and oid in present:
                        counts["duplicates"] += 1
                        continue
                    else:
                        if present is not None:
                            present.add(oid)
                        counts["messages"] += 1
                    yield oid, blob, str(commit.id), epoch, when, deleted


def raw_message(ref: Ref) -> RawMessage:
    """The :class:`RawMessage` of a reference from :meth:`Walk.refs` (reads the mail)."""
    oid, blob, commit, epoch, when, deleted = ref
    return raw_from(str(oid), commit, epoch, when, blob.data, deleted)


def raw_from(oid: str, commit: str, epoch: int, when: int, data: bytes, deleted: bool = False) -> RawMessage:
    """A :class:`RawMessage` from plain values, ``when`` in seconds since the epoch."""
    return RawMessage(oid, commit, epoch, datetime.fromtimestamp(when, timezone.utc), data, deleted)


class _Objects:
    """Raw objects of one epoch, read from its storage backends (packs, then loose
    objects) the way ``git cat-file`` reads them.

    libgit2's object database hashes every object it reads again to check its id
    (``GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION``): ~25 µs of the ~60 µs a kernel
    mail takes, for a check git leaves to ``git fsck``. Its backends read without
    it, and only the process-wide option would switch it off. The pack backend
    looks for packs written since the archive was opened; an object no backend
    finds goes to the object database, which raises what it always raised.
    """

    __slots__ = ("_odb", "_backends", "path")

    def __init__(self, odb: pygit2.Odb, path: str) -> None:
        self._odb = odb
        self._backends = tuple(odb.backends)
        self.path = path
        """The epoch's git directory, where another process can read the same objects."""

    def read(self, oid: pygit2.Oid) -> bytes:
        for backend in self._backends:
            try:
                found = backend.read(oid)
            except KeyError:
                continue
            if found is not NotImplemented:  # a backend that cannot read
                return found[1]  # type: ignore[no-any-return]
        return self._odb.read(oid)[1]  # type: ignore[no-any-return]


class _Stored:
    """A blob not read yet: ``data`` reads it from the epoch's storage."""

    __slots__ = ("_objects", "_oid")

    def __init__(self, objects: _Objects, oid: pygit2.Oid) -> None:
        self._objects = objects
        self._oid = oid

    @property
    def data(self) -> bytes:
        return self._objects.read(self._oid)

    @property
    def size(self) -> int:
        # pygit2 reads the whole object for Blob.size too; Odb.read_header is 1.20+
        return len(self.data)


def stored_at(blob: Readable) -> str | None:
    """The git directory a mail not read yet is stored in (see :func:`read_stored`),
    or ``None`` for a blob that is not read from an epoch's storage (v1)."""
    return blob._objects.path if isinstance(blob, _Stored) else None


_OPENED: dict[str, _Objects] = {}
_OPENED_BY = 0  # the process that opened them: a forked child opens its own


def read_stored(path: str, oid: str) -> bytes:
    """The mail ``oid`` from the epoch in git directory ``path``, read as the walk
    reads it; for a worker process, which keeps the epochs it opened for its next
    chunks instead of opening the archive once a chunk."""
    global _OPENED_BY
    if _OPENED_BY != os.getpid():
        _OPENED.clear()  # libgit2 handles are not shared across a fork
        _OPENED_BY = os.getpid()
    objects = _OPENED.get(path)
    if objects is None:
        repo = pygit2.Repository(path, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        objects = _OPENED[path] = _Objects(repo.odb, path)
    return objects.read(pygit2.Oid(hex=oid))


def _read_v2(objects: _Objects, tree: bytes) -> list[_Found]:
    """The ``m`` (mail) or ``d`` (removal) blob of a v2 commit, from its tree's raw
    bytes: a single ``<mode> <name>\\0<20-byte id>`` entry. Trees and blobs are read
    as raw bytes, not as objects: libgit2 caches objects, and a walk reads each tree
    once, so the cache would only grow (~0.5 KB a mail)."""
    space = tree.find(b" ")
    nul = tree.find(b"\0", space)
    if nul != len(tree) - 21 or nul != space + 2 or tree[space + 1] not in _V2_NAMES:
        return []
    mode = tree[:space]
    if not (mode.startswith(b"10") or mode == b"120000"):  # a blob (file or link), as git reads modes
        return []
    oid = pygit2.Oid(raw=tree[nul + 1 :])
    return [(oid, _Stored(objects, oid), tree[space + 1] == _V2_NAMES[1])]


def _read_v1(repo: pygit2.Repository, commit: pygit2.Commit) -> list[_Found]:
    """The paths a v1 (ssoma) commit added or deleted, in path order."""
    parents = commit.parents
    if parents:
        diff = parents[0].tree.diff_to_tree(commit.tree)
    else:
        diff = commit.tree.diff_to_tree(swap=True)
    found: list[_Found] = []
    for delta in diff.deltas:
        if delta.status in _ADDED:
            found.append((delta.new_file.id, repo[delta.new_file.id], False))
        elif delta.status == _DELETED:
            found.append((delta.old_file.id, repo[delta.old_file.id], True))
    return found
