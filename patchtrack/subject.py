"""The subject-marker grammar: ``Re: [RFC PATCH net-next v2 1/4] title`` → :class:`Subject`.

A kernel patch subject carries its metadata in front of the title: reply prefixes
(``Re:``, ``Aw:``, ``Fwd:`` …) and bracket markers (``[PATCH v5 1/4]``, ``[RFC]``,
``[GIT PULL]``). :func:`parse_subject` reads them into a frozen record.

Two readings of the same text are kept apart on purpose:

* ``title`` is *git's* reading, byte for byte what ``git mailinfo`` prints on its
  ``Subject:`` line (``cleanup_subject`` in git's ``mailinfo.c``): from the front it
  repeatedly drops ``Re:`` (any case, only while more text follows), single spaces,
  tabs and colons, and a ``[`` … first ``]`` group; then it trims. It does not know
  ``Aw:``, ``Fwd:`` or ``Re :``, so ``Fwd: [PATCH] x`` keeps that whole text as title.
  That is the subject ``git am`` would commit, which is what later stages compare.
* every other field is the *human* reading of the leading markers: reply prefixes in
  several languages, bracket groups (a marker wrapped twice, ``[[PATCH v2] 1/9]``,
  read as one group), the keywords PATCH/RFC/RESEND/GIT PULL, versions, counters and
  the remaining tags.

Parsing never raises and runs in time linear in the length of the subject: every
loop advances, every expression is anchored and bounded.
See ``docs/subject.md`` for the grammar, the ambiguous cases and the corpus figures.
"""

from __future__ import annotations

import re

import attrs

from .identity import memoised

__all__ = ["Subject", "parse_subject"]

# git's isspace(): exactly these four (mailinfo.c works on bytes, ASCII ctype).
_SPACE_RUN = re.compile(r"[ \t\r\n]+")

# Reply and forward prefixes, case-insensitive, mapped to their canonical spelling.
_REPLY_WORDS = {
    "re": "Re",  # English, Latin; also RE (Outlook)
    "aw": "Aw",  # German, Antwort
    "antw": "Antw",  # Dutch, Antwoord
    "sv": "SV",  # Danish, Norwegian, Swedish, Svar
    "vs": "VS",  # Finnish, Vastaus
    "odp": "Odp",  # Polish, Odpowiedź
    "r": "R",  # Italian, Risposta
    "rif": "Rif",  # Italian, Riferimento
    "fwd": "Fwd",  # forwards, in both spellings
    "fw": "Fwd",
}
# A reply word, an optional reply count (Re[2]:, Re(2):, Re^2:) and its colon.
_REPLY = re.compile(
    r"(?P<word>antw|odp|rif|fwd|aw|sv|vs|fw|re|r)(?![a-z])"
    r"(?: ?\[[0-9]{1,4}\]| ?\([0-9]{1,4}\)|\^[0-9]{1,4})? ?:",
    re.IGNORECASE | re.ASCII,  # ASCII: "ſv:" must not match "sv:" (KeyError below)
)

# A marker wrapped twice, "[[PATCH v2] 1/9]"; bounded, so a failed try costs little.
_DOUBLE_GROUP = re.compile(r"\[\[[^\[\]]{0,200}\][^\[\]]{0,200}\]")

_WORD_SPLIT = re.compile(r"[ ,;]+")
_COUNTER_SPACES = re.compile(r"([0-9]) ?/ ?([0-9])")
_COUNTER = re.compile(r"0*([0-9]{1,6})/0*([0-9]{1,6})")
_COUNTER_OF = re.compile(r"(?<![^ ,;])([0-9]{1,6}) (?:of|OF) ([0-9]{1,6})(?![^ ,;])")
# v5, V5, v05; a respin of a version (v1.1, v5.5, v7a) reads as its major number.
_VERSION = r"[vV]0*([0-9]{1,6})(?:\.[0-9]{1,6})*[a-z]?"
_VERSION_WORD = re.compile(_VERSION)
# PATCHv2, PATCH-v2, RFCv3, patchv9: a keyword glued to its version.
_GLUED = re.compile(r"(patch|rfc|resend)[-_]?" + _VERSION, re.IGNORECASE | re.ASCII)
# RFC/PATCH, PATCH/RFC, RFC-PATCH: keywords joined by "/" or "-".
_COMPOUND = re.compile(
    r"(?:patch|rfc|resend)(?:[/-](?:patch|rfc|resend))+", re.IGNORECASE | re.ASCII
)
_KEYWORD_PART = re.compile(r"[/-]")


