"""The trailer grammar: ``Key: value`` lines → typed :class:`Trailer` records.

Two readers, for the two places trailers live:

* :func:`parse_trailers` reads the trailer block of a commit message exactly as ``git
  interpret-trailers --parse`` does (git's ``trailer.c``, default configuration): the
  last paragraph, accepted when it is all trailers or holds a git-generated line
  (``Signed-off-by: ``, ``(cherry picked from commit ``) and is at least 25 %
  trailers; indented lines continue a trailer; ``---`` ends the message; ``#`` lines
  are comments.
* :func:`find_reply_trailers` finds the trailers a reviewer gave in a reply
  (``Reviewed-by: Name <addr>`` anywhere in the unquoted text), the way b4 collects
  follow-up trailers, without its known false positives.

Each trailer then splits into the value and an optional comment (``# 6.9+``, or a
``[for the DT part]`` after an address), the person it names, and for ``Fixes:``,
``Cc: stable`` and ``Link:``/``Closes:`` a small record of its own
(:func:`fixes_of`, :func:`stable_requests`, :func:`links_of`). docs/trailers.md has
the rules, the reasons and the corpus figures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from urllib.parse import unquote

import attrs

from .identity import Person, StdlibBudget, read_people, read_person, strip_mailto
from .vocab import TrailerRole

__all__ = [
    "Trailer",
    "Fixes",
    "StableRequest",
    "Link",
    "parse_trailers",
    "find_reply_trailers",
    "fixes_of",
    "stable_requests",
    "links_of",
    "msgid_from_url",
    "MAX_TRAILERS",
    "TRAILER_KEYS",
    "REVIEW_KEYS",
    "LINK_KEYS",
    "MESSAGE_ID_KEYS",
    "REPLY_KEYS",
    "MSGID_HOSTS",
]


@attrs.frozen
class Trailer:
    """One trailer.

    ``key`` is in canonical case for the keys the kernel documents (``Signed-off-by``,
    ``Cc``, ``Message-ID``…) and as written otherwise; ``value`` is git's value
    (continuation lines unfolded) without the comment; ``comment`` is the text after
    a ``#`` marker, or inside a ``[…]`` after the address of a person trailer, or
    ``None``; ``person`` is the first address of a person trailer (``…-by``, ``Cc``,
    ``To``, ``From``), its RFC 2047 words decoded; ``raw`` is the line(s) as written.
    """

    key: str
    value: str
    person: Person | None
    comment: str | None
    raw: str


@attrs.frozen
class Fixes:
    """``Fixes: 0123456789ab ("subject")``: the (lower-cased) commit id and the title."""

    sha: str
    title: str | None


@attrs.frozen
class StableRequest:
    """``Cc: stable@vger.kernel.org # 6.9+``: the comment as written, ``None`` without one."""

    spec: str | None


@attrs.frozen
class Link:
    """``Link:``/``Closes:`` URL, with the message-id when it points at a mail archive."""

    url: str
    msgid: str | None


# --- keys -----------------------------------------------------------------------------

TRAILER_KEYS: Mapping[str, TrailerRole] = MappingProxyType({
    "Signed-off-by": TrailerRole.PERSON,
    "Reviewed-by": TrailerRole.REVIEW,
    "Acked-by": TrailerRole.REVIEW,
    "Tested-by": TrailerRole.REVIEW,
    "Reported-by": TrailerRole.PERSON,
    "Suggested-by": TrailerRole.PERSON,
    "Co-developed-by": TrailerRole.PERSON,
    "Reported-and-tested-by": TrailerRole.PERSON,
    "Requested-by": TrailerRole.PERSON,
    "Originally-by": TrailerRole.PERSON,
    "Debugged-by": TrailerRole.PERSON,
    "Bisected-by": TrailerRole.PERSON,
    "Analyzed-by": TrailerRole.PERSON,
    "Helped-by": TrailerRole.PERSON,
    "Nacked-by": TrailerRole.PERSON,
    "Assisted-by": TrailerRole.PERSON,
    "Cc": TrailerRole.CC,
    "To": TrailerRole.PERSON,
    "Fixes": TrailerRole.FIXES,
    "Link": TrailerRole.LINK,
    "Closes": TrailerRole.LINK,
    "BugLink": TrailerRole.LINK,
    "Message-ID": TrailerRole.MESSAGE_ID,
    "Change-Id": TrailerRole.OTHER,
})
"""The trailer keys patchtrack knows, in the kernel's spelling, with what each means
(:class:`~patchtrack.vocab.TrailerRole`). Every reader of trailers reads this table:
the parsers (a known key is written in this spelling), the reply reader and its
pre-filter (the keys a reviewer gives: ``…-by``, ``Cc``, ``Fixes`` and the link keys),
:func:`links_of` (:data:`LINK_KEYS`), review counting (:data:`REVIEW_KEYS`) and
upstream tracking (a commit's link and ``Message-ID`` trailers name its mail); revision
linking reads links to the same archives (:data:`MSGID_HOSTS`). Any other ``…-by``
key is a person trailer too, spelled as written."""


