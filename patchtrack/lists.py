"""Many lists as one archive: a lore mirror, or inboxes named one by one.

Kernel patches are cross-posted: one mail reaches several lists, and each list's
archive stores its own copy (its own ``List-*`` headers and footers make the copies
different blobs). :func:`open_archive` opens the inboxes of many lists as one
:class:`Archive`; its walk takes every list's mail in arrival order, and its
messages are each distinct mail once — a :class:`~patchtrack.Message` whose
``deliveries`` name every list, epoch, commit and blob that carried it. Copies are
matched by Message-ID before any is parsed, so a mail delivered to k lists is
parsed once. Threads, series, reviews and revisions are assembled over every list:
a review given on one list reaches the patch posted to two.

Which copies are one mail: the k-th copy of a Message-ID on one list and the k-th
on another (within one list, two mails sharing a Message-ID — a ``RESEND`` with the
old id — are two mails, as an inbox of that list alone shows them). The content
kept is the first delivery's (earliest arrival; ties by list name).
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any

import attrs

from ._dates import DateLike
from ._engine._cluster import ingest_on
from ._engine._ingest import (
    WINDOW, IngestStats, canonical, delivered_before, delivered_within, deliveries_for, deliveries_of, distinct_mails, export_parquet, join_copies,
    next_run, store_series, stored_selection, unparsed_copies, window_tips, windows,
)
from ._engine._load import check_workers, load, rebind, usable_cpus
from ._find import find_series
from .archive import (
    Coverage,
    Damage,
    Delivery,
    Held,
    RawMessage,
    Ref,
    Selection,
    Source,
    Walk,
    open_sources,
    raise_damage,
    raw_from,
    report_unreadable,
    selection,
    spans_of,
    utc,
)
from .assemble import assemble
from .store import Store
from .errors import InboxError, RevisionError, UnreadableError
from .identity import DomainMap, Mailmap
from .inbox import Inbox, within_dates
from .message import UNREADABLE, Message, message_id_of
from .report import Report, build_report
from .revisions import last_revision
from .series import Series
from .upstream import Upstream, track
from .vocab import Layout

__all__ = ["Archive", "ListsWalk", "open_archive"]

_NEVER = datetime.min.replace(tzinfo=timezone.utc)

ListCursor = Mapping[str, Mapping[int, str] | Mapping[str, str]]
"""A cursor of an archive of many lists: list name → that list's tips (epoch → commit)."""


