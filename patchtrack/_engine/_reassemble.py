"""After new mail: assemble again only what the new mail can change.

A whole-archive assembly (:mod:`patchtrack._engine._index`) is a pure function of the set of
messages, but most of it is local. New mail can change

* **reply trees**: those holding an id the new mail names or is, those whose parent
  links (ghosts' included) changed, and whatever trees share a message or a series
  with those, transitively;
* **grouping**: unthreaded fragments merge with fragments of the same
  :func:`~patchtrack.series.group_key` posted within
  :data:`~patchtrack.series.UNTHREADED_WINDOW` — so a series of another tree joins
  the region when its span comes that close to a fragment of the region, or to a
  series the region replaces;
* **revision links**: a series' previous revision is chosen among *earlier* series
  that give it evidence, so only the region's series and later series related to the
  region (a shared change-id, patch-id, title, author, linked or parent Message-ID)
  are linked again; ``next``, status and carried follow-ups are then recomputed for
  all, and a series whose content did not change keeps its stored row.

Everything else is the stored assembly, unchanged and undecoded. The result equals
a full assembly of the new archive state (tests/test_reassemble.py checks it on
every split point of the fixtures and on the corpora). :func:`state_of` makes the
:class:`~patchtrack._engine._index.State` a full assembly stores.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

from . import _codec, _series_codec
from ._index import Assembly, Delivery, GroupSpan, Skeleton, State
from ._load import rebind
from ._store import Store
from ..message import Message
from ..revisions import LinkIndex, LinkKey, carry, followers, link_keyed, links, relinked
from ..series import (
    UNTHREADED_WINDOW, GroupKey, Series, build_series, filed_under, fragments, group_key, group_series, series_members,
)
from ..thread import Threads, arrival_key, chain, forest, grow_forest, root_finder, thread

__all__ = ["assemble_stored", "reassemble", "state_of", "skeleton_of"]

_WINDOW = UNTHREADED_WINDOW.total_seconds() + 1  # a second's slack: only ever adds to the region


def skeleton_of(message: Message) -> Skeleton:
    """What threading reads of ``message``."""
    return (arrival_key(message)[0], message.msgid, chain(message))


def _span(s: Series) -> GroupSpan:
    # the earliest series mail heads the first fragment, which took the others in
    members = ([s.cover] if s.cover is not None else []) + [p.message for p in s.patches] + list(s.duplicates)
    head = min(members, key=arrival_key)
    return (
        group_key(head),
        s.first_date.timestamp() if s.first_date else None,
        s.last_date.timestamp() if s.last_date else None,
    )


def state_of(messages: Iterable[Message], threads: Threads, series: Sequence[Series], keys: Sequence[LinkKey]) -> State:
    """The state a full assembly stores: ``series`` and their ``keys`` as
    :func:`patchtrack.revisions.link_keyed` returned them for ``threads`` of
    ``messages``."""
    # one object per id, so marshal writes each id once (and a load makes it once)
    ids: dict[str, str] = {}
    one = ids.setdefault
    skeleton = {
        m.oid: (when, one(msgid, msgid), tuple(one(i, i) for i in names))
        for m in messages if m.msgid
        for when, msgid, names in (skeleton_of(m),)
    }
    return State(
        skeleton,
        {one(i, i): one(p, p) for i, p in threads.parents.items()},
        {one(msgid, msgid): m.oid for msgid, m in threads.messages.items()},
        [_series_codec.encode_key(k) for k in keys],
        [_span(s) for s in series],
    )


def assemble_stored(
    messages: Sequence[Message], deliveries: dict[str, Delivery]
) -> tuple[tuple[Series, ...], Assembly, State]:
    """:func:`patchtrack.assemble` of a whole archive, with what the cache keeps of
    it: the :class:`Assembly` and the :class:`State` to re-assemble from."""
    threads = thread(messages)
    series, keys = link_keyed(group_series(threads), threads.parents)
    return series, Assembly.of(series, deliveries), state_of(messages, threads, series, keys)


class _Runs:
    """The stored series' posting spans, per :func:`~patchtrack.series.group_key`, in
    runs: spans that come within the unthreaded window of one another, one after the
    other. A span that comes that close to one series of a run draws in the whole run
    (one series at a time, the region grows to it all the same); each run is found
    by bisection. Comparing each span with every stored series of its key made a
    sender's thousands of single patches cost a quadratic pass per re-assembly."""

    def __init__(self, spans: Sequence[GroupSpan]) -> None:
        by_key: dict[tuple[Any, ...], list[tuple[float, float, int]]] = {}
        for n, (key, first, last) in enumerate(spans):
            if first is not None and last is not None:  # undated fragments never merge
                for filed in filed_under(key):
                    by_key.setdefault(filed, []).append((first - _WINDOW, last, n))
        self.runs: dict[tuple[Any, ...], tuple[list[float], list[float], list[list[int]]]] = {}
        for key, found in by_key.items():
            found.sort()
            starts: list[float] = []
            ends: list[float] = []
            members: list[list[int]] = []
            for lo, hi, n in found:  # a span reaches back by the window: [first - window, last]
                if members and lo <= ends[-1]:
                    ends[-1] = max(ends[-1], hi)
                    members[-1].append(n)
                else:
                    starts.append(lo)
                    ends.append(hi)
                    members.append([n])
            self.runs[key] = (starts, ends, members)
        self.drawn: set[tuple[tuple[Any, ...], int]] = set()

    def reached(self, key: GroupKey, first: float, last: float) -> Iterator[int]:
        """The rows of the runs that a span of ``key`` from ``first`` to ``last`` comes
        within the window of, but for runs already given (each is given once)."""
        for filed in filed_under(key):
            found = self.runs.get(filed)
            if found is None:
                continue
            starts, ends, members = found
            at = bisect.bisect_left(ends, first - _WINDOW)
            while at < len(starts) and starts[at] <= last:
                if (filed, at) not in self.drawn:
                    self.drawn.add((filed, at))
                    yield from members[at]
                at += 1


