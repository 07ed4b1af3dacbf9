"""Reply trees → patch series: the fourth stage of the pipeline.

A :class:`Series` is what a maintainer means by "v5 of Prateek's 4-patch series":
the cover letter and the patches one ``git send-email`` run posted, ordered by their
counter, with what is missing or sent twice, and the review trailers that replies
gave to each patch (:class:`Followup`, with where each came from and whether its
sender vouches for it).

How mails become one series, in order:

1. *Threading.* ``git send-email`` threads the patches under the cover letter
   (shallow) or each under the previous one (deep). From each patch we climb the reply
   tree while the parent is a patch mail of the same version, counter total and
   sender, posted within :data:`THREADED_WINDOW`; the top of that climb is the
   series' anchor. A v2 posted in reply to v1 stops the climb (another version), so
   in-thread rerolls stay separate series.
2. *Unthreaded patches.* Groups that are fragments — patches sent without
   threading, or a v2 whose patches all answer v1's cover — are merged when they
   have the same sender, version, RESEND flag and total, distinct counters, at most
   one cover letter between them, and were posted within :data:`UNTHREADED_WINDOW`.
3. *Follow-ups.* Every other mail belongs to the nearest series mail above it in
   its tree; its trailers go to that patch (``via="reply"`` for a direct answer,
   ``"thread"`` further down) or, under the cover letter, to every patch
   (``"cover"``).

The result depends only on the set of messages, never on their order: everything
is sorted by :func:`~patchtrack.thread.arrival_key` first, and a series' ``id`` is
derived from its head mail's Message-ID.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Container, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, BinaryIO

import attrs

from . import _views
from ._escape import repr_title, safe_line
from .diff import Diffstat
from .identity import Person, same_person
from .message import Message
from .thread import Threads, arrival_key
from .trailers import REVIEW_KEYS, Trailer
from .vocab import (
    Evidence, Kind, ReviewSource, SeriesProblem, Status, Via, to_evidence, to_review_source, to_status, to_via,
)

__all__ = [
    "Followup",
    "Patch",
    "Review",
    "REVIEW_SOURCES",
    "RevisionLink",
    "Series",
    "VIAS",
    "REVIEW_KEYS",
    "STATUSES",
    "THREADED_WINDOW",
    "UNTHREADED_WINDOW",
    "MAX_TOTAL",
    "OPEN_FRAGMENTS",
    "SERIES_PROBLEMS",
    "format_counters",
    "group_series",
    "series_order",
    "is_series_mail",
    # the steps of group_series, for re-assembling a stored archive after new mail
    # (patchtrack._engine): a fragment's group key, where it is filed, building series
    "GroupKey",
    "group_key",
    "filed_under",
    "fragments",
    "series_members",
    "build_series",
]

VIAS = tuple(Via)
"""How a follow-up trailer reached a patch (:class:`~patchtrack.vocab.Via`): a direct
reply to the patch, a reply further down the patch's sub-thread, a reply to the cover
letter (given to every patch), or carried from the previous revision's patch with the
same patch-id."""

# REVIEW_KEYS (the trailers that count as review of a patch) is read from the table of
# trailer keys, :data:`patchtrack.trailers.TRAILER_KEYS`, and exported here as before.

STATUSES = tuple(Status)
"""A series' status (:class:`~patchtrack.vocab.Status`). ``new``: no earlier revision
in the archive; ``revision``: an earlier version was found (``previous``); ``resend``:
the same version posted again; ``superseded``: a later revision exists (``next``)."""

UNTHREADED_WINDOW = timedelta(hours=6)
"""How far apart unthreaded fragments of one series may have been posted."""

THREADED_WINDOW = timedelta(days=2)
"""How far apart a patch and the series mail it answers may be to count as one post
(a same-version repost weeks later in the old thread is another series)."""

MAX_TOTAL = 2048
"""The largest series length taken at its word. Real series reach a few hundred
patches (the corpora: 671), stable review series ``[PATCH 6.1 000/1000]`` or so; a
larger ``N`` in ``n/N`` is flagged ``implausible-total``, and :attr:`Series.missing`
lists no counter above it (:attr:`Series.missing_ranges` has them all, as ranges:
``[PATCH 1/999999]`` made a million-counter tuple per series before)."""

OPEN_FRAGMENTS = 64
"""How many of the unthreaded fragments of one :func:`group_key` that are still open
(posted within :data:`UNTHREADED_WINDOW`) a fragment is offered to, latest started
first. The corpora hold at most 35 at once (linux-man); without a bound, thousands of
``[PATCH]`` mails of one sender within hours were each offered to all the others."""

SERIES_PROBLEMS = tuple(SeriesProblem)
"""Codes a series may carry in :attr:`Series.problems` (:class:`~patchtrack.vocab.SeriesProblem`,
plain strings in the record): ``implausible-total``, an announced length above
:data:`MAX_TOTAL`; ``cover-count-mismatch``, a cover letter whose ``N`` is not its
patches' (``[PATCH v2 0/5]`` answered by ``1/6``…``6/6``: the total is then the
patches' own when they agree)."""


