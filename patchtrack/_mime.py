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
import email.base64mime
import email.charset
import email.message
import email.policy
import email.quoprimime
import functools
import re
from collections.abc import Iterator

import attrs

from .vocab import Problem

__all__ = ["Headers", "MailParts", "decode_words", "header_value", "split_mail", "text_codec"]

_LONE_SURROGATE = Problem.LONE_SURROGATE.value  # passed on every decode that may give one: looked up once

WANTED = (
    "from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
    "list-id", "content-type", "content-transfer-encoding", "x-original-from", "reply-to",
)
# Searched over "\n" + header block: a pattern that starts with a literal lets the
# regex engine skip from line break to line break (three times faster than ``^`` in
# MULTILINE mode, which tries every position of the ~5 KB of Received/ARC headers),
# and a look at the next character rules out most lines before the names are tried.
_FIRST_LETTERS = sorted({c for w in WANTED for c in (w[0], w[0].upper())})
MAX_FOLDED = 4096
"""Continuation lines of one header read (``header-truncated:<name>`` past them; the
corpora's most: 298): a record keeps at most 64 KiB of a value, and each line is a
step of the expression."""
_VALUE = rb"[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*){0,%d})" % MAX_FOLDED
_HEADER = re.compile(
    rb"\n(?=[" + "".join(_FIRST_LETTERS).encode() + rb"])((?i:" + b"|".join(w.encode() for w in WANTED) + rb"))" + _VALUE
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
        problems.append(Problem.NUL_BYTES.value)
        raw = raw.replace(b"\0", b"")
    head, body = _split_at_blank_line(raw)
    if body is None:
        problems.append(Problem.NO_BODY.value)
        body = b""
    headers = _read_headers(head, problems)
    ctype, params = content_type(first(headers, "content-type"), problems)
    if ctype.startswith("multipart/") or ctype == "message/rfc822":
        text = _structured_text(raw, body, ctype, params, problems)
    else:
        if ctype not in _TEXT_PARTS and not ctype.startswith("text/"):
            problems.append(Problem.NOT_TEXT.value)
        cte = first(headers, "content-transfer-encoding").strip().lower()
        text = decode_text(body, cte, params.get("charset"), problems)
        if params.get("format", "").lower() == "flowed":
            text = unflow(text, params.get("delsp", "").lower() == "yes", problems)
    return MailParts(headers, text, tuple(dict.fromkeys(problems)))


def header_value(raw: bytes, name: str) -> str:
    """The first value of header ``name`` (lower case, one of :data:`WANTED`) of the
    mail ``raw``, read as :func:`split_mail` reads it, without reading the other
    headers or the body; ``""`` when absent."""
    if raw.startswith(b"From ") and b"\n" in raw:
        raw = raw[raw.index(b"\n") + 1 :]
    if b"\0" in raw:
        raw = raw.replace(b"\0", b"")
    head, _ = _split_at_blank_line(raw)
    found = _headers_named((name,)).search(b"\n" + head)  # the first, as _read_headers keeps it
    if found is None:
        return ""
    try:
        text = found[2].decode("utf-8")
    except UnicodeDecodeError:
        text = found[2].decode("latin-1")
    return " ".join(text.split())


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


MAX_CONTENT_TYPE = 4096
"""Characters of a ``Content-Type`` value read (a boundary has at most 70; the value is
cut, ``header-truncated:content-type``): each parameter is a Python step, and a
megabyte of ``; a=b`` is 170,000 of them."""


def content_type(value: str, problems: list[str] | None = None) -> tuple[str, dict[str, str]]:
    """``text/plain; charset="utf-8"`` → ``("text/plain", {"charset": "utf-8"})``."""
    if len(value) > MAX_CONTENT_TYPE:
        value = value[:MAX_CONTENT_TYPE]
        if problems is not None:
            problems.append(Problem.HEADER_TRUNCATED.at("content-type"))
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
            problems.append(Problem.BAD_BASE64.value)
            data = _lenient_base64(data)
    elif cte == "quoted-printable":
        data = binascii.a2b_qp(data)
    elif cte not in ("", "7bit", "8bit", "binary") and not cte.startswith("x-"):
        problems.append(Problem.UNKNOWN_TRANSFER_ENCODING.value)
    return data


def decode_charset(data: bytes, charset: str | None, problems: list[str]) -> str:
    """Decode with the declared charset; mails that lie about it are read as UTF-8."""
    name = (charset or "").strip().strip('"').lower()
    if name in ("", "us-ascii", "ascii", "utf-8", "utf8", "unknown-8bit", "x-unknown"):
        try:
            text = data.decode("utf-8")
            if name in ("us-ascii", "ascii") and not data.isascii():
                problems.append(Problem.CHARSET_MISMATCH.value)
            return text
        except UnicodeDecodeError:
            if name in ("utf-8", "utf8"):
                problems.append(Problem.BAD_UTF8.value)
            elif name in ("us-ascii", "ascii"):
                problems.append(Problem.CHARSET_MISMATCH.value)
            else:
                problems.append(Problem.MISSING_CHARSET.value)
            return data.decode("utf-8", "replace") if name in ("utf-8", "utf8") else data.decode("latin-1")
    codec = text_codec(name)
    if codec is None:
        problems.append(Problem.UNKNOWN_CHARSET.value)
        return data.decode("utf-8", "replace")
    found = _decoded(data, codec)
    if found is None:
        try:
            found = data.decode("utf-8")
            problems.append(Problem.CHARSET_MISMATCH.value)
            return found
        except UnicodeDecodeError:
            problems.append(Problem.BAD_CHARSET.value)
            found = _decoded(data, codec, "replace")
            if found is None:
                return data.decode("utf-8", "replace")
    return no_surrogates(found, problems, _LONE_SURROGATE) if _may_give_surrogates(codec) else found


@functools.lru_cache(maxsize=256)
def _may_give_surrogates(codec: str) -> bool:
    """Whether decoding with ``codec`` can give lone surrogates: UTF-7 can; the standard
    library's other text codecs cannot (they refuse what they cannot map), so their
    output is not searched (55–80 µs for 10 KB); another package's codec might."""
    if codec == "utf-7":
        return True
    module = getattr(codecs.lookup(codec).decode, "__module__", None)
    return not (module is None or module == "_codecs" or module.startswith("encodings."))


# Text encodings to Python that name no character set mail is written in: the IDNA
# transforms (punycode decodes in quadratic time: 1.3 s for 80 KB), ``undefined``,
# which refuses everything, and Python's escape codecs (which warn on bad escapes).
_NOT_MAIL_CHARSETS = frozenset({"idna", "punycode", "undefined", "unicode-escape", "raw-unicode-escape"})


@functools.lru_cache(maxsize=256)
def text_codec(name: str) -> str | None:
    """The codec that decodes charset ``name``, or ``None`` when Python has no text
    encoding by that name: unknown names, and the bytes-to-bytes codecs (``hex``,
    ``rot13``, ``base64``, ``zlib``…) that ``bytes.decode`` refuses."""
    try:
        info = codecs.lookup(name)
    except Exception:  # noqa: BLE001 - LookupError, or a name the registry cannot even normalise
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_MAIL_CHARSETS:
        return None
    return info.name


def _decoded(data: bytes, codec: str, errors: str = "strict") -> str | None:
    """``data`` decoded, or None when the codec refuses it. A codec is code: what it
    raises on input it rejects is its own affair (``idna`` raises ``UnicodeError``,
    not ``UnicodeDecodeError``), so anything it raises is a refusal."""
    try:
        return data.decode(codec, errors)
    except Exception:  # noqa: BLE001 - see above
        return None


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def no_surrogates(text: str, problems: list[str], problem: str) -> str:
    """``text`` with lone surrogates (which UTF-7 and ``unicode_escape`` decode to, and
    no output can encode) replaced by U+FFFD, and ``problem`` recorded if there were any."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    problems.append(problem)
    return _SURROGATE.sub("\ufffd", text)


_QUOTE_STUFFED = re.compile(r"^(>+) ?", re.MULTILINE)
_FLOWED_BREAK = re.compile(r"(?<!^--) \n(?!-- (?:\n|\Z))", re.MULTILINE)
"""A line ending in a space, other than the signature ``-- ``, over a line that is not
the signature: the line break that ``format=flowed`` removes."""
_FLOWED_SPACE = re.compile(r"(?<!^--) (?=\n-- (?:\n|\Z)|\Z)", re.MULTILINE)
"""With ``DelSp=yes``, the trailing space of a flowed line that joins nothing."""


def unflow(text: str, delsp: bool, problems: list[str] | None = None) -> str:
    """Undo ``format=flowed`` (RFC 3676): a line ending in a space continues on the
    next line of the same quote depth (never across depths: a reply written right
    under a quoted flowed line stays the replier's own line).

    Two common texts are read by substitutions, without a Python step per line (a
    megabyte of ``a`` lines took 0.4 s): no line ends in a space (only the
    space-stuffing goes, and quote marks are followed by one space), or no line is
    quoted (every flowed line joins the next, unless one of them is the signature)."""
    if not text.endswith(" ") and " \n" not in text:
        return _unstuffed(_QUOTE_STUFFED.sub(r"\1 ", text) if ">" in text else text)
    if not text.startswith(">") and "\n>" not in text:
        text = _unstuffed(text)
        if not text.startswith("-- ") and "\n-- " not in text:  # no signature line
            if delsp:
                return text.replace(" \n", "")[:-1] if text.endswith(" ") else text.replace(" \n", "")
            return text.replace(" \n", " ")
        if delsp:
            return _FLOWED_BREAK.sub("", _FLOWED_SPACE.sub("", text))
        return _FLOWED_BREAK.sub(" ", text)
    if text.count("\n") > MAX_FLOWED_LINES:
        if problems is not None:
            problems.append(Problem.FLOWED_TRUNCATED.value)
        cut = _nth_line(text, MAX_FLOWED_LINES)
        return _unflow_lines(text[:cut], delsp) + text[cut:]
    return _unflow_lines(text, delsp)


MAX_FLOWED_LINES = 10_000
"""Lines of a ``format=flowed`` text with quoted lines that are unflowed one by one
(~0.6 µs each; the corpora's longest flowed text has 3,049 lines): the rest is left
as sent (flagged ``flowed-truncated`` by :func:`_leaf_text`)."""


def _nth_line(text: str, n: int) -> int:
    """Offset of the line break ending the ``n``-th line of ``text`` (it has more)."""
    at = -1
    for _ in range(n):
        at = text.find("\n", at + 1)
    return at


def _unstuffed(text: str) -> str:
    """``text`` less one space at the start of each line (RFC 3676 space-stuffing)."""
    text = text.replace("\n ", "\n")
    return text[1:] if text.startswith(" ") else text


def _unflow_lines(text: str, delsp: bool) -> str:
    """:func:`unflow`, a line at a time."""
    out: list[str] = []
    pending: list[str] | None = None  # the pieces of a flowed paragraph, joined once at its end
    pending_depth = -1
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        if pending is not None and depth != pending_depth:
            out.append("".join(pending))
            pending = None
        if body == "-- " and not depth:  # the signature separator is never flowed
            if pending is not None:
                out.append("".join(pending))
                pending = None
            out.append(body)
            continue
        if pending is None:
            pieces = [line[:depth] + " "] if depth else []
        else:
            pieces = pending
        if body.endswith(" "):
            pieces.append(body[:-1] if delsp else body)
            pending, pending_depth = pieces, depth
        else:
            pieces.append(body)
            out.append("".join(pieces))
            pending = None
    if pending is not None:
        out.append("".join(pending))
    return "\n".join(out)


MAX_HEADER_LINES = 200
"""Header lines of the names read (:data:`WANTED`) taken one by one: the corpora's
most in a mail is 13, and 3 of one name. Past them only headers of a name not seen yet
are read (that many more at most), and a name seen again is flagged
(``header-truncated:<name>``): each line kept costs ~1 µs of Python, and
:data:`MAX_HEADER` of a value is all a record keeps anyway. 5,000 ``Date:`` lines
(200 KB) took 5.0 ms with 1,000 of them read one by one and the rest searched once per
name; 1.9 ms with 200 and a flood passed over in one search. Such floods were 40 % of
the fuzz campaign's mails over 5 ms."""


def _read_headers(head: bytes, problems: list[str]) -> Headers:
    headers: Headers = {}
    for name, value in _header_lines(b"\n" + head, problems):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(Problem.HEADER_NOT_UTF8.value)
            text = value.decode("latin-1")
        if len(text) > MAX_FOLDED and text.count("\n") >= MAX_FOLDED:
            problems.append(Problem.HEADER_TRUNCATED.at(name.decode().lower()))
        text = " ".join(text.split())
        headers.setdefault(name.decode().lower(), []).append(text)
    return headers


_ONE_CALL = 16384
"""A header block this long or shorter (the corpora's median is about 4 KB) is read by
one ``findall``: 3 µs a mail less than a match at a time, and at most ~4,000 lines."""


def _header_lines(data: bytes, problems: list[str]) -> list[tuple[bytes, bytes]]:
    """(name, value) of the headers of :data:`WANTED` names in ``data`` (a header
    block after a line break): the first :data:`MAX_HEADER_LINES`, then
    :func:`_later_headers`."""
    if len(data) <= _ONE_CALL:
        found: list[tuple[bytes, bytes]] = _HEADER.findall(data)
        if len(found) <= MAX_HEADER_LINES:
            return found
    found = []
    for match in _HEADER.finditer(data):
        if len(found) == MAX_HEADER_LINES:
            return found + _later_headers(data, match.start(), found, problems)
        found.append((match[1], match[2]))
    return found


def _later_headers(data: bytes, at: int, found: list[tuple[bytes, bytes]], problems: list[str]) -> list[tuple[bytes, bytes]]:
    """The headers from offset ``at`` of ``data`` on, past the :data:`MAX_HEADER_LINES`
    ``found`` before it: those of names not among them (at most that many again); a
    name seen again is flagged (``header-truncated:<name>``) and no longer searched
    for, so the rest of a flood is passed over in one search, not a step a line."""
    seen = {name.decode().lower() for name, _ in found}
    kept: list[tuple[bytes, bytes]] = []
    wanted: tuple[str, ...] = WANTED
    while wanted:
        match = _headers_named(wanted).search(data, at)
        if match is None:
            break
        name = match[1].decode().lower()
        if name in seen:
            problems.append(Problem.HEADER_TRUNCATED.at(name))
            wanted = tuple(w for w in wanted if w != name)
        else:
            kept.append((match[1], match[2]))
            if len(kept) == MAX_HEADER_LINES:
                seen.update(n.decode().lower() for n, _ in kept)
        at = match.end()
    return kept


@functools.lru_cache(maxsize=64)
def _headers_named(names: tuple[str, ...]) -> re.Pattern[bytes]:
    """:data:`_HEADER` for only these names."""
    return re.compile(rb"\n((?i:" + b"|".join(w.encode() for w in names) + rb"))" + _VALUE)


MAX_LENIENT_LINES = 20_000
"""Lines of broken base64 decoded one by one (an attachment of a megabyte has ~14,000
lines of 76 characters): a line costs ~1 µs of Python, and a megabyte of short lines
is 270,000 of them (0.25 s). The lines past it are decoded in one call, every byte
outside the base64 alphabet dropped (the mail is already ``bad-base64``)."""
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")))


def _lenient_base64(data: bytes) -> bytes:
    """Decode what can be decoded of broken base64, line by line (the first
    :data:`MAX_LENIENT_LINES`; the rest at once)."""
    out = []
    lines = data.split(b"\n", MAX_LENIENT_LINES)
    rest = lines.pop() if len(lines) > MAX_LENIENT_LINES else b""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            out.append(binascii.a2b_base64(line + b"=" * (-len(line) % 4)))
        except binascii.Error:
            continue
    if rest:
        clean = rest.translate(None, _NOT_BASE64)
        clean = clean[: len(clean) - 1] if len(clean) % 4 == 1 else clean + b"=" * (-len(clean) % 4)
        out.append(binascii.a2b_base64(clean))
    return b"".join(out)


MAX_PARTS = 1000
"""Parts read in one mail (a series sent as attachments has dozens): each costs a few
µs, and a megabyte of bare boundary lines is 200,000 empty parts."""
MAX_DEPTH = 8
"""Multipart and ``message/rfc822`` levels read; deeper ones are skipped (``mime-truncated``)."""
STDLIB_MIME = 1 << 14
"""Largest mail the standard library's parser reads when the fast split declines
(16 KiB: 3 mails of the five corpora, all under 2 KB, are declined): it costs ~5 µs
a line (and more per level of nesting: 0.3 s for 34 KB nested 700 deep), so a
larger mail, or one with more than :data:`MAX_DEPTH` boundaries, is split here
leniently instead (problem ``bad-mime``)."""
_BOUNDARY_PARAM = re.compile(rb"(?i)boundary[ \t]*=")


def _structured_text(raw: bytes, body: bytes, ctype: str, params: dict[str, str], problems: list[str]) -> str:
    """The text of a multipart or ``message/rfc822`` mail: split here, or by the
    standard library when that declines and the mail is small and shallow enough."""
    parts = [MAX_PARTS]
    if ctype == "message/rfc822":
        texts = _fast_message(body, problems, 0, parts, lenient=False)
    else:
        texts = _fast_multipart(body, params, problems, 0, parts)
    if texts is None:
        if len(raw) <= STDLIB_MIME and len(_BOUNDARY_PARAM.findall(raw, 0, STDLIB_MIME)) <= MAX_DEPTH:
            return _stdlib_multipart_text(raw, problems)
        problems.append(Problem.BAD_MIME.value)
        parts = [MAX_PARTS]
        if ctype == "message/rfc822":
            texts = _fast_message(body, problems, 0, parts, lenient=True)
        else:
            texts = _fast_multipart(body, params, problems, 0, parts, lenient=True)
    if not texts:
        problems.append(Problem.NO_TEXT_PART.value)
    return _join(texts or [])


def _fast_multipart(
    body: bytes, params: dict[str, str], problems: list[str], depth: int = 0, parts: list[int] | None = None,
    lenient: bool = False,
) -> list[str] | None:
    """The text parts of a multipart body, split by hand at its boundaries.

    Kernel mail is mostly ``multipart/signed`` or ``mixed`` with a text part and a
    patch attachment; splitting those here is several times faster than the
    standard library's feed parser. Anything unusual (no boundary, no closing
    delimiter) returns ``None`` and the standard library parses the whole mail
    instead — unless ``lenient``, when the end of the body closes the last part.
    ``tests/test_mime.py`` checks that both give the same text on every multipart
    mail of the corpora. ``parts`` is how many more parts may be read (shared by the
    whole mail); levels past :data:`MAX_DEPTH` and parts past the count are skipped.
    """
    if parts is None:
        parts = [MAX_PARTS]
    boundary = params.get("boundary")
    if not boundary:
        return None
    if depth > MAX_DEPTH:
        problems.append(Problem.MIME_TRUNCATED.value)
        return []
    found = _split_parts(body, b"--" + boundary.encode("utf-8", "replace"), lenient, problems)
    if found is None:
        return None
    texts: list[str] = []
    for part in found:
        if parts[0] <= 0:
            problems.append(Problem.MIME_TRUNCATED.value)
            break
        parts[0] -= 1
        head, payload = _split_at_blank_line(part)
        if payload is None:
            head, payload = part, b""
        part_headers = _read_headers(head, problems)
        ctype, part_params = content_type(first(part_headers, "content-type"), problems)
        if ctype.startswith("multipart/"):
            inner = _fast_multipart(payload, part_params, problems, depth + 1, parts, lenient)
        elif ctype == "message/rfc822":
            inner = _fast_message(payload, problems, depth + 1, parts, lenient)
        else:
            cte = first(part_headers, "content-transfer-encoding").strip().lower()
            text = _leaf_text(ctype, part_params, undo_transfer_encoding(payload, cte, problems), problems)
            inner = [] if text is None else [_as_git_reads(text, cte)]
        if inner is None:
            return None
        texts += inner
    return texts


def _fast_message(raw: bytes, problems: list[str], depth: int, parts: list[int], lenient: bool) -> list[str] | None:
    """The text parts of a ``message/rfc822`` part (a forwarded mail), as the
    standard library walks it: the parts of the mail it holds."""
    if depth > MAX_DEPTH:
        problems.append(Problem.MIME_TRUNCATED.value)
        return []
    head, body = _split_at_blank_line(raw)
    headers = _read_headers(head, [])
    ctype, params = content_type(first(headers, "content-type"))
    if ctype.startswith("multipart/"):
        return _fast_multipart(body or b"", params, problems, depth, parts, lenient)
    if ctype == "message/rfc822":
        return _fast_message(body or b"", problems, depth + 1, parts, lenient)
    cte = first(headers, "content-transfer-encoding").strip().lower()
    text = _leaf_text(ctype, params, undo_transfer_encoding(body or b"", cte, problems), problems)
    return [] if text is None else [_as_git_reads(text, cte)]


MAX_DELIMITER_LINES = 10_000
"""Lines starting with a part's boundary read one by one (the corpora have at most 291
lines starting with ``--`` in a mail): past them (or past :data:`MAX_PARTS` parts)
only the closing line is searched for, and a line that merely starts like the
boundary (``--zzz`` for ``zz``) left unread (``mime-truncated``). A megabyte of them
was 0.12–0.4 s."""


def _split_parts(body: bytes, delimiter: bytes, lenient: bool = False, problems: list[str] | None = None) -> list[bytes] | None:
    """Parts between ``--boundary`` lines, up to ``--boundary--``; None without one
    (unless ``lenient``: then the end of the body closes the last part)."""
    starts: list[tuple[int, int]] = []
    pos = 0 if body.startswith(delimiter) else body.find(b"\n" + delimiter)
    lines = 0
    while pos != -1:
        lines += 1
        if len(starts) > MAX_PARTS or lines > MAX_DELIMITER_LINES:  # only the closing line matters now
            if len(starts) <= MAX_PARTS and problems is not None:
                problems.append(Problem.MIME_TRUNCATED.value)
            close = re.compile(re.escape(b"\n" + delimiter + b"--") + rb"[ \t\r\x0b\x0c]*(?:\n|\Z)").search(body, pos)
            if close is not None:
                starts.append((close.start() + 1, -1))
            break
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
    if lenient and starts and starts[-1][1] != -1:
        starts.append((len(body) + 1, -1))
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
        text = unflow(text, params.get("delsp", "").lower() == "yes", problems)
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
        problems.append(Problem.BAD_MIME.value)
        return ""
    texts = []
    for part in _parts(msg):
        try:
            text = _stdlib_leaf(part, problems)
        except Exception:  # noqa: BLE001 - one broken part costs that part, not the mail
            problems.append(Problem.BAD_MIME.value)
            continue
        if text is not None:
            texts.append(text)
    if not texts:
        problems.append(Problem.NO_TEXT_PART.value)
    return _join(texts)


def _stdlib_leaf(part: email.message.Message, problems: list[str]) -> str | None:
    """The text of one part the standard library parsed, or None (not a text leaf)."""
    if part.is_multipart():
        return None
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    if part.defects:
        problems.append(Problem.BAD_MIME.value)
    params = {k.lower(): str(v) for k, v in (part.get_params() or [])[1:] if isinstance(v, str)}
    text = _leaf_text(part.get_content_type(), params, payload, problems)
    if text is None:
        return None
    return _as_git_reads(text, str(part.get("content-transfer-encoding", "")).strip().lower())


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


# --- RFC 2047 encoded words in headers -------------------------------------------------

MAX_WORDS_TEXT = 1 << 16
"""Most text :func:`decode_words` decodes (64 KiB; the longest header value of the
five corpora is 8.5 KB). Decoding costs a few µs per encoded word, so a megabyte of
tiny words would cost a quarter of a second; what lies beyond is kept as written."""


def decode_words(text: str) -> tuple[str, tuple[str, ...]]:
    """Decode the RFC 2047 encoded words of a header value, in time linear in its length.

    Returns the text and what went wrong: ``bad-encoded-word`` (a word in a charset
    that is unknown or no text encoding, broken base64, or bytes its charset does not
    decode), ``lone-surrogate`` (a decoder such as UTF-7 produced one: replaced by
    U+FFFD), ``header-truncated`` (only the first :data:`MAX_WORDS_TEXT` characters decoded).

    The result is the standard library's ``str(make_header(decode_header(text)))``
    wherever that succeeds (:func:`_as_stdlib`: the same rules, read without its
    quadratic joins); where it would raise — a mislabelled charset, raw 8-bit text
    beside an encoded word — each word is decoded on its own: its charset, else
    UTF-8, else Latin-1, the blanks between adjacent words dropped.
    """
    issues: list[str] = []
    rest = ""
    if len(text) > MAX_WORDS_TEXT:
        text, rest = text[:MAX_WORDS_TEXT], text[MAX_WORDS_TEXT:]
        issues.append(Problem.HEADER_TRUNCATED.value)
    decoded = _as_stdlib(text)
    if decoded is None:
        decoded = _ENCODED_WORD.sub(lambda m: _word(m, issues), _BETWEEN_WORDS.sub("", text))
    return no_surrogates(decoded, issues, _LONE_SURROGATE) + rest, tuple(dict.fromkeys(issues))


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t]+(?==\?[^?\s]+\?[bBqQ]\?)")  # RFC 2047: ignored


def _word(match: re.Match[str], issues: list[str]) -> str:
    """One encoded word on its own: its charset, else UTF-8, else Latin-1; kept as
    written when its base64 is broken."""
    charset, encoding, encoded = match.groups()
    data = _word_bytes(encoding.lower(), encoded)
    if data is None:
        issues.append(Problem.BAD_ENCODED_WORD.value)
        return match.group(0)
    codec = text_codec(charset.lower())
    text = _decoded(data, codec) if codec is not None else None
    if text is None:
        issues.append(Problem.BAD_ENCODED_WORD.value)
        text = _decoded(data, "utf-8")
    return text if text is not None else data.decode("latin-1")


def _word_bytes(encoding: str, encoded: str) -> bytes | None:
    """The bytes of an encoded word's text, as ``email.header.decode_header`` reads
    them (missing base64 padding added); None for base64 that does not decode."""
    if encoding == "q":
        return bytes(email.quoprimime.header_decode(encoded), "raw-unicode-escape")
    if len(encoded) % 4:
        encoded += "==="[: 4 - len(encoded) % 4]
    try:
        return email.base64mime.decode(encoded)
    except binascii.Error:
        return None


def _scan_words(line: str) -> Iterator[tuple[int, int, str, str, str]]:
    """``(start, end, charset, encoding, text)`` of each encoded word ``re.split`` with
    the standard library's ``email.header.ecre`` finds in ``line`` (which holds no line
    break), found with ``str.find`` in linear time: that expression retries its lazy
    ``.*?\\?=`` from every ``=?cs?q?`` and is quadratic on text without ``?=``."""
    at = line.find("=?")
    while at >= 0:
        mark = line.find("?", at + 2)  # the charset is everything up to the next "?"
        if mark < 0:
            return  # and no later "=?" has a "?" after it either
        if line[mark + 1 : mark + 2] in ("q", "Q", "b", "B") and line[mark + 2 : mark + 3] == "?":
            close = line.find("?=", mark + 3)
            if close < 0:
                return
            yield at, close + 2, line[at + 2 : mark], line[mark + 1], line[mark + 3 : close]
            at = line.find("=?", close + 2)
        else:
            at = line.find("=?", at + 1)


def _has_word(text: str) -> bool:
    """Whether ``email.header.ecre`` finds a word anywhere in ``text``, where (unlike
    in one line) a charset may span a line break, though the encoded text may not."""
    if "\n" not in text:
        return next(_scan_words(text), None) is not None
    # A word is a "?" + q/b + "?" whose previous "?" follows a "=", with a "?=" after
    # it before the next line break; once a line has no "?=" left, skip to its end.
    last = -1
    at = text.find("?")
    while at >= 0:
        if last >= 1 and text[last - 1] == "=" and text[at + 1 : at + 2] in ("q", "Q", "b", "B") and (
            text[at + 2 : at + 3] == "?"
        ):
            end = text.find("\n", at + 3)
            if text.find("?=", at + 3, len(text) if end < 0 else end) >= 0:
                return True
            if end < 0:
                return False
            last, at = text.rfind("?", 0, end), text.find("?", end)
            continue
        last, at = at, text.find("?", at + 1)
    return False


@functools.lru_cache(maxsize=64)
def _charset(name: str) -> email.charset.Charset | None:
    try:
        return email.charset.Charset(name)
    except Exception:  # noqa: BLE001 - CharsetError: a name that is not ASCII
        return None


def _as_stdlib(text: str) -> str | None:
    """``str(make_header(decode_header(text)))``, or None where that raises (or would
    use a charset :func:`text_codec` refuses). The standard library's steps, each in
    linear time: split into unencoded text and encoded words per line (the first text
    of a line left-stripped), drop blanks between two encoded words, decode each word,
    join neighbours of one charset (unencoded ones with a space), decode each run in
    its charset, then join the runs, with a space between an encoded run and
    unencoded text that does not already have one."""
    if not _has_word(text):
        return text
    words: list[tuple[str, str | None, str | None]] = []  # (text, encoding, charset)
    for line in text.splitlines():
        pos = 0
        for start, end, cs, encoding, encoded in _scan_words(line):
            before = line[pos:start] if pos else line[:start].lstrip()
            if before:
                words.append((before, None, None))
            words.append((encoded, encoding.lower(), cs.lower()))
            pos = end
        after = line[pos:] if pos else line.lstrip()
        if after:
            words.append((after, None, None))
    kept = [
        w for n, w in enumerate(words)
        if not (0 < n < len(words) - 1 and words[n - 1][1] and words[n + 1][1] and w[0].isspace())
    ]
    runs: list[tuple[list[bytes], str | None]] = []
    for piece, how, label in kept:
        word = _word_bytes(how, piece) if how else bytes(piece, "raw-unicode-escape")
        if word is None:
            return None
        if runs and runs[-1][1] == label:
            if label is None:
                runs[-1][0].append(b" ")
            runs[-1][0].append(word)
        else:
            runs.append(([word], label))
    if not runs:
        return None  # decode_header gives [(None, None)], which make_header cannot take
    chunks: list[tuple[list[str], str]] = []  # (texts, charset name), as Header holds them
    for pieces, label in runs:
        charset = _charset("us-ascii" if label is None else label)
        if charset is None or str(charset) == "none":
            return None
        chunk = _chunk(b"".join(pieces), charset.input_codec or "us-ascii")
        if chunk is None:
            return None
        out = charset.output_codec or "us-ascii"
        name = str(charset)
        if out != email.charset.UNKNOWN8BIT:
            try:
                chunk.encode(out)
            except UnicodeEncodeError:
                if out != "us-ascii":
                    return None
                name = "utf-8"
            except Exception:  # noqa: BLE001 - an output codec the registry refuses
                return None
        if chunks and chunks[-1][1] == name:
            chunks[-1][0].append(chunk)  # Header._normalize joins these with spaces
        else:
            chunks.append(([chunk], name))
    return _header_str([(" ".join(texts), cs) for texts, cs in chunks])


def _chunk(data: bytes, codec: str) -> str | None:
    """A run's text as ``Header.append`` decodes it (None where that raises)."""
    if codec == email.charset.UNKNOWN8BIT:
        return data.decode("us-ascii", "surrogateescape")
    found = text_codec(codec)
    return _decoded(data, found) if found is not None else None


def _header_str(chunks: list[tuple[str, str]]) -> str:
    """``str(Header)`` of normalised chunks: a space between an encoded run and
    us-ascii text that does not begin or end with a blank (or a parenthesis)."""
    out: list[str] = []
    last: str | None = None
    last_space = False
    for chunk, name in chunks:
        cs: str | None = name
        if cs == email.charset.UNKNOWN8BIT:
            chunk = chunk.encode("ascii", "surrogateescape").decode("ascii", "replace")
        if out:
            has_space = bool(chunk) and _nonctext(chunk[0])
            if last not in (None, "us-ascii"):
                if cs in (None, "us-ascii") and not has_space:
                    out.append(" ")
                    cs = None
            elif cs not in (None, "us-ascii") and not last_space:
                out.append(" ")
        last_space = bool(chunk) and _nonctext(chunk[-1])
        last = cs
        out.append(chunk)
    return "".join(out)


def _nonctext(char: str) -> bool:
    return char.isspace() or char in ("(", ")", "\\")
