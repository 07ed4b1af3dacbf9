"""Series and messages of a range → the "mailing list update" report: the last stage.

The layout follows the reports maintainers already read (a title, the top contributor
domains and contributors, the patch list, the commit messages), and fixes what those
get wrong: names are decoded, the patch list is never silently empty, and each
series' status says what is true — ``New``, ``v5 revision`` of a series first seen on a
date, ``Resend`` — with its review state, ``Fixes:``/``Cc: stable`` markers and a lore
link per message.

:func:`build_report` is pure: it takes the messages of the range and the series
assembled from the whole archive. :meth:`patchtrack.Inbox.report` does the reading.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import attrs

from . import _views
from .archive import Coverage
from .identity import PERSONAL_DOMAINS, DomainMap, Mailmap, Person, is_bot, organisation_domain, plain_name
from ._escape import safe_line, safe_lines
from .message import UNREADABLE, Message
from .revisions import first_revision
from .series import Series, is_series_mail

__all__ = ["COUNTED", "Count", "ListCount", "Report", "build_report", "lore_link", "safe_line", "safe_lines", "status_line"]

COUNTED = "patch and cover-letter mails of the range (not replies), one per mail, by author (in-body From:, else From:)"


@attrs.frozen
class Count:
    """One row of a ranking: a label (a domain, or ``Name <address>``) and its count."""

    label: str
    count: int
    domain: str | None = None
    """In the domain ranking: the organisation's domain (``ibm.com``), or ``None`` for
    an organisation a domain map named (then ``label`` is its name)."""
    personal: bool = False
    """In the domain ranking: a free-mail domain (:data:`PERSONAL_DOMAINS`)."""


@attrs.frozen
class ListCount:
    """One list's share of a report of several lists: the mails of the range it
    carried, and how many of them are counted (patches and cover letters)."""

    list: str
    mails: int
    counted: int


@attrs.frozen
class Report:
    """The list update for a range: what was counted, the rankings and the series.

    ``start``/``end`` are the first and last commit walked (full ids; ``None`` when
    the report was built from mails alone, or the range held no commit) and
    ``coverage`` the whole resolved range (per epoch, the window, the cursor and the
    tips that continue it); ``dates`` the ``Date:`` span of the range's mails. The
    title is made of these, never of the revisions or dates as typed."""

    list_name: str
    start: str | None
    end: str | None
    counted: int
    domains: tuple[Count, ...]
    contributors: tuple[Count, ...]
    series: tuple[Series, ...]
    statuses: tuple[str, ...]
    """One status line per series, in the order of ``series``."""
    bots: tuple[Count, ...] = ()
    """Robots among the authors, kept out of the rankings (unless asked in)."""
    per_day: tuple[tuple[str, int], ...] = ()
    """Every mail of the range (replies too) by day (UTC), for the HTML chart."""
    upstream: tuple[str | None, ...] = ()
    """With an upstream repository: each series' state there (``applied``, ``partly
    applied``, ``not applied``, ``applied as a later revision``), in the order of
    ``series``; empty without one."""
    unreadable: int = 0
    """Mails of the range the archive could not give (a missing or corrupt object):
    in no count above, since what they were is unknown."""
    coverage: Coverage | None = None
    """The range resolved (:class:`~patchtrack.inbox.Coverage`), when the report was
    made from a walk."""
    dates: tuple[datetime, datetime] | None = None
    """The earliest and latest ``Date:`` of the range's mails (replies too; mails
    that could not be read left out), or ``None`` when none has one."""
    lists: tuple[ListCount, ...] = ()
    """Of an archive of many lists (:meth:`patchtrack.Archive.report`): per list
    selected, the mails of the range it carried. Each mail is counted once in the
    report however many lists carried it, and in each list's row here."""
    also_from: tuple[str, ...] = ()
    """The archive's other lists, whose mail (replies, reviews, revisions) the
    series' review state and status were also read from."""

    @property
    def lost_line(self) -> str | None:
        """What the counts leave out, in words, or ``None`` when nothing was lost."""
        if not self.unreadable:
            return None
        return (f"Not counted: {self.unreadable} mail(s) of the range could not be read from the archive "
                "(missing or corrupt objects).")

    @property
    def lists_lines(self) -> list[str]:
        """Of an archive of many lists: the per-list breakdown and where review state
        was read, in words (a line each); none for a report of one inbox."""
        out = []
        if len(self.lists) > 1:
            out.append("Per list (a mail several lists carried counts in each): " + ", ".join(
                f"{c.list} {c.mails} mails, {c.counted} counted" for c in self.lists) + ".")
        if self.also_from:
            out.append("Review state and revisions also read from: " + ", ".join(self.also_from) + ".")
        return out

    @property
    def span(self) -> str:
        """What the report covers, in words: the commits walked (``from ed37f1cc5 to
        131572024``, per epoch when several), the window and the cursor, then the
        ``Date:`` span (``mail dated 2025-08-31 to 2025-09-01``)."""
        parts = [self.coverage.words()] if self.coverage is not None else []
        if self.dates is not None:
            first, last = (d.astimezone(timezone.utc).date().isoformat() for d in self.dates)
            parts.append(f"mail dated {first}" + (f" to {last}" if last != first else ""))
        elif self.coverage is None or self.coverage.spans:
            parts.append("no dated mail")
        return ", ".join(parts)

    @property
    def title(self) -> str:
        """``<list> mailing list update <span>``: the one title every format shows."""
        return f"{self.list_name} mailing list update {self.span}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``docs/report.md``)."""
        return {
            "title": self.title,
            "list": self.list_name,
            "start": self.start,
            "end": self.end,
            "range": {
                **(self.coverage.to_dict() if self.coverage is not None else {"start": None, "end": None}),
                "dates": {"first": _utc_iso(self.dates[0]), "last": _utc_iso(self.dates[1])} if self.dates else None,
            },
            "counted": COUNTED,
            "counted_messages": self.counted,
            "unreadable_messages": self.unreadable,
            **({"lists": [attrs.asdict(c) for c in self.lists]} if self.lists else {}),
            **({"review_also_from": list(self.also_from)} if self.also_from else {}),
            "domains": [_domain_row(c) for c in self.domains],
            "contributors": [{"contributor": c.label, "count": c.count} for c in self.contributors],
            "bots": [{"bot": c.label, "count": c.count} for c in self.bots],
            "per_day": [{"day": day, "messages": n} for day, n in self.per_day],
            "series": [
                {"status": st, "marker": s.head.subject.marker, **({"upstream": up} if self.upstream else {}), **s.to_dict()}
                for st, up, s in zip(self.statuses, self.upstream or (None,) * len(self.series), self.series)
            ],
        }

    # The renderings live in patchtrack._render, which imports this module: a report
    # reaches them through the views that module registers (patchtrack._views).

    def to_text(self) -> str:
        """The plain-text report, in the reference layout; mail text cannot act on a
        terminal (see :func:`safe_line`)."""
        return _views.text(self)

    def to_markdown(self) -> str:
        """The report as GitHub-flavoured Markdown; mail text is escaped (it cannot
        become HTML, a link or a heading) and cannot act on a terminal."""
        return _views.markdown(self)

    def to_html(self) -> str:
        """The report as one self-contained HTML page with its charts."""
        return _views.page(self)

    def _repr_html_(self) -> str:  # Jupyter
        """The notebook view: a fragment with scoped styles, summary first, the
        rest folded (:func:`patchtrack._render.report_fragment`)."""
        return _views.html(self)

    def __repr__(self) -> str:
        mails = sum(n for _, n in self.per_day)
        return f"<Report {self.list_name} {self._repr_range()} {mails} mails {len(self.series)} series>"

    def _repr_range(self) -> str:
        """The resolved range as :meth:`__repr__` shows it: the first and last commits
        (short ids, as the title gives them)."""
        return f"{(self.start or '')[:9]}..{(self.end or '')[:9]}"

