"""Which patches landed upstream, when, and how we know: the tracking stage.

:class:`Upstream` indexes a project's git history once (per commit: author,
committer, dates, normalized title, ``git patch-id --stable``, the message-ids its
``Link:``/``Message-ID:`` trailers name, and a fingerprint of its changed lines).
:func:`track` matches each patch of some series to the commit it became, by three
methods, strongest first:

1. **link** — the commit's ``Link:``/``Message-ID:`` trailer names the mail
   (lore, patch.msgid.link or a bare ``<id>``): confidence 1.0;
2. **patch-id** — the same ``git patch-id --stable`` as the mail's diff, committed
   after the mail: 0.95;
3. **subject** — the same normalized title from the same author, committed within
   :data:`SUBJECT_WINDOW` after the mail, with the changed lines compared (for a
   patch the maintainer edited while applying): 0.6–0.95 by similarity.

A commit is claimed by one mail, unless two mails are the same patch (the same
patch-id: a resend), which is then said. A series is ``applied``, ``partly
applied``, ``not applied``, or ``applied as a later revision`` (one its ``next``
links lead to), with the time from its first posting to its last patch's commit.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

import attrs
import pygit2

from .cache import Cache, source_digest
from .diff import patch_id
from .errors import PatchtrackError
from .identity import Person, same_person
from .revisions import first_revision
from .series import Patch, Series
from .trailers import LINK_KEYS, MESSAGE_ID_KEYS, msgid_from_url, parse_trailers
from .vocab import Method, State, to_method, to_state

__all__ = [
    "Upstream", "UpstreamCommit", "UpstreamError", "Landing", "PatchTrack", "SeriesTrack", "track",
    "SUBJECT_WINDOW", "SAME_CHANGE",
]

SUBJECT_WINDOW = timedelta(days=365)
"""How long after posting a commit with the same title and author can be the patch."""

SAME_CHANGE = 0.6 + 0.35 * 0.8
"""A subject match this sure (80 % of the changed lines alike) is the same change."""

_BARE_MSGID = re.compile(r"^<?([^<>\s@]+@[^<>\s]+?)>?$")
_TITLE_PREFIX = re.compile(r"^(?:\[[^\]]*\]\s*)+")


class UpstreamError(PatchtrackError):
    """The upstream path is not a git repository, or its range is unknown."""


@attrs.frozen
class UpstreamCommit:
    """One commit of the upstream history, as the tracker needs it."""

    id: str
    author: Person
    committer: Person
    author_date: datetime
    commit_date: datetime
    title: str
    patch_id: str | None
    msgids: tuple[str, ...]
    lines: frozenset[int] = attrs.field(repr=False, eq=False)
    """CRC-32s of the added and removed lines (whitespace dropped): the diff's shape."""


@attrs.frozen
class Landing:
    """Where a patch landed: the commit, how it was found, how sure we are."""

    commit: UpstreamCommit
    method: Method = attrs.field(converter=to_method)
    confidence: float = attrs.field()
    evidence: str = attrs.field()
    resend_of: str | None = None
    """When another mail (the same patch, posted again) claims the same commit: its msgid."""


@attrs.frozen
class PatchTrack:
    patch: Patch
    landing: Landing | None

    @property
    def applied(self) -> bool:
        return self.landing is not None


@attrs.frozen
class SeriesTrack:
    """A series' fate upstream."""

    series: Series
    state: State = attrs.field(converter=to_state)
    patches: tuple[PatchTrack, ...] = attrs.field()
    later: Series | None = None
    """The later revision that was applied, for ``applied as a later revision``."""
    time_to_merge: timedelta | None = None
    """From this series' first revision's first post to its last landed patch's commit."""

    def to_dict(self) -> dict[str, object]:
        return {
            "series": self.series.id,
            "title": self.series.title,
            "version": self.series.version,
            "state": self.state,
            "later": self.later.id if self.later else None,
            "days_to_merge": round(self.time_to_merge.total_seconds() / 86400, 2) if self.time_to_merge else None,
            "patches": [
                {
                    "index": t.patch.index,
                    "msgid": t.patch.msgid,
                    "commit": t.landing.commit.id if t.landing else None,
                    "method": t.landing.method if t.landing else None,
                    "confidence": t.landing.confidence if t.landing else None,
                    "evidence": t.landing.evidence if t.landing else None,
                    "resend_of": t.landing.resend_of if t.landing else None,
                    "committed": t.landing.commit.commit_date.isoformat() if t.landing else None,
                }
                for t in self.patches
            ],
        }


