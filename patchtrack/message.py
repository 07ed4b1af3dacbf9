"""Raw mail → :class:`Message`: the second stage of the pipeline.

A ``Message`` is everything later stages (threads, series, reports) and scripts need
from one mail, typed and decoded: ids and threading headers, the date, the people
(with the in-body ``From:`` of a relayed or forwarded patch as the author), the parsed
subject, the kind of mail, and for a patch the split ``git am`` makes — commit
message, notes after ``---``, the diff — with its trailers, diffstat and patch-id.

Parsing never raises: a mail that is broken in any way becomes a ``Message`` whose
``problems`` say what was wrong, carrying whatever could be read.
"""

from __future__ import annotations

import hashlib

import re
import threading
from datetime import datetime
from typing import Any

import attrs
import zstandard

from . import _views
from ._dates import mail_date
from ._escape import repr_title, safe_line
from ._mime import header_value, split_mail
from .archive import Delivery, RawMessage
from .diff import Diffstat, diff_start, read_diff
from .identity import Person, StdlibBudget, decode_words_reporting, read_people, read_person
from .subject import Subject, parse_subject
from .vocab import Kind, Problem, to_kind
from .trailers import (
    MAX_TRAILERS,
    Fixes,
    Link,
    StableRequest,
    Trailer,
    find_reply_trailers,
    fixes_of,
    links_of,
    parse_trailers,
    stable_requests,
)

__all__ = ["Message", "parse_message", "message_id_of", "KINDS", "UNREADABLE"]

KINDS = tuple(Kind)
"""The kinds of mail (:class:`~patchtrack.vocab.Kind`): a patch, a series' cover letter
(``0/N``), a reply, a pull request, or anything else (bot reports, discussion,
announcements)."""

UNREADABLE = Problem.UNREADABLE.at("")
"""The problem code prefix of a record that stands for a mail the archive could not
give (``unreadable:missing-blob``…): its only problem, and no field read from mail."""

MAX_HEADER = 1 << 16
"""Longest header value read (64 KiB; the longest of the five corpora is 8.5 KB): a
value is cut there (problem ``header-truncated:<name>``), so no header, however built,
costs more than reading 64 KiB. For To, Cc and References the cut is of all values
of the header joined."""
_INBODY = re.compile(r"^(from|subject|date)[ \t]*:[ \t]*(.*)$", re.IGNORECASE)
_INBODY_FIRST = re.compile(r"(?:from|subject|date)[ \t]*:", re.IGNORECASE)  # could there be one?
_BASE = re.compile(r"^base-commit:[ \t]*([0-9a-f]{7,64})[ \t]*$", re.MULTILINE)
_CHANGE_ID = re.compile(r"^change-id:[ \t]*(\S+)[ \t]*$", re.MULTILINE)
_PREREQ = re.compile(r"^(prerequisite-(?:patch|change|message)-id:[ \t]*\S+)[ \t]*$", re.MULTILINE)
_DIFFSTAT_LINE = re.compile(
    r"^ (?:\S.* \| +(?:\d+ ?\+*-*|Bin .*)"
    r"|\d+ files? changed.*"
    r"|(?:create|delete) mode \d+ .*"
    r"|(?:rename|copy) .* \(\d+%\)"
    r"|mode change \d+ => \d+ .*)$"
)
_DIFFSTAT_LINES = re.compile(r"\n" + _DIFFSTAT_LINE.pattern[1:-1] + r"(?=\n|\Z)")
"""A diffstat line with the line break before it, searched in ``"\n" + text``: dropping
the lines without a Python step per line (a megabyte of short lines took 0.2 s)."""
_PULL_MARKERS = ("are available in the Git repository at", "are available in the git repository at")
# Searched over "\n" + text, like _mime's headers: a literal first character is fast.
_PATCH_BREAK = re.compile(r"\n(?:diff -|Index: |---[ \t\r\f\v]*$|--- (?=\S))", re.MULTILINE)


_CODERS = threading.local()
"""Each thread's zstd compressor and decompressor: they are not thread-safe, and
making one per call costs more than compressing a mail."""


