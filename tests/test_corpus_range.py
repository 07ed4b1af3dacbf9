"""On the real archives: a report's header and JSON name the commits its walk resolved
(git's own listing is the oracle), never a revision or date as it was typed; and the
seed-kvm archive's report names its resolved ends as the reference report does."""

from __future__ import annotations

import email
import email.utils
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import patchtrack
from conftest import CORPUS, git

pytestmark = pytest.mark.corpus

SEED = Path(os.environ.get("PATCHTRACK_SEED_KVM", CORPUS.parent / "seed-kvm"))


def deliveries(repo: Path, *spec: str) -> list[tuple[str, str, int]]:
    """(commit, mail blob, commit time) of each mail delivery in ``spec``, oldest first,
    a blob delivered again in the same listing left out (the walk's dedupe): read from
    ``git log --raw``, not from patchtrack."""
    out = git("log", "--reverse", "--root", "--raw", "--no-abbrev", "--format=C %H %ct", *spec, cwd=repo)
    found: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    commit, when = "", 0
    for line in out.splitlines():
        if line.startswith("C "):
            _, commit, stamp = line.split()
            when = int(stamp)
        elif line.startswith(":"):
            meta, path = line.split("\t", 1)
            status, blob = meta.split()[4], meta.split()[3]
            if path == "m" and status in ("A", "M") and blob not in seen:
                seen.add(blob)
                found.append((commit, blob, when))
    return found


@pytest.mark.parametrize(
    "name",
    [
        "kvm-ppc.vger.kernel.org.0",
        pytest.param(
            "linux-pwm.vger.kernel.org.0",
            marks=pytest.mark.slow(reason="parses linux-pwm whole once: ~35 s of CPU in all, then reports from the cache"),
        ),
    ],
)
def test_report_header_names_resolved_commits(
    name: str, corpus_clones: dict[str, Path], tmp_path: Path
) -> None:
    repo = corpus_clones[name]
    inbox = patchtrack.open_inbox(repo, cache=tmp_path / "cache.duckdb")
    everything = deliveries(repo, "HEAD")
    tip_time = everything[-1][2]
    month = datetime.fromtimestamp(tip_time, timezone.utc) - timedelta(days=40)
    typed_ranges = {
        "HEAD~300..": ["HEAD~300..HEAD"],
        "master": ["master"],
        "HEAD~400..HEAD~100": ["HEAD~400..HEAD~100"],
        "..HEAD~250": ["HEAD~250"],
        f"{git('rev-parse', 'HEAD~120', cwd=repo).strip()[:12]}..": ["HEAD~120..HEAD"],
    }
    for typed, spec in typed_ranges.items():
        walked = deliveries(repo, *spec)
        report = inbox.report(typed)
        data = report.to_dict()
        assert (data["start"], data["end"]) == (walked[0][0], walked[-1][0]), typed
        assert data["range"]["epochs"][0]["mails"] == len(walked)
        assert report.title.startswith(f"{report.list_name} mailing list update from {walked[0][0][:9]} to {walked[-1][0][:9]}")
        header = report.to_text().split("=====")[0]
        for word in ("HEAD", "master", "~", typed.split("..")[0][:12]):
            assert word not in header or word in walked[0][0] + walked[-1][0], (typed, word)
    # dates as typed: a month, a day, seconds, a git duration; the header gives the instants
    typed_dates: list[tuple[dict[str, str], float | None, float | None]] = [
        ({"since": month.strftime("%Y-%m")}, datetime(month.year, month.month, 1, tzinfo=timezone.utc).timestamp(), None),
        ({"since": month.strftime("%Y-%m-%d")}, datetime(month.year, month.month, month.day, tzinfo=timezone.utc).timestamp(), None),
        ({"since": f"@{tip_time - 20 * 86400}", "until": f"@{tip_time - 86400}"}, tip_time - 20 * 86400, tip_time - 86400),
        ({"until": "2 years ago"}, None, None),
    ]
    for window, lo, hi in typed_dates:
        report = inbox.report(**window)  # type: ignore[arg-type]
        if hi is None and "until" in window:  # "2 years ago": resolved against now
            hi = report.coverage.until.timestamp()  # type: ignore[union-attr]
            assert abs(hi - (datetime.now(timezone.utc).timestamp() - 730 * 86400)) < 3 * 86400
        kept = [d for d in everything if (lo is None or d[2] >= lo) and (hi is None or d[2] <= hi)]
        assert (report.start, report.end) == ((kept[0][0], kept[-1][0]) if kept else (None, None)), window
        bounds = [f"{word} {_instant(at)}" for word, at in (("since", lo), ("up to", hi)) if at is not None]
        if lo is not None and hi is not None:
            bounds = [f"from {_instant(lo)} to {_instant(hi)}"]
        assert f"(arrived {bounds[0]})" in report.title, (window, report.title)
        assert "ago" not in report.title and "@" not in report.title