# --- the upstream index ---------------------------------------------------------------


class Upstream:
    """A git repository's commits, indexed for tracking. Make one with :meth:`index`."""

    def __init__(self, commits: Sequence[UpstreamCommit]) -> None:
        self.commits = tuple(commits)
        self.by_msgid: dict[str, list[UpstreamCommit]] = {}
        self.by_patch_id: dict[str, list[UpstreamCommit]] = {}
        self.by_title: dict[str, list[UpstreamCommit]] = {}
        for c in self.commits:
            for msgid in c.msgids:
                self.by_msgid.setdefault(msgid, []).append(c)
            if c.patch_id:
                self.by_patch_id.setdefault(c.patch_id, []).append(c)
            self.by_title.setdefault(_norm(c.title), []).append(c)

    @classmethod
    def index(
        cls,
        path: str | os.PathLike[str],
        range: str | None = None,
        *,
        since: datetime | None = None,
        cache: Cache | None = None,
    ) -> Upstream:
        """Index the non-merge commits of ``range`` (git's ``A..B``; default: HEAD's
        history) in the repository at ``path``, committed at or after ``since``.

        With ``cache``, the index is stored; a later call reads it back and indexes
        only the commits added since (when the old tip is still in the history)."""
        try:
            repo = pygit2.Repository(os.fspath(path))
        except (pygit2.GitError, KeyError, ValueError):
            raise UpstreamError(f"{path}: not a git repository") from None
        start, hide = _range(repo, range)
        floor = since.timestamp() if since is not None else None
        key = _index_key(repo, hide, floor)
        known: list[UpstreamCommit] = []
        stored = cache.get_upstream(key) if cache is not None else None
        if stored is not None:
            tip, rows = marshal.loads(stored)
            old = pygit2.Oid(hex=tip)
            if old == start:
                return cls([_decode_commit(r) for r in rows])
            if repo.descendant_of(start, old):
                known = [_decode_commit(r) for r in rows]
                hide = old
        walker = repo.walk(start, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        if hide is not None:
            walker.hide(hide)
        commits = known + [
            _commit(repo, c) for c in walker
            if len(c.parents) == 1 and (floor is None or c.commit_time >= floor)
        ]
        if cache is not None:
            cache.put_upstream(key, marshal.dumps((str(start), [_encode_commit(c) for c in commits]), 4))
        return cls(commits)


def _index_key(repo: pygit2.Repository, hide: pygit2.Oid | None, floor: float | None) -> str:
    """Where an index is stored: the repository, the range's start, the date floor,
    and the source of the code that computes it."""
    code = source_digest("upstream", "diff", "trailers", "identity")
    text = f"{code}:{os.path.realpath(repo.path)}:{hide}:{floor}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _encode_commit(c: UpstreamCommit) -> tuple[object, ...]:
    return (
        c.id, (c.author.name, c.author.email), (c.committer.name, c.committer.email),
        (c.author_date.timestamp(), c.author_date.utcoffset().total_seconds() // 60),  # type: ignore[union-attr]
        (c.commit_date.timestamp(), c.commit_date.utcoffset().total_seconds() // 60),  # type: ignore[union-attr]
        c.title, c.patch_id, c.msgids, tuple(c.lines),
    )


def _decode_commit(row: tuple[object, ...]) -> UpstreamCommit:
    cid, author, committer, adate, cdate, title, pid, msgids, lines = row
    return UpstreamCommit(
        cid, Person(*author), Person(*committer), _when(*adate), _when(*cdate),  # type: ignore[arg-type,misc]
        title, pid, msgids, frozenset(lines),  # type: ignore[arg-type,call-overload]
    )


def _range(repo: pygit2.Repository, spec: str | None) -> tuple[pygit2.Oid, pygit2.Oid | None]:
    try:
        if spec is None:
            return repo.head.peel(pygit2.Commit).id, None
        if ".." in spec:
            a, _, b = spec.partition("..")
            tip = repo.revparse_single(b or "HEAD").peel(pygit2.Commit).id
            return tip, repo.revparse_single(a).peel(pygit2.Commit).id if a else None
        return repo.revparse_single(spec).peel(pygit2.Commit).id, None
    except (KeyError, ValueError, pygit2.GitError):
        raise UpstreamError(f"{spec}: unknown revision in the upstream repository") from None


def _commit(repo: pygit2.Repository, c: pygit2.Commit) -> UpstreamCommit:
    diff = repo.diff(c.parents[0], c)
    text = diff.patch or ""
    message = c.message
    title = message.split("\n", 1)[0].strip()
    return UpstreamCommit(
        id=str(c.id),
        author=Person(c.author.name, c.author.email.lower()),
        committer=Person(c.committer.name, c.committer.email.lower()),
        author_date=_when(c.author.time, c.author.offset),
        commit_date=_when(c.commit_time, c.commit_time_offset),
        title=title,
        patch_id=patch_id(text) if text else None,
        msgids=_named_msgids(message),
        lines=_line_hashes(text),
    )


def _when(seconds: float, offset_minutes: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone(timedelta(minutes=offset_minutes)))


def _named_msgids(message: str) -> tuple[str, ...]:
    """Message-ids a commit's link trailers (:data:`~patchtrack.trailers.LINK_KEYS`) and
    ``Message-ID:`` trailers name."""
    found = []
    for t in parse_trailers(message):
        if t.key in LINK_KEYS:
            for word in t.value.split():
                msgid = msgid_from_url(word.strip("<>.,;()[]"))
                if msgid:
                    found.append(msgid)
        elif t.key in MESSAGE_ID_KEYS:
            m = _BARE_MSGID.match(t.value.strip())
            if m:
                found.append(m.group(1))
    return tuple(dict.fromkeys(found))


def _line_hashes(diff: str) -> frozenset[int]:
    """The changed lines of a diff, whitespace dropped, as CRC-32s."""
    found = set()
    for line in diff.split("\n"):
        if line[:1] in ("+", "-") and not line.startswith(("+++ ", "--- ")):
            body = "".join(line[1:].split())
            if body:
                found.add(zlib.crc32(f"{line[0]}{body}".encode("utf-8", "surrogateescape")))
    return frozenset(found)


def _norm(title: str) -> str:
    return " ".join(_TITLE_PREFIX.sub("", title).casefold().split()).rstrip(".")


# --- matching -------------------------------------------------------------------------


def track(series: Iterable[Series], upstream: Upstream) -> list[SeriesTrack]:
    """Each series' fate in ``upstream`` (see the module docs), in the given order.

    Pass every series that could be another's later revision (e.g. ``inbox.series()``)
    to see "applied as a later revision"."""
    found = list(series)
    # Strongest evidence first. Between equals, the mail posted first claims the
    # commit — except by subject, where the version posted last (closest to what
    # was applied) does. A commit that is exactly another mail's patch (its
    # patch-id) is claimed by subject only when the lines are nearly the same: the
    # same change, posted again in another form (then it is a resend).
    exact = {p.message.patch_id for s in found for p in s.patches if p.message.patch_id}
    candidates: list[tuple[float, float, int, Patch, Landing]] = []
    for s in found:
        for p in s.patches:
            posted = p.message.date.timestamp() if p.message.date else float("-inf")
            for landing in _candidates(p, upstream):
                if landing.method is Method.SUBJECT:
                    if (landing.commit.patch_id in exact and landing.commit.patch_id != p.message.patch_id
                            and landing.confidence < SAME_CHANGE):
                        continue
                    order = -posted
                else:
                    order = posted
                candidates.append((-landing.confidence, order, len(candidates), p, landing))
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    claimed: dict[str, Patch] = {}  # commit id → the mail that claimed it
    landed: dict[str, Landing] = {}  # patch msgid → landing
    for _, _, _, p, landing in candidates:
        if p.msgid in landed:
            continue
        owner = claimed.get(landing.commit.id)
        if owner is None:
            claimed[landing.commit.id] = p
            landed[p.msgid] = landing
        elif (owner.message.patch_id and owner.message.patch_id == p.message.patch_id) or (
            landing.method is Method.SUBJECT and landing.confidence >= SAME_CHANGE
        ):
            landed[p.msgid] = attrs.evolve(landing, resend_of=owner.msgid)
    by_id = {s.id: s for s in found}
    tracks = {s.id: _series_track(s, landed, by_id) for s in found}
    result = []
    for s in found:
        t = tracks[s.id]
        if t.state is State.NOT_APPLIED:
            later = _applied_later(s, by_id, tracks)
            if later is not None:
                t = attrs.evolve(t, state=State.APPLIED_LATER, later=later.series,
                                 time_to_merge=_merge_time(s, later.patches, by_id))
        result.append(t)
    return result


def _candidates(p: Patch, upstream: Upstream) -> list[Landing]:
    m = p.message
    posted = m.date
    found: list[Landing] = []
    for c in upstream.by_msgid.get(m.msgid, ()):
        found.append(Landing(c, Method.LINK, 1.0, f"the commit's trailers name <{m.msgid}>"))
    if m.patch_id:
        for c in upstream.by_patch_id.get(m.patch_id, ()):
            if posted is None or c.commit_date >= posted - timedelta(days=1):
                found.append(Landing(c, Method.PATCH_ID, 0.95, f"patch-id {m.patch_id[:12]}"))
    title = _norm(m.subject.title if m.commit_message is None else m.commit_message.split("\n", 1)[0])
    author = m.author or m.sender
    mine = _line_hashes(m.diff or "")
    for c in upstream.by_title.get(title, ()):
        if posted is not None and not (posted - timedelta(days=1) <= c.commit_date <= posted + SUBJECT_WINDOW):
            continue
        if author is None or not (c.author.email == author.email or same_person(c.author, author)):
            continue
        similarity = len(mine & c.lines) / len(mine | c.lines) if mine and c.lines else 0.0
        if similarity >= 0.2:
            found.append(Landing(c, Method.SUBJECT, round(0.6 + 0.35 * similarity, 3),
                                 f"same title and author, {similarity:.0%} of changed lines alike"))
    return found


def _series_track(s: Series, landed: dict[str, Landing], by_id: dict[str, Series]) -> SeriesTrack:
    patches = tuple(PatchTrack(p, landed.get(p.msgid)) for p in s.patches)
    hits = sum(t.applied for t in patches)
    if hits == 0:
        state = State.NOT_APPLIED
    elif hits == len(patches) and s.complete:
        state = State.APPLIED
    else:
        state = State.PARTLY_APPLIED
    return SeriesTrack(s, state, patches, None, _merge_time(s, patches, by_id) if hits else None)


def _merge_time(s: Series, patches: Sequence[PatchTrack], by_id: dict[str, Series]) -> timedelta | None:
    """From the first revision's first post to the last landed patch's commit."""
    first = first_revision(s, by_id)
    dates = [t.landing.commit.commit_date for t in patches if t.landing is not None]
    if not dates or first.first_date is None:
        return None
    return max(dates) - first.first_date


def _applied_later(s: Series, by_id: dict[str, Series], tracks: dict[str, SeriesTrack]) -> SeriesTrack | None:
    seen = {s.id}
    current = s
    while current.next is not None and current.next.id in by_id and current.next.id not in seen:
        current = by_id[current.next.id]
        seen.add(current.id)
        if tracks[current.id].state in (State.APPLIED, State.PARTLY_APPLIED):
            return tracks[current.id]
    return None
