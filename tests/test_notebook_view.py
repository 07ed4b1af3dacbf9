"""How records show in a notebook and a REPL: scoped HTML views that leave the rest
of the notebook alone (checked in headless Chromium), short ``__repr__``s, typed data
frames, and revision links that resolve to series."""

from __future__ import annotations

import re
from datetime import timezone
from html import escape
from pathlib import Path

import pandas as pd
import pytest

import patchtrack
from patchtrack import _render, parse_message
from patchtrack.export import COLUMNS

from test_report_browser import probe


@pytest.fixture(scope="module")
def demo(mails: list[bytes]) -> tuple[list[patchtrack.Message], tuple[patchtrack.Series, ...]]:
    messages = [parse_message(m) for m in mails]
    return messages, patchtrack.assemble(messages)


@pytest.fixture(scope="module")
def demo_report(demo) -> patchtrack.Report:  # type: ignore[no-untyped-def]
    messages, series = demo
    return patchtrack.build_report("linux-gizmo", messages, series)


# --- the notebook views ---------------------------------------------------------------

SIBLING = """<div class="cell"><h2>Another cell</h2>{frame}<pre>print("hello")</pre>
<p>Some <b>markdown</b> text and a <code>snippet</code>.</p><ul><li>a list</li></ul>
<details><summary>folded</summary>text</details><table><tr><th>a</th><td>b</td></tr></table></div>"""

MEASURE = """<script>(() => {
  const keep = ['font-family', 'font-size', 'font-weight', 'line-height', 'color', 'background-color',
                'padding', 'margin', 'border-collapse', 'border', 'text-align', 'white-space'];
  const out = [...document.querySelectorAll('.cell *')].map(e => {
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return [e.tagName, r.width, r.height, keep.map(k => s.getPropertyValue(k))];
  });
  const body = getComputedStyle(document.body);
  out.push(['BODY', document.body.getBoundingClientRect().width, 0, [body.fontFamily, body.margin, body.maxWidth]]);
  const pre = document.createElement('pre'); pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();</script>"""
"""Every element of the sibling cell: its width, height and the computed styles a
stray ``table``/``td``/``pre``/``body`` rule would change."""


def _page(*outputs: str) -> str:
    frame = pd.DataFrame({"kind": ["patch", "reply"], "count": [2298, 3062]}).to_html()
    cells = "".join(f'<div class="output">{o}</div>' for o in outputs)
    return f"<!DOCTYPE html><html><head><meta charset=utf-8></head><body>{cells}{SIBLING.format(frame=frame)}</body></html>"


def test_views_leave_a_sibling_cell_alone(demo, demo_report: patchtrack.Report, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The report's, a series' and a message's notebook views beside another cell (a
    data frame, code, text, a table): every element of that cell keeps its computed
    width, height and style."""
    messages, series = demo
    alone = probe(_page(), tmp_path, MEASURE)
    views = [demo_report._repr_html_(), series[0]._repr_html_(), messages[0]._repr_html_()]
    beside = probe(_page(*views), tmp_path, MEASURE)
    assert len(alone) > 10 and beside == alone
    # the probe sees a stray rule: the page's old unscoped CSS changes the cell
    stray = "<style>table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left}</style>"
    assert probe(_page(stray), tmp_path, MEASURE) != alone


def test_styles_are_scoped() -> None:
    """Every CSS rule of the views is under the one class their root carries."""
    rules = re.findall(r"([^{}]+)\{[^{}]*\}", re.sub(r"@media[^{]*\{", "", _render.STYLE))
    selectors = [sel.strip() for rule in rules for sel in rule.split(",")]
    assert selectors and all(sel.startswith(f".{_render.SCOPE}") for sel in selectors), selectors


def test_report_view_summary_first_and_folded(demo_report: patchtrack.Report) -> None:
    view = demo_report._repr_html_()
    assert view.startswith(f'<div class="{_render.SCOPE}"><style>')
    text = re.sub(r"<style>.*?</style>", "", view)
    first = re.sub(r"<[^>]+>", "", text[: text.index("<details")])
    assert first.startswith(demo_report.title) and f"{len(demo_report.series)} series" in first
    assert view.count("<details>") == 3 and "body{" not in view and "<script" not in view  # all folded
    assert view.count("<tr>") == len(demo_report.series) + 1 + len(demo_report.contributors) + 1


def test_report_view_of_200_mails_is_small(corpus_clones: dict[str, Path]) -> None:
    """kvm-ppc's last 200 mails: the page is ~170 KB, the notebook view under 20 KB."""
    archive = corpus_clones.get("kvm-ppc.vger.kernel.org.0")
    if archive is None:
        pytest.skip("uses the kvm-ppc corpus")
    report = patchtrack.open_inbox(archive, workers=1).report("HEAD~200..HEAD")
    assert sum(n for _, n in report.per_day) == 200 and len(report.series) >= 20
    view = report._repr_html_()
    assert len(view.encode()) <= 20_000 < len(report.to_html().encode())
    assert all(escape(s.title) in view for s in report.series[: _render.FRAGMENT_ROWS])


