"""A revision posted by somebody else is weaker evidence and never handed over
silently: revision links mark it ``other-author``, ``next`` prefers the author's own
reroll, ``last_revision(same_author=True)`` stops before it, and ``patchtrack am``
refuses it without ``--other-author`` (issue 19: a third party's in-thread
``[PATCH v2]`` with a different diff was written as "the newest revision")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import patchtrack
from patchtrack import Series, assemble, parse_message
from patchtrack.cli import main
from patchtrack.revisions import OTHER_AUTHOR, last_revision, same_authors, strangers

ALICE = "Alice Maintainer <alice@kernel.org>"
MALLORY = "Mallory <mallory@evil.example>"
BOB = "Bob Subsystem <bob@kernel.org>"
ROOT = Path(__file__).resolve().parent.parent
HOSTILE = Path(os.environ.get("PATCHTRACK_HOSTILE", ROOT.parent / "shared" / "hostile"))
HIJACK = HOSTILE / "security" / "hijack"


def _mail(
    msgid: str, sender: str, subject: str, hour: int, line: str, *, parent: str | None = None, author: str | None = None
) -> bytes:
    """One patch mail changing ``f.c``'s first line to ``line``."""
    head = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Message-ID: <{msgid}>",
        f"Date: Mon, 01 Jan 2024 {hour:02}:00:00 +0000",
    ]
    if parent:
        head += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    body = [f"From: {author}", ""] if author else []
    writer = author or sender
    body += [
        "Fix the thing.", "", f"Signed-off-by: {writer}", "---",
        "diff --git a/f.c b/f.c", "index 1111111..2222222 100644", "--- a/f.c", "+++ b/f.c",
        "@@ -1 +1 @@", "-a", f"+{line}", "",
    ]
    return ("\n".join(head) + "\n\n" + "\n".join(body)).encode()


V1 = _mail("alice-1@kernel.org", ALICE, "[PATCH] fix the thing", 10, "good")
V2 = "[PATCH v2] fix the thing"
HIJACKED = _mail("mallory-2@evil.example", MALLORY, V2, 11, "evil()", parent="alice-1@kernel.org")
OWN_V2 = _mail("alice-2@kernel.org", ALICE, V2, 12, "better")
REPOST = _mail("bob-2@kernel.org", BOB, V2, 12, "better", author=ALICE, parent="alice-1@kernel.org")


def _series(*mails: bytes) -> dict[str, Series]:
    return {s.msgid: s for s in assemble(parse_message(m) for m in mails)}


def test_a_third_partys_reroll_is_marked_and_not_followed_by_default() -> None:
    found = _series(V1, HIJACKED)
    v1, v2 = found["alice-1@kernel.org"], found["mallory-2@evil.example"]
    assert v2.previous is not None and v2.previous.id == v1.id
    assert v2.evidence == ("in-reply-to", OTHER_AUTHOR)
    assert not same_authors(v2, v1) and [str(p) for p in strangers(v2, v1)] == [MALLORY]
    by_id = {s.id: s for s in found.values()}
    assert last_revision(v1, by_id) is v2  # the links themselves are kept
    assert last_revision(v1, by_id, same_author=True) is v1


def test_the_authors_own_reroll_is_next_even_after_a_third_partys() -> None:
    found = _series(V1, HIJACKED, OWN_V2)
    v1, own = found["alice-1@kernel.org"], found["alice-2@kernel.org"]
    assert own.previous is not None and own.previous.id == v1.id and own.evidence == ("title",)
    assert v1.next is not None and v1.next.id == own.id
    assert last_revision(v1, {s.id: s for s in found.values()}, same_author=True) is own


def test_a_maintainer_reposting_with_the_authors_in_body_from_is_the_same_author() -> None:
    found = _series(V1, REPOST)
    v1, repost = found["alice-1@kernel.org"], found["bob-2@kernel.org"]
    assert repost.sender is not None and repost.sender.email == "bob@kernel.org"
    assert same_authors(repost, v1) and OTHER_AUTHOR not in repost.evidence
    assert last_revision(v1, {s.id: s for s in found.values()}, same_author=True) is repost


def _inbox(tmp_path: Path, *mails: bytes) -> Path:
    folder = tmp_path / "mails"
    folder.mkdir()
    for n, raw in enumerate(mails):
        (folder / f"{n:03}.eml").write_bytes(raw)
    return patchtrack.build_inbox(folder, tmp_path / "inbox")


def _am(capsys: pytest.CaptureFixture[str], inbox: Path, out: Path, *flags: str) -> tuple[int, str]:
    code = main(["am", str(inbox), "alice-1@kernel.org", "-o", str(out), *flags])
    return code, capsys.readouterr().err


def test_am_refuses_a_third_partys_newest_revision(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, V1, HIJACKED)
    out = tmp_path / "x.mbox"
    code, err = _am(capsys, inbox, out)
    assert code == 2 and not out.exists()
    (line,) = err.splitlines()
    assert "mallory-2@evil.example" in line and "v2" in line and MALLORY in line and ALICE in line
    assert "--other-author" in line
    code, _ = _am(capsys, inbox, out, "--other-author")
    assert code == 0 and b"+evil()" in out.read_bytes()
    code, _ = _am(capsys, inbox, out, "--this")
    assert code == 0 and b"+good" in out.read_bytes() and b"evil" not in out.read_bytes()


def test_am_writes_the_authors_own_newest_revision(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "x.mbox"
    code, err = _am(capsys, _inbox(tmp_path, V1, HIJACKED, OWN_V2), out)
    assert code == 0, err
    assert b"+better" in out.read_bytes() and b"evil" not in out.read_bytes()


def test_am_writes_a_maintainers_repost(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "x.mbox"
    code, err = _am(capsys, _inbox(tmp_path, V1, REPOST), out)
    assert code == 0, err
    assert b"+better" in out.read_bytes() and b"From: Alice Maintainer <alice@kernel.org>" in out.read_bytes()


@pytest.mark.skipif(not HIJACK.is_dir(), reason="the hostile reproducers are not beside the checkout")
def test_am_refuses_the_hijack_reproducer(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shutil.copytree(HIJACK, tmp_path / "mails")
    inbox = patchtrack.build_inbox(tmp_path / "mails", tmp_path / "inbox")
    out = tmp_path / "x.mbox"
    code, err = _am(capsys, inbox, out)
    assert code == 2 and not out.exists() and "mallory" in err.lower()