def _coders() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
    try:
        return _CODERS.pair  # type: ignore[no-any-return]
    except AttributeError:
        _CODERS.pair = (zstandard.ZstdCompressor(level=1), zstandard.ZstdDecompressor())
        return _CODERS.pair  # type: ignore[no-any-return]


def _pack(text: str | bytes) -> bytes:
    """A body as a message keeps it: zstd-compressed UTF-8 (lone surrogates kept, as
    ``marshal`` keeps them). Bytes are taken as already packed — the form
    :func:`attrs.evolve` and the cache pass back."""
    if isinstance(text, bytes):
        return text
    return _coders()[0].compress(text.encode("utf-8", "surrogatepass")) if text else b""


def _unpack(packed: bytes) -> str:
    return _coders()[1].decompress(packed).decode("utf-8", "surrogatepass") if packed else ""


class _Body:
    """How messages compare bodies: equal packed bytes are the same text, and only
    when they differ are both texts read (another zstd may pack a text differently:
    a record from a pickle or another cache)."""

    __slots__ = ("packed",)

    def __init__(self, packed: bytes) -> None:
        self.packed = packed

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Body):
            return NotImplemented
        return self.packed == other.packed or _unpack(self.packed) == _unpack(other.packed)

    __hash__ = None  # type: ignore[assignment]


@attrs.frozen
class Message:
    """One mail, parsed. Field names are the JSON names of ``patchtrack messages``.

    ``commit_message``, ``notes``, ``diff``, ``diffstat`` and ``patch_id`` are set for
    mails that carry a diff; ``trailers`` are the commit message's trailers for a
    patch (as ``git interpret-trailers`` finds them) and the unquoted trailer lines a
    reviewer wrote for any other mail. ``kind`` is a :class:`~patchtrack.vocab.Kind`;
    ``problems`` are :class:`~patchtrack.vocab.Problem` codes, as plain strings
    (``<code>:<detail>`` for a code that takes one).
    """

    oid: str
    commit: str | None
    epoch: int | None
    msgid: str
    date: datetime | None
    kind: Kind = attrs.field(converter=to_kind)
    subject: Subject
    sender: Person | None
    author: Person | None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    list_id: str | None = None
    to: tuple[Person, ...] = ()
    cc: tuple[Person, ...] = ()
    _body: bytes = attrs.field(default=b"", repr=False, converter=_pack, eq=_Body, hash=False)
    """The body, packed (see :attr:`body`); left out of the hash, which ``oid`` (the
    blob id of the whole mail) already makes distinct."""
    commit_message: str | None = attrs.field(default=None, repr=False)
    notes: str | None = attrs.field(default=None, repr=False)
    _diff: str | int | None = attrs.field(default=None, repr=False)
    """The diff, or where it starts in ``body`` (see :attr:`diff`)."""
    base_commit: str | None = None
    change_id: str | None = None
    prerequisites: tuple[str, ...] = ()
    trailers: tuple[Trailer, ...] = ()
    diffstat: Diffstat | None = None
    patch_id: str | None = None
    problems: tuple[str, ...] = ()
    deliveries: tuple[Delivery, ...] = attrs.field(default=(), repr=False)
    """Every delivery of this mail in the archive of many lists it was read from
    (:func:`patchtrack.open_archive`), oldest first: the list, epoch, commit,
    arrival and blob of each copy. The content fields are the first delivery's copy.
    Empty for a mail read from one inbox or a mailbox: there ``commit`` and
    ``epoch`` say where it was stored."""

    @property
    def lists(self) -> tuple[str, ...]:
        """The lists that carried this mail (of an archive of many lists), in order
        of first arrival."""
        return tuple(dict.fromkeys(d.list for d in self.deliveries))

    @property
    def body(self) -> str:
        """The text of the mail after its headers: the ``text/plain`` part of a
        multipart mail, decoded, line ends ``\\n``.

        Kept compressed (zstd, to ~40 %; ~10 µs a kernel mail to read back): bodies
        were two thirds of a parsed archive's memory, and most are never read again
        once their trailers, diffstat and patch-id are taken."""
        return _unpack(self._body)

    @property
    def diff(self) -> str | None:
        """The diff, from its first ``diff --git``/``---``/``Index:`` line to the end.

        A diff is always the end of the body, so a parsed message stores where it
        starts, not the text again (a third of an archive's size); ``diff=`` given to
        the constructor may be either."""
        d = self._diff
        return self.body[d:] if isinstance(d, int) else d

    @property
    def fixes(self) -> tuple[Fixes, ...]:
        """``Fixes:`` trailers as sha + title."""
        return fixes_of(self.trailers)

    @property
    def stable(self) -> tuple[StableRequest, ...]:
        """``Cc: stable@vger.kernel.org # 6.9+`` requests."""
        return stable_requests(self.trailers)

    @property
    def links(self) -> tuple[Link, ...]:
        """``Link:``/``Closes:`` trailers, with the message-id of lore/msgid links."""
        return links_of(self.trailers)

    def _repr_html_(self) -> str:  # Jupyter: the view patchtrack._render registers
        return _views.html(self)

    def __repr__(self) -> str:
        return f"<Message {self.kind} {repr_title(self.subject.title)} {safe_line(self.msgid)}>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields with the documented names (``docs/message.md``)."""
        stat = self.diffstat
        return {
            "oid": self.oid,
            "commit": self.commit,
            "epoch": self.epoch,
            "msgid": self.msgid,
            "date": self.date.isoformat() if self.date else None,
            "kind": self.kind,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "list_id": self.list_id,
            "sender": _person(self.sender),
            "author": _person(self.author),
            "to": [_person(p) for p in self.to],
            "cc": [_person(p) for p in self.cc],
            "subject": {
                "raw": self.subject.raw,
                "title": self.subject.title,
                "prefixes": list(self.subject.prefixes),
                "version": self.subject.version,
                "index": self.subject.index,
                "total": self.subject.total,
                "rfc": self.subject.rfc,
                "resend": self.subject.resend,
                "reply": list(self.subject.reply),
                "marker": self.subject.marker,
                "backport": self.subject.backport,
            },
            "commit_message": self.commit_message,
            "notes": self.notes,
            "base_commit": self.base_commit,
            "change_id": self.change_id,
            "patch_id": self.patch_id,
            "trailers": [
                {
                    "key": t.key,
                    "value": t.value,
                    "name": t.person.name if t.person else None,
                    "email": t.person.email if t.person else None,
                    "comment": t.comment,
                }
                for t in self.trailers
            ],
            "fixes": [{"sha": f.sha, "title": f.title} for f in self.fixes],
            "stable": [{"spec": s.spec} for s in self.stable],
            "diffstat": None
            if stat is None
            else {
                "files": [
                    {
                        "path": f.path,
                        "old_path": f.old_path,
                        "added": f.added,
                        "removed": f.removed,
                        "binary": f.binary,
                        "status": f.status,
                    }
                    for f in stat.files
                ],
                "insertions": stat.insertions,
                "deletions": stat.deletions,
            },
            "problems": list(self.problems),
        }


