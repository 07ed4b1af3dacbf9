"""Markdown and HTML renderings of a :class:`~patchtrack.report.Report`.

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
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING

from ._escape import md_code_block, md_inline, safe_line, safe_lines

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .report import Count, Report
    from .series import RevisionLink, Series

__all__ = ["to_markdown", "to_html", "report_fragment", "bins", "SCOPE", "STYLE", "PAGE_STYLE"]

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


def to_markdown(report: Report) -> str:
    """GitHub-flavoured Markdown: headings, ranking tables, the patch list."""
    from .report import COUNTED, series_lines

    out = [f"# {md_inline(report.title)}", "", f"Counted: {report.counted} {md_inline(COUNTED)}.", ""]
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
    for block in report.blocks():
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
# Each cell comes from one small function: the review state (as posted / on the list),
# the marker as posted and the "sent by" byline are being reworked in report.py, and
# these are the places that show them.


def _anchor(series_id: str) -> str:
    return f"pt-{series_id}"


def _status_cell(status: str) -> str:
    return _html_text(status)


def _marker_cell(s: Series) -> str:
    from .report import _marker

    return _html_text(_marker(s))


def _byline_cell(s: Series) -> str:
    from .report import _byline

    return _html_text(_byline(s))


def _size_cells(s: Series) -> str:
    from .report import _changes

    plus, minus = _changes(s)
    return f"<td>{len(s.patches)}/{s.total}</td><td>+{plus}/-{minus}</td>"


def _review_cell(s: Series) -> str:
    from .report import REVIEWERS_LISTED, _review

    mails = [p.message for p in s.patches]
    flags = [flag for flag, hit in (("Fixes", any(m.fixes for m in mails)), ("Cc: stable", any(m.stable for m in mails))) if hit]
    review = "; ".join(_review(s, REVIEWERS_LISTED))
    return "; ".join(_html_text(x) for x in ([review] if review else []) + flags) or '<span class=muted>none</span>'


def _revision_link(link: RevisionLink | None, word: str, listed: set[str], list_name: str) -> str:
    """A link to another revision: to its commit messages in this page when it is
    listed here, else to its head mail on lore."""
    from .report import lore_link

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
    from .report import lore_link

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
    for s, block in zip(report.series, report.blocks()):
        nav = [_revision_link(s.previous, "previous", listed, report.list_name),
               _revision_link(s.next, "next", listed, report.list_name), '<a href="#pt-patches">patch list</a>']
        out.append(f'<section class="series" id="{_anchor(s.id)}"><p>{" · ".join(x for x in nav if x)}</p>'
                   f"<pre>{_linked(escape(safe_lines(block)))}</pre></section>")
    return "".join(out)


# --- the page and the notebook view ---------------------------------------------------


def _summary(report: Report) -> str:
    from .report import COUNTED

    mails = sum(n for _, n in report.per_day)
    span = f", {report.per_day[0][0]} to {report.per_day[-1][0]}" if report.per_day else ""
    lost = f"<p>{_html_text(report.lost_line)}</p>" if report.lost_line else ""
    return (f"<p><b>{mails}</b> mails{span}; <b>{len(report.series)}</b> series; "
            f"<b>{report.counted}</b> counted: {_html_text(COUNTED)}.</p>{lost}")


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
