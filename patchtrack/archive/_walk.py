"""The walk: commits of an archive, in order, turned into :class:`RawMessage` records.

A v2 epoch stores one mail per commit (blob ``m``, or ``d`` for a removal); a v1
archive keeps every mail in one tree and each commit adds or deletes a path. Both
yield the same records. The reading loop is the hot path of every later stage, so it
touches as few pygit2 objects as it can and filters on commit time before reading
any blob.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, cast

import attrs
import pygit2

from ._revs import Segment
from ..errors import UnreadableError
from ..vocab import Layout
from ._git import GIT_ERRORS, git_message, unreadable

__all__ = [
    "RawMessage", "Delivery", "WalkStats", "Walk", "Ref", "Unreadable", "Damage", "EpochSpan", "Coverage", "spans_of",
    "raw_from", "raw_message", "stored_at", "Held", "read_stored", "report_unreadable",
]

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
    ``list`` names the list in a walk of many (:meth:`patchtrack.Archive.walk`).
    """

    oid: str
    commit: str
    epoch: int
    time: datetime
    data: bytes = attrs.field(repr=False)
    deleted: bool = False
    list: str | None = None

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
            **({"list": self.list} if self.list is not None else {}),
        }


@attrs.frozen
class Delivery:
    """Where and when a mail arrived: the ``list`` (its name in an archive of many
    lists), the ``epoch`` and ``commit`` that stored it, the commit ``time`` (UTC),
    and the blob ``oid`` that list stored — lists add their own ``List-*`` headers
    and footers, so the copies of one mail are different blobs."""

    list: str
    epoch: int
    commit: str
    time: datetime
    oid: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the time in ISO 8601, UTC)."""
        return {"list": self.list, "epoch": self.epoch, "commit": self.commit, "time": self.time.isoformat(), "oid": self.oid}


@attrs.frozen
class WalkStats:
    """What a walk saw besides the messages it yielded.

    ``commits`` counts every commit in the range; each ends up in exactly one of
    ``messages`` (mails yielded), ``removals`` (removals yielded), ``duplicates``
    (a blob already yielded by this walk, delivered again), ``skipped`` (no ``m`` or
    ``d``: purge artefacts), ``filtered`` (outside ``since``/``until``) or
    ``unreadable`` (its tree or blob is missing or corrupt: named in
    :attr:`Walk.unreadable`). A corrupt blob is found when it is read, so it moves
    from ``messages`` (or ``removals``) to ``unreadable`` then.
    """

    commits: int = 0
    messages: int = 0
    removals: int = 0
    duplicates: int = 0
    skipped: int = 0
    filtered: int = 0
    unreadable: int = 0


@attrs.frozen
class Unreadable:
    """A stored mail a walk could not read: one per count in ``WalkStats.unreadable``.

    ``oid`` is the object that could not be read — the mail's blob, or the commit's
    tree when that is what failed (the mail's blob id is then unknown). ``reason`` is
    ``missing-blob``, ``corrupt-blob``, ``missing-tree`` or ``corrupt-tree``;
    ``detail`` is libgit2's message for a corrupt object."""

    epoch: int
    commit: str
    oid: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason} {self.oid} (epoch {self.epoch}, commit {self.commit[:12]})"


@attrs.frozen
class Damage:
    """A part of an archive a walk could not reach: an epoch whose refs or objects
    cannot be read, or history cut by a missing or corrupt commit (``commit``). Its
    mail is not in the walk; ``reason`` says why and how much."""

    epoch: int
    path: str
    reason: str
    commit: str | None = None

    def __str__(self) -> str:
        return f"epoch {self.epoch} ({self.path}): {self.reason}"


@attrs.frozen
class EpochSpan:
    """The mail one epoch gave a selection: ``first`` and ``last`` are the commits
    (full ids, oldest and newest) that delivered its first and last mail there, and
    ``mails`` how many mails it delivered (removals not counted)."""

    epoch: int
    first: str
    last: str
    mails: int


