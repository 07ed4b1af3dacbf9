"""Opening a public-inbox archive and walking it: the first stage of the pipeline.

Three layouts are read:

* a **v2 inbox** directory (what lore.kernel.org serves), epochs ``git/0.git``,
  ``git/1.git``, … each a bare repository with one mail per commit;
* a **single v2 epoch**, such as a ``git clone --bare`` of a lore epoch or bundle;
* a **v1** ("ssoma") repository, where each mail lives at ``sha1(Message-ID)``.

:func:`open_inbox` works out which, and :meth:`Inbox.walk` yields
:class:`RawMessage` records between two revisions or dates.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from pathlib import Path

import attrs
import pygit2

from ._dates import DateLike, parse_bound
from ._find import find_series
from ._revs import Position, Segment, damage_text, plan_after_tips, plan_range, resolve
from ._index import Assembly, State, Stored, arrived, assembly_key, assembly_scope, load, store
from ._reassemble import assemble_stored, reassemble
from ._load import check_workers, load_messages, usable_cpus
from ._walk import Coverage, Damage, EpochSpan, RawMessage, Ref, Unreadable, Walk, WalkStats, spans_of, utc
from .cache import Cache
from .errors import GIT_ERRORS, DamagedArchiveError, InboxError, RevisionError, git_message
from .identity import DomainMap, Mailmap
from .message import UNREADABLE, Message
from .report import Report, build_report
from .revisions import last_revision
from .series import Series
from .upstream import Upstream, track

__all__ = [
    "Epoch", "Inbox", "open_inbox", "RawMessage", "Walk", "WalkStats", "Segment", "Position", "Unreadable", "Damage",
    "Coverage", "EpochSpan", "BY",
]

BY = ("arrival", "date")
"""What ``since``/``until`` compare, for ``by=``: a mail's arrival (its commit time,
the default) or its ``Date:`` header."""

Cursor = Mapping[int, str] | Mapping[str, str]
"""A cursor from :meth:`Inbox.tips`: epoch number (or its string, as JSON gives it
back) → tip commit."""

_EPOCH_DIR = re.compile(r"^(\d+)\.git$")
_EPOCH_SUFFIX = re.compile(r"^(?P<name>.+?)\.(?P<n>\d+)\.git$")
_V1_FANOUT = re.compile(r"^[0-9a-f]{2}$")
_OPEN = pygit2.enums.RepositoryOpenFlag.NO_SEARCH
_TIP_REFS = ("refs/heads/master", "refs/heads/main", "HEAD")


@attrs.frozen
class Epoch:
    """One git repository of an archive. v1 archives have a single epoch, number 0."""

    number: int
    path: Path


class _OpenEpoch:
    """An epoch with its repository open, or ``repo`` ``None`` and ``error`` saying
    why it cannot be opened."""

    def __init__(self, epoch: Epoch, repo: pygit2.Repository | None, error: str | None = None) -> None:
        self.number = epoch.number
        self.epoch = epoch
        self.repo = repo
        self.error = error

    def read_tip(self) -> pygit2.Oid | None:
        """The tip commit, read afresh; ``None`` for an epoch with no commits yet.

        Raises :class:`DamagedArchiveError` (the reason, without the path) when the
        epoch cannot be opened, a tip ref cannot be read or names a commit that is
        missing or unreadable, or there is no tip ref but the object store holds
        objects: an epoch public-inbox created and has not written to yet has
        neither."""
        repo = self.repo
        if repo is None:
            raise DamagedArchiveError(self.error or "cannot be opened")
        for name in _TIP_REFS:
            try:
                target = repo.lookup_reference(name).resolve().target
            except KeyError:  # no such ref (or a symbolic ref to none)
                continue
            except GIT_ERRORS as exc:
                raise DamagedArchiveError(f"cannot read {name}: {git_message(exc)}") from None
            try:
                return repo[target].peel(pygit2.Commit).id
            except GIT_ERRORS as exc:
                what = "missing" if isinstance(exc, KeyError) else f"unreadable ({git_message(exc)})"
                raise DamagedArchiveError(f"{name} names commit {target}, which is {what}") from None
        if _holds_objects(self.epoch.path):
            raise DamagedArchiveError(
                f"no {_TIP_REFS[0]} (nor {', '.join(_TIP_REFS[1:])}), yet its object store holds "
                "objects: its refs are lost"
            )
        return None


class _View:
    """An epoch as one call sees it: its tip read once, or why it cannot be read
    (the :class:`~patchtrack._revs.EpochRepo` that planning takes)."""

    __slots__ = ("number", "repo", "tip", "damage", "path")

    def __init__(self, epoch: _OpenEpoch) -> None:
        self.number = epoch.number
        self.path = str(epoch.epoch.path)
        self.tip: pygit2.Oid | None = None
        self.damage: str | None = None
        try:
            self.tip = epoch.read_tip()
        except DamagedArchiveError as exc:
            self.damage = str(exc)
        self.repo: pygit2.Repository = epoch.repo  # type: ignore[assignment]  # None only when damaged


def _holds_objects(path: Path) -> bool:
    """Whether the git directory ``path`` stores any object (a pack, or a loose
    object): listing its object folders, not reading them."""
    objects = path / "objects"
    try:
        with os.scandir(objects) as entries:
            for entry in entries:
                if entry.name == "pack":
                    with os.scandir(entry.path) as packs:
                        if any(p.name.endswith(".pack") for p in packs):
                            return True
                elif len(entry.name) == 2 and _V1_FANOUT.match(entry.name) and entry.is_dir():
                    with os.scandir(entry.path) as loose:
                        if any(True for _ in loose):
                            return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise DamagedArchiveError(f"cannot list its objects: {exc.strerror}") from None
    return False


class Inbox:
    """A public-inbox archive opened for reading. Make one with :func:`open_inbox`.

    The object keeps its repositories open; tips are read when a walk starts, so one
    ``Inbox`` sees mail that arrives while it lives — in a v2 inbox, in epochs
    created since it was opened too. ``cache``, ``workers`` and
    ``executor`` say how :meth:`messages` (and so :meth:`series` and :meth:`report`)
    parse: see :func:`open_inbox`.
    """

    def __init__(
        self,
        path: Path,
        layout: str,
        name: str,
        epochs: list[_OpenEpoch],
        *,
        cache: Cache | None = None,
        workers: int | None = None,
        executor: Executor | None = None,
        epoch_dir: Path | None = None,
    ) -> None:
        self.path = path
        self.layout = layout
        self.name = name
        self.cache = cache
        self.workers = workers if workers is not None else usable_cpus()
        self.executor = executor
        self._epochs = epochs
        self._by_number = {e.number: e for e in epochs}
        self._epoch_dir = epoch_dir  # a v2 inbox's git/, where new epochs appear

    def _rescan(self) -> None:
        """Open the epochs a v2 inbox gained since (public-inbox starts
        ``git/N+1.git`` when an epoch is full), and try again those that could
        not be opened."""
        if self._epoch_dir is None:
            return
        try:
            found = _epoch_dirs(self._epoch_dir)
        except OSError as exc:
            raise DamagedArchiveError(f"{self._epoch_dir}: cannot list the epochs: {exc.strerror}") from None
        if len(found) == len(self._epochs) and all(e.repo is not None for e in self._epochs):
            return
        newest = found[-1][0] if found else -1
        for number, child in found:
            known = self._by_number.get(number)
            if known is None or known.repo is None:
                epoch = _open_epoch(number, child, opening=False)
                if epoch.repo is None and number == newest and _being_created(child):
                    self._by_number.pop(number, None)
                    continue  # public-inbox is creating it: the next call looks again
                self._by_number[number] = epoch
        self._epochs = [self._by_number[n] for n in sorted(self._by_number)]

    def _repo(self, number: int) -> pygit2.Repository:
        repo = self._by_number[number].repo
        if repo is None:  # a plan never walks an epoch that cannot be opened
            raise DamagedArchiveError(f"epoch {number} cannot be opened")
        return repo

    def _views(self) -> list[_View]:
        """Every epoch with its tip read once, for one call."""
        self._rescan()
        return [_View(e) for e in self._epochs]

    def __repr__(self) -> str:
        return f"<Inbox {self.name!r} {self.layout} epochs={[e.number for e in self._epochs]}>"

    @property
    def epochs(self) -> tuple[Epoch, ...]:
        """The archive's epochs in numeric order."""
        self._rescan()
        return tuple(e.epoch for e in self._epochs)

    def tips(self) -> dict[int, str]:
        """Current tip commit of every non-empty epoch: a cursor for :meth:`walk`.

        Save it (it is JSON-ready once keys become strings, and accepted back either
        way) and pass it as ``walk(after=...)`` to read only mail that arrived since.
        Raises :class:`DamagedArchiveError` when an epoch's tip cannot be read: a
        cursor without it would forget that epoch.
        """
        views = self._views()
        broken = [v for v in views if v.damage]
        if broken:
            raise DamagedArchiveError(f"{damage_text(broken)}: no cursor can be taken")
        return {v.number: str(v.tip) for v in views if v.tip is not None}

    def raw(self, oid: str) -> bytes:
        """The stored bytes of the mail whose blob id is ``oid`` (a :class:`Message`'s
        ``oid``), from whichever epoch holds it. Raises :class:`InboxError` when no
        epoch does, :class:`DamagedArchiveError` when it cannot be read."""
        unsearched = []
        for e in self._epochs:
            if e.repo is None:
                unsearched.append(e)
                continue
            try:
                obj = e.repo.get(oid)
                if isinstance(obj, pygit2.Blob):
                    return obj.data
            except ValueError:  # pygit2's InvalidSpecError, AmbiguousError too
                raise InboxError(f"{oid}: not a blob id") from None
            except GIT_ERRORS as exc:
                raise DamagedArchiveError(
                    f"{oid}: cannot be read in epoch {e.number} ({e.epoch.path}): {git_message(exc)}"
                ) from None
        if unsearched:
            where = ", ".join(f"{e.number} ({e.epoch.path}: {e.error})" for e in unsearched)
            raise DamagedArchiveError(f"{oid}: not found, and epochs {where} could not be searched")
        raise InboxError(f"{oid}: no mail with this blob id in {self.name}")

    def resolve(self, rev: str) -> Position:
        """Resolve a revision (``ed37f1cc5``, ``HEAD~2``) to its epoch and full commit id."""
        return resolve(self._views(), rev)

    def walk(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        dedupe: bool = True,
    ) -> Walk:
        """Iterate over the stored mails in ``range``, oldest first.

        ``range`` is git's syntax (``A..B``, ``A..``, ``..B``, ``X``, ``X^!``; ids may
        be abbreviated) read across epochs the public-inbox way; ``None`` is the whole
        archive. ``since``/``until`` keep commits whose arrival time is within the
        bounds (inclusive). ``after`` is a cursor from :meth:`tips`: walk only what
        arrived since. With ``dedupe`` (the default) a blob delivered again is yielded
        once and counted in ``stats.duplicates``.

        The range is resolved now: a bad revision or cursor raises
        :class:`RevisionError` here, before any mail is read. Damage never raises:
        a mail that cannot be read is counted in ``stats.unreadable`` and named in
        ``walk.unreadable``; an epoch that cannot be read, or history cut by a
        missing commit, is skipped and named in ``walk.damage``, the rest is read.
        """
        if after is not None and range:
            raise RevisionError("give either a range or a cursor (after=), not both")
        lo, hi = _bounds(since, until)
        views = self._views()
        plan = plan_after_tips(views, after) if after is not None else plan_range(views, range)
        return Walk(
            self._repo,
            plan,
            layout=self.layout,
            since=lo,
            until=hi,
            dedupe=dedupe,
            paths={v.number: v.path for v in views},
            cursor=after is not None,
        )

    def messages(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        by: str = "arrival",
    ) -> Iterator[Message]:
        """Parsed :class:`Message` records of the mails in ``range``, oldest first.

        The same arguments as :meth:`walk`, and ``by``: ``since``/``until`` compare
        the mail's arrival (``"arrival"``, the default: its commit time) or its
        ``Date:`` header (``"date"``: a mail without a readable one is left out, and
        every mail of the range is parsed to read it). Removal commits are left out (they are in
        :meth:`walk`, marked ``deleted``). Bad revisions raise here, at the call.
        Messages come from the inbox's cache when it has them; the rest are parsed on
        its executor or process pool (see :func:`open_inbox`), in walk order either way.

        A mail that cannot be read (its blob or tree missing or corrupt) is a record
        with the problem ``unreadable:<reason>`` (``missing-blob``, ``corrupt-blob``,
        ``missing-tree``, ``corrupt-tree``), its ``oid`` the object that could not be
        read and its date the arrival time. When part of the archive cannot be read
        (an epoch, history cut by a missing commit), every readable message is
        yielded first, then :class:`DamagedArchiveError` is raised.
        """
        walk, lo, hi = self._select(range, since, until, after, by)
        found = load_messages(walk.refs(), cache=self.cache, executor=self.executor, workers=self.workers)
        on_date = by == "date" and (lo is not None or hi is not None)
        return _checked(within_dates(found, lo, hi) if on_date else found, walk)

    def _select(
        self, range: str | None, since: DateLike | None, until: DateLike | None, after: Cursor | None, by: str
    ) -> tuple[Walk, float | None, float | None]:
        """The walk of a selection (windowed by arrival, or whole when the window is
        on ``Date:``) and the window's bounds."""
        if by not in BY:
            raise RevisionError(f"by={by!r}: since/until compare 'arrival' or 'date'")
        lo, hi = _bounds(since, until)
        if by == "date":
            return self.walk(range, after=after), lo, hi
        return self.walk(range, since=since, until=until, after=after), lo, hi

    def series(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        progress: Callable[[int], None] | None = None,
        unreadable: Callable[[Message], None] | None = None,
        by: str = "arrival",
        coverage: Callable[[Coverage], None] | None = None,
    ) -> list[Series]:
        """The patch series with mail in ``range`` (same arguments as :meth:`walk`).

        A series is reported when any of its mails — cover, patches, replies — is in
        the range, but it is assembled from the whole archive: patches that arrived
        after the range, replies, and earlier revisions all count. Ordered by first
        post. Bad revisions raise here, at the call. ``progress`` is called with the
        number of mails parsed so far, every 500 mails (for a progress bar).
        Raises :class:`DamagedArchiveError` when part of the archive cannot be read
        (an epoch, history cut by a missing commit): series assembled without it
        would be silently wrong. Single unreadable mails are stepped over: each one
        of the range is passed to ``unreadable`` (its problem record: see
        :meth:`messages`), so a caller can say what the series could not include.
        ``by`` is :meth:`messages`'. ``coverage`` is passed the range resolved (a
        :class:`Coverage`: the commits walked, the window; its ``tips`` are the
        cursor that continues exactly after this call).
        """
        messages, found, covered = self._assembled(range, since, until, after, progress, history=False, by=by)
        if coverage is not None:
            coverage(covered)
        if unreadable is not None:
            for message in messages:
                if message.problems and message.problems[0].startswith(UNREADABLE):
                    unreadable(message)
        return found

    def report(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        top: int = 15,
        mailmap: Mailmap | None = None,
        domain_map: DomainMap | None = None,
        include_bots: bool = False,
        merge_names: bool = True,
        upstream: Upstream | None = None,
        progress: Callable[[int], None] | None = None,
        by: str = "arrival",
    ) -> Report:
        """The "mailing list update" for ``range``: contributor rankings over the
        patch and cover-letter mails of the range, and the series posted in it, with
        their status from the whole archive. ``after`` (a cursor from :meth:`tips`)
        reports what arrived since the cursor was saved: a cron job's weekly update.
        With ``upstream`` (an indexed repository), each series says whether it was
        applied there (see :mod:`patchtrack.upstream`). See :mod:`patchtrack.report`.
        ``by`` is :meth:`messages`'. The report's title and ``coverage`` give the range
        resolved — the commits walked, the window, the cursor — never as typed.
        Raises :class:`DamagedArchiveError` as :meth:`series` does."""
        messages, series, covered = self._assembled(range, since, until, after, progress, history=True, by=by)
        return build_report(
            self.name.split(".")[0],
            messages,
            series,
            coverage=covered,
            top=top,
            mailmap=mailmap,
            domain_map=domain_map,
            include_bots=include_bots,
            merge_names=merge_names,
            upstream={t.series.id: t.state for t in track(series, upstream)} if upstream is not None else None,
        )

    def _assembled(
        self,
        range: str | None,
        since: DateLike | None,
        until: DateLike | None,
        after: Cursor | None,
        progress: Callable[[int], None] | None,
        *,
        history: bool,
        by: str = "arrival",
    ) -> tuple[list[Message], list[Series], Coverage]:
        """The mails of a selection (in walk order) and the series with mail among
        them, assembled from the whole archive — with ``history``, also every other
        revision those series link to (a report names when a series was first seen,
        and which revision landed upstream).

        A mail is in a date window when its first delivery is. A range or a cursor
        is walked on its own (a short walk). With a cache, the whole archive's
        assembly is stored under the archive's state, and a later call on the same
        state decodes only the series it returns (see :mod:`patchtrack._index`).
        With ``by="date"``, the selection's mails are kept by their ``Date:``.
        Returns the range resolved as well."""
        selected, lo, hi = self._select(range, since, until, after, by)  # raises now if bad
        by_range = range is not None or after is not None
        # a range's own deliveries (a mail delivered again inside it counts there)
        where = {str(r[0]): (r[2], r[3], r[4]) for r in selected.refs() if not r[5]} if by_range else None
        inside = set(where) if where is not None else None
        _raise_damage(selected)
        covered = attrs.evolve(selected.coverage, since=utc(lo), until=utc(hi), by=by)
        on_date = by == "date" and (lo is not None or hi is not None)
        dated = not by_range and not on_date and (lo is not None or hi is not None)
        cache = self.cache
        tips = self.tips()
        key = assembly_key(self.layout, tips) if cache is not None else ""
        stored = load(cache, key) if cache is not None else None
        index = stored.assembly if stored is not None else None
        if cache is not None and index is None and (grown := self._reassembled(cache, tips)) is not None:
            index, state, base = grown
            self._store(cache, key, tips, index, state, base)
            cache.stats.assemblies_updated += 1
        if cache is not None and index is not None:
            chosen: set[str] | None = index.arrived(lo, hi) if dated else inside
            candidates = index.messages(chosen, cache) if on_date else None
            if candidates is not None:
                chosen = {m.oid for m in within_dates(candidates, lo, hi)}
            if not on_date or candidates is not None:
                picks = index.touching(chosen)
                kept = index.selection(chosen, index.with_history(picks) if history else picks, cache)
                if kept is not None:
                    if progress is not None:
                        progress(len(index.deliveries))
                    spans = spans_of(where if where is not None else index.deliveries, chosen)
                    return (*kept, attrs.evolve(covered, spans=spans))
        deliveries: dict[str, tuple[str, int, int]] = {}

        def tap(refs: Iterator[Ref]) -> Iterator[Ref]:
            for ref in refs:
                if not ref[5]:
                    deliveries.setdefault(str(ref[0]), (ref[2], ref[3], ref[4]))  # the first delivery
                yield ref

        found: list[Message] = []
        whole = self.walk()
        for message in load_messages(tap(whole.refs()), cache=cache, executor=self.executor, workers=self.workers):
            found.append(message)
            if progress is not None and len(found) % 500 == 0:
                progress(len(found))
        _raise_damage(whole)
        if progress is not None:
            progress(len(found))
        everything, index, state = assemble_stored(found, deliveries)
        if cache is not None:
            self._store(cache, key, tips, index, state)
        chosen = arrived(deliveries, lo, hi) if dated else inside
        if on_date:
            chosen = {m.oid for m in within_dates(found, lo, hi) if chosen is None or m.oid in chosen}
        covered = attrs.evolve(covered, spans=spans_of(where if where is not None else deliveries, chosen))
        messages = found if chosen is None else [m for m in found if m.oid in chosen]
        if chosen is None or history:
            return messages, list(everything), covered
        return messages, [s for s in everything if any(m.oid in chosen for m in s.messages)], covered

    def _store(
        self, cache: Cache, key: str, tips: dict[int, str], index: Assembly, state: State, base: Stored | None = None
    ) -> None:
        """Keep an archive state's assembly, with what extending it later needs (as
        its difference from ``base``, the stored one it extends, when there is one)."""
        store(cache, key, assembly_scope(self.layout), json.dumps(tips), index, state, base)

    def _reassembled(self, cache: Cache, tips: dict[int, str]) -> tuple[Assembly, State, Stored] | None:
        """The assembly of the archive as it is now, from the newest stored one of an
        earlier state of it (see :mod:`patchtrack._reassemble`): only mail that
        arrived since is walked, and parsed when the cache lacks it. ``None`` when no
        stored state is an earlier state of this archive. Returns the stored
        assembly it was extended from as well."""
        for stored_key, saved in cache.assembly_bases(assembly_scope(self.layout)):
            before = {int(n): commit for n, commit in json.loads(saved).items()}
            if not self._grew_from(before, tips):
                continue
            stored = load(cache, stored_key, state=True)
            if stored is None or stored.state is None:
                continue
            base = stored.assembly
            deliveries: dict[str, tuple[str, int, int]] = {}
            refs = []
            since = self.walk(after=before)
            for ref in since.refs():
                oid = str(ref[0])
                if not ref[5] and oid not in base.deliveries and oid not in deliveries:
                    deliveries[oid] = (ref[2], ref[3], ref[4])
                    refs.append(ref)
            _raise_damage(since)
            new = list(load_messages(iter(refs), cache=cache, executor=self.executor, workers=self.workers))
            grown = reassemble(base, stored.state, new, deliveries, cache)
            return None if grown is None else (*grown, stored)
        return None

    def _grew_from(self, before: Mapping[int, str], tips: Mapping[int, str]) -> bool:
        """Whether the archive now is ``before`` with mail appended: every epoch
        kept, only the last one grown (by descendants of its old tip), new epochs
        after it — so walking what arrived since extends the old walk order."""
        if not before:
            return False
        last = max(before)
        for number, commit in before.items():
            now = tips.get(number)
            if now is None or (now != commit and number != last):
                return False
            if now != commit:
                repo = self._by_number[number].repo
                try:
                    if repo is None or not repo.descendant_of(now, commit):
                        return False
                except GIT_ERRORS:
                    return False
        return all(number > last for number in tips if number not in before)

    def __iter__(self) -> Iterator[RawMessage]:
        """Every message of the archive: ``iter(inbox.walk())``."""
        return iter(self.walk())

    _whole: tuple[dict[int, str], list[Series]] | None = None  # find/newest: the series of these tips

    def find(
        self,
        msgid: str,
        *,
        progress: Callable[[int], None] | None = None,
        unreadable: Callable[[Message], None] | None = None,
    ) -> Series | None:
        """The series holding the mail ``msgid`` — a Message-ID (``<>`` optional) of
        its cover, a patch or a reply, a lore URL naming one
        (``https://lore.kernel.org/LIST/MSGID/``, ``…/T/``, ``…/raw``,
        ``https://patch.msgid.link/MSGID``) — or whose id is ``msgid`` or begins with
        it (6 characters at least, as git abbreviates). ``None`` when none does;
        :class:`InboxError` when a short id begins several. Assembled from the whole
        archive, as :meth:`series` without a range (``progress`` and ``unreadable``
        are its); kept for :meth:`newest` while the archive does not change."""
        return find_series(self._everything(progress, unreadable), msgid)

    def newest(self, series: Series, *, same_author: bool = False) -> Series:
        """The newest revision ``series``' ``next`` links lead to in this archive
        (``series`` itself when it is the newest). With ``same_author``, the newest
        its own authors posted: never another author's code (see
        :func:`patchtrack.revisions.last_revision`)."""
        return last_revision(series, {s.id: s for s in self._everything(None, None)}, same_author=same_author)

    def _everything(
        self, progress: Callable[[int], None] | None, unreadable: Callable[[Message], None] | None
    ) -> list[Series]:
        tips = self.tips()
        if self._whole is None or self._whole[0] != tips:
            self._whole = (tips, self.series(progress=progress, unreadable=unreadable))
        return self._whole[1]