def _keys(*roles: TrailerRole) -> frozenset[str]:
    return frozenset(k for k, role in TRAILER_KEYS.items() if role in roles)


REVIEW_KEYS = _keys(TrailerRole.REVIEW)
"""The trailers that count as review of a patch: ``Reviewed-by``, ``Acked-by``, ``Tested-by``."""

LINK_KEYS = _keys(TrailerRole.LINK)
"""The trailers that hold a URL (:func:`links_of`): ``Link``, ``Closes``, ``BugLink``."""

MESSAGE_ID_KEYS = _keys(TrailerRole.MESSAGE_ID)
"""The trailers that name a mail by its id: ``Message-ID``."""

REPLY_KEYS = _keys(TrailerRole.CC, TrailerRole.FIXES, TrailerRole.LINK)
"""The keys besides ``…-by`` that a reply's trailer may have (:func:`find_reply_trailers`)."""

MSGID_HOSTS = ("lore.kernel.org", "lkml.kernel.org", "patch.msgid.link", "msgid.link")
"""The mail archives whose URLs name a message-id (:func:`msgid_from_url`)."""

_CANONICAL = {k.lower(): k for k in TRAILER_KEYS}
_PERSON_KEYS = frozenset(
    {k.lower() for k in _keys(TrailerRole.PERSON, TrailerRole.CC, TrailerRole.REVIEW) if not k.endswith("-by")}
    | {"from", "author"}
)


def _canonical_key(key: str) -> str:
    """``key`` in the kernel's spelling when it is a known key (``CC`` → ``Cc``,
    ``Message-Id`` → ``Message-ID``), else unchanged."""
    return _CANONICAL.get(key.lower(), key)


def _is_person_key(key: str) -> bool:
    low = key.lower()
    return low.endswith("-by") or low in _PERSON_KEYS


MAX_TRAILERS = 1000
"""Trailers read from one text (the corpora's most is 44): each costs ~15 µs, and a
megabyte of ``Signed-off-by:`` lines is 40,000 of them. Those past it are dropped."""

# --- git's trailer block ----------------------------------------------------------------

_GIT_SPACE = " \t\n\r"  # git's isspace(): sane_ctype, ASCII only, no \v or \f
_COMMENT = "#"  # core.commentChar default
_CUT_LINE = "\n# ------------------------ >8 ------------------------\n"
_GIT_GENERATED = ("Signed-off-by: ", "(cherry picked from commit ")
_SEPARATOR = re.compile(r"[A-Za-z0-9-]+[ \t]*:")  # find_separator(): token, blanks, ':'
_UNFOLD = re.compile(r"\n[ \t\n\r]*")


def _is_blank(line: str) -> bool:
    return not line.strip(_GIT_SPACE)


def _ignored_tail(text: str, end: int) -> int:
    """How many bytes at the end of text[:end] git ignores: a trailing run of comment
    and empty lines (and old ``Conflicts:`` blocks), and everything from a ``# --- >8
    ---`` cut line on. (git's ``ignored_log_message_bytes``; the cut line is searched
    within ``end`` only, as git ≥ 2.44 does: 2.39 searched the whole input and hangs
    when the cut line comes after a ``---`` divider.)"""
    if text.startswith(_CUT_LINE[1:]):
        cutoff = 0
    else:
        found = text.find(_CUT_LINE, 0, end + len(_CUT_LINE) - 1)
        cutoff = min(found + 1, end) if found >= 0 else end
    if cutoff:
        last = text.rfind("\n", 0, cutoff - 1) + 1  # the last line before the cutoff
        c = text[last]
        if c not in (_COMMENT, "\n", "\t") and not text.startswith("Conflicts:\n", last):
            return end - cutoff  # it ends any run: no need to walk every line from the top
    boc = 0  # start of the trailing run; 0 means "none", as in git
    in_conflicts = False
    bol = 0
    while bol < cutoff:
        nl = text.find("\n", bol, end)
        nxt = end if nl < 0 else nl + 1
        c = text[bol]
        if c == _COMMENT or c == "\n":
            boc = boc or bol
        elif text.startswith("Conflicts:\n", bol):
            in_conflicts = True
            boc = boc or bol
        elif in_conflicts and c == "\t":
            pass
        elif boc:
            boc = 0
            in_conflicts = False
        bol = nxt
    return end - boc if boc else end - cutoff