def blob_id(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git hash-object`` prints): a mail read
    from a file is keyed as the archive would key it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def message_id_of(data: bytes) -> str:
    """The Message-ID :func:`parse_message` reads from the stored mail ``data`` (``""``
    when it has none), reading only its headers: how copies of one mail on several
    lists are matched before any is parsed."""
    value = header_value(data, "message-id")
    return _first_id(value[:MAX_HEADER])


def parse_message(raw: bytes | RawMessage) -> Message:
    """Parse one mail (raw bytes, or a :class:`RawMessage` from a walk). Never raises.

    For bytes, ``oid`` is the git blob id of the bytes (what an archive would store),
    and ``commit``/``epoch`` are ``None``.
    """
    if isinstance(raw, RawMessage):
        data, oid, commit, epoch, fallback = raw.data, raw.oid, raw.commit, raw.epoch, raw.time
    else:
        data, oid, commit, epoch, fallback = bytes(raw), blob_id(bytes(raw)), None, None, None
    try:
        return _parse(data, oid, commit, epoch, fallback)
    except Exception as exc:  # noqa: BLE001 - a mail is data: never let one stop a walk
        return Message(
            oid=oid,
            commit=commit,
            epoch=epoch,
            msgid="",
            date=fallback,
            kind=Kind.OTHER,
            subject=parse_subject(""),
            sender=None,
            author=None,
            problems=(Problem.UNPARSABLE.at(type(exc).__name__),),
        )


