"""Every verb reads a mailbox as it reads an archive: an mbox (mboxrd, gzipped), a
maildir (what ``lei q -o DIR`` writes), a folder of ``*.patch`` / ``*.eml`` files;
and ``build-inbox`` builds an archive from each of them."""

from __future__ import annotations

import gzip
import json
import mailbox
import re
from pathlib import Path

import pytest

import patchtrack
from conftest import BUNDLES, MAILS, _need_corpus, git
from patchtrack.cli import main

# What a message is, whichever way it was stored (the storage fields — blob, commit,
# epoch, arrival — belong to the archive, not to the mail).
_SAME = ("msgid", "kind", "subject", "author", "sender", "date", "in_reply_to", "trailers", "diffstat", "patch_id")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _mboxrd(mails: list[bytes]) -> bytes:
    """Mails as lore and ``lei q -o mboxrd:`` write them: every ``>*From `` line escaped."""
    return b"".join(
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + re.sub(rb"(?m)^(>*From )", rb">\1", m).rstrip(b"\n") + b"\n\n"
        for m in mails
    )


def _rows(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [{k: row[k] for k in _SAME if k in row} for row in map(json.loads, out.splitlines())]


@pytest.fixture
def boxes(tmp_path: Path, mails: list[bytes]) -> dict[str, Path]:
    """The fixture mails as every kind of mailbox."""
    (tmp_path / "gizmo.mbox").write_bytes(_mboxrd(mails))
    (tmp_path / "gizmo.mbox.gz").write_bytes(gzip.compress(_mboxrd(mails)))
    maildir = mailbox.Maildir(str(tmp_path / "lei-result"), create=True)
    for n, raw in enumerate(mails):
        key = maildir.add(raw)
        # lei names its deliveries by time; name them in order, as delivered
        (tmp_path / "lei-result" / "new" / key).rename(tmp_path / "lei-result" / "new" / f"{n:04d}.lei")
    folder = tmp_path / "patches"
    folder.mkdir()
    for n, raw in enumerate(mails):
        # git format-patch writes each mail as a one-mail mbox (unescaped: a mail
        # that quotes a separator line, as 024's attached patch does, stays an *.eml),
        # mail clients save the bare mail
        if n % 2 and not re.search(rb"(?m)^From ", raw):
            (folder / f"{n:04d}.patch").write_bytes(b"From 0123456789abcdef Mon Sep 17 00:00:00 2001\n" + raw)
        else:
            (folder / f"{n:04d}.eml").write_bytes(raw)
    (folder / "notes.txt").write_text("not a mail: skipped by its suffix")
    return {"mbox": tmp_path / "gizmo.mbox", "gz": tmp_path / "gizmo.mbox.gz", "maildir": tmp_path / "lei-result",
            "folder": folder}


@pytest.mark.parametrize("kind", ["mbox", "gz", "maildir", "folder"])
def test_every_verb_reads_a_mailbox(capsys, kind: str, boxes: dict[str, Path], tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    archive = patchtrack.build_inbox(MAILS, tmp_path / "archive")
    code, want, _ = run(capsys, "messages", str(archive), "--format", "jsonl")
    assert code == 0 and len(want.splitlines()) == len(mails)
    code, got, err = run(capsys, "messages", str(boxes[kind]), "--format", "jsonl")
    assert code == 0, err
    assert _rows(got) == _rows(want)
    code, want, _ = run(capsys, "series", str(archive), "--format", "json")
    code, got, err = run(capsys, "series", str(boxes[kind]), "--format", "json")
    assert code == 0 and json.loads(got) == json.loads(want) and len(json.loads(got)) == 9
    code, report, _ = run(capsys, "report", str(boxes[kind]), "--format", "json")
    assert code == 0 and len(json.loads(report)["series"]) == 9
    # the scratch archive's commits are gone when the command ends: the report names
    # none (an archive's report names its own)
    code, archived, _ = run(capsys, "report", str(archive), "--format", "json")
    assert json.loads(archived)["start"] and json.loads(archived)["start"][:9] in json.loads(archived)["title"]
    got_report = json.loads(report)
    assert got_report["start"] is None and got_report["end"] is None and "epochs" not in got_report["range"]
    assert re.search(r"[0-9a-f]{9}", got_report["title"]) is None and "mail dated 2026-03-02" in got_report["title"]
    code, _, err = run(capsys, "am", str(boxes[kind]), "20260302-gizmo-clocks-v1-1-4c1e2d5f7a9b@linux.acme-semi.com",
                       "-o", str(tmp_path / "out.mbx"))
    assert code == 0, err
    assert len(patchtrack.read_mbox(tmp_path / "out.mbx")) == 3


def test_a_range_of_a_mailbox_is_one_line_and_exit_2(capsys, boxes: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "tips.json").write_text("{}")
    for argv in (["messages", str(boxes["mbox"]), "HEAD~3.."], ["report", str(boxes["maildir"]), "--after-tips",
                                                                 str(tmp_path / "tips.json")]):
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "") and err.count("\n") == 1
        assert "a mailbox, not an archive" in err and err.startswith("patchtrack: error: ")
    # dates select a mailbox's mail as an archive's (the mails span 2026-03-02 to 2026-04-…)
    code, out, _ = run(capsys, "messages", str(boxes["mbox"]), "--until", "2026-03-02", "--format", "jsonl")
    assert code == 0 and 0 < len(out.splitlines()) < 41


@pytest.mark.parametrize("kind", ["mbox", "gz", "maildir", "folder"])
def test_build_inbox_reads_every_mailbox(capsys, kind: str, boxes: dict[str, Path], tmp_path: Path, mails: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "build-inbox", str(boxes[kind]), str(tmp_path / "built"))
    assert code == 0, err
    built = [m.msgid for m in patchtrack.open_inbox(tmp_path / "built").messages()]
    assert built == [patchtrack.parse_message(raw).msgid for raw in mails]


def test_build_inbox_without_mail_is_one_line_and_exit_2(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty.mbox").write_bytes(b"")
    mailbox.Maildir(str(tmp_path / "empty-maildir"), create=True)
    for source in ("empty.mbox", "empty-maildir"):
        code, out, err = run(capsys, "build-inbox", str(tmp_path / source), str(tmp_path / "out"))
        assert (code, out) == (2, "") and err.count("\n") == 1 and "no mail to build an archive from" in err
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # a mailbox with no mail is no archive either: every verb says so
    code, out, err = run(capsys, "series", str(tmp_path / "empty.mbox"))
    assert (code, out) == (2, "") and "no mail" in err and err.count("\n") == 1


@pytest.mark.corpus
def test_an_mbox_of_a_corpus_range_reads_as_the_range(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The last 400 mails of kvm-ppc exported as lore's gzipped mboxrd: the same
    messages as the archive range, and the same series (assembled from those mails)."""
    _need_corpus()
    [bundle] = [b for b in BUNDLES if b.name.startswith("kvm-ppc")]
    repo = tmp_path / "kvm-ppc.git"
    git("clone", "-q", "--bare", str(bundle), str(repo))
    start = git("rev-parse", "HEAD~400", cwd=repo).strip()
    raws = [r.data for r in patchtrack.open_inbox(repo).walk(f"{start}..")]
    (tmp_path / "kvm.mbox.gz").write_bytes(gzip.compress(_mboxrd(raws)))
    code, want, _ = run(capsys, "messages", str(repo), f"{start}..", "--format", "jsonl")
    assert code == 0
    code, got, err = run(capsys, "messages", str(tmp_path / "kvm.mbox.gz"), "--format", "jsonl")
    assert code == 0, err
    assert len(_rows(got)) == len(raws) and _rows(got) == _rows(want)
    # the series of those mails alone: a mailbox is assembled from what it holds
    expected = patchtrack.assemble(patchtrack.parse_message(r) for r in raws)
    code, got, err = run(capsys, "series", str(tmp_path / "kvm.mbox.gz"), "--format", "json")
    assert code == 0 and [s["id"] for s in json.loads(got)] == [s.id for s in expected]
