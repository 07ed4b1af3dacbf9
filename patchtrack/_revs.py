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

from .errors import RevisionError

__all__ = ["Segment", "Position", "plan_range", "plan_after_tips", "resolve"]

_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
_ANCESTRY = re.compile(r"^(?P<base>.+?)(?P<steps>(?:~\d*|\^)+)$")
_STEP = re.compile(r"~\d*|\^")


class EpochRepo(Protocol):
    """What planning needs of an epoch: its number, repository and tip."""

    number: int

    @property
    def repo(self) -> pygit2.Repository: ...

    @property
    def tip(self) -> pygit2.Oid | None: ...


@attrs.frozen
class Position:
    """A resolved revision: the commit ``commit`` in epoch ``epoch``."""

    epoch: int
    commit: str


@attrs.frozen
class Segment:
    """One epoch's share of a walk: commits reachable from ``tip`` but not from ``hide``.

    ``note`` says why the segment is not what the caller literally asked for (history
    rewritten by a purge, a cursor that vanished), or is ``None``.
    """

    epoch: int
    tip: str
    hide: tuple[str, ...] = ()
    note: str | None = None


def resolve(epochs: Sequence[EpochRepo], rev: str) -> Position:
    """Resolve ``rev`` to a commit somewhere in ``epochs``.

    A hexadecimal id (full or abbreviated, like ``ed37f1cc5``) is looked up in every
    epoch and must name exactly one commit. A name (``HEAD``, ``master``) is read in
    the newest epoch, since that is where an archive's head lives. A ``~N`` or ``^``
    suffix counts messages back through the archive, crossing into the previous
    epoch at a root commit: ``HEAD~100..`` is the last 100 commits.
    """
    rev = rev.strip()
    if not rev:
        raise RevisionError("empty revision")
    m = _ANCESTRY.match(rev)
    if m is None:
        return _resolve_name(epochs, rev)
    steps = sum(int(s[1:] or 1) if s[0] == "~" else 1 for s in _STEP.findall(m["steps"]))
    return _back(epochs, _resolve_name(epochs, m["base"]), steps, rev)


def _back(epochs: Sequence[EpochRepo], pos: Position, steps: int, rev: str) -> Position:
    """Go ``steps`` first parents back from ``pos``, from an epoch's root to the tip before."""
    by_number = {e.number: e for e in epochs}
    older = [e for e in epochs if e.tip is not None]
    for _ in range(steps):
        parents = by_number[pos.epoch].repo[pos.commit].parent_ids
        if parents:
            pos = Position(pos.epoch, str(parents[0]))
            continue
        previous = [e for e in older if e.number < pos.epoch]
        if not previous:
            raise RevisionError(f"unknown revision {rev!r}: goes back past the first message")
        pos = Position(previous[-1].number, str(previous[-1].tip))
    return pos


def _resolve_name(epochs: Sequence[EpochRepo], rev: str) -> Position:
    live = [e for e in epochs if e.tip is not None]
    if not live:
        raise RevisionError(f"unknown revision {rev!r}: the archive holds no commits")
    candidates = live if _HEX.match(rev) else live[-1:]
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
    raise RevisionError(f"unknown revision {rev!r}")


def plan_range(epochs: Sequence[EpochRepo], spec: str | None) -> list[Segment]:
    """Turn a git-style range ``spec`` into the per-epoch segments to walk, in order.

    ``None`` or ``""`` is the whole archive; a single revision ``X`` is everything up
    to and including X (as ``git rev-list X``); ``X^!`` is X alone. Raises
    :class:`RevisionError` for unknown or ambiguous revisions, ``A...B``, and ranges
    whose start comes after their end.
    """
    by_number = {e.number: e for e in epochs}
    live = [e for e in epochs if e.tip is not None]
    spec = (spec or "").strip()
    if not spec:
        return [Segment(e.number, str(e.tip)) for e in live]
    if "..." in spec:
        raise RevisionError(f"symmetric ranges like {spec!r} are not supported: use A..B")
    if spec.endswith("^!"):
        pos = resolve(epochs, spec[:-2])
        commit = by_number[pos.epoch].repo[pos.commit]
        return [Segment(pos.epoch, pos.commit, tuple(str(p) for p in commit.parent_ids))]
    if ".." in spec:
        left, _, right = spec.partition("..")
        if ".." in right:
            raise RevisionError(f"malformed range {spec!r}")
    else:
        left, right = "", spec
    start = resolve(epochs, left) if left.strip() else None
    if right.strip():
        end = resolve(epochs, right)
    elif live:
        end = Position(live[-1].number, str(live[-1].tip))
    else:
        return []
    if start is None:
        segments = [Segment(e.number, str(e.tip)) for e in live if e.number < end.epoch]
        return segments + [Segment(end.epoch, end.commit)]
    if start.epoch > end.epoch:
        raise RevisionError(
            f"reversed range {spec!r}: {left} is in epoch {start.epoch}, "
            f"after {right or 'the end'} in epoch {end.epoch}"
        )
    if start.epoch == end.epoch:
        repo = by_number[start.epoch].repo
        if start.commit != end.commit and repo.descendant_of(start.commit, end.commit):
            raise RevisionError(f"reversed range {spec!r}: {right} is older than {left}")
        return [_between(by_number[start.epoch], start.commit, end.commit)]
    first = by_number[start.epoch]
    segments = [_between(first, start.commit, str(first.tip))]
    segments += [Segment(e.number, str(e.tip)) for e in live if start.epoch < e.number < end.epoch]
    return segments + [Segment(end.epoch, end.commit)]


def plan_after_tips(epochs: Sequence[EpochRepo], tips: Mapping[int | str, str]) -> list[Segment]:
    """Segments holding everything that arrived after the cursor ``tips``.

    ``tips`` maps epoch numbers (ints, or strings as JSON gives them back) to the tip
    commit seen last time (from :meth:`Inbox.tips`). Epochs not in ``tips`` are new and
    are walked whole; a tip that no longer exists (history rewritten and pruned) means
    that epoch is walked whole again, with a note, so nothing is lost.
    """
    seen = {int(k): v for k, v in tips.items()}
    segments = []
    for epoch in epochs:
        if epoch.tip is None:
            continue
        old = seen.get(epoch.number)
        if old is None:
            segments.append(Segment(epoch.number, str(epoch.tip)))
        elif old not in epoch.repo:
            segments.append(
                Segment(
                    epoch.number,
                    str(epoch.tip),
                    note=f"epoch {epoch.number}: saved tip {old[:12]} is gone "
                    "(history rewritten); walking the whole epoch",
                )
            )
        else:
            segments.append(_between(epoch, str(epoch.repo[old].id), str(epoch.tip)))
    return segments


def _reaches(epoch: EpochRepo, commit: str) -> bool:
    tip = str(epoch.tip)
    return tip == commit or epoch.repo.descendant_of(tip, commit)


def _between(epoch: EpochRepo, start: str, end: str) -> Segment:
    """``start..end`` inside one epoch, falling back like public-inbox's indexer.

    When ``start`` is no longer an ancestor of ``end`` (a purge rewrote history),
    walk ``merge-base(start, end)..end`` and say so.
    """
    repo = epoch.repo
    if start == end or repo.descendant_of(end, start):
        return Segment(epoch.number, end, (start,))
    base = repo.merge_base(start, end)
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
