"""Revision ranges over a multi-epoch archive: ``A..B`` → per-epoch segments.

git's range syntax is kept (``A..B``, ``A..``, ``..B``, ``X``, ``X^!``) but read the way
public-inbox does across epochs: with A in epoch N and B in epoch N+k, the walk is
``A..tip(N)``, every epoch in between whole, then ``root(N+k)..B``. A naive ``A..B``
through ``all.git`` would silently drop the tail of epoch N.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs
import pygit2

from ..errors import DamagedArchiveError, RevisionError
from ._git import GIT_ERRORS, git_message

__all__ = ["Segment", "Position", "plan_range", "plan_after_tips", "resolve", "MAX_RANGE"]

_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{4,64}")  # sha1, or sha256 archives
_DIGITS = frozenset("0123456789")

MAX_RANGE = 1024
"""The longest range or revision accepted, in characters: two ids and ``..`` take
under 100, ``HEAD~100000`` eleven; a 100,000-character one is a mistake."""


class EpochRepo(Protocol):
    """What planning needs of an epoch: its number, repository, git directory and
    tip, read once for the call. ``damage`` says why an epoch cannot be read (its
    ``tip`` is then ``None``, as an empty epoch's is)."""

    number: int

    @property
    def repo(self) -> pygit2.Repository: ...

    @property
    def tip(self) -> pygit2.Oid | None: ...

    @property
    def damage(self) -> str | None: ...

    @property
    def path(self) -> str: ...


@attrs.frozen
class Position:
    """A resolved revision: the commit ``commit`` in epoch ``epoch``."""

    epoch: int
    commit: str


@attrs.frozen
class Segment:
    """One epoch's share of a walk: commits reachable from ``tip`` but not from ``hide``.

    ``note`` says why the segment is not what the caller literally asked for (history
    rewritten by a purge, a cursor that vanished), or is ``None``. ``damage`` marks
    an epoch the walk should have read and cannot (its refs or objects are damaged):
    it says why, and the walk reports it instead of reading it.
    """

    epoch: int
    tip: str
    hide: tuple[str, ...] = ()
    note: str | None = None
    damage: str | None = None


def resolve(epochs: Sequence[EpochRepo], rev: str) -> Position:
    """Resolve ``rev`` to a commit somewhere in ``epochs``.

    A hexadecimal id (full or abbreviated, like ``ed37f1cc5``) is looked up in every
    epoch and must name exactly one commit. A name (``HEAD``, ``master``) is read in
    the newest epoch, since that is where an archive's head lives. A ``~N`` or ``^``
    suffix counts messages back through the archive, crossing into the previous
    epoch at a root commit: ``HEAD~100..`` is the last 100 commits.
    """
    _check_length(rev, "revision")
    rev = rev.strip()
    if not rev:
        raise RevisionError("empty revision")
    base, steps = _ancestry(rev)
    if base == rev:
        return _resolve_name(epochs, rev)
    return _back(epochs, _resolve_name(epochs, base), steps, rev)


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_RANGE:
        raise RevisionError(f"{what} too long: {len(text)} characters (at most {MAX_RANGE})")


def _ancestry(rev: str) -> tuple[str, int]:
    """``rev`` split into its base and the first-parent steps of its ``~N``/``^``
    suffix (``HEAD~2^`` → ``HEAD``, 3), read from the end in one pass. The base keeps
    at least one character; ``X^2`` (a second parent) is no suffix here."""
    end = len(rev)
    steps = 0
    while end > 1:
        if rev[end - 1] == "^":
            steps += 1
            end -= 1
            continue
        start = end
        while start > 1 and rev[start - 1] in _DIGITS:
            start -= 1
        if start > 1 and rev[start - 1] == "~":
            steps += int(rev[start:end] or 1)
            end = start - 1
            continue
        break
    return rev[:end], steps


def _damaged(epochs: Sequence[EpochRepo]) -> list[EpochRepo]:
    return [e for e in epochs if e.damage]


def damage_text(epochs: Sequence[EpochRepo]) -> str:
    """What is wrong with the damaged ``epochs``, on one line."""
    return "; ".join(f"epoch {e.number} ({e.path}): {e.damage}" for e in epochs)


def _back(epochs: Sequence[EpochRepo], pos: Position, steps: int, rev: str) -> Position:
    """Go ``steps`` first parents back from ``pos``, from an epoch's root to the tip before."""
    by_number = {e.number: e for e in epochs}
    older = [e for e in epochs if e.tip is not None or e.damage]
    for _ in range(steps):
        try:
            parents = by_number[pos.epoch].repo[pos.commit].peel(pygit2.Commit).parent_ids
        except GIT_ERRORS as exc:
            raise DamagedArchiveError(
                f"cannot resolve {rev!r}: commit {pos.commit} in epoch {pos.epoch} cannot be read: "
                f"{git_message(exc)}"
            ) from None
        if parents:
            pos = Position(pos.epoch, str(parents[0]))
            continue
        previous = [e for e in older if e.number < pos.epoch]
        if not previous:
            raise RevisionError(f"unknown revision {rev!r}: goes back past the first message")
        if previous[-1].damage:
            raise DamagedArchiveError(f"cannot resolve {rev!r}: {damage_text(previous[-1:])}")
        pos = Position(previous[-1].number, str(previous[-1].tip))
    return pos


def _resolve_name(epochs: Sequence[EpochRepo], rev: str) -> Position:
    live = [e for e in epochs if e.tip is not None]
    damaged = _damaged(epochs)
    hexadecimal = _HEX.match(rev) is not None
    if not hexadecimal and damaged and (not live or damaged[-1].number > live[-1].number):
        # a name is read in the newest epoch, and that one cannot be read
        raise DamagedArchiveError(f"cannot resolve {rev!r}: {damage_text(damaged[-1:])}")
    if not live:
        if damaged:
            raise DamagedArchiveError(f"cannot resolve {rev!r}: {damage_text(damaged)}")
        raise RevisionError(f"unknown revision {rev!r}: the archive holds no commits")
    candidates = live if hexadecimal else live[-1:]
    found: list[Position] = []
    not_commits: list[str] = []
    for epoch in candidates:
        try:
            obj = epoch.repo.revparse_single(rev)
        except KeyError:  # pygit2.NotFoundError
            continue
        except pygit2.AmbiguousError:
            raise RevisionError(
                f"ambiguous revision {rev!r} in epoch {epoch.number}: give more digits"
            ) from None
        except (pygit2.GitError, ValueError) as exc:
            raise RevisionError(f"bad revision {rev!r}: {exc}") from None
        try:
            commit = obj.peel(pygit2.Commit)
        except (pygit2.GitError, ValueError):
            not_commits.append(f"{obj.type_str} {obj.id} in epoch {epoch.number}")
            continue
        found.append(Position(epoch.number, str(commit.id)))
    if len({p.commit for p in found}) == 1 and len(found) > 1:
        # One commit seen from several epochs: epochs may share objects through
        # alternates (all.git), so it belongs to the epochs whose history holds it.
        by_number = {e.number: e for e in candidates}
        found = [p for p in found if _reaches(by_number[p.epoch], p.commit)] or found
    if len(found) > 1:
        where = ", ".join(f"{p.commit[:12]} in epoch {p.epoch}" for p in found)
        raise RevisionError(f"ambiguous revision {rev!r}: matches {where}; give more digits")
    if found:
        return found[0]
    if not_commits:
        raise RevisionError(f"revision {rev!r} is not a commit ({'; '.join(not_commits)})")
    if damaged:
        raise DamagedArchiveError(f"unknown revision {rev!r}, and not every epoch could be searched: {damage_text(damaged)}")
    raise RevisionError(f"unknown revision {rev!r}")


def plan_range(epochs: Sequence[EpochRepo], spec: str | None) -> list[Segment]:
    """Turn a git-style range ``spec`` into the per-epoch segments to walk, in order.

    ``None`` or ``""`` is the whole archive; a single revision ``X`` is everything up
    to and including X (as ``git rev-list X``); ``X^!`` is X alone; ``..`` is empty
    (git reads it as ``HEAD..HEAD``). Raises :class:`RevisionError` for unknown or
    ambiguous revisions, ``A...B``, ranges whose start comes after their end, and
    ranges over :data:`MAX_RANGE` characters. A damaged epoch the range spans is a
    segment with ``damage`` set.
    """
    by_number = {e.number: e for e in epochs}
    live = [e for e in epochs if e.tip is not None]
    spec = spec or ""
    _check_length(spec, "range")
    spec = spec.strip()
    if not spec:
        return _whole(epochs)
    if "..." in spec:
        raise RevisionError(f"symmetric ranges like {spec!r} are not supported: use A..B")
    if spec.endswith("^!"):
        pos = resolve(epochs, spec[:-2])
        try:
            parents = by_number[pos.epoch].repo[pos.commit].peel(pygit2.Commit).parent_ids
        except GIT_ERRORS as exc:
            raise DamagedArchiveError(
                f"commit {pos.commit} in epoch {pos.epoch} cannot be read: {git_message(exc)}"
            ) from None
        return [Segment(pos.epoch, pos.commit, tuple(str(p) for p in parents))]
    if ".." in spec:
        left, _, right = spec.partition("..")
        if ".." in right:
            raise RevisionError(f"malformed range {spec!r}")
        if not left.strip() and not right.strip():
            return []  # git: ``..`` is HEAD..HEAD
    else:
        left, right = "", spec
    start = resolve(epochs, left) if left.strip() else None
    if right.strip():
        end = resolve(epochs, right)
        after: list[Segment] = []
    elif live:
        end = Position(live[-1].number, str(live[-1].tip))
        # the newest mail may be in a damaged epoch after the last one read
        after = [_broken(e) for e in _damaged(epochs) if e.number > end.epoch]
    else:
        return [_broken(e) for e in _damaged(epochs)]
    if start is None:
        segments = _whole([e for e in epochs if e.number < end.epoch])
        return segments + [Segment(end.epoch, end.commit)] + after
    if start.epoch > end.epoch:
        raise RevisionError(
            f"reversed range {spec!r}: {left} is in epoch {start.epoch}, "
            f"after {right or 'the end'} in epoch {end.epoch}"
        )
    if start.epoch == end.epoch:
        repo = by_number[start.epoch].repo
        if start.commit != end.commit and _descends(repo, start.commit, end.commit):
            raise RevisionError(f"reversed range {spec!r}: {right} is older than {left}")
        return [_between(by_number[start.epoch], start.commit, end.commit)] + after
    first = by_number[start.epoch]
    segments = [_between(first, start.commit, str(first.tip))]
    segments += _whole([e for e in epochs if start.epoch < e.number < end.epoch])
    return segments + [Segment(end.epoch, end.commit)] + after


def _whole(epochs: Sequence[EpochRepo]) -> list[Segment]:
    """Every commit of ``epochs``; a damaged one as a segment saying so."""
    return [_broken(e) if e.damage else Segment(e.number, str(e.tip)) for e in epochs if e.tip is not None or e.damage]


def _broken(epoch: EpochRepo) -> Segment:
    return Segment(epoch.number, "", damage=epoch.damage)


def _descends(repo: pygit2.Repository, commit: str, ancestor: str) -> bool:
    """Whether ``commit`` descends from ``ancestor``; ``False`` when history between
    them cannot be read (the walk then finds and reports the damage)."""
    try:
        return bool(repo.descendant_of(commit, ancestor))
    except GIT_ERRORS:
        return False


def plan_after_tips(epochs: Sequence[EpochRepo], tips: Mapping[int, str] | Mapping[str, str]) -> list[Segment]:
    """Segments holding everything that arrived after the cursor ``tips``.

    ``tips`` maps epoch numbers (ints, or strings as JSON gives them back) to the tip
    commit seen last time (from :meth:`Inbox.tips`). Epochs not in ``tips`` are new and
    are walked whole; a tip that no longer exists (history rewritten and pruned) means
    that epoch is walked whole again, with a note, so nothing is lost. A cursor that
    is not such a mapping raises :class:`RevisionError`.
    """
    seen = _cursor(tips)
    segments = []
    for epoch in epochs:
        if epoch.damage:
            segments.append(_broken(epoch))
            continue
        if epoch.tip is None:
            continue
        old = seen.get(epoch.number)
        if old is None:
            segments.append(Segment(epoch.number, str(epoch.tip)))
            continue
        try:
            found = epoch.repo.get(old)
        except pygit2.AmbiguousError:
            raise RevisionError(f"cursor: epoch {epoch.number}: {old} is ambiguous: give more digits") from None
        except GIT_ERRORS:
            found = None  # unreadable: walked whole, like a tip that is gone
        if found is not None and found.type != pygit2.enums.ObjectType.COMMIT:
            raise RevisionError(f"cursor: epoch {epoch.number}: {old} is a {found.type_str}, not a commit")
        if found is None:
            segments.append(
                Segment(
                    epoch.number,
                    str(epoch.tip),
                    note=f"epoch {epoch.number}: saved tip {old[:12]} is gone "
                    "(history rewritten); walking the whole epoch",
                )
            )
        else:
            segments.append(_between(epoch, str(found.id), str(epoch.tip)))
    return segments


def _cursor(tips: object) -> dict[int, str]:
    """A cursor checked and normalised: epoch number → commit id (4 to 64 hex digits)."""
    if not isinstance(tips, Mapping):
        raise RevisionError(
            f"a cursor maps epoch numbers to commit ids, as tips() gives them; not a {type(tips).__name__}"
        )
    seen: dict[int, str] = {}
    for key, value in tips.items():
        if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
            number = key
        elif isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= 9:
            number = int(key)
        else:
            raise RevisionError(f"cursor: {key!r} is not an epoch number")
        if not isinstance(value, str) or not _COMMIT_ID.fullmatch(value):
            raise RevisionError(f"cursor: epoch {number}: {value!r} is not a commit id")
        if seen.get(number, value) != value:
            raise RevisionError(f"cursor: epoch {number} is given twice")
        seen[number] = value
    return seen


def _reaches(epoch: EpochRepo, commit: str) -> bool:
    tip = str(epoch.tip)
    return tip == commit or _descends(epoch.repo, tip, commit)


def _between(epoch: EpochRepo, start: str, end: str) -> Segment:
    """``start..end`` inside one epoch, falling back like public-inbox's indexer.

    When ``start`` is no longer an ancestor of ``end`` (a purge rewrote history),
    walk ``merge-base(start, end)..end`` and say so. When the history between them
    cannot be read, ``start..end`` is left to the walk, which reads what it can and
    reports the damage.
    """
    repo = epoch.repo
    try:
        if start == end or repo.descendant_of(end, start):
            return Segment(epoch.number, end, (start,))
        base = repo.merge_base(start, end)
    except GIT_ERRORS:
        return Segment(epoch.number, end, (start,))
    if base is None:
        return Segment(
            epoch.number,
            end,
            note=f"epoch {epoch.number}: {start[:12]} shares no history with {end[:12]} "
            "(history rewritten); walking everything up to it",
        )
    return Segment(
        epoch.number,
        end,
        (str(base),),
        note=f"epoch {epoch.number}: {start[:12]} is not an ancestor of {end[:12]} "
        f"(history rewritten); walking merge-base {str(base)[:12]}..{end[:12]}",
    )
