"""People in mail: ``Person(name, email)`` from headers and trailer lines.

Names are RFC 2047-decoded (``=?UTF-8?q?Philippe=20Mathieu-Daud=C3=A9?=`` →
``Philippe Mathieu-Daudé``), quotes and backslash escapes removed, ``"Last, First"``
kept as written; addresses are lower-cased, since that is how people are matched.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.utils import getaddresses

import attrs

__all__ = ["Person", "parse_person", "parse_people", "decode_words"]

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_ANGLE = re.compile(r"^(?P<name>.*?)\s*<(?P<email>[^<>\s]+@[^<>\s]+)>\s*$")
_BARE = re.compile(r"^(?P<email>[^\s<>@]+@[^\s<>@]+)(?:\s*\((?P<name>[^()]*)\))?$")


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
    """Decode RFC 2047 encoded words in ``text``; undecodable words are kept as written."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return _ENCODED_WORD.sub(_decode_one, text)


def _decode_one(match: re.Match[str]) -> str:
    try:
        return str(make_header(decode_header(match.group(0))))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return match.group(0)


def _clean_name(name: str) -> str:
    name = decode_words(name.strip())
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    name = name.replace('\\"', '"').replace("\\\\", "\\")
    name = " ".join(name.split())
    if len(name) >= 2 and name[0] == name[-1] == "'":
        name = name[1:-1].strip()
    return name


def parse_person(text: str) -> Person | None:
    """Read one ``Name <addr>``, ``"Last, First" <addr>``, ``addr (Name)`` or bare address.

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
    people = parse_people(text)
    return people[0] if people else None


def parse_people(text: str) -> tuple[Person, ...]:
    """Every address of an address-list header (``To:``, ``Cc:``), in order."""
    if not text.strip():
        return ()
    found = []
    for name, email in getaddresses([text]):
        if "@" not in email:
            continue
        found.append(Person(_clean_name(name), email.strip().lower()))
    return tuple(found)