@attrs.frozen
class Subject:
    """A subject line read into its reply prefixes, markers and title.

    ``title`` is git's reading (what ``git mailinfo`` prints); the other fields are
    read from the leading reply prefixes and bracket markers. A subject without
    markers has ``version == 1``, ``version_inferred``, no counter and no prefixes.
    """

    raw: str
    """The subject as given, whitespace runs unfolded to single spaces, stripped."""
    title: str
    """What ``git mailinfo`` prints as ``Subject:``: leading ``Re:`` and ``[…]`` removed."""
    prefixes: tuple[str, ...]
    """Words of the bracket markers in order, as written, minus version and counter."""
    version: int
    """The series version (5 for ``v5``, ``V5``, ``PATCHv5``); 1 when absent."""
    version_inferred: bool
    """True when no version marker was present."""
    index: int | None
    """The patch's place in its series (1 in ``1/4``, 0 for a cover), or None."""
    total: int | None
    """The series length (4 in ``1/4``), or None."""
    rfc: bool
    resend: bool
    reply: tuple[str, ...]
    """Reply/forward prefixes before the first marker, canonical spelling: ``("Re", "Aw")``."""
    tags: tuple[str, ...]
    """Marker words that are not PATCH/RFC/RESEND/GIT PULL/version/counter: ``net-next``."""
    marker: str = ""
    """The bracket markers exactly as posted, from the first ``[`` to the last ``]``
    (whitespace unfolded): ``[RFC PATCH v4 05/12]``, ``[PATCH][next]``; ``""`` without
    one. What a report shows: never rebuilt from the other fields."""
    backport: str | None = None
    """The stable tree a backport is posted for (``5.4`` for ``[PATCH AUTOSEL 5.4 14/78]``,
    ``6.1`` for ``[PATCH 6.1 012/200]``, ``stable`` when no release is named), else None."""

    @property
    def is_reply(self) -> bool:
        """True when a reply or forward prefix stands before the markers."""
        return bool(self.reply)

    @property
    def is_patch(self) -> bool:
        """True when the markers say PATCH or RFC and not a pull request.

        This describes the markers only: ``Re: [PATCH] x`` is a patch subject *and*
        a reply; a patch mail proper is ``is_patch and not is_reply``.
        """
        if self.is_pull:
            return False
        return self.rfc or any(_is_patch_word(word) for word in self.prefixes)

    @property
    def is_pull(self) -> bool:
        """True for ``[GIT PULL]``, ``[PULL]``, ``[GIT,PULL]`` and the like."""
        return any(word.lower() == "pull" for word in self.prefixes)

    @property
    def is_cover(self) -> bool:
        """True for the cover letter of a series: counter ``0/N``."""
        return self.index == 0


@memoised  # replies repeat their patch's subject: read each once (texts up to 4 KiB)
def parse_subject(text: str) -> Subject:
    """Read a decoded subject line into a :class:`Subject`.

    ``text`` is the header value already RFC 2047-decoded; it may still be folded
    (newlines and tabs) — runs of space, tab, CR and LF become one space. Never
    raises for any ``str``; time is linear in ``len(text)``.
    """
    raw = _SPACE_RUN.sub(" ", text).strip(" ")
    reply, groups, first, last = _leading(raw)
    m = _Markers()
    for group in groups:
        m.read_group(group)
    return Subject(
        raw=raw,
        title=_git_title(raw),
        prefixes=tuple(m.prefixes),
        version=m.version if m.version is not None else 1,
        version_inferred=m.version is None,
        index=m.index,
        total=m.total,
        rfc=m.rfc,
        resend=m.resend,
        reply=tuple(reply),
        tags=tuple(m.tags),
        marker=raw[first:last],
        backport=_backport(m.tags) if m.tags else None,
    )


