"""A selection's mails and its series, assembled from the whole archive of one
list: through the stored assembly of the archive's state when the cache has it,
extended from an earlier state's after new mail, or built (and stored) anew.

This is :meth:`patchtrack.Inbox.series` and :meth:`~patchtrack.Inbox.report` under
the hood.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor

import attrs

from ..archive import Coverage, Ref, Selection, Source, Walk, raise_damage, spans_of, utc
from ._store import Store
from ..message import Message
from ..series import Series
from ._index import Assembly, State, Stored, arrived, assembly_key, assembly_scope, load, store
from ._load import load_messages
from ._reassemble import assemble_stored, reassemble

__all__ = ["assembled", "selected_walk", "within_dates"]


def within_dates(messages: Iterable[Message], lo: float | None, hi: float | None) -> Iterator[Message]:
    """The ``messages`` whose ``Date:`` lies within ``lo``..``hi`` (POSIX seconds,
    inclusive; ``None``: open)."""
    for m in messages:
        if m.date is None:
            continue
        when = m.date.timestamp()
        if (lo is None or when >= lo) and (hi is None or when <= hi):
            yield m


def selected_walk(source: Source, sel: Selection) -> Walk:
    """The walk of a selection: windowed by arrival, or whole when the window is on
    ``Date:`` (every mail is parsed to read it)."""
    return source.walk(sel.range, after=sel.after, **sel.walked())


def assembled(
    source: Source,
    sel: Selection,
    *,
    cache: Store | None,
    executor: Executor | None,
    workers: int,
    progress: Callable[[int], None] | None,
    history: bool,
) -> tuple[list[Message], list[Series], Coverage]:
    """The mails of ``sel`` (in walk order) and the series with mail among them,
    assembled from the whole archive — with ``history``, also every other revision
    those series link to (a report names when a series was first seen, and which
    revision landed upstream) — and the selection resolved.

    A mail is in a date window when its first delivery is. A range or a cursor is
    walked on its own (a short walk). With a cache, the whole archive's assembly is
    stored under the archive's state, and a later call on the same state decodes only
    the series it returns (see :mod:`patchtrack._engine._index`)."""
    lo, hi = sel.lo, sel.hi
    selected = selected_walk(source, sel)  # raises now if bad
    # a range's own deliveries (a mail delivered again inside it counts there)
    where = {str(r[0]): (r[2], r[3], r[4]) for r in selected.refs() if not r[5]} if sel.by_range else None
    inside = set(where) if where is not None else None
    raise_damage(selected)
    covered = attrs.evolve(selected.coverage, since=utc(lo), until=utc(hi), by=sel.by)
    on_date = sel.on_date
    dated = not sel.by_range and not on_date and sel.windowed
    tips = source.tips()
    key = assembly_key(source.layout, tips) if cache is not None else ""
    stored = load(cache, key) if cache is not None else None
    index = stored.assembly if stored is not None else None
    if cache is not None and index is None and (grown := _reassembled(source, cache, tips, executor, workers)) is not None:
        index, state, base = grown
        _store(source, cache, key, tips, index, state, base)
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
    whole = source.walk()
    for message in load_messages(tap(whole.refs()), cache=cache, executor=executor, workers=workers):
        found.append(message)
        if progress is not None and len(found) % 500 == 0:
            progress(len(found))
    raise_damage(whole)
    if progress is not None:
        progress(len(found))
    everything, index, state = assemble_stored(found, deliveries)
    if cache is not None:
        _store(source, cache, key, tips, index, state)
    chosen = arrived(deliveries, lo, hi) if dated else inside
    if on_date:
        chosen = {m.oid for m in within_dates(found, lo, hi) if chosen is None or m.oid in chosen}
    covered = attrs.evolve(covered, spans=spans_of(where if where is not None else deliveries, chosen))
    messages = found if chosen is None else [m for m in found if m.oid in chosen]
    if chosen is None or history:
        return messages, list(everything), covered
    return messages, [s for s in everything if any(m.oid in chosen for m in s.messages)], covered


def _store(
    source: Source, cache: Store, key: str, tips: dict[int, str], index: Assembly, state: State,
    base: Stored | None = None,
) -> None:
    """Keep an archive state's assembly, with what extending it later needs (as
    its difference from ``base``, the stored one it extends, when there is one)."""
    store(cache, key, assembly_scope(source.layout), json.dumps(tips), index, state, base)


def _reassembled(
    source: Source, cache: Store, tips: dict[int, str], executor: Executor | None, workers: int
) -> tuple[Assembly, State, Stored] | None:
    """The assembly of the archive as it is now, from the newest stored one of an
    earlier state of it (see :mod:`patchtrack._engine._reassemble`): only mail that
    arrived since is walked, and parsed when the cache lacks it. ``None`` when no
    stored state is an earlier state of this archive. Returns the stored assembly
    it was extended from as well."""
    for stored_key, saved in cache.assembly_bases(assembly_scope(source.layout)):
        before = {int(n): commit for n, commit in json.loads(saved).items()}
        if not source.grew_from(before, tips):
            continue
        stored = load(cache, stored_key, state=True)
        if stored is None or stored.state is None:
            continue
        base = stored.assembly
        deliveries: dict[str, tuple[str, int, int]] = {}
        refs = []
        since = source.walk(after=before)
        for ref in since.refs():
            oid = str(ref[0])
            if not ref[5] and oid not in base.deliveries and oid not in deliveries:
                deliveries[oid] = (ref[2], ref[3], ref[4])
                refs.append(ref)
        raise_damage(since)
        new = list(load_messages(iter(refs), cache=cache, executor=executor, workers=workers))
        grown = reassemble(base, stored.state, new, deliveries, cache)
        return None if grown is None else (*grown, stored)
    return None
