"""Text, Markdown and HTML renderings of the records: a :class:`~patchtrack.report.Report`
as text, Markdown, an HTML page and a notebook view, and the notebook views of a
:class:`~patchtrack.series.Series` and a :class:`~patchtrack.message.Message`.

This module imports the records and they never import it: it registers its
renderings as the records' views (:mod:`patchtrack._views`), which ``Report.to_text()``,
``to_markdown()``, ``to_html()`` and every ``_repr_html_`` call.

The HTML page is one file with inline CSS and inline SVG charts (mail over time, top
domains): no script, no network, readable in any browser. The notebook view
(:func:`report_fragment`) is a fragment of the same parts: its styles are scoped under
one class, so it cannot restyle the notebook around it, and it leaves the commit
messages to the page (``Report.to_html()``) to stay small.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from html import escape

from . import _views
from ._escape import md_code_block, md_inline, safe_line, safe_lines
from .identity import Person, plain_name
from .message import Message
from .report import COUNTED, Count, Report, lore_link
from .series import Patch, RevisionLink, Series

__all__ = [
    "to_text", "to_markdown", "to_html", "report_fragment", "series_html", "message_html",
    "series_lines", "blocks", "marker", "byline", "changes", "review", "bins",
    "SCOPE", "STYLE", "PAGE_STYLE", "REVIEWERS_LISTED",
]

REVIEWERS_LISTED = 5
"""Review tags a patch-list line names per source; the commit-message section names all."""

SCOPE = "patchtrack"
"""The class every HTML rendering's root element carries; every CSS rule is under it."""

STYLE = (
    f".{SCOPE}{{font-family:sans-serif;line-height:1.35}}"
    f".{SCOPE} table{{border-collapse:collapse;margin:.3em 0}}"
    f".{SCOPE} td,.{SCOPE} th{{padding:2px 8px;text-align:left;vertical-align:top}}"
    f".{SCOPE} th{{border-bottom:1px solid #999}}"
    f".{SCOPE} td.n,.{SCOPE} th.n{{text-align:right;white-space:nowrap}}"
    f".{SCOPE} table.patches tr:nth-child(even) td{{background:#f3f5f8}}"
    # the patch list's columns by place (a class on every cell was 2 KB of a notebook view)
    f".{SCOPE} table.patches td:nth-child(1){{min-width:7em}}"
    f".{SCOPE} table.patches td:nth-child(2){{font-family:monospace;font-size:.9em;min-width:8em}}"
    f".{SCOPE} table.patches td:nth-child(3){{min-width:11em}}"
    f".{SCOPE} table.patches td:nth-child(4){{min-width:9em;overflow-wrap:break-word}}"
    f".{SCOPE} div.wide{{overflow-x:auto}}"
    f".{SCOPE} table.patches td:nth-child(n+5):nth-child(-n+6){{text-align:right;white-space:nowrap}}"
    f".{SCOPE} table.patches td:nth-child(7){{min-width:12em}}"
    f".{SCOPE} td.links a{{white-space:nowrap}}"
    f".{SCOPE} .muted{{color:#666}}"
    f".{SCOPE} svg{{max-width:100%;height:auto}}"
    f".{SCOPE} summary{{cursor:pointer;font-weight:bold}}"
    f".{SCOPE}:not(.page) h2{{font-size:1.1em;margin:.6em 0 .2em}}"
    f"@media (max-width:700px){{.{SCOPE} table.patches td:nth-child(4),.{SCOPE} table.patches th:nth-child(4){{display:none}}}}"
)
"""The CSS of every HTML rendering: each rule is scoped under :data:`SCOPE`."""

PAGE_STYLE = STYLE + (
    f".{SCOPE}.page{{max-width:80em;margin:2em auto;padding:0 1em}}"
    f".{SCOPE} pre{{background:#f6f6f6;padding:1em;overflow-x:auto;white-space:pre-wrap}}"
    f".{SCOPE} section.series{{border-top:1px solid #ccc;margin-top:1.5em}}"
)
"""The page's CSS: :data:`STYLE` and the rules of what only the page has."""

