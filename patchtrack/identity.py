"""People in mail: ``Person(name, email)`` from headers and trailer lines.

Names are RFC 2047-decoded (``=?UTF-8?q?Philippe=20Mathieu-Daud=C3=A9?=`` →
``Philippe Mathieu-Daudé``), quotes and backslash escapes removed, ``"Last, First"``
kept as written; addresses are lower-cased, since that is how people are matched.
"""

from __future__ import annotations

import re
import unicodedata
from email.header import decode_header, make_header
from email.utils import getaddresses

import attrs

__all__ = ["Person", "parse_person", "parse_people", "decode_words", "same_person"]

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t]+(?==\?[^?\s]+\?[bBqQ]\?)")  # RFC 2047: ignored
_ANGLE = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+@[^<>\s]+)>\s*$")
_NAME_THEN_ADDRESS = re.compile(r"^(?P<name>[^<>@]*[^<>@\s])\s+(?P<email>[^\s<>@,;\"]+@[^\s<>@,;\"]+)$")
_LIST_ITEM = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|<[^>]*>?|\([^)]*\)?|[^,"<(])+')
_BARE = re.compile(r"^(?P<email>[^\s<>@,;\"]+@[^\s<>@,;\"]+)(?:\s*\((?P<name>[^()]*)\))?$")
_ADDRESS = re.compile(r"^[^\s<>@,;\"]+@[^\s<>@,;\"]+$")


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
    ``=?…?=`` is left behind. Only a word that is not RFC 2047 at all stays as written.
    """
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return _ENCODED_WORD.sub(_decode_one, _BETWEEN_WORDS.sub("", text))


def _decode_one(match: re.Match[str]) -> str:
    try:
        (chunk, charset), *_ = decode_header(match.group(0))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return match.group(0)
    if isinstance(chunk, str):
        return chunk
    for name in (charset or "utf-8", "utf-8", "latin-1"):
        try:
            return chunk.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return chunk.decode("latin-1")


_PLAIN_NAME = re.compile(r"^[^\"'\\=\s](?:[^\"\\=\s]| (?! ))*$")


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or _PLAIN_NAME.match(name):
        return name  # the common case: nothing to decode, unquote or squeeze
    name = decode_words(name)
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    name = name.replace('\\"', '"').replace("\\\\", "\\")
    name = " ".join(name.split())
    if len(name) >= 2 and name[0] == name[-1] == "'":
        name = name[1:-1].strip()
    return name


def parse_person(text: str) -> Person | None:
    """Read one ``Name <addr>``, ``"Last, First" <addr>``, ``addr (Name)``, ``Name addr``
    or bare address; of a list, the first.

    Returns ``None`` when there is no address in ``text``.
    """
    text = " ".join(text.split())
    if not text:
        return None
    m = _ANGLE.match(text)
    if m:
        return Person(_clean_name(m["name"]), m["email"].strip().lower())
    m = _BARE.match(text)
    if m:
        return Person(_clean_name(m["name"] or ""), m["email"].lower())
    m = _NAME_THEN_ADDRESS.match(text)  # "Name addr@host", as typed in trailers
    if m:
        return Person(_clean_name(m["name"]), m["email"].lower())
    people = parse_people(text)
    return people[0] if people else None


def parse_people(text: str) -> tuple[Person, ...]:
    """Every address of an address-list header (``To:``, ``Cc:``), in order.

    Kernel mails carry Cc lists of dozens of people, so the list is split with one
    regular expression (commas outside quotes, ``<…>`` and ``(…)``) and each item read
    like :func:`parse_person`; only odd items (RFC 822 groups) go through the
    standard library's slower address parser.
    """
    found = []
    for item in _LIST_ITEM.findall(text):
        item = item.strip()
        if "@" not in item:
            continue
        m = _ANGLE.match(item)
        if m:
            found.append(Person(_clean_name(m["name"]), m["email"].lower()))
            continue
        m = _BARE.match(item)
        if m:
            found.append(Person(_clean_name(m["name"] or ""), m["email"].lower()))
            continue
        for name, email in getaddresses([item]):
            if _ADDRESS.match(email.strip()):
                found.append(Person(_clean_name(name), email.strip().lower()))
    return tuple(found)


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
    key_a = _name_key(a.name)
    return bool(key_a) and key_a == _name_key(b.name)
