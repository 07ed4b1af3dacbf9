"""Markdown and self-contained HTML renderings of a :class:`~patchtrack.report.Report`.

The HTML is one file with inline CSS and inline SVG charts (messages per day, top
domains): no script, no network, readable in any browser and in a notebook.
"""

from __future__ import annotations

from datetime import date, timedelta
from html import escape
from typing import TYPE_CHECKING

from ._escape import md_code_block, md_inline, safe_line, safe_lines

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .report import Count, Report

__all__ = ["to_markdown", "to_html"]

def _html_text(text: str) -> str:
    """HTML-escaped, control characters shown (:func:`safe_line`): the page may be
    printed on a terminal."""
    return escape(safe_line(text))


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


def _bars(rows: list[tuple[str, int]], *, width: int = 640, bar: int = 18, label_width: int = 220) -> str:
    """A horizontal bar chart as inline SVG."""
    top = max((n for _, n in rows), default=1) or 1
    height = bar * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, n) in enumerate(rows):
        y = 5 + i * bar
        w = max(1, round((width - label_width - 50) * n / top))
        parts.append(f'<text x="{label_width - 6}" y="{y + bar - 6}" text-anchor="end" font-size="12">{_html_text(label)}</text>')
        parts.append(f'<rect class="bar" x="{label_width}" y="{y + 2}" width="{w}" height="{bar - 4}" fill="#4477aa"/>')
        parts.append(f'<text x="{label_width + w + 4}" y="{y + bar - 6}" font-size="12">{n}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _calendar(days: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """``(YYYY-MM-DD, n)`` for every day from the first to the last, 0 where the
    input has no entry: a time axis, so quiet days show as gaps."""
    if not days:
        return []
    counts = dict(days)
    first, last = date.fromisoformat(days[0][0]), date.fromisoformat(days[-1][0])
    span = (last - first).days + 1
    every = (first + timedelta(days=i) for i in range(span))
    return [(d.isoformat(), counts.get(d.isoformat(), 0)) for d in every]


def _columns(rows: list[tuple[str, int]], *, width: int = 640, height: int = 160) -> str:
    """A column chart (one column per day, none drawn for a day without mail) as
    inline SVG."""
    top = max((n for _, n in rows), default=1) or 1
    step = width / max(1, len(rows))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" role="img">']
    for i, (day, n) in enumerate(rows):
        if n == 0:
            continue
        h = max(1, round(height * n / top))
        x = round(i * step, 1)
        parts.append(
            f'<rect class="day" x="{x}" y="{height - h}" width="{max(1.0, step - 1):.1f}" height="{h}" fill="#66aa55">'
            f"<title>{_html_text(day)}: {n}</title></rect>"
        )
    if rows:
        parts.append(f'<text x="0" y="{height + 15}" font-size="11">{_html_text(rows[0][0])}</text>')
        parts.append(f'<text x="{width}" y="{height + 15}" font-size="11" text-anchor="end">{_html_text(rows[-1][0])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: tuple[Count, ...], what: str) -> str:
    if not rows:
        return "<p>No patch mail in this range.</p>"
    body = "".join(f"<tr><td class=n>{c.count}</td><td>{_html_text(c.label)}</td></tr>" for c in rows)
    return f"<table><tr><th>count</th><th>{what}</th></tr>{body}</table>"


def to_html(report: Report) -> str:
    """One self-contained HTML page: charts, rankings, patch list, commit messages."""
    from .report import COUNTED, series_lines

    items = "".join(f"<li>{_html_text(line)}</li>" for line in series_lines(report))
    patches = f"<ul>{items}</ul>" if items else "<p>No patch or cover letter was posted in this range.</p>"
    blocks = "".join(f"<pre>{escape(safe_lines(block))}</pre>" for block in report.blocks())
    bots = f"<h2>Bots (kept out of the rankings)</h2>{_table(report.bots, 'bot')}" if report.bots else ""
    lost = f"<p>{_html_text(report.lost_line)}</p>" if report.lost_line else ""
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{_html_text(report.title)}</title><style>"
        "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}td.n{text-align:right}"
        "pre{background:#f6f6f6;padding:1em;overflow-x:auto}"
        "</style></head><body>"
        f"<h1>{_html_text(report.title)}</h1><p>Counted: {report.counted} {_html_text(COUNTED)}.</p>{lost}"
        f"<h2>Messages per day</h2>{_columns(_calendar(list(report.per_day)))}"
        f"<h2>Top contributor email domains</h2>{_bars([(c.label, c.count) for c in report.domains])}"
        f"{_table(report.domains, 'domain')}"
        f"<h2>Top contributors</h2>{_table(report.contributors, 'contributor')}{bots}"
        f"<h2>Patch list in this time period</h2>{patches}"
        f"<h2>Patch commit messages</h2>{blocks}"
        "</body></html>\n"
    )
