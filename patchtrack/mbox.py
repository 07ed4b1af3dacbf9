"""Series ↔ mailboxes: am-ready mboxes out, mbox and maildir files in.

Out: :func:`am_mbox` turns a :class:`~patchtrack.series.Series` into the mbox ``git
am`` applies — each patch's mail rebuilt from its parsed parts (author, date,
subject, commit message, notes, diff), with the follow-up trailers reviewers gave in
replies appended to the patch's trailer block the way ``b4 am`` does it (after the
patch's own trailers, in b4's order — see :func:`am_followups` — none twice), and an
optional ``Link:``. ``Series.to_mbox`` writes it to a file.

In: :func:`read_mbox` reads an mbox (plain, ``git format-patch`` output, lore's
mboxrd, gzipped or not) or a maildir into :class:`~patchtrack.message.Message`
records, so a ``b4 -m`` mailbox, a lei result or a saved thread goes through the
same pipeline as an archive: ``assemble(read_mbox(path))``.
"""

from __future__ import annotations

import gzip
import mailbox
import os
import re
from collections.abc import Iterator
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import PatchtrackError
from .message import Message, parse_message

if TYPE_CHECKING:
    from .identity import Person
    from .series import Followup, Patch, Series
    from .trailers import Trailer

__all__ = ["MboxError", "LINK_MASK", "added_trailers", "am_followups", "am_mbox", "am_mail", "read_mbox", "split_mbox"]

LINK_MASK = "https://patch.msgid.link/%s"
"""b4's default ``Link:`` for a message-id (its ``linkmask``)."""

_SEPARATOR = b"From git@z Thu Jan  1 00:00:00 1970\n"  # what b4 writes
_FROM_LINE = re.compile(
    rb"^From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" [ \d]\d \d\d:\d\d:\d\d \d{4}\r?$",
    re.MULTILINE,
)
_MBOXRD_ESCAPED = re.compile(rb"^>(>*From )", re.MULTILINE)


class MboxError(PatchtrackError):
    """A mailbox path that cannot be read, or a series that cannot be applied."""


# --- out: am-ready mboxes -------------------------------------------------------------


def am_mail(patch: Patch, series: Series, *, followups: bool = True, link: str | None = None) -> bytes:
    """One patch as the mail ``git am`` applies (without the mbox ``From`` line).

    ``link`` is a mask for a ``Link:`` trailer (``%s`` or ``{msgid}`` stands for the
    patch's Message-ID; :data:`LINK_MASK` is b4's). Raises :class:`MboxError` for a
    patch mail that carries no diff.
    """
    m = patch.message
    if m.diff is None or m.commit_message is None:
        raise MboxError(f"<{m.msgid}> carries no diff: nothing to apply")
    title, _, body = m.commit_message.partition("\n")
    body = body.strip("\n")
    added = added_trailers(patch, followups=followups, link=link)
    if added:
        body = (body + ("\n" if m.trailers else "\n\n") if body else "") + "\n".join(added)
    text = f"{body}\n" if body else ""
    notes = m.notes.strip("\n") if m.notes else ""
    text += "---\n" + (f"{notes}\n\n" if notes else "") + m.diff
    if not text.endswith("\n"):
        text += "\n"
    return _mail(m, f"{_marker(series, patch.index)} {title}", text)


def _mail(m: Message, subject: str, text: str) -> bytes:
    """A plain UTF-8 mail: the message's author, date and id, ``subject``, ``text``."""
    author = m.author or m.sender
    headers = [
        ("From", formataddr((author.name, author.email), charset="utf-8") if author else "unknown"),
        ("Date", format_datetime(m.date) if m.date else ""),
        ("Subject", _encoded(subject)),
        ("Message-ID", f"<{m.msgid}>"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "8bit"),
    ]
    head = "".join(f"{k}: {v}\n" for k, v in headers if v)
    return (head + "\n" + text).encode("utf-8", "surrogateescape")


def am_mbox(
    series: Series, *, followups: bool = True, link: str | None = None, cover: bool = False
) -> bytes:
    """The series as an mbox ``git am`` applies: its patches in order (the cover
    letter first when ``cover``: apply that with ``git am --empty=drop``), separated the way b4
    separates them. Raises :class:`MboxError` when a patch is missing or has no diff."""
    if series.missing:
        raise MboxError(
            f"series {series.id} ({series.title!r}) misses patch(es) "
            f"{', '.join(map(str, series.missing))} of {series.total}: it cannot be applied whole"
        )
    parts = []
    if cover and series.cover is not None:
        c = series.cover
        parts.append(_mail(c, f"{_marker(series, 0)} {series.title}", c.body.rstrip("\n") + "\n"))
    parts += [am_mail(p, series, followups=followups, link=link) for p in series.patches]
    return b"".join(_SEPARATOR + part + (b"" if part.endswith(b"\n") else b"\n") for part in parts)


