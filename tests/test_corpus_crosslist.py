"""Cross-posted threads of the real corpora, read as one archive of two lists.

linux-pwm and linux-fpga share 116 mails. Their copies differ (each list adds its own
headers), so the lists' real bytes are used: the threads that were cross-posted are
found with git and the standard library alone (not patchtrack's parser), and small
archives are built from each list's own copies — once as the lists hold them, once
with a review reply dropped from one list, as when a reviewer answers on one list
only.
"""

from __future__ import annotations

import email.parser
import email.policy
import subprocess
from pathlib import Path

import pytest

import patchtrack
from patchtrack.builder import build_inbox

from conftest import git_messages

PAIR = ("linux-pwm.vger.kernel.org.0", "linux-fpga.vger.kernel.org.0")


def _mails(repo: Path) -> dict[str, tuple[bytes, str | None]]:
    """Message-ID → (the list's bytes, In-Reply-To) of every first copy in the epoch,
    read with ``git cat-file`` and the standard library's header parser."""
    blobs = [blob for _, blob in git_messages(repo, "HEAD")]
    out = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=repo, input="".join(f"{b}\n" for b in blobs).encode(),
        check=True, capture_output=True,
    ).stdout
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    found: dict[str, tuple[bytes, str | None]] = {}
    at = 0
    for _ in blobs:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split()[2])
        data = out[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
        headers = parser.parsebytes(data)
        msgid = (headers.get("Message-ID") or "").strip().strip("<>")
        parent = (headers.get("In-Reply-To") or "").strip().strip("<>") or None
        if msgid and msgid not in found:
            found[msgid] = (data, parent)
    return found


@pytest.fixture(scope="module")
def pair(corpus_clones: dict[str, Path]) -> tuple[dict[str, tuple[bytes, str | None]], ...]:
    return tuple(_mails(corpus_clones[name]) for name in PAIR)


def _thread(mails: dict[str, tuple[bytes, str | None]], root: str, shared: set[str]) -> list[str]:
    """The shared mails under ``root`` (itself included), in the list's order."""
    members = {root}
    for msgid, (_, parent) in mails.items():  # arrival order: a reply comes after its parent
        if msgid in shared and parent in members:
            members.add(msgid)
    return [m for m in mails if m in members]


def _reviewed_thread(pwm: dict[str, tuple[bytes, str | None]], fpga: dict[str, tuple[bytes, str | None]]) -> tuple[list[str], str]:
    """A cross-posted thread with a Reviewed-by reply both lists carry: its mails
    and that reply's Message-ID."""
    shared = set(pwm) & set(fpga)
    for msgid in pwm:
        data, parent = pwm[msgid]
        if msgid in shared and parent in shared and b"\nReviewed-by:" in data:
            root = parent
            while pwm[root][1] in shared:
                root = pwm[root][1]  # type: ignore[index]
            return _thread(pwm, root, shared), msgid
    pytest.fail("no cross-posted Reviewed-by reply in linux-pwm and linux-fpga")


def _build(mails: dict[str, tuple[bytes, str | None]], ids: list[str], dest: Path) -> Path:
    return build_inbox([mails[i][0] for i in ids], dest)


def test_a_series_posted_to_two_lists_is_one_series(pair: tuple[dict[str, tuple[bytes, str | None]], ...], tmp_path: Path) -> None:
    pwm, fpga = pair
    thread, _ = _reviewed_thread(pwm, fpga)
    archive = patchtrack.open_archive(
        {"linux-pwm": _build(pwm, thread, tmp_path / "pwm"), "linux-fpga": _build(fpga, thread, tmp_path / "fpga")},
        workers=1,
    )
    messages = list(archive.messages())
    assert len(messages) == len(thread)
    assert all(m.lists == ("linux-fpga", "linux-pwm") or m.lists == ("linux-pwm", "linux-fpga") for m in messages)
    both = archive.series()
    alone = patchtrack.open_inbox(tmp_path / "pwm", workers=1).series()
    assert [s.id for s in both] == [s.id for s in alone]
    assert [[p.message.msgid for p in s.patches] for s in both] == [[p.message.msgid for p in s.patches] for s in alone]


def test_a_review_given_on_one_list_reaches_the_patch(pair: tuple[dict[str, tuple[bytes, str | None]], ...], tmp_path: Path) -> None:
    pwm, fpga = pair
    thread, review = _reviewed_thread(pwm, fpga)
    pwm_path = _build(pwm, thread, tmp_path / "pwm")
    fpga_path = _build(fpga, [m for m in thread if m != review], tmp_path / "fpga")  # answered on pwm only

    def reviews(series: list[patchtrack.Series]) -> set[str]:
        return {f.from_msgid for s in series for p in s.patches for f in p.followups}

    assert review not in reviews(patchtrack.open_inbox(fpga_path, workers=1).series())
    archive = patchtrack.open_archive({"linux-pwm": pwm_path, "linux-fpga": fpga_path}, workers=1)
    assert review in reviews(archive.series(lists=["linux-fpga"]))
    report = archive.report(lists=["linux-fpga"])
    assert report.counted == patchtrack.open_inbox(fpga_path, workers=1).report().counted
    assert report.also_from == ("linux-pwm",)


def test_message_id_from_the_headers_alone_is_the_parsers(corpus_repo: Path) -> None:
    """Copies are matched by the Message-ID read from their headers before parsing:
    it must be the one the parser gives, or a cached copy and a new one would not
    pair (on the five corpora: 58,031 mails, none differs)."""
    from patchtrack.message import message_id_of

    source = patchtrack.archive.open_source(corpus_repo)
    mails = [ref[1].data for ref in source.walk().refs() if not ref[5]]
    assert mails
    assert [message_id_of(d) for d in mails] == [patchtrack.parse_message(d).msgid for d in mails]
