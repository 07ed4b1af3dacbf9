"""The git edge: public-inbox archives as stored, and the walks over them.

Everything that reads an archive's repositories lives here (with upstream tracking
and the builder, the only code that imports pygit2): the layouts (:class:`Source`:
a v2 inbox, one epoch clone, v1), the lists of a mirror found and named
(:func:`discover`, :func:`open_sources`), revision ranges across epochs, the walk
(:class:`Walk` → :class:`RawMessage`), and pygit2's exceptions mapped to
patchtrack's in one place (:mod:`patchtrack.archive._git`).
"""

from __future__ import annotations

from ._git import GIT_ERRORS, git_message, unreadable
from ._mirror import Discovery, Skipped, Where, discover, list_name, open_sources, survey
from ._revs import Position, Segment
from ._select import BY, Selection, selection
from ._source import Cursor, Epoch, Source, bounds, open_epochs, open_source, raise_damage
from ._walk import (
    Coverage,
    Damage,
    Delivery,
    EpochSpan,
    Held,
    RawMessage,
    Readable,
    Ref,
    Unreadable,
    Walk,
    WalkStats,
    raw_from,
    raw_message,
    read_stored,
    report_unreadable,
    short,
    spans_of,
    stored_at,
    utc,
)

__all__ = [
    "GIT_ERRORS", "git_message", "unreadable", "Position", "Segment", "Cursor", "Epoch", "Source", "bounds",
    "open_source", "raise_damage", "BY", "Selection", "selection", "Coverage", "Damage", "Delivery", "EpochSpan", "Held",
    "RawMessage", "Readable", "Ref", "Unreadable", "Walk", "WalkStats", "raw_from", "raw_message", "read_stored",
    "report_unreadable", "short", "spans_of", "stored_at", "utc", "Discovery", "Skipped", "Where", "discover",
    "list_name", "open_epochs", "open_sources", "survey",
]