def reassemble(
    base: Assembly,
    state: State,
    new: Sequence[Message],
    deliveries: Mapping[str, Delivery],
    cache: Store,
) -> tuple[Assembly, State] | None:
    """The assembly of ``base``'s messages plus ``new`` (mail not in ``base``, with
    ``deliveries`` their first deliveries), and its state; ``None`` when the cache no
    longer holds a message it needs (assemble in full then)."""
    skeleton = dict(state.skeleton)
    for m in new:
        if m.msgid:
            skeleton[m.oid] = skeleton_of(m)
    ordered = sorted(skeleton, key=lambda oid: (skeleton[oid][0], skeleton[oid][1], oid))
    # ids whose place changed: the new mail's, re-parented ids, and a new kept copy
    dirty = {m.msgid for m in new if m.msgid}
    grown = _grown(state, skeleton, ordered)
    if grown is not None:  # the stored links stand: only new ones were added
        kept, parents = grown
        dirty.update(i for i in parents if i not in state.parents)
    else:
        kept_at, parents, _ = forest([(skeleton[o][1], skeleton[o][2]) for o in ordered])
        kept = {msgid: ordered[n] for msgid, n in kept_at.items()}
        dirty.update(i for i, p in parents.items() if state.parents.get(i) != p)
        dirty.update(i for i in state.parents if i not in parents)
        dirty.update(i for i, o in kept.items() if state.kept.get(i) != o)
    old, fresh = _Trees(state.parents, state.kept), _Trees(parents, kept)
    rows_of: dict[str, list[int]] = {}  # Message-ID → stored rows holding a copy of it
    for n, row in enumerate(base.rows):
        for o in _series_codec.series_oids(row):
            rows_of.setdefault(state.skeleton[o][1], []).append(n)
    runs = _Runs(state.spans)
    asked: set[tuple[Any, ...]] = set()  # spans whose runs are in the region

    # the region: old trees, new trees and stored series that must be built again
    olds: set[str] = set()
    news: set[str] = set()
    rows: set[int] = set()
    decoded = {m.oid: m for m in new}  # the region's messages, kept across passes
    todo: list[tuple[str, Any]] = [("old", old.root(i)) for i in dirty] + [("new", fresh.root(i)) for i in dirty]
    while True:
        while todo:
            kind, item = todo.pop()
            if kind == "old" and item not in olds:
                olds.add(item)
                for i in old.members(item):
                    todo.append(("new", fresh.root(i)))
                    todo += [("row", n) for n in rows_of.get(i, ())]
            elif kind == "new" and item not in news:
                news.add(item)
                todo += [("old", old.root(i)) for i in fresh.members(item) if i in state.kept]
            elif kind == "row" and item not in rows:
                rows.add(item)
                todo += [("old", old.root(state.skeleton[o][1])) for o in _series_codec.series_oids(base.rows[item])]
        threads = _region(news, fresh, kept, ordered, skeleton, parents, decoded, deliveries, base, cache)
        if threads is None:
            return None
        members = series_members(threads)
        pieces = fragments(threads, members)
        # stored series whose grouping the region can reach through the window
        spans: list[tuple[GroupKey, float, float]] = [
            (group_key(g.mails[0]), g.first.timestamp(), g.last.timestamp()) for g in pieces if g.first and g.last
        ]
        for n in rows:
            key, first, last = state.spans[n]
            if first is not None and last is not None:
                spans.append((key, first, last))
        todo = []
        for span in spans:
            if span not in asked:
                asked.add(span)
                todo += [("row", n) for n in runs.reached(*span) if n not in rows]
        if not todo:
            break

    return _relink(base, state, rows, build_series(threads, members, pieces), parents, skeleton, kept, deliveries, cache)


