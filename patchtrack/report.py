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

from .archive import Coverage
from .identity import PERSONAL_DOMAINS, DomainMap, Mailmap, Person, is_bot, organisation_domain, plain_name
from ._escape import safe_line, safe_lines
from ._report_html import to_html, to_markdown
from .message import UNREADABLE, Message
from .revisions import first_revision
from .series import Series, is_series_mail

__all__ = ["Count", "ListCount", "Report", "build_report", "lore_link", "safe_line", "safe_lines", "series_lines", "status_line"]

REVIEWERS_LISTED = 5
"""Review tags a patch-list line names per source; the commit-message section names all."""

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
                {"status": st, "marker": _marker(s), **({"upstream": up} if self.upstream else {}), **s.to_dict()}
                for st, up, s in zip(self.statuses, self.upstream or (None,) * len(self.series), self.series)
            ],
        }

    def to_text(self) -> str:
        """The plain-text report, in the reference layout; mail text cannot act on a
        terminal (see :func:`safe_line`)."""
        out = [self.span[:1].upper() + self.span[1:], self.title, ""]
        out += [f"Counted: {self.counted} {COUNTED}.", ""]
        out += [line for line in self.lists_lines()]
        if self.lost_line:
            out += [self.lost_line, ""]
        out += [f"Top {len(self.domains)} contributor email domains (by author)", ""]
        out += [f"{c.count:>7} {c.label}" for c in self.domains] or ["     (no patch mail in this range)"]
        out += ["", f"Top {len(self.contributors)} contributors (by author)", ""]
        out += [f"{c.count:>7}  {c.label}" for c in self.contributors] or ["     (no patch mail in this range)"]
        if self.bots:
            out += ["", "Bots (kept out of the rankings above)", ""]
            out += [f"{c.count:>7}  {c.label}" for c in self.bots]
        out += ["", "===== Patch list in this time period =====", ""]
        if not self.series:
            out.append("No patch or cover letter was posted in this range.")
        out += series_lines(self)
        out += ["", "===== Patch commit messages =====", ""]
        for block in self.blocks():
            out += [*block, "-" * 70, ""]
        return safe_lines(out).rstrip() + "\n"

    def lists_lines(self) -> list[str]:
        """The per-list breakdown and where review state was read, as text lines
        (with a blank line after), or none for a report of one inbox."""
        out = []
        if len(self.lists) > 1:
            out.append("Per list (a mail several lists carried counts in each): " + ", ".join(
                f"{c.list} {c.mails} mails, {c.counted} counted" for c in self.lists) + ".")
        if self.also_from:
            out.append("Review state and revisions also read from: " + ", ".join(self.also_from) + ".")
        return [*out, ""] if out else []

    def to_markdown(self) -> str:
        """The report as GitHub-flavoured Markdown; mail text is escaped (it cannot
        become HTML, a link or a heading) and cannot act on a terminal."""
        return to_markdown(self)

    def to_html(self) -> str:
        """The report as one self-contained HTML page with its charts."""
        return to_html(self)

    def _repr_html_(self) -> str:  # Jupyter
        """The notebook view: a fragment with scoped styles, summary first, the
        rest folded (:func:`patchtrack._report_html.report_fragment`)."""
        from ._report_html import report_fragment

        return report_fragment(self)

    def __repr__(self) -> str:
        mails = sum(n for _, n in self.per_day)
        return f"<Report {self.list_name} {self._repr_range()} {mails} mails {len(self.series)} series>"

    def _repr_range(self) -> str:
        """The resolved range as :meth:`__repr__` shows it: the first and last commits
        (short ids, as the title gives them)."""
        return f"{(self.start or '')[:9]}..{(self.end or '')[:9]}"

    def blocks(self) -> list[list[str]]:
        """Per series, the lines of its commit-message section."""
        return [_series_block(status, s, self.list_name) for status, s in zip(self.statuses, self.series)]


def series_lines(report: Report) -> list[str]:
    """One patch-list line per series: status, marker, title, author, size, reviews."""
    states = report.upstream or (None,) * len(report.series)
    return [
        _list_line(status, s, report.list_name) + (f" [{state} upstream]" if state else "")
        for status, state, s in zip(report.statuses, states, report.series)
    ]


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


def _marker(s: Series) -> str:
    """The series' marker as its head mail (cover, else first patch) posted it —
    ``[PATCH v2 00/12]``, ``[RFC PATCH v4 5/4]``, ``[PATCH AUTOSEL 5.4 14/78]`` —
    never rebuilt from the parsed fields; ``""`` when that mail had none."""
    return s.head.subject.marker


def _person(p: Person | None) -> str:
    if p is None:
        return "unknown"
    return f"{p.name} <{p.email}>" if p.name else f"<{p.email}>"