def _parse(data: bytes, oid: str, commit: str | None, epoch: int | None, fallback: datetime | None) -> Message:
    mail = split_mail(data)
    headers = mail.headers
    problems = list(mail.problems)
    budget = StdlibBudget()

    def value(name: str, joined: str | None = None) -> str:
        """The first value of a header (all values, ``joined``), cut at MAX_HEADER."""
        values = headers.get(name)
        if not values:
            return ""
        text = values[0] if joined is None else joined.join(values)
        if len(text) > MAX_HEADER:
            problems.append(Problem.HEADER_TRUNCATED.at(name))
            text = text[:MAX_HEADER]
        return text

    def decoded(text: str, name: str) -> str:
        if "=?" not in text:
            return text
        text, issues = decode_words_reporting(text)
        problems.extend(f"{issue}:{name}" for issue in issues)
        return text

    def person(text: str, name: str) -> Person | None:
        budget.short = False
        found = read_person(decoded(text, name), budget)
        if budget.short:
            problems.append(Problem.BAD_ADDRESS_LIST.at(name))
        return found

    def people(name: str) -> tuple[Person, ...]:
        budget.short = False
        found = read_people(decoded(value(name, ", "), name), budget)
        if budget.short:
            problems.append(Problem.BAD_ADDRESS_LIST.at(name))
        return found

    msgid = _first_id(value("message-id"))
    if not msgid:
        problems.append(Problem.NO_MESSAGE_ID.value)
    in_reply_to = _first_id(value("in-reply-to")) or None
    references = tuple(dict.fromkeys(message_ids(value("references", " "))))
    list_id = _list_id(value("list-id"))

    date_header = value("date")
    date = mail_date(date_header) if date_header else None
    if date is None:
        problems.append((Problem.BAD_DATE if date_header else Problem.NO_DATE).value)
        date = fallback

    sender = person(value("from"), "from")
    if sender is None:
        problems.append(Problem.NO_SENDER.value)
    subject_text = decoded(value("subject"), "subject")
    if "=?" in subject_text and "?=" in subject_text:
        problems.append(Problem.UNDECODABLE_SUBJECT.value)
    subject = parse_subject(subject_text)

    body = mail.body.replace("\r\n", "\n")
    inbody, text = _inbody_headers(body, problems)
    author = person(inbody["from"], "in-body-from") if "from" in inbody else None
    if author is None and sender is not None and value("x-original-from"):
        author = person(value("x-original-from"), "x-original-from")
    author = author or sender
    to, cc = people("to"), people("cc")

    message_part, rest = _patch_break(text)
    start = diff_start(rest) if rest is not None else None
    kind = _kind(subject, text, start is not None)

    commit_message = notes = diff = None
    stat = pid = None
    if kind is Kind.PATCH or start is not None:
        if "subject" in inbody:
            title = parse_subject(decoded(inbody["subject"], "in-body-subject")).title
        else:
            title = subject.title
        commit_message = _stripspace(f"{title}\n\n{message_part}")
    if rest is not None and start is not None:
        diff = rest[start:]
        notes = _notes(rest[:start])
        stat, pid, cut = read_diff(diff)
        problems += cut
    elif kind is Kind.PATCH:
        problems.append(Problem.NO_DIFF.value)

    budget.short = False
    if kind is Kind.PATCH and commit_message is not None:
        trailers = parse_trailers(_last_lines(commit_message, MAX_TRAILER_TEXT_LINES, problems), budget)
    else:
        trailers = find_reply_trailers(_first_lines(text, MAX_TRAILER_TEXT_LINES, problems), budget)
    if budget.short:
        problems.append(Problem.BAD_ADDRESS_LIST.at("trailers"))
    if len(trailers) >= MAX_TRAILERS:
        problems.append(Problem.TRAILERS_TRUNCATED.value)

    base = _BASE.search(body) if "base-commit:" in body else None
    change = _CHANGE_ID.search(body) if "change-id:" in body else None
    return Message(
        oid=oid,
        commit=commit,
        epoch=epoch,
        msgid=msgid,
        date=date,
        kind=kind,
        subject=subject,
        sender=sender,
        author=author,
        in_reply_to=in_reply_to,
        references=references,
        list_id=list_id,
        to=to,
        cc=cc,
        body=body,
        commit_message=commit_message,
        notes=notes,
        diff=len(body) - len(diff) if diff is not None and body.endswith(diff) else diff,
        base_commit=base.group(1) if base else None,
        change_id=change.group(1) if change else None,
        prerequisites=tuple(m.strip() for m in _PREREQ.findall(body)) if "prerequisite-" in body else (),
        trailers=trailers,
        diffstat=stat,
        patch_id=pid,
        problems=tuple(dict.fromkeys(problems)),
    )


