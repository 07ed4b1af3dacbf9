"""Reports say exactly what they cover: the range resolved (never as typed), the
cursor a cron job keeps, and the dates it filters on (issue 20 §1)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

import patchtrack
from conftest import git
from patchtrack.cli import main

DAY = 86400


def mail(n: int, date: datetime, *, reply_to: int | None = None) -> bytes:
    """Patch ``n`` (or a reply to patch ``reply_to``), its Date: header ``date``."""
    head = (
        f"From: Dev {n % 3} <dev{n % 3}@example.org>\nDate: {date.strftime('%a, %d %b %Y %H:%M:%S +0000')}\n"
        f"Message-ID: <m{n}@example.org>\n"
    )
    if reply_to is not None:
        return (head + f"Subject: Re: [PATCH] thing {reply_to}\nIn-Reply-To: <m{reply_to}@example.org>\n\n"
                "Reviewed-by: Rev <rev@example.org>\n").encode()
    return (head + f"Subject: [PATCH] thing {n}\n\nchange {n}\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n"
            f"@@ -1 +1 @@\n-{n}\n+{n + 1}\n").encode()


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=timezone.utc)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rev_list(repo: Path, *args: str) -> list[str]:
    """Commits as git lists them, oldest first: the oracle for the resolved ends."""
    return git("rev-list", "--reverse", *args, cwd=repo).split()


@pytest.fixture
def archive(tmp_path: Path) -> tuple[patchtrack.V2Writer, Path]:
    """Ten patches arriving one a day (1–10 March), with Date: headers as sent."""
    writer = patchtrack.V2Writer(tmp_path / "lab")
    for n in range(1, 11):
        writer.add(mail(n, at(n)), arrival=at(n, 13))
    return writer, tmp_path / "lab"


@pytest.mark.parametrize(
    "typed, git_args",
    [
        ("HEAD~4..", ["HEAD~4..HEAD"]),
        ("master", ["master"]),
        ("HEAD~6..HEAD~2", ["HEAD~6..HEAD~2"]),
        ("HEAD~3^!", ["HEAD~3^!"]),
        ("..HEAD~7", ["HEAD~7"]),
    ],
)
def test_header_names_resolved_commits_never_the_typed_revision(
    capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path], typed: str, git_args: list[str]
) -> None:
    _, path = archive
    walked = rev_list(path / "git" / "0.git", *git_args)
    code, out, _ = run(capsys, "report", str(path), typed, "--no-cache", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["start"], data["end"]) == (walked[0], walked[-1])
    assert data["range"]["epochs"] == [{"epoch": 0, "first": walked[0], "last": walked[-1], "mails": len(walked)}]
    assert data["title"].startswith(f"lab mailing list update from {walked[0][:9]} to {walked[-1][:9]}, mail dated ")
    assert typed.strip(".") not in data["title"]
    code, text, _ = run(capsys, "report", str(path), typed, "--no-cache")
    first, title = text.splitlines()[:2]
    assert title == data["title"] and first.startswith(f"From {walked[0][:9]} to {walked[-1][:9]}")
    assert "HEAD" not in text.split("=====")[0] and "master" not in text.split("=====")[0]


def test_library_exposes_the_same_range(archive: tuple[patchtrack.V2Writer, Path]) -> None:
    _, path = archive
    inbox = patchtrack.open_inbox(path)
    walked = rev_list(path / "git" / "0.git", "HEAD~5..HEAD~1")
    walk = inbox.walk("HEAD~5..HEAD~1")
    assert walk.coverage.tips == ((0, walked[-1]),)  # known before the walk
    list(walk)
    cov = walk.coverage
    assert (cov.start, cov.end, cov.mails) == (walked[0], walked[-1], 4)
    assert cov.after == ((0, git("rev-parse", "HEAD~5", cwd=path / "git" / "0.git").strip()),)
    report = inbox.report("HEAD~5..HEAD~1")
    assert (report.start, report.end) == (walked[0], walked[-1]) and report.coverage == cov
    # Date: span of the range's mails: patches 6..9, sent on 6..9 March
    assert report.dates == (at(6), at(9))
    assert report.title == f"lab mailing list update from {walked[0][:9]} to {walked[-1][:9]}, mail dated 2026-03-06 to 2026-03-09"
    collected: list[patchtrack.Coverage] = []
    inbox.series("HEAD~5..HEAD~1", coverage=collected.append)
    assert collected == [cov]


def test_several_epochs_are_named_one_by_one(tmp_path: Path) -> None:
    writer = patchtrack.V2Writer(tmp_path / "big", epoch_size=4)
    for n in range(1, 11):
        writer.add(mail(n, at(n)), arrival=at(n, 13))
    inbox = patchtrack.open_inbox(tmp_path / "big")
    report = inbox.report("HEAD~7..")  # 3 of epoch 0 is the start: 4 of epoch 0, 4 of 1, 2 of 2 follow
    epochs = [rev_list(tmp_path / "big" / "git" / f"{n}.git", "HEAD") for n in range(3)]
    spans = [(0, epochs[0][3], epochs[0][3], 1), (1, epochs[1][0], epochs[1][3], 4), (2, epochs[2][0], epochs[2][1], 2)]
    assert [(s.epoch, s.first, s.last, s.mails) for s in report.coverage.spans] == spans  # type: ignore[union-attr]
    words = ", ".join(f"{first[:9]} to {last[:9]} in epoch {n}" for n, first, last, _ in spans)
    assert report.title.startswith(f"big mailing list update from {words}, mail dated")
    data = report.to_dict()
    assert (data["start"], data["end"]) == (epochs[0][3], epochs[2][1])
    assert data["range"]["tips"] == {"0": epochs[0][-1], "1": epochs[1][-1], "2": epochs[2][-1]}


def test_an_empty_range_says_so(capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path]) -> None:
    _, path = archive
    tip = git("rev-parse", "HEAD", cwd=path / "git" / "0.git").strip()
    code, out, _ = run(capsys, "report", str(path), "HEAD..HEAD", "--no-cache", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["start"] is None and data["end"] is None and data["range"]["epochs"] == []
    assert data["title"] == f"lab mailing list update with no mail (after {tip[:9]} up to {tip[:9]})"
    code, out, _ = run(capsys, "report", str(path), "--since", "2026-04-01", "--no-cache")
    assert out.splitlines()[1] == (
        f"lab mailing list update with no mail (arrived since 2026-04-01 00:00 UTC; up to {tip[:9]})"
    )


def test_after_tips_never_says_from_the_start(capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path]) -> None:
    writer, path = archive
    cursor = path.parent / "tips.json"
    run(capsys, "tips", str(path))
    cursor.write_text(json.dumps(patchtrack.open_inbox(path).tips()))
    old = git("rev-parse", "HEAD", cwd=path / "git" / "0.git").strip()
    code, out, _ = run(capsys, "report", str(path), "--after-tips", str(cursor), "--no-cache")
    assert code == 0
    assert out.splitlines()[1] == f"lab mailing list update with no mail (arrived after the saved tips {old[:9]})"
    writer.add(mail(11, at(11)), arrival=at(11, 13))
    new = git("rev-parse", "HEAD", cwd=path / "git" / "0.git").strip()
    code, out, _ = run(capsys, "report", str(path), "--after-tips", str(cursor), "--no-cache")
    assert out.splitlines()[1] == (
        f"lab mailing list update from {new[:9]} to {new[:9]} (arrived after the saved tips {old[:9]}), "
        "mail dated 2026-03-11"
    )
    assert "the start" not in out and "the end" not in out


def test_cursor_keeps_mail_that_arrives_while_the_report_runs(
    capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The saved tips are the ones the walk resolved before it read anything: a mail
    delivered after that (here: while the series are assembled) is in the next report."""
    writer, path = archive
    cursor = path.parent / "cursor.json"
    code, _, err = run(capsys, "report", str(path), "--after-tips", str(cursor), "--update-tips", "--no-cache")
    assert code == 0 and "no cursor yet" in err
    first_tips = json.loads(cursor.read_text())
    assert first_tips == {"0": git("rev-parse", "HEAD", cwd=path / "git" / "0.git").strip()}
    writer.add(mail(11, at(11)), arrival=at(11, 13))

    assembled = patchtrack.Inbox._assembled

    def late_mail(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = assembled(self, *args, **kwargs)
        writer.add(mail(12, at(12)), arrival=at(12, 13))  # arrives mid-run, after the walk
        return found

    monkeypatch.setattr(patchtrack.Inbox, "_assembled", late_mail)
    code, out, _ = run(capsys, "report", str(path), "--after-tips", str(cursor), "--update-tips", "--no-cache", "--format", "json")
    monkeypatch.undo()
    data = json.loads(out)
    commits = rev_list(path / "git" / "0.git", "HEAD")
    assert code == 0 and [s["title"] for s in data["series"]] == ["thing 11"]
    assert data["range"]["tips"] == {"0": commits[-2]} == json.loads(cursor.read_text())  # not the mid-run tip
    code, out, _ = run(capsys, "report", str(path), "--after-tips", str(cursor), "--update-tips", "--no-cache", "--format", "json")
    data = json.loads(out)
    assert [s["title"] for s in data["series"]] == ["thing 12"]
    assert json.loads(cursor.read_text()) == {"0": commits[-1]}
    assert not [p for p in os.listdir(path.parent) if p.endswith(".tmp")]


class _FullDisk:
    """A stdout on a full disk (a file, not a terminal)."""

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("verb", ["report", "series", "messages"])
def test_cursor_is_not_moved_when_the_output_fails(
    verb: str, capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    writer, path = archive
    cursor = path.parent / "cursor.json"
    cursor.write_text(json.dumps(patchtrack.open_inbox(path).tips()))
    before = cursor.read_text()
    writer.add(mail(11, at(11)), arrival=at(11, 13))
    monkeypatch.setattr("sys.stdout", _FullDisk())
    assert main([verb, str(path), "--after-tips", str(cursor), "--update-tips", "--no-cache"]) == 1
    monkeypatch.undo()
    assert cursor.read_text() == before
    assert sorted(os.listdir(path.parent)) == ["cursor.json", "lab"]
    # and once it can be written, the cursor moves to the tip the walk read up to
    code, out, err = run(capsys, verb, str(path), "--after-tips", str(cursor), "--update-tips", "--no-cache")
    tip = git("rev-parse", "HEAD", cwd=path / "git" / "0.git").strip()
    assert code == 0 and "thing 11" in out and json.loads(cursor.read_text()) == {"0": tip}
    assert f"cursor {cursor} updated: epoch 0 at {tip[:9]}" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "--update-tips needs --after-tips"),
        (["--after-tips", "{tmp}/c.json", "--until", "2026-03-05"], "--update-tips with --since/--until"),
        (["--after-tips", "{tmp}/c.json", "--since", "last week"], "--update-tips with --since/--until"),
    ],
)
def test_update_tips_mistakes(
    capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path], extra: list[str], message: str
) -> None:
    _, path = archive
    argv = ["report", str(path), "--update-tips", "--no-cache", *[e.format(tmp=path.parent) for e in extra]]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    assert not (path.parent / "c.json").exists()


