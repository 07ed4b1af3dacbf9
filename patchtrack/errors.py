"""Exceptions patchtrack raises on purpose.

A broken mail is data, not an error: it never raises. :class:`InboxError` and
:class:`RevisionError` are the caller's mistakes — a path that is not an archive, a
revision that does not exist, a range that runs backwards, a malformed cursor.
:class:`DamagedArchiveError` is the archive's fault: an epoch, a ref or a stretch of
history that cannot be read. A single unreadable mail is stepped over (counted in
``WalkStats.unreadable``, a problem record in ``messages()``); what cannot be stepped
over without silently shortening the result raises this.
"""

from __future__ import annotations

__all__ = ["PatchtrackError", "InboxError", "RevisionError", "DamagedArchiveError", "UnreadableError"]


class PatchtrackError(Exception):
    """Base class of every exception patchtrack raises on purpose."""


class InboxError(PatchtrackError):
    """The path is missing, unreadable, or not a public-inbox archive."""


class RevisionError(PatchtrackError, ValueError):
    """A revision is unknown or ambiguous, a range or cursor is malformed, or a
    range is reversed."""


class DamagedArchiveError(PatchtrackError):
    """The archive is damaged where the call cannot step over it: an epoch whose refs
    or objects cannot be read, history cut by a missing commit."""


class UnreadableError(DamagedArchiveError):
    """One stored object (a mail's blob, a commit's tree) cannot be read: missing
    from the object store or corrupt. Raised by ``blob.data`` of a :meth:`Walk.refs`
    reference; the library's own readers turn it into a counted, named problem.

    ``reason`` is a short code (``missing-blob``, ``corrupt-blob``, …) and ``oid`` the
    object's id."""

    def __init__(self, oid: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason} {oid}" + (f": {detail}" if detail else ""))
        self.oid = oid
        self.reason = reason
        self.detail = detail

    def __reduce__(self) -> tuple[type[UnreadableError], tuple[str, str, str]]:
        return type(self), (self.oid, self.reason, self.detail)