def _git_title(raw: str) -> str:
    """The subject as ``git mailinfo`` prints it, for an unfolded ``raw`` subject.

    git's rule (``cleanup_subject``), restated: at the front, drop ``re:`` in any
    case when more text follows it, drop one space, tab or colon, or drop ``[`` up
    to the first ``]`` after it; stop at anything else (or at a ``[`` with no ``]``);
    trim. Since ``raw`` is already unfolded, git's later space cleanup is a no-op.
    """
    at, n = 0, len(raw)
    while at < n:
        c = raw[at]
        if c in " \t:":
            at += 1
        elif c == "[":
            close = raw.find("]", at)
            if close < 0:
                break
            at = close + 1
        elif c in "rR" and n - at > 3 and raw[at + 1] in "eE" and raw[at + 2] == ":":
            at += 3
        else:
            break
    return raw[at:].strip(" \t\r\n")


MAX_GROUPS = 64
"""Leading bracket groups whose words are read (kernel subjects have at most a few;
the words of 21,000 ``[a]`` groups in a 64 KiB subject took 90 ms)."""
MAX_GROUP_WORDS = 64
"""Words read of one bracket group (``[PATCH RFC v2 net-next 3/7]`` has five)."""


def _leading(raw: str) -> tuple[list[str], list[str], int, int]:
    """Split the leading reply prefixes and bracket groups off ``raw``.

    Returns the canonical reply words seen before the first bracket group, the
    inner text of every bracket group, in order, and where the groups start and end
    in ``raw`` (``0, 0`` without one). Spaces and colons between them are skipped;
    reply words after a group are skipped too (git drops ``Re:`` there), but they
    belong to the patch's own subject, not to ``reply``.
    """
    reply: list[str] = []
    groups: list[str] = []
    first = last = 0
    at, n = 0, len(raw)
    while at < n:
        c = raw[at]
        if c == " " or c == ":":
            at += 1
            continue
        if c == "[":
            end = _group_end(raw, at)
            if end < 0:
                break
            if not groups:
                first = at
            if len(groups) < MAX_GROUPS:
                groups.append(raw[at + 1 : end])
            at = last = end + 1
            continue
        m = _REPLY.match(raw, at)
        if m is None:
            break
        if not groups:
            reply.append(_REPLY_WORDS[m["word"].lower()])
        at = m.end()
    return reply, groups, first, last


def _group_end(raw: str, start: int) -> int:
    """Index of the ``]`` closing the bracket group opened at ``start``, or -1.

    Normally git's first ``]``. A marker wrapped twice (``[[PATCH v2] 1/9]``: a
    group opening with ``[[``, one inner group, then the outer ``]``) is read whole.
    A ``[`` further in (mutt's forward, ``[author: [PATCH] title]``) does not nest.
    """
    close = raw.find("]", start + 1)
    if close < 0 or raw[start + 1] != "[":
        return close
    m = _DOUBLE_GROUP.match(raw, start)
    return m.end() - 1 if m else close


