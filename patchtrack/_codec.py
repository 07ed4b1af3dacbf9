"""A compact, fast encoding of :class:`~patchtrack.message.Message` for the cache.

``pickle`` of a frozen slotted attrs graph costs ~140 µs per kernel mail to load
(every nested record goes through a Python ``__setstate__``); flattening the record
into tuples of str/int and using :mod:`marshal` loads in a fraction of that. The
diff is stored as the message stores it: as its offset in the body. The
layout is positional, so any change to the records or to this module changes
:data:`FINGERPRINT` (see :mod:`patchtrack.cache`) and invalidates cached entries.
"""

from __future__ import annotations

import marshal
from datetime import datetime, timedelta, timezone
from typing import Any

from .diff import Diffstat, FileChange
from .identity import Person
from .message import Message
from .subject import Subject
from .trailers import Trailer

__all__ = ["encode", "decode", "Interned"]

Interned = dict[Any, Any]
"""Records already built during one load (see :func:`decode`)."""

_MARSHAL_VERSION = 4
_ZONES: dict[int, timezone] = {}


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
        m.oid, m.commit, m.epoch, m.msgid, _date(m.date), m.kind,
        (s.raw, s.title, s.prefixes, s.version, s.version_inferred, s.index, s.total,
         s.rfc, s.resend, s.reply, s.tags),
        _person(m.sender), _person(m.author), m.in_reply_to, m.references, m.list_id,
        tuple(map(_person, m.to)), tuple(map(_person, m.cc)),
        m.body, m.commit_message, m.notes, m._diff, m.base_commit, m.change_id,
        m.prerequisites,
        tuple((t.key, t.value, _person(t.person), t.comment, t.raw) for t in m.trailers),
        None if stat is None else (
            tuple((f.path, f.old_path, f.added, f.removed, f.binary, f.status) for f in stat.files),
            stat.insertions, stat.deletions,
        ),
        m.patch_id, m.problems,
    )
    return marshal.dumps(row, _MARSHAL_VERSION)


def _zone(seconds: int) -> timezone:
    zone = _ZONES.get(seconds)
    if zone is None:
        zone = _ZONES[seconds] = timezone.utc if seconds == 0 else timezone(timedelta(seconds=seconds))
    return zone


def decode(data: bytes, persons: Interned | None = None) -> Message:
    """The ``Message`` that :func:`encode` wrote.

    ``persons`` interns :class:`Person` records, and whole To/Cc lists, across
    calls: a list's mails name the same few hundred people, often in the same Cc
    list, and building each once is most of the saving when a whole archive is
    loaded. Pass one dict per load.
    """
    (oid, commit, epoch, msgid, date, kind, subj, sender, author, in_reply_to, references,
     list_id, to, cc, body, commit_message, notes, diff, base_commit, change_id,
     prerequisites, trailers, stat, patch_id, problems) = marshal.loads(data)
    if persons is None:
        persons = {}

    def person(p: tuple[str, str] | None) -> Person | None:
        if p is None:
            return None
        found = persons.get(p)
        if found is None:
            found = persons[p] = Person(*p)
        return found

    def people(group: tuple[tuple[str, str], ...]) -> tuple[Person, ...]:
        found = persons.get(group)
        if found is None:
            found = persons[group] = tuple(map(person, group))
        return found

    if date is not None:
        *fields, offset = date
        date = datetime(*fields, tzinfo=None if offset == -1 else _zone(offset))
    return Message(
        oid, commit, epoch, msgid, date, kind, Subject(*subj), person(sender), person(author),
        in_reply_to, references, list_id, people(to), people(cc),
        body, commit_message, notes, diff, base_commit, change_id, prerequisites,
        tuple(Trailer(k, v, person(p), c, r) for k, v, p, c, r in trailers),
        None if stat is None else Diffstat(tuple(FileChange(*f) for f in stat[0]), stat[1], stat[2]),
        patch_id, problems,
    )