CHART_COLOUR = "#66aa55"
"""The fill of the mail-over-time columns (the browser tests look for it)."""

DOMAIN_COLOUR = "#4477aa"
"""The fill of the top-domains bars (the browser tests look for it)."""

AXIS_COLOUR = "#333333"

NO_MAIL = "No mail in this range."

DAY_BINS = 92
"""The longest range (in days) charted one column per day; up to :data:`WEEK_BINS`
weeks it is one column per week (Monday to Sunday), beyond that one per month: a
column stays at least ~5 px wide in the 588 px plot, up to 10 years of months."""

WEEK_BINS = 104

FRAGMENT_ROWS = 25
"""The patch-list rows a notebook view shows; the page has them all. kvm-ppc's last
200 mails (25 series, the table 9 KB) make a 16.7 KB view."""

_LORE_URL = re.compile(r"https://(?:lore\.kernel\.org|patch\.msgid\.link)/[^\s<>\"'&]*[^\s<>\"'&.,;:)\]]")
"""A lore or patch.msgid.link URL in *escaped* text: an ``&`` (``&lt;``, ``&gt;``,
``&quot;``, ``&amp;``) ends it, and so does trailing punctuation."""


def _html_text(text: str) -> str:
    """HTML-escaped, control characters shown (:func:`safe_line`): the page may be
    printed on a terminal."""
    return escape(safe_line(text))


def _linked(escaped: str) -> str:
    """Escaped text with each lore URL in it made a link."""
    return _LORE_URL.sub(lambda m: f'<a href="{m.group()}">{m.group()}</a>', escaped)


# --- a series, in words (every rendering shows these) ------------------------------------


def marker(s: Series) -> str:
    """The series' marker as its head mail (cover, else first patch) posted it —
    ``[PATCH v2 00/12]``, ``[RFC PATCH v4 5/4]``, ``[PATCH AUTOSEL 5.4 14/78]`` —
    never rebuilt from the parsed fields; ``""`` when that mail had none."""
    return s.head.subject.marker


def _person(p: Person | None) -> str:
    if p is None:
        return "unknown"
    return f"{p.name} <{p.email}>" if p.name else f"<{p.email}>"


def byline(s: Series) -> str:
    """The patches' author, who sent the series when that is someone else, and how
    many other people wrote patches of it."""
    line = _person(s.written_by)
    if s.sent_by is not None:
        line += f", sent by {_person(s.sent_by)}"
    others = len(s.authors) - 1 if s.written_by is not None and s.authors else 0
    if others > 0:
        line += f", with {others} other author{'s' if others > 1 else ''}"
    return line


def changes(s: Series) -> tuple[int, int]:
    """The lines the series' patches add and remove."""
    stats = [p.diffstat for p in s.patches if p.diffstat is not None]
    return sum(d.insertions for d in stats), sum(d.deletions for d in stats)


def review(s: Series, most: int | None = None) -> list[str]:
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


# --- text --------------------------------------------------------------------------------


def _list_line(status: str, s: Series, list_name: str) -> str:
    plus, minus = changes(s)
    line = f"{status}: {' '.join(x for x in (marker(s), s.title) if x)} — {byline(s)} ({len(s.patches)} of {s.total} patches, +{plus}/-{minus})"
    mails = [p.message for p in s.patches]
    flags = [flag for flag, hit in (("Fixes", any(m.fixes for m in mails)), ("Cc: stable", any(m.stable for m in mails))) if hit]
    extra = ["; ".join(review(s, REVIEWERS_LISTED)) or "no review"]
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
    out = [f"{status}:  {s.title}", f"By: {byline(s)}"]
    out += [f"Review {part}" for part in review(s)]
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


