"""The HTML report in a real browser: headless Chromium renders it; the screenshot
must show both charts, the domain bars as long as the counts say and the mail-over-time
columns as high, on their axes; the page's DOM (read by a probe script the test adds)
must hold a link for every lore URL and an anchor for every in-page link. Three sizes
of report from kvm-ppc: an empty range, a week, the whole archive.

Needs a Chromium (Debian: ``chromium-headless-shell`` or ``chromium``) and Pillow
(the ``test`` extra). Skips without a browser, unless ``PATCHTRACK_REQUIRE_BROWSER=1``
(set by CI, which installs one), where a missing browser is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from datetime import date, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import patchtrack

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
DOMAIN_BAR = (0x44, 0x77, 0xAA)  # _render: the top-domains bars
DAY_BAR = (0x66, 0xAA, 0x55)  # _render: the mail-over-time columns
AXIS = (0x33, 0x33, 0x33)  # _render: the chart's axes
PLOT = 160  # _render: the height of the mail-over-time plot, in pixels
LORE = "https://lore.kernel.org/"


def _browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("PATCHTRACK_REQUIRE_BROWSER") == "1":
        pytest.fail("PATCHTRACK_REQUIRE_BROWSER=1 but no Chromium on PATH")
    pytest.skip("no headless Chromium on this machine")


def screenshot(html: str, tmp: Path, width: int = 1200, height: int = 2400):  # type: ignore[no-untyped-def]
    """Render ``html`` in headless Chromium; the screenshot as a Pillow RGB image."""
    from PIL import Image

    page = tmp / "report.html"
    page.write_text(html, encoding="utf-8")
    shot = tmp / "report.png"
    subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", f"--window-size={width},{height}",
         f"--screenshot={shot}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return Image.open(shot).convert("RGB")


PROBE = """<script>(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; };
  const hrefs = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const bare = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode());)
    if (n.data.includes('https://lore.kernel.org/') && !n.parentElement.closest('a, script')) bare.push(n.data);
  const svg = document.querySelector('svg.timeline');
  const out = {
    hrefs, bare,
    unresolved: hrefs.filter(h => h.startsWith('#') && !document.getElementById(h.slice(1))),
    empty: [...document.querySelectorAll('p.empty')].map(p => p.textContent),
    rows: [...document.querySelectorAll('table.patches tr')].slice(1).map(tr => ({
      cells: tr.cells.length, status: tr.cells[0].textContent, title: tr.cells[2].textContent,
      links: [...tr.querySelectorAll('a')].map(a => [a.className, a.getAttribute('href')])})),
    sections: [...document.querySelectorAll('section.series')].map(s => s.id),
    timeline: svg && {
      unit: svg.dataset.unit, box: box(svg),
      bins: [...svg.querySelectorAll('rect.bin')].map(r => ({start: r.dataset.start, n: +r.dataset.n, box: box(r)})),
      yaxis: box(svg.querySelector('.y-axis')), xaxis: box(svg.querySelector('.x-axis')),
      ymax: svg.querySelector('.y-max').textContent, ymaxBox: box(svg.querySelector('.y-max')),
      ticks: [...svg.querySelectorAll('.x-tick')].map(t => ({date: t.dataset.date, text: t.textContent, box: box(t)})),
    },
  };
  const pre = document.createElement('pre'); pre.id = 'probe-result';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
})();</script>"""
"""Added before ``</body>`` by :func:`probe` (the report itself has no script)."""


def dump(html: str, tmp: Path, *, width: int = 1200, height: int = 1600) -> str:
    """The DOM headless Chromium makes of ``html`` (its scripts run), serialized."""
    page = tmp / "probed.html"
    page.write_text(html, encoding="utf-8")
    return subprocess.run(
        [_browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
         f"--window-size={width},{height}", "--dump-dom", page.as_uri()],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout


def probe(html: str, tmp: Path, script: str = PROBE) -> Any:
    """What ``script`` (which leaves JSON in ``<pre id=probe-result>``) finds in the
    rendered page."""
    from html import unescape

    dom = dump(html.replace("</body>", script + "</body>"), tmp)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    return json.loads(unescape(found.group(1)))


def runs(image, colour) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Per pixel row holding ``colour``: (row, longest horizontal run of it)."""
    width, height = image.size
    pixels = image.load()
    found = []
    for y in range(height):
        best = run = 0
        for x in range(width):
            run = run + 1 if pixels[x, y] == colour else 0
            best = max(best, run)
        if best:
            found.append((y, best))
    return found


def bars(image, colour) -> list[int]:  # type: ignore[no-untyped-def]
    """The horizontal bars of ``colour``, top to bottom, by length in pixels."""
    lengths: list[int] = []
    last = -2
    for y, length in runs(image, colour):
        if y != last + 1:
            lengths.append(0)
        lengths[-1] = max(lengths[-1], length)
        last = y
    return lengths


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> patchtrack.Report:
    path = patchtrack.build_demo_inbox(tmp_path_factory.mktemp("demo") / "linux-gizmo")
    return patchtrack.open_inbox(path, workers=1).report()