@attrs.frozen
class Followup:
    """A trailer given to a patch by a reply, with its provenance.

    ``flagged`` is set for a person trailer (``…-by``) naming somebody other than the
    reply's sender (as far as :func:`~patchtrack.identity.same_person` can tell): it
    is kept, but it is not counted as review.
    """

    trailer: Trailer
    from_msgid: str
    sender: Person | None
    date: datetime | None
    via: Via = attrs.field(converter=to_via)
    flagged: bool

    @property
    def key(self) -> str:
        return self.trailer.key

    @property
    def person(self) -> Person | None:
        return self.trailer.person

    @property
    def is_review(self) -> bool:
        """An unflagged Reviewed-by, Acked-by or Tested-by."""
        return not self.flagged and self.trailer.key in REVIEW_KEYS

    def __repr__(self) -> str:
        who = self.person.email if self.person else self.trailer.value
        return f"<Followup {safe_line(self.key)} {safe_line(who)} via {self.via}{' flagged' if self.flagged else ''}>"

    def to_dict(self) -> dict[str, Any]:
        person = self.trailer.person
        return {
            "key": self.trailer.key,
            "value": self.trailer.value,
            "name": person.name if person else None,
            "email": person.email if person else None,
            "from_msgid": self.from_msgid,
            "date": self.date.isoformat() if self.date else None,
            "via": self.via,
            "flagged": self.flagged,
        }


@attrs.frozen
class Patch:
    """One patch of a series: its place, its mail and the trailers replies gave it."""

    index: int
    message: Message
    followups: tuple[Followup, ...] = ()

    @property
    def msgid(self) -> str:
        return self.message.msgid

    @property
    def patch_id(self) -> str | None:
        return self.message.patch_id

    @property
    def diffstat(self) -> Diffstat | None:
        return self.message.diffstat

    @property
    def trailers(self) -> tuple[Trailer, ...]:
        """The patch's own trailers (its commit message's)."""
        return self.message.trailers

    @property
    def reviews(self) -> tuple[Followup, ...]:
        """Follow-ups that count as review (see :attr:`Followup.is_review`)."""
        return tuple(f for f in self.followups if f.is_review)

    def __repr__(self) -> str:
        return f"<Patch {self.index} {repr_title(self.message.subject.title)} {safe_line(self.msgid)}>"

    @property
    def posted_reviews(self) -> tuple[Trailer, ...]:
        """Review tags the patch carried as posted: its own ``Reviewed-by``,
        ``Acked-by`` and ``Tested-by`` trailers (given on an earlier revision and
        collected by the author), but none with the patch author's address (by
        address only: an in-body ``From:`` may carry a colleague's name)."""
        author = self.message.author or self.message.sender
        mine = author.email.lower() if author else None
        return tuple(
            t for t in self.message.trailers
            if t.key in REVIEW_KEYS and t.person is not None and t.person.email.lower() != mine
        )

    def to_dict(self) -> dict[str, Any]:
        message = self.message
        fields = message.to_dict()
        return {
            "index": self.index,
            "msgid": message.msgid,
            "subject": message.subject.raw,
            "author": _person(message.author),
            "date": message.date.isoformat() if message.date else None,
            "patch_id": message.patch_id,
            "diffstat": fields["diffstat"],
            "trailers": fields["trailers"],
            "followups": [f.to_dict() for f in self.followups],
        }


REVIEW_SOURCES = tuple(ReviewSource)
"""Where a :class:`Review` was found (:class:`~patchtrack.vocab.ReviewSource`): in the
patches as posted (their own trailers), or on the list (replies to this posting, or
carried from the previous revision's identical patch)."""


@attrs.frozen
class Review:
    """One person's review tag on a series: the key (``Reviewed-by``, ``Acked-by``,
    ``Tested-by``), who, the counters of the patches it covers, and ``source``
    (:data:`REVIEW_SOURCES`)."""

    key: str
    person: Person
    patches: tuple[int, ...]
    source: ReviewSource = attrs.field(converter=to_review_source)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.person.name, "email": self.person.email, "patches": list(self.patches)}