def spans_of(where: Mapping[str, tuple[str, int, int]], chosen: Collection[str] | None = None) -> tuple[EpochSpan, ...]:
    """The :class:`EpochSpan` of the mails ``chosen`` (blob ids; ``None``: all) of
    ``where`` (blob id → delivering commit, epoch, arrival; in walk order)."""
    found: dict[int, list[Any]] = {}
    for oid, (commit, epoch, _) in where.items():
        if chosen is not None and oid not in chosen:
            continue
        span = found.get(epoch)
        if span is None:
            found[epoch] = [commit, commit, 1]
        else:
            span[1] = commit
            span[2] += 1
    return tuple(EpochSpan(n, first, last, count) for n, (first, last, count) in found.items())


def short(commit: str) -> str:
    """A commit id as the reports write it: 9 hex digits, like the reference's
    ``ed37f1cc5`` (an epoch of a million mails needs 7 to be unambiguous)."""
    return commit[:9]


def utc(seconds: float | None) -> datetime | None:
    """POSIX seconds as an aware UTC datetime (``None`` stays ``None``)."""
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)


@attrs.frozen
class Coverage:
    """What a walk covered, resolved: never the revisions or dates as they were typed.

    ``spans`` are the epochs it took mail from, in order (empty: it took none).
    ``after`` names, per epoch, the commit it started after (the ``A`` of ``A..B``,
    a cursor's tip); ``tips``, per epoch, the commit it went up to — read before the
    walk began, so they are the cursor that continues it exactly (mail arriving
    during the walk is after them). ``since``/``until`` are the bounds (inclusive)
    and ``by`` what they compare: ``arrival`` (commit time) or ``date`` (``Date:``).
    ``cursor`` says the walk was asked for mail after a cursor."""

    spans: tuple[EpochSpan, ...]
    after: tuple[tuple[int, str], ...] = ()
    tips: tuple[tuple[int, str], ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    by: str = "arrival"
    cursor: bool = False
    lists: tuple[tuple[str, Coverage], ...] = ()
    """Of an archive of many lists (:class:`patchtrack.Archive`): each selected
    list's own coverage, by name. For one list the fields above are its own too;
    for several, ``spans``, ``after`` and ``tips`` are empty."""

    @property
    def start(self) -> str | None:
        """The commit that delivered the first mail (full id), or ``None``: no mail
        (or several lists: see ``lists``)."""
        return self.spans[0].first if self.spans else None

    @property
    def end(self) -> str | None:
        """The commit that delivered the last mail (full id), or ``None``: no mail
        (or several lists)."""
        return self.spans[-1].last if self.spans else None

    @property
    def mails(self) -> int:
        """How many deliveries the selection holds (removals not counted): of
        several lists, a mail each list carried counts in each."""
        return sum(c.mails for _, c in self.lists) if self.lists else sum(s.mails for s in self.spans)

    def words(self) -> str:
        """The range in words, as a report's title gives it: ``from ed37f1cc5 to
        131572024``, per epoch when there are several (``from … to … in epoch 0,
        … in epoch 1``), then the date window and the cursor; or what was empty.
        Of several lists, each list's range after its name (``in linux-pwm from …
        to …; in linux-gpio from … to …``), then the window."""
        if len(self.lists) > 1:
            parts = [f"in {name} {attrs.evolve(c, since=None, until=None).words()}" for name, c in self.lists]
            extra = self.filters()
            return "; ".join(parts) + (f" ({extra})" if extra else "")
        if len(self.spans) == 1:
            text = f"from {short(self.spans[0].first)} to {short(self.spans[0].last)}"
        elif self.spans:
            text = "from " + ", ".join(
                f"{short(s.first)} to {short(s.last)} in epoch {s.epoch}" for s in self.spans
            )
        else:
            text = "with no mail"
        extra = self.filters()
        if not self.spans and not self.cursor and self.tips:
            ends = ", ".join(short(c) for _, c in self.tips)
            starts = ", ".join(short(c) for _, c in self.after)
            where = f"after {starts} up to {ends}" if starts else f"up to {ends}"
            extra = f"{extra}; {where}" if extra else where
        return f"{text} ({extra})" if extra else text

    def filters(self) -> str:
        """The window and the cursor in words (``arrived after the saved tips
        0a1b2c3d4; arrived 2025-01-01 00:00 to 2025-01-31 23:59:59 UTC``), or ``""``."""
        parts = []
        if self.cursor and len(self.lists) < 2:  # several lists: each list's words say it
            saved = ", ".join(short(c) for _, c in self.after)
            parts.append(f"arrived after the saved tips {saved}" if saved else "arrived since no saved tips: all of it")
        if self.since or self.until:
            what = "arrived" if self.by == "arrival" else "with a Date: header"
            if self.since and self.until:
                parts.append(f"{what} from {_when(self.since)} to {_when(self.until)}")
            elif self.since:
                parts.append(f"{what} since {_when(self.since)}")
            elif self.until:
                parts.append(f"{what} up to {_when(self.until)}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields: full commit ids, ISO dates in UTC."""
        return {
            "start": self.start,
            "end": self.end,
            "epochs": [attrs.asdict(s) for s in self.spans],
            "after": {str(n): c for n, c in self.after},
            "tips": {str(n): c for n, c in self.tips},
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "by": self.by,
            "cursor": self.cursor,
            **({"lists": {name: c.to_dict() for name, c in self.lists}} if self.lists else {}),
        }


def _when(moment: datetime) -> str:
    text = moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return text.removesuffix(":00") + " UTC"


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
    was seen so far. A damaged archive never raises here: ``unreadable`` names the
    mails that could not be read, ``damage`` the parts that could not be reached.
    """

    def __init__(
        self,
        repo_of: EpochLookup,
        plan: Sequence[Segment],
        *,
        layout: Layout,
        since: float | None = None,
        until: float | None = None,
        dedupe: bool = True,
        paths: Mapping[int, str] | None = None,
        cursor: bool = False,
    ) -> None:
        self.plan: tuple[Segment, ...] = tuple(plan)
        self._cursor = cursor
        self._spans: list[EpochSpan] = []
        self.window: tuple[float | None, float | None] = (since, until)
        """The arrival-time bounds (seconds since the epoch, inclusive) or ``None``."""
        self.notes: tuple[str, ...] = tuple(s.note for s in self.plan if s.note)
        self._counts = dict.fromkeys(attrs.fields_dict(WalkStats), 0)
        self._present: set[pygit2.Oid] | None = set() if dedupe else None
        self._repeats: list[tuple[int, str, str, int]] = []
        self._unreadable: list[Unreadable] = []
        self._failed: set[tuple[str, str]] = set()  # (commit, oid) moved to unreadable when read
        self._paths: Mapping[int, str] = paths or {}
        self._damage: list[Damage] = [Damage(s.epoch, self._path(s.epoch), s.damage) for s in self.plan if s.damage]
        self._refs_it: Iterator[Ref] | None = self._refs(repo_of, layout, since, until)
        self._it = self._run()

    def _path(self, epoch: int, repo: pygit2.Repository | None = None) -> str:
        return self._paths.get(epoch) or (repo.path.rstrip("/") if repo is not None else "?")

    def repeats(self) -> list[tuple[int, str, str, int]]:
        """The deliveries passed over since the last call as a blob the walk had
        yielded already (counted in ``stats.duplicates``): epoch, commit, blob id,
        arrival. A walk of a narrower window yields such a delivery when the first
        one is outside it: a store keeps them to answer windows as a walk would."""
        found, self._repeats = self._repeats, []
        return found

    @property
    def stats(self) -> WalkStats:
        """Counts so far (final once the iterator is exhausted)."""
        return WalkStats(**self._counts)

    @property
    def coverage(self) -> Coverage:
        """The range resolved: in each epoch the first and last commit that delivered
        a mail the walk yielded (within its arrival window), the commits the walk
        starts after and goes up to, the window. The spans are final once the
        iterator is exhausted; ``after``, ``tips`` and the window are known at once."""
        since, until = self.window
        return Coverage(
            spans=tuple(self._spans),
            after=tuple((s.epoch, s.hide[0]) for s in self.plan if s.hide and not s.damage),
            tips=tuple((s.epoch, s.tip) for s in self.plan if s.tip and not s.damage),
            since=utc(since),
            until=utc(until),
            cursor=self._cursor,
        )

    @property
    def unreadable(self) -> tuple[Unreadable, ...]:
        """The mails that could not be read so far, in the order found: one per
        ``stats.unreadable``."""
        return tuple(self._unreadable)

    @property
    def damage(self) -> tuple[Damage, ...]:
        """The parts of the archive this walk could not reach (known once the
        iterator is exhausted; an unreadable epoch is known at once)."""
        return tuple(self._damage)

    def __iter__(self) -> Iterator[RawMessage]:
        return self._it  # the generator itself: no extra call per message

    def __next__(self) -> RawMessage:
        return next(self._it)

    def _run(self) -> Iterator[RawMessage]:
        # a generator: the refs are taken at the first ``next``, so ``refs()`` stays
        # available until the walk is iterated
        for ref in self.refs():
            blob = ref[1]
            if blob.__class__ is _Missing:
                continue  # counted by the walk: there are no bytes to yield
            try:
                data = blob.data
            except UnreadableError as exc:
                self._fail(ref, exc)
                continue
            yield raw_from(str(ref[0]), ref[2], ref[3], ref[4], data, ref[5])

    def _fail(self, ref: Ref, exc: UnreadableError) -> None:
        """``ref``, counted as a message or removal, turned out unreadable when read."""
        key = (ref[2], str(ref[0]))
        if key in self._failed:
            return
        self._failed.add(key)
        self._counts["removals" if ref[5] else "messages"] -= 1
        self._counts["unreadable"] += 1
        self._unreadable.append(Unreadable(ref[3], ref[2], exc.oid, exc.reason, exc.detail))

    def refs(self) -> Iterator[Ref]:
        """The same walk without reading any mail: one :data:`Ref` per record.

        For readers that may not need the bytes (the cache knows the mail by its
        blob id): ``ref[1].data`` reads them, and raises
        :class:`~patchtrack.errors.UnreadableError` when they cannot be read (pass
        the reference and the error to :func:`report_unreadable` to count it).
        A mail whose blob or tree the walk found missing or unreadable is yielded
        too, already counted in ``stats.unreadable``: its ``ref[1].data`` raises,
        its ``size`` is 0, and a commit whose tree could not be read has the tree's
        id as ``ref[0]``. Use either this or iteration, not both: they share the
        walk and its counts.
        """
        if self._refs_it is None:
            raise RuntimeError("this walk is already being iterated")
        it, self._refs_it = self._refs_it, None
        return it

    def _refs(
        self,
        repo_of: EpochLookup,
        layout: Layout,
        since: float | None,
        until: float | None,
    ) -> Iterator[Ref]:
        # The hot loop of the whole library: v2 reading is inlined, and each commit
        # is tested against the time window before its tree is read. No blob is
        # read here: callers read ``blob.data`` when they need the bytes.
        counts = self._counts
        present = self._present
        missing = self._unreadable
        for segment in self.plan:
            if segment.damage:
                continue  # in self._damage already
            epoch = segment.epoch
            repo = repo_of(epoch)
            objects = _Objects(repo.odb, repo.path, self._fail)
            commit = None
            first = last = ""
            mails = 0
            try:
                for commit in self._commits(repo, segment):
                    counts["commits"] += 1
                    when = commit.commit_time
                    if (since is not None and when < since) or (until is not None and when > until):
                        counts["filtered"] += 1
                        continue
                    commit_id = str(commit.id)
                    try:
                        found = _read_v1(repo, commit) if layout is Layout.V1 else _read_v2(objects, commit.tree_id)
                    except UnreadableError as exc:  # the tree: which blob it names is unknown
                        found = [(pygit2.Oid(hex=exc.oid), _Missing(exc), False)]
                    if not found:
                        counts["skipped"] += 1
                    for oid, blob, deleted in found:
                        if blob.__class__ is _Missing:
                            if present is not None and not blob.tree:  # a tree's id is no mail's
                                if deleted:
                                    present.discard(oid)
                                elif oid in present:
                                    counts["duplicates"] += 1
                                    self._repeats.append((epoch, commit_id, str(oid), when))
                                    continue
                                else:
                                    present.add(oid)
                            counts["unreadable"] += 1
                            missing.append(blob.record(epoch, commit_id, oid))
                        elif deleted:
                            if present is not None:
                                present.discard(oid)
                            counts["removals"] += 1
                        elif present is not None and oid in present:
                            counts["duplicates"] += 1
                            self._repeats.append((epoch, commit_id, str(oid), when))
                            continue
                        else:
                            if present is not None:
                                present.add(oid)
                            counts["messages"] += 1
                        if not deleted:
                            first = first or commit_id
                            last = commit_id
                            mails += 1
                        yield oid, blob, commit_id, epoch, when, deleted
            except GIT_ERRORS as exc:  # the revision walk itself failed part-way
                where = f"after commit {str(commit.id)[:12]}" if commit is not None else "at its start"
                self._damage.append(Damage(epoch, self._path(epoch, repo), f"the walk stopped {where}: {git_message(exc)}"))
            finally:
                if mails:
                    self._spans.append(EpochSpan(epoch, first, last, mails))

    def _commits(self, repo: pygit2.Repository, segment: Segment) -> Iterable[pygit2.Commit]:
        """The commits of ``segment``, oldest first.

        libgit2 sorts a walk before it yields anything, so a missing or corrupt
        commit anywhere in the history (hidden part included) fails the whole walk
        at its first step. Then the epoch is walked again by hand, from the tip down
        its first parents to the damage, and the cut is recorded in ``damage``:
        the mail after it is read (public-inbox history is linear)."""
        try:
            walker = repo.walk(segment.tip, _ORDER)
            for hidden in segment.hide:
                walker.hide(hidden)
            first = next(walker, None)
        except GIT_ERRORS:
            return self._first_parents(repo, segment)
        return () if first is None else itertools.chain((first,), walker)

    def _first_parents(self, repo: pygit2.Repository, segment: Segment) -> Iterator[pygit2.Commit]:
        hide = set(segment.hide)
        chain: list[pygit2.Oid] = []  # ids, not commits: an epoch can hold a million
        oid = pygit2.Oid(hex=segment.tip)
        while str(oid) not in hide:
            try:
                parents = repo[oid].peel(pygit2.Commit).parent_ids
            except GIT_ERRORS as exc:
                error = unreadable(exc, oid, "commit")
                what = f"the parent of {str(chain[-1])[:12]}" if chain else "the tip"
                lost = _unreached(repo, len(chain), hide)
                self._damage.append(
                    Damage(
                        segment.epoch,
                        self._path(segment.epoch, repo),
                        f"{error.reason.replace('-', ' ')} {oid} ({what}): the {len(chain)} commit(s) after it "
                        f"were walked, the history before it cannot be reached ({lost} other commit(s) "
                        "in the object store were not)",
                        str(oid),
                    )
                )
                break
            chain.append(oid)
            if not parents:
                break
            oid = parents[0]
        for oid in reversed(chain):
            yield repo[oid].peel(pygit2.Commit)


def _unreached(repo: pygit2.Repository, walked: int, hide: set[str]) -> int:
    """How many commits of ``repo``'s object store a walk cut short did not reach:
    every commit object, less the ``walked`` ones and the history below ``hide``
    (not asked for). Reads every object's header: a damaged archive's cost only
    (0.18 s of CPU on linux-pwm's 70,000 objects)."""
    objects = _Objects(repo.odb, repo.path)
    commits = 0
    for oid in repo.odb:
        try:
            commits += objects.header(oid)[0] == pygit2.enums.ObjectType.COMMIT
        except GIT_ERRORS:
            continue
    below = 0
    for start in hide:
        try:
            oid = repo[start].id
            while True:
                below += 1
                parents = repo[oid].peel(pygit2.Commit).parent_ids
                if not parents:
                    break
                oid = parents[0]
        except GIT_ERRORS:
            continue
    return max(0, commits - walked - below)


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

    __slots__ = ("_odb", "_backends", "path", "on_failure", "has")

    def __init__(
        self, odb: pygit2.Odb, path: str, on_failure: Callable[[Ref, UnreadableError], None] | None = None
    ) -> None:
        self._odb = odb
        self._backends = tuple(odb.backends)
        self.path = path
        """The epoch's git directory, where another process can read the same objects."""
        self.on_failure = on_failure
        """The walk to tell when a mail it yielded turns out unreadable."""
        self.has: Callable[[pygit2.Oid], bool] = self._backends[0].exists if self._backends else self.exists
        """Whether the first backend (the packs) holds an object: the walk's check
        that a mail is there, made without a Python call of its own (0.22 µs a commit
        on linux-pwm); :meth:`exists` asks the others."""

    def read(self, oid: pygit2.Oid) -> bytes:
        for backend in self._backends:
            try:
                found = backend.read(oid)
            except KeyError:
                continue
            if found is not NotImplemented:  # a backend that cannot read
                return found[1]  # type: ignore[no-any-return]
        return self._odb.read(oid)[1]  # type: ignore[no-any-return]

    def exists(self, oid: pygit2.Oid) -> bool:
        for backend in self._backends:
            if backend.exists(oid):
                return True
        return bool(self._odb.exists(oid))  # a pack written since

    def header(self, oid: pygit2.Oid) -> tuple[int, int]:
        """The object's type (a ``pygit2.enums.ObjectType`` value) and size, read
        without inflating its bytes."""
        for backend in self._backends:
            try:
                return backend.read_header(oid)  # type: ignore[no-any-return]
            except KeyError:
                continue
        found = self._odb.read(oid)  # a pack written since (Odb.read_header is pygit2 1.20+)
        return int(found[0]), len(found[1])


class _Stored:
    """A blob not read yet: ``data`` reads it from the epoch's storage."""

    __slots__ = ("_objects", "_oid")

    def __init__(self, objects: _Objects, oid: pygit2.Oid) -> None:
        self._objects = objects
        self._oid = oid

    @property
    def data(self) -> bytes:
        try:
            return self._objects.read(self._oid)
        except GIT_ERRORS as exc:
            raise unreadable(exc, self._oid, "blob") from None

    @property
    def size(self) -> int:
        """The blob's length from its header, or 0 when even that cannot be read.
        Not inflating the bytes took ``messages --raw`` on linux-pwm from 54 to
        17 µs of CPU a mail."""
        try:
            return self._objects.header(self._oid)[1]
        except GIT_ERRORS:
            return 0


class _Missing:
    """A mail the walk could not find: its blob (or the tree naming it) is missing or
    unreadable. Yielded by :meth:`Walk.refs` so that readers can name it; ``data``
    raises."""

    __slots__ = ("error", "tree")

    def __init__(self, error: UnreadableError) -> None:
        self.error = error
        self.tree = error.reason.endswith("-tree")

    @property
    def data(self) -> bytes:
        raise self.error

    @property
    def size(self) -> int:
        return 0

    def record(self, epoch: int, commit: str, oid: pygit2.Oid) -> Unreadable:
        return Unreadable(epoch, commit, str(oid), self.error.reason, self.error.detail)


def report_unreadable(ref: Ref, error: UnreadableError) -> None:
    """Tell the walk that yielded ``ref`` that its mail could not be read (``error``
    from ``ref[1].data``, or from a worker that read it): the walk counts it in
    ``stats.unreadable`` and names it. Nothing for a mail the walk already counted
    as unreadable, or that no walk yielded."""
    blob = ref[1]
    if isinstance(blob, _Stored) and blob._objects.on_failure is not None:
        blob._objects.on_failure(ref, error)


def stored_at(blob: Readable) -> str | None:
    """The git directory a mail not read yet is stored in (see :func:`read_stored`),
    or ``None`` for a blob that is not read from an epoch's storage (v1)."""
    if isinstance(blob, Held):
        blob = blob.blob
    return blob._objects.path if isinstance(blob, _Stored) else None


class Held:
    """A stored mail already read: ``data`` without reading it again. A process
    pool's workers still read it from its epoch (:func:`stored_at` names it), which
    costs the one process that feeds them less than sending the bytes."""

    __slots__ = ("blob", "data")

    def __init__(self, blob: Readable, data: bytes) -> None:
        self.blob = blob
        self.data = data

    @property
    def size(self) -> int:
        return len(self.data)


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
    try:
        objects = _OPENED.get(path)
        if objects is None:
            repo = pygit2.Repository(path, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
            objects = _OPENED[path] = _Objects(repo.odb, path)
        return objects.read(pygit2.Oid(hex=oid))
    except GIT_ERRORS as exc:
        raise unreadable(exc, oid, "blob") from None


def _read_v2(objects: _Objects, tree_id: pygit2.Oid) -> list[_Found]:
    """The ``m`` (mail) or ``d`` (removal) blob of a v2 commit, from its tree's raw
    bytes: a single ``<mode> <name>\\0<20-byte id>`` entry. Trees and blobs are read
    as raw bytes, not as objects: libgit2 caches objects, and a walk reads each tree
    once, so the cache would only grow (~0.5 KB a mail). Raises
    :class:`UnreadableError` when the tree cannot be read; a blob that is not in the
    object store is a :class:`_Missing`."""
    try:
        tree = objects.read(tree_id)
    except GIT_ERRORS as exc:
        raise unreadable(exc, tree_id, "tree") from None
    space = tree.find(b" ")
    nul = tree.find(b"\0", space)
    if nul != len(tree) - 21 or nul != space + 2 or tree[space + 1] not in _V2_NAMES:
        return []
    mode = tree[:space]
    if not (mode.startswith(b"10") or mode == b"120000"):  # a blob (file or link), as git reads modes
        return []
    oid = pygit2.Oid(raw=tree[nul + 1 :])
    if objects.has(oid) or objects.exists(oid):
        blob: Readable = _Stored(objects, oid)
    else:
        blob = _Missing(UnreadableError(str(oid), "missing-blob"))
    return [(oid, blob, tree[space + 1] == _V2_NAMES[1])]


def _read_v1(repo: pygit2.Repository, commit: pygit2.Commit) -> list[_Found]:
    """The paths a v1 (ssoma) commit added or deleted, in path order. Raises
    :class:`UnreadableError` when a tree cannot be read; a blob that cannot be read
    is a :class:`_Missing`."""
    try:
        parents = commit.parents
        if parents:
            diff = parents[0].tree.diff_to_tree(commit.tree)
        else:
            diff = commit.tree.diff_to_tree(swap=True)
        deltas = list(diff.deltas)
    except GIT_ERRORS as exc:
        raise unreadable(exc, commit.tree_id, "tree") from None
    found: list[_Found] = []
    for delta in deltas:
        if delta.status in _ADDED:
            oid, deleted = delta.new_file.id, False
        elif delta.status == _DELETED:
            oid, deleted = delta.old_file.id, True
        else:
            continue
        try:
            blob: Readable = cast(pygit2.Blob, repo[oid])
        except GIT_ERRORS as exc:
            blob = _Missing(unreadable(exc, oid, "blob"))
        found.append((oid, blob, deleted))
    return found