def series_lines(report: Report) -> list[str]:
    """One patch-list line per series: status, marker, title, author, size, reviews."""
    states = report.upstream or (None,) * len(report.series)
    return [
        _list_line(status, s, report.list_name) + (f" [{state} upstream]" if state else "")
        for status, state, s in zip(report.statuses, states, report.series)
    ]


def blocks(report: Report) -> list[list[str]]:
    """Per series, the lines of its commit-message section."""
    return [_series_block(status, s, report.list_name) for status, s in zip(report.statuses, report.series)]


def to_text(report: Report) -> str:
    """The plain-text report, in the reference layout; mail text cannot act on a
    terminal (see :func:`~patchtrack._escape.safe_line`)."""
    out = [report.span[:1].upper() + report.span[1:], report.title, ""]
    out += [f"Counted: {report.counted} {COUNTED}.", ""]
    if report.lists_lines:
        out += [*report.lists_lines, ""]
    if report.lost_line:
        out += [report.lost_line, ""]
    out += [f"Top {len(report.domains)} contributor email domains (by author)", ""]
    out += [f"{c.count:>7} {c.label}" for c in report.domains] or ["     (no patch mail in this range)"]
    out += ["", f"Top {len(report.contributors)} contributors (by author)", ""]
    out += [f"{c.count:>7}  {c.label}" for c in report.contributors] or ["     (no patch mail in this range)"]
    if report.bots:
        out += ["", "Bots (kept out of the rankings above)", ""]
        out += [f"{c.count:>7}  {c.label}" for c in report.bots]
    out += ["", "===== Patch list in this time period =====", ""]
    if not report.series:
        out.append("No patch or cover letter was posted in this range.")
    out += series_lines(report)
    out += ["", "===== Patch commit messages =====", ""]
    for block in blocks(report):
        out += [*block, "-" * 70, ""]
    return safe_lines(out).rstrip() + "\n"


# --- Markdown ----------------------------------------------------------------------------


def to_markdown(report: Report) -> str:
    """GitHub-flavoured Markdown: headings, ranking tables, the patch list."""

    out = [f"# {md_inline(report.title)}", "", f"Counted: {report.counted} {md_inline(COUNTED)}.", ""]
    out += [item for line in report.lists_lines for item in (md_inline(line), "")]
    if report.lost_line:
        out += [md_inline(report.lost_line), ""]
    for heading, rows, what in (
        ("Top contributor email domains", report.domains, "domain"),
        ("Top contributors", report.contributors, "contributor"),
        ("Bots (kept out of the rankings)", report.bots, "bot"),
    ):
        if not rows and what == "bot":
            continue
        out += [f"## {heading}", ""]
        if rows:
            out += [f"| count | {what} |", "|---:|---|"] + [f"| {c.count} | {md_inline(c.label)} |" for c in rows]
        else:
            out.append("No patch mail in this range.")
        out.append("")
    out += ["## Patch list in this time period", ""]
    if not report.series:
        out.append("No patch or cover letter was posted in this range.")
    out += [f"- {md_inline(line)}" for line in series_lines(report)]
    out += ["", "## Patch commit messages", ""]
    for block in blocks(report):
        out += [md_code_block(block), ""]
    return "\n".join(out).rstrip() + "\n"


# --- charts ---------------------------------------------------------------------------


