"""Raw mail bytes → the headers we need and the decoded text body.

Kernel-list mails carry dozens of ``Received:``/``ARC-*``/``DKIM`` headers that no
record needs, so the fast path finds only the headers patchtrack reads with one
regular expression over the header block, and decodes single-part bodies (7bit, 8bit,
quoted-printable, base64; any charset) itself. Multipart mails go through the
standard library's parser. Nothing here raises on bad input: every oddity becomes a
problem code next to the best text that could be recovered.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.message
import email.policy
import re
from collections.abc import Iterator

import attrs

__all__ = ["Headers", "MailParts", "split_mail"]

WANTED = (
    "from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
    "list-id", "content-type", "content-transfer-encoding", "x-original-from", "reply-to",
)
# Searched over "\n" + header block: a pattern that starts with a literal lets the
# regex engine skip from line break to line break (three times faster than ``^`` in
# MULTILINE mode, which tries every position of the ~5 KB of Received/ARC headers),
# and a look at the next character rules out most lines before the names are tried.
_FIRST_LETTERS = sorted({c for w in WANTED for c in (w[0], w[0].upper())})
_HEADER = re.compile(
    rb"\n(?=[" + "".join(_FIRST_LETTERS).encode() + rb"])((?i:" + b"|".join(w.encode() for w in WANTED)
    + rb"))[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)"
)
_BLANK_LINE = re.compile(rb"\n\r?\n")
_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_TEXT_PARTS = ("text/plain", "text/x-patch", "text/x-diff", "text/x-log", "text/x-csrc", "text/x-chdr")

Headers = dict[str, list[str]]
"""Lower-cased header name → every value, unfolded, in order."""


@attrs.frozen
class MailParts:
    """What the message stage builds on: headers, decoded body text, and problems."""

    headers: Headers
    body: str
    problems: tuple[str, ...]


def split_mail(raw: bytes) -> MailParts:
    """Read ``raw`` into headers and decoded body text. Never raises."""
    problems: list[str] = []
    if raw.startswith(b"From ") and b"\n" in raw:  # an mbox separator line
        raw = raw[raw.index(b"\n") + 1 :]
    if b"\0" in raw:
        problems.append("nul-bytes")
        raw = raw.replace(b"\0", b"")
    head, body = _split_at_blank_line(raw)
    if body is None:
        problems.append("no-body")
        body = b""
    headers = _read_headers(head, problems)
    ctype, params = content_type(first(headers, "content-type"))
    if ctype.startswith("multipart/"):
        texts = _fast_multipart(body, params, problems)
        text = _join(texts) if texts is not None else _stdlib_multipart_text(raw, problems)
        if texts == []:
            problems.append("no-text-part")
    elif ctype == "message/rfc822":
        text = _stdlib_multipart_text(raw, problems)
    else:
        if ctype not in _TEXT_PARTS and not ctype.startswith("text/"):
            problems.append("not-text")
        cte = first(headers, "content-transfer-encoding").strip().lower()
        text = decode_text(body, cte, params.get("charset"), problems)
        if params.get("format", "").lower() == "flowed":
            text = unflow(text, params.get("delsp", "").lower() == "yes")
    return MailParts(headers, text, tuple(dict.fromkeys(problems)))


def _split_at_blank_line(raw: bytes) -> tuple[bytes, bytes | None]:
    """Headers and body, split at the first empty line (LF or CRLF endings)."""
    found = _BLANK_LINE.search(raw)  # one regex scan: bytes.find of "\n\n" is slower
    if found is not None:
        at = found.start()
        if found.end() - at == 2:  # "\n\n", and no CRLF blank line before it
            return raw[:at], raw[at + 2 :]
        if at and raw[at - 1] == 0x0D:  # "\r\n\r\n"
            return raw[: at - 1], raw[at + 3 :]
    # A "\n\r\n" first (LF headers, CRLF blank line) or no blank line at all.
    lf = raw.find(b"\n\n")
    crlf = raw.find(b"\r\n\r\n", 0, None if lf == -1 else lf + 2)
    if crlf != -1:
        return raw[:crlf], raw[crlf + 4 :]
    if lf != -1:
        return raw[:lf], raw[lf + 2 :]
    mixed = raw.find(b"\n\r\n")
    if mixed != -1:
        return raw[:mixed], raw[mixed + 3 :]
    return raw, None


def first(headers: Headers, name: str) -> str:
    """The first value of header ``name``, or ``""``."""
    values = headers.get(name)
    return values[0] if values else ""


def content_type(value: str) -> tuple[str, dict[str, str]]:
    """``text/plain; charset="utf-8"`` → ``("text/plain", {"charset": "utf-8"})``."""
    main, _, rest = value.partition(";")
    params = {}
    for key, val in _PARAM.findall(";" + rest):
        params[key.lower()] = val[1:-1].replace('\\"', '"') if val.startswith('"') else val
    return (main.strip().lower() or "text/plain"), params


def decode_text(data: bytes, cte: str, charset: str | None, problems: list[str]) -> str:
    """Undo the transfer encoding, then the charset; record what went wrong."""
    return decode_charset(undo_transfer_encoding(data, cte, problems), charset, problems)


def undo_transfer_encoding(data: bytes, cte: str, problems: list[str]) -> bytes:
    """Bytes of a body after its Content-Transfer-Encoding is undone."""
    if cte == "base64":
        try:
            data = binascii.a2b_base64(data)
        except binascii.Error:
            problems.append("bad-base64")
            data = _lenient_base64(data)
    elif cte == "quoted-printable":
        data = binascii.a2b_qp(data)
    elif cte not in ("", "7bit", "8bit", "binary") and not cte.startswith("x-"):
        problems.append("unknown-transfer-encoding")
    return data


def decode_charset(data: bytes, charset: str | None, problems: list[str]) -> str:
    """Decode with the declared charset; mails that lie about it are read as UTF-8."""
    name = (charset or "").strip().strip('"').lower()
    if name in ("", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown"):
        try:
            text = data.decode("utf-8")
            if name in ("us-ascii", "ascii") and not data.isascii():
                problems.append("charset-mismatch")
            return text
        except UnicodeDecodeError:
            if name in ("utf-8", "utf8"):
                problems.append("bad-utf8")
            elif name in ("us-ascii", "ascii"):
                problems.append("charset-mismatch")
            else:
                problems.append("missing-charset")
            return data.decode("utf-8", "replace") if name in ("utf-8", "utf8") else data.decode("latin-1")
    try:
        codecs.lookup(name)
    except LookupError:
        problems.append("unknown-charset")
        return data.decode("utf-8", "replace")
    try:
        return data.decode(name)
    except UnicodeDecodeError:
        try:
            text = data.decode("utf-8")
            problems.append("charset-mismatch")
            return text
        except UnicodeDecodeError:
            problems.append("bad-charset")
            return data.decode(name, "replace")


def unflow(text: str, delsp: bool) -> str:
    """Undo ``format=flowed`` (RFC 3676): a line ending in a space continues on the
    next line of the same quote depth (never across depths: a reply written right
    under a quoted flowed line stays the replier's own line)."""
    out: list[str] = []
    pending: str | None = None
    pending_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if pending is not None and depth != pending_depth:
            out.append(pending)
            pending = None
        if body == "-- " and not depth:  # the signature separator is never flowed
            if pending is not None:
                out.append(pending)
                pending = None
            out.append(body)
            continue
        if pending is None:
            start = line[:depth] + " " if depth else ""
        else:
            start = pending
        if body.endswith(" "):
            pending, pending_depth = start + (body[:-1] if delsp else body), depth
        else:
            out.append(start + body)
            pending = None
    if pending is not None:
        out.append(pending)
    return "\n".join(out)


def _read_headers(head: bytes, problems: list[str]) -> Headers:
    headers: Headers = {}
    for name, value in _HEADER.findall(b"\n" + head):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("header-not-utf8")
            text = value.decode("latin-1")
        text = " ".join(text.split())
        headers.setdefault(name.decode().lower(), []).append(text)
    return headers


def _lenient_base64(data: bytes) -> bytes:
    """Decode what can be decoded of broken base64, line by line."""
    out = []
    for line in data.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            out.append(binascii.a2b_base64(line + b"=" * (-len(line) % 4)))
        except binascii.Error:
            continue
    return b"".join(out)


def _fast_multipart(body: bytes, params: dict[str, str], problems: list[str], depth: int = 0) -> list[str] | None:
    """The text parts of a multipart body, split by hand at its boundaries.

    Kernel mail is mostly ``multipart/signed`` or ``mixed`` with a text part and a
    patch attachment; splitting those here is several times faster than the
    standard library's feed parser. Anything unusual (no boundary, no closing
    delimiter, a forwarded message, deep nesting) returns ``None`` and the standard
    library parses the whole mail instead. ``tests/test_mime.py`` checks that both
    give the same text on every multipart mail of the corpora.
    """
    boundary = params.get("boundary")
    if not boundary or depth > 8:
        return None
    parts = _split_parts(body, b"--" + boundary.encode("utf-8", "replace"))
    if parts is None:
        return None
    texts: list[str] = []
    for part in parts:
        head, payload = _split_at_blank_line(part)
        if payload is None:
            head, payload = part, b""
        part_headers = _read_headers(head, problems)
        ctype, part_params = content_type(first(part_headers, "content-type"))
        if ctype.startswith("multipart/"):
            inner = _fast_multipart(payload, part_params, problems, depth + 1)
            if inner is None:
                return None
            texts += inner
            continue
        if ctype == "message/rfc822":
            return None
        cte = first(part_headers, "content-transfer-encoding").strip().lower()
        text = _leaf_text(ctype, part_params, undo_transfer_encoding(payload, cte, problems), problems)
        if text is not None:
            texts.append(_as_git_reads(text, cte))
    return texts


def _split_parts(body: bytes, delimiter: bytes) -> list[bytes] | None:
    """Parts between ``--boundary`` lines, up to ``--boundary--``; None without one."""
    starts = []
    pos = 0 if body.startswith(delimiter) else body.find(b"\n" + delimiter)
    while pos != -1:
        at = pos if pos == 0 and body.startswith(delimiter) else pos + 1
        line_end = body.find(b"\n", at)
        line = body[at : line_end if line_end != -1 else len(body)]
        rest = line[len(delimiter) :].rstrip()
        if rest == b"--":
            starts.append((at, -1))
            break
        if not rest:
            starts.append((at, line_end + 1 if line_end != -1 else len(body)))
        pos = body.find(b"\n" + delimiter, at + len(delimiter))
    if not starts or starts[-1][1] != -1 or len(starts) < 2:
        return None
    parts = []
    for (_, begin), (end, _) in zip(starts, starts[1:]):
        chunk = body[begin : max(begin, end - 1)]
        parts.append(chunk[:-1] if chunk.endswith(b"\r") else chunk)
    return parts


def _leaf_text(ctype: str, params: dict[str, str], payload: bytes, problems: list[str]) -> str | None:
    """The text of one leaf part, or None for parts that are not read (HTML, images…).

    Text parts are read, and so are other parts holding a UTF-8 diff: mailers send
    patches as ``application/octet-stream``, and ``git am`` applies them.
    """
    if ctype == "text/html":
        return None
    if ctype not in _TEXT_PARTS and not _is_patch_attachment(payload):
        return None
    text = decode_charset(payload, params.get("charset"), problems)
    if params.get("format", "").lower() == "flowed":
        text = unflow(text, params.get("delsp", "").lower() == "yes")
    return text


def _as_git_reads(text: str, cte: str) -> str:
    """A part's text as ``git mailinfo`` sees it: it reads parts line by line up to
    the boundary, so the line break before a boundary (which MIME gives to the
    boundary) stays in the text — except in base64 parts, where it is not data."""
    if cte == "base64":
        return text if not text or text.endswith("\n") else text + "\n"
    return text + "\n"


def _join(texts: list[str]) -> str:
    """Text parts one after the other, ending in a newline; empty parts vanish."""
    joined = "".join(t for t in texts if t.strip())
    return joined if not joined or joined.endswith("\n") else joined + "\n"


def _stdlib_multipart_text(raw: bytes, problems: list[str]) -> str:
    """The text parts of any MIME mail, through the standard library's parser."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception:  # noqa: BLE001 - the stdlib parser is the fallback for odd mail
        problems.append("bad-mime")
        return ""
    texts = []
    for part in _parts(msg):
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        if part.defects:
            problems.append("bad-mime")
        params = {k.lower(): str(v) for k, v in (part.get_params() or [])[1:] if isinstance(v, str)}
        text = _leaf_text(part.get_content_type(), params, payload, problems)
        if text is not None:
            texts.append(_as_git_reads(text, str(part.get("content-transfer-encoding", "")).strip().lower()))
    if not texts:
        problems.append("no-text-part")
    return _join(texts)


_DIFF_LINE = re.compile(rb"^(?:diff -|Index: |--- \S)", re.MULTILINE)


def _is_patch_attachment(payload: bytes) -> bool:
    if not _DIFF_LINE.search(payload):
        return False
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parts(msg: email.message.Message) -> Iterator[email.message.Message]:
    try:
        yield from msg.walk()
    except Exception:  # noqa: BLE001 - deeply broken structure: keep what was walked
        return
