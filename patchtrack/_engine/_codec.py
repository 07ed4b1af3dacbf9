"""A compact, fast encoding of :class:`~patchtrack.message.Message` (and of the
structure of a :class:`~patchtrack.series.Series`) for the cache.

``pickle`` of a frozen slotted attrs graph costs ~140 µs per kernel mail to load
(every nested record goes through a Python ``__setstate__``); flattening the record
into tuples of str/int and using :mod:`marshal` loads in a fraction of that. The
body and the diff are stored as the message keeps them: the body packed, the diff
as its offset in the body. The
layout is positional, so any change to the records or to this module changes
:data:`FINGERPRINT` (see :mod:`patchtrack.cache`) and invalidates cached entries.
"""

from __future__ import annotations

import marshal
from datetime import datetime
from collections.abc import Callable, Mapping
from typing import Any

from .._dates import zone
from ..diff import Diffstat, FileChange
from ..identity import Person
from ..message import Message
from ..revisions import LinkKey
from ..series import Followup, Patch, RevisionLink, Series
from ..subject import Subject
from ..trailers import Trailer
from ..vocab import Evidence, Status

__all__ = [
    "encode", "decode", "encode_series", "decode_series", "series_oids", "series_links", "series_previous",
    "relink_row",
    "encode_key", "decode_key", "patch_oids", "Interned",
]

Interned = dict[Any, Any]
"""Records already built during one load (see :func:`decode`)."""

_MARSHAL_VERSION = 4


def _person(p: Person | None) -> tuple[str, str] | None:
    return None if p is None else (p.name, p.email)


def _date(d: datetime | None) -> tuple[int, ...] | None:
    if d is None:
        return None
    offset = d.utcoffset()
    return (
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond,
        -1 if offset is None else offset.days * 86400 + offset.seconds,
    )


def encode(m: Message) -> bytes:
    """``m`` as bytes that :func:`decode` turns back into an equal ``Message``."""
    s = m.subject
    stat = m.diffstat
    row: tuple[Any, ...] = (
        m.oid, m.commit, m.epoch, m.msgid, _date(m.date), _plain(m.kind),
        (s.raw, s.title, s.prefixes, s.version, s.version_inferred, s.index, s.total,
         s.rfc, s.resend, s.reply, s.tags, s.marker, s.backport),
        _person(m.sender), _person(m.author), m.in_reply_to, m.references, m.list_id,
        tuple(map(_person, m.to)), tuple(map(_person, m.cc)),
        m._body, m.commit_message, m.notes, m._diff, m.base_commit, m.change_id,
        m.prerequisites,
        tuple((t.key, t.value, _person(t.person), t.comment, t.raw) for t in m.trailers),
        None if stat is None else (
            tuple((f.path, f.old_path, f.added, f.removed, f.binary, f.status) for f in stat.files),
            stat.insertions, stat.deletions,
        ),
        m.patch_id, m.problems,
    )
    return marshal.dumps(row, _MARSHAL_VERSION)


def _interner(persons: Interned) -> Callable[[tuple[str, str] | None], Person | None]:
    """``(name, email)`` → the one :class:`Person` for it in ``persons``."""

    def person(p: tuple[str, str] | None) -> Person | None:
        if p is None:
            return None
        found = persons.get(p)
        if found is None:
            found = persons[p] = Person(*p)
        return found

    return person


def decode(data: bytes, persons: Interned | None = None) -> Message:
    """The ``Message`` that :func:`encode` wrote.

    ``persons`` interns records and strings across calls, one dict per load: the
    :class:`Person` records and whole To/Cc lists (a list's mails name the same few
    hundred people, often in the same Cc list), trailers (a contributor's
    ``Signed-off-by:`` line is on all their patches), subjects (replies repeat their
    patch's), and the strings mails repeat — Message-IDs named in ``References``,
    the list id, file paths. Building each once is most of the saving in time and
    memory when a whole archive is loaded.
    """
    (oid, commit, epoch, msgid, date, kind, subj, sender, author, in_reply_to, references,
     list_id, to, cc, body, commit_message, notes, diff, base_commit, change_id,
     prerequisites, trailers, stat, patch_id, problems) = marshal.loads(data)
    if persons is None:
        persons = {}

    person = _interner(persons)
    same = persons.setdefault

    def people(group: tuple[tuple[str, str], ...]) -> tuple[Person, ...]:
        found = persons.get(group)
        if found is None:
            found = persons[group] = tuple(map(person, group))
        return found

    def trailer(t: tuple[Any, ...]) -> Trailer:
        found = persons.get(t)
        if found is None:
            k, v, p, c, r = t
            found = persons[t] = Trailer(k, v, person(p), c, r)
        return found

    subject = persons.get(subj)
    if subject is None:
        subject = persons[subj] = Subject(*subj)
    return Message(
        oid, commit, epoch, same(msgid, msgid), _datetime(date), kind, subject, person(sender), person(author),
        in_reply_to and same(in_reply_to, in_reply_to), tuple([same(r, r) for r in references]),
        list_id and same(list_id, list_id), people(to), people(cc),
        body, commit_message, notes, diff, base_commit, change_id, prerequisites,
        tuple([trailer(t) for t in trailers]),
        None if stat is None else Diffstat(
            tuple(FileChange(same(f[0], f[0]), *f[1:]) for f in stat[0]), stat[1], stat[2]
        ),
        patch_id, problems,
    )


