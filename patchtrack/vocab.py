"""The closed sets of words records use: kinds of mail, how a trailer reached a patch,
a series' status, revision evidence, archive layouts, how a patch landed, a series'
state upstream, problem codes.

Each is a ``str`` enum: a member *is* its value (``Kind.PATCH == "patch"``, the same
hash), prints as its value (``f"{Kind.PATCH}"`` is ``patch``), and ``json.dumps``
writes the value, so JSON, CSV and the text outputs are what they were when these
were plain strings. (Python 3.11's ``enum.StrEnum`` behaves so; 3.10 is supported,
hence the small base class here.)

``marshal`` writes no enum member: the cache codec stores the values and makes the
members again on reading, as every record's converter does (``to_kind``…: one dict
lookup, where ``Kind("patch")`` goes through ``EnumType.__call__``, ten times slower),
so a record built from plain strings holds the members too.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

__all__ = [
    "Kind", "Via", "Status", "Evidence", "Layout", "Method", "State", "ReviewSource", "Problem", "SeriesProblem",
    "TrailerRole", "to_kind", "to_via", "to_status", "to_evidence", "to_layout", "to_method", "to_state",
    "to_review_source",
]


class _Vocab(str, Enum):
    """A word of a vocabulary: a ``str`` that prints as its value."""

    def __str__(self) -> str:
        return self._value_  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    def __format__(self, spec: str) -> str:  # f"{member}" is the value on every Python version
        return format(self._value_, spec)

    # The value's hash (``Enum`` hashes the name): a member and its value are one dict key.
    __hash__ = str.__hash__


class Kind(_Vocab):
    """The kind of a mail (:attr:`Message.kind <patchtrack.Message.kind>`)."""

    PATCH = "patch"
    """A patch: a ``[PATCH n/m]`` subject, or a diff in a mail that is no reply."""
    COVER = "cover"
    """A series' cover letter (``[PATCH 0/N]``)."""
    REPLY = "reply"
    """A reply (``Re:``), to a patch or anything else."""
    PULL = "pull"
    """A pull request (``[GIT PULL]``, or git's ``request-pull`` text)."""
    OTHER = "other"
    """Anything else: bot reports, discussion, announcements."""


class Via(_Vocab):
    """How a follow-up trailer reached a patch (:attr:`Followup.via <patchtrack.Followup.via>`)."""

    REPLY = "reply"
    """A direct reply to the patch."""
    THREAD = "thread"
    """A reply further down the patch's sub-thread."""
    COVER = "cover"
    """A reply to the cover letter: given to every patch."""
    CARRIED = "carried"
    """Carried from the previous revision's patch with the same patch-id."""


class Status(_Vocab):
    """A series' place among its revisions (:attr:`Series.status <patchtrack.Series.status>`)."""

    NEW = "new"
    """No earlier revision in the archive."""
    REVISION = "revision"
    """An earlier version was found (``previous``)."""
    RESEND = "resend"
    """The same version posted again."""
    SUPERSEDED = "superseded"
    """A later revision exists (``next``)."""


class Evidence(_Vocab):
    """What links a series to its previous revision (:attr:`Series.evidence
    <patchtrack.Series.evidence>`), strongest first; :attr:`OTHER_AUTHOR` is no
    evidence but a mark after them."""

    CHANGE_ID = "change-id"
    """The same b4 ``change-id:``."""
    LINK = "link"
    """The cover letter or a patch's notes link to the earlier series."""
    IN_REPLY_TO = "in-reply-to"
    """Posted in reply to the earlier series."""
    PATCH_ID = "patch-id"
    """A patch with the same patch-id."""
    TITLE = "title"
    """The same title and author."""
    CONTENT = "content"
    """A shared patch title, or the same files explained alike (v2+, RESEND only)."""
    OTHER_AUTHOR = "other-author"
    """Marks a link to a revision whose people did not write this series' code."""


class Layout(_Vocab):
    """How a public-inbox archive is stored."""

    V2 = "v2"
    """public-inbox v2: epochs ``git/<N>.git``, one mail per commit as blob ``m``."""
    V1 = "v1"
    """The legacy ssoma layout: one repository, mails under ``<2>/<38>`` paths."""


class Method(_Vocab):
    """How a patch was matched to an upstream commit (:attr:`Landing.method
    <patchtrack.upstream.Landing.method>`), strongest first."""

    LINK = "link"
    """The commit's ``Link:``/``Message-ID:`` trailer names the mail."""
    PATCH_ID = "patch-id"
    """The same ``git patch-id --stable``, committed after the mail."""
    SUBJECT = "subject"
    """The same title and author, with the changed lines compared."""


