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

import pygit2

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


GIT_ERRORS: tuple[type[Exception], ...] = (pygit2.GitError, KeyError, ValueError, OSError)
"""What pygit2 raises reading a damaged archive: ``GitError`` (corrupt data, an
unreadable file), ``KeyError`` (its ``NotFoundError``: an object or ref that is not
there), ``ValueError`` (a malformed id), ``OSError``. Every place that reads the
archive catches these and turns them into the exceptions above, or into counted
problems, through :func:`unreadable` and :func:`git_message`."""


def git_message(exc: BaseException) -> str:
    """libgit2's message for ``exc``, on one line."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    return " ".join(text.split()) or type(exc).__name__


def unreadable(exc: BaseException, oid: object, kind: str) -> UnreadableError:
    """The :class:`UnreadableError` for ``exc``, raised reading object ``oid`` (a
    ``kind``: ``blob``, ``tree``, ``commit``): ``missing-<kind>`` when the object is
    not in the object store, ``corrupt-<kind>`` when it is and cannot be read."""
    if isinstance(exc, UnreadableError):
        return exc
    if isinstance(exc, KeyError):
        return UnreadableError(str(oid), f"missing-{kind}")
    return UnreadableError(str(oid), f"corrupt-{kind}", git_message(exc))