def _end_of_message(text: str) -> int:
    """Where the log message ends: at the first ``---`` + whitespace line (the patch),
    less the ignorable tail."""
    end = len(text)
    pos = 0
    while True:
        i = text.find("---", pos)
        if i < 0:
            break
        if (i == 0 or text[i - 1] == "\n") and i + 3 < len(text) and text[i + 3] in _GIT_SPACE:
            end = i
            break
        pos = i + 1
    return end - _ignored_tail(text, end)


_BLANK_LINE = re.compile(r"^(?:[ \t\r]*\n|[ \t\r]+\Z)", re.MULTILINE)  # a line of git spaces only
_BLANK_LINE_REVERSED = re.compile(r"\n[ \t\r]*(?:\n|\Z)")  # the same, in reversed text
_TRAILER_LINE = re.compile(r"^(?:[A-Za-z0-9-]+[ \t]*:|\(cherry picked from commit )", re.MULTILINE)
_GENERATED_LINE = re.compile(r"^(?:Signed-off-by: |\(cherry picked from commit )", re.MULTILINE)
_COMMENT_LINE = re.compile(r"^#", re.MULTILINE)
_CONTINUATION_LINE = re.compile(r"^[ \t\r]", re.MULTILINE)
_CONTINUATION_RUN = re.compile(r"(?:^[ \t\r][^\n]*(?:\n|\Z))+", re.MULTILINE)


def _block_start(text: str, end: int) -> int:
    """Offset of the first line of the trailer block in text[:end], or ``end``.

    git's rule (``trailer.c``): the title paragraph ends at the first blank line (a
    comment line is never blank). From the bottom up, past trailing blank and comment
    lines, the last paragraph is read back to the blank line above it, counting
    trailer lines (a token and a colon, or a git-generated line, which makes the
    block "recognized"), other lines, and continuation lines (starting with a blank),
    which belong to the trailer above them and otherwise count as other lines. The
    paragraph is a block when all its lines are trailers, or when it is recognized
    and at least a quarter are. Here the counts are taken by searching the paragraph
    rather than by reading it line by line."""
    first_blank = _BLANK_LINE.search(text, 0, end)
    end_of_title = first_blank.start() if first_blank else end
    bottom = end  # past trailing blank and comment lines
    while bottom > end_of_title:
        off = text.rfind("\n", 0, bottom - 1) + 1
        if off < end_of_title:
            return end
        line = text[off:bottom]
        if not line.startswith(_COMMENT) and not _is_blank(line):
            break
        bottom = off
    else:
        return end
    above = _BLANK_LINE_REVERSED.search(text[end_of_title:bottom][::-1])  # the last blank line
    if above is None:
        return end
    top = bottom - above.start()  # where that blank line ends: the paragraph's first line
    trailers = len(_TRAILER_LINE.findall(text, top, bottom))
    comments = len(_COMMENT_LINE.findall(text, top, bottom))
    continuations = len(_CONTINUATION_LINE.findall(text, top, bottom))
    lines = text.count("\n", top, bottom) + (text[bottom - 1] != "\n")
    non_trailers = lines - trailers - comments - continuations
    for run in _CONTINUATION_RUN.finditer(text, top, bottom):
        start = run.start()
        over = text.rfind("\n", 0, start - 1) + 1
        if start == top or not _TRAILER_LINE.match(text, over):
            non_trailers += run.group().count("\n") + (not run.group().endswith("\n"))
    recognized = _GENERATED_LINE.search(text, top, bottom) is not None
    if (recognized and trailers * 3 >= non_trailers) or (trailers and not non_trailers):
        return top
    return end


def _raw(lines: list[str]) -> str:
    """A trailer's lines (without their line breaks) as written, trailing blank lines off."""
    while len(lines) > 1 and _is_blank(lines[-1]):
        lines.pop()
    return "\n".join(lines)