def _reviews(found: Iterable[tuple[int, str, Person]], source: ReviewSource) -> tuple[Review, ...]:
    """One :class:`Review` per key and address, in order of first appearance."""
    seen: dict[tuple[str, str], tuple[Person, list[int]]] = {}
    for index, key, person in found:
        _, indexes = seen.setdefault((key, person.email.lower()), (person, []))
        if index not in indexes:
            indexes.append(index)
    return tuple(Review(key, person, tuple(sorted(indexes)), source) for (key, _), (person, indexes) in seen.items())


@attrs.frozen
class RevisionLink:
    """Another revision of a series: its id, version, head mail and date."""

    id: str
    version: int
    msgid: str
    date: datetime | None

    def resolve(self, within: Iterable[Series] | Mapping[str, Series]) -> Series | None:
        """The :class:`Series` this link names, found in ``within`` — the series it
        was linked among (:meth:`Inbox.series <patchtrack.Inbox.series>`,
        :func:`~patchtrack.assemble`), or a dict of them by id — or ``None`` when it
        is not there: ``s.previous.resolve(series)``."""
        if isinstance(within, Mapping):
            return within.get(self.id)
        return next((s for s in within if s.id == self.id), None)

    def __repr__(self) -> str:
        when = f" {self.date.date().isoformat()}" if self.date else ""
        return f"<RevisionLink v{self.version} {self.id[:8]} {safe_line(self.msgid)}{when}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "msgid": self.msgid,
            "date": self.date.isoformat() if self.date else None,
        }