def columns(image, colour) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """The vertical columns of ``colour`` standing on the lowest row that holds it:
    ``(first x, last x, height in pixels)``, left to right."""
    rows = runs(image, colour)
    base = rows[-1][0]
    pixels = image.load()
    found: list[tuple[int, int, int]] = []
    for x in range(image.size[0]):
        if pixels[x, base] != colour:
            continue
        h = 0
        while base - h >= 0 and pixels[x, base - h] == colour:
            h += 1
        if found and found[-1][1] == x - 1:
            found[-1] = (found[-1][0], x, max(found[-1][2], h))
        else:
            found.append((x, x, h))
    return found


def vertical_runs(image, colour, x_range: range) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """``(x, top y, length)`` of the longest vertical run of ``colour`` in each column."""
    pixels = image.load()
    found = []
    for x in x_range:
        best, run, top = 0, 0, 0
        for y in range(image.size[1]):
            run = run + 1 if pixels[x, y] == colour else 0
            if run > best:
                best, top = run, y - run + 1
        if best:
            found.append((x, top, best))
    return found


def expected_bins(days: Counter[date], unit: str) -> list[tuple[date, int]]:
    """The test's own recount: mails per day, week (from Monday) or month, every bin
    from the first to the last."""
    if unit == "day":
        key, step = (lambda d: d), (lambda d: d + timedelta(days=1))
    elif unit == "week":
        key, step = (lambda d: d - timedelta(days=d.weekday())), (lambda d: d + timedelta(days=7))
    else:
        key = lambda d: date(d.year, d.month, 1)  # noqa: E731
        step = lambda d: date(d.year + (d.month == 12), d.month % 12 + 1, 1)  # noqa: E731
    counts: Counter[date] = Counter()
    for d, n in days.items():
        counts[key(d)] += n
    out, at = [], key(min(days))
    while at <= key(max(days)):
        out.append((at, counts[at]))
        at = step(at)
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> patchtrack.Report:
    path = patchtrack.build_demo_inbox(tmp_path_factory.mktemp("demo") / "linux-gizmo")
    return patchtrack.open_inbox(path, workers=1).report()


def test_charts_render_in_chromium(report: patchtrack.Report, tmp_path: Path) -> None:
    image = screenshot(report.to_html(), tmp_path)
    domains = report.to_dict()["domains"]
    assert len(domains) >= 3
    lengths = bars(image, DOMAIN_BAR)
    assert len(lengths) == len(domains), (lengths, domains)
    # bar length is proportional to the count (within a pixel of rounding each)
    scale = lengths[0] / domains[0]["count"]
    for got, row in zip(lengths, domains):
        assert abs(got - row["count"] * scale) <= 2, (lengths, domains)
    # the demo's few weeks are charted by day on a time axis: one column per day
    # with mail, a gap for each quiet day, the busiest the full height of the plot
    per_day = report.to_dict()["per_day"]
    first, last = (date.fromisoformat(d["day"]) for d in (per_day[0], per_day[-1]))
    assert (last - first).days + 1 > len(per_day)  # the demo has quiet days
    found = columns(image, DAY_BAR)
    top = max(d["messages"] for d in per_day)
    assert [h for _, _, h in found] == [round(PLOT * d["messages"] / top) for d in per_day]
    slot = (found[-1][0] - found[0][0]) / (last - first).days  # pixels per day
    for (x, _, _), d in zip(found, per_day):
        assert abs(x - found[0][0] - slot * (date.fromisoformat(d["day"]) - first).days) <= 1


def test_without_the_charts_no_chart_colour_is_drawn(report: patchtrack.Report, tmp_path: Path) -> None:
    """The colours counted above come from the SVG charts, not from the page."""
    html = re.sub(r"<svg.*?</svg>", "", report.to_html(), flags=re.DOTALL)
    image = screenshot(html, tmp_path)
    assert not runs(image, DOMAIN_BAR) and not runs(image, DAY_BAR)
    assert max(length for _, length in runs(image, AXIS)) < 20  # text has a few such pixels, no line


# --- three sizes of a real report: an empty range, a week, the whole archive -------------


@pytest.fixture(scope="module")
def kvm_ppc(corpus_clones: dict[str, Path]) -> tuple[list[patchtrack.Message], tuple[patchtrack.Series, ...]]:
    archive = corpus_clones.get("kvm-ppc.vger.kernel.org.0")
    if archive is None:
        pytest.skip("uses the kvm-ppc corpus")
    messages = list(patchtrack.open_inbox(archive, workers=1).messages())
    return messages, patchtrack.assemble(messages)


def _utc_day(m: patchtrack.Message) -> date:
    assert m.date is not None
    return m.date.astimezone(timezone.utc).date()