# --- series: the structure, with messages by blob id -----------------------------------


_plain: Callable[[str], str] = str.__str__
"""A vocabulary member as its plain value (a plain string as itself): ``marshal``
writes no enum member, and the records' converters make them members again on
decoding."""


def _values(words: tuple[Evidence, ...]) -> tuple[str, ...]:
    return tuple([_plain(w) for w in words])


def _link(link: RevisionLink | None) -> tuple[Any, ...] | None:
    return None if link is None else (link.id, link.version, link.msgid, _date(link.date))


def encode_series(s: Series) -> tuple[Any, ...]:
    """``s`` as marshal-ready tuples; its messages are named by blob id (they are
    stored, and decoded, as messages)."""
    return (
        s.id, s.title, _person(s.author), _person(s.sender), s.version, s.rfc, s.resend,
        s.cover.oid if s.cover is not None else None,
        tuple(
            (p.index, p.message.oid, tuple(
                ((f.trailer.key, f.trailer.value, _person(f.trailer.person), f.trailer.comment, f.trailer.raw),
                 f.from_msgid, _person(f.sender), _date(f.date), _plain(f.via), f.flagged)
                for f in p.followups
            ))
            for p in s.patches
        ),
        s.total, s.missing_ranges, tuple(m.oid for m in s.duplicates), _date(s.first_date), _date(s.last_date),
        s.list_id, s.change_id, tuple(m.oid for m in s.messages), _plain(s.status), _link(s.previous),
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
    return row[:17] + (_plain(status), _link(previous), _link(next), _values(evidence)) + row[21:]


def encode_key(k: LinkKey) -> tuple[Any, ...]:
    """What revision linking reads of a series (see :class:`LinkKey`), marshal-ready."""
    return (
        k.id, k.order, k.version, k.resend, _date(k.first_date), _person(k.author), k.change_id, k.title,
        k.authors, k.patch_titles, k.files, k.patch_ids, k.msgids, k.linked, k.parents, k.msgid,
        tuple(map(_person, k.writers)), tuple(map(_person, k.people)), k.backport,
    )


def decode_key(row: tuple[Any, ...], messages: Callable[[], list[str]], persons: Interned) -> LinkKey:
    """The :class:`LinkKey` :func:`encode_key` wrote; ``messages`` gives its patches'
    commit messages, if its words are needed."""
    (sid, order, version, resend, first, author, change_id, title, authors, patch_titles, files,
     patch_ids, msgids, linked, parents, msgid, writers, people, backport) = row
    person = _interner(persons)
    return LinkKey(
        sid, order, version, resend, _datetime(first), person(author), change_id, title,
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

    person = _interner(persons)

    def link(value: tuple[Any, ...] | None) -> RevisionLink | None:
        return None if value is None else RevisionLink(value[0], value[1], value[2], _datetime(value[3]))

    return Series(
        id=sid, title=title, author=person(author), sender=person(sender), version=version, rfc=rfc,
        resend=resend, cover=messages[cover] if cover is not None else None,
        patches=tuple(
            Patch(index, messages[oid], tuple(
                Followup(Trailer(k, v, person(tp), c, r), from_msgid, person(fs), _datetime(fd), via, flagged)
                for (k, v, tp, c, r), from_msgid, fs, fd, via, flagged in followups
            ))
            for index, oid, followups in patches
        ),
        total=total, missing_ranges=missing, duplicates=tuple(messages[o] for o in duplicates),
        first_date=_datetime(first), last_date=_datetime(last), list_id=list_id, change_id=change_id,
        messages=tuple(messages[o] for o in oids), status=status, previous=link(previous), next=link(next_),
        evidence=evidence, problems=problems,
    )


def _datetime(fields: tuple[int, ...] | None) -> datetime | None:
    if fields is None:
        return None
    year, month, day, hour, minute, second, microsecond, offset = fields
    return datetime(
        year, month, day, hour, minute, second, microsecond, tzinfo=None if offset == -1 else zone(offset)
    )
