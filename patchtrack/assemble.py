"""Messages → linked series in one call: thread, group, link revisions.

This is the pipeline from :class:`~patchtrack.message.Message` to
:class:`~patchtrack.series.Series` for messages from anywhere — an archive walk, an
mbox, a test. :meth:`patchtrack.Inbox.series` uses it on a whole archive.
"""

from __future__ import annotations

from collections.abc import Iterable

from .message import Message
from .revisions import link_revisions
from .series import Series, group_series
from .thread import thread

__all__ = ["assemble"]


def assemble(messages: Iterable[Message]) -> tuple[Series, ...]:
    """Every patch series in ``messages``, with follow-up trailers attached and
    revisions linked, ordered by first post. The same set of messages in any order
    gives the same series with the same ids."""
    threads = thread(messages)
    return link_revisions(group_series(threads), threads.parents)