def _grown(
    state: State, skeleton: Mapping[str, Skeleton], ordered: list[str]
) -> tuple[dict[str, str], dict[str, str]] | None:
    """The kept copies and the links of all messages, the new ones linked into the
    stored forest (:func:`~patchtrack.thread.grow_forest`) — when that is what
    linking them all again gives: every new message arrives after every stored one,
    and none has an id the stored forest names other than as a message's (a ghost
    that arrived, a parent of ghosts). ``None`` otherwise: link them all."""
    tail = ordered[len(state.skeleton):]
    if any(o in state.skeleton for o in tail):  # a new message sorts among the stored
        return None
    parents = dict(state.parents)
    firsts = grow_forest(parents, state.kept, [(skeleton[o][1], skeleton[o][2]) for o in tail])
    if firsts is None:  # a ghost or a parent of the stored forest arrived
        return None
    return {**state.kept, **{msgid: tail[n] for msgid, n in firsts.items()}}, parents


def _region(
    news: set[str],
    trees: _Trees,
    kept: Mapping[str, str],
    ordered: list[str],
    skeleton: Mapping[str, Skeleton],
    parents: dict[str, str],
    decoded: dict[str, Message],
    deliveries: Mapping[str, Delivery],
    base: Assembly,
    cache: Store,
) -> Threads | None:
    """The reply forest of the region's trees, in arrival order, under the whole
    archive's parent links; its messages are taken from ``decoded`` (the new mail,
    and what an earlier pass decoded), the rest decoded from the cache into it."""
    msgids = {i for tree in news for i in trees.members(tree)}
    kept_oids = {kept[i] for i in msgids}
    copy_oids = [o for o in ordered if skeleton[o][1] in msgids and kept[skeleton[o][1]] != o]
    copied = set(copy_oids)
    wanted = [o for o in ordered if (o in kept_oids or o in copied) and o not in decoded]
    found = cache.get_many(wanted)
    if len(found) != len(wanted):
        return None
    decoded.update((o, rebind(m, *(base.deliveries.get(o) or deliveries[o]))) for o, m in found.items())
    return Threads(
        messages={decoded[o].msgid: decoded[o] for o in ordered if o in kept_oids},
        parents=parents,
        children={},  # grouping climbs parents only
        duplicates=tuple(decoded[o] for o in copy_oids),
    )