SIZES = {
    # (which mails, the chart's unit)
    "empty": (lambda m: False, None),
    # kvm-ppc's busiest ISO week (2021 week 13: 184 mails)
    "week": (lambda m: m.date is not None and date(2021, 3, 29) <= _utc_day(m) <= date(2021, 4, 4), "day"),
    "archive": (lambda m: True, "month"),  # 2019-04 to 2025-05
}


@pytest.mark.parametrize("size", list(SIZES))
def test_three_sizes_in_chromium(size: str, kvm_ppc, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    messages, series = kvm_ppc
    keep, unit = SIZES[size]
    mails = [m for m in messages if keep(m)]
    report = patchtrack.build_report("kvm-ppc", mails, series)
    html = report.to_html()
    dom = probe(html, tmp_path)

    # links: every lore URL on the page is a link; every in-page link has its target
    assert dom["bare"] == [] and dom["unresolved"] == []
    assert all(h.startswith((LORE, "#pt-")) for h in dom["hrefs"])
    listed = {s.id for s in report.series}
    # the patch list: a row of 8 cells per series, its title a link to the series'
    # commit messages, a lore link, and a link to each other revision it has
    assert len(dom["rows"]) == len(report.series) and all(r["cells"] == 8 for r in dom["rows"])
    assert dom["sections"] == [f"pt-{s.id}" for s in report.series]
    for row, s in zip(dom["rows"], report.series):
        links = dict((cls or "title", href) for cls, href in row["links"])
        assert links["title"] == f"#pt-{s.id}" and row["title"] == s.title
        assert links["lore"].startswith(f"{LORE}kvm-ppc/") and s.msgid.split("@")[0] in links["lore"]
        for word, link in (("previous", s.previous), ("next", s.next)):
            if link is None:
                assert word not in links
            else:
                assert links[word] == (f"#pt-{link.id}" if link.id in listed else f"{LORE}kvm-ppc/{link.msgid}/")
    # each mail of the commit messages has its lore link, as a link
    shown = sum((s.cover is not None) + len(s.patches) for s in report.series)
    assert sum(h.startswith(LORE) for h in dom["hrefs"]) >= len(report.series) + shown

    if unit is None:
        assert not mails and dom["timeline"] is None and dom["empty"] == ["No mail in this range."]
        assert dom["rows"] == [] and "No patch or cover letter was posted in this range." in html
        return
    # the chart: the test's own recount of the mails by day/week/month
    days = Counter(_utc_day(m) for m in mails)
    want = expected_bins(days, unit)
    top = max(n for _, n in want)
    line = dom["timeline"]
    assert line["unit"] == unit
    assert [(b["start"], b["n"]) for b in line["bins"]] == [(d.isoformat(), n) for d, n in want if n]
    assert line["ymax"] == str(top)
    plot_top, base = line["yaxis"][1], line["yaxis"][1] + line["yaxis"][3]
    assert line["yaxis"][3] == PLOT and abs(line["xaxis"][1] - base) < 1
    for b in line["bins"]:  # columns stand on the x axis, as high as their count
        assert abs(b["box"][1] + b["box"][3] - base) < 1 and b["box"][3] == max(1, round(PLOT * b["n"] / top))
    assert abs(line["ymaxBox"][1] + line["ymaxBox"][3] / 2 - plot_top) < 6  # the max label is at the top
    ticks = line["ticks"]
    assert len(ticks) >= 2 and ticks[0]["date"] == want[0][0].isoformat()
    xs = [t["box"][0] for t in ticks]
    assert all(b - a >= 80 for a, b in zip(xs, xs[1:]))  # labels apart, in date order
    assert all(b["box"][2] <= 40 for b in line["bins"])  # a week's 7 days are columns, not slabs
    starts = {b["start"]: b["box"][0] for b in line["bins"]}
    assert all(abs(t["box"][0] - starts[t["date"]]) < 1 for t in ticks if t["date"] in starts)
    label = (lambda d: d[:7]) if unit == "month" else (lambda d: d)
    assert all(t["text"] == label(t["date"]) for t in ticks)

    # the screenshot: one column per bin with mail, as high as the DOM says, on the axes
    image = screenshot(html, tmp_path, width=1200, height=int(base) + 60)
    found = columns(image, DAY_BAR)
    assert [h for _, _, h in found] == [max(1, round(PLOT * n / top)) for _, n in want if n]
    assert [x for x, _, _ in found] == [round(b["box"][0]) for b in line["bins"]]
    axis_x = round(line["yaxis"][0])
    y_axis = [r for r in vertical_runs(image, AXIS, range(axis_x - 1, axis_x + 2)) if r[2] >= PLOT]
    assert y_axis and found[0][0] > y_axis[0][0]
    bottom = y_axis[0][1] + y_axis[0][2] - 1  # the axes meet at the bottom left
    pixels = image.load()
    assert all(pixels[x, bottom] == AXIS for x in range(axis_x, found[-1][1] + 1))