_PLAIN_ID = re.compile(r"<([^>]+)>")


def message_ids(value: str) -> list[str]:
    """The ids of a ``Message-ID``/``In-Reply-To``/``References`` value, in order: each
    the whole bracketed text, ``<`` and ``>`` counted as they nest, so
    ``<p1<script>x@evil>`` is ``p1<script>x@evil`` — not public-inbox's ``p1<script``
    (``qr/<([^>]+)>/``), which every id of the shape ``<p1<…`` shares. An id whose
    brackets do not balance runs from its ``<`` to the last ``>``. Ordinary ids (no
    ``<`` or ``>`` inside; all 58,090 mails of the corpora) read as public-inbox reads
    them. Linear: ``str.find`` from bracket to bracket, each character read once."""
    last = value.rfind(">")
    found: list[str] = _PLAIN_ID.findall(value, 0, last + 1)
    if value.count("<", 0, last + 1) == len(found):
        return found  # every "<" opened an id, so none holds one: as public-inbox reads them
    found = []
    at = value.find("<", 0, last) if last > 0 else -1
    while at >= 0:
        depth, pos, close = 1, at + 1, value.find(">", at + 1)
        while True:
            inner = value.find("<", pos, close)
            if inner >= 0:
                depth, pos = depth + 1, inner + 1
                continue
            depth, pos = depth - 1, close + 1
            if depth == 0 or close == last:
                break
            close = value.find(">", pos)
        if pos - at > 2:
            found.append(value[at + 1 : pos - 1])
        if close == last:
            break
        at = value.find("<", pos, last)
    return found


MAX_TRAILER_TEXT_LINES = 25_000
"""Lines the trailer readers are given: a commit message's last, a reply's first
(``trailers-truncated`` when there are more). The corpora's longest body has 12,532
lines; the readers cost 0.3–1.5 µs a line, and a megabyte of short lines is 500,000."""


def _first_lines(text: str, n: int, problems: list[str]) -> str:
    """``text`` up to the end of its ``n``-th line (with its line break)."""
    if text.count("\n") <= n:
        return text
    problems.append(Problem.TRAILERS_TRUNCATED.value)
    at = -1
    for _ in range(n):
        at = text.find("\n", at + 1)
    return text[: at + 1]


def _last_lines(text: str, n: int, problems: list[str]) -> str:
    """``text`` from the start of its ``n``-th line from the end (a final line break
    ends the last line)."""
    if text.count("\n") <= n:
        return text
    problems.append(Problem.TRAILERS_TRUNCATED.value)
    at = len(text) - 1 if text.endswith("\n") else len(text)
    for _ in range(n):
        at = text.rfind("\n", 0, at)
    return text[at + 1 :]


def _first_id(value: str) -> str:
    """The first ``<id>`` of a header; a bare id when the brackets are missing."""
    if "<" in value:
        found = message_ids(value)
        if found:
            return found[0]
    parts = value.split()
    return parts[0].strip("<>") if parts else ""


def _list_id(value: str) -> str | None:
    if not value:
        return None
    found = message_ids(value)
    return found[0] if found else value.strip() or None


MAX_INBODY_LINES = 1000
"""Lines of in-body headers read (the corpora's most: 2); the lines after them are
the message (``header-truncated:in-body``). A megabyte of continuation lines was 0.15 s."""


