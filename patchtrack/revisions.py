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
- ``title``: the same title (case and blanks aside) and the same author.

The previous revision is the *highest version below this one* among the earlier series that any evidence points to (a series of the same
version counts when this one is a RESEND or carries the very same patches); ties
go to the stronger evidence, then the later post. A title match alone is trusted
only within :data:`TITLE_WINDOW`, since short titles recur.

Once linked, follow-ups of a patch carry over to the next revision's patch with the
same patch-id (``via="carried"``) unless that patch already has them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

import attrs

from .identity import same_person
from .series import Series, series_order
from .trailers import msgid_from_url

__all__ = ["EVIDENCE", "TITLE_WINDOW", "link_revisions"]

EVIDENCE = ("change-id", "link", "in-reply-to", "patch-id", "title")
"""The kinds of evidence for a revision link, strongest first."""

TITLE_WINDOW = timedelta(days=365)
"""How far back a title-and-author match alone may link a revision."""

_ARCHIVE_URL = re.compile(r"https?://(?:lore\.kernel\.org|lkml\.kernel\.org|patch\.msgid\.link|msgid\.link)/[^\s<>\"')\]]+")


def _norm_title(title: str) -> str:
    return " ".join(title.casefold().split()).rstrip(".")


def _linked_msgids(series: Series) -> set[str]:
    """Message-ids the series' own text points at (cover letter, patch notes)."""
    texts = [series.cover.body] if series.cover is not None else []
    texts += [p.message.notes or "" for p in series.patches]
    found = set()
    for text in texts:
        for url in _ARCHIVE_URL.findall(text):
            msgid = msgid_from_url(url.rstrip(".,;:"))
            if msgid:
                found.add(msgid)
    return found


@attrs.frozen
class _Index:
    """Lookups from a series' features to the series that share them."""

    by_msgid: dict[str, int]
    by_change: dict[str, list[int]]
    by_patch_id: dict[str, list[int]]
    by_title: dict[str, list[int]]

    @classmethod
    def of(cls, series: Sequence[Series]) -> _Index:
        by_msgid: dict[str, int] = {}
        by_change: dict[str, list[int]] = {}
        by_patch_id: dict[str, list[int]] = {}
        by_title: dict[str, list[int]] = {}
        for n, s in enumerate(series):
            for m in s.messages:
                by_msgid.setdefault(m.msgid, n)
            if s.change_id:
                by_change.setdefault(s.change_id, []).append(n)
            for pid in {p.patch_id for p in s.patches if p.patch_id}:
                by_patch_id.setdefault(pid, []).append(n)
            by_title.setdefault(_norm_title(s.title), []).append(n)
        return cls(by_msgid, by_change, by_patch_id, by_title)


def _evidence(n: int, series: Sequence[Series], index: _Index, parents: dict[str, str]) -> dict[int, set[str]]:
    """Earlier series that evidence points at, with the kinds of evidence."""
    s = series[n]
    found: dict[int, set[str]] = {}

    def add(m: int, kind: str) -> None:
        if m != n:
            found.setdefault(m, set()).add(kind)

    if s.change_id:
        for m in index.by_change.get(s.change_id, ()):
            add(m, "change-id")
    for msgid in _linked_msgids(s):
        if msgid in index.by_msgid:
            add(index.by_msgid[msgid], "link")
    for mail in [s.head] + [p.message for p in s.patches]:
        parent = parents.get(mail.msgid)
        if parent is not None and parent in index.by_msgid:
            add(index.by_msgid[parent], "in-reply-to")
    for pid in {p.patch_id for p in s.patches if p.patch_id}:
        for m in index.by_patch_id.get(pid, ()):
            add(m, "patch-id")
    for m in index.by_title.get(_norm_title(s.title), ()):
        other = series[m]
        if s.author is not None and other.author is not None and same_person(s.author, other.author):
            add(m, "title")
    return found


def _acceptable(s: Series, other: Series, kinds: set[str]) -> bool:
    if other.first_date is None or s.first_date is None or series_order(other) >= series_order(s):
        return False
    if other.version > s.version:
        return False
    if other.version == s.version:
        same_patches = {p.patch_id for p in s.patches} == {p.patch_id for p in other.patches}
        if not (s.resend or ("patch-id" in kinds and same_patches)):
            return False
    if kinds == {"title"}:
        return s.first_date - other.first_date <= TITLE_WINDOW
    return True


def _strength(kinds: set[str]) -> int:
    return max(len(EVIDENCE) - EVIDENCE.index(k) for k in kinds)


def _carry(s: Series, previous: Series) -> Series:
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


def link_revisions(series: Iterable[Series], parents: dict[str, str] | None = None) -> tuple[Series, ...]:
    """Set ``previous``, ``next``, ``status`` and ``evidence`` on every series, and
    carry follow-ups forward; ``parents`` is the reply tree's parent map
    (:attr:`patchtrack.thread.Threads.parents`) for the in-reply-to evidence.

    Returns the series in :func:`~patchtrack.series.series_order`.
    """
    ordered = sorted(series, key=series_order)
    index = _Index.of(ordered)
    parents = parents or {}
    previous: dict[int, tuple[int, tuple[str, ...]]] = {}
    for n, s in enumerate(ordered):
        candidates = [
            (m, kinds) for m, kinds in _evidence(n, ordered, index, parents).items() if _acceptable(s, ordered[m], kinds)
        ]
        if not candidates:
            continue
        m, kinds = max(candidates, key=lambda c: (ordered[c[0]].version, _strength(c[1]), series_order(ordered[c[0]])))
        previous[n] = (m, tuple(k for k in EVIDENCE if k in kinds))
    following: dict[int, int] = {}
    for n, (m, _) in sorted(previous.items()):  # the earliest follower is the next revision
        following.setdefault(m, n)

    result: list[Series] = []
    for n, s in enumerate(ordered):
        prev = result[previous[n][0]] if n in previous else None
        if prev is not None:
            s = _carry(s, prev)
        status = "new"
        if prev is not None:
            status = "resend" if s.resend or prev.version == s.version else "revision"
        if n in following:
            status = "superseded"
        result.append(
            attrs.evolve(
                s,
                previous=prev.link() if prev is not None else None,
                next=ordered[following[n]].link() if n in following else None,
                status=status,
                evidence=previous[n][1] if n in previous else (),
            )
        )
    return tuple(result)
