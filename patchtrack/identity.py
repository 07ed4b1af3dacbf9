"""People in mail: ``Person(name, email)`` from headers and trailer lines.

Names are RFC 2047-decoded (``=?UTF-8?q?Philippe=20Mathieu-Daud=C3=A9?=`` →
``Philippe Mathieu-Daudé``), quotes and backslash escapes removed, ``"Last, First"``
kept as written; addresses are lower-cased, since that is how people are matched.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from email.utils import getaddresses
from typing import Any, TypeVar

import attrs

from . import _mime

__all__ = [
    "DomainMap", "Mailmap", "PERSONAL_DOMAINS", "Person", "StdlibBudget", "decode_words", "decode_words_reporting",
    "is_bot", "memoised", "organisation_domain", "parse_people", "parse_person", "plain_name", "read_people",
    "read_person", "same_person", "strip_mailto",
]

_NAME_THEN_ADDRESS = re.compile(r"^(?P<name>[^<>@]*[^<>@\s])\s+(?P<email>[^\s<>@,;\"]+@[^\s<>@,;\"]+)$")
_LIST_ITEM = re.compile(r'(?:"(?:[^"\\]+|\\.)*"?|<[^>]*>?|\([^)]*\)?|[^,"<(]+)+')
"""One item of an address list: quoted strings, angle addresses, comments and other
text up to a comma. Runs are taken whole (``[^,"<(]+``), not a character a step: the
per-character form cost 67 ms for a 530 KB list. Nothing follows a repetition that
could fail, so the nested repetitions cannot backtrack."""
_BARE = re.compile(r"^(?P<email>[^\s<>@,;\"]+@[^\s<>@,;\"]+)(?:\s*\((?P<name>[^()]*)\))?$")
_ADDRESS = re.compile(r"^[^\s<>@,;\"]+@[^\s<>@,;\"]+$")
_WHITESPACE = re.compile(r"\s")
_NOT_IN_ADDRESS = re.compile(r"[\s<>,;:\"()\[\]]+")

_MEMO = 1 << 15
"""Entries kept by each memoised reader: the same people, subjects and encoded names
come back mail after mail in a thread, so parsing them once per process saves a
third of the parse time on a patch list. The readers are pure and their results
frozen, so sharing a result is safe."""

MEMO_TEXT = 1 << 12
"""Longest text a memoised reader keeps (4 KiB; 46 of the corpora's 228,781 From,
To, Cc and Subject values are longer): an entry holds its text, and 32,768 entries
of hostile megabyte headers would hold gigabytes."""

_T = TypeVar("_T")


def memoised(fn: Callable[[str], _T]) -> Callable[[str], _T]:
    """``fn`` with an LRU memo of :data:`_MEMO` entries for texts up to :data:`MEMO_TEXT`
    characters; longer texts are read afresh each time."""
    cached = functools.lru_cache(maxsize=_MEMO)(fn)

    @functools.wraps(fn)
    def reader(text: str) -> _T:
        return cached(text) if len(text) <= MEMO_TEXT else fn(text)

    reader.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return reader


@attrs.frozen
class Person:
    """A name and an address. ``email`` is lower-cased; ``name`` may be empty."""

    name: str
    email: str

    @property
    def domain(self) -> str:
        """The address's domain (``intel.com`` for ``a.b@intel.com``), or ``""``."""
        return self.email.rpartition("@")[2] if "@" in self.email else ""

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else f"<{self.email}>"


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words in ``text``.

    Real mail mislabels charsets (``=?utf-8?Q?K=F6nig?=`` is Latin-1): a word that
    does not decode in its declared charset is read as UTF-8, else Latin-1, so no
    ``=?…?=`` is left behind. Only a word that is not RFC 2047 at all (or whose base64
    is broken) stays as written. :func:`patchtrack._mime.decode_words` has the rules
    and reports what went wrong.
    """
    return text if "=?" not in text else _decode_words(text)[0]  # most text has no encoded word


@memoised
def _decode_words(text: str) -> tuple[str, tuple[str, ...]]:
    return _mime.decode_words(text)


def decode_words_reporting(text: str) -> tuple[str, tuple[str, ...]]:
    """:func:`decode_words` and the problems met (``bad-encoded-word``, ``lone-surrogate``,
    ``header-truncated``: see :func:`patchtrack._mime.decode_words`)."""
    return (text, ()) if "=?" not in text else _decode_words(text)


_OTHER_BLANK = re.compile(r"[^\S ]")  # whitespace other than a space


def _plain(name: str) -> bool:
    """Whether a stripped name needs nothing decoded, unquoted or squeezed: no double
    quote, backslash or ``=``, no leading single quote, and no blank but single spaces.
    Substring and character-class searches, not the expression it replaces (``_PLAIN_NAME`` in
    tests/test_identity.py), which took 52 ms for a 400 KB name, a step a character."""
    return (
        name[0] != "'" and '"' not in name and "\\" not in name and "=" not in name
        and "  " not in name and _OTHER_BLANK.search(name) is None
    )


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or _plain(name):
        return name  # the common case: nothing to decode, unquote or squeeze
    name = decode_words(name)
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    name = name.replace('\\"', '"').replace("\\\\", "\\")
    name = " ".join(name.split())
    if len(name) >= 2 and name[0] == name[-1] == "'":
        name = name[1:-1].strip()
    return name


def _angle(text: str) -> tuple[str, str] | None:
    """``(name, address)`` of ``Name <addr>`` — what ``^([^<>]*?)\\s*<([^<>\\s]+@[^<>\\s]+)>\\s*$``
    matches — by looking at the first ``<`` and the ``>`` after it: that expression
    backtracks quadratically on ``<a@a@a@…`` (22 s for 100 KB)."""
    lt = text.find("<")
    if lt < 0 or text.find(">", 0, lt) >= 0:
        return None
    gt = text.find(">", lt + 1)
    if gt < 0 or text.find("<", lt + 1, gt) >= 0 or text[gt + 1 :].strip():
        return None
    address = text[lt + 1 : gt]
    if address.find("@", 1, len(address) - 1) < 0 or _WHITESPACE.search(address):
        return None
    return text[:lt].rstrip(), address


def _comma_in_angle(text: str) -> bool:
    """Whether a ``<`` has a comma, or the end, before its ``>``."""
    at = text.find("<")
    while at >= 0:
        close = text.find(">", at)
        if close < 0 or text.find(",", at, close) >= 0:
            return True
        at = text.find("<", close)  # a "<" before this ">" closes there too: nothing new
    return False


class StdlibBudget:
    """How many characters of odd address-list items (RFC 822 groups, comments in odd
    places) one mail may still hand to the standard library's address parser, and
    whether some item could not be read by it. That parser costs ~3 µs a character
    (and is quadratic on long groups: 2.4 s for 80 KB of ``@``), so a mail gets
    :data:`STDLIB_CHARS` of it, an item at most :data:`STDLIB_ITEM`; the five corpora
    send it 79 items in all, the longest 201 characters. What it is not given is read
    by :func:`_scan_item`. The budget is spent whether or not an item's reading is
    memoised, so what a mail reads never depends on what the process read before."""

    __slots__ = ("left", "short")

    def __init__(self, chars: int | None = None) -> None:
        self.left = STDLIB_CHARS if chars is None else chars
        self.short = False


STDLIB_ITEM = 512
STDLIB_CHARS = 4096


def parse_person(text: str) -> Person | None:
    """Read one ``Name <addr>``, ``"Last, First" <addr>``, ``addr (Name)``, ``Name addr``
    or bare address; of a list, the first.

    Returns ``None`` when there is no address in ``text``.
    """
    return read_person(text)


_MAILTO = re.compile(r"<mailto:([^<>\s]+)>|\[mailto:([^\[\]\s]+)\]", re.IGNORECASE)
_MAILTO_MAX = 64
"""``<mailto:…>`` read per text; any more are left as written (a real header has one
or two; each costs a scan of the text)."""


def strip_mailto(text: str) -> str:
    """``text`` without the ``<mailto:…>`` (Outlook: ``[mailto:…]``) a mail client adds
    when it turns HTML mail back into text: removed, with the blanks before it, where
    the address is written beside it (``Foo <foo@x.org<mailto:foo@x.org>>``,
    ``foo@x.org <mailto:foo@x.org>``), else left as the address in angle brackets
    (``Foo <mailto:foo@x.org>``). Linear in the length of ``text``."""
    if "ailto:" not in text and "AILTO:" not in text:
        return text
    lower = text.lower()
    out: list[str] = []
    at = 0
    for n, m in enumerate(_MAILTO.finditer(text)):
        if n == _MAILTO_MAX:
            break
        address = (m[1] or m[2]).lower()
        out.append(text[at : m.start()].rstrip())
        beside = lower.find(address, 0, m.start()) >= 0 or lower.find(address, m.end()) >= 0
        if not beside:
            out.append(f" <{address}>")
        at = m.end()
    out.append(text[at:])
    return "".join(out).strip()


def read_person(text: str, budget: StdlibBudget | None = None) -> Person | None:
    """:func:`parse_person`, spending ``budget`` (a fresh one when ``None``) on odd forms."""
    text = strip_mailto(text)
    decided, person = _person_rules(text)
    if decided:
        return person
    people = read_people(" ".join(text.split()), budget)
    return people[0] if people else None


@memoised
def _person_rules(text: str) -> tuple[bool, Person | None]:
    """``(True, person)`` when one of the one-person forms reads ``text`` (or it is
    empty), else ``(False, None)``: then it is read as an address list."""
    text = " ".join(text.split())
    if not text:
        return True, None
    angle = _angle(text)
    if angle:
        return True, Person(_clean_name(angle[0]), angle[1].lower())
    m = _BARE.match(text)
    if m:
        return True, Person(_clean_name(m["name"] or ""), m["email"].lower())
    m = _NAME_THEN_ADDRESS.match(text)  # "Name addr@host", as typed in trailers
    if m:
        return True, Person(_clean_name(m["name"]), m["email"].lower())
    return False, None


def parse_people(text: str) -> tuple[Person, ...]:
    """Every address of an address-list header (``To:``, ``Cc:``), in order.

    Kernel mails carry Cc lists of dozens of people, so the list is split at its
    commas (with one regular expression — commas outside quotes, ``<…>`` and
    ``(…)`` — when a quote, a comment or an unclosed ``<`` could hide one), and each
    item is read like :func:`parse_person`, once per process (items repeat from mail
    to mail); only odd items (RFC 822 groups) go through the standard library's
    slower address parser (see :class:`StdlibBudget`).
    """
    return read_people(text)


def read_people(text: str, budget: StdlibBudget | None = None) -> tuple[Person, ...]:
    """:func:`parse_people`, spending ``budget`` (a fresh one when ``None``) on odd items."""
    people, items = _split_list(strip_mailto(text))
    if items is None:
        return people
    if budget is None:
        budget = StdlibBudget()
    found: list[Person] = []
    for item in items:
        found += _odd_item(item, budget) if isinstance(item, str) else item
    return tuple(found)


@memoised  # three in four To/Cc lists repeat one seen before
def _split_list(text: str) -> tuple[tuple[Person, ...], tuple[tuple[Person, ...] | str, ...] | None]:
    """``(people, None)`` when every item of the list reads by the fast rules, else
    ``((), items)``: each item's people, or the item itself when it is odd."""
    plain = '"' not in text and "(" not in text and not _comma_in_angle(text)
    items: list[tuple[Person, ...] | str] = []
    odd = False
    for item in text.split(",") if plain else _LIST_ITEM.findall(text):
        item = item.strip()
        people = _list_item(item)
        odd = odd or people is None
        items.append(item if people is None else people)
    if odd:
        return (), tuple(items)
    return tuple(p for people in items if not isinstance(people, str) for p in people), None


@memoised
def _list_item(item: str) -> tuple[Person, ...] | None:
    """The person of one address-list item, ``()`` without an address, or None for
    an odd item (an RFC 822 group, a comment in an odd place)."""
    if "@" not in item:
        return ()
    angle = _angle(item)
    if angle:
        return (Person(_clean_name(angle[0]), angle[1].lower()),)
    m = _BARE.match(item)
    if m:
        return (Person(_clean_name(m["name"] or ""), m["email"].lower()),)
    return None


def _odd_item(item: str, budget: StdlibBudget) -> tuple[Person, ...]:
    if len(item) <= min(STDLIB_ITEM, budget.left):
        budget.left -= len(item)
        people = _stdlib_item(item)
        if people is not None:
            return people
    budget.short = True
    return _scan_item(item)


@memoised
def _stdlib_item(item: str) -> tuple[Person, ...] | None:
    """The people the standard library's address parser finds in ``item``; None when
    it fails (its recursive parser exhausts the stack on nested comments and groups)."""
    try:
        pairs = getaddresses([item])
    except Exception:  # noqa: BLE001 - RecursionError, and whatever else odd text provokes
        return None
    return tuple(
        Person(_clean_name(name), email.strip().lower()) for name, email in pairs if _ADDRESS.match(email.strip())
    )


def _scan_item(item: str) -> tuple[Person, ...]:
    """The addresses in an item the standard library is not given: every word that
    is one address, without a name."""
    return tuple(Person("", word.lower()) for word in _NOT_IN_ADDRESS.split(item) if "@" in word and _ADDRESS.match(word))


def _mailbox(email: str) -> tuple[str, str]:
    local, _, domain = email.lower().rpartition("@")
    return local.split("+", 1)[0], domain


def _name_key(name: str) -> str:
    """A name compared loosely: accents, case, punctuation and word order ignored
    (``Kalle Valo`` = ``VALO, KALLE`` = ``kalle välö``)."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    words = re.findall(r"\w+", plain.casefold())
    return " ".join(sorted(words)) if len(words) >= 2 else ""


def plain_name(name: str) -> str:
    """``name`` without a trailing ``(Affiliation)``: ``Uwe Kleine-König (The Capable
    Hub)`` → ``Uwe Kleine-König``; a name that is only a parenthesis stays."""
    if not name.endswith(")"):
        return name
    start = name.rfind("(")
    if start <= 0 or ")" in name[start + 1 : -1]:
        return name
    return name[:start].rstrip() or name


def same_person(a: Person, b: Person) -> bool:
    """Whether two identities are plainly one person, as a maintainer would accept a
    ``Reviewed-by:`` from a reply: the same address; the same mailbox with a
    ``+tag`` or in a subdomain (``jdoe+lkml@x.org``, ``jdoe@mail.x.org``); or the same
    full name (two words or more; accents, case and order aside)."""
    if a.email == b.email:
        return True
    (local_a, dom_a), (local_b, dom_b) = _mailbox(a.email), _mailbox(b.email)
    if local_a and local_a == local_b and dom_a and dom_b:
        if dom_a == dom_b or dom_a.endswith("." + dom_b) or dom_b.endswith("." + dom_a):
            return True
    key_a = _name_key(plain_name(a.name))
    return bool(key_a) and key_a == _name_key(plain_name(b.name))


# --- who is who: mailmap, organisations, bots ----------------------------------------

_MAILMAP_ENTRY = re.compile(r"^\s*(?P<name1>[^<#]*?)\s*<(?P<email1>[^>]*)>\s*(?:(?P<name2>[^<#]*?)\s*<(?P<email2>[^>]*)>)?\s*(?:#.*)?$")


@attrs.frozen
class Mailmap:
    """git's ``.mailmap`` (``gitmailmap(5)``): maps the names and addresses people
    wrote to one canonical identity. Entries keyed by (address) or (name, address) of
    the mail, as git matches them: case-insensitively, the name-qualified entry first."""

    by_email: dict[str, tuple[str | None, str | None]] = attrs.field(factory=dict)
    by_name_email: dict[tuple[str, str], tuple[str | None, str | None]] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, text: str) -> Mailmap:
        """Read mailmap text; lines that are no entry (comments, blanks) are skipped."""
        mailmap = cls()
        for line in text.splitlines():
            m = _MAILMAP_ENTRY.match(line)
            if m is None or not line.strip() or line.lstrip().startswith("#"):
                continue
            name1, email1 = m["name1"] or None, m["email1"].strip() or None
            if m["email2"] is None:  # "Proper Name <commit@email>" or "<proper@email> <commit@email>"
                if email1:
                    mailmap.by_email[email1.lower()] = (name1, None)
                continue
            commit_email = m["email2"].strip().lower()
            proper = (name1, email1.lower() if email1 else None)
            if m["name2"]:
                mailmap.by_name_email[(m["name2"].strip().casefold(), commit_email)] = proper
            else:
                mailmap.by_email[commit_email] = proper
        return mailmap

    def map(self, person: Person) -> Person:
        """The canonical identity of ``person`` (itself when no entry matches)."""
        found = self.by_name_email.get((person.name.casefold(), person.email)) or self.by_email.get(person.email)
        if found is None:
            return person
        name, email = found
        return Person(name or person.name, email or person.email)


_EMAILMAP_LINE = re.compile(r"^\s*(?P<pattern>[^\s#]+)\s+(?P<org>[^#<]+?)\s*(?:<\s*(?P<until>\d{4}-\d{2}-\d{2}))?\s*(?:#.*)?$")

PERSONAL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "hotmail.com", "outlook.com", "live.com", "icloud.com",
    "me.com", "protonmail.com", "proton.me", "pm.me", "gmx.de", "gmx.net", "gmx.com", "web.de", "posteo.net",
    "posteo.de", "mailbox.org", "fastmail.com", "fastmail.fm", "yandex.ru", "mail.ru", "qq.com", "163.com",
    "126.com", "foxmail.com", "naver.com", "aol.com", "zoho.com", "tutanota.com", "disroot.org", "riseup.net",
})
"""Free-mail domains: an address there says nothing about an employer."""


@functools.lru_cache(maxsize=1)
def _suffixes() -> Any:
    # read on first use: loading the bundled list costs 60 ms of CPU, and only reports need it
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@functools.lru_cache(maxsize=4096)
def organisation_domain(domain: str) -> str:
    """The registrable domain an address's domain belongs to, by the Public Suffix List
    (the ``publicsuffixlist`` package's bundled copy, read offline): ``linux.vnet.ibm.com``
    and ``vajain21.in.ibm.com`` → ``ibm.com``, ``iscas.ac.cn`` stays (``ac.cn`` is a
    public suffix). A domain the list cannot place (an address literal, one label)
    stays as written; so does an unknown top-level domain's second level."""
    domain = domain.lower().rstrip(".")
    if not domain or domain.startswith("[") or "." not in domain:
        return domain
    found = _suffixes().privatesuffix(domain)
    return found if found else domain


@attrs.frozen
class DomainMap:
    """gitdm's ``EmailMap``: address or domain → organisation, by suffix
    (``linux.intel.com`` matches ``intel.com``), with an optional end date
    (``ibm.com  IBM < 2020-01-01``: the later entry for the same domain takes over)."""

    entries: tuple[tuple[str, str, str | None], ...] = ()

    @classmethod
    def parse(cls, text: str) -> DomainMap:
        found = []
        for line in text.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _EMAILMAP_LINE.match(line)
            if m:
                found.append((m["pattern"].lower(), m["org"].strip(), m["until"]))
        return cls(tuple(found))

    def organisation(self, email: str, day: str | None = None) -> str | None:
        """The organisation for an address on ``day`` (``YYYY-MM-DD``; None: today's
        entry), the longest matching pattern winning; ``None`` when nothing matches."""
        email = email.lower()
        domain = email.rpartition("@")[2]
        best: tuple[int, str] | None = None
        for pattern, org, until in self.entries:
            if "@" in pattern:
                hit = email == pattern
            else:
                hit = domain == pattern or domain.endswith("." + pattern)
            if not hit or (until is not None and (day is None or day >= until)):
                continue
            if best is None or len(pattern) > best[0]:
                best = (len(pattern), org)
        return best[1] if best else None


_BOT_ADDRESS = re.compile(
    r"^(?:lkp@intel\.com|syzbot\+?[^@]*@syzkaller\.appspotmail\.com|patchwork-bot\+[^@]*@kernel\.org"
    r"|noreply@[^@]+|no-reply@[^@]+|.*-bot@[^@]+|bot@[^@]+)$"
)
_BOT_NAME = re.compile(r"\b(?:test robot|bot|syzbot|patchwork|kernelci)\b", re.IGNORECASE)


def is_bot(person: Person) -> bool:
    """A mail robot: the kernel test robot, syzbot, patchwork-bot, CI systems.
    (b4's relay address ``devnull+…@kernel.org`` is a sender, never an author: the
    relayed mail carries the real author.)"""
    if person.email.startswith("devnull+"):
        return False
    return bool(_BOT_ADDRESS.match(person.email)) or bool(_BOT_NAME.search(person.name))