def lore_link(list_name: str, msgid: str) -> str:
    """``https://lore.kernel.org/<list>/<msgid>/``, the id percent-encoded where a URL
    path segment needs it (``/``, ``%``, ``?``, ``#``, quotes, angle brackets, spaces,
    non-ASCII; ``+``, ``=``, ``@`` and the like stay as lore writes them)."""
    return f"https://lore.kernel.org/{_segment(list_name)}/{_segment(msgid)}/"


_PCHAR = "!$&'()*+,;=:@"
"""What RFC 3986 allows in a path segment besides letters, digits and ``-._~``."""
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@]*")


def _segment(text: str) -> str:
    # nearly every id needs no quoting, and quote() costs 5 µs (0.1 s a linux-pwm report)
    return text if _PLAIN_SEGMENT.fullmatch(text) else quote(text, safe=_PCHAR)


def status_line(series: Series, by_id: dict[str, Series]) -> str:
    """``New``, ``Resend``, ``v5 revision of a series first seen on 2025-08-25``, or
    for a series whose earlier revisions the archive lacks ``v18, earlier revisions
    not in this archive`` (never ``New``); ``, superseded by v6`` when a later
    revision exists. A stable backport (``[PATCH AUTOSEL 5.4 14/78]``) is ``Backport to
    5.4`` (``Stable backport`` when no release is named): the original author's work
    posted for another tree, not a resend of it."""
    backport = series.head.subject.backport
    if backport is not None:
        line = "Stable backport" if backport == "stable" else f"Backport to {backport}"
        if series.previous is not None:
            line += f", again (first posted {series.previous.date.date().isoformat()})" if series.previous.date else ", again"
    elif series.previous is None:
        if series.version > 1:
            line = f"v{series.version}, earlier revisions not in this archive"
        elif series.resend:
            line = "Resend, the earlier posting not in this archive"
        else:
            line = "New"
    elif series.previous.version == series.version:
        line = "Resend"
    else:
        first = first_revision(series, by_id)
        when = first.first_date.date().isoformat() if first.first_date else "an unknown date"
        since = f" (as v{first.version})" if first.version > 1 else ""
        line = f"v{series.version} revision of a series first seen on {when}{since}"
    if series.next is not None:
        line += f", superseded by v{series.next.version}"
    return line