class State(_Vocab):
    """A series' fate upstream (:attr:`SeriesTrack.state <patchtrack.SeriesTrack.state>`)."""

    APPLIED = "applied"
    """Every patch landed and the series is complete."""
    PARTLY_APPLIED = "partly applied"
    """Some patches landed (or all of an incomplete series)."""
    NOT_APPLIED = "not applied"
    """No patch landed, nor did a later revision."""
    APPLIED_LATER = "applied as a later revision"
    """None of its patches, but a revision its ``next`` links lead to, landed."""


class ReviewSource(_Vocab):
    """Where a :class:`~patchtrack.series.Review` was found."""

    POSTED = "posted"
    """In the patches as posted: their own trailers."""
    LIST = "list"
    """On the list: replies to this posting, or carried from the previous revision."""


class Problem(_Vocab):
    """The codes of :attr:`Message.problems <patchtrack.Message.problems>`
    (docs/message.md has each one's meaning).

    A problem is a plain string in a record: the code alone (``no-date``), or for a
    code that takes a detail, ``<code>:<detail>`` (``header-truncated:from``,
    ``unreadable:missing-blob``); :meth:`at` writes one, :meth:`of` reads the code
    back. ``lone-surrogate`` is both (the body's, and a header's)."""

    NO_MESSAGE_ID = "no-message-id"
    """No ``Message-ID:``."""
    NO_DATE = "no-date"
    """No ``Date:`` (the commit time is used)."""
    BAD_DATE = "bad-date"
    """An unreadable ``Date:`` (the commit time is used)."""
    NO_SENDER = "no-sender"
    """No address in ``From:``."""
    UNDECODABLE_SUBJECT = "undecodable-subject"
    """An RFC 2047 word in the subject could not be decoded."""
    HEADER_NOT_UTF8 = "header-not-utf8"
    """Raw 8-bit header bytes that are not UTF-8 (read as Latin-1)."""
    NO_BODY = "no-body"
    """No blank line after the headers."""
    NUL_BYTES = "nul-bytes"
    """NUL bytes in the mail (removed)."""
    BAD_BASE64 = "bad-base64"
    """A base64 body that does not decode."""
    UNKNOWN_TRANSFER_ENCODING = "unknown-transfer-encoding"
    """A ``Content-Transfer-Encoding`` not known (the body kept as is)."""
    BAD_UTF8 = "bad-utf8"
    """A UTF-8 body that is not UTF-8."""
    CHARSET_MISMATCH = "charset-mismatch"
    """A body that its declared charset does not decode."""
    MISSING_CHARSET = "missing-charset"
    """8-bit text without a charset."""
    UNKNOWN_CHARSET = "unknown-charset"
    """A charset not known."""
    BAD_CHARSET = "bad-charset"
    """A charset that is no text encoding."""
    NOT_TEXT = "not-text"
    """A single-part mail whose type is not text."""
    BAD_MIME = "bad-mime"
    """A broken multipart structure."""
    NO_TEXT_PART = "no-text-part"
    """No text part in a multipart mail."""
    NO_DIFF = "no-diff"
    """A ``[PATCH n/m]`` subject without a diff."""
    HEADER_TRUNCATED = "header-truncated"
    """``header-truncated:<header>``: the header was cut (``in-body``: in-body headers)."""
    BAD_ENCODED_WORD = "bad-encoded-word"
    """``bad-encoded-word:<header>``: an RFC 2047 word that does not decode."""
    LONE_SURROGATE = "lone-surrogate"
    """Lone surrogates replaced, in the body (alone) or a header (``:<header>``)."""
    BAD_ADDRESS_LIST = "bad-address-list"
    """``bad-address-list:<header>``: items read as bare addresses (``trailers`` too)."""
    MIME_TRUNCATED = "mime-truncated"
    """MIME levels, parts or boundary lines past the bounds were skipped."""
    FLOWED_TRUNCATED = "flowed-truncated"
    """A long ``format=flowed`` text with quotes, left as sent past the bound."""
    TRAILERS_TRUNCATED = "trailers-truncated"
    """Too many trailers, or lines, to read them all."""
    DIFFSTAT_TRUNCATED = "diffstat-truncated"
    """The diffstat is of the diff up to a bound."""
    PATCH_ID_SKIPPED = "patch-id-skipped"
    """The patch-id would cost too much: ``patch_id`` is null."""
    UNPARSABLE = "unparsable"
    """``unparsable:<Error>``: the parser itself failed on this mail."""
    UNREADABLE = "unreadable"
    """``unreadable:<reason>``: the archive could not give the mail (a placeholder record)."""

    def at(self, detail: str) -> str:
        """The problem ``<code>:<detail>``."""
        return f"{self._value_}:{detail}"

    @classmethod
    def of(cls, problem: str) -> Problem:
        """The code of a problem string (``header-truncated:from`` → :attr:`HEADER_TRUNCATED`);
        ``ValueError`` for a string that is no problem code."""
        return _problem(problem.partition(":")[0])

    @property
    def detail(self) -> bool:
        """Whether the code takes a ``:<detail>``."""
        return self in _WITH_DETAIL


