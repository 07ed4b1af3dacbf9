"""Series ↔ mailboxes: am-ready mboxes out, mbox and maildir files in.

Out: :func:`am_mbox` turns a :class:`~patchtrack.series.Series` into the mbox ``git
am`` applies — each patch's mail rebuilt from its parsed parts (author, date,
subject, commit message, notes, diff), with the follow-up trailers reviewers gave in
replies appended to the patch's trailer block the way ``b4 am`` does it (after the
patch's own trailers, in b4's order — see :func:`am_followups` — none twice), and an
optional ``Link:``. :func:`write_mbox` writes it to a file (``Series.to_mbox`` is
this function: it is registered as the series' mbox writer, :mod:`patchtrack._views`,
since a series does not import this module).

In: :func:`read_mbox` reads an mbox (plain, ``git format-patch`` output, lore's
mboxrd, gzipped or not) or a maildir into :class:`~patchtrack.message.Message`
records, so a ``b4 -m`` mailbox, a lei result or a saved thread goes through the
same pipeline as an archive: ``assemble(read_mbox(path))``.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import BinaryIO

from . import _views
from .errors import PatchtrackError
from .identity import Person
from .message import Message, parse_message
from .series import Followup, Patch, Series, format_counters
from .trailers import Trailer
from .vocab import Via

__all__ = [
    "MboxError", "LINK_MASK", "MAIL_SUFFIXES", "added_trailer_origins", "added_trailers", "am_followups", "am_mbox",
    "am_mail", "am_marker", "am_name", "is_mailbox", "write_mbox",
    "read_mails", "read_mbox", "split_mbox",
]

LINK_MASK = "https://patch.msgid.link/%s"
"""b4's default ``Link:`` for a message-id (its ``linkmask``)."""

_SEPARATOR = b"From git@z Thu Jan  1 00:00:00 1970\n"  # what b4 writes
_FROM_LINE = re.compile(
    rb"^From \S+ +(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    rb" [ \d]\d \d\d:\d\d:\d\d \d{4}\r?$",
    re.MULTILINE,
)
_MBOXRD_ESCAPED = re.compile(rb"^>(>*From )", re.MULTILINE)
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")  # a header field's name and colon (RFC 5322 ftext)

GZIP_RATIO = 100
"""A gzipped mailbox may unpack to this many times its size (at least
:data:`GZIP_FLOOR`) unless ``read_mbox`` is given ``max_size``: mail compresses
3.6-fold (2,000 mails of linux-pwm and of ksummit, gzip -6), a gzip bomb up to
1,032-fold."""
GZIP_FLOOR = 16 << 20
_READ = 1 << 20  # bytes read (unpacked) at a time


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
    return _mail(m, f"{am_marker(series, patch.index)} {title}", text, _root(series))


def _address(person: Person) -> str:
    """``Name <address>`` as UTF-8 text (an in-body line is not a header: no encoded
    words), the name quoted when it holds what an address list would split at."""
    name = person.name or ""
    if any(c in name for c in ',;:<>@"()[]\\'):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{person.email}>" if name else f"<{person.email}>"


def _root(series: Series) -> str:
    """The Message-ID the series' mails answer in the mbox: its cover letter's, else
    its first patch's — as ``git send-email`` threads them (``git am`` ignores it)."""
    return series.cover.msgid if series.cover is not None else series.patches[0].message.msgid


