"""The command line: output records, the demo, the builder, and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import patchtrack
from conftest import MAILS, git
from patchtrack.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path / "gizmo", epoch_size=20)


def test_messages_jsonl_is_one_record_per_message(capsys, inbox: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "messages", str(inbox), "--raw")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == len(mails)
    assert set(rows[0]) == {"oid", "commit", "epoch", "time", "size", "deleted"}
    assert [r["size"] for r in rows] == [len(m) for m in mails]
    assert f"{len(mails)} messages from {len(mails)} commits" in err
    # parsed: the storage fields plus every Message field, per message
    code, out, _ = run(capsys, "messages", str(inbox))
    parsed = [json.loads(line) for line in out.splitlines()]
    assert [p["oid"] for p in parsed] == [r["oid"] for r in rows]
    assert set(parsed[0]) == set(rows[0]) | set(patchtrack.parse_message(mails[0]).to_dict())
    assert [p["msgid"] for p in parsed] == [patchtrack.parse_message(m).msgid for m in mails]


def test_messages_range_dates_and_formats(capsys, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    commits = git("rev-list", "--reverse", "HEAD", cwd=inbox / "git" / "0.git").split()
    code, out, _ = run(capsys, "messages", str(inbox), f"{commits[2][:9]}..{commits[6][:9]}", "--format", "json")
    assert code == 0 and [r["commit"] for r in json.loads(out)] == commits[3:7]
    code, out, _ = run(capsys, "messages", str(inbox), "--since", "2026-04-01", "--until", "2026-04-30", "--format", "text")
    assert code == 0
    assert out and all(line[:7] == "2026-04" for line in out.splitlines())


def test_tips_then_after_tips(capsys, tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    writer = patchtrack.V2Writer(tmp_path / "cron")
    for raw in mails[:10]:
        writer.add(raw)
    code, out, _ = run(capsys, "tips", str(tmp_path / "cron"))
    cursor = tmp_path / "tips.json"
    cursor.write_text(out)
    for raw in mails[10:13]:
        writer.add(raw)
    code, out, _ = run(capsys, "messages", str(tmp_path / "cron"), "--after-tips", str(cursor))
    assert code == 0 and len(out.splitlines()) == 3


def test_build_inbox_command(capsys, tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "build-inbox", str(MAILS), str(tmp_path / "b"), "--epoch-size", "10")
    assert code == 0 and "v2 inbox" in err
    assert len(patchtrack.open_inbox(tmp_path / "b").epochs) == (len(mails) + 9) // 10
    code, _, _ = run(capsys, "build-inbox", str(MAILS), str(tmp_path / "one.git"), "--v1")
    assert code == 0 and patchtrack.open_inbox(tmp_path / "one.git").layout == "v1"


def test_demo_shows_the_report_then_what_to_try(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # where the scratch archive goes
    code, out, err = run(capsys, "demo")
    assert code == 0
    # the main job: the mailing list update of the demo archive, as 'report' writes it
    keep = tmp_path / "kept"
    code, out_kept, err_kept = run(capsys, "demo", "--keep", str(keep))
    code, report, _ = run(capsys, "report", str(keep), "--no-cache")
    assert out == out_kept == report and "linux-gizmo mailing list update" in out
    assert "===== Patch list in this time period =====" in out
    # then what to try next; the scratch archive is gone and its path never shown
    assert "try next:" in err and "patchtrack demo --keep DIR" in err and "patchtrack series DIR" in err
    assert "patchtrack am DIR 20260309-gizmo-clocks-v2-0-9e8d7c6b5a41@linux.acme-semi.com" in err
    assert list(tmp_path.iterdir()) == [keep] and str(tmp_path) not in out + err
    # kept: the hints name the kept archive, and it is there
    assert f"patchtrack series {keep}" in err_kept and "--keep DIR" not in err_kept
    assert len(patchtrack.open_inbox(keep).epochs) == 2
    code, _, err = run(capsys, "demo", "--keep", str(keep))
    assert code == 2 and err.count("\n") == 1 and "kept: exists and is not an empty directory" in err


def test_series_formats(capsys, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "series", str(inbox), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert err.strip() == f"patchtrack: {len(rows)} series (0 mails from the cache, 41 parsed)"
    by_title = {(r["title"], r["version"]): r for r in rows}
    v2 = by_title[("gizmo: add bus clock support", 2)]
    assert v2["status"] == "revision" and v2["previous"]["version"] == 1 and v2["complete"]
    assert [p["index"] for p in v2["patches"]] == [1, 2, 3]
    assert {f["via"] for p in v2["patches"] for f in p["followups"]} >= {"cover", "reply"}
    code, out, _ = run(capsys, "series", str(inbox), "--format", "jsonl")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [r["id"] for r in rows]
    code, out, _ = run(capsys, "series", str(inbox))
    assert code == 0 and "[revision] v2 gizmo: add bus clock support" in out
    assert "previous: v1 of 2026-03-02" in out and "Acked-by x1" in out
    # a range: only the series with mail in it
    commits = git("rev-list", "--reverse", "HEAD", cwd=inbox / "git" / "0.git").split()
    code, out, _ = run(capsys, "series", str(inbox), f"{commits[0]}^!", "--format", "json")
    (first,) = json.loads(out)
    assert first["version"] == 1 and first["title"] == "gizmo: add bus clock support" and first["status"] == "superseded"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["messages", "/no/such/inbox"], "no such file or directory"),
        (["messages", "{tmp}/empty"], "neither a public-inbox archive nor a mailbox holding mail"),
        (["messages", "{inbox}", "deadbeef00.."], "unknown revision"),
        (["messages", "{inbox}", "HEAD..HEAD~3"], "reversed range"),
        (["messages", "{inbox}", "--since", "someday"], "not a date"),
        (["messages", "{inbox}", "--after-tips", "{tmp}/missing.json"], "cannot read a tips cursor"),
        (["build-inbox", "{tmp}/nomails", "{tmp}/out"], "nomails: no such file or directory"),
        (["tips", "/no/such/inbox"], "no such file or directory"),
        (["series", "/no/such/inbox"], "no such file or directory"),
        (["series", "{inbox}", "deadbeef00.."], "unknown revision"),
        (["report", "{inbox}", "deadbeef00.."], "unknown revision"),
        (["report", "{inbox}", "--top", "0"], "--top must be at least 1"),
        (["series", "{inbox}", "--workers", "0"], "--workers must be at least 1"),
        (["messages", "{inbox}", "--cache", "{tmp}"], "cannot use as a store"),
        (["report", "{inbox}", "--mailmap", "{tmp}/no.mailmap"], "cannot read"),
        (["series", "{inbox}", "--domain-map", "{tmp}/no.map"], "cannot read"),
    ],
)
def test_caller_errors_are_one_line_and_exit_2(capsys, argv, message, inbox: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty").mkdir(exist_ok=True)  # {tmp} itself holds the inbox: a mirror of one list
    argv = [a.format(tmp=tmp_path, inbox=inbox) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("patchtrack: error: ") and message in err


def test_installed_command_has_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "patchtrack", "messages", str(tmp_path / "missing")],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    usage = subprocess.run([sys.executable, "-m", "patchtrack", "nosuchcommand"], capture_output=True, text=True)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_subcommands_share_their_options() -> None:
    """--since/--until/--after-tips, --format, --mailmap/--domain-map and the cache
    options mean the same on messages, series and report."""
    from patchtrack.cli import _parser

    sub = next(a for a in _parser()._actions if a.dest == "command").choices
    for name in ("messages", "series", "report"):
        flags = {f for action in sub[name]._actions for f in action.option_strings}
        assert flags >= {
            "--since", "--until", "--after-tips", "--format", "--mailmap", "--domain-map",
            "--cache", "--no-cache", "--workers",
        }, name


def test_options_and_positionals_in_any_order(capsys, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    """``report INBOX --format json A..B`` reads RANGE as ``report INBOX A..B --format
    json`` does (plain argparse took RANGE as absent there, then refused the extra
    word), for every command that takes a range."""
    first = git("rev-list", "--reverse", "HEAD", cwd=inbox / "git" / "0.git").split()[5][:12]
    for name in ("messages", "series", "report"):
        code, expected, _ = run(capsys, name, str(inbox), f"{first}..", "--format", "json", "--no-cache")
        assert code == 0 and expected
        for order in (
            [str(inbox), "--format", "json", f"{first}..", "--no-cache"],
            ["--format", "json", "--no-cache", str(inbox), f"{first}.."],
        ):
            code, out, err = run(capsys, name, *order)
            assert (code, err.count("error")) == (0, 0) and out == expected, (name, order)
        if name == "messages":  # the range did narrow the output
            whole = run(capsys, name, str(inbox), "--format", "json", "--no-cache")[1]
            assert len(json.loads(whole)) > len(json.loads(expected)) > 0


def test_cache_is_on_by_default_and_can_be_moved_or_off(capsys, inbox: Path, tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    from patchtrack.cache import Cache, default_cache_path

    code, first, _ = run(capsys, "messages", str(inbox))
    assert code == 0 and len(Cache(default_cache_path())) == len(mails)
    code, again, _ = run(capsys, "messages", str(inbox))
    assert again == first  # the same records, read from the cache
    mine = tmp_path / "mine.duckdb"
    code, out, _ = run(capsys, "series", str(inbox), "--cache", str(mine), "--format", "json")
    assert code == 0 and len(Cache(mine)) == len(mails)
    off = tmp_path / "off"
    code, plain, _ = run(capsys, "messages", str(inbox), "--no-cache", "--cache", str(off))
    assert plain == first and not off.exists()


def test_identity_options_on_messages_and_series(capsys, inbox: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "messages", str(inbox))
    rows = [json.loads(line) for line in out.splitlines()]
    someone = next(r["author"] for r in rows if r["kind"] == "patch")
    mailmap = tmp_path / "mailmap"
    mailmap.write_text(f"Canonical Name <canon@example.com> <{someone['email']}>\n")
    domains = tmp_path / "emailmap"
    domains.write_text(f"{someone['email'].rpartition('@')[2]}  Gizmo Corp\n")
    code, out, _ = run(capsys, "messages", str(inbox), "--mailmap", str(mailmap), "--domain-map", str(domains))
    mapped = [json.loads(line) for line in out.splitlines()]
    hits = [m["author"] for m, r in zip(mapped, rows) if r["author"] and r["author"]["email"] == someone["email"]]
    assert hits and all(a == {"name": "Canonical Name", "email": "canon@example.com", "organisation": None} for a in hits)
    others = [m["author"] for m, r in zip(mapped, rows) if r["author"] and r["author"]["email"] != someone["email"]]
    assert all("organisation" in a for a in others)
    code, out, _ = run(capsys, "series", str(inbox), "--format", "jsonl", "--mailmap", str(mailmap))
    authors = [json.loads(line)["author"] for line in out.splitlines()]
    assert {"name": "Canonical Name", "email": "canon@example.com"} in authors
    assert someone not in authors
    code, text, _ = run(capsys, "series", str(inbox), "--domain-map", str(domains))
    assert "(Gizmo Corp)" in text


def test_tuned_process_sets_and_restores_the_collector() -> None:
    import gc

    from patchtrack.cli import tuned_process

    threshold = gc.get_threshold()
    with tuned_process():
        assert gc.get_threshold()[0] > threshold[0]
    assert gc.get_threshold() == threshold