def _marker(series: Series, index: int) -> str:
    words = ["PATCH"]
    if series.rfc:
        words.insert(0, "RFC")
    if series.version > 1:
        words.append(f"v{series.version}")
    if series.total > 1 or series.cover is not None:
        width = len(str(series.total))
        words.append(f"{index:0{width}d}/{series.total}")
    return "[" + " ".join(words) + "]"


_VIA_ORDER = {"reply": 0, "thread": 0, "carried": 1, "cover": 2}


def am_followups(patch: Patch) -> list[Followup]:
    """The follow-ups ``b4 am`` would add to a patch, in its order: unflagged ones
    the patch does not already carry, each once — replies to the patch first (in the
    order they came), then those carried from an earlier revision, then those given
    to the whole series on the cover letter."""
    have = {_trailer_key(t.key, t.person, t.value) for t in patch.message.trailers}
    found = []
    for f in sorted(patch.followups, key=lambda f: _VIA_ORDER.get(f.via, 0)):  # stable: arrival within a kind
        key = _trailer_key(f.key, f.person, f.trailer.value)
        if f.flagged or key in have:
            continue
        have.add(key)
        found.append(f)
    return found


def added_trailers(patch: Patch, *, followups: bool, link: str | None) -> list[str]:
    """Trailer lines ``am_mail`` appends: :func:`am_followups`, then the ``Link:``."""
    lines = [_line(f.trailer) for f in am_followups(patch)] if followups else []
    if link:
        msgid = patch.message.msgid
        url = link.replace("{msgid}", msgid) if "{msgid}" in link else link.replace("%s", msgid)
        if not any(t.key == "Link" and t.value == url for t in patch.message.trailers):
            lines.append(f"Link: {url}")
    return lines


def _line(trailer: Trailer) -> str:
    """A follow-up as the reviewer wrote it (comment and continuation lines kept),
    under the canonical key spelling."""
    written = trailer.raw.strip()
    if ":" not in written:
        return f"{trailer.key}: {trailer.value}"
    return f"{trailer.key}: {written.split(':', 1)[1].strip()}"


def _trailer_key(key: str, person: Person | None, value: str) -> tuple[str, str]:
    return (key.lower(), person.email.lower() if person else value.lower())


def _encoded(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


# --- in: mbox and maildir files ----------------------------------------------------------


def read_mbox(path: str | os.PathLike[str], *, mboxrd: bool | None = None) -> list[Message]:
    """Every mail of an mbox file (``.gz`` too) or a maildir, parsed, in file order
    (a maildir: by file name).

    ``mboxrd``: un-escape ``>From `` lines; ``None`` decides from the file (lore's
    exports are mboxrd and say so in their ``From mboxrd@z`` lines).
    """
    return [parse_message(raw) for raw in _mails(Path(path), mboxrd)]


def _mails(path: Path, mboxrd: bool | None) -> Iterator[bytes]:
    if not path.exists():
        raise MboxError(f"{path}: no such file or directory")
    if path.is_dir():
        if not any((path / sub).is_dir() for sub in ("cur", "new")):
            raise MboxError(f"{path}: a directory, but not a maildir (no cur/ or new/)")
        box = mailbox.Maildir(str(path), factory=None, create=False)
        for key in sorted(box.keys()):  # delivery names start with the delivery time
            yield box.get_bytes(key)
        return
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError) as exc:
        raise MboxError(f"{path}: cannot read: {exc}") from None
    yield from split_mbox(data, mboxrd=mboxrd)


def split_mbox(data: bytes, *, mboxrd: bool | None = None) -> list[bytes]:
    """The mails of an mbox's bytes, ``From `` separator lines removed.

    Only a line shaped like a separator (``From <who> <asctime date>``, as git,
    b4, lore and mail clients write them) splits, so a commit message line starting
    with "From " stays in its mail. Without any separator, the whole text is one mail.
    """
    starts = [m.start() for m in _FROM_LINE.finditer(data)]
    if not starts or data[: starts[0]].strip():
        starts = [0] + starts if starts else [0]
    if mboxrd is None:
        mboxrd = b"From mboxrd@z " in data[:200]
    mails = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(data)
        chunk = data[start:end]
        if _FROM_LINE.match(chunk):
            chunk = chunk.split(b"\n", 1)[1] if b"\n" in chunk else b""
        if mboxrd:
            chunk = _MBOXRD_ESCAPED.sub(rb"\1", chunk)
        if chunk.strip():
            mails.append(chunk.rstrip(b"\n") + b"\n")
    return mails