def _mail(m: Message, subject: str, text: str, root: str) -> bytes:
    """A plain UTF-8 mail: the message's sender, date and id, ``subject``, ``text``,
    threaded under ``root`` (unless it is ``root``; ``git am`` ignores threading).
    A mail whose author is not its sender names the author in an in-body ``From:``
    line, as ``git format-patch`` writes it and ``git am`` reads it
    — so the mbox read back has the mails' own senders and threads: a series posted
    by one person for several authors stays one series (written with the author as
    ``From:``, as b4 writes it, 48 of kvm-ppc's 48 complete multi-author series came
    back split)."""
    author = m.author or m.sender
    poster = m.sender or m.author
    if author is not None and poster is not None and author != poster:
        text = f"From: {_address(author)}\n\n{text}"
    else:
        poster = author
    thread = f"<{root}>" if root != m.msgid else ""
    headers = [
        ("From", formataddr((poster.name, poster.email), charset="utf-8") if poster else "unknown"),
        ("Date", format_datetime(m.date) if m.date else ""),
        ("Subject", _encoded(subject)),
        ("Message-ID", f"<{m.msgid}>"),
        ("In-Reply-To", thread),
        ("References", thread),
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
    if not series.complete:
        raise MboxError(
            f"series {series.id} ({series.title!r}) misses patch(es) "
            f"{format_counters(series.missing_ranges)} of {series.total}: it cannot be applied whole"
        )
    parts = []
    if cover and series.cover is not None:
        c = series.cover
        parts.append(_mail(c, f"{am_marker(series, 0)} {series.title}", c.body.rstrip("\n") + "\n", c.msgid))
    parts += [am_mail(p, series, followups=followups, link=link) for p in series.patches]
    return b"".join(_SEPARATOR + part + (b"" if part.endswith(b"\n") else b"\n") for part in parts)


def write_mbox(
    series: Series,
    dest: str | os.PathLike[str] | BinaryIO,
    *,
    followups: bool = True,
    link: str | bool = False,
    cover: bool = False,
) -> int:
    """Write :func:`am_mbox` of ``series`` to ``dest`` (a path or a binary file);
    returns the patches written. ``link=True`` is b4's :data:`LINK_MASK`, a string
    a mask of its own. What ``Series.to_mbox`` does."""
    data = am_mbox(series, followups=followups, link=LINK_MASK if link is True else (link or None), cover=cover)
    if isinstance(dest, (str, os.PathLike)):
        with open(dest, "wb") as fh:
            fh.write(data)
    else:
        dest.write(data)
    return len(series.patches)


_views.write_mbox.register(Series, write_mbox)


def am_marker(series: Series, index: int) -> str:
    words = ["PATCH"]
    if series.rfc:
        words.insert(0, "RFC")
    if series.version > 1:
        words.append(f"v{series.version}")
    if series.total > 1 or series.cover is not None:
        width = len(str(series.total))
        words.append(f"{index:0{width}d}/{series.total}")
    return "[" + " ".join(words) + "]"


_VIA_ORDER = {Via.REPLY: 0, Via.THREAD: 0, Via.CARRIED: 1, Via.COVER: 2}


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
    return [line for line, _ in added_trailer_origins(patch, followups=followups, link=link)]


def added_trailer_origins(patch: Patch, *, followups: bool, link: str | None) -> list[tuple[str, Followup | None]]:
    """:func:`added_trailers`, each with the follow-up it comes from (``None`` for the
    ``Link:``): where it was given (its ``via``) is what ``patchtrack am`` shows."""
    lines: list[tuple[str, Followup | None]] = [(_line(f.trailer), f) for f in am_followups(patch)] if followups else []
    if link:
        msgid = patch.message.msgid
        url = link.replace("{msgid}", msgid) if "{msgid}" in link else link.replace("%s", msgid)
        if not any(t.key == "Link" and t.value == url for t in patch.message.trailers):
            lines.append((f"Link: {url}", None))
    return lines


def am_name(series: Series) -> str:
    """The file name ``b4 am`` gives the series' mbox: ``v2_20250101_author_title.mbx``
    — the date (in its own time zone) and the sender's local part of the cover letter
    (else the first patch), and its title, as b4's ``get_slug(extended=True)`` makes
    them: every run of non-word characters one ``_``, lower case, at most 100
    characters, ``vN_`` first for a revision after the first."""
    first = series.cover or series.patches[0].message
    day = first.date.strftime("%Y%m%d") if first.date else "00000000"
    who = first.sender or first.author
    local = who.email.split("@")[0] if who else ""
    slug = re.sub(r"\W+", "_", f"{day}_{local}_{first.subject.title}").strip("_").lower()
    if series.version != 1:
        slug = f"v{series.version}_{slug}"
    return slug[:100] + ".mbx"


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


def read_mbox(
    path: str | os.PathLike[str], *, mboxrd: bool | None = None, max_size: int | None = None
) -> list[Message]:
    """Every mail of a mailbox (see :func:`read_mails`: an mbox file, ``.gz`` too, a
    single mail's file, a maildir, a ``lei q`` result or a folder of ``*.patch`` /
    ``*.eml`` files), parsed, in file order (a maildir or a folder: by file name).

    ``mboxrd``: un-escape ``>From `` lines; ``None`` decides from the file (lore's
    exports are mboxrd and say so in their ``From mboxrd@z`` lines). ``max_size``:
    the most bytes a gzipped file may unpack to (``None``: :data:`GZIP_RATIO` times
    its size, at least :data:`GZIP_FLOOR`). The file is unpacked and split as it
    is read, so no more than one mail's bytes are held at a time.

    Raises :class:`MboxError` for a path that is missing, unreadable, neither a
    mailbox, a mail nor a folder of mails, damaged gzip, or one that unpacks past
    ``max_size``.
    """
    return [parse_message(raw) for raw in read_mails(path, mboxrd=mboxrd, max_size=max_size)]


MAIL_SUFFIXES = frozenset({"", ".eml", ".mail", ".msg", ".patch", ".diff", ".mbx", ".mbox", ".gz"})
"""The files of a folder read as mails (each may hold one mail or an mbox of several:
``git format-patch`` writes each ``*.patch`` as a one-mail mbox, ``b4 am`` a ``*.mbx``)."""


def is_mailbox(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is mail to read with :func:`read_mails` rather than a
    public-inbox archive: a file, or a directory that is neither a v2 inbox (no
    ``git/``) nor a git repository. ``False`` for a path that does not exist."""
    where = Path(path).expanduser()
    try:
        if where.is_file():
            return True
        if not where.is_dir():
            return False
        return not ((where / "git").is_dir() or _is_git(where))
    except OSError:
        return False


def _is_git(path: Path) -> bool:
    """Whether ``path`` looks like a git repository, if only a damaged one (which
    ``open_inbox`` then names as such)."""
    return (path / "HEAD").exists() or (path / "objects").exists()


def read_mails(
    path: str | os.PathLike[str], *, mboxrd: bool | None = None, max_size: int | None = None
) -> Iterator[bytes]:
    """The raw mails of a mailbox, one at a time, in order: an mbox file (plain,
    mboxrd, gzipped), one mail's file, a maildir (``cur/`` and ``new/`` by delivery
    name: what ``lei q -o DIR`` writes; ``lei q -o mboxrd:FILE`` writes an mboxrd), or a
    folder of mail files (:data:`MAIL_SUFFIXES`, by name; each an mbox or a mail).
    The arguments and errors are :func:`read_mbox`'s; the path is checked at the call."""
    where = Path(path)
    try:
        mode = where.stat().st_mode
    except FileNotFoundError:
        raise MboxError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise MboxError(f"{path}: cannot read: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        if (where / "git").is_dir() or _is_git(where):
            raise MboxError(f"{path}: a public-inbox archive or git repository, not a mailbox (open_inbox reads it)")
        if (where / "cur").is_dir() or (where / "new").is_dir():
            return _maildir(where)
        return _folder(where, mboxrd, max_size)
    if not stat.S_ISREG(mode):
        raise MboxError(f"{path}: neither a mailbox file nor a maildir (a special file)")
    return _split(_unpacked(where, max_size), mboxrd, where)


def _folder(path: Path, mboxrd: bool | None, max_size: int | None) -> Iterator[bytes]:
    """The mails of a folder's mail files, by file name: an mbox (``git
    format-patch``'s ``*.patch``) split, any other file one mail, byte for byte."""
    try:
        files = sorted(f for f in path.iterdir() if not f.name.startswith(".") and f.is_file())
    except OSError as exc:
        raise MboxError(f"{exc.filename or path}: cannot read: {exc.strerror}") from None
    for f in files:
        if f.suffix.lower() not in MAIL_SUFFIXES:
            continue
        data = b"".join(_unpacked(f, max_size))
        if _FROM_LINE.match(data):
            yield from _split([data], mboxrd, f)
            continue
        _check_mailbox(f, data[:200])
        if data.strip():
            yield data  # one mail's file as it is: its blob is the file


def _maildir(path: Path) -> Iterator[bytes]:
    """A maildir's mails by delivery name (which starts with the delivery time), from
    ``new/`` and ``cur/`` — either may be missing (``tmp/`` holds deliveries under way)."""
    subs = [path / sub for sub in ("cur", "new") if (path / sub).is_dir()]
    try:
        files = [f for sub in subs for f in sub.iterdir() if not f.name.startswith(".") and f.is_file()]
        for f in sorted(files, key=lambda f: (f.name.partition(":")[0], f.name)):  # ":2,S": flags
            yield f.read_bytes()
    except OSError as exc:
        raise MboxError(f"{exc.filename or path}: cannot read: {exc.strerror}") from None


def _unpacked(path: Path, max_size: int | None) -> Iterator[bytes]:
    """The file's bytes, gunzipped if it is gzip, a piece at a time; a gzip that
    unpacks past the bound raises :class:`MboxError` before it is held."""
    try:
        with path.open("rb") as fh:
            packed = fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
            if not packed:
                while piece := fh.read(_READ):
                    yield piece
                return
            size = os.fstat(fh.fileno()).st_size
            bound = max(GZIP_FLOOR, GZIP_RATIO * size) if max_size is None else max_size
            unpacked = 0
            with gzip.GzipFile(fileobj=fh) as stream:
                while piece := stream.read(_READ):  # GzipFile unpacks no more than asked
                    unpacked += len(piece)
                    if unpacked > bound:
                        raise MboxError(
                            f"{path}: unpacks to more than {bound:,} bytes ({size:,} packed): "
                            "a gzip bomb? (read_mbox's max_size raises the bound)"
                        )
                    yield piece
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise MboxError(f"{path}: cannot read: {why}") from None


def split_mbox(data: bytes, *, mboxrd: bool | None = None) -> list[bytes]:
    """The mails of an mbox's bytes, ``From `` separator lines removed.

    Only a line shaped like a separator (``From <who> <asctime date>``, as git,
    b4, lore and mail clients write them) splits, so a commit message line starting
    with "From " stays in its mail. Without any separator, the whole text is one mail.
    """
    return list(_split([data], mboxrd))


def _split(pieces: Iterable[bytes], mboxrd: bool | None, path: Path | None = None) -> Iterator[bytes]:
    """:func:`split_mbox` over a file read a piece at a time: each mail is given as
    soon as the separator after it is read. With ``path``, text that begins as
    neither an mbox nor a mail raises :class:`MboxError`."""
    pending = bytearray()
    scanned = 0  # separators are searched for from here on (a line start)
    checked = mboxrd is not None and path is None
    for piece in itertools.chain(pieces, [None]):
        if piece is not None:
            pending += piece
            if not checked and len(pending) < 200:  # what the first lines say needs them
                continue
        if not checked:
            if path is not None:
                _check_mailbox(path, bytes(pending[:200]))
            if mboxrd is None:
                mboxrd = b"From mboxrd@z " in pending[:200]
            checked = True
        end = len(pending) if piece is None else pending.rfind(b"\n") + 1
        start = 0
        for cut in (m.start() for m in _FROM_LINE.finditer(pending, scanned, end)):
            if cut > start and (mail := _one_mail(pending[start:cut], bool(mboxrd))) is not None:
                yield mail
            start = cut
        del pending[:start]
        scanned = max(0, end - start)
    if (mail := _one_mail(pending, bool(mboxrd))) is not None:
        yield mail


def _one_mail(chunk: bytearray, mboxrd: bool) -> bytes | None:
    """One mail of an mbox, without its separator line; ``None`` for blank text."""
    data = bytes(chunk)
    if _FROM_LINE.match(data):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    if mboxrd:
        data = _MBOXRD_ESCAPED.sub(rb"\1", data)
    return data.rstrip(b"\n") + b"\n" if data.strip() else None


def _check_mailbox(path: Path, head: bytes) -> None:
    """Refuse a file whose first line is neither an mbox separator nor a header."""
    first = head.lstrip()
    if first and not (first.startswith(b"From ") or _HEADER_LINE.match(first)):
        raise MboxError(f"{path}: neither an mbox nor a mail (it begins {first[:16]!r})")
