"""One list's archive: :func:`open_inbox` and :class:`Inbox`, the facade most callers use.

Three layouts are read (by :mod:`patchtrack.archive`, the git edge):

* a **v2 inbox** directory (what lore.kernel.org serves), epochs ``git/0.git``,
  ``git/1.git``, … each a bare repository with one mail per commit;
* a **single v2 epoch**, such as a ``git clone --bare`` of a lore epoch or bundle;
* a **v1** ("ssoma") repository, where each mail lives at ``sha1(Message-ID)``.

:func:`open_inbox` works out which. An :class:`Inbox` walks its
:class:`~patchtrack.archive.Source` (:meth:`Inbox.walk` yields :class:`RawMessage`
records between two revisions or dates) and hands the rest to the engine
(:mod:`patchtrack._engine`): parsing through the cache and an executor, and the
stored assemblies of series. Many lists as one archive: :mod:`patchtrack.lists`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor

from ._dates import DateLike
from ._engine._load import check_workers, load_messages, usable_cpus
from ._engine._whole import assembled, selected_walk, within_dates
from ._find import find_series
from .archive import (
    BY,
    Coverage,
    Cursor,
    Damage,
    Epoch,
    EpochSpan,
    Position,
    RawMessage,
    Segment,
    Selection,
    Source,
    Unreadable,
    Walk,
    WalkStats,
    open_source,
    raise_damage,
    selection,
)
from .store import Store
from .identity import DomainMap, Mailmap
from .message import UNREADABLE, Message
from .report import Report, build_report
from .revisions import last_revision
from .series import Series
from .upstream import Upstream, track

__all__ = [
    "Epoch", "Inbox", "open_inbox", "RawMessage", "Walk", "WalkStats", "Segment", "Position", "Unreadable", "Damage",
    "Coverage", "EpochSpan", "BY", "within_dates",
]


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
        cache: Store | None = None,
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
        sel = self.select(range, since=since, until=until, after=after, by=by)
        walk = selected_walk(self._source, sel)
        found = load_messages(walk.refs(), cache=self.cache, executor=self.executor, workers=self.workers)
        return _checked(within_dates(found, sel.lo, sel.hi) if sel.on_date else found, walk)

    def select(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: Cursor | None = None,
        by: str = "arrival",
    ) -> Selection:
        """The :class:`~patchtrack.archive.Selection` these arguments make, checked
        (:class:`RevisionError` for a bad one; revisions are resolved when walked)."""
        return selection(range, since=since, until=until, after=after, by=by)

    def _assembled(
        self, sel: Selection, progress: Callable[[int], None] | None, *, history: bool
    ) -> tuple[list[Message], list[Series], Coverage]:
        return assembled(
            self._source, sel, cache=self.cache, executor=self.executor, workers=self.workers,
            progress=progress, history=history,
        )

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
        sel = self.select(range, since=since, until=until, after=after, by=by)
        messages, found, covered = self._assembled(sel, progress, history=False)
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
        sel = self.select(range, since=since, until=until, after=after, by=by)
        messages, series, covered = self._assembled(sel, progress, history=True)
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



def _checked(messages: Iterator[Message], walk: Walk) -> Iterator[Message]:
    """``messages``, then :class:`DamagedArchiveError` if the walk could not reach
    part of the archive."""
    yield from messages
    raise_damage(walk)


def open_inbox(
    path: str | os.PathLike[str],
    *,
    cache: Store | str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Inbox:
    """Open the public-inbox archive at ``path``: a v2 inbox, one v2 epoch, or v1.

    ``cache`` (a :class:`~patchtrack.store.Store` or the path of its file) keeps
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
    inbox.cache = Store(cache) if cache is not None and not isinstance(cache, Store) else cache
    if workers is not None:
        inbox.workers = workers
    inbox.executor = executor
    return inbox