def _bounds(since: DateLike | None, until: DateLike | None) -> tuple[float | None, float | None]:
    """``since``/``until`` as POSIX seconds (inclusive), or :class:`RevisionError`."""
    try:
        lo = parse_bound(since, upper=False) if since is not None else None
        hi = parse_bound(until, upper=True) if until is not None else None
    except ValueError as exc:
        raise RevisionError(str(exc)) from None
    if lo is not None and hi is not None and lo > hi:
        raise RevisionError(f"reversed dates: since {since} is after until {until}")
    return lo, hi


def within_dates(messages: Iterable[Message], lo: float | None, hi: float | None) -> Iterator[Message]:
    """The ``messages`` whose ``Date:`` lies within ``lo``..``hi`` (POSIX seconds,
    inclusive; ``None``: open)."""
    for m in messages:
        if m.date is None:
            continue
        when = m.date.timestamp()
        if (lo is None or when >= lo) and (hi is None or when <= hi):
            yield m


def _raise_damage(walk: Walk) -> None:
    if walk.damage:
        raise DamagedArchiveError("; ".join(map(str, walk.damage)))


def _checked(messages: Iterator[Message], walk: Walk) -> Iterator[Message]:
    """``messages``, then :class:`DamagedArchiveError` if the walk could not reach
    part of the archive."""
    yield from messages
    _raise_damage(walk)