class _Markers:
    """Accumulates what the bracket groups say; first version and counter win."""

    __slots__ = ("prefixes", "tags", "version", "index", "total", "rfc", "resend")

    def __init__(self) -> None:
        self.prefixes: list[str] = []
        self.tags: list[str] = []
        self.version: int | None = None
        self.index: int | None = None
        self.total: int | None = None
        self.rfc = self.resend = False

    def read_group(self, inner: str) -> None:
        """Read one bracket group's words: split on spaces, commas and semicolons,
        stray brackets and a trailing colon taken off."""
        if " /" in inner or "/ " in inner:
            inner = _COUNTER_SPACES.sub(r"\1/\2", inner)
        if " of " in inner or " OF " in inner:  # Mercurial's patchbomb: "[PATCH 1 of 2]"
            inner = _COUNTER_OF.sub(r"\1/\2", inner)
        words = [w.strip("[]").rstrip(":") for w in _WORD_SPLIT.split(inner)[:MAX_GROUP_WORDS]]
        # A word with no letter or digit ("/" in "[MAINTAINERS / KERNEL SUMMIT]") says nothing.
        words = [w for w in words if any(ch.isalnum() for ch in w)]
        has_pull = any(w.lower() == "pull" for w in words)
        for word in words:
            self._read_word(word, has_pull)

    def _read_word(self, word: str, has_pull: bool) -> None:
        m = _COUNTER.fullmatch(word)
        if m:
            if self.index is None:
                self.index, self.total = int(m[1]), int(m[2])
            return
        m = _VERSION_WORD.fullmatch(word)
        if m:
            self._set_version(int(m[1]))
            return
        lower = word.lower()
        m = _GLUED.fullmatch(word)
        if m:
            self._set_version(int(m[2]))
            self._keyword(m[1].lower())
            self.prefixes.append(m[1])
            return
        if lower in ("patch", "rfc", "resend", "pull") or (lower == "git" and has_pull):
            self._keyword(lower)
        elif _COMPOUND.fullmatch(word):
            for part in _KEYWORD_PART.split(lower):
                self._keyword(part)
        else:
            self.tags.append(word)
        self.prefixes.append(word)

    def _set_version(self, version: int) -> None:
        if self.version is None:
            self.version = version

    def _keyword(self, lower: str) -> None:
        if lower == "rfc":
            self.rfc = True
        elif lower == "resend":
            self.resend = True


# A kernel release as stable trees name it: 5.4, 6.17, 2.6.32 (no leading zero: man-pages'
# "6.05" is not one), or a range of them (AUTOSEL's "6.17-6.12"), with an optional
# "linux-"/"stable-" before and a branch suffix after ("5.4.y", "v5.4.x", "4.19-stable").
_RELEASE = r"[2-9]\.(?:0|[1-9][0-9]?)(?:\.(?:0|[1-9][0-9]{0,2}))?"
_TREE = re.compile(
    rf"(?P<pre>linux-|stable-)?v?(?P<release>{_RELEASE}(?:-{_RELEASE})?)(?P<branch>[.-][xy]|-stable)?",
    re.IGNORECASE | re.ASCII,
)
_PART = re.compile(r"[-/_]")


def _backport(tags: list[str]) -> str | None:
    """The stable tree the marker words name, or None.

    ``AUTOSEL``, a ``stable`` word (``stable``, ``for-stable``, ``stable-5.10``) or a
    branch (``5.10.y``, ``v5.4.x``, ``4.19-stable``) make a backport. A bare release
    (``[PATCH 6.1 012/200]``, the stable review series) does too, unless another word
    says what it is for: ``[PATCH 5.3 regression fix]`` and ``[PATCH RESEND for 5.10]``
    are fixes for the release being prepared (linux-pwm, 2019 and 2020).
    """
    release: str | None = None
    marked = bare = free = False
    for word in tags:
        lower = word.lower()
        m = _TREE.fullmatch(word)
        if m is not None:
            release = release or m["release"]
            if m["branch"] or (m["pre"] or "").lower() == "stable-":
                marked = True
            else:
                bare = True
        elif lower == "autosel" or "stable" in _PART.split(lower):
            marked = True
        else:
            free = True
    if marked or (bare and not free):
        return release or "stable"
    return None


def _is_patch_word(word: str) -> bool:
    """True for a PATCH keyword as :func:`parse_subject` keeps it in ``prefixes``."""
    lower = word.lower()
    return lower == "patch" or (
        _COMPOUND.fullmatch(word) is not None and "patch" in _KEYWORD_PART.split(lower)
    )
