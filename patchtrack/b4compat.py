"""patchtrack ↔ b4 objects, for scripts that use both (b4 is the ``b4`` extra).

:func:`to_b4_mailbox` feeds the stored mails of a series (cover, patches, replies) to
b4's own ``LoreMailbox`` exactly as ``b4 am -m MBOX`` does, and :func:`to_b4` asks it
for that revision's ``LoreSeries`` — so b4's code (``get_am_ready``, its attestation
and trailer handling) runs on what patchtrack found. :func:`from_b4` goes the other
way: the mails b4 holds, through patchtrack's pipeline, into :class:`Series`.

b4 runs with the configuration it reads itself (``git config``); this module adds
nothing to it and changes none of it. Importing it needs b4 installed.
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable, Iterable

import b4
import liblore.utils

from .assemble import assemble
from .inbox import Inbox
from .message import parse_message
from .series import Series
from .thread import arrival_key

__all__ = ["to_b4", "to_b4_mailbox", "from_b4"]

RawReader = Callable[[str], bytes]
"""Gives a stored mail's bytes by blob id: :meth:`Inbox.raw`, or a dict's ``__getitem__``."""


def to_b4_mailbox(series: Series | Iterable[Series], raw: Inbox | RawReader) -> b4.LoreMailbox:
    """A ``b4.LoreMailbox`` holding every mail of ``series`` (one or several), added
    in arrival order, each parsed from its stored bytes by b4's own parser."""
    read = raw.raw if isinstance(raw, Inbox) else raw
    found = [series] if isinstance(series, Series) else list(series)
    mails = {m.oid: m for s in found for m in s.messages}
    ordered = sorted(mails.values(), key=arrival_key)
    box = b4.LoreMailbox()
    for m in ordered:
        box.add_message(liblore.utils.parse_message(read(m.oid)))
    return box


def to_b4(series: Series, raw: Inbox | RawReader) -> b4.LoreSeries | None:
    """b4's ``LoreSeries`` for ``series``' revision (``None`` when b4 finds no such
    revision in those mails — see docs/b4-notes.md for where b4 reads differently)."""
    box = to_b4_mailbox(series, raw)
    return box.get_series(revision=series.version, sloppytrailers=False, reroll=True, codereview_trailers=False)


def from_b4(obj: b4.LoreMailbox | b4.LoreSeries) -> tuple[Series, ...]:
    """The series patchtrack assembles from the mails a b4 mailbox or series holds."""
    if isinstance(obj, b4.LoreMailbox):
        lmsgs = list(obj.msgid_map.values()) + [f for f in obj.followups if f.msgid not in obj.msgid_map]
    else:
        lmsgs = [m for m in obj.patches if m is not None]
    policy = email.policy.default.clone(linesep="\n")
    seen: set[str] = set()
    messages = []
    for lmsg in lmsgs:
        if lmsg.msgid in seen:
            continue
        seen.add(lmsg.msgid)
        messages.append(parse_message(lmsg.msg.as_bytes(policy=policy)))
    return assemble(messages)