def _inbody_headers(body: str, problems: list[str]) -> tuple[dict[str, str], str]:
    """In-body ``From:``/``Subject:``/``Date:`` lines at the top of the body, as
    ``git mailinfo`` reads them (blank lines before them skipped, one blank line
    after them dropped); returns them and the rest of the body. Read line by line
    from the first of them, not split: the body may be a megabyte of blank lines."""
    # (the blanks above are skipped by lstrip: "\s*" in the expression tried each
    # name again at every blank of a megabyte of them on the way back, 52 ms)
    first = _INBODY_FIRST.match(body, len(body) - len(body.lstrip()))
    if not first:
        return {}, body  # most mails: no line to read
    pos = body.rfind("\n", 0, first.end()) + 1  # its line: those above are blank
    found: dict[str, list[str]] = {}  # each header's pieces, joined once at the end
    last = None
    n = len(body)
    read = 0
    while pos <= n:
        if read == MAX_INBODY_LINES:
            problems.append(Problem.HEADER_TRUNCATED.at("in-body"))
            break
        end = body.find("\n", pos)
        if end < 0:
            end = n
        line = body[pos:end]
        if last is not None and line[:1] in (" ", "\t") and line.strip():
            found[last].append(line.strip())
        else:
            m = _INBODY.match(line)
            if not m:
                break
            last = m.group(1).lower()
            found.setdefault(last, [m.group(2).strip()])
        read += 1
        pos = end + 1
    if not found:
        return {}, body
    if pos <= n:
        end = body.find("\n", pos)
        if not body[pos : n if end < 0 else end].strip():
            pos = n + 1 if end < 0 else end + 1
    return {name: " ".join(pieces) for name, pieces in found.items()}, body[pos:]


def _patch_break(text: str) -> tuple[str, str | None]:
    """Split at the first line ``git mailinfo`` treats as the end of the message: a
    ``---`` line (alone or followed by blanks), ``--- <file>``, ``diff -``, ``Index: ``."""
    m = _PATCH_BREAK.search("\n" + text)
    return (text[: m.start()], text[m.start() :]) if m else (text, None)


def _kind(subject: Subject, text: str, has_diff: bool) -> Kind:
    if subject.is_pull or (
        not subject.is_reply
        and "changes since commit" in text
        and any(marker in text for marker in _PULL_MARKERS)
    ):
        return Kind.PULL if not subject.is_reply else Kind.REPLY
    if subject.is_reply:
        return Kind.REPLY
    if subject.is_cover:
        return Kind.COVER
    if subject.is_patch or has_diff:
        return Kind.PATCH
    return Kind.OTHER


def _notes(text: str) -> str | None:
    """What stands between ``---`` and the diff, less git's diffstat block."""
    if text.startswith("---"):
        end = text.find("\n")
        text = "" if end < 0 else text[end + 1 :]
    notes = _stripspace(_DIFFSTAT_LINES.sub("", "\n" + text)[1:])
    return notes or None


_BLANK_RUN = re.compile(r"\n\n+")


def _stripspace(text: str) -> str:
    """git's stripspace: trailing blanks off each line, runs of blank lines squeezed to
    one, no blank lines at either end, one final newline. (``rstrip`` per line, then one
    substitution: a Python loop per line was 0.3 s for a megabyte of short lines; a
    regular expression for the trailing blanks is 8 times slower on real mail.)"""
    if len(text) < _LONG_TEXT:
        joined = "\n".join([line.rstrip() for line in text.split("\n")]).strip("\n")
    else:  # the same, without a Python step per line: 0.38 s for a megabyte of 2-byte lines
        reverse = _LEADING_BLANKS.sub("\n", _FIRST_BLANKS.sub("", text[::-1], 1))
        joined = reverse[::-1].strip("\n")
    return _BLANK_RUN.sub("\n\n", joined) + "\n" if joined else ""


_LONG_TEXT = 1 << 16
# What ``rstrip`` takes off each line, searched in the reversed text: there each run
# of blanks (other than a line break) to take starts the text or follows a line
# break, and a search that starts with a literal line break skips from one to the next.
_FIRST_BLANKS = re.compile(r"\A[^\S\n]+")
_LEADING_BLANKS = re.compile(r"\n[^\S\n]+")


def _person(person: Person | None) -> dict[str, str] | None:
    return None if person is None else {"name": person.name, "email": person.email}