def _relink(
    base: Assembly,
    state: State,
    gone: set[int],
    built: Sequence[Series],
    parents: dict[str, str],
    skeleton: dict[str, Skeleton],
    kept: dict[str, str],
    deliveries: Mapping[str, Delivery],
    cache: Store,
) -> tuple[Assembly, State] | None:
    """Link ``built`` (the region's series, unlinked) among the stored rows not
    ``gone``; every row's links and status are set again, and a stored row is encoded
    again only when its content can differ (a new previous revision, or one whose
    content changed, whose follow-ups it carries)."""
    persons: _codec.Interned = {}
    decoded: dict[int, Series] = {}

    def stored(n: int) -> Series:  # a stored series as linked, decoded once
        if n not in decoded:
            found = base.series([n], cache)
            if found is None:
                raise _Missing
            decoded[n] = found[0]
        return decoded[n]

    def texts(n: int) -> list[str]:  # a stored series' commit messages, for its words
        oids = _series_codec.patch_oids(base.rows[n])
        found = cache.get_many(oids, persons)
        if len(found) != len(set(oids)):
            raise _Missing
        return [found[o].commit_message or "" for o in oids]

    # every series' key, in order: stored ones for the rows kept, fresh ones for the region
    entries: list[tuple[LinkKey, int | Series]] = [
        (_series_codec.decode_key(state.keys[n], functools.partial(texts, n), persons), n)
        for n in range(len(base.rows)) if n not in gone
    ]
    entries += [(LinkKey.of(s, parents), s) for s in built]
    entries.sort(key=lambda e: e[0].order)
    index = LinkIndex.of([k for k, _ in entries])
    position = {k.id: p for p, (k, _) in enumerate(entries)}

    # linked again: the region's series, and later series the region gives evidence to
    region = [_series_codec.decode_key(state.keys[n], functools.partial(texts, n), persons) for n in gone]
    region += [k for k, s in entries if isinstance(s, Series)]
    start = min((k.order for k in region), default=None)
    near = _Near(region)
    previous: dict[int, tuple[int, tuple[str, ...]]] = {}
    try:
        for p, (k, origin) in enumerate(entries):
            if isinstance(origin, Series) or (start is not None and k.order > start and near.related(k)):
                found: tuple[int, tuple[str, ...]] | None = index.previous(p)
            else:  # its previous revision, if any, is stored, not gone: a gone one would make it related
                before_id, evidence = _series_codec.series_previous(base.rows[origin])
                found = None if before_id is None else (position[before_id], evidence)
            if found is not None:
                previous[p] = found
        following = followers(previous)
        _prefetch(decoded, base, entries, previous, cache)

        rows: list[tuple[Any, ...]] = []
        final: dict[int, Series] = {}  # series built again (their content may differ)
        for p, (k, origin) in enumerate(entries):
            before = previous.get(p)
            if isinstance(origin, int):
                same = _series_codec.series_previous(base.rows[origin])[0] == (entries[before[0]][0].id if before else None)
                if same and (before is None or before[0] not in final):
                    rows.append(_series_codec.relink_row(base.rows[origin], **links(p, index, previous, following)))
                    continue
                s = _unlinked(stored(origin))
            else:
                s = origin
            if before is not None:
                m = before[0]
                prev = final[m] if m in final else stored(entries[m][1])  # type: ignore[arg-type]
                s = carry(s, prev)
            final[p] = relinked(s, p, index, previous, following)
            rows.append(_series_codec.encode_series(final[p]))
    except _Missing:
        return None

    spans = {n: state.spans[n] for n in range(len(base.rows)) if n not in gone}
    fresh_spans = {s.id: _span(s) for s in built}
    keys = {n: state.keys[n] for n in spans}
    return (
        Assembly(rows, {**base.deliveries, **deliveries}),
        State(
            skeleton,
            parents,
            kept,
            [keys[o] if isinstance(o, int) else _series_codec.encode_key(k) for k, o in entries],
            [spans[o] if isinstance(o, int) else fresh_spans[k.id] for k, o in entries],
        ),
    )