class Archive:
    """The inboxes of many lists read as one. Make one with :func:`open_archive`.

    ``lists`` are the list names; :meth:`inbox` is one list alone (an
    :class:`~patchtrack.Inbox`, exactly as :func:`~patchtrack.open_inbox` opens it).
    Every reading method takes ``lists=`` (names; ``None``: all) besides the range
    arguments of :meth:`Inbox.messages <patchtrack.Inbox.messages>`."""

    def __init__(
        self,
        sources: Mapping[str, Source],
        *,
        cache: Store | None = None,
        workers: int | None = None,
        executor: Executor | None = None,
    ) -> None:
        self._sources = dict(sorted(sources.items()))
        self.cache = cache
        self.workers = workers if workers is not None else usable_cpus()
        self.executor = executor

    @property
    def lists(self) -> tuple[str, ...]:
        """The list names, sorted."""
        return tuple(self._sources)

    @property
    def name(self) -> str:
        """The list names, joined: how a report of all of them is titled."""
        return ", ".join(self._sources)

    @property
    def sources(self) -> Mapping[str, Source]:
        """Each list's archive (:class:`patchtrack.archive.Source`), by name."""
        return dict(self._sources)

    def __repr__(self) -> str:
        return f"<Archive lists={list(self.lists)}>"

    def inbox(self, name: str) -> Inbox:
        """The list ``name`` alone, sharing this archive's cache and executor."""
        self._names([name])
        return Inbox(self._sources[name], cache=self.cache, workers=self.workers, executor=self.executor)

    def raw(self, delivery: Delivery) -> bytes:
        """The bytes a list stored for a mail: the copy ``delivery`` names (one of a
        :class:`~patchtrack.Message`'s ``deliveries``)."""
        self._names([delivery.list])
        return self._sources[delivery.list].raw(delivery.oid)

    def tips(self, lists: Iterable[str] | None = None) -> dict[str, dict[int, str]]:
        """Every list's tips (epoch → commit): the cursor for ``after=``; save it as
        JSON and pass it back to read only what arrived since, in every list."""
        return {name: self._sources[name].tips() for name in self._names(lists)}

    def _names(self, lists: Iterable[str] | None) -> tuple[str, ...]:
        if lists is None:
            return self.lists
        if isinstance(lists, str):
            lists = [lists]
        names = tuple(dict.fromkeys(lists))
        unknown = [n for n in names if n not in self._sources]
        if unknown:
            raise InboxError(f"no list {', '.join(map(repr, unknown))} in this archive (lists: {', '.join(self.lists)})")
        return tuple(sorted(names))

    def select(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: ListCursor | None = None,
        by: str = "arrival",
        lists: Iterable[str] | None = None,
    ) -> Selection:
        """A :class:`~patchtrack.archive.Selection`, checked: known lists, dates that
        parse and are in order, ``by`` one of :data:`~patchtrack.archive.BY`, a range
        or a cursor (not both), a cursor of this archive's lists. Revisions are
        resolved when walked, before any mail is read."""
        names = self._names(lists)
        sel = selection(range, since=since, until=until, after=after, by=by, lists=names)
        if after is not None:
            stray = [n for n in after if n not in self._sources]
            if stray:
                raise RevisionError(f"the cursor names lists this archive lacks: {', '.join(map(str, stray))}")
        return sel

    def _walks(self, sel: Selection, names: Sequence[str]) -> dict[str, Walk]:
        """One walk per list, all resolved before any is read (a bad revision
        raises here, naming its list when there are several)."""
        walks = {}
        for name in names:
            after = sel.after.get(name, {}) if sel.after is not None else None
            try:
                walks[name] = self._sources[name].walk(sel.range, after=after, **sel.walked())
            except RevisionError as exc:
                raise RevisionError(f"{name}: {exc}" if len(names) > 1 else str(exc)) from None
        return walks

    def walk(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: ListCursor | None = None,
        lists: Iterable[str] | None = None,
    ) -> ListsWalk:
        """Every selected list's stored mails in ``range``, merged by arrival: each
        delivery once (a :class:`RawMessage` whose ``list`` names its list; copies
        of one mail on several lists are several records here, and one message in
        :meth:`messages`). Removals are left out. Arguments as :meth:`messages`."""
        sel = self.select(range, since=since, until=until, after=after, lists=lists)
        pairs, walks = self.walk_refs(sel)
        return ListsWalk(pairs, walks)

    def walk_refs(self, sel: Selection) -> tuple[list[tuple[str, Ref]], dict[str, Walk]]:
        """The references of ``sel`` in every list it names, merged by arrival (ties:
        list name, then each list's own order), removals left out; and the walks."""
        walks = self._walks(sel, sel.lists)
        streams = [_keyed(i, name, walk) for i, (name, walk) in enumerate(walks.items())]
        return [(name, ref) for _, _, _, name, ref in heapq.merge(*streams)], walks

    def messages(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: ListCursor | None = None,
        by: str = "arrival",
        lists: Iterable[str] | None = None,
        coverage: Callable[[Coverage], None] | None = None,
    ) -> Iterator[Message]:
        """Each distinct mail of the selection once, in order of first arrival, with
        every delivery of it in the selection (``Message.deliveries``).

        The arguments are :meth:`Inbox.messages <patchtrack.Inbox.messages>`', per
        list (``after`` is a cursor from :meth:`tips`), and ``lists``. Raises as it
        does: bad revisions at the call, :class:`DamagedArchiveError` after every
        readable message when part of a list's archive cannot be read.
        ``coverage`` is passed the selection resolved (its ``lists``, each list's
        own: their ``tips`` are the cursor that continues exactly after this call)."""
        sel = self.select(range, since=since, until=until, after=after, by=by, lists=lists)
        found, walks = self._gathered(sel)
        if sel.on_date:
            found = list(within_dates(found, sel.lo, sel.hi))
        if coverage is not None:
            coverage(_combined(sel, [(name, walk.coverage) for name, walk in walks.items()]))
        return _checked(found, walks.values())

    def _gathered(
        self, sel: Selection, progress: Callable[[int], None] | None = None
    ) -> tuple[list[Message], dict[str, Walk]]:
        pairs, walks = self.walk_refs(sel)
        found = gather(pairs, cache=self.cache, executor=self.executor, workers=self.workers, progress=progress)
        return found, walks

    def series(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: ListCursor | None = None,
        by: str = "arrival",
        lists: Iterable[str] | None = None,
        progress: Callable[[int], None] | None = None,
        unreadable: Callable[[Message], None] | None = None,
        coverage: Callable[[Coverage], None] | None = None,
    ) -> list[Series]:
        """The series with mail in the selection, assembled from every list of the
        archive (so a review or a revision on another list counts). As
        :meth:`Inbox.series <patchtrack.Inbox.series>`; ``coverage`` gets the
        selection resolved, its ``lists`` one :class:`Coverage` per list."""
        sel = self.select(range, since=since, until=until, after=after, by=by, lists=lists)
        chosen, everything, covered = self._assembled(sel, progress, history=False)
        if coverage is not None:
            coverage(covered)
        if unreadable is not None:
            for message in chosen:
                if message.problems and message.problems[0].startswith(UNREADABLE):
                    unreadable(message)
        return everything

    def report(
        self,
        range: str | None = None,
        *,
        since: DateLike | None = None,
        until: DateLike | None = None,
        after: ListCursor | None = None,
        by: str = "arrival",
        lists: Iterable[str] | None = None,
        top: int = 15,
        mailmap: Mailmap | None = None,
        domain_map: DomainMap | None = None,
        include_bots: bool = False,
        merge_names: bool = True,
        upstream: Upstream | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Report:
        """The "mailing list update" of the selection: each mail counted once however
        many of the selected lists carried it, with a per-list breakdown
        (``Report.lists``). Review state and revisions come from every list of the
        archive; when that is more than the selected lists, the report says so
        (``Report.also_from``)."""
        sel = self.select(range, since=since, until=until, after=after, by=by, lists=lists)
        messages, series, covered = self._assembled(sel, progress, history=True, later=upstream is not None)
        return build_report(
            ", ".join(sel.lists),
            messages,
            series,
            coverage=covered,
            top=top,
            mailmap=mailmap,
            domain_map=domain_map,
            include_bots=include_bots,
            merge_names=merge_names,
            upstream={t.series.id: t.state for t in track(series, upstream)} if upstream is not None else None,
            lists=sel.lists,
            also_from=tuple(n for n in self.lists if n not in sel.lists),
        )

    def _assembled(
        self, sel: Selection, progress: Callable[[int], None] | None, *, history: bool, later: bool = False
    ) -> tuple[list[Message], list[Series], Coverage]:
        """The selection's messages, and the series holding them assembled from the
        whole archive (with ``history``, their earlier revisions too; with ``later``,
        every revision linked to them: from a store, only those are read; without one,
        every series is given), and the selection resolved.

        A message is in the selection when one of its deliveries is: on a selected
        list, within the range, cursor or arrival window (or, ``by="date"``, with
        its ``Date:`` in the window)."""
        store = self.cache if isinstance(self.cache, Store) else None
        walks = self._walks(sel, sel.lists) if sel.by_range or store is None else None  # a bad range: before any ingest
        if store is not None:
            self.ingest(progress=progress)
        stored = self._stored_window(store, sel) if store is not None and walks is None else None
        if stored is not None:
            inside, where, base = stored
        else:
            inside, where, base = set(), {}, {}
            for name, walk in (walks or self._walks(sel, sel.lists)).items():
                spans = where[name] = {}
                for ref in walk.refs():
                    if not ref[5]:
                        inside.add((name, str(ref[0])))
                        spans.setdefault(str(ref[0]), (ref[2], ref[3], ref[4]))
                raise_damage(walk)
                base[name] = walk.coverage

        def covered(messages: list[Message]) -> Coverage:
            return _combined(sel, [
                (name, attrs.evolve(base[name], spans=spans_of(where[name], {
                    d.oid for m in messages for d in m.deliveries if d.list == name
                })))
                for name in sel.lists
            ])

        if store is not None:
            kept = self._from_store(store, inside, history=history, later=later)
            if kept is not None:
                found, everything = kept
                messages = list(within_dates(found, sel.lo, sel.hi)) if sel.on_date else found
                if not history and sel.on_date:
                    keep = {m.oid for m in messages}
                    everything = [s for s in everything if any(m.oid in keep for m in s.messages)]
                return messages, everything, covered(messages)
        whole = selection(lists=self.lists)
        found, walks = self._gathered(whole, progress)
        for walk in walks.values():
            raise_damage(walk)
        if progress is not None:
            progress(sum(len(m.deliveries) for m in found))  # every delivery done: assembling
        messages = [m for m in found if any((d.list, d.oid) in inside for d in m.deliveries)]
        if sel.on_date:
            messages = list(within_dates(messages, sel.lo, sel.hi))
        everything = list(assemble(found))
        if history or not sel.narrowed and sel.lists == self.lists:
            return messages, everything, covered(messages)
        keep = {m.oid for m in messages}
        return messages, [s for s in everything if any(m.oid in keep for m in s.messages)], covered(messages)

    def _stored_window(
        self, store: Store, sel: Selection
    ) -> tuple[set[tuple[str, str]], dict[str, dict[str, tuple[str, int, int]]], dict[str, Coverage]] | None:
        """What the walks of ``sel`` (no range nor cursor) would give, from the
        deliveries an ingest stored: the (list, blob id) pairs, each list's blob id →
        (commit, epoch, arrival) in walk order, and each list's :class:`Coverage`
        but its spans. Git is read only from each epoch's tip back to the oldest of
        the window's commits, for their order (a week's report of 100,000 mails read
        the whole history for 1.0-1.3 s). ``None`` when the store is not at the
        lists' tips (or cannot say): then the lists are walked."""
        tips = self.tips(sel.lists)
        ingested = store.ingested()
        if any(ingested.get(n) != tips[n] or self._sources[n].layout is not Layout.V2 for n in sel.lists):
            return None
        lo, hi = (None, None) if sel.on_date else (sel.lo, sel.hi)
        rows = delivered_within(store, sel.lists, lo, hi)
        by_epoch: dict[tuple[str, int], set[str]] = {}
        for name, epoch, commit, _, _ in rows:
            by_epoch.setdefault((name, epoch), set()).add(commit)
        place: dict[tuple[str, str], int] = {}
        for (name, epoch), commits in by_epoch.items():
            tip = tips[name].get(epoch)
            found = None if tip is None else self._sources[name].chain_positions(epoch, tip, commits)
            if found is None:
                return None
            place.update(((name, c), n) for c, n in found.items())
        rows.sort(key=lambda r: (r[0], r[1], -place[r[0], r[2]], r[3]))
        where: dict[str, dict[str, tuple[str, int, int]]] = {name: {} for name in sel.lists}
        for name, epoch, commit, oid, when in rows:
            where[name].setdefault(oid, (commit, epoch, when))
        base = {name: Coverage(spans=(), tips=tuple(sorted(tips[name].items())), since=utc(lo), until=utc(hi))
                for name in sel.lists}
        return {(name, oid) for name, *_, oid, _ in rows}, where, base

    def _store(self, what: str) -> Store:
        if not isinstance(self.cache, Store):
            raise InboxError(f"{what} needs a store: open the archive with cache=Store(path) (or a path)")
        return self.cache

    def ingest(
        self, *, progress: Callable[[int], None] | None = None, window: int = WINDOW, client: Any = None
    ) -> IngestStats:
        """Read every list's mail that arrived since the last ingest into the store
        (``cache``): parsed mail, its deliveries, the cursor of each list; then
        the series of the whole archive. The first ingest reads everything; a list
        whose history was rewritten is read whole again.

        The walk goes in windows of ``window`` deliveries, each written with the
        cursor that ends it in one transaction: memory holds a window, and a run
        that is killed loses at most the window it was in (the next ingest goes on
        from the last one written; nothing is doubled). With ``client`` (a
        :class:`distributed.Client`: ``pip install 'patchtrack[dask]'``), the mail
        is parsed on its cluster's workers, which must see the archive at the same
        path (a shared file system; see :mod:`patchtrack._engine._cluster`), and
        ``mails`` counts every distinct mail of the lists. ``progress`` is called
        with the deliveries read so far. Raises :class:`DamagedArchiveError` after
        writing every readable mail, as :meth:`messages` does."""
        store = self._store("ingest")
        before = store.ingested()
        now = self.tips()
        cursor: dict[str, dict[int, str]] = {}
        reread = []
        for name in self.lists:
            old = before.get(name)
            if not old:
                continue
            if old == now[name] or self._sources[name].grew_from(old, now[name]):
                cursor[name] = old
            else:
                reread.append(name)
        if reread:
            store.forget_lists(reread)
        walks = self._walks(selection(after=cursor, lists=self.lists), self.lists)
        streams = [_keyed(i, name, walk) for i, (name, walk) in enumerate(walks.items())]
        pairs = ((name, ref) for _, _, _, name, ref in heapq.merge(*streams))  # never all in memory
        done = {name: dict(epochs) for name, epochs in cursor.items()}
        stored, written, run = store.stats.stored, 0, next_run(store)
        def repeats(dropped: Sequence[tuple[str, Ref]] = ()) -> list[tuple[str, int, str, int, str]]:
            """The blobs delivered again: those the walks passed over, ``dropped``."""
            found = [(name, epoch, commit, when, oid) for name, walk in walks.items()
                     for epoch, commit, oid, when in walk.repeats()]
            return found + [(name, ref[3], ref[2], ref[4], str(ref[0])) for name, ref in dropped]

        if client is not None:  # parsed on the cluster, merged here; one cursor at the end
            written = ingest_on(client, store, pairs, run, done, progress=progress, repeats=repeats)
        for whole in windows(pairs if client is None else iter(()), window):
            part, dropped = delivered_before(store, whole) if cursor else (whole, [])
            found = gather(
                part, cache=store, executor=self.executor, workers=self.workers,
                progress=None if progress is None else _offset(progress, written),
            )
            done = window_tips(whole, done)  # past the deliveries left out too
            store.put_deliveries(deliveries_of(found), done, run, repeats(dropped))
            written += len(part)
            if progress is not None:
                progress(written)
        leftover = repeats() if client is None else []  # after the last window (or with none)
        if leftover:
            store.put_deliveries([], done, run, leftover)
        joined = join_copies(store, run) if written else 0
        mails = distinct_mails(store, run) if written else 0
        for walk in walks.values():
            raise_damage(walk)
        self._parse_own_copies(store)
        count = store_series(store, self.tips(), window=window, before=before if written and not reread else None, run=run)
        return IngestStats(
            deliveries=written, mails=mails, parsed=store.stats.stored - stored, joined=joined, series=count,
            reread=tuple(reread),
        )

    def _parse_own_copies(self, store: Store) -> None:
        """Parse the copies these lists delivered of mails another list of the store
        carried first (and was parsed from): an archive of these lists reads its own
        copy, as it does without a store (its List-Id, its blob id)."""
        missing = unparsed_copies(store, self.lists)
        if not missing:
            return
        for name, walk in self._walks(selection(lists=self.lists), self.lists).items():
            pairs = [(name, ref) for ref in walk.refs() if not ref[5] and str(ref[0]) in missing]
            if pairs:  # one list at a time: copies on one list are never joined, so each is parsed
                gather(pairs, cache=store, executor=self.executor, workers=self.workers)
        store.flush()

    def sql(self, query: str, params: Sequence[Any] | None = None, *, ingest: bool = True) -> Any:
        """The result of one ``SELECT`` over the store's views
        (:data:`patchtrack.store.VIEWS`), as a :class:`pyarrow.Table`
        (``.to_pandas()`` for a data frame). With ``ingest`` (the default), new
        mail is ingested first (:meth:`ingest`), so the answer is the archive's
        as it is now. Raises :class:`~patchtrack.store.StoreError` for a query
        DuckDB refuses, or one that would change the store."""
        store = self._store("sql")
        if ingest:
            self.ingest()
        return store.sql(query, self.lists, params)

    def to_parquet(self, directory: str | os.PathLike[str], *, ingest: bool = True) -> dict[str, int]:
        """Write every view of the store as Parquet files under ``directory``
        (``<view>/list=<name>/year=<YYYY>/…parquet``, Hive partitioning: Spark,
        DuckDB, pandas and Arrow read the folder as one table), after ingesting new
        mail. Returns the rows written per view. Views without a list or a year
        (a series is put under the list and year of its first mail)."""
        store = self._store("export")
        if ingest:
            self.ingest()
        return export_parquet(store, self.lists, directory)

    def _from_store(
        self, store: Store, inside: set[tuple[str, str]], *, history: bool, later: bool
    ) -> tuple[list[Message], list[Series]] | None:
        """The mails of the deliveries ``inside`` (list, blob id), each once, and the
        series holding them (and their revisions: see :func:`stored_selection`), as the
        last ingest stored them (the caller ingests first: the state is this one);
        ``None`` when the store has none (a series of it lost)."""
        chosen = canonical(store, inside, self.lists)
        kept = stored_selection(store, self.tips(), chosen, history=history, later=later)
        if kept is None:
            return None
        messages, series = kept
        records = {id(m): m for m in messages}
        for s in series:
            for m in (*([s.cover] if s.cover is not None else []), *(p.message for p in s.patches), *s.messages):
                records.setdefault(id(m), m)
        where = deliveries_for(store, self.lists, {m.oid for m in records.values()})
        for m in records.values():
            object.__setattr__(m, "deliveries", where.get(m.oid, ()))  # as gather sets them
        messages.sort(key=lambda m: (m.deliveries[0].time, m.deliveries[0].list) if m.deliveries else (_NEVER, ""))
        return messages, series

    _whole: tuple[dict[str, dict[int, str]], list[Series]] | None = None

    def newest(self, series: Series, *, same_author: bool = False) -> Series:
        """The newest revision of ``series`` in any list (see
        :meth:`Inbox.newest <patchtrack.Inbox.newest>`)."""
        return last_revision(series, {s.id: s for s in self._everything(None, None)}, same_author=same_author)

    def _everything(
        self, progress: Callable[[int], None] | None, unreadable: Callable[[Message], None] | None
    ) -> list[Series]:
        tips = self.tips()
        if self._whole is None or self._whole[0] != tips:
            self._whole = (tips, self.series(progress=progress, unreadable=unreadable))
        return self._whole[1]

    def find(
        self,
        msgid: str,
        *,
        progress: Callable[[int], None] | None = None,
        unreadable: Callable[[Message], None] | None = None,
    ) -> Series | None:
        """The series holding the mail ``msgid`` in any list (see
        :meth:`Inbox.find <patchtrack.Inbox.find>`)."""
        return find_series(self._everything(progress, unreadable), msgid)


class ListsWalk(Iterator[RawMessage]):
    """A walk of many lists (:meth:`Archive.walk`): its records, and each list's
    own :class:`~patchtrack.Walk` (``walks``: stats, coverage, damage)."""

    def __init__(self, pairs: list[tuple[str, Ref]], walks: dict[str, Walk]) -> None:
        self.walks = walks
        self._pairs = pairs
        self._it = self._run()

    def refs(self) -> list[tuple[str, Ref]]:
        """The (list, reference) pairs, read no mail."""
        return self._pairs

    def _run(self) -> Iterator[RawMessage]:
        for name, ref in self._pairs:
            try:
                data = ref[1].data
            except UnreadableError as exc:
                report_unreadable(ref, exc)
                continue
            yield attrs.evolve(raw_from(str(ref[0]), ref[2], ref[3], ref[4], data), list=name)

    def __next__(self) -> RawMessage:
        return next(self._it)

    @property
    def damage(self) -> tuple[Damage, ...]:
        return tuple(d for walk in self.walks.values() for d in walk.damage)


def gather(
    pairs: Sequence[tuple[str, Ref]],
    *,
    cache: Store | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Message]:
    """The distinct mails of ``pairs`` (list name, reference; in arrival order), each
    once with its deliveries, in order of first delivery; each parsed once.

    Copies are matched by blob id, then by Message-ID (see the module's docstring):
    a copy the cache has gives its Message-ID decoded, any other has its headers
    read here (~2 % of parsing it). Only the first copy of each mail is parsed —
    through :func:`patchtrack._engine._load.load`, so on the executor or pool.
    ``progress`` is called with the deliveries grouped so far, every 500 parsed."""
    persons: dict[Any, Any] = {}
    known: dict[str, Message] = {}
    if cache is not None:
        oids = list(dict.fromkeys(str(ref[0]) for _, ref in pairs))
        for at in range(0, len(oids), 1000):
            known.update(cache.get_many(oids[at : at + 1000], persons))
        # the load looks the mails to parse up again: count each miss once, as a parse
        cache.stats.misses -= len(oids) - len(known)
    several = len({name for name, _ in pairs}) > 1
    groups: list[list[tuple[str, Ref]]] = []
    group_of: dict[str, int] = {}
    slots: dict[str, list[int]] = {}
    copies: Counter[tuple[str, str]] = Counter()
    ids: list[str] = []

    def to_parse() -> Iterator[Ref]:
        """The first copy of each mail the cache lacks, as the grouping meets it:
        the load parses while the rest is grouped, and a mail whose headers were
        read here is not read again in this process (only a chunk's mails are held)."""
        for name, ref in pairs:
            oid = str(ref[0])
            g = group_of.get(oid)
            if g is None:
                msgid, data = "", None
                if several:
                    cached = known.get(oid)
                    if cached is not None:
                        msgid = cached.msgid
                    else:
                        msgid, data = _scanned(ref)
                g = -1
                if msgid:
                    k = copies[msgid, name]
                    ours = slots.setdefault(msgid, [])
                    if k < len(ours):
                        g = ours[k]
                if g < 0:
                    g = len(groups)
                    groups.append([])
                    ids.append(msgid)
                    if msgid:
                        slots[msgid].append(g)
                    if oid not in known:
                        yield ref if data is None else (ref[0], Held(ref[1], data), *ref[2:])  # type: ignore[misc]
                group_of[oid] = g
            if ids[g]:
                copies[ids[g], name] += 1
            groups[g].append((name, ref))

    parsed: dict[str, Message] = {}
    for ref, m in load(to_parse(), cache=cache, executor=executor, workers=workers):
        parsed[str(ref[0])] = m
        if progress is not None and len(parsed) % 500 == 0:
            progress(sum(map(len, groups)))
    out = []
    for group in groups:
        name, ref = group[0]
        oid = str(ref[0])
        first = known.get(oid)
        message = parsed[oid] if first is None else rebind(first, ref[2], ref[3], ref[4])
        deliveries = tuple(Delivery(n, r[3], r[2], datetime.fromtimestamp(r[4], timezone.utc), str(r[0])) for n, r in group)
        # Set on the record made for this call alone (parsed, or decoded from the
        # cache, above): attrs.evolve ran every field's converter again, ~19 µs a
        # mail, most of the 1.2 s the five corpora as one archive cost over the
        # lists alone (19.7 against 18.5 s).
        object.__setattr__(message, "deliveries", deliveries)
        out.append(message)
    return out


def _offset(progress: Callable[[int], None], at: int) -> Callable[[int], None]:
    return lambda n: progress(at + n)


def _combined(sel: Selection, per_list: list[tuple[str, Coverage]]) -> Coverage:
    """A selection's coverage from each list's: of one list, its own (with ``lists``
    naming it, so a cursor saved from it is the archive's); of several, ``lists``."""
    since, until = utc(sel.lo), utc(sel.hi)
    lists = tuple((name, attrs.evolve(c, since=since, until=until, by=sel.by)) for name, c in per_list)
    if len(lists) == 1:
        return attrs.evolve(lists[0][1], lists=lists)
    return Coverage(spans=(), since=since, until=until, by=sel.by, cursor=sel.after is not None, lists=lists)


def _checked(messages: list[Message], walks: Iterable[Walk]) -> Iterator[Message]:
    """``messages``, then :class:`DamagedArchiveError` if a walk could not reach part
    of its list's archive."""
    yield from messages
    for walk in walks:
        raise_damage(walk)


def _keyed(i: int, name: str, walk: Walk) -> Iterator[tuple[int, int, int, str, Ref]]:
    """A list's references with their merge key: arrival, the list's place, its own order."""
    for n, ref in enumerate(walk.refs()):
        if not ref[5]:
            yield ref[4], i, n, name, ref


def _scanned(ref: Ref) -> tuple[str, bytes | None]:
    """The Message-ID of a reference's mail, from its headers, and the mail; ``""``
    and ``None`` when it cannot be read (the load makes its problem record and
    counts it)."""
    try:
        data = ref[1].data
    except UnreadableError:
        return "", None
    return message_id_of(data), data


def open_archive(
    where: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]],
    *,
    cache: Store | str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor: Executor | None = None,
) -> Archive:
    """Open the inboxes of many lists as one :class:`Archive`.

    ``where`` is a mirror root (every inbox under it is found: grokmirror's
    ``<list>/git/<N>.git``, clones named ``<list>.<N>.git`` — one list however many
    epochs it is cloned in —, v1), one inbox, a sequence of inbox paths, or a
    mapping of list name → path. Lists are named as
    :func:`patchtrack.archive.open_sources` says. ``cache``, ``workers`` and
    ``executor`` are :func:`~patchtrack.open_inbox`'s."""
    if workers is not None:
        workers = check_workers(workers)
    sources = open_sources(where)
    return Archive(
        sources,
        cache=Store(cache) if cache is not None and not isinstance(cache, Store) else cache,
        workers=workers,
        executor=executor,
    )