def parse_trailers(message: str, budget: StdlibBudget | None = None) -> tuple[Trailer, ...]:
    """Trailers of a commit message, exactly as ``git interpret-trailers --parse``
    finds them, with git's default configuration (no ``trailer.*`` keys, ``#`` as the
    comment character).

    The block is the last paragraph after the title paragraph, before a ``---`` line
    and any trailing comments. It counts when all its lines are trailers, or when one
    starts with ``Signed-off-by: `` or ``(cherry picked from commit `` and at least a
    quarter are trailers. Lines starting with whitespace continue the trailer above;
    other lines in the block (``[fixed typo]``, the cherry-pick line) are not
    trailers. Input after a NUL is ignored, as git reads a C string. Odd address
    forms in person trailers spend ``budget`` (see :class:`~patchtrack.identity.StdlibBudget`).
    """
    text = message.split("\0", 1)[0]
    end = _end_of_message(text)
    start = _block_start(text, end)
    block = text[start:end]
    lines = block.split("\n")
    if not lines[-1]:
        lines.pop()  # the block ends with a line break: no line after it
    items: list[list[str]] = []
    open_item: list[str] | None = None  # the trailer that continuation lines extend
    for line in lines:
        if open_item is not None and (not line or line[0] in _GIT_SPACE):
            open_item.append(line)
            continue
        items.append([line])
        open_item = items[-1] if _SEPARATOR.match(line) else None
    found: list[Trailer] = []
    for lines in items:
        if len(found) == MAX_TRAILERS:
            break
        first = lines[0]
        if first.startswith(_COMMENT):
            continue
        sep = _SEPARATOR.match(first)
        if sep is None:
            continue
        body = "\n".join(lines)
        key = body[: sep.end() - 1].strip(_GIT_SPACE)
        value = _UNFOLD.sub(" ", body[sep.end():].strip(_GIT_SPACE)).strip(_GIT_SPACE)
        found.append(_make(key, value, _raw(lines), budget))
    return tuple(found)


# --- values: comment, person ---------------------------------------------------------------

_HASH_MARK = re.compile(r"[ \t]#")
_NAME_CHARS = re.compile(r"[^<>@,\"()\[\]]+")


def _split_comment(key: str, value: str) -> tuple[str, str | None]:
    """(value, comment): the comment follows the first blank + ``#`` outside ``<…>``
    (and, for ``Fixes:``, after the quoted title); for a person trailer also a
    trailing ``[…]`` after its address."""
    search_from = 0
    if key.lower() == "fixes":
        title_end = value.rfind('")')
        if title_end >= 0:
            search_from = title_end + 2
    depth = value.count("<", 0, search_from) - value.count(">", 0, search_from)
    seen = search_from
    for m in _HASH_MARK.finditer(value, search_from):
        pos = m.start()
        depth += value.count("<", seen, pos) - value.count(">", seen, pos)
        seen = pos
        if depth <= 0:
            return value[:pos].strip(_GIT_SPACE), value[pos + 2:].strip(_GIT_SPACE)
    if _is_person_key(key) and value.endswith("]"):
        start = value.rfind("[")
        head = value[:start].rstrip(_GIT_SPACE)
        after_address = head.endswith(">") or "@" in (head.rsplit(None, 1) or [""])[-1]
        if start > 0 and after_address and "]" not in value[start + 1 : -1]:
            return head, value[start + 1 : -1].strip(_GIT_SPACE)
    return value, None


MAX_PERSON_TEXT = 4096
"""Characters of a trailer's value read for its person (the value itself is kept
whole, as git keeps it): the corpora's longest trailer value is 402, and a 586 KB
``Signed-off-by:`` value of junk was read as 300,000 addresses to take the first
(100 ms)."""


def _person(key: str, value: str, budget: StdlibBudget | None) -> Person | None:
    """The first address of a person trailer, its name decoded (identity.parse_person)."""
    if not _is_person_key(key) or "@" not in value:
        return None
    value = value[:MAX_PERSON_TEXT]
    value = strip_mailto(value)
    if "<" not in value and ">" not in value:
        head, _, last = value.rpartition(" ")
        if "@" in last and head.strip() and _NAME_CHARS.fullmatch(head):
            value = f"{head.strip()} <{last}>"  # "Name addr@host", the brackets forgotten
    elif value.count("<") == 1 and ">" not in value:
        value += ">"  # "Name <addr@host", the closing bracket lost
    if value.count("@") > 1:
        people = read_people(value, budget)
        if people:
            return people[0]
    return read_person(value, budget)


def _make(key: str, full_value: str, raw: str, budget: StdlibBudget | None) -> Trailer:
    key = _canonical_key(key)
    value, comment = _split_comment(key, full_value)
    return Trailer(key=key, value=value, person=_person(key, value, budget), comment=comment, raw=raw)


