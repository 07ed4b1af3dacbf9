"""patchtrack: kernel-style mailing-list archives as typed patch and series records.

The pipeline, one module per stage::

    inbox (walk a public-inbox archive) → message → thread → series → revisions → report

This release provides the first stage: :func:`open_inbox` and :meth:`Inbox.walk`,
which yield :class:`RawMessage` records, and :mod:`patchtrack.builder`, which writes
v1/v2 archives from mail files (for tests and the demo).
"""

from __future__ import annotations

from ._dates import DateLike
from ._revs import Position, Segment
from ._walk import RawMessage, Walk, WalkStats
from .builder import V1Writer, V2Writer, build_inbox
from .demo import build_demo_inbox
from .errors import InboxError, PatchtrackError, RevisionError
from .inbox import Epoch, Inbox, open_inbox

__version__ = "0.1.0"

__all__ = [
    "DateLike",
    "Epoch",
    "Inbox",
    "InboxError",
    "PatchtrackError",
    "Position",
    "RawMessage",
    "RevisionError",
    "Segment",
    "V1Writer",
    "V2Writer",
    "Walk",
    "WalkStats",
    "build_demo_inbox",
    "build_inbox",
    "open_inbox",
]
