"""The HTML report in a real browser: headless Chromium renders it, and the
screenshot must show both charts, with the domain bars as long as the counts say.

Needs a Chromium (Debian: ``chromium-headless-shell`` or ``chromium``) and Pillow
(the ``test`` extra). Skips without a browser, unless ``PATCHTRACK_REQUIRE_BROWSER=1``
(set by CI, which installs one), where a missing browser is a failure.
"""

from __future__ import annotations

import os
from datetime import date
import shutil
import subprocess
from pathlib import Path

import pytest

import patchtrack

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
DOMAIN_BAR = (0x44, 0x77, 0xAA)  # _report_html: the top-domains bars
DAY_BAR = (0x66, 0xAA, 0x55)  # _report_html: the messages-per-day columns


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


def test_charts_render_in_chromium(report: patchtrack.Report, tmp_path: Path) -> None:
    image = screenshot(report.to_html(), tmp_path)
    image.save(tmp_path / "kept.png")
    domains = report.to_dict()["domains"]
    assert len(domains) >= 3
    lengths = bars(image, DOMAIN_BAR)
    assert len(lengths) == len(domains), (lengths, domains)
    # bar length is proportional to the count (within a pixel of rounding each)
    scale = lengths[0] / domains[0]["count"]
    for got, row in zip(lengths, domains):
        assert abs(got - row["count"] * scale) <= 2, (lengths, domains)
    # the per-day chart is a time axis: on its baseline, one column per day with
    # mail, and a gap for each run of quiet days between them
    per_day = report.to_dict()["per_day"]
    rows = runs(image, DAY_BAR)
    baseline = rows[-1][0]
    pixels = image.load()
    line = [pixels[x, baseline] == DAY_BAR for x in range(image.size[0])]
    columns = sum(1 for x in range(1, len(line)) if line[x] and not line[x - 1]) + line[0]
    assert columns == len(per_day)
    first, last = (date.fromisoformat(d["day"]) for d in (per_day[0], per_day[-1]))
    assert (last - first).days + 1 > len(per_day)  # the demo has quiet days...
    xs = [x for x in range(len(line)) if line[x]]
    assert xs[-1] - xs[0] > 0.9 * 640 * (1 - 1 / ((last - first).days + 1))  # ...and the axis spans them
    assert len(rows) >= 150  # the busiest day's column is the chart's full 160 px


def test_without_the_charts_no_chart_colour_is_drawn(report: patchtrack.Report, tmp_path: Path) -> None:
    """The colours counted above come from the SVG charts, not from the page."""
    import re

    html = re.sub(r"<svg.*?</svg>", "", report.to_html(), flags=re.DOTALL)
    image = screenshot(html, tmp_path)
    assert not runs(image, DOMAIN_BAR) and not runs(image, DAY_BAR)


def test_corpus_report_charts_render(corpus_clones: dict[str, Path], tmp_path: Path) -> None:
    """A real report (kvm-ppc, its last 400 mails) renders both charts too."""
    archive = corpus_clones.get("kvm-ppc.vger.kernel.org.0")
    if archive is None:
        pytest.skip("uses the kvm-ppc corpus")
    report = patchtrack.open_inbox(archive).report("HEAD~400..")
    domains = report.to_dict()["domains"]
    assert len(domains) >= 3
    image = screenshot(report.to_html(), tmp_path, height=3000)
    lengths = bars(image, DOMAIN_BAR)
    assert len(lengths) == len(domains)
    scale = lengths[0] / domains[0]["count"]
    assert all(abs(got - row["count"] * scale) <= 2 for got, row in zip(lengths, domains))
    # the per-day columns may be narrower than a pixel over a long range: look for
    # green-dominant pixels rather than the exact colour
    pixels = image.load()
    width, height = image.size
    green = sum(
        1 for y in range(0, height, 2) for x in range(0, width, 2)
        if (p := pixels[x, y])[1] > p[0] + 30 and p[1] > p[2] + 30
    )
    assert green >= 20