@attrs.frozen
class Series:
    """A patch series as posted: cover letter (if any) and patches, with follow-ups.

    ``id`` is stable across runs and inputs (a hash of the head mail's Message-ID;
    the head is the cover letter, else the lowest-numbered patch). ``total`` is the
    announced length (``N`` of ``n/N``); ``missing_ranges`` are the counters 1..total
    no mail carries, as inclusive ranges (:attr:`missing` lists them one by one);
    ``duplicates`` are further mails for a counter already filled (the earliest copy
    is the patch). ``messages`` is every mail of the series: cover, patches,
    duplicates and all replies below them. ``problems`` are codes from
    :data:`SERIES_PROBLEMS`. ``previous``/``next``/``status``/``evidence`` are set by
    :func:`patchtrack.revisions.link_revisions`.
    """

    id: str
    title: str
    author: Person | None
    sender: Person | None
    version: int
    rfc: bool
    resend: bool
    cover: Message | None
    patches: tuple[Patch, ...]
    total: int
    missing_ranges: tuple[tuple[int, int], ...]
    duplicates: tuple[Message, ...]
    first_date: datetime | None
    last_date: datetime | None
    list_id: str | None
    change_id: str | None
    messages: tuple[Message, ...] = attrs.field(repr=False)
    status: Status = attrs.field(default=Status.NEW, converter=to_status)
    previous: RevisionLink | None = None
    next: RevisionLink | None = None
    evidence: tuple[Evidence, ...] = attrs.field(default=(), converter=to_evidence)
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every patch 1..total is there (a cover letter is not required)."""
        return not self.missing_ranges

    @property
    def missing(self) -> tuple[int, ...]:
        """The counters 1..total no mail carries, one by one — none above
        :data:`MAX_TOTAL` (a series announcing more is flagged ``implausible-total``;
        :attr:`missing_ranges` has every gap)."""
        found: list[int] = []
        for lo, hi in self.missing_ranges:
            if lo > MAX_TOTAL:
                break
            found.extend(range(lo, min(hi, MAX_TOTAL) + 1))
        return tuple(found)

    @property
    def head(self) -> Message:
        """The mail that names the series: its cover letter, else its first patch."""
        return self.cover if self.cover is not None else self.patches[0].message

    @property
    def msgid(self) -> str:
        return self.head.msgid

    @property
    def posted_reviews(self) -> tuple[Review, ...]:
        """Review tags the patches carried as posted (:attr:`Patch.posted_reviews`)."""
        return _reviews(((p.index, t.key, t.person) for p in self.patches for t in p.posted_reviews
                         if t.person is not None), ReviewSource.POSTED)

    @property
    def list_reviews(self) -> tuple[Review, ...]:
        """Review given on the list (:attr:`Patch.reviews`: unflagged replies, and
        those carried from the previous revision), less what a patch already
        carried as posted."""
        found = []
        for p in self.patches:
            own = {(t.key, t.person.email.lower()) for t in p.posted_reviews if t.person is not None}
            found += [(p.index, f.key, f.person) for f in p.reviews
                      if f.person is not None and (f.key, f.person.email.lower()) not in own]
        return _reviews(found, ReviewSource.LIST)

    @property
    def authors(self) -> tuple[Person, ...]:
        """The patches' authors (in-body ``From:``, else the sender), one per
        address, the most patches first (then the earliest)."""
        counts: dict[str, tuple[int, int, Person]] = {}
        for n, p in enumerate(self.patches):
            person = p.message.author or p.message.sender
            if person is not None:
                many, first, _ = counts.get(person.email.lower(), (0, n, person))
                counts[person.email.lower()] = (many + 1, first, person)
        return tuple(person for _, _, person in sorted(counts.values(), key=lambda c: (-c[0], c[1])))

    @property
    def written_by(self) -> Person | None:
        """The series' byline: the one who posted it when they wrote any of its
        patches, else its main author (:attr:`authors`); for a cover letter alone,
        its author."""
        poster = self.head.sender or self.head.author
        authors = self.authors
        if poster is not None:
            for a in authors:  # the poster's own address first, else the same person's other one
                if a.email.lower() == poster.email.lower():
                    return a
            for a in authors:
                if same_person(poster, a):
                    return a
        return authors[0] if authors else self.head.author

    @property
    def sent_by(self) -> Person | None:
        """Who posted the series (the cover's sender, else the first patch's) when
        they wrote none of its patches — a maintainer posting someone's series —
        else ``None``."""
        poster = self.head.sender
        if poster is None or not self.patches or any(same_person(poster, a) for a in self.authors):
            return None
        return poster

    def link(self) -> RevisionLink:
        """This series as the target of a revision link."""
        return RevisionLink(self.id, self.version, self.msgid, self.first_date)

    def _repr_html_(self) -> str:  # Jupyter: the view patchtrack._render registers
        return _views.html(self)

    def __repr__(self) -> str:
        return f"<Series v{self.version} {repr_title(self.title)} {len(self.patches)}/{self.total} {self.status} {self.id[:8]}>"

    def to_mbox(
        self,
        dest: str | os.PathLike[str] | BinaryIO,
        *,
        followups: bool = True,
        link: str | bool = False,
        cover: bool = False,
    ) -> int:
        """Write the series as an mbox ``git am`` applies; returns the patches written.

        Each patch gets the unflagged follow-up trailers replies gave it, after its
        own trailers, as ``b4 am`` adds them (``followups=False``: as posted).
        ``link=True`` adds b4's ``Link: https://patch.msgid.link/<msgid>``; a string
        is a mask (``%s`` or ``{msgid}``). ``cover`` puts the cover letter first
        (then apply with ``git am --empty=drop``: git stops on a mail without a diff). ``dest`` is a path or a binary file. Raises
        :class:`~patchtrack.mbox.MboxError` when a patch is missing. See
        :mod:`patchtrack.mbox` (which writes it: :func:`~patchtrack.mbox.write_mbox`).
        """
        return _views.write_mbox(self, dest, followups=followups, link=link, cover=cover)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields with the documented names (``docs/series.md``)."""
        return {
            "id": self.id,
            "title": self.title,
            "author": _person(self.author),
            "written_by": _person(self.written_by),
            "sent_by": _person(self.sent_by),
            "authors": [_person(a) for a in self.authors],
            "review": {
                "as_posted": [r.to_dict() for r in self.posted_reviews],
                "on_list": [r.to_dict() for r in self.list_reviews],
            },
            "marker": self.head.subject.marker,
            "backport": self.head.subject.backport,
            "version": self.version,
            "rfc": self.rfc,
            "resend": self.resend,
            "status": self.status,
            "cover": None if self.cover is None else {"msgid": self.cover.msgid, "subject": self.cover.subject.raw},
            "patches": [p.to_dict() for p in self.patches],
            "total": self.total,
            "missing": list(self.missing),
            "missing_ranges": [list(r) for r in self.missing_ranges],
            "complete": self.complete,
            "duplicates": [m.msgid for m in self.duplicates],
            "previous": self.previous.to_dict() if self.previous else None,
            "next": self.next.to_dict() if self.next else None,
            "evidence": list(self.evidence),
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "list_id": self.list_id,
            "change_id": self.change_id,
            "messages": len(self.messages),
            "problems": list(self.problems),
        }


def format_counters(ranges: Iterable[tuple[int, int]]) -> str:
    """Counter ranges as text: ``((3, 3), (5, 999999))`` → ``3,5-999999`` (what text
    output prints for :attr:`Series.missing_ranges`)."""
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ranges)


def _gaps(present: Iterable[int], total: int) -> tuple[tuple[int, int], ...]:
    """The counters 1..``total`` not in ``present`` (ascending), as inclusive ranges:
    as many as there are mails, whatever ``total`` says."""
    gaps = []
    start = 1
    for index in present:
        if index > total:
            break
        if index > start:
            gaps.append((start, index - 1))
        start = max(start, index + 1)
    if start <= total:
        gaps.append((start, total))
    return tuple(gaps)