# --- short reprs ------------------------------------------------------------------------


def test_short_reprs(demo, demo_report: patchtrack.Report) -> None:  # type: ignore[no-untyped-def]
    messages, series = demo
    s = next(s for s in series if s.previous is not None and s.cover is not None)
    assert repr(s) == f"<Series v{s.version} {s.title!r} {len(s.patches)}/{s.total} {s.status} {s.id[:8]}>"
    assert re.fullmatch(r"<Series v\d+ '.+' \d+/\d+ (new|revision|resend|superseded) [0-9a-f]{8}>", repr(s))
    m = s.cover
    assert repr(m) == f"<Message cover {m.subject.title!r} {m.msgid}>"
    p = s.patches[0]
    assert repr(p) == f"<Patch 1 {p.message.subject.title!r} {p.msgid}>"
    assert repr(s.previous).startswith(f"<RevisionLink v{s.previous.version} {s.previous.id[:8]} {s.previous.msgid}")
    mails = sum(n for _, n in demo_report.per_day)
    assert repr(demo_report) == f"<Report linux-gizmo .. {mails} mails {len(demo_report.series)} series>"
    assert mails == len(messages)
    assert all(len(repr(x)) < 200 for x in [*messages, *series])  # never a whole record


def test_repr_clips_and_escapes_a_title() -> None:
    raw = (b"From: A <a@b.test>\nSubject: [PATCH] " + b"x" * 100 + b"\x1b[2J\nMessage-ID: <t@b.test>\n"
           b"Date: Mon, 2 Mar 2026 10:00:00 +0000\n\nbody\n")
    text = repr(parse_message(raw))
    assert len(text) < 110 and "\x1b" not in text and "…" in text


# --- data frames ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["messages", "patches", "trailers", "series"])
def test_frames_are_typed_and_empty_frames_alike(demo, kind: str) -> None:  # type: ignore[no-untyped-def]
    messages, series = demo
    frame = patchtrack.to_pandas(messages if kind == "messages" else series, kind)
    empty = patchtrack.to_pandas([], kind)
    assert len(frame) and len(empty) == 0
    assert list(frame.columns) == list(empty.columns) == list(COLUMNS[kind])
    assert frame.dtypes.to_dict() == empty.dtypes.to_dict()
    for column in frame.columns:
        if "date" in column:
            assert str(frame[column].dtype) == "datetime64[ns, UTC]", column
        if column in {"msgid", "series_id", "subject", "title", "key", "status"}:
            assert str(frame[column].dtype) == "string", column
    counters = [c for c in frame.columns if c in {"version", "index", "total", "insertions", "deletions", "patches", "reviews"}]
    assert counters and all(str(frame[c].dtype) == "Int64" for c in counters)


def test_message_dates_are_utc_instants(demo) -> None:  # type: ignore[no-untyped-def]
    messages, _ = demo
    frame = patchtrack.to_pandas(messages)
    for m, when in zip(messages, frame["date"]):
        assert m.date is not None and when == pd.Timestamp(m.date.astimezone(timezone.utc))
    # a patch without a counter has no index: missing, not 0 or NaN
    single = frame[(frame["kind"] == "patch") & frame["total"].isna()]
    assert single["index"].isna().all()


def test_one_row_per_series(demo) -> None:  # type: ignore[no-untyped-def]
    _, series = demo
    frame = patchtrack.to_pandas(series, "series")
    assert frame["series_id"].tolist() == [s.id for s in series]
    for s, row in zip(series, frame.itertuples()):
        assert row.patches == len(s.patches) and row.total == s.total and row.status == s.status
        assert row.reviews == sum(len(p.reviews) for p in s.patches)
        assert row.insertions == sum(p.diffstat.insertions for p in s.patches if p.diffstat)
        assert pd.isna(row.previous_id) == (s.previous is None) and pd.isna(row.next_id) == (s.next is None)
        assert pd.isna(row.previous_version) if s.previous is None else row.previous_version == s.previous.version
    assert frame["previous_id"].notna().any() and frame["cover"].any() and not frame["cover"].all()
    with pytest.raises(ValueError):
        patchtrack.to_pandas(demo[0], "series")


# --- revision links -----------------------------------------------------------------------


def test_previous_and_next_resolve_to_series(demo) -> None:  # type: ignore[no-untyped-def]
    _, series = demo
    by_id = {s.id: s for s in series}
    linked = [s for s in series if s.previous is not None]
    assert linked
    for s in linked:
        assert s.previous is not None
        older = s.previous.resolve(series)
        assert older is not None and older.id == s.previous.id and older.version == s.previous.version
        assert older.msgid == s.previous.msgid and s.previous.resolve(by_id) is older
        assert older.next is not None and older.next.resolve(series) is not None
    assert linked[0].previous is not None and linked[0].previous.resolve([]) is None