def _byline(s: Series) -> str:
    """The patches' author, who sent the series when that is someone else, and how
    many other people wrote patches of it."""
    line = _person(s.written_by)
    if s.sent_by is not None:
        line += f", sent by {_person(s.sent_by)}"
    others = len(s.authors) - 1 if s.written_by is not None and s.authors else 0
    if others > 0:
        line += f", with {others} other author{'s' if others > 1 else ''}"
    return line


def _changes(s: Series) -> tuple[int, int]:
    stats = [p.diffstat for p in s.patches if p.diffstat is not None]
    return sum(d.insertions for d in stats), sum(d.deletions for d in stats)


def _review(s: Series, most: int | None = None) -> list[str]:
    """The review state, as posted and on the list, each a part (none when there is
    none): ``as posted: Reviewed-by Ann (2 of 3 patches); on the list: Acked-by Bo``.
    With ``most``, each part names that many people, widest review first, and counts
    the others (a 37-patch series carried 22 tags as posted)."""
    parts = []
    for source, reviews in (("as posted", s.posted_reviews), ("on the list", s.list_reviews)):
        ranked = sorted(reviews, key=lambda r: -len(r.patches)) if most is not None else list(reviews)
        named = []
        for r in ranked[:most]:
            covers = "" if len(r.patches) >= len(s.patches) else f" ({len(r.patches)} of {len(s.patches)} patches)"
            named.append(f"{r.key} {plain_name(r.person.name) or r.person.email}{covers}")
        if most is not None and len(ranked) > most:
            named.append(f"{len(ranked) - most} more")
        if named:
            parts.append(f"{source}: " + ", ".join(named))
    return parts


def _list_line(status: str, s: Series, list_name: str) -> str:
    plus, minus = _changes(s)
    line = f"{status}: {' '.join(x for x in (_marker(s), s.title) if x)} — {_byline(s)} ({len(s.patches)} of {s.total} patches, +{plus}/-{minus})"
    mails = [p.message for p in s.patches]
    flags = [flag for flag, hit in (("Fixes", any(m.fixes for m in mails)), ("Cc: stable", any(m.stable for m in mails))) if hit]
    extra = ["; ".join(_review(s, REVIEWERS_LISTED)) or "no review"]
    extra += flags
    if "cover-count-mismatch" in s.problems and s.cover is not None:
        extra.append(f"cover letter says {s.cover.subject.total} patches")
    if s.previous is not None:
        extra.append(f"previous v{s.previous.version}: {lore_link(list_name, s.previous.msgid)}")
    return line + "".join(f" [{x}]" for x in extra)


def _graph(added: int, removed: int, width: int) -> str:
    total = added + removed
    if total <= width:
        return "+" * added + "-" * removed
    plus = round(added * width / total)
    return "+" * plus + "-" * (width - plus)


def _diffstat(message: Message) -> list[str]:
    stat = message.diffstat
    if stat is None:
        return []
    width = max((len(f.path) for f in stat.files), default=0)
    lines = []
    for f in stat.files:
        changed = "Bin" if f.binary else f"{f.added + f.removed} {_graph(f.added, f.removed, 40)}"
        lines.append(f" {f.path:<{width}} | {changed}".rstrip())
    n = len(stat.files)
    summary = f" {n} file{'s' if n != 1 else ''} changed"
    if stat.insertions:
        summary += f", {stat.insertions} insertion{'s' if stat.insertions != 1 else ''}(+)"
    if stat.deletions:
        summary += f", {stat.deletions} deletion{'s' if stat.deletions != 1 else ''}(-)"
    return lines + [summary]


def _markers(message: Message) -> list[str]:
    found = [f"Fixes: {f.sha[:12]}" + (f' ("{f.title}")' if f.title else "") for f in message.fixes]
    found += ["Cc: stable" + (f" # {r.spec}" if r.spec else "") for r in message.stable]
    return found


def _series_block(status: str, s: Series, list_name: str) -> list[str]:
    out = [f"{status}:  {s.title}", f"By: {_byline(s)}"]
    out += [f"Review {part}" for part in _review(s)]
    out.append("")
    mails = ([s.cover] if s.cover is not None else []) + [p.message for p in s.patches]
    for m in mails:
        out += [m.subject.raw, f"Author: {_person(m.author)}", f"Link: {lore_link(list_name, m.msgid)}"]
        out += [f"Marker: {x}" for x in _markers(m)]
        out.append("")
        text = m.commit_message if m.kind == "patch" and m.commit_message else m.body
        lines = (text or "").rstrip().splitlines()
        out += lines[1:] if m.kind == "patch" and lines else lines  # a patch's first line is its subject
        stat = _diffstat(m)
        if stat:
            out += ["---", *stat]
        out.append("")
    return out


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
