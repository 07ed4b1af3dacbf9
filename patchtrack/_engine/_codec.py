"""A compact, fast encoding of :class:`~patchtrack.message.Message` for the cache
(a series' structure has its own codec, :mod:`._series_codec`).

``pickle`` of a frozen slotted attrs graph costs ~140 µs per kernel mail to load
(every nested record goes through a Python ``__setstate__``); flattening the record
into tuples of str/int and using :mod:`marshal` loads in a fraction of that. The
body and the diff are stored as the message keeps them: the body packed, the diff
as its offset in the body. The
layout is positional, so any change to the records or to this module changes the
messages' fingerprint (:data:`._cache.FINGERPRINT`) and invalidates cached entries.
"""

from __future__ import annotations

import marshal
from datetime import datetime
from collections.abc import Callable
from typing import Any

from .._dates import zone
from ..diff import Diffstat, FileChange
from ..identity import Person
from ..message import Message
from ..subject import Subject
from ..trailers import Trailer

__all__ = ["encode", "decode", "Interned", "interner", "person_row", "date_row", "row_date", "plain"]

Interned = dict[Any, Any]
"""Records already built during one load (see :func:`decode`)."""

_MARSHAL_VERSION = 4


def person_row(p: Person | None) -> tuple[str, str] | None:
    """A person as the codecs store one: ``(name, email)``."""
    return None if p is None else (p.name, p.email)


def date_row(d: datetime | None) -> tuple[int, ...] | None:
    """A date as the codecs store one: its fields and UTC offset in seconds (``-1``: naive)."""
    if d is None:
        return None
    offset = d.utcoffset()
    return (
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond,
        -1 if offset is None else offset.days * 86400 + offset.seconds,
    )


plain: Callable[[str], str] = str.__str__
"""A vocabulary member as its plain value (a plain string as itself): ``marshal``
writes no enum member, and the records' converters make them members again on
decoding."""


def encode(m: Message) -> bytes:
    """``m`` as bytes that :func:`decode` turns back into an equal ``Message``."""
    s = m.subject
    stat = m.diffstat
    row: tuple[Any, ...] = (
        m.oid, m.commit, m.epoch, m.msgid, date_row(m.date), plain(m.kind),
        (s.raw, s.title, s.prefixes, s.version, s.version_inferred, s.index, s.total,
         s.rfc, s.resend, s.reply, s.tags, s.marker, s.backport),
        person_row(m.sender), person_row(m.author), m.in_reply_to, m.references, m.list_id,
        tuple(map(person_row, m.to)), tuple(map(person_row, m.cc)),
        m._body, m.commit_message, m.notes, m._diff, m.base_commit, m.change_id,
        m.prerequisites,
        tuple((t.key, t.value, person_row(t.person), t.comment, t.raw) for t in m.trailers),
        None if stat is None else (
            tuple((f.path, f.old_path, f.added, f.removed, f.binary, f.status) for f in stat.files),
            stat.insertions, stat.deletions,
        ),
        m.patch_id, m.problems,
    )
    return marshal.dumps(row, _MARSHAL_VERSION)


def interner(persons: Interned) -> Callable[[tuple[str, str] | None], Person | None]:
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

    person = interner(persons)
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
        oid, commit, epoch, same(msgid, msgid), row_date(date), kind, subject, person(sender), person(author),
        in_reply_to and same(in_reply_to, in_reply_to), tuple([same(r, r) for r in references]),
        list_id and same(list_id, list_id), people(to), people(cc),
        body, commit_message, notes, diff, base_commit, change_id, prerequisites,
        tuple([trailer(t) for t in trailers]),
        None if stat is None else Diffstat(
            tuple(FileChange(same(f[0], f[0]), *f[1:]) for f in stat[0]), stat[1], stat[2]
        ),
        patch_id, problems,
    )


def row_date(fields: tuple[int, ...] | None) -> datetime | None:
    """The date :func:`date_row` stored."""
    if fields is None:
        return None
    year, month, day, hour, minute, second, microsecond, offset = fields
    return datetime(
        year, month, day, hour, minute, second, microsecond, tzinfo=None if offset == -1 else zone(offset)
    )
