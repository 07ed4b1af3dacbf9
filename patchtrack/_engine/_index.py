"""A whole archive's assembly, kept in the cache, so a report reads only what it shows.

Series and reports are assembled from the whole archive (a series' later patches,
replies and earlier revisions can be anywhere), which costs a walk, every message
decoded and the assembly itself — about 1.6 s for linux-pwm's 23,541 mails even with
every message cached. The result depends only on the archive's content (its epochs'
tips) and on the code that parses and assembles, so it is stored under a key made of
both: :class:`Assembly` keeps each series' structure with its messages named by blob
id, and each message's delivery (commit, epoch, arrival). Another report on the same
archive state decodes the series it shows and their earlier revisions, nothing else.

With it is stored a :class:`State` (each message's threading skeleton, the reply
forest, each series' link key and group span): after new mail, the newest stored
state of which the archive grew is extended by :mod:`patchtrack._engine._reassemble` instead
of assembling everything again. The extended state is stored as its difference from
the one it grew from (a week of mail changes a few hundred of an archive's entries;
writing all of them again cost more than extending it), up to :data:`MAX_DELTAS`
differences in a row; :func:`load` puts a chain back together.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from . import _codec, _series_codec
from ._load import rebind
from ._store import FINGERPRINT, SERIES_FINGERPRINT, Store
from ..message import Message
from ..series import GroupKey, Series

__all__ = [
    "Assembly", "Stored", "State", "arrived", "assembly_key", "assembly_scope", "load", "store", "MAX_DELTAS",
]

MAX_DELTAS = 4
"""Stored differences in a row before an assembly is stored whole again: each one
costs a load a few milliseconds, and keeps the assemblies it builds on stored."""

Delivery = tuple[str, int, int]
"""A message's first delivery in the archive: commit, epoch, arrival (seconds)."""


def arrived(deliveries: Mapping[str, Delivery], lo: float | None, hi: float | None) -> set[str]:
    """Blob ids of the messages first delivered within ``lo``..``hi`` (inclusive)."""
    return {
        oid for oid, (_, _, when) in deliveries.items()
        if (lo is None or when >= lo) and (hi is None or when <= hi)
    }


def assembly_scope(layout: str) -> str:
    """What assemblies that can stand for one another share: the messages' and the
    series' fingerprints (the parsing, assembling and storing code), the stored
    series :data:`~._series_codec.LAYOUT`, the archive layout."""
    return f"{FINGERPRINT}:{SERIES_FINGERPRINT}:{_series_codec.LAYOUT}:{layout}"


def assembly_key(layout: str, tips: Mapping[int, str]) -> str:
    """The key of an archive state's assembly: its scope and every epoch's tip."""
    text = f"{assembly_scope(layout)}:{sorted(tips.items())}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


Skeleton = tuple[float, str, tuple[str, ...]]
"""What threading reads of a message: its date as a timestamp (``-inf`` without
one), its Message-ID, and the ids it names (:func:`patchtrack.thread.chain`)."""

GroupSpan = tuple[GroupKey, float | None, float | None]
"""A series' :func:`~patchtrack.series.group_key` and its first and last post."""


class State:
    """What re-assembling an archive state after new mail starts from (see
    :mod:`patchtrack._engine._reassemble`): every message's skeleton, the reply forest's
    parents and kept copies, and each series' link key and group span, by row."""

    def __init__(
        self,
        skeleton: dict[str, Skeleton],
        parents: dict[str, str],
        kept: dict[str, str],
        keys: list[tuple],  # type: ignore[type-arg]
        spans: list[GroupSpan],
    ) -> None:
        self.skeleton = skeleton  # by blob id
        self.parents = parents
        self.kept = kept  # Message-ID → blob id of the copy kept
        self.keys = keys  # encoded LinkKey, one per Assembly row
        self.spans = spans  # one per Assembly row

    def encode(self, base: State | None = None) -> bytes:
        """The state as bytes; with ``base``, only what differs from ``base`` (decode
        it with the same ``base``)."""
        if base is None:
            return marshal.dumps((self.skeleton, self.parents, self.kept, self.keys, self.spans), 4)
        keys = _referenced(base.keys, self.keys)
        spans = [  # a series' span, by the row its key was found at
            k if isinstance(k, int) and base.spans[k] == span else span for k, span in zip(keys, self.spans)
        ]
        return marshal.dumps((
            _DELTA, _dict_delta(base.skeleton, self.skeleton), _dict_delta(base.parents, self.parents),
            _dict_delta(base.kept, self.kept), keys, spans,
        ), 4)

    @classmethod
    def decode(cls, data: bytes, base: State | None = None) -> State:
        """The state :meth:`encode` wrote (given the same ``base`` if it was given one)."""
        fields = marshal.loads(data)
        if fields[0] != _DELTA:
            return cls(*fields)
        if base is None:
            raise ValueError("a state stored as a difference needs the state it differs from")
        _, skeleton, parents, kept, keys, spans = fields
        return cls(
            _dict_patched(base.skeleton, skeleton),
            _dict_patched(base.parents, parents),
            _dict_patched(base.kept, kept),
            _dereferenced(base.keys, keys),
            _dereferenced(base.spans, spans),
        )


