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

import json
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor

import attrs

from ._dates import DateLike
from ._engine._index import Assembly, State, Stored, arrived, assembly_key, assembly_scope, load, store
from ._engine._load import check_workers, load_messages, usable_cpus
from ._engine._reassemble import assemble_stored, reassemble
from ._find import find_series
from .archive import (
    Coverage,
    Cursor,
    Damage,
    Epoch,
    EpochSpan,
    Position,
    RawMessage,
    Ref,
    Segment,
    Source,
    Unreadable,
    Walk,
    WalkStats,
    bounds,
    open_source,
    raise_damage,
    spans_of,
    utc,
)
from .cache import Cache
from .errors import RevisionError
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
        source: Source,
        *,
        cache: Cache | None = None,
        workers: int | None = None,
        executor: Executor | None = None,
    ) -> None:
        self._source = source
        self.path = source.path
        self.layout = source.layout
        self.name = source.name
        self.cache = cache
        self.workers = workers if workers is not None else usable_cpus()
        self.executor = executor

    @property
    def epochs(self) -> tuple[Epoch, ...]:
        """The archive's epochs in numeric order."""
        return self._source.epochs

    def __repr__(self) -> str:
        return f"<Inbox {self.name!r} {self.layout} epochs={[e.number for e in self.epochs]}>"

    def tips(self) -> dict[int, str]:
        """Current tip commit of every non-empty epoch: a cursor for :meth:`walk`
        (see :meth:`patchtrack.archive.Source.tips`)."""
        return self._source.tips()

    def raw(self, oid: str) -> bytes:
        """The stored bytes of the mail whose blob id is ``oid`` (see
        :meth:`patchtrack.archive.Source.raw`)."""
        return self._source.raw(oid)

    def resolve(self, rev: str) -> Position:
        """Resolve a revision (``ed37f1cc5``, ``HEAD~2``) to its epoch and full commit id."""
        return self._source.resolve(rev)

    def walk(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        dedupe: bool = True,
    ) -> Walk:
        """Iterate over the stored mails in ``range``, oldest first (see
        :meth:`patchtrack.archive.Source.walk`)."""
        return self._source.walk(range, since=since, until=until, after=after, dedupe=dedupe)


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
        lo, hi = bounds(since, until)
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
        state decodes only the series it returns (see :mod:`patchtrack._engine._index`).
        With ``by="date"``, the selection's mails are kept by their ``Date:``.
        Returns the range resolved as well."""
        selected, lo, hi = self._select(range, since, until, after, by)  # raises now if bad
        by_range = range is not None or after is not None
        # a range's own deliveries (a mail delivered again inside it counts there)
        where = {str(r[0]): (r[2], r[3], r[4]) for r in selected.refs() if not r[5]} if by_range else None
        inside = set(where) if where is not None else None
        raise_damage(selected)
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
        raise_damage(whole)
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
        earlier state of it (see :mod:`patchtrack._engine._reassemble`): only mail that
        arrived since is walked, and parsed when the cache lacks it. ``None`` when no
        stored state is an earlier state of this archive. Returns the stored
        assembly it was extended from as well."""
        for stored_key, saved in cache.assembly_bases(assembly_scope(self.layout)):
            before = {int(n): commit for n, commit in json.loads(saved).items()}
            if not self._source.grew_from(before, tips):
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
            raise_damage(since)
            new = list(load_messages(iter(refs), cache=cache, executor=self.executor, workers=self.workers))
            grown = reassemble(base, stored.state, new, deliveries, cache)
            return None if grown is None else (*grown, stored)
        return None


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



def within_dates(messages: Iterable[Message], lo: float | None, hi: float | None) -> Iterator[Message]:
    """The ``messages`` whose ``Date:`` lies within ``lo``..``hi`` (POSIX seconds,
    inclusive; ``None``: open)."""
    for m in messages:
        if m.date is None:
            continue
        when = m.date.timestamp()
        if (lo is None or when >= lo) and (hi is None or when <= hi):
            yield m


def _checked(messages: Iterator[Message], walk: Walk) -> Iterator[Message]:
    """``messages``, then :class:`DamagedArchiveError` if the walk could not reach
    part of the archive."""
    yield from messages
    raise_damage(walk)


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
    inbox = Inbox(open_source(path))
    inbox.cache = Cache(cache) if cache is not None and not isinstance(cache, Cache) else cache
    if workers is not None:
        inbox.workers = workers
    inbox.executor = executor
    return inbox