def _rank(labels: Iterable[str], top: int) -> tuple[Count, ...]:
    counts = Counter(labels)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Count(label, n) for label, n in ranked[:top])


def build_report(
    list_name: str,
    messages: Sequence[Message],
    series: Sequence[Series],
    *,
    coverage: Coverage | None = None,
    top: int = 15,
    mailmap: Mailmap | None = None,
    domain_map: DomainMap | None = None,
    include_bots: bool = False,
    merge_names: bool = True,
    upstream: Mapping[str, str] | None = None,
    lists: Sequence[str] = (),
    also_from: Sequence[str] = (),
) -> Report:
    """The report over ``messages`` (the mails of the range), listing the ``series``
    that have a patch or cover letter among them (``series`` are assembled from the
    whole archive, so their revisions and status are known). The list's name is the
    one most mails give in ``List-Id:``, else ``list_name``; with ``lists`` (the
    lists of an archive of many that the report covers: its per-list breakdown),
    their names. ``also_from`` names the archive's other lists, read for review state.

    ``mailmap`` merges one person's addresses, and so (unless ``merge_names`` is
    off) does the same full name; ``domain_map`` names organisations (free-mail
    domains are shown as personal); robots are listed apart unless ``include_bots``.
    ``coverage`` is the range the messages were walked from (``Walk.coverage``): the
    title names its commits; without it, the title gives the mails' ``Date:`` span
    alone."""
    ids = Counter(m.list_id.split(".")[0] for m in messages if m.list_id)
    if lists:  # an archive of many lists names its lists (a mail's content is one list's copy)
        list_name = ", ".join(lists)
    elif ids:
        list_name = ids.most_common(1)[0][0]
    counted = [m for m in messages if is_series_mail(m)]
    authors = [(m.author or m.sender, m) for m in counted]
    mapped = [(mailmap.map(a) if mailmap else a, m) for a, m in authors if a is not None]
    people = _merge_by_name(mapped) if merge_names else mapped
    # a mail's domain is its own address's: a name shared with another address moves
    # the mail to that person's row, not to that address's organisation
    ranked = [(p, mapped[i][0], m) for i, (p, m) in enumerate(people) if include_bots or not is_bot(p)]
    bots = [p for p, _ in people if is_bot(p)]
    names = _usual_names([p for p, _, _ in ranked] + bots)
    inside = {m.oid for m in counted}
    listed = tuple(s for s in series if any(m.oid in inside for m in s.messages))
    by_id = {s.id: s for s in series}
    return Report(
        list_name=list_name,
        start=coverage.start if coverage is not None else None,
        end=coverage.end if coverage is not None else None,
        coverage=coverage,
        dates=_date_span(messages),
        counted=len(counted),
        domains=_rank_domains((_domain(own, m, domain_map) for _, own, m in ranked), top),
        contributors=_rank((_label(p, names) for p, _, _ in ranked), top),
        bots=_rank((_label(p, names) for p in bots), top) if not include_bots else (),
        per_day=tuple(sorted(Counter(m.date.astimezone(timezone.utc).date().isoformat() for m in messages if m.date).items())),
        series=listed,
        statuses=tuple(status_line(s, by_id) for s in listed),
        upstream=tuple(upstream.get(s.id) for s in listed) if upstream is not None else (),
        unreadable=sum(m.problems[0].startswith(UNREADABLE) for m in messages if m.problems),
        lists=tuple(
            ListCount(name, sum(name in m.lists for m in messages), sum(name in m.lists for m in counted))
            for name in lists
        ),
        also_from=tuple(also_from),
    )


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def _date_span(messages: Sequence[Message]) -> tuple[datetime, datetime] | None:
    """The earliest and latest ``Date:`` among ``messages`` (not the arrival times
    that stand in for unreadable mails' dates)."""
    dates = [m.date for m in messages if m.date is not None and not (m.problems and m.problems[0].startswith(UNREADABLE))]
    return (min(dates), max(dates)) if dates else None