class Assembly:
    """Every series of an archive state, encoded, with every message's delivery."""

    def __init__(self, rows: list[tuple], deliveries: dict[str, Delivery]) -> None:  # type: ignore[type-arg]
        self.rows = rows
        self.deliveries = deliveries  # in walk order
        self._order: dict[str, int] | None = None  # blob id → place in walk order, when asked

    @classmethod
    def of(cls, series: Iterable[Series], deliveries: dict[str, Delivery]) -> Assembly:
        return cls([_series_codec.encode_series(s) for s in series], deliveries)

    def encode(self, base: Assembly | None = None) -> bytes:
        """The assembly as bytes; with ``base``, only what differs from ``base``:
        rows equal to one of its rows are stored as that row's number, and when the
        deliveries begin with base's, only the rest (decode it with the same ``base``)."""
        if base is None:
            return marshal.dumps((self.rows, self.deliveries), 4)
        rows = _referenced(base.rows, self.rows)
        mine, theirs = self.deliveries, base.deliveries
        follows = len(mine) >= len(theirs) and all(
            a == b and mine[a] == theirs[b] for a, b in zip(mine, theirs)
        )
        deliveries = dict(list(mine.items())[len(theirs):]) if follows else mine
        return marshal.dumps((_DELTA, rows, follows, deliveries), 4)

    @classmethod
    def decode(cls, data: bytes, base: Assembly | None = None) -> Assembly:
        """The assembly :meth:`encode` wrote (given the same ``base`` if it was given one)."""
        fields = marshal.loads(data)
        if fields[0] != _DELTA:
            return cls(*fields)
        if base is None:
            raise ValueError("an assembly stored as a difference needs the assembly it differs from")
        _, rows, follows, deliveries = fields
        return cls(
            _dereferenced(base.rows, rows),
            {**base.deliveries, **deliveries} if follows else deliveries,
        )

    def _walk_order(self) -> dict[str, int]:
        if self._order is None:
            self._order = {oid: n for n, oid in enumerate(self.deliveries)}
        return self._order

    def arrived(self, lo: float | None, hi: float | None) -> set[str]:
        """Blob ids of the messages first delivered within ``lo``..``hi`` (inclusive)."""
        return arrived(self.deliveries, lo, hi)

    def touching(self, inside: set[str] | None) -> list[int]:
        """Rows of the series with a message in ``inside`` (``None``: all), in order."""
        if inside is None:
            return list(range(len(self.rows)))
        return [n for n, row in enumerate(self.rows) if any(o in inside for o in _series_codec.series_oids(row))]

    def with_history(self, picks: Iterable[int]) -> list[int]:
        """``picks`` and every other revision their ``previous``/``next`` links lead to."""
        by_id = {_series_codec.series_links(row)[0]: n for n, row in enumerate(self.rows)}
        found: set[int] = set()
        todo = list(picks)
        while todo:
            n = todo.pop()
            if n in found:
                continue
            found.add(n)
            todo += [by_id[other] for other in _series_codec.series_links(self.rows[n])[1:] if other in by_id]
        return sorted(found)

    def series(self, picks: Iterable[int], cache: Store) -> list[Series] | None:
        """The series of these rows, their messages decoded from ``cache``; ``None``
        when the cache no longer holds one of them."""
        found = self.selection(set(), picks, cache)
        return None if found is None else found[1]

    def selection(
        self, chosen: set[str] | None, picks: Iterable[int], cache: Store
    ) -> tuple[list[Message], list[Series]] | None:
        """The messages ``chosen`` (blob ids; ``None``: all) and the series of rows
        ``picks``, decoded once from ``cache`` (a report's series hold most of its
        messages); ``None`` when the cache no longer holds one of them."""
        rows = [self.rows[n] for n in picks]
        wanted = None if chosen is None else chosen.union(*(_series_codec.series_oids(row) for row in rows))
        persons: _codec.Interned = {}
        messages = self.messages(wanted, cache, persons)
        if messages is None:
            return None
        by_oid = {m.oid: m for m in messages}
        series = [_series_codec.decode_series(row, by_oid, persons) for row in rows]
        return (messages if chosen is None else [m for m in messages if m.oid in chosen]), series

    def messages(
        self, oids: set[str] | None, cache: Store, persons: _codec.Interned | None = None
    ) -> list[Message] | None:
        """The messages with these blob ids (``None``: all), in walk order, as the
        walk gave them; ``None`` when the cache no longer holds one of them."""
        if oids is None:
            wanted = list(self.deliveries)
        elif len(oids) * 8 < len(self.deliveries):  # a few: sort them, do not scan them all
            wanted = sorted((o for o in oids if o in self.deliveries), key=self._walk_order().__getitem__)
        else:
            wanted = [o for o in self.deliveries if o in oids]
        found = cache.get_many(wanted, persons)
        if len(found) != len(wanted):
            return None
        return [rebind(found[o], *self.deliveries[o]) for o in wanted]


