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

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from .identity import Person, same_person
from .series import RevisionLink, Series, series_order
from .trailers import msgid_from_url

__all__ = ["EVIDENCE", "TITLE_WINDOW", "first_revision", "last_revision", "link_revisions"]

EVIDENCE = ("change-id", "link", "in-reply-to", "patch-id", "title", "content")
"""The kinds of evidence for a revision link, strongest first."""

TITLE_WINDOW = timedelta(days=365)
"""How far back a title-and-author match alone may link a revision."""

_ARCHIVE_URL = re.compile(r"https?://(?:lore\.kernel\.org|lkml\.kernel\.org|patch\.msgid\.link|msgid\.link)/[^\s<>\"')\]]+")


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
_TRAILER_LINE = re.compile(r"^[A-Za-z-]+-by:|^(?:Cc|Link|Fixes|Closes):", re.MULTILINE)


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
    messages: Callable[[], list[str]] = attrs.field(eq=False, repr=False)
    _words: frozenset[str] | None = attrs.field(default=None, eq=False, repr=False)

    @classmethod
    def of(cls, s: Series, parents: Mapping[str, str]) -> LinkKey:
        """``s``'s key; ``parents`` is the reply forest's parent map."""
        people = [s.author] + [p.message.author for p in s.patches]
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
            authors=frozenset(a.email for a in people if a is not None and a.email),
            patch_titles=frozenset(_norm_title(p.message.subject.title) for p in s.patches),
            files=frozenset(f.path for p in s.patches if p.diffstat for f in p.diffstat.files),
            patch_ids=frozenset(p.patch_id for p in s.patches),
            msgids=tuple(m.msgid for m in s.messages),
            linked=frozenset(_linked_msgids(s)),
            parents=frozenset(parent for m in mails if (parent := parents.get(m.msgid)) is not None),
            msgid=s.msgid,
            messages=lambda: [p.message.commit_message or "" for p in s.patches],
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
                if not _TRAILER_LINE.match(line)
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


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@attrs.frozen
class LinkIndex:
    """Lookups from evidence to the series (positions in ``keys``) that give it."""

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
        return index

    def previous(self, n: int) -> tuple[int, tuple[str, ...]] | None:
        """The revision the ``n``-th series follows, with the kinds of evidence."""
        s = self.keys[n]
        candidates = _candidates(s, {m: (self.keys[m], kinds) for m, kinds in _evidence(n, self).items()})
        if not candidates:
            return None
        m, kinds = max(candidates, key=lambda c: (self.keys[c[0]].version, _strength(c[1]), self.keys[c[0]].order))
        return m, tuple(k for k in EVIDENCE if k in kinds)


def _evidence(n: int, index: LinkIndex) -> dict[int, set[str]]:
    """Other series that evidence points at, with the kinds of evidence."""
    keys = index.keys
    s = keys[n]
    found: dict[int, set[str]] = {}

    def add(m: int, kind: str) -> None:
        if m != n:
            found.setdefault(m, set()).add(kind)

    if s.change_id:
        for m in index.by_change.get(s.change_id, ()):
            add(m, "change-id")
    for msgid in s.linked:
        if msgid in index.by_msgid:
            add(index.by_msgid[msgid], "link")
    for parent in s.parents:
        if parent in index.by_msgid:
            add(index.by_msgid[parent], "in-reply-to")
    for pid in s.patch_ids:
        for m in index.by_patch_id.get(pid, ()) if pid else ():
            add(m, "patch-id")
    for m in index.by_title.get(s.title, ()):
        if s.same_author(keys[m]):
            add(m, "title")
    if s.version > 1 or s.resend:  # it says it has a past: look for it under other titles
        for m in {m for email in s.authors for m in index.by_author.get(email, ())}:
            if m not in found and keys[m].version <= s.version and s.same_work(keys[m]):
                add(m, "content")
    return found


_WEAK = frozenset({"title", "content"})


def _earlier_version(s: LinkKey, other: LinkKey, kinds: set[str]) -> bool:
    """``other`` was posted before ``s`` with a lower version — or the same version,
    when ``s`` is a RESEND or carries the very same patches."""
    if other.first_date is None or s.first_date is None or other.order >= s.order:
        return False
    if other.version > s.version:
        return False
    if other.version == s.version:
        return s.resend or ("patch-id" in kinds and s.patch_ids == other.patch_ids)
    return True


def _candidates(s: LinkKey, evidence: dict[int, tuple[LinkKey, set[str]]]) -> list[tuple[int, set[str]]]:
    """The earlier versions evidence allows. Title or content alone count within
    :data:`TITLE_WINDOW` — or beyond it for a version between a strongly linked one
    and ``s`` (v14 linked by URL makes a same-title v15 of later date v14's successor)."""
    earlier = {m: (o, kinds) for m, (o, kinds) in evidence.items() if _earlier_version(s, o, kinds)}
    strong = [o for o, kinds in earlier.values() if not kinds <= _WEAK]
    floor = max(strong, key=lambda o: (o.version, o.order), default=None)
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


def _strength(kinds: set[str]) -> int:
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
            attrs.evolve(f, via="carried")
            for f in old.followups
            if not f.flagged and (f.key.lower(), f.person.email if f.person else f.trailer.value) not in have
        ]
        patches.append(attrs.evolve(patch, followups=patch.followups + tuple(carried)) if carried else patch)
    return attrs.evolve(s, patches=tuple(patches))


def status_of(s: LinkKey, previous: LinkKey | None, superseded: bool) -> str:
    """``new``, ``revision``, ``resend`` or ``superseded``."""
    if superseded:
        return "superseded"
    if previous is None:
        return "new"
    return "resend" if s.resend or previous.version == s.version else "revision"


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
    """Each series' next revision: the earliest series that follows it."""
    following: dict[int, int] = {}
    for n, (m, _) in sorted(previous.items()):
        following.setdefault(m, n)
    return following


def first_revision(series: Series, by_id: Mapping[str, Series]) -> Series:
    """The earliest revision ``series``' ``previous`` links lead to among ``by_id``
    (``series`` itself when it has none there)."""
    return _chain_end(series, by_id, "previous")


def last_revision(series: Series, by_id: Mapping[str, Series]) -> Series:
    """The newest revision ``series``' ``next`` links lead to among ``by_id``."""
    return _chain_end(series, by_id, "next")


def _chain_end(series: Series, by_id: Mapping[str, Series], direction: str) -> Series:
    end = series
    seen = {series.id}
    while (link := getattr(end, direction)) is not None and link.id in by_id and link.id not in seen:
        end = by_id[link.id]
        seen.add(end.id)
    return end