def _instant(seconds: float) -> str:
    """An instant as the header writes it (seconds left out when zero)."""
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return text.removesuffix(":00") + " UTC"


@pytest.mark.parametrize("typed", ["HEAD~300..", "master", "HEAD~40^!"])
def test_walk_coverage_is_git_s_listing(typed: str, corpus_clones: dict[str, Path]) -> None:
    """Every corpus: the walk's resolved ends are git's, for revisions as typed."""
    for name, repo in corpus_clones.items():
        spec = {"HEAD~300..": ["HEAD~300..HEAD"], "master": ["master"], "HEAD~40^!": ["HEAD~40^!"]}[typed]
        walked = deliveries(repo, *spec)
        walk = patchtrack.open_inbox(repo).walk(typed)
        for _ in walk.refs():
            pass
        cov = walk.coverage
        assert (cov.start, cov.end, cov.mails) == (walked[0][0], walked[-1][0], len(walked)), name
        assert cov.tips == ((0, git("rev-parse", spec[0].split("..")[-1].removesuffix("^!"), cwd=repo).strip()),)
        assert typed not in cov.words() and "HEAD" not in cov.words()


def _seed_mails() -> list[bytes]:
    files = sorted((SEED / "mails").glob("*")) + sorted((SEED / "replies").glob("*"))
    raws = [f.read_bytes() for f in files if f.is_file()]

    def sent(raw: bytes) -> datetime:
        return email.utils.parsedate_to_datetime(email.message_from_bytes(raw)["Date"])

    return sorted(raws, key=sent)


@pytest.mark.skipif(not (SEED / "mails").is_dir(), reason=f"no seed-kvm mails in {SEED}")
def test_seed_kvm_header_names_resolved_commits(tmp_path: Path) -> None:
    """The reference report's own mails, built into an archive in Date order: the
    header names the first and last commit (as the reference's "from ed37f1cc5 to
    131572024" does), and the Date: span of its mails."""
    raws = _seed_mails()
    writer = patchtrack.V2Writer(tmp_path / "kvm")
    for raw in raws:
        writer.add(raw)
    epoch = tmp_path / "kvm" / "git" / "0.git"
    commits = git("rev-list", "--reverse", "HEAD", cwd=epoch).split()
    inbox = patchtrack.open_inbox(tmp_path / "kvm")
    report = inbox.report()
    dates = sorted(email.utils.parsedate_to_datetime(email.message_from_bytes(r)["Date"]) for r in raws)
    span = f"from {commits[0][:9]} to {commits[-1][:9]}, mail dated {dates[0].astimezone(timezone.utc).date()}"
    assert report.title.startswith(f"{report.list_name} mailing list update {span}")
    assert report.to_text().splitlines()[0].startswith(f"F{span[1:]}")
    assert (report.start, report.end) == (commits[0], commits[-1])
    ranged = inbox.report(f"{commits[10][:9]}..{commits[-5][:9]}")
    assert (ranged.start, ranged.end) == (commits[11], commits[-5])
    assert f"from {commits[11][:9]} to {commits[-5][:9]}" in ranged.title
