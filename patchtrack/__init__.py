"""patchtrack: kernel-style mailing-list archives as typed patch and series records.

The pipeline, one module per stage::

    inbox (walk a public-inbox archive) → message → thread → series → revisions → report

Here so far: :func:`open_inbox` and :meth:`Inbox.walk`, which yield
:class:`RawMessage` records; :func:`parse_message` and :meth:`Inbox.messages`, which
turn them into typed :class:`Message` records; and :mod:`patchtrack.builder`, which
writes v1/v2 archives from mail files (for tests and the demo).
"""

from __future__ import annotations

from ._dates import DateLike
from ._revs import Position, Segment
from ._walk import RawMessage, Walk, WalkStats
from .builder import V1Writer, V2Writer, build_inbox
from .demo import build_demo_inbox
from .diff import Diffstat, FileChange, diffstat, patch_id
from .errors import InboxError, PatchtrackError, RevisionError
from .identity import Person, parse_person
from .inbox import Epoch, Inbox, open_inbox
from .message import Message, parse_message
from .subject import Subject, parse_subject
from .trailers import Fixes, Link, StableRequest, Trailer, parse_trailers

__version__ = "0.1.0"

__all__ = [
    "DateLike",
    "Diffstat",
    "Epoch",
    "FileChange",
    "Fixes",
    "Inbox",
    "InboxError",
    "Link",
    "Message",
    "PatchtrackError",
    "Person",
    "Position",
    "RawMessage",
    "RevisionError",
    "Segment",
    "StableRequest",
    "Subject",
    "Trailer",
    "V1Writer",
    "V2Writer",
    "Walk",
    "WalkStats",
    "build_demo_inbox",
    "build_inbox",
    "diffstat",
    "open_inbox",
    "parse_message",
    "parse_person",
    "parse_subject",
    "parse_trailers",
    "patch_id",
]