def _problem(code: str) -> Problem:
    try:
        return _PROBLEMS[code]
    except KeyError:
        raise ValueError(f"{code!r} is not a Problem") from None


_PROBLEMS: dict[str, Problem] = Problem._value2member_map_  # type: ignore[assignment]
_WITH_DETAIL = frozenset({
    Problem.HEADER_TRUNCATED, Problem.BAD_ENCODED_WORD, Problem.LONE_SURROGATE, Problem.BAD_ADDRESS_LIST,
    Problem.UNPARSABLE, Problem.UNREADABLE,
})


class TrailerRole(_Vocab):
    """What a trailer key means to patchtrack (:data:`patchtrack.trailers.TRAILER_KEYS`)."""

    REVIEW = "review"
    """A person's review tag: counts as review of a patch (``Reviewed-by``…)."""
    PERSON = "person"
    """Names a person (``Signed-off-by``, ``Reported-by``, ``To``…)."""
    CC = "cc"
    """Names a person; a stable request when addressed to stable@ (``Cc``)."""
    FIXES = "fixes"
    """Names the commit a patch fixes (``Fixes``)."""
    LINK = "link"
    """A URL; a mail archive's names a mail (``Link``, ``Closes``, ``BugLink``)."""
    MESSAGE_ID = "message-id"
    """Names the patch's own mail by id (``Message-ID``, as ``b4 am -i`` adds)."""
    OTHER = "other"
    """Known, so spelled canonically, and nothing more (``Change-Id``)."""


class SeriesProblem(_Vocab):
    """The codes of :attr:`Series.problems <patchtrack.Series.problems>`."""

    IMPLAUSIBLE_TOTAL = "implausible-total"
    """An announced length above :data:`~patchtrack.series.MAX_TOTAL`."""
    COVER_COUNT_MISMATCH = "cover-count-mismatch"
    """A cover letter whose ``N`` is not its patches'."""


# --- converters of plain values (or members) to members, for the records' fields -------

_KIND: dict[str, Kind] = Kind._value2member_map_  # type: ignore[assignment]


def to_kind(value: str) -> Kind:
    """The :class:`Kind` member of ``value``; ``ValueError`` for another string."""
    try:
        return _KIND[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a Kind") from None


_VIA: dict[str, Via] = Via._value2member_map_  # type: ignore[assignment]


def to_via(value: str) -> Via:
    """The :class:`Via` member of ``value``; ``ValueError`` for another string."""
    try:
        return _VIA[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a Via") from None


_STATUS: dict[str, Status] = Status._value2member_map_  # type: ignore[assignment]


def to_status(value: str) -> Status:
    """The :class:`Status` member of ``value``; ``ValueError`` for another string."""
    try:
        return _STATUS[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a Status") from None


_METHOD: dict[str, Method] = Method._value2member_map_  # type: ignore[assignment]


def to_method(value: str) -> Method:
    """The :class:`Method` member of ``value``; ``ValueError`` for another string."""
    try:
        return _METHOD[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a Method") from None


_STATE: dict[str, State] = State._value2member_map_  # type: ignore[assignment]


def to_state(value: str) -> State:
    """The :class:`State` member of ``value``; ``ValueError`` for another string."""
    try:
        return _STATE[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a State") from None


_REVIEW_SOURCE: dict[str, ReviewSource] = ReviewSource._value2member_map_  # type: ignore[assignment]


def to_review_source(value: str) -> ReviewSource:
    """The :class:`ReviewSource` member of ``value``; ``ValueError`` for another string."""
    try:
        return _REVIEW_SOURCE[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a ReviewSource") from None


_LAYOUT: dict[str, Layout] = Layout._value2member_map_  # type: ignore[assignment]


def to_layout(value: str) -> Layout:
    """The :class:`Layout` member of ``value``; ``ValueError`` for another string."""
    try:
        return _LAYOUT[value]
    except KeyError:
        raise ValueError(f"{value!r} is not a Layout") from None


_EVIDENCE: dict[str, Evidence] = Evidence._value2member_map_  # type: ignore[assignment]


def to_evidence(values: Iterable[str]) -> tuple[Evidence, ...]:
    """The :class:`Evidence` members of ``values``; ``ValueError`` for another string."""
    try:
        return tuple([_EVIDENCE[v] for v in values])
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not an Evidence") from None