def _merge_by_name(people: list[tuple[Person, Message]]) -> list[tuple[Person, Message]]:
    """One line per person: addresses used under the same full name (two words or
    more, case and a trailing ``(Affiliation)`` aside) count under that name's most
    used address."""
    used: dict[str, Counter[str]] = {}
    keys = [plain_name(p.name).casefold() for p, _ in people]
    for (p, _), key in zip(people, keys):
        if len(key.split()) >= 2:
            used.setdefault(key, Counter())[p.email] += 1
    main = {name: emails.most_common(1)[0][0] for name, emails in used.items()}
    return [(Person(p.name, main.get(key, p.email)), m) for (p, m), key in zip(people, keys)]


def _usual_names(people: list[Person]) -> dict[str, str]:
    """Each address's most frequent name (without an ``(Affiliation)``), so a mail
    without a name (or with a variant) still counts under the person's usual name."""
    seen: dict[str, Counter[str]] = {}
    for p in people:
        if p.name:
            seen.setdefault(p.email, Counter())[plain_name(p.name)] += 1
    return {email: names.most_common(1)[0][0] for email, names in seen.items()}


def _domain(person: Person, message: Message, domain_map: DomainMap | None) -> tuple[str | None, str]:
    """``(domain, label)``: with a map, the organisation on the mail's date (domain
    ``None``); else the organisation's domain by the Public Suffix List
    (``linux.vnet.ibm.com`` → ``ibm.com``)."""
    if domain_map is not None:
        day = message.date.date().isoformat() if message.date else None
        org = domain_map.organisation(person.email, day)
        if org:
            return None, org
    domain = organisation_domain(person.domain)
    return domain, domain


def _rank_domains(found: Iterable[tuple[str | None, str]], top: int) -> tuple[Count, ...]:
    """The domain ranking; free-mail domains say so in their label."""
    counts = Counter(found)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0][1]))[:top]
    return tuple(
        Count(f"{label} (personal)" if domain in PERSONAL_DOMAINS else label, n, domain, domain in PERSONAL_DOMAINS)
        for (domain, label), n in ranked
    )


def _domain_row(c: Count) -> dict[str, Any]:
    """A domain ranking row for JSON: ``domain`` is a domain only (``None`` for an
    organisation from a domain map, named in ``organisation``); ``personal`` apart."""
    row: dict[str, Any] = {"domain": c.domain, "personal": c.personal, "count": c.count}
    if c.domain is None:
        row["organisation"] = c.label
    return row


def _label(person: Person, names: dict[str, str]) -> str:
    name = names.get(person.email, "")
    return f"{name} <{person.email}>" if name else f"<{person.email}>"