def open_inbox(
    path: str | os.PathLike[str],
    *,
    cache: Cache | str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Inbox:
    """Open the public-inbox archive at ``path``: a v2 inbox, one v2 epoch, or v1.

    ``cache`` (a :class:`~patchtrack.cache.Cache` or the path of its file) keeps
    parsed messages across runs; without one, every walk parses. Parsing runs on
    ``executor`` when given (any :class:`concurrent.futures.Executor`), otherwise on
    a process pool of ``workers`` processes (default: one per core; ``1`` parses in
    this process) that starts only when a walk has enough uncached mail to share.
    Output is the same whichever way it is parsed. The workers of a process pool
    (a :class:`~concurrent.futures.ProcessPoolExecutor`, given or started) read the
    mails from the archive's files themselves; any other executor is sent their bytes.
    ``workers`` must be a positive integer (``ValueError`` otherwise) and is capped
    at the CPUs this process may run on.

    Raises :class:`InboxError` when the path does not exist, cannot be read or is not
    an archive, and :class:`DamagedArchiveError` when it is a damaged one that cannot
    be read at all (a single epoch whose tip is lost). Damage in one epoch of a v2
    inbox is reported by the walks, which read the other epochs.
    """
    if workers is not None:
        workers = check_workers(workers)
    inbox = _open(path)
    inbox.cache = Cache(cache) if cache is not None and not isinstance(cache, Cache) else cache
    if workers is not None:
        inbox.workers = workers
    inbox.executor = executor
    return inbox


def _open(path: str | os.PathLike[str]) -> Inbox:
    try:
        return _open_path(path)
    except OSError as exc:  # the path itself, or a folder of it, cannot be read
        raise InboxError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _open_path(path: str | os.PathLike[str]) -> Inbox:
    root = Path(path).expanduser()
    if not root.exists():
        raise InboxError(f"{path}: no such file or directory")
    if not root.is_dir():
        raise InboxError(f"{path}: not a directory")
    with os.scandir(root):  # raises when the folder cannot be listed (permission denied)
        pass
    root = root.resolve()
    if root.name == "all.git" and (root.parent / "git").is_dir():
        root = root.parent
    if (root / "git").is_dir():
        return _open_v2(root)
    repo = _open_repo(root, str(path))
    try:
        tip = _OpenEpoch(Epoch(0, root), repo).read_tip()
    except DamagedArchiveError as exc:
        raise DamagedArchiveError(f"{path}: {exc}") from None
    if tip is None:
        raise InboxError(f"{path}: empty repository, not a public-inbox archive")
    layout = _sniff_layout(repo, str(path), tip)
    if layout is None:
        raise DamagedArchiveError(f"{path}: its newest commits cannot be read, so neither can its layout")
    if layout == "v1":
        name = root.name.removesuffix(".git")
        return Inbox(root, "v1", name, [_OpenEpoch(Epoch(0, root), repo)])
    number, name = 0, root.name.removesuffix(".git")
    if m := _EPOCH_SUFFIX.match(root.name):  # a clone named like lore's: list.vger.kernel.org.0.git
        number, name = int(m["n"]), m["name"]
    elif m := _EPOCH_DIR.match(root.name):  # git/N.git inside a v2 inbox
        number = int(m[1])
        if root.parent.name == "git":
            name = root.parent.parent.name
    return Inbox(root, "v2", name, [_OpenEpoch(Epoch(number, root), repo)])


def _epoch_dirs(git: Path) -> list[tuple[int, Path]]:
    """A v2 inbox's epoch repositories (``git/0.git``, …) by number."""
    found = []
    for child in git.iterdir():
        m = _EPOCH_DIR.match(child.name)
        if m and child.is_dir():
            found.append((int(m.group(1)), child))
    return sorted(found)


def _open_v2(root: Path) -> Inbox:
    found = _epoch_dirs(root / "git")
    if not found:
        raise InboxError(f"{root}: a v2 inbox needs epochs git/0.git, git/1.git, …; found none")
    epochs = [_open_epoch(number, child, opening=True) for number, child in found]
    if len(epochs) > 1 and epochs[-1].repo is None and _being_created(found[-1][1]):
        epochs.pop()
    return Inbox(root, "v2", root.name, epochs, epoch_dir=root / "git")


def _being_created(path: Path) -> bool:
    """Whether an epoch folder that is no git repository yet is one public-inbox is
    creating (it holds no object), rather than a damaged one."""
    try:
        return not _holds_objects(path)
    except DamagedArchiveError:
        return False


def _open_epoch(number: int, path: Path, *, opening: bool) -> _OpenEpoch:
    """One epoch of a v2 inbox, opened and checked to hold v2 commits (if any yet):
    both when the inbox is opened and when an epoch appears later.

    An epoch that cannot be opened, or whose history cannot be read, is kept with
    its damage (the walks report it). One that holds something else than v2 mail
    makes the inbox no archive (:class:`InboxError`) when ``opening``; an epoch like
    that appearing later is kept as damaged."""
    try:
        repo = _open_repo(path, str(path))
    except (InboxError, DamagedArchiveError) as exc:
        return _OpenEpoch(Epoch(number, path), None, _reason(exc, path))
    epoch = _OpenEpoch(Epoch(number, path), repo)
    try:
        tip = epoch.read_tip()
    except DamagedArchiveError:
        return epoch  # the walks say so
    try:
        if tip is not None and _sniff_layout(repo, str(path), tip) == "v1":
            raise InboxError(f"{path}: not a public-inbox v2 epoch")
    except InboxError as exc:
        if opening:
            raise
        return _OpenEpoch(Epoch(number, path), None, _reason(exc, path))
    return epoch


def _reason(exc: Exception, path: Path) -> str:
    return str(exc).removeprefix(f"{path}: ")


def _open_repo(path: Path, shown: str) -> pygit2.Repository:
    try:
        return pygit2.Repository(str(path), _OPEN)
    except GIT_ERRORS as exc:
        if _looks_like_git(path):
            raise DamagedArchiveError(f"{shown}: a git repository that cannot be opened: {git_message(exc)}") from None
        raise InboxError(f"{shown}: not a git repository, nor a public-inbox directory") from None


def _looks_like_git(path: Path) -> bool:
    """Whether ``path`` holds two of a bare repository's parts (``HEAD``,
    ``objects/``, ``refs/``, ``packed-refs``): a damaged repository, not some folder."""
    parts = ((path / "HEAD").is_file(), (path / "objects").is_dir(), (path / "refs").is_dir(), (path / "packed-refs").is_file())
    return sum(parts) >= 2


def _sniff_layout(repo: pygit2.Repository, shown: str, tip: pygit2.Oid, depth: int = 50) -> str | None:
    """``v2`` or ``v1``, from the first commits (newest first) that hold a mail;
    ``None`` when damage leaves no commit to tell by. Raises :class:`InboxError`
    for commits of another kind."""
    damaged = False
    try:
        walker = repo.walk(tip, pygit2.enums.SortMode.NONE)
        walker.simplify_first_parent()
        for commit in itertools.islice(walker, depth):
            try:
                names = [entry.name for entry in commit.tree]
            except GIT_ERRORS:
                damaged = True  # a tree missing or corrupt: the walk names it; look further down
                continue
            if not names:
                continue  # a purge artefact: look further down
            if len(names) == 1 and names[0] in ("m", "d"):
                return "v2"
            if all(_V1_FANOUT.match(n or "") for n in names):
                return "v1"
            damaged = False
            break
    except GIT_ERRORS:
        return None  # history cut before any commit told
    if damaged:
        return None
    raise InboxError(
        f"{shown}: not a public-inbox archive (commits hold neither a single 'm'/'d' "
        "blob (v2) nor sha1 fan-out directories (v1))"
    )