def _prefetch(
    decoded: dict[int, Series],
    base: Assembly,
    entries: Sequence[tuple[LinkKey, int | Series]],
    previous: Mapping[int, tuple[int, tuple[str, ...]]],
    cache: Store,
) -> None:
    """Decode at once the stored series :func:`_relink`'s loop will ask for (the
    same decisions, made ahead): one look-up for all of them instead of one a
    series — against a DuckDB store of 250,000 mails a look-up costs a few
    milliseconds whatever its size, and a window's relinking asked for thousands."""
    rebuilt: set[int] = set()
    wanted: set[int] = set()
    for p, (_, origin) in enumerate(entries):
        before = previous.get(p)
        if isinstance(origin, int):
            same = _series_codec.series_previous(base.rows[origin])[0] == (entries[before[0]][0].id if before else None)
            if same and (before is None or before[0] not in rebuilt):
                continue
            wanted.add(origin)
        if before is not None and before[0] not in rebuilt:
            earlier = entries[before[0]][1]
            if isinstance(earlier, int):
                wanted.add(earlier)
        rebuilt.add(p)
    picks = sorted(wanted - decoded.keys())
    found = base.series(picks, cache) if picks else []
    if found is not None:  # a series no longer stored: the loop finds it missing, one at a time
        decoded.update(zip(picks, found))


class _Trees:
    """The reply trees of a forest, found on demand: an id's root by climbing its
    parents, a tree's messages by descending from its root. Building every tree of
    a large archive up front cost more than the rest of a small re-assembly."""

    def __init__(self, parents: Mapping[str, str], kept: Mapping[str, str]) -> None:
        self.root = root_finder(parents)
        self._kept = kept
        self._children: dict[str, list[str]] = {}
        for child, parent in parents.items():
            self._children.setdefault(parent, []).append(child)

    def members(self, root: str) -> list[str]:
        """The Message-IDs of the messages (not ghosts) in the tree under ``root``."""
        found = []
        stack = [root]
        while stack:
            current = stack.pop()
            if current in self._kept:
                found.append(current)
            stack += self._children.get(current, ())
        return found


class _Missing(Exception):
    """A stored series' message is no longer in the cache."""


class _Near:
    """Whether a series can take evidence from the region's series (old or new):
    any shared id, change-id, patch-id or title, or a shared author for a series that
    looks for its past by content. Broader than the evidence itself, never narrower."""

    def __init__(self, keys: Iterable[LinkKey]) -> None:
        self.msgids: set[str] = set()
        self.changes: set[str] = set()
        self.patch_ids: set[str] = set()
        self.titles: set[str] = set()
        self.authors: set[str] = set()
        for k in keys:
            self.msgids.update(k.msgids)
            if k.change_id:
                self.changes.add(k.change_id)
            self.patch_ids.update(p for p in k.patch_ids if p)
            self.titles.add(k.title)
            self.authors.update(k.authors)

    def related(self, k: LinkKey) -> bool:
        return bool(
            (k.change_id and k.change_id in self.changes)
            or not self.msgids.isdisjoint(k.linked)
            or not self.msgids.isdisjoint(k.parents)
            or not self.patch_ids.isdisjoint(k.patch_ids)
            or k.title in self.titles
            or ((k.version > 1 or k.resend) and not self.authors.isdisjoint(k.authors))
        )


def _unlinked(s: Series) -> Series:
    """A stored series as grouping built it: no links, no carried follow-ups."""
    return attrs.evolve(
        s,
        patches=tuple(
            attrs.evolve(p, followups=tuple(f for f in p.followups if f.via != "carried")) for p in s.patches
        ),
        status="new",
        previous=None,
        next=None,
        evidence=(),
    )