def test_since_until_by_arrival_or_by_date(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A mail sent (Date:) on 1 March that arrived on 20 March: by arrival it is in a
    window on the 20th, by date in one on the 1st; the header says which."""
    writer = patchtrack.V2Writer(tmp_path / "lab")
    writer.add(mail(1, at(1)), arrival=at(20, 9))
    writer.add(mail(2, at(20)), arrival=at(20, 13))
    path = str(tmp_path / "lab")
    inbox = patchtrack.open_inbox(path)
    by_arrival = inbox.report(since="2026-03-20", until="2026-03-20")
    by_date = inbox.report(since="2026-03-01", until="2026-03-01", by="date")
    assert [s.msgid for s in by_arrival.series] == ["m1@example.org", "m2@example.org"]
    assert [s.msgid for s in by_date.series] == ["m1@example.org"]
    assert "(arrived from 2026-03-20 00:00 UTC to 2026-03-20 23:59:59 UTC), mail dated 2026-03-01 to 2026-03-20" in by_arrival.title
    assert "(with a Date: header from 2026-03-01 00:00 UTC to 2026-03-01 23:59:59 UTC), mail dated 2026-03-01" in by_date.title
    assert by_date.to_dict()["range"]["by"] == "date" and by_arrival.to_dict()["range"]["by"] == "arrival"
    assert [m.msgid for m in inbox.messages(since="2026-03", until="2026-03-10", by="date")] == ["m1@example.org"]
    assert [m.msgid for m in inbox.messages(since="2026-03", until="2026-03-10")] == []
    code, out, _ = run(capsys, "messages", path, "--since", "2026-03-01", "--until", "2026-03-01", "--by", "date", "--format", "json")
    assert code == 0 and [r["msgid"] for r in json.loads(out)] == ["m1@example.org"]
    code, out, _ = run(capsys, "series", path, "--since", "2026-03-02", "--by", "date", "--format", "json", "--no-cache")
    assert code == 0 and [r["title"] for r in json.loads(out)] == ["thing 2"]
    code, _, err = run(capsys, "messages", path, "--since", "2026-03-01", "--by", "date", "--raw")
    assert code == 2 and "--raw" in err


@pytest.mark.parametrize("verb", ["messages", "series", "report"])
@pytest.mark.parametrize("by", ["arrival", "date"])
def test_a_date_that_cannot_be_read_is_one_line(
    verb: str, by: str, capsys: pytest.CaptureFixture[str], archive: tuple[patchtrack.V2Writer, Path]
) -> None:
    _, path = archive
    code, out, err = run(capsys, verb, str(path), "--since", "next blursday", "--by", by, "--no-cache")
    assert code == 2 and out == "" and err.count("\n") == 1 and "not a date: 'next blursday'" in err
