"""A series by what a user has at hand: a Message-ID, a lore URL, a series id.

:meth:`patchtrack.Inbox.find` and ``patchtrack am`` read what they are given with
:func:`wanted_msgid` and pick the series with :func:`find_series`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from .errors import InboxError
from .series import Series

__all__ = ["MIN_ID_PREFIX", "find_series", "wanted_msgid"]

MIN_ID_PREFIX = 6
"""The fewest leading characters of a series id that name it (when only one series'
id begins with them), as git takes an abbreviated commit id."""

_HEX = re.compile(r"[0-9a-f]+")


def wanted_msgid(text: str) -> str:
    """The Message-ID (or series id) ``text`` names: itself without ``<>`` and
    blanks, or the Message-ID in a URL — lore's ``https://lore.kernel.org/LIST/MSGID/``
    and its ``/T/``, ``/t.mbox.gz``, ``/raw`` and ``#anchor`` forms, ``/r/MSGID``,
    ``https://patch.msgid.link/MSGID`` — percent-decoded."""
    text = text.strip()
    if "://" in text:
        parts = urlsplit(text)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        named = [s for s in segments if "@" in s]
        if named:
            return named[0].strip("<>")
        if segments:  # a Message-ID without "@" (rare): lore's path is LIST/MSGID or r/MSGID
            at = 0 if parts.netloc == "patch.msgid.link" or len(segments) == 1 else 1
            return segments[at].strip("<>")
    return text.strip("<>").strip()


def find_series(everything: Sequence[Series], text: str) -> Series | None:
    """The series ``text`` names among ``everything``: the one holding the mail with
    that Message-ID (cover, patch or reply; see :func:`wanted_msgid` for the URLs
    taken), else the one whose id is ``text`` or begins with it (at least
    :data:`MIN_ID_PREFIX` characters). ``None`` when none does. Raises
    :class:`InboxError` when a short id begins several series' ids."""
    wanted = wanted_msgid(text)
    for s in everything:
        if s.id == wanted:
            return s
    for s in everything:
        if any(m.msgid == wanted for m in s.messages):
            return s
    short = wanted.lower()
    if len(short) >= MIN_ID_PREFIX and _HEX.fullmatch(short):
        matches = [s for s in everything if s.id.startswith(short)]
        if len(matches) > 1:
            shown = ", ".join(s.id for s in matches[:4]) + (", …" if len(matches) > 4 else "")
            raise InboxError(f"{text}: several series ids begin with it ({shown}): give more of it")
        if matches:
            return matches[0]
    return None