# --- replies ---------------------------------------------------------------------------

_REPLY_LINE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<key>[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)[ \t]*:[ \t]*(?P<value>\S.*)$"
)
_CANDIDATE = re.compile(  # a line that could be a reply trailer: one search over "\n" + body rules most out
    # (the look at the first character skips quoted and blank lines before any name is tried)
    r"\n[ \t]*(?=[A-Za-z])(?i:" + "|".join(sorted(k.lower() for k in REPLY_KEYS)) + r"|[A-Za-z][A-Za-z0-9-]*-by)[ \t]*:"
)
_HAS_ADDR = re.compile(r"\S@[^\s@]*\.\S")
_HEX_START = re.compile(r"(?:commit\s+)?[0-9a-fA-F]{6,40}(?![0-9A-Za-z_])")
_HAS_URL = re.compile(r"[A-Za-z0-9]://\S")
_FOOTNOTE = re.compile(r"(?:^\[\d+\]|\[\d+\]$)")
_SIGNATURE = re.compile(r"^--[ \t]*$")
# (A look ahead for ">8" over the rest of the line said nothing the pattern does not,
# and read a 630 KB line of junk to its end: 33 ms.)
_SCISSORS = re.compile(r"^[ \t]*[-=_ \t]*(?:>8|8<)[-=_ \t8<>]*$")
_QUOTE_START = re.compile(
    r"^[ \t]*(?:-{3,}[ \t]*(?:original|forwarded)[ \t]+message[ \t]*-{3,}"
    r"|begin forwarded message:"
    r"|from [0-9a-f]{40} mon sep 17 00:00:00 2001)[ \t]*$",
    re.IGNORECASE,
)
_HEADER = re.compile(r"^(?:from|sent|date|to|cc|subject)[ \t]*:", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"\b(?:wrote|writes)[ \t]*:[ \t]*$", re.IGNORECASE)
_ROBOT_PREFACE = re.compile(r"\bif you fix the issue\b|\bkindly add following tags?\b", re.IGNORECASE)
_PATCH_SEPARATOR = re.compile(r"^---[ \t]*$")
_PLACEHOLDER = re.compile(r"\bexample\.(?:com|org|net)\b|://\S*\.\.\.", re.IGNORECASE)
_EXAMPLE_PREFACE = re.compile(r"(?:::|\b(?:example|e\.?g\.?)[ \t]*:)[ \t]*$", re.IGNORECASE)
_PATCH_BODY = re.compile(r"diff --git |--- a/|Index: | \d+ files? changed")
_LONE_ADDR = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_LONE_NOTE = re.compile(r"\[[^\[\]]+\]")


def _quoted(line: str) -> bool:
    return line.lstrip(" \t")[:1] == ">"


_QUOTED_LAST = re.compile(r">[ \t]*(?:\n|\Z)")  # searched in the reversed text: the last quoted line
_TEXT_ENDS = re.compile(
    r"^(?:--[ \t]*|[ \t]*(?:-{3,}[ \t]*(?:original|forwarded)[ \t]+message[ \t]*-{3,}"
    r"|begin forwarded message:|from [0-9a-f]{40} mon sep 17 00:00:00 2001)[ \t]*)$",
    re.IGNORECASE | re.MULTILINE,
)  # _SIGNATURE or _QUOTE_START, as one search
# _ATTRIBUTION, or a From: line over a _HEADER line, as two searches that each begin at
# a letter the text holds: one case-insensitive expression that may begin anywhere is
# tried at every character (28 ms for 630 KB of text; 8 ms as these two).
_WROTE = re.compile(r"[wW](?<!\w[wW])(?i:r(?:ote|ites))[ \t]*:[ \t]*$", re.MULTILINE)
_FROM_OVER_HEADER = re.compile(r"[fF](?<![^\n][fF])(?i:rom):.*\n(?i:from|sent|date|to|cc|subject)[ \t]*:")
_PATCH_LINE = re.compile(r"^(?:diff --git |--- a/|Index: | \d+ files? changed)", re.MULTILINE)
_SEPARATOR_LINE = re.compile(r"^---[ \t]*$", re.MULTILINE)
MAX_KEY_LINES = 2 * MAX_TRAILERS
"""``Key: value`` lines of a reply's own text read as possible trailers (~13 µs each):
past them, a megabyte of ``Reviewed-by: a@b`` lines without a trailer is not read on."""
MAX_REPLY_VALUE = 4096
"""Characters of a reply trailer's value (wrapped lines joined): the corpora's longest
trailer value is 402; a longer one is mail junk, not a trailer (a 570 KB value was
searched for example addresses, an address and a URL: 45 ms of a mail's 116)."""
MAX_WRAPPED = 64
"""Lines one reply trailer may be wrapped over (a ``Fixes:`` title, an address on
the next line): a value left open over a megabyte of lines is not a trailer."""
_OWN_SCISSORS = re.compile(r"^(?![ \t]*>)[ \t]*[-=_ \t]*(?:>8|8<)[-=_ \t8<>]*$", re.MULTILINE)


