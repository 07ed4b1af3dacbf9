"""What one call reads — a :class:`Selection` — checked once, before any mail is read."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._dates import DateLike
from ..errors import RevisionError
from ._source import bounds

__all__ = ["BY", "Selection", "selection"]

BY = ("arrival", "date")
"""What ``since``/``until`` compare, for ``by=``: a mail's arrival (its commit time,
the default) or its ``Date:`` header."""


@attrs.frozen
class Selection:
    """What a call reads: a git ``range``, ``since``/``until`` bounds (``lo``/``hi``:
    as POSIX seconds, inclusive) compared as ``by`` says, a cursor (``after``: one
    list's tips, epoch → commit; of many lists, list → tips), and the ``lists`` of
    an archive of many (empty: the one inbox). Made by :func:`selection`, which
    refuses a bad one; revisions are resolved when walked, before any mail is read."""

    range: str | None = None
    since: DateLike | None = None
    until: DateLike | None = None
    after: Mapping[Any, Any] | None = None
    by: str = "arrival"
    lists: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None

    @property
    def windowed(self) -> bool:
        """Whether ``since`` or ``until`` bounds the selection."""
        return self.lo is not None or self.hi is not None

    @property
    def on_date(self) -> bool:
        """Whether the window is on ``Date:`` (so every mail is parsed to read it)."""
        return self.by == "date" and self.windowed

    @property
    def by_range(self) -> bool:
        """Whether a range or a cursor names the commits."""
        return self.range is not None or self.after is not None

    @property
    def narrowed(self) -> bool:
        """Whether the selection is less than every mail of its lists."""
        return self.by_range or self.windowed

    def walked(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`Source.walk <patchtrack.archive.Source.walk>`
        (besides the range and cursor): the window when it is on arrival."""
        return {} if self.by == "date" else {"since": self.since, "until": self.until}


def selection(
    range: str | None = None,
    *,
    since: DateLike | None = None,
    until: DateLike | None = None,
    after: Mapping[Any, Any] | None = None,
    by: str = "arrival",
    lists: Iterable[str] = (),
) -> Selection:
    """A :class:`Selection`, checked: ``by`` one of :data:`BY`, dates that parse and
    are in order, a range or a cursor (not both). :class:`RevisionError` otherwise."""
    if by not in BY:
        raise RevisionError(f"by={by!r}: since/until compare 'arrival' or 'date'")
    if after is not None and range:
        raise RevisionError("give either a range or a cursor (after=), not both")
    lo, hi = bounds(since, until)
    return Selection(range, since, until, after, by, tuple(lists), lo, hi)
