"""The caller's mistakes: each is one line on stderr and exit 2, never a usage block
or a traceback; and the builder takes the mail a real list archives (bounces, mail
without ``From:`` or ``Date:``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

import patchtrack
from conftest import MAILS, git
from patchtrack.builder import BuildError, mail_meta
from patchtrack.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """main's exit code, stdout and stderr, whether it returned or exited (argparse exits)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("i") / "gizmo", epoch_size=20)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "{inbox}", "--top", "x"], "error: report: argument --top: invalid int value: 'x'"),
        (["nosuchcommand"], "error: argument COMMAND: invalid choice: 'nosuchcommand'"),
        ([], "error: the following arguments are required: COMMAND"),
        (["report"], "error: report: the following arguments are required: INBOX"),
        (["series", "{inbox}", "--format", "yaml"], "error: series: argument --format: invalid choice: 'yaml'"),
        (["messages", "{inbox}", "A..B", "extra"], "error: messages: unrecognized arguments: extra"),
        (["am", "{inbox}"], "error: am: the following arguments are required: SERIES_OR_MSGID"),
        (["report", "{inbox}", "--top"], "error: report: argument --top: expected one argument"),
        (["series", "{inbox}", "--workers", "many"], "argument --workers: invalid int value"),
    ],
)
def test_argparse_mistakes_are_one_line(capsys, argv, message, inbox: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, *(a.format(inbox=inbox) for a in argv))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("patchtrack: error: ") and message in err, err
    command = argv[0] if argv and argv[0] != "nosuchcommand" else ""
    assert err.rstrip().endswith(f"(see 'patchtrack{' ' + command if command else ''} --help')")


def test_help_is_still_the_whole_help(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "report", "--help")
    assert code == 0 and err == ""
    assert out.startswith("usage: patchtrack report") and "--upstream-range" in out and out.count("\n") > 10


def test_the_installed_command_says_an_argparse_mistake_in_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "patchtrack", "report", "x", "--top", "x"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "invalid int value" in proc.stderr


@pytest.mark.parametrize("option", ["--mailmap", "--domain-map"])
@pytest.mark.parametrize("command", ["messages", "series", "report"])
def test_a_binary_identity_file_is_one_line(capsys, option: str, command: str, inbox: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    binary = tmp_path / "map"
    binary.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)))
    code, out, err = run(capsys, command, str(inbox), option, str(binary), "--no-cache")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err == f"patchtrack: error: {binary}: not a UTF-8 text file (byte 0x8b at offset 1)\n"