_DELTA = "patchtrack-delta"
"""First field of an encoding that holds differences (a whole one starts with a list
or a dict)."""


def _referenced(base: list[Any], mine: list[Any]) -> list[Any]:
    """``mine`` (rows whose first field is a series id), each row equal to a row of
    ``base`` replaced by that row's number."""
    at = {row[0]: n for n, row in enumerate(base)}
    return [n if (n := at.get(row[0])) is not None and base[n] == row else row for row in mine]


def _dereferenced(base: list[Any], spec: list[Any]) -> list[Any]:
    """What :func:`_referenced` was given back: row numbers read from ``base``."""
    return [base[r] if isinstance(r, int) else r for r in spec]


def _dict_delta(base: Mapping[str, Any], mine: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The entries of ``mine`` that ``base`` lacks or holds otherwise, and the keys
    only ``base`` has."""
    missing = object()
    changed = {k: v for k, v in mine.items() if base.get(k, missing) != v}
    return changed, [k for k in base if k not in mine]


def _dict_patched(base: Mapping[str, Any], delta: tuple[dict[str, Any], list[str]]) -> dict[str, Any]:
    changed, removed = delta
    patched = {**base, **changed}
    for k in removed:
        del patched[k]
    return patched


class Stored(NamedTuple):
    """An assembly loaded from the cache, with its state when asked for."""

    key: str
    assembly: Assembly
    state: State | None
    deltas: int  # differences applied to the whole stored assembly it is built from


def load(cache: Store, key: str, *, state: bool = False) -> Stored | None:
    """The assembly stored under ``key`` (and its :class:`State`, with ``state``),
    put back together from the chain of differences it is stored as; ``None`` when
    it or any assembly it builds on is no longer stored."""
    chain: list[tuple[str, bytes]] = []
    at: str | None = key
    while at is not None:
        found = cache.get_assembly(at) if len(chain) <= MAX_DELTAS else None
        if found is None:
            return None
        chain.append((at, found[0]))
        at = found[1]
    assembly: Assembly | None = None
    for _, data in reversed(chain):
        assembly = Assembly.decode(data, assembly)
    grown: State | None = None
    if state:
        for at, _ in reversed(chain):
            saved = cache.get_assembly_state(at)
            if saved is None:
                return None
            grown = State.decode(saved, grown)
    assert assembly is not None
    cache.stats.assemblies_read += 1
    return Stored(key, assembly, grown, len(chain) - 1)


def store(
    cache: Store, key: str, scope: str, tips: str, assembly: Assembly, state: State, base: Stored | None = None
) -> None:
    """Store an archive state's assembly and state under ``key``: as their
    difference from ``base`` (the stored assembly they were extended from, loaded
    with its state) unless that makes the chain longer than :data:`MAX_DELTAS`."""
    if base is None or base.state is None or base.deltas >= MAX_DELTAS:
        cache.put_assembly(key, assembly.encode(), state=state.encode(), scope=scope, tips=tips)
    else:
        cache.put_assembly(
            key, assembly.encode(base.assembly), state=state.encode(base.state), scope=scope, tips=tips,
            base=base.key,
        )
