"""A compact encoding of a :class:`~patchtrack.series.Series`' structure (and of what
revision linking reads of it, :class:`~patchtrack.revisions.LinkKey`) for the
assemblies stored in the cache: marshal-ready tuples that name messages by blob id,
since the messages are stored, and decoded, by :mod:`._codec`.

Apart from the message codec so that changing how series are stored changes only
the series fingerprint (:data:`._cache.SERIES_FINGERPRINT`): the stored assemblies
are dropped, every parsed message is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._codec import Interned, date_row, interner, person_row, plain, row_date
from ..message import Message
from ..revisions import LinkKey
from ..series import Followup, Patch, RevisionLink, Series
from ..trailers import Trailer
from ..vocab import Evidence, Status

__all__ = [
    "encode_series", "decode_series", "series_oids", "series_links", "series_previous", "relink_row",
    "encode_key", "decode_key", "patch_oids", "LAYOUT",
]

LAYOUT = 2
"""The layout of a stored series row and link key, part of every stored assembly's
key, so that rows of another layout are never read (they are assembled again). 2: a
series keeps ``missing_ranges`` and ``problems``, a key its ``writers`` and
``people``."""


def _values(words: tuple[Evidence, ...]) -> tuple[str, ...]:
    return tuple([plain(w) for w in words])


def _link(link: RevisionLink | None) -> tuple[Any, ...] | None:
    return None if link is None else (link.id, link.version, link.msgid, date_row(link.date))


def encode_series(s: Series) -> tuple[Any, ...]:
    """``s`` as marshal-ready tuples; its messages are named by blob id (they are
    stored, and decoded, as messages)."""
    return (
        s.id, s.title, person_row(s.author), person_row(s.sender), s.version, s.rfc, s.resend,
        s.cover.oid if s.cover is not None else None,
        tuple(
            (p.index, p.message.oid, tuple(
                ((f.trailer.key, f.trailer.value, person_row(f.trailer.person), f.trailer.comment, f.trailer.raw),
                 f.from_msgid, person_row(f.sender), date_row(f.date), plain(f.via), f.flagged)
                for f in p.followups
            ))
            for p in s.patches
        ),
        s.total, s.missing_ranges, tuple(m.oid for m in s.duplicates), date_row(s.first_date), date_row(s.last_date),
        s.list_id, s.change_id, tuple(m.oid for m in s.messages), plain(s.status), _link(s.previous),
        _link(s.next), _values(s.evidence), s.problems,
    )


def relink_row(
    row: tuple[Any, ...],
    previous: RevisionLink | None,
    next: RevisionLink | None,
    status: Status,
    evidence: tuple[Evidence, ...],
) -> tuple[Any, ...]:
    """An encoded series with new links and status (:func:`patchtrack.revisions.links`):
    what an assembly keeps of a series whose content did not change."""
    return row[:17] + (plain(status), _link(previous), _link(next), _values(evidence)) + row[21:]


def encode_key(k: LinkKey) -> tuple[Any, ...]:
    """What revision linking reads of a series (see :class:`LinkKey`), marshal-ready."""
    return (
        k.id, k.order, k.version, k.resend, date_row(k.first_date), person_row(k.author), k.change_id, k.title,
        k.authors, k.patch_titles, k.files, k.patch_ids, k.msgids, k.linked, k.parents, k.msgid,
        tuple(map(person_row, k.writers)), tuple(map(person_row, k.people)), k.backport,
    )


def decode_key(row: tuple[Any, ...], messages: Callable[[], list[str]], persons: Interned) -> LinkKey:
    """The :class:`LinkKey` :func:`encode_key` wrote; ``messages`` gives its patches'
    commit messages, if its words are needed."""
    (sid, order, version, resend, first, author, change_id, title, authors, patch_titles, files,
     patch_ids, msgids, linked, parents, msgid, writers, people, backport) = row
    person = interner(persons)
    return LinkKey(
        sid, order, version, resend, row_date(first), person(author), change_id, title,
        authors, patch_titles, files, patch_ids, msgids, linked, parents, msgid,
        tuple(p for p in map(person, writers) if p), tuple(p for p in map(person, people) if p), messages,
        backport,
    )


def patch_oids(row: tuple[Any, ...]) -> list[str]:
    """The blob ids of an encoded series' patches, in order."""
    return [oid for _, oid, _ in row[8]]


def series_oids(row: tuple[Any, ...]) -> tuple[str, ...]:
    """The blob ids of every message an encoded series holds."""
    return row[16]


def series_links(row: tuple[Any, ...]) -> tuple[str, ...]:
    """An encoded series' id, then the ids of its previous and next revisions
    (those it has)."""
    return (row[0], *(link[0] for link in (row[18], row[19]) if link is not None))


def series_previous(row: tuple[Any, ...]) -> tuple[str | None, tuple[str, ...]]:
    """An encoded series' previous revision's id (``None`` without one) and the
    evidence for it."""
    return (row[18][0] if row[18] is not None else None), row[20]


def decode_series(row: tuple[Any, ...], messages: Mapping[str, Message], persons: Interned) -> Series:
    """The :class:`Series` :func:`encode_series` wrote; ``messages`` by blob id."""
    (sid, title, author, sender, version, rfc, resend, cover, patches, total, missing, duplicates,
     first, last, list_id, change_id, oids, status, previous, next_, evidence, problems) = row

    person = interner(persons)

    def link(value: tuple[Any, ...] | None) -> RevisionLink | None:
        return None if value is None else RevisionLink(value[0], value[1], value[2], row_date(value[3]))

    return Series(
        id=sid, title=title, author=person(author), sender=person(sender), version=version, rfc=rfc,
        resend=resend, cover=messages[cover] if cover is not None else None,
        patches=tuple(
            Patch(index, messages[oid], tuple(
                Followup(Trailer(k, v, person(tp), c, r), from_msgid, person(fs), row_date(fd), via, flagged)
                for (k, v, tp, c, r), from_msgid, fs, fd, via, flagged in followups
            ))
            for index, oid, followups in patches
        ),
        total=total, missing_ranges=missing, duplicates=tuple(messages[o] for o in duplicates),
        first_date=row_date(first), last_date=row_date(last), list_id=list_id, change_id=change_id,
        messages=tuple(messages[o] for o in oids), status=status, previous=link(previous), next=link(next_),
        evidence=evidence, problems=problems,
    )