def _mail(name: str, headers: str, body: str = "text\n") -> tuple[str, bytes]:
    return name, (headers + "\n" + body).encode()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two ordinary mails, a bounce (``From: <>``), a mail with neither ``From:``
    nor ``Date:``, and one whose sender is an address without a name."""
    mails = [
        _mail("1.eml", "From: A <a@example.org>\nSubject: one\nMessage-ID: <1@x>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n"),
        _mail("2.eml", "From: <>\nSubject: Undelivered Mail\nMessage-ID: <2@x>\nDate: Mon, 1 Jan 2024 11:00:00 +0100\n"),
        _mail("3.eml", "Subject: no sender, no date\nMessage-ID: <3@x>\n"),
        _mail("4.eml", "From: b@example.org\nSubject: four\nMessage-ID: <4@x>\nDate: Mon, 1 Jan 2024 12:00:00 -0330\n"),
        _mail("5.eml", "From: C <c@example.org>\nSubject: five\nMessage-ID: <5@x>\nDate: Mon, 1 Jan 2024 13:00:00 +0000\n"),
    ]
    root = tmp_path / "mails"
    root.mkdir()
    for name, raw in mails:
        (root / name).write_bytes(raw)
    return root


def test_build_inbox_takes_bounces_and_mail_without_from_or_date(capsys, folder: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dest = tmp_path / "out"
    code, _, err = run(capsys, "build-inbox", str(folder), str(dest), "--remove", "2@x")
    assert code == 0 and "wrote v2 inbox" in err
    repo = dest / "git" / "0.git"
    # the authors public-inbox's importer writes: an empty name and address where From: has none
    assert git("log", "--reverse", "--format=%an|%ae|%ad|%s", "--date=raw", cwd=repo).splitlines() == [
        "A|a@example.org|1704103200 +0000|one",
        "||1704103200 +0100|Undelivered Mail",
        "||0 +0000|no sender, no date",
        "b|b@example.org|1704123000 -0330|four",
        "C|c@example.org|1704114000 +0000|five",
        "||1704103200 +0100|Undelivered Mail",  # the removal
    ]
    assert "error" not in git("fsck", "--strict", cwd=repo)
    found = patchtrack.open_inbox(dest).messages()
    assert [m.msgid for m in found] == ["1@x", "2@x", "3@x", "4@x", "5@x"]
    # purge rewrites history through a bounce's commit, whose ident libgit2 cannot make
    writer = patchtrack.V2Writer(tmp_path / "purged")
    for raw in sorted(folder.iterdir()):
        writer.add(raw.read_bytes())
    assert writer.purge("3@x") == 1
    purged = tmp_path / "purged" / "git" / "0.git"
    assert git("log", "--format=%an|%ae|%s", cwd=purged).splitlines()[2:4] == ["||purged <3@x>", "||Undelivered Mail"]
    assert [m.msgid for m in patchtrack.open_inbox(tmp_path / "purged").messages()] == ["1@x", "2@x", "4@x", "5@x"]


def test_builder_idents_keep_the_commit_ids_libgit2_made(tmp_path: Path) -> None:
    """The commits written by hand are byte for byte what pygit2 wrote for an
    ordinary ident, so archives built before keep their ids."""
    dest = patchtrack.build_inbox(MAILS, tmp_path / "a")
    repo = pygit2.Repository(str(dest / "git" / "0.git"))
    for commit in repo.walk(repo.head.target):
        again = repo.create_commit(
            None, commit.author, commit.committer, commit.message, commit.tree_id, commit.parent_ids
        )
        assert again == commit.id


def test_mail_meta_of_a_bounce() -> None:
    meta = mail_meta(b"From: <>\nSubject: x\n\n")
    assert (meta.name, meta.email) == ("", "")
    crafted = mail_meta(b'From: "\\"><img src=x> A\r\n B" <=?utf-8?q?a=0Ab?=@x>\nSubject: x\n\n')
    assert "<" not in crafted.name + crafted.email and "\n" not in crafted.name + crafted.email


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{mails}", "{tmp}/o", "--v1", "--epoch-size", "3"], "--epoch-size: a v1 archive has no epochs"),
        (["{mails}", "{tmp}/o", "--epoch-size", "0"], "--epoch-size must be at least 1"),
        (["{mails}", "{tmp}/o", "--epoch-size", "-1"], "--epoch-size must be at least 1"),
        (["{mails}", "{tmp}/a-file"], "a-file: exists and is not a directory"),
        (["{mails}", "{tmp}/full"], "full: exists and is not empty"),
        (["{tmp}/nowhere", "{tmp}/o"], "nowhere: no such file or directory"),
        (["{tmp}/a-file", "{tmp}/o"], "a-file: neither an mbox nor a mail (it begins b'x')"),
        (["{tmp}/empty", "{tmp}/o"], "empty: no mail to build an archive from"),
        (["{mails}", "{tmp}/o", "--v1", "--purge", "1@x"], "purge and epochs exist only in the v2 layout"),
        (["{mails}", "{tmp}/o", "--remove", "nobody@x"], "<nobody@x>: no such Message-ID among the mails"),
    ],
)
def test_build_inbox_mistakes_are_one_line(capsys, argv, message, folder: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not a mail file")
    code, out, err = run(capsys, "build-inbox", *(a.format(mails=folder, tmp=tmp_path) for a in argv))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("patchtrack: error: ") and message in err, err
    assert not (tmp_path / "o").exists()  # refused before anything was written


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epoch_size": 0}, "epoch_size must be a whole number of at least 1"),
        ({"layout": "v3"}, "layout must be 'v1' or 'v2'"),
        ({"layout": "v1", "epoch_size": 5}, "exist only in the v2 layout"),
    ],
)
def test_build_inbox_library_refuses_with_a_patchtrack_error(kwargs, message, folder: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BuildError, match=message) as caught:
        patchtrack.build_inbox(folder, tmp_path / "o", **kwargs)
    assert isinstance(caught.value, (patchtrack.PatchtrackError, ValueError))
    with pytest.raises(BuildError, match="no mail to build an archive from"):
        patchtrack.build_inbox([], tmp_path / "o")
    (tmp_path / "f").write_text("x")
    for writer in (patchtrack.V2Writer, patchtrack.V1Writer):
        with pytest.raises(BuildError, match="exists and is not a directory"):
            writer(tmp_path / "f")
