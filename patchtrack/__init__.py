"""patchtrack: kernel-style mailing-list archives as typed patch and series records.

The pipeline, one module per stage::

    inbox (walk a public-inbox archive) → message → thread → series → revisions → report

See README.md for a tour. The stages: :func:`open_inbox` and :meth:`Inbox.walk`, which yield
:class:`RawMessage` records; :func:`parse_message` and :meth:`Inbox.messages`, which
turn them into typed :class:`Message` records; :func:`thread` (reply trees),
:func:`assemble` and :meth:`Inbox.series`, which give linked :class:`Series` with
their :class:`Patch` records and review :class:`Followup` trailers; and
:mod:`patchtrack.builder`, which writes v1/v2 archives from mail files (for tests and
the demo); :class:`Store` (parsed mail, deliveries and series in one DuckDB file: SQL over
the archive, Parquet out; :meth:`Archive.ingest`, :meth:`Archive.sql`); :meth:`Series.to_mbox`
and :func:`read_mbox` (b4 workflows); :func:`track` and :class:`Upstream` (what landed
upstream). The closed sets of words records use (kinds of mail, statuses, evidence,
problem codes…) are ``str`` enums in :mod:`patchtrack.vocab`.
"""

from __future__ import annotations

from ._dates import DateLike
from .archive import Coverage, Damage, Delivery, EpochSpan, Selection, Position, RawMessage, Segment, Unreadable, Walk, WalkStats
from .builder import V1Writer, V2Writer, build_inbox
from .cache import Cache, CacheError, default_cache_path
from .store import IngestStats, Store, StoreError, default_store_path
from .demo import build_demo_inbox
from .diff import Diffstat, FileChange, diffstat, patch_id
from .assemble import assemble
from .errors import DamagedArchiveError, InboxError, PatchtrackError, RevisionError, UnreadableError
from .export import rows, to_pandas
from .identity import DomainMap, Mailmap, Person, is_bot, parse_person, same_person
from .inbox import Epoch, Inbox, open_inbox
from .lists import Archive, open_archive
from .mbox import MboxError, read_mbox
from .message import Message, parse_message
from .report import ListCount, Report, build_report
from .revisions import link_revisions
from .series import Followup, Patch, RevisionLink, Series, group_series
from .subject import Subject, parse_subject
from .thread import Thread, Threads, thread
from .trailers import Fixes, Link, StableRequest, Trailer, parse_trailers
from .upstream import SeriesTrack, Upstream, UpstreamError, track
from .vocab import Evidence, Kind, Layout, Method, Problem, ReviewSource, SeriesProblem, State, Status, TrailerRole, Via

# The modules that register the records' views (patchtrack._views): records do not
# import what renders them, and this runs before any module of the package is used.
from . import _render, mbox  # noqa: F401

__version__ = "0.1.0"

__all__ = [
    "Archive",
    "Cache",
    "CacheError",
    "IngestStats",
    "Store",
    "StoreError",
    "Coverage",
    "Damage",
    "Delivery",
    "EpochSpan",
    "DamagedArchiveError",
    "DateLike",
    "Diffstat",
    "DomainMap",
    "Epoch",
    "FileChange",
    "Fixes",
    "Followup",
    "Inbox",
    "InboxError",
    "Link",
    "ListCount",
    "Mailmap",
    "MboxError",
    "Message",
    "Patch",
    "PatchtrackError",
    "Person",
    "Position",
    "RawMessage",
    "Report",
    "RevisionError",
    "RevisionLink",
    "Segment",
    "Selection",
    "Series",
    "SeriesTrack",
    "StableRequest",
    "Subject",
    "Thread",
    "Threads",
    "Trailer",
    "Unreadable",
    "UnreadableError",
    "Upstream",
    "UpstreamError",
    "V1Writer",
    "V2Writer",
    "Walk",
    "WalkStats",
    "Evidence",
    "Kind",
    "Layout",
    "Method",
    "Problem",
    "ReviewSource",
    "SeriesProblem",
    "State",
    "Status",
    "TrailerRole",
    "Via",
    "assemble",
    "build_demo_inbox",
    "build_inbox",
    "build_report",
    "default_cache_path",
    "default_store_path",
    "diffstat",
    "group_series",
    "is_bot",
    "link_revisions",
    "open_archive",
    "open_inbox",
    "parse_message",
    "read_mbox",
    "parse_person",
    "parse_subject",
    "parse_trailers",
    "patch_id",
    "same_person",
    "rows",
    "thread",
    "to_pandas",
    "track",
]