def _last_quoted(text: str, end: int) -> int:
    """Offset of the ``>`` of the last ``>``-quoted line in text[:end], or -1."""
    found = _QUOTED_LAST.search(text[:end][::-1])
    return -1 if found is None else end - 1 - found.start()


def _reply_end(text: str) -> int:
    """Offset of the first line that is no longer the replier's own text: a signature
    ``-- ``, a ``-----Original Message-----``/``Begin forwarded message:`` line, an
    embedded ``git format-patch`` mail, or an attribution (``… wrote:``) or a
    ``From:``/``Date:`` header block after which no line is ``>``-quoted (the
    original follows unprefixed, as top-posting clients and inline patches do).
    Found by searching the text, not by reading every line: a quoted line never
    matches these (none begins with ``>``)."""
    ends = _TEXT_ENDS.search(text)
    end = len(text) if ends is None else ends.start()
    quoted = _last_quoted(text, len(text))
    after = 0 if quoted < 0 else text.find("\n", quoted)
    if after >= 0:
        found = [m.start() for m in (_WROTE.search(text, after, end), _FROM_OVER_HEADER.search(text, after, end)) if m]
        if found:
            end = text.rfind("\n", 0, min(found)) + 1  # the start of its line
    return end


def _wanted(key: str, value: str) -> bool:
    """Whether ``Key: value`` in a reply is a trailer given for the patch."""
    if _PLACEHOLDER.search(value):
        return False
    low = key.lower()
    if low.endswith("-by"):
        return bool(_HAS_ADDR.search(value))
    role = TRAILER_KEYS.get(_CANONICAL.get(low, ""))
    if role is TrailerRole.CC:
        return bool(_STABLE.search(value))
    if role is TrailerRole.FIXES:
        return bool(_HEX_START.match(value))
    if role is TrailerRole.LINK:
        return bool(_HAS_URL.search(value)) and not _FOOTNOTE.search(value)
    return False


class _Open:
    """What a value leaves open as it grows line by line: ``(``, ``<``, ``"``, and
    whether it holds an address yet (counted per added line: recounting the whole
    value for each wrapped line was quadratic)."""

    __slots__ = ("parens", "angles", "quotes", "address")

    def __init__(self) -> None:
        self.parens = self.angles = self.quotes = 0
        self.address = False

    def add(self, text: str) -> None:
        self.parens += text.count("(") - text.count(")")
        self.angles += text.count("<") - text.count(">")
        self.quotes += text.count('"')
        self.address = self.address or "@" in text

    def unclosed(self) -> bool:
        """Whether the value visibly goes on: an open ``(``, ``<`` or ``"``."""
        return self.parens > 0 or self.angles > 0 or self.quotes % 2 == 1


def _last_match(pattern: re.Pattern[str], text: str, start: int, end: int) -> int:
    """Offset of the last match of ``pattern`` in text[start:end], or -1, for a pattern
    whose matches each lie within one line (and its leading line break): searched in
    windows from the end, growing fourfold, not match by match from the start (20,000
    trailer lines in a reply: 23 ms)."""
    size = 4096
    while True:
        at = max(start, end - size)
        last = -1
        for found in pattern.finditer(text, at, end):
            last = found.start()
        if last >= 0 or at == start:
            return last
        size *= 4


