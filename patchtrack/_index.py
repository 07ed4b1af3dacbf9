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
state of which the archive grew is extended by :mod:`patchtrack._reassemble` instead
of assembling everything again.
"""

from __future__ import annotations

import hashlib
import marshal
from collections.abc import Iterable, Mapping

from . import _codec
from ._load import rebind
from .cache import FINGERPRINT, Cache, source_digest
from .message import Message
from .series import Series

__all__ = ["Assembly", "State", "arrived", "assembly_key", "assembly_scope"]

_ASSEMBLY_MODULES = ("assemble", "revisions", "series", "thread", "_index", "_reassemble")

Delivery = tuple[str, int, int]
"""A message's first delivery in the archive: commit, epoch, arrival (seconds)."""


def arrived(deliveries: Mapping[str, Delivery], lo: float | None, hi: float | None) -> set[str]:
    """Blob ids of the messages first delivered within ``lo``..``hi`` (inclusive)."""
    return {
        oid for oid, (_, _, when) in deliveries.items()
        if (lo is None or when >= lo) and (hi is None or when <= hi)
    }


def assembly_scope(layout: str) -> str:
    """What assemblies that can stand for one another share: the parser fingerprint,
    the source of the assembling modules, the archive layout."""
    return f"{FINGERPRINT}:{source_digest(*_ASSEMBLY_MODULES)}:{layout}"


def assembly_key(layout: str, tips: Mapping[int, str]) -> str:
    """The key of an archive state's assembly: its scope and every epoch's tip."""
    text = f"{assembly_scope(layout)}:{sorted(tips.items())}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


Skeleton = tuple[float, str, tuple[str, ...]]
"""What threading reads of a message: its date as a timestamp (``-inf`` without
one), its Message-ID, and the ids it names (:func:`patchtrack.thread.chain`)."""

GroupSpan = tuple[tuple[int, bool, int, str], float | None, float | None]
"""A series' :func:`~patchtrack.series.group_key` and its first and last post."""


class State:
    """What re-assembling an archive state after new mail starts from (see
    :mod:`patchtrack._reassemble`): every message's skeleton, the reply forest's
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

    def encode(self) -> bytes:
        return marshal.dumps((self.skeleton, self.parents, self.kept, self.keys, self.spans), 4)

    @classmethod
    def decode(cls, data: bytes) -> State:
        return cls(*marshal.loads(data))


class Assembly:
    """Every series of an archive state, encoded, with every message's delivery."""

    def __init__(self, rows: list[tuple], deliveries: dict[str, Delivery]) -> None:  # type: ignore[type-arg]
        self.rows = rows
        self.deliveries = deliveries  # in walk order
        self._order: dict[str, int] | None = None  # blob id → place in walk order, when asked

    @classmethod
    def of(cls, series: Iterable[Series], deliveries: dict[str, Delivery]) -> Assembly:
        return cls([_codec.encode_series(s) for s in series], deliveries)

    def encode(self) -> bytes:
        return marshal.dumps((self.rows, self.deliveries), 4)

    @classmethod
    def decode(cls, data: bytes) -> Assembly:
        rows, deliveries = marshal.loads(data)
        return cls(rows, deliveries)

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
        return [n for n, row in enumerate(self.rows) if any(o in inside for o in _codec.series_oids(row))]

    def with_history(self, picks: Iterable[int]) -> list[int]:
        """``picks`` and every other revision their ``previous``/``next`` links lead to."""
        by_id = {_codec.series_links(row)[0]: n for n, row in enumerate(self.rows)}
        found: set[int] = set()
        todo = list(picks)
        while todo:
            n = todo.pop()
            if n in found:
                continue
            found.add(n)
            todo += [by_id[other] for other in _codec.series_links(self.rows[n])[1:] if other in by_id]
        return sorted(found)

    def series(self, picks: Iterable[int], cache: Cache) -> list[Series] | None:
        """The series of these rows, their messages decoded from ``cache``; ``None``
        when the cache no longer holds one of them."""
        rows = [self.rows[n] for n in picks]
        persons: _codec.Interned = {}
        messages = self.messages({o for row in rows for o in _codec.series_oids(row)}, cache, persons)
        if messages is None:
            return None
        by_oid = {m.oid: m for m in messages}
        return [_codec.decode_series(row, by_oid, persons) for row in rows]

    def messages(
        self, oids: set[str] | None, cache: Cache, persons: _codec.Interned | None = None
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