def _person(person: Person | None) -> dict[str, str] | None:
    return None if person is None else {"name": person.name, "email": person.email}


# --- which mails are series mails ---------------------------------------------------


def is_series_mail(message: Message) -> bool:
    """A patch or cover letter as posted: not a reply, not a pull request, and either
    parsed as a patch/cover or carrying a ``n/N`` counter (except a build bot's
    ``[tree:branch n/N]``). A mail without a diff that answers another and gives a
    trailer (``Reviewed-by:``…) is a reply though its subject lacks ``Re:``, as b4
    decides (``LoreMessage``: trailers, references, no diff)."""
    subject = message.subject
    if subject.is_reply or subject.is_pull or message.kind in (Kind.REPLY, Kind.PULL):
        return False
    # a reply whose ``Re:`` got lost (b4 reads it as one too); the diffstat, not the
    # diff, says there is none: reading the diff unpacks the body (5 times the cost
    # of picking the series mails of an archive)
    if _answers(message) and _gives_trailers(message) and message.diffstat is None:
        return False
    if message.kind in (Kind.PATCH, Kind.COVER):
        return True
    # ``[tree:branch 13/37] file.c: warning …``: a build bot names a commit's place
    # in a branch, not a patch's place in a series
    return subject.total is not None and not any(":" in word for word in subject.prefixes)


def _answers(message: Message) -> bool:
    return bool(message.in_reply_to or message.references)


def _gives_trailers(message: Message) -> bool:
    """Whether a mail carries a person trailer other than a sign-off (cover letters
    are signed off; none in the corpora carries another without a diff)."""
    return any(t.person is not None and t.key != "Signed-off-by" for t in message.trailers)


def _index(message: Message) -> int:
    return message.subject.index if message.subject.index is not None else 1


def _total(message: Message) -> int:
    return message.subject.total if message.subject.total is not None else 1


def _sender_email(message: Message) -> str:
    person = message.sender or message.author
    return person.email if person else ""


# --- grouping -------------------------------------------------------------------------


def nearest_above(parents: Mapping[str, str], within: Container[str]) -> Callable[[str], str | None]:
    """The nearest id above an id in ``parents`` that is ``within`` (``None``: none
    is), as a function that climbs each chain once: climbing per mail made a
    50,000-deep reply chain take minutes."""
    found: dict[str, str | None] = {}

    def nearest(msgid: str) -> str | None:
        path: dict[str, None] = {}  # ordered, and a set: a loop in a hand-made map is seen
        current = msgid
        while True:
            if current in found:
                result = found[current]
                break
            path[current] = None
            parent = parents.get(current)
            if parent is None or parent in path:
                result = None
                break
            if parent in within:
                result = parent
                break
            current = parent
        found.update(dict.fromkeys(path, result))  # nothing between them and ``result`` is ``within``
        return result

    return nearest


