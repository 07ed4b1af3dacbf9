"""Exceptions raised for the caller's mistakes.

A broken mail is data, not an error: it never raises. These exceptions are for
what the caller asked for — a path that is not an archive, a revision that does
not exist, a range that runs backwards.
"""

from __future__ import annotations

__all__ = ["PatchtrackError", "InboxError", "RevisionError"]


class PatchtrackError(Exception):
    """Base class of every exception patchtrack raises on purpose."""


class InboxError(PatchtrackError):
    """The path is missing, unreadable, or not a public-inbox archive."""


class RevisionError(PatchtrackError, ValueError):
    """A revision is unknown or ambiguous, or a range is malformed or reversed."""
