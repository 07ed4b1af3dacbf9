"""pygit2's exceptions mapped to patchtrack's, in one place.

Every reader of the archive (the walk, the layouts, the loader's workers, upstream
tracking, the builder) catches :data:`GIT_ERRORS` and turns them into
:mod:`patchtrack.errors` exceptions or counted problems through :func:`unreadable`
and :func:`git_message`: no pygit2 exception leaves the library.
"""

from __future__ import annotations

import pygit2

from ..errors import UnreadableError

__all__ = ["GIT_ERRORS", "git_message", "unreadable"]


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