class _Anchors:
    """Where each series mail's climb (:func:`fragments`) ends: from a mail ``m``, up
    while the parent is a series mail with the same sender as ``m``, the same total
    (or a cover letter above a patch with a ``n/N`` counter: covers miscount), the
    same version (unless ``m``'s is inferred), a lower counter than the mail below it
    (or a cover under a cover), dated within :data:`THREADED_WINDOW` of ``m``.

    All but the dates hold from one step to the next, so the steps that do make a
    forest per mode (same version required or not), and a climb is the longest path
    up it whose dates stay near ``m``'s. The forests carry skew-binary jump pointers
    with the dates each jump passes over, so a climb takes O(log depth) steps: one
    step at a time, 4,000 patches posted each in reply to the one before took 23 s.
    The first :data:`_SHORT` steps are taken one at a time all the same: nearly every
    climb ends there, and building the forests cost more than those steps."""

    def __init__(self, threads: Threads, members: dict[str, Message]) -> None:
        self.members = members
        self.above = nearest_above(threads.parents, threads.messages)
        # per mode (0: any version, 1: same version): id → (parent, depth, jump, undated, lo, hi),
        # the dates of the mails a jump passes over (parent..jump) in lo..hi
        self.nodes: tuple[dict[str, _Node], dict[str, _Node]] = ({}, {})

    def step(self, msgid: str, strict: bool) -> str | None:
        """The parent a climb may go on to, dates aside."""
        above = self.above(msgid)
        if above is None or above not in self.members:
            return None
        a, m = self.members[above], self.members[msgid]
        if not (_index(a) == 0 or _index(a) < _index(m)):
            return None
        if _sender_email(a) != _sender_email(m):
            return None
        if _total(a) != _total(m) and not (_index(a) == 0 and _index(m) != 0 and m.subject.total is not None):
            return None  # a cover's N may disagree with its patches' (cover-count-mismatch)
        if strict and a.subject.version != m.subject.version:
            return None
        return above

    def node(self, msgid: str, strict: bool) -> _Node:
        nodes = self.nodes[strict]
        path = []
        current: str | None = msgid
        while current is not None and current not in nodes:
            path.append(current)
            current = self.step(current, strict)
        for below in reversed(path):
            parent = self.step(below, strict)
            if parent is None:
                nodes[below] = (None, 0, below, False, None, None)
                continue
            _, depth, jump, *_ = p = nodes[parent]
            date = self.members[parent].date
            here: _Node = (parent, depth + 1, parent, date is None, date, date)
            j = nodes[jump]
            if jump != parent and depth - j[1] == j[1] - nodes[j[2]][1]:  # two equal jumps: one twice as long
                here = (parent, depth + 1, j[2], *_span(here[3:], p[3:], j[3:]))
            nodes[below] = here
        return nodes[msgid]

    def anchor(self, msgid: str) -> str:
        m = self.members[msgid]
        if m.date is None:
            return msgid
        strict = not m.subject.version_inferred
        lo, hi = m.date - THREADED_WINDOW, m.date + THREADED_WINDOW
        current = msgid
        for _ in range(_SHORT):
            above = self.step(current, strict)
            if above is None:
                return current
            date = self.members[above].date
            if date is None or not lo <= date <= hi:
                return current
            current = above
        while True:
            parent, _, jump, undated, first, last = self.node(current, strict)
            if parent is None:
                return current
            # a jump's span holds its parent at least: its dates are known unless one is missing
            if jump != parent and not undated and first is not None and last is not None and lo <= first and last <= hi:
                current = jump
                continue
            date = self.members[parent].date
            if date is None or not lo <= date <= hi:
                return current
            current = parent


_SHORT = 8
"""Steps of a climb taken one at a time before the forest's jumps are used."""

_Node = tuple[str | None, int, str, bool, datetime | None, datetime | None]
"""A series mail in a climb's forest: its parent there, its depth, its jump, and
whether a mail the jump passes over is undated, the earliest and latest date."""


def _span(*spans: tuple[Any, ...]) -> tuple[bool, datetime | None, datetime | None]:
    """``(undated, earliest, latest)`` of mails in any of ``spans``."""
    dates = [d for _, first, last in spans for d in (first, last) if d is not None]
    return any(undated for undated, _, _ in spans), min(dates, default=None), max(dates, default=None)


@attrs.define
class Fragment:
    """Series mails posted as one threaded piece; unthreaded pieces of a series are
    merged (see :func:`_groups`)."""

    mails: list[Message]
    has_cover: bool
    indexes: set[int]
    first: datetime | None
    last: datetime | None
    root: str

    @classmethod
    def of(cls, mails: list[Message], root: str) -> Fragment:
        dates = [m.date for m in mails if m.date is not None]
        return cls(
            mails,
            any(_index(m) == 0 for m in mails),
            {_index(m) for m in mails},
            min(dates) if dates else None,
            max(dates) if dates else None,
            root,
        )

    def accepts(self, other: Fragment) -> bool:
        if (self.has_cover and other.has_cover) or not self.indexes.isdisjoint(other.indexes):
            return False
        if self.first is None or other.first is None or self.last is None:
            return False
        return other.first - self.last <= UNTHREADED_WINDOW

    def absorb(self, other: Fragment) -> None:
        self.mails.extend(other.mails)
        self.has_cover |= other.has_cover
        self.indexes |= other.indexes
        self.last = max(d for d in (self.last, other.last) if d is not None)


GroupKey = tuple[int, bool, int, str, bool]
"""What :func:`group_key` gives: version, RESEND, total, sender, and whether the
mail answers nothing."""


def group_key(head: Message) -> GroupKey:
    """What unthreaded fragments of one series share: version, RESEND, total, sender
    (of the fragment's first mail), and whether that mail answers nothing (no
    ``In-Reply-To:``, no ``References:``) — see :func:`filed_under`."""
    rooted = not (head.in_reply_to or head.references)
    return (head.subject.version, head.subject.resend, _total(head), _sender_email(head), rooted)