def _bars(rows: list[tuple[str, int]], *, width: int = 640, bar: int = 18, label_width: int = 220) -> str:
    """A horizontal bar chart as inline SVG, each bar labelled and counted."""
    top = max((n for _, n in rows), default=1) or 1
    height = bar * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, n) in enumerate(rows):
        y = 5 + i * bar
        w = max(1, round((width - label_width - 50) * n / top))
        parts.append(f'<text x="{label_width - 6}" y="{y + bar - 6}" text-anchor="end" font-size="12">{_html_text(label)}</text>')
        parts.append(f'<rect class="bar" x="{label_width}" y="{y + 2}" width="{w}" height="{bar - 4}" fill="{DOMAIN_COLOUR}"/>')
        parts.append(f'<text x="{label_width + w + 4}" y="{y + bar - 6}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def bins(per_day: Sequence[tuple[str, int]]) -> tuple[str, list[tuple[date, int]]]:
    """The mail of ``per_day`` (``(YYYY-MM-DD, n)``, in date order) on a calendar:
    ``(unit, [(first day of the bin, n), …])`` with ``unit`` ``day`` for a range of
    up to :data:`DAY_BINS` days, ``week`` (from Monday) up to :data:`WEEK_BINS`
    weeks, else ``month``; every bin from the first to the last, 0 where no mail, so
    quiet spells show as gaps."""
    if not per_day:
        return "day", []
    first, last = date.fromisoformat(per_day[0][0]), date.fromisoformat(per_day[-1][0])
    key: Callable[[date], date]
    step: Callable[[date], date]
    if (last - first).days < DAY_BINS:
        unit, key, step = "day", (lambda d: d), (lambda d: d + timedelta(days=1))
    elif (last - first).days < 7 * WEEK_BINS:
        unit, key, step = "week", (lambda d: d - timedelta(days=d.weekday())), (lambda d: d + timedelta(days=7))
    else:
        unit, key, step = "month", _month_start, _next_month
    counts: Counter[date] = Counter()
    for day, n in per_day:
        counts[key(date.fromisoformat(day))] += n
    out = []
    at, end = key(first), key(last)
    while at <= end:
        out.append((at, counts.get(at, 0)))
        at = step(at)
    return unit, out


def _tick_label(unit: str, d: date) -> str:
    return f"{d.year}-{d.month:02d}" if unit == "month" else d.isoformat()


def _columns(per_day: Sequence[tuple[str, int]], *, width: int = 640, height: int = 160) -> str:
    """Mail over time as an inline SVG column chart: one column per day, week or
    month (:func:`bins`, at most 40 px a bin), a y axis from 0 to the busiest bin
    (labelled with its count), and date ticks under the first bin and about every
    sixth of the range, 80 px apart at least."""
    unit, found = bins(per_day)
    left, top, bottom = 44, 12, 34
    plot = width - left - 8
    top_n = max(n for _, n in found) or 1
    step = min(plot / len(found), 40)  # a few bins are columns, not slabs
    end = left + round(step * len(found))
    gap = 1 if step >= 3 else 0
    base = top + height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{base + bottom}" role="img" '
        f'class="timeline" data-unit="{unit}" data-bins="{len(found)}" data-max="{top_n}" shape-rendering="crispEdges">'
    ]
    parts.append(f'<g fill="{CHART_COLOUR}">')
    for i, (start, n) in enumerate(found):
        if n == 0:
            continue
        x0, x1 = left + int(i * step), left + int((i + 1) * step)
        h = max(1, round(height * n / top_n))
        parts.append(f'<rect class="bin" data-start="{start.isoformat()}" data-n="{n}" x="{x0}" y="{base - h}" '
                     f'width="{max(1, x1 - x0 - gap)}" height="{h}"/>')
    parts.append("</g>")
    axis = f'stroke="{AXIS_COLOUR}" stroke-width="1"'
    parts.append(f'<line class="y-axis" x1="{left - 1}" y1="{top}" x2="{left - 1}" y2="{base}" {axis}/>')
    parts.append(f'<line class="x-axis" x1="{left - 1}" y1="{base}" x2="{end}" y2="{base}" {axis}/>')
    parts.append(f'<line x1="{left - 5}" y1="{top}" x2="{left - 1}" y2="{top}" {axis}/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{end}" y2="{top}" stroke="#bbbbbb" stroke-dasharray="3,3"/>')
    parts.append(f'<text class="y-max" x="{left - 7}" y="{top + 4}" font-size="11" text-anchor="end">{top_n}</text>')
    parts.append(f'<text class="y-zero" x="{left - 7}" y="{base + 4}" font-size="11" text-anchor="end">0</text>')
    every = max(1, -(-len(found) // 6), math.ceil(80 / step))  # labels are ~65 px wide
    for i in range(0, len(found), every):
        x = left + int(i * step)
        parts.append(f'<line x1="{x}" y1="{base}" x2="{x}" y2="{base + 5}" {axis}/>')
        parts.append(
            f'<text class="x-tick" data-date="{found[i][0].isoformat()}" x="{x}" y="{base + 18}" '
            f'font-size="11">{_tick_label(unit, found[i][0])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _timeline(report: Report) -> str:
    if not report.per_day:
        return f'<h2>Mail over time</h2><p class="empty">{NO_MAIL}</p>'
    unit, _ = bins(report.per_day)
    total = sum(n for _, n in report.per_day)
    return (f"<h2>Mail per {unit}</h2><p class=muted>All {total} mails of the range, replies too, "
            f"by the {unit} of their Date: (UTC).</p>{_columns(report.per_day)}")


def _table(rows: tuple[Count, ...], what: str) -> str:
    if not rows:
        return "<p>No patch mail in this range.</p>"
    body = "".join(f"<tr><td class=n>{c.count}</td><td>{_html_text(c.label)}</td></tr>" for c in rows)
    return f"<table><tr><th class=n>count</th><th>{what}</th></tr>{body}</table>"


def _domains(report: Report) -> str:
    """The top domains once: as labelled, counted bars."""
    if not report.domains:
        return "<p>No patch mail in this range.</p>"
    return _bars([(c.label, c.count) for c in report.domains])


# --- the patch list -------------------------------------------------------------------
# Each cell comes from one small function over the series' words above (marker,
# byline, changes, review), the same the text and Markdown show.


def _anchor(series_id: str) -> str:
    return f"pt-{series_id}"


def _status_cell(status: str) -> str:
    return _html_text(status)


def _marker_cell(s: Series) -> str:

    return _html_text(marker(s))


def _byline_cell(s: Series) -> str:

    return _html_text(byline(s))


def _size_cells(s: Series) -> str:

    plus, minus = changes(s)
    return f"<td>{len(s.patches)}/{s.total}</td><td>+{plus}/-{minus}</td>"


def _review_cell(s: Series) -> str:

    mails = [p.message for p in s.patches]
    flags = [flag for flag, hit in (("Fixes", any(m.fixes for m in mails)), ("Cc: stable", any(m.stable for m in mails))) if hit]
    given = "; ".join(review(s, REVIEWERS_LISTED))
    return "; ".join(_html_text(x) for x in ([given] if given else []) + flags) or '<span class=muted>none</span>'


def _revision_link(link: RevisionLink | None, word: str, listed: set[str], list_name: str) -> str:
    """A link to another revision: to its commit messages in this page when it is
    listed here, else to its head mail on lore."""

    if link is None:
        return ""
    href = f"#{_anchor(link.id)}" if link.id in listed else escape(lore_link(list_name, link.msgid))
    return f'<a class="{word}" href="{href}">{word} v{link.version}</a>'


def _patch_table(report: Report, *, rows: int | None = None, anchors: bool = True) -> str:
    """The patch list as a table: status, marker, title (a link to the series' commit
    messages below), author, patches, +/- lines, review, and links to lore and to the
    previous/next revision (within the page when it is listed there). With
    ``anchors`` off (the notebook view, which has no commit messages) the title links
    to the head mail on lore, and there is no links column."""

    if not report.series:
        return "<p>No patch or cover letter was posted in this range.</p>"
    listed = {s.id for s in report.series} if anchors else set()
    states = report.upstream or (None,) * len(report.series)
    shown = list(zip(report.statuses, states, report.series))[:rows]
    head = ("<tr><th>status</th><th>marker</th><th>title</th><th>author</th><th class=n>patches</th>"
            "<th class=n>+/-</th><th>review, markers</th>" + ("<th>upstream</th>" if report.upstream else "")
            + ("<th>links</th>" if anchors else "") + "</tr>")
    body = []
    for status, state, s in shown:
        lore = escape(lore_link(report.list_name, s.msgid))
        title = f'<a href="{f"#{_anchor(s.id)}" if anchors else lore}">{_html_text(s.title)}</a>'
        links = [f'<a class="lore" href="{lore}">lore</a>',
                 _revision_link(s.previous, "previous", listed, report.list_name),
                 _revision_link(s.next, "next", listed, report.list_name)]
        body.append(
            f"<tr><td>{_status_cell(status)}</td><td>{_marker_cell(s)}</td><td>{title}</td>"
            f"<td>{_byline_cell(s)}</td>{_size_cells(s)}<td>{_review_cell(s)}</td>"
            + (f"<td>{_html_text(state or '')}</td>" if report.upstream else "")
            + (f"<td class=links>{' '.join(x for x in links if x)}</td>" if anchors else "") + "</tr>"
        )
    more = len(report.series) - len(shown)
    rest = f"<p class=muted>… and {more} more series: <code>Report.to_html()</code> lists them all.</p>" if more else ""
    return f'<div class=wide><table class="patches">{head}{"".join(body)}</table></div>{rest}'


def _commit_messages(report: Report) -> str:
    """Per series a section (the patch list's anchor) with its commit messages, lore
    links as links, and links to its other revisions and back to the list."""
    listed = {s.id for s in report.series}
    out = []
    for s, block in zip(report.series, blocks(report)):
        nav = [_revision_link(s.previous, "previous", listed, report.list_name),
               _revision_link(s.next, "next", listed, report.list_name), '<a href="#pt-patches">patch list</a>']
        out.append(f'<section class="series" id="{_anchor(s.id)}"><p>{" · ".join(x for x in nav if x)}</p>'
                   f"<pre>{_linked(escape(safe_lines(block)))}</pre></section>")
    return "".join(out)


# --- the page and the notebook view ---------------------------------------------------


def _summary(report: Report) -> str:

    mails = sum(n for _, n in report.per_day)
    span = f", {report.per_day[0][0]} to {report.per_day[-1][0]}" if report.per_day else ""
    lost = f"<p>{_html_text(report.lost_line)}</p>" if report.lost_line else ""
    lists = "".join(f"<p>{_html_text(line)}</p>" for line in report.lists_lines)
    return (f"<p><b>{mails}</b> mails{span}; <b>{len(report.series)}</b> series; "
            f"<b>{report.counted}</b> counted: {_html_text(COUNTED)}.</p>{lists}{lost}")


def _rankings(report: Report) -> str:
    bots = f"<h2>Bots (kept out of the rankings)</h2>{_table(report.bots, 'bot')}" if report.bots else ""
    return (f"<h2>Top contributor email domains</h2>{_domains(report)}"
            f"<h2>Top contributors</h2>{_table(report.contributors, 'contributor')}{bots}")


def to_html(report: Report) -> str:
    """One self-contained HTML page: the summary, mail over time, rankings, the patch
    list and the commit messages."""
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_html_text(report.title)}</title><style>{PAGE_STYLE}</style></head><body>"
        f'<div class="{SCOPE} page"><h1>{_html_text(report.title)}</h1>{_summary(report)}'
        f"{_timeline(report)}{_rankings(report)}"
        f'<h2 id="pt-patches">Patch list in this time period</h2>{_patch_table(report)}'
        f"<h2>Patch commit messages</h2>{_commit_messages(report) or '<p>None.</p>'}"
        "</div></body></html>\n"
    )


def report_fragment(report: Report) -> str:
    """The notebook view: the title and summary first, then the chart, rankings and
    patch list folded in ``<details>`` (closed); styles scoped under :data:`SCOPE`. The commit
    messages are left to :meth:`Report.to_html` (each title links to lore)."""
    return (
        f'<div class="{SCOPE}"><style>{STYLE}</style><b>{_html_text(report.title)}</b>{_summary(report)}'
        f"<details><summary>Mail over time</summary>{_timeline(report)}</details>"
        f"<details><summary>Top domains and contributors</summary>{_rankings(report)}</details>"
        f"<details><summary>Patch list ({len(report.series)} series)</summary>"
        f"{_patch_table(report, rows=FRAGMENT_ROWS, anchors=False)}</details></div>"
    )


# --- the notebook views of a series and a message ----------------------------------------


def _lore(list_id: str | None, msgid: str) -> str:
    """The lore link of a mail of the list ``list_id`` (``all`` when unknown)."""
    return lore_link(list_id.split(".")[0] if list_id else "all", msgid)


def _tags_cell(found: Iterable[tuple[str, str]]) -> str:
    return escape("; ".join(sorted({f"{key.removesuffix('-by')} {who}" for key, who in found})))


def _posted_review(p: Patch) -> str:
    """The review tags the patch carried as posted (its own trailers, not its author's)."""
    return _tags_cell((t.key, t.person.name or t.person.email) for t in p.posted_reviews if t.person is not None)


def _list_review(p: Patch) -> str:
    """The reviews given on the list (unflagged follow-ups)."""
    return _tags_cell((f.key, f.person.name or f.person.email) for f in p.reviews if f.person is not None)


def series_html(s: Series) -> str:
    """A series for notebooks: one summary line (status, marker, title linked to lore,
    author, patches, +/- lines, other revisions), then its patches with the review
    tags they carried as posted and those given on the list. Styles are scoped
    (:data:`SCOPE`)."""
    plus, minus = changes(s)
    revisions = " ".join(
        f'<a href="{escape(_lore(s.list_id, link.msgid))}">{word} v{link.version}</a>'
        for word, link in (("previous", s.previous), ("next", s.next)) if link is not None
    )
    head = (
        f'<p><b>{escape(s.status)}</b> <code>{escape(safe_line(marker(s)))}</code> '
        f'<a href="{escape(_lore(s.list_id, s.msgid))}">{escape(safe_line(s.title))}</a> — '
        f"{escape(safe_line(byline(s)))}, {len(s.patches)}/{s.total} patches, "
        f"+{plus}/-{minus} {revisions}</p>"
    )
    body = "".join(
        f'<tr><td class=n>{p.index}</td><td><a href="{escape(_lore(s.list_id, p.msgid))}">'
        f"{escape(safe_line(p.message.subject.title))}</a></td>"
        f"<td>{_posted_review(p)}</td><td>{_list_review(p)}</td></tr>"
        for p in s.patches
    )
    table = f"<table><tr><th class=n>#</th><th>patch</th><th>review as posted</th><th>review on the list</th></tr>{body}</table>"
    return f'<div class="{SCOPE}"><style>{STYLE}</style>{head}<details><summary>{len(s.patches)} patches</summary>{table}</details></div>'


def message_html(m: Message) -> str:
    """A message for notebooks: its fields as a small table, styles scoped."""
    fields = [
        ("subject", m.subject.raw),
        ("from", str(m.author) if m.author else ""),
        ("date", m.date.isoformat() if m.date else ""),
        ("kind", m.kind),
        ("msgid", m.msgid),
        ("trailers", ", ".join(f"{t.key}: {t.value}" for t in m.trailers)),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{escape(safe_line(v))}</td></tr>" for k, v in fields)
    link = f'<a href="{escape(_lore(m.list_id, m.msgid))}">lore</a>'
    return f'<div class="{SCOPE}"><style>{STYLE}</style><table>{body}<tr><th>link</th><td>{link}</td></tr></table></div>'


_views.text.register(Report, to_text)
_views.markdown.register(Report, to_markdown)
_views.page.register(Report, to_html)
_views.html.register(Report, report_fragment)
_views.html.register(Series, series_html)
_views.html.register(Message, message_html)