def find_reply_trailers(body: str, budget: StdlibBudget | None = None) -> tuple[Trailer, ...]:
    """Trailers a reviewer wrote in a reply (b4's follow-up trailers, stricter).

    A line counts when it is the replier's own text — not quoted (``>`` after
    optional blanks), before the signature ``-- ``, not below an unprefixed quote or
    forward, not between scissors ``-- >8 --`` lines, not in the trailer paragraph of
    an embedded patch (the lines just above a ``---`` line), not in a bot's "if you
    fix the issue, kindly add following tag" paragraph — and reads ``Key: value``
    with one of these keys: ``…-by`` with an address, ``Cc`` to stable, ``Fixes``
    with a commit id, ``Link``/``Closes``/``BugLink`` with a URL (not a ``[1]``
    footnote, not an example address). An indented line counts only when it stands
    alone, below no indented text and no "Example:" (indented lines are mostly
    quoted ``git log`` output). A wrapped ``Fixes:`` title, a ``<addr>`` on the next
    line and a ``[…]`` line after a person trailer are joined to the trailer.
    docs/trailers.md has the reasons and the corpus check.
    """
    if not _CANDIDATE.search("\n" + body):
        return ()  # most replies: no line could be a trailer
    text = body.replace("\r\n", "\n")
    end = _reply_end(text)
    probe = "\n" + text
    first_candidate = _CANDIDATE.search(probe, 0, end + 1)  # offsets of their lines
    if first_candidate is None:
        return ()
    lines = text.split("\n") if end == len(text) else text[:end].split("\n")[:-1]
    n = len(lines)
    last_patch_line = _last_match(_PATCH_LINE, text, 0, end)
    last_diff = text.count("\n", 0, last_patch_line) if last_patch_line >= 0 else -1
    last_candidate = text.count("\n", 0, _last_match(_CANDIDATE, probe, 0, end + 1))
    # Only the lines from the last quote above the first candidate on can change
    # what a candidate reads: start there, in the state that quote leaves.
    quoted = _last_quoted(text, first_candidate.start())
    start = 0 if quoted < 0 else text.count("\n", 0, quoted) + 1
    found: list[tuple[int, str, str, list[str]]] = []  # (paragraph start, key, value, lines): made at the end
    para_start = start  # first line of the current paragraph of own (unquoted) text
    last_para = -1  # the last paragraph of own text, unless a quote came after it
    robot = False  # the current paragraph is a bot's "kindly add following tag"
    # scissors lines toggle, wherever they stand
    in_scissors = bool(len(_OWN_SCISSORS.findall(text, 0, text.rfind("\n", 0, quoted) + 1 if start else 0)) % 2)
    previous = ""  # the last non-blank line above
    i = start
    tail_checked = False
    examined = 0  # "Key: value" lines of own text read so far
    while i < n:
        if i > last_candidate:  # no candidate left: only a --- line can still take back
            if not found or found[-1][0] != last_para or len(found) >= MAX_TRAILERS:
                break  # ... the last paragraph's trailers, and it cannot
            if not tail_checked:
                tail_checked = True
                separator = _SEPARATOR_LINE.search(text, sum(map(len, lines[:i])) + i, end)
                if separator is None or text.count("\n", 0, separator.start()) >= last_diff:
                    break
        elif len(found) >= MAX_TRAILERS:
            break
        line = lines[i]
        if not line.strip() or _quoted(line):
            para_start = i + 1
            robot = False
            if line.strip():
                previous = ""  # text right below a quote is not part of an indented one
                last_para = -1
            i += 1
            continue
        if _SCISSORS.match(line):
            in_scissors = not in_scissors
            para_start, robot, previous = i + 1, False, line
            i += 1
            continue
        if in_scissors:
            i += 1
            continue
        if _PATCH_SEPARATOR.match(line) and i < last_diff:
            while found and found[-1][0] == last_para:  # an embedded patch's (the last found)
                found.pop()
            para_start, robot, previous = i + 1, False, line
            i += 1
            continue
        last_para = para_start
        if _ROBOT_PREFACE.search(line):
            robot = True
        m = _REPLY_LINE.match(line)
        if m is not None:
            # a bot's paragraph's lines count too: a megabyte of "kindly add
            # following tag" paragraphs was read to its end (160 ms, 7.6 times a
            # megabyte of ordinary patch mail)
            examined += 1
            if examined > MAX_KEY_LINES:
                break
        if m is None or robot:
            previous = line
            i += 1
            continue
        key, indent = m["key"], m["indent"]
        pieces = [m["value"].rstrip()]
        is_open = _Open()
        is_open.add(pieces[0])
        taken = [line]
        j = i + 1
        while j < n and j - i <= MAX_WRAPPED and lines[j].strip() and not _quoted(lines[j]):
            nxt = lines[j].strip()
            wrapped = is_open.unclosed() and not _REPLY_LINE.match(lines[j]) and (
                lines[j][0] in " \t" or key.lower() == "fixes" and nxt.rstrip(".").endswith(")")
            )
            address = not is_open.address and _LONE_ADDR.fullmatch(nxt)
            note = _is_person_key(key) and _LONE_NOTE.fullmatch(nxt)
            if not (wrapped or address or note):
                break
            pieces.append(nxt)
            is_open.add(nxt)
            taken.append(lines[j])
            j += 1
        value = " ".join(pieces)
        alone = j >= n or not lines[j].strip() or _quoted(lines[j])
        if indent and not (alone and not previous[:1].isspace() and not _EXAMPLE_PREFACE.search(previous)):
            pass  # part of an indented quote (git log output), a block, an example
        elif len(value) <= MAX_REPLY_VALUE and _wanted(key, value) and len(found) < MAX_TRAILERS:
            found.append((para_start, key, value, taken))
        previous = line  # a wrapped trailer keeps the indentation of its first line
        i = j
    return tuple(_make(key, value, "\n".join(taken), budget) for _, key, value, taken in found)