def filed_under(key: GroupKey) -> tuple[tuple[Any, ...], ...]:
    """The keys a fragment of ``key`` meets others under: its sender's, and for a
    fragment whose first mail answers nothing, also any sender's. Two such fragments
    merge whoever sent them: an am-ready mbox (``Series.to_mbox``, ``b4 am``) has no
    threading headers and gives each patch its author's ``From:``, so keyed on the
    sender alone every complete series of several authors split on the way back
    (all 273 of the corpora's). On the corpora it changes no series."""
    version, resend, total, sender, rooted = key
    own = (version, resend, total, sender)
    return (own, (version, resend, total, None)) if rooted else (own,)


def fragments(threads: Threads, members: dict[str, Message]) -> list[Fragment]:
    """The threaded pieces of series: series mails climbed to their anchor, ordered
    by first mail. Each reply tree's pieces depend on that tree alone."""
    by_anchor: dict[str, list[Message]] = {}
    anchors = _Anchors(threads, members)
    for msgid in members:  # arrival order
        by_anchor.setdefault(anchors.anchor(msgid), []).append(members[msgid])
    return sorted(
        (Fragment.of(mails, threads.root(anchor)) for anchor, mails in by_anchor.items()),
        key=lambda g: arrival_key(g.mails[0]),
    )


def _groups(groups: list[Fragment]) -> list[list[Message]]:
    """Merge unthreaded fragments: a fragment joins an earlier one with the same
    :func:`group_key` posted at most :data:`UNTHREADED_WINDOW` after it ended (and
    with no counter in common) — so fragments further apart never meet. A fragment is
    offered to the :data:`OPEN_FRAGMENTS` latest started of them only."""
    merged: list[Fragment] = []
    open_groups: dict[tuple[Any, ...], dict[int, Fragment]] = {}
    for group in groups:
        keys = filed_under(group_key(group.mails[0]))
        # Fragments come in order of their first mail, so once one that is dated
        # comes more than the window after an open one ended, that one is closed for
        # good. (An undated first mail sorts first, and says nothing of the others.)
        dated = group.mails[0].date is not None
        seen: dict[int, Fragment] = {}
        for key in keys:
            waiting = open_groups.get(key, {})
            found = 0
            closed = []
            if group.first is not None:
                since = group.first - UNTHREADED_WINDOW
                for visited, n in enumerate(reversed(waiting), 1):
                    g = waiting[n]
                    assert g.last is not None  # undated fragments are never open
                    if g.last >= since:
                        seen[n] = g
                        found += 1
                    elif dated:
                        closed.append(n)
                    if found == OPEN_FRAGMENTS or (not dated and visited == OPEN_FRAGMENTS):
                        break
            for n in closed:
                del waiting[n]
        # of the fragments that could take this one, one by the same sender, then
        # one in the same reply tree, then the one posted last (else the first started)
        takers = [seen[n] for n in sorted(seen, reverse=True) if seen[n].accepts(group)]
        sender = _sender_email(group.mails[0])
        target = max(
            takers, key=lambda g: (_sender_email(g.mails[0]) == sender, g.root == group.root, g.last), default=None
        )
        if target is not None:
            target.absorb(group)
            continue
        merged.append(group)
        if group.first is not None and group.last is not None:  # an undated one takes none
            for key in keys:
                open_groups.setdefault(key, {})[len(merged)] = group
    return [sorted(g.mails, key=arrival_key) for g in merged]


# --- follow-ups -----------------------------------------------------------------------


def _owners(threads: Threads, member_ids: set[str]) -> dict[str, str]:
    """For every mail that is not a series mail: the nearest series mail above it."""
    nearest = nearest_above(threads.parents, member_ids)
    return {
        msgid: above for msgid in threads.messages
        if msgid not in member_ids and (above := nearest(msgid)) is not None
    }


def _flagged(trailer: Trailer, sender: Person | None) -> bool:
    if trailer.person is None or not trailer.key.lower().endswith("-by"):
        return False
    return sender is None or not same_person(trailer.person, sender)


def _dedupe(followups: list[Followup]) -> tuple[Followup, ...]:
    """One follow-up per (key, person or value): the earliest unflagged one, else the
    earliest flagged one — a flagged copy never hides a vouched-for one."""
    best: dict[tuple[str, str], Followup] = {}
    for f in sorted(followups, key=_followup_order):
        person = f.trailer.person
        ident = (f.trailer.key.lower(), person.email if person else " ".join(f.trailer.value.lower().split()))
        kept = best.get(ident)
        if kept is None or (kept.flagged and not f.flagged):
            best[ident] = f
    return tuple(sorted(best.values(), key=_followup_order))


def _followup_order(f: Followup) -> tuple[float, str]:
    """By the reply's date, then its Message-ID; a stable sort keeps the trailers of
    one reply in the order it wrote them (as ``b4 am`` does)."""
    return (f.date.timestamp() if f.date else float("-inf"), f.from_msgid)


