"""Series → revision chains: the fifth stage of the pipeline.

Each series is linked to the revision it follows (``previous``) and the one that
followed it (``next``), with the evidence that links them, strongest first:

- ``change-id``: the same ``change-id:`` (b4) in both;
- ``link``: the cover letter or a patch's notes point at the earlier series
  (``v4: https://lore.kernel.org/r/<msgid>``, ``Link to v1: …``);
- ``in-reply-to``: the series was posted in reply to the earlier one (an in-thread
  reroll, or a partial reroll of one patch);
- ``patch-id``: a patch of the series has the same patch-id as a patch of the
  earlier one (the same change, unchanged);
- ``title``: the same title (case and blanks aside) and the same author;
- ``content``: for a series that says it has a past (v2+, RESEND), an earlier one by
  the same author that shares a patch title, or changes the same files with a
  similar explanation (retitled work, a patch continued from a larger series).

The previous revision is the *highest version below this one* among the earlier series that any evidence points to (a series of the same
version counts when this one is a RESEND or carries the very same patches); ties
go to the stronger evidence, then the later post. Title or content matches alone are
trusted only within :data:`TITLE_WINDOW`, since short titles recur.

Once linked, follow-ups of a patch carry over to the next revision's patch with the
same patch-id (``via="carried"``) unless that patch already has them.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from .identity import Person, same_person
from .series import RevisionLink, Series, series_order
from .trailers import MSGID_HOSTS, msgid_from_url
from .vocab import Evidence, Status, Via

__all__ = [
    "EVIDENCE", "OTHER_AUTHOR", "TITLE_WINDOW", "SCAN_LIMIT", "first_revision", "last_revision", "link_revisions",
    "people", "writers", "same_authors", "strangers",
    # the steps of link_revisions, for re-linking a stored archive after new mail
    # (patchtrack._engine): the keys linking reads, their index, the links of one
    "LinkKey", "LinkIndex", "link_keyed", "links", "relinked", "followers", "carry",
]

EVIDENCE = tuple(e for e in Evidence if e is not Evidence.OTHER_AUTHOR)
"""The kinds of evidence for a revision link, strongest first (:class:`~patchtrack.vocab.Evidence`)."""

OTHER_AUTHOR = Evidence.OTHER_AUTHOR
"""Marks ``evidence`` (after its kinds) when the series' code is not by the people of
the revision it follows (:func:`same_authors`): somebody else's reroll — a colleague
taking over, or a third party's ``[PATCH v2]`` posted in the thread. Such a link
ranks below a same-author one of the same version, a revision's ``next`` is a
same-author follower when there is one, and :func:`last_revision` can stop there."""

TITLE_WINDOW = timedelta(days=365)
"""How far back a title-and-author match alone may link a revision."""

_ARCHIVE_URL = re.compile(r"https?://(?:" + "|".join(map(re.escape, MSGID_HOSTS)) + r")/[^\s<>\"')\]]+")


def _norm_title(title: str) -> str:
    return " ".join(title.casefold().split()).rstrip(".")


_VERSION_CONTEXT = re.compile(
    r"\b[vV]\d+\b|\bversions?\b|\bprevious\b|\bearlier\b|\bprior\b|\blast\b|\brevision\b"
    r"|\biteration\b|\bround\b|\bposting\b|\bsubmission\b|\bchange ?log\b|\bchanges since\b"
    r"|\b(?:re-?)?post(?:ed)?\b|\bsent\b|\bresend(?:ing)?\b",
    re.IGNORECASE,
)
_FOOTNOTE = re.compile(r"^\s*\[(?P<mark>\d{1,2})\]:?\s+\S")
_CITED = re.compile(r"\[(\d{1,2})\]")


def _linked_msgids(series: Series) -> set[str]:
    """Message-ids of earlier postings the series' own text points at: archive links
    in the cover letter or patch notes on a line that speaks of a version (``v4:``,
    ``Link to v1:``, ``previous version``) — or right below such a line. A link in
    other words ("based on", "depends on") names other work."""
    texts = [series.cover.body] if series.cover is not None else []
    texts += [p.message.notes or "" for p in series.patches]
    found = set()
    for text in texts:
        if "://" not in text:  # most notes and covers link nothing: skip the line scan
            continue
        lines = text.splitlines()
        notes = {}  # "[1] https://…" footnotes, cited as "[1]" in a sentence
        for line in lines:
            m = _FOOTNOTE.match(line) if "[" in line else None
            if m:
                notes[m["mark"]] = _ARCHIVE_URL.findall(line)
        above = ""
        for line in lines:
            # only a line with "://" can hold a URL: most lines skip both expressions
            urls = _ARCHIVE_URL.findall(line) if "://" in line and not _FOOTNOTE.match(line) else []
            if urls and (_VERSION_CONTEXT.search(_ARCHIVE_URL.sub("", line)) or _VERSION_CONTEXT.search(above)):
                found.update(_msgids(urls))
            if notes and _VERSION_CONTEXT.search(line):
                for mark in _CITED.findall(line):
                    found.update(_msgids(notes.get(mark, [])))
            if line.strip():
                above = line
    return found


def _msgids(urls: list[str]) -> set[str]:
    return {msgid for url in urls if (msgid := msgid_from_url(url.rstrip(".,;:")))}


_WORD = re.compile(r"[a-z_][a-z0-9_]{3,}")
_PEOPLE_LINE = re.compile(r"^[a-z-]+-by:", re.MULTILINE)
"""A person trailer line (``…-by:``, :data:`~patchtrack.trailers.TRAILER_KEYS`) of a
lower-cased commit message: who signed or reviewed is no explanation of the change,
and it changes between revisions. The other trailer lines are kept in the words on
purpose: a ``Fixes:`` title, a ``Link:`` and a ``Cc:`` list say what the work is about
(dropping them too loses three true links on the corpora — linux-pwm's samsung bit
test v1→v2, linux-man's sockaddr v1→v3, linux-fpga's of_node lookups v2→v3 — and
gains none)."""


@attrs.define
class LinkKey:
    """What revision linking reads of a series: its place, its version and the
    evidence it can give or take. Linking runs on these, so a stored assembly can
    re-link a few series against all the others without decoding them.

    The commit messages' words (for ``content`` evidence) are read only when a
    comparison gets that far (few do: the files must overlap first), from
    ``messages`` (the patches' commit messages), then kept."""

    id: str
    order: tuple[float, str]
    version: int
    resend: bool
    first_date: datetime | None
    author: Person | None
    change_id: str | None
    title: str
    authors: frozenset[str]
    patch_titles: frozenset[str]
    files: frozenset[str]
    patch_ids: frozenset[str | None]
    msgids: tuple[str, ...]
    linked: frozenset[str]
    parents: frozenset[str]
    msgid: str
    writers: tuple[Person, ...]
    people: tuple[Person, ...]
    messages: Callable[[], list[str]] = attrs.field(eq=False, repr=False)
    backport: str | None = None
    """The stable tree the series is a backport for (:attr:`Subject.backport`): it
    links only to backports for the same tree, never to the original work."""
    _words: frozenset[str] | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def of(cls, s: Series, parents: Mapping[str, str]) -> LinkKey:
        """``s``'s key; ``parents`` is the reply forest's parent map."""
        heads = [s.author] + [p.message.author for p in s.patches]
        mails = [s.head] + [p.message for p in s.patches]
        return cls(
            id=s.id,
            order=series_order(s),
            version=s.version,
            resend=s.resend,
            first_date=s.first_date,
            author=s.author,
            change_id=s.change_id,
            title=_norm_title(s.title),
            authors=frozenset(a.email for a in heads if a is not None and a.email),
            patch_titles=frozenset(_norm_title(p.message.subject.title) for p in s.patches),
            files=frozenset(f.path for p in s.patches if p.diffstat for f in p.diffstat.files),
            patch_ids=frozenset(p.patch_id for p in s.patches),
            msgids=tuple(m.msgid for m in s.messages),
            linked=frozenset(_linked_msgids(s)),
            parents=frozenset(parent for m in mails if (parent := parents.get(m.msgid)) is not None),
            msgid=s.msgid,
            writers=writers(s),
            people=people(s),
            messages=lambda: [p.message.commit_message or "" for p in s.patches],
            backport=s.head.subject.backport,
        )

    def link(self) -> RevisionLink:
        """The series as the target of a revision link (:meth:`Series.link`)."""
        return RevisionLink(self.id, self.version, self.msgid, self.first_date)

    @property
    def words(self) -> frozenset[str]:
        if self._words is None:
            text = " ".join(
                line for text in self.messages()
                for line in text.lower().splitlines()[1:]
                if not _PEOPLE_LINE.match(line)
            )
            self._words = frozenset(_WORD.findall(text))
        return self._words

    def same_work(self, other: LinkKey) -> bool:
        """A patch title in common, or the same files changed and explained alike."""
        if self.patch_titles & other.patch_titles:
            return True
        files = _jaccard(self.files, other.files)
        if files == 0:
            return False
        words = _jaccard(self.words, other.words)
        return (files >= 0.5 and words >= 0.25) or words >= 0.6

    def same_author(self, other: LinkKey) -> bool:
        """The head authors are one person, or an author of a patch is in both."""
        if self.author is not None and other.author is not None and same_person(self.author, other.author):
            return True
        return bool(self.authors & other.authors)

    def written_by_people_of(self, other: LinkKey) -> bool:
        """Whether this series' code is by ``other``'s people (:func:`same_authors`)."""
        return _among(self.writers, other.people)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@attrs.frozen
class LinkIndex:
    """Lookups from evidence to the series (positions in ``keys``) that give it.

    Each list holds positions by (version, position): a series' previous revision is
    the highest earlier version, so a lookup reads such a list from just below the
    series' own version down, and stops at the first series it can take. It reads at
    most :data:`SCAN_LIMIT` of them: reading them all made 4,000 revisions of one
    title take 54 s (each compared with every other)."""

    keys: Sequence[LinkKey]
    by_msgid: dict[str, int]
    by_change: dict[str, list[int]]
    by_patch_id: dict[str, list[int]]
    by_title: dict[str, list[int]]
    by_author: dict[str, list[int]]

    @classmethod
    def of(cls, keys: Sequence[LinkKey]) -> LinkIndex:
        """The index of ``keys``, which are in :func:`series_order`."""
        index = cls(keys, {}, {}, {}, {}, {})
        for n, k in enumerate(keys):
            for msgid in k.msgids:
                index.by_msgid.setdefault(msgid, n)
            if k.change_id:
                index.by_change.setdefault(k.change_id, []).append(n)
            for pid in k.patch_ids:
                if pid:
                    index.by_patch_id.setdefault(pid, []).append(n)
            index.by_title.setdefault(k.title, []).append(n)
            for email in k.authors:
                index.by_author.setdefault(email, []).append(n)
        for table in (index.by_change, index.by_patch_id, index.by_title, index.by_author):
            for found in table.values():
                found.sort(key=lambda m: keys[m].version)  # stable: by position within a version
        return index

    def previous(self, n: int) -> tuple[int, tuple[Evidence, ...]] | None:
        """The revision the ``n``-th series follows, with the kinds of evidence."""
        s = self.keys[n]
        if s.first_date is None:  # nothing is known to be earlier
            return None
        kinds = _Kinds(self, n)
        # The strong evidence's best series (the highest earlier version, the latest
        # of it), then the weak evidence's, given the strong ones' floor. The one
        # chosen is among these: any other series of a list is a lower version, or an
        # earlier one of the same version with no stronger evidence.
        found = [*kinds.links, *kinds.parents]
        if s.change_id:
            found += self._best(self.by_change[s.change_id], n, s.resend, kinds.valid, kinds.same)
        for pid in s.patch_ids:
            if pid:  # a same version counts with the very same patches
                found += self._best(self.by_patch_id[pid], n, True, kinds.valid, kinds.same)
        evidence = {m: (self.keys[m], kinds.of(m)) for m in found}
        kinds.floor = _floor(s, evidence)
        found = self._best(self.by_title[s.title], n, s.resend, kinds.titled, kinds.same)
        if s.version > 1 or s.resend:  # it says it has a past: look for it under other titles
            for email in s.authors:
                found += self._best(self.by_author[email], n, s.resend, kinds.similar, kinds.same)
        evidence.update((m, (self.keys[m], kinds.of(m))) for m in found)
        candidates = _candidates(s, {m: e for m, e in evidence.items() if e[1]})
        if not candidates:
            return None
        keys = self.keys
        # the highest version; of it, a same-author one, the strongest evidence, the latest
        m, chosen = max(
            candidates, key=lambda c: (keys[c[0]].version, kinds.same(c[0]), _strength(c[1]), keys[c[0]].order)
        )
        return m, tuple(k for k in EVIDENCE if k in chosen) + (() if kinds.same(m) else (OTHER_AUTHOR,))

    def _best(
        self, found: list[int], n: int, same_version: bool, take: Callable[[int], bool], same: Callable[[int], bool]
    ) -> list[int]:
        """The first series of ``found`` (by version and position) from the top down,
        below ``n``'s version (or of it, with ``same_version``) and posted before it,
        that ``take`` accepts — and, when that one is by other people (``same``), the
        first of its version that is by the same; none of more than
        :data:`SCAN_LIMIT` read."""
        keys = self.keys
        version = keys[n].version
        bound = (version, n) if same_version else (version, -1)
        top = bisect.bisect_left(found, bound, key=lambda m: (keys[m].version, m))
        best: list[int] = []
        for i in range(top - 1, max(top - 1 - SCAN_LIMIT, -1), -1):
            m = found[i]
            if best and keys[m].version < keys[best[0]].version:
                break
            if m < n and take(m) and (not best or same(m)):
                best.append(m)
                if same(m):
                    break
        return best


SCAN_LIMIT = 64
"""How many series of one evidence list (one change-id, patch-id, title or author) a
lookup reads, from the highest version below the series' own down. On the corpora no
link changes with no limit at all: the deepest finds (a prolific author's list, read
for ``content``, down to the 234th) are series other evidence finds too."""


class _Kinds:
    """The evidence between the ``n``-th series of an index and another, and whether
    that one can be its previous revision."""

    def __init__(self, index: LinkIndex, n: int) -> None:
        self.index = index
        self.n = n
        self.s = index.keys[n]
        self.links = {index.by_msgid[msgid] for msgid in self.s.linked if msgid in index.by_msgid}
        self.parents = {index.by_msgid[msgid] for msgid in self.s.parents if msgid in index.by_msgid}
        self.floor: LinkKey | None = None
        self._same: dict[int, bool] = {}

    def same(self, m: int) -> bool:
        """Whether the series' code is by ``m``'s people (:func:`same_authors`)."""
        found = self._same.get(m)
        if found is None:
            found = self._same[m] = self.s.written_by_people_of(self.index.keys[m])
        return found

    def strong(self, m: int) -> set[Evidence]:
        s, other = self.s, self.index.keys[m]
        found = set()
        if s.change_id and s.change_id == other.change_id:
            found.add(Evidence.CHANGE_ID)
        if m in self.links:
            found.add(Evidence.LINK)
        if m in self.parents:
            found.add(Evidence.IN_REPLY_TO)
        if any(pid and pid in other.patch_ids for pid in s.patch_ids):
            found.add(Evidence.PATCH_ID)
        return found

    def of(self, m: int) -> set[Evidence]:
        """The kinds of evidence ``m`` gives (what a full comparison would find)."""
        if m == self.n:
            return set()
        s, other = self.s, self.index.keys[m]
        found = self.strong(m)
        if other.title == s.title and s.same_author(other):
            found.add(Evidence.TITLE)
        if (
            not found and (s.version > 1 or s.resend) and not s.authors.isdisjoint(other.authors)
            and other.version <= s.version and s.same_work(other)
        ):
            found.add(Evidence.CONTENT)
        return found

    def valid(self, m: int) -> bool:
        """``m`` is an earlier version (strong evidence needs no more)."""
        return _earlier_version(self.s, self.index.keys[m], self.strong(m))

    def recent(self, m: int) -> bool:
        """``m`` may be linked by weak evidence alone (see :func:`_candidates`)."""
        s, o, floor = self.s, self.index.keys[m], self.floor
        assert s.first_date is not None and o.first_date is not None
        if s.first_date - o.first_date <= TITLE_WINDOW:
            return True
        return floor is not None and o.version > floor.version and o.order > floor.order

    def titled(self, m: int) -> bool:
        return self.valid(m) and self.recent(m) and self.s.same_author(self.index.keys[m])

    def similar(self, m: int) -> bool:
        return self.valid(m) and self.recent(m) and self.s.same_work(self.index.keys[m])


_WEAK = frozenset({Evidence.TITLE, Evidence.CONTENT})


def _earlier_version(s: LinkKey, other: LinkKey, kinds: set[Evidence]) -> bool:
    """``other`` was posted before ``s`` with a lower version — or the same version,
    when ``s`` is a RESEND or carries the very same patches."""
    if other.first_date is None or s.first_date is None or other.order >= s.order:
        return False
    if other.backport != s.backport:  # a stable backport is no revision of the original
        return False
    if other.version > s.version:
        return False
    if other.version == s.version:
        return s.resend or (Evidence.PATCH_ID in kinds and s.patch_ids == other.patch_ids)
    return True


def _floor(s: LinkKey, evidence: dict[int, tuple[LinkKey, set[Evidence]]]) -> LinkKey | None:
    """The highest earlier version strong evidence points to (latest of it)."""
    strong = [o for o, kinds in evidence.values() if kinds and not kinds <= _WEAK and _earlier_version(s, o, kinds)]
    return max(strong, key=lambda o: (o.version, o.order), default=None)


def _candidates(s: LinkKey, evidence: dict[int, tuple[LinkKey, set[Evidence]]]) -> list[tuple[int, set[Evidence]]]:
    """The earlier versions evidence allows. Title or content alone count within
    :data:`TITLE_WINDOW` — or beyond it for a version between a strongly linked one
    and ``s`` (v14 linked by URL makes a same-title v15 of later date v14's successor)."""
    earlier = {m: (o, kinds) for m, (o, kinds) in evidence.items() if _earlier_version(s, o, kinds)}
    floor = _floor(s, earlier)
    chosen = []
    for m, (o, kinds) in earlier.items():
        if kinds <= _WEAK:
            assert s.first_date is not None and o.first_date is not None
            recent = s.first_date - o.first_date <= TITLE_WINDOW
            bridged = floor is not None and o.version > floor.version and o.order > floor.order
            if not (recent or bridged):
                continue
        chosen.append((m, kinds))
    return chosen


def _strength(kinds: set[Evidence]) -> int:
    return max(len(EVIDENCE) - EVIDENCE.index(k) for k in kinds)


def carry(s: Series, previous: Series) -> Series:
    """Give ``s``'s patches the unflagged follow-ups of the previous revision's
    patches with the same patch-id, unless they already carry them."""
    earlier = {p.patch_id: p for p in previous.patches if p.patch_id}
    patches = []
    for patch in s.patches:
        old = earlier.get(patch.patch_id) if patch.patch_id else None
        if old is None:
            patches.append(patch)
            continue
        have = {(t.key.lower(), t.person.email if t.person else t.value) for t in patch.trailers}
        have |= {(f.key.lower(), f.person.email if f.person else f.trailer.value) for f in patch.followups}
        carried = [
            attrs.evolve(f, via=Via.CARRIED)
            for f in old.followups
            if not f.flagged and (f.key.lower(), f.person.email if f.person else f.trailer.value) not in have
        ]
        patches.append(attrs.evolve(patch, followups=patch.followups + tuple(carried)) if carried else patch)
    return attrs.evolve(s, patches=tuple(patches))


def status_of(s: LinkKey, previous: LinkKey | None, superseded: bool) -> Status:
    """``new``, ``revision``, ``resend`` or ``superseded``."""
    if superseded:
        return Status.SUPERSEDED
    if previous is None:
        return Status.NEW
    return Status.RESEND if s.resend or previous.version == s.version else Status.REVISION


def link_revisions(series: Iterable[Series], parents: Mapping[str, str] | None = None) -> tuple[Series, ...]:
    """Set ``previous``, ``next``, ``status`` and ``evidence`` on every series, and
    carry follow-ups forward; ``parents`` is the reply tree's parent map
    (:attr:`patchtrack.thread.Threads.parents`) for the in-reply-to evidence.

    Returns the series in :func:`~patchtrack.series.series_order`.
    """
    return link_keyed(series, parents or {})[0]


def link_keyed(series: Iterable[Series], parents: Mapping[str, str]) -> tuple[tuple[Series, ...], list[LinkKey]]:
    """:func:`link_revisions`, with the series' keys (in the same order) for a stored
    assembly to re-link from."""
    ordered = sorted(series, key=series_order)
    index = LinkIndex.of([LinkKey.of(s, parents) for s in ordered])
    previous = {n: found for n in range(len(ordered)) if (found := index.previous(n)) is not None}
    following = followers(previous)
    result: list[Series] = []
    for n, s in enumerate(ordered):
        prev = result[previous[n][0]] if n in previous else None
        result.append(relinked(carry(s, prev) if prev is not None else s, n, index, previous, following))
    return tuple(result), list(index.keys)


def relinked(
    s: Series,
    n: int,
    index: LinkIndex,
    previous: Mapping[int, tuple[int, tuple[str, ...]]],
    following: Mapping[int, int],
) -> Series:
    """``s`` (the ``n``-th series of ``index``) with its links, status and evidence."""
    return attrs.evolve(s, **links(n, index, previous, following))


def links(
    n: int,
    index: LinkIndex,
    previous: Mapping[int, tuple[int, tuple[str, ...]]],
    following: Mapping[int, int],
) -> dict[str, Any]:
    """The ``previous``, ``next``, ``status`` and ``evidence`` of the ``n``-th series
    of ``index``, given every series' previous revision and follower."""
    keys = index.keys
    before = keys[previous[n][0]] if n in previous else None
    return {
        "previous": before.link() if before is not None else None,
        "next": keys[following[n]].link() if n in following else None,
        "status": status_of(keys[n], before, n in following),
        "evidence": previous[n][1] if n in previous else (),
    }


def followers(previous: Mapping[int, tuple[int, tuple[str, ...]]]) -> dict[int, int]:
    """Each series' next revision: the earliest series by its people that follows
    it, else the earliest series that does."""
    following: dict[int, int] = {}
    for n, (m, evidence) in sorted(previous.items()):
        if m not in following or (OTHER_AUTHOR in previous[following[m]][1] and OTHER_AUTHOR not in evidence):
            following[m] = n
    return following


def people(series: Series) -> tuple[Person, ...]:
    """Who stands behind a series: its head's author and sender, and each patch's."""
    found = [series.author, series.sender]
    for p in series.patches:
        found += [p.message.author, p.message.sender]
    return tuple(dict.fromkeys(p for p in found if p is not None))


def writers(series: Series) -> tuple[Person, ...]:
    """Whose code a series carries: each patch's author (its sender when the mail
    names none); the head's author, else sender, for a series without patches."""
    found = [p.message.author or p.message.sender for p in series.patches] or [series.author or series.sender]
    return tuple(dict.fromkeys(p for p in found if p is not None))


def same_authors(newer: Series, older: Series) -> bool:
    """Whether ``newer``'s code is by ``older``'s people: every writer of ``newer``
    is (:func:`~patchtrack.identity.same_person`) an author or sender of ``older``. A
    maintainer re-posting Alice's work with her in-body ``From:`` passes; a third
    party's reroll, or one that adds a third party's patch, does not; nor does a
    series whose writers are unknown."""
    return _among(writers(newer), people(older))


def strangers(newer: Series, older: Series) -> tuple[Person, ...]:
    """The writers of ``newer`` that are none of ``older``'s people."""
    known = people(older)
    return tuple(w for w in writers(newer) if not _among((w,), known))


def _among(found: Sequence[Person], known: Sequence[Person]) -> bool:
    """Every one of ``found`` (at least one) is somebody ``known``."""
    return bool(found) and all(any(same_person(p, k) for k in known) for p in found)


def first_revision(series: Series, by_id: Mapping[str, Series]) -> Series:
    """The earliest revision ``series``' ``previous`` links lead to among ``by_id``
    (``series`` itself when it has none there)."""
    return _chain_end(series, by_id, "previous", False)


def last_revision(series: Series, by_id: Mapping[str, Series], *, same_author: bool = False) -> Series:
    """The newest revision ``series``' ``next`` links lead to among ``by_id``. With
    ``same_author``, only while the next one's code is by ``series``' people
    (:func:`same_authors`): the newest revision its own authors posted, never
    another author's code (see :data:`OTHER_AUTHOR`)."""
    return _chain_end(series, by_id, "next", same_author)


def _chain_end(series: Series, by_id: Mapping[str, Series], direction: str, same_author: bool) -> Series:
    end = series
    seen = {series.id}
    while (link := getattr(end, direction)) is not None and link.id in by_id and link.id not in seen:
        if same_author and not same_authors(by_id[link.id], series):
            break
        end = by_id[link.id]
        seen.add(end.id)
    return end