# --- derived records ----------------------------------------------------------------------

_FIXES = re.compile(r"(?:commit\s+)?([0-9a-fA-F]{6,40})(?![0-9A-Za-z_])(.*)$", re.DOTALL)
_STABLE = re.compile(r"\bstable@(?:vger\.)?kernel\.org\b", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_ARCHIVE_URL = re.compile(r"https?://([^/\s?#]+)/([^?#\s]*)", re.IGNORECASE)


def _title(rest: str) -> str | None:
    rest = rest.strip().rstrip(".").strip()
    if rest.startswith("("):
        rest = rest[1:-1] if rest.endswith(")") else rest[1:]
    first, last = rest.find('"'), rest.rfind('"')
    if first >= 0 and last > first:
        rest = rest[first + 1 : last]
    elif first >= 0:
        rest = rest[first + 1 :]
    rest = rest.strip()
    return rest or None


def fixes_of(trailers: Iterable[Trailer]) -> tuple[Fixes, ...]:
    """``Fixes:`` trailers whose value starts with a commit id (6–40 hex digits, as
    b4 accepts; ``commit`` allowed before it). The title is what the parentheses
    hold, inside the outer quotes when there are any (``("Revert "x"")`` → ``Revert
    "x"``, man-pages' ``(2020-10-16; "title")`` → ``title``); ``None`` without one."""
    found = []
    for t in trailers:
        if t.key != "Fixes":
            continue
        m = _FIXES.match(t.value.strip())
        if m:
            found.append(Fixes(m.group(1).lower(), _title(m.group(2))))
    return tuple(found)


def stable_requests(trailers: Iterable[Trailer]) -> tuple[StableRequest, ...]:
    """``Cc:`` trailers addressed to stable@vger.kernel.org or stable@kernel.org; the
    spec is the trailer's comment (``6.9+``, ``v5.10+: abc123: pre-req``)."""
    return tuple(
        StableRequest(t.comment or None)
        for t in trailers
        if t.key == "Cc" and _STABLE.search(t.value)
    )


def msgid_from_url(url: str) -> str | None:
    """The message-id a mail-archive URL points at, or ``None``."""
    m = _ARCHIVE_URL.match(url)
    if not m:
        return None
    host = m.group(1).lower()
    parts = m.group(2).split("/")
    if host not in MSGID_HOSTS:
        return None
    if host == "lore.kernel.org":
        # /<list>/<id>/..., /r/<id>, /all/<id>, or the bare /<id> lore also serves
        candidates = parts[:1] if "@" in unquote(parts[0]) else parts[1:2]
    elif host == "lkml.kernel.org":
        candidates = parts[1:2] if parts[0] == "r" else []
    else:  # patch.msgid.link, msgid.link
        candidates = parts[1:2] if parts[0] == "r" else parts[:1]
    for part in candidates:
        msgid = unquote(part).strip().strip("<>")
        if "@" in msgid:
            return msgid
    return None


def links_of(trailers: Iterable[Trailer]) -> tuple[Link, ...]:
    """``Link:``, ``Closes:`` and ``BugLink:`` trailers (:data:`LINK_KEYS`) holding a
    URL; ``msgid`` for lore.kernel.org (``/<list>/<id>/``, ``/r/<id>``),
    lkml.kernel.org/r, patch.msgid.link and
    msgid.link URLs, without ``<>`` and URL-decoded (``%40`` → ``@``)."""
    found = []
    for t in trailers:
        if t.key not in LINK_KEYS:
            continue
        m = _URL.search(t.value)
        if m:
            url = m.group().rstrip(".,;)]>")
            found.append(Link(url, msgid_from_url(url)))
    return tuple(found)