def _series_id(head: Message) -> str:
    return hashlib.sha1(f"patchtrack-series\0{head.msgid or head.oid}".encode()).hexdigest()[:16]


def _build(
    mails: list[Message],
    copies: dict[str, list[Message]],
    replies: dict[str, list[Message]],
) -> Series:
    by_index: dict[int, list[Message]] = {}
    for m in mails:
        by_index.setdefault(_index(m), []).append(m)
    covers = by_index.pop(0, [])
    cover = covers[0] if covers else None
    duplicates = covers[1:]
    firsts: dict[int, Message] = {}
    for index in sorted(by_index):
        firsts[index] = by_index[index][0]
        duplicates.extend(by_index[index][1:])
    seen_twice = [d for m in mails for d in copies.get(m.msgid, ())]
    duplicates.extend(seen_twice)

    head = cover if cover is not None else next(iter(firsts.values()))
    total = _total(head) if cover is not None else max(_total(m) for m in firsts.values())
    problems: list[str] = []
    counted = {m.subject.total for m in firsts.values() if m.subject.total is not None}
    if cover is not None and counted and counted != {total}:
        problems.append(SeriesProblem.COVER_COUNT_MISMATCH.value)
        if len(counted) == 1:  # the patches agree: the cover letter miscounted them
            total = counted.pop()
    if total > MAX_TOTAL:
        problems.append(SeriesProblem.IMPLAUSIBLE_TOTAL.value)
    missing = _gaps(sorted(firsts), total)

    # follow-ups: replies under each series mail
    given: dict[int, list[Followup]] = {i: [] for i in firsts}
    for member in mails:
        index = _index(member)
        targets = list(firsts) if index == 0 else [index]
        for reply in replies.get(member.msgid, []):
            if reply.msgid == member.msgid:
                continue
            direct = reply.in_reply_to == member.msgid or (reply.references[-1:] == (member.msgid,))
            via = Via.COVER if index == 0 else (Via.REPLY if direct else Via.THREAD)
            for trailer in reply.trailers:
                f = Followup(trailer, reply.msgid, reply.sender, reply.date, via, _flagged(trailer, reply.sender))
                for target in targets:
                    given[target].append(f)
    patches = tuple(Patch(i, firsts[i], _dedupe(given[i])) for i in sorted(firsts))

    everything = list(mails) + seen_twice + [r for m in mails for r in replies.get(m.msgid, [])]
    everything = sorted({m.oid: m for m in everything}.values(), key=arrival_key)
    dates = [m.date for m in list(mails) + seen_twice if m.date is not None]
    first_patch = patches[0].message if patches else head
    return Series(
        id=_series_id(head),
        title=head.subject.title,
        author=head.author,
        sender=head.sender,
        version=head.subject.version,
        rfc=any(m.subject.rfc for m in mails),
        resend=head.subject.resend,
        cover=cover,
        patches=patches,
        total=total,
        missing_ranges=missing,
        duplicates=tuple(sorted(duplicates, key=arrival_key)),
        first_date=min(dates) if dates else None,
        last_date=max(dates) if dates else None,
        list_id=head.list_id,
        change_id=head.change_id or first_patch.change_id,
        messages=tuple(everything),
        problems=tuple(problems),
    )


def group_series(threads: Threads) -> tuple[Series, ...]:
    """Every series in ``threads``, ordered by first post (then id); revision links are
    not set here (see :func:`patchtrack.revisions.link_revisions`)."""
    members = series_members(threads)
    return build_series(threads, members, fragments(threads, members))


def series_members(threads: Threads) -> dict[str, Message]:
    """The series mails among ``threads``' messages, by Message-ID, in arrival order."""
    return {msgid: m for msgid, m in threads.messages.items() if is_series_mail(m)}


def build_series(threads: Threads, members: dict[str, Message], pieces: list[Fragment]) -> tuple[Series, ...]:
    """The series made of ``pieces`` (from :func:`fragments`) once merged, with the
    replies below their mails, ordered by first post."""
    owner = _owners(threads, set(members))
    replies: dict[str, list[Message]] = {}
    for msgid, above in owner.items():
        replies.setdefault(above, []).append(threads.messages[msgid])
    copies: dict[str, list[Message]] = {}
    for copy in threads.duplicates:
        copies.setdefault(copy.msgid, []).append(copy)
    built = [_build(mails, copies, replies) for mails in _groups(pieces)]
    return tuple(sorted(built, key=series_order))


def series_order(series: Series) -> tuple[float, str]:
    """Series by first post, then id: the order every list of series is given in."""
    return (series.first_date.timestamp() if series.first_date else float("-inf"), series.id)

