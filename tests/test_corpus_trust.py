"""What series and the report say, recomputed from the mails of every series of the
real archives: review as posted and on the list, the byline, status words, a cover
letter that miscounts its patches, and am-ready mboxes that read back whole. (The
same rules on mails built by hand: tests/test_series_trust.py.)"""

from __future__ import annotations

import collections
import email
import email.utils
import os
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest

import patchtrack
from conftest import ROOT
from patchtrack.mbox import MboxError, am_mbox, split_mbox
from patchtrack.report import build_report
from patchtrack.series import is_series_mail

pytestmark = pytest.mark.corpus

REVIEW = {"Reviewed-by", "Acked-by", "Tested-by"}
SEED = Path(os.environ.get("PATCHTRACK_SEED_KVM", ROOT.parent / "shared" / "seed-kvm"))


def _shown_on(corpus_name: str) -> bool:
    """Whether the case must show: linux-pwm and kvm-ppc have each."""
    return corpus_name.startswith(("linux-pwm", "kvm-ppc"))


def _email(person: object) -> str:
    return getattr(person, "email", "").lower()


def _patch_author(m: patchtrack.Message) -> str:
    return _email(m.author or m.sender)


def _carried_tags(s: patchtrack.Series) -> list[tuple[int, str, str]]:
    """The review tags the patch mails carry in their own trailers, not by the
    patch's author: (counter, key, address)."""
    return [
        (p.index, t.key, _email(t.person))
        for p in s.patches for t in p.message.trailers
        if t.key in REVIEW and t.person is not None and _email(t.person) != _patch_author(p.message)
    ]


def _report_lines(messages: list, series: tuple) -> dict[str, str]:
    """Each series' patch-list line of a report over the whole archive, by id."""
    report = build_report("corpus", messages, series)
    section = report.to_text().split("===== Patch list in this time period =====\n\n", 1)[1]
    lines = section.split("\n\n===== Patch commit messages", 1)[0].splitlines()
    assert len(lines) == len(report.series)
    return {s.id: line for s, line in zip(report.series, lines)}


@pytest.fixture(scope="module")
def lines(corpus_name: str, corpus_messages: list, corpus_series: tuple) -> dict[str, str]:
    return _report_lines(corpus_messages, corpus_series)


def test_every_series_whose_patches_carry_review_shows_it_as_posted(
    corpus_name: str, corpus_series: tuple, lines: dict[str, str]
) -> None:
    carried = 0
    for s in corpus_series:
        tags = _carried_tags(s)
        shown = s.to_dict()["review"]["as_posted"]
        if not tags:
            assert shown == [] and "as posted:" not in lines[s.id], s.msgid
            continue
        carried += 1
        want = collections.defaultdict(set)
        for index, key, address in tags:
            want[(key, address)].add(index)
        assert {(r["key"], r["email"].lower()): set(r["patches"]) for r in shown} == want, s.msgid
        assert "[as posted: " in lines[s.id], (s.msgid, lines[s.id])
    assert carried or not _shown_on(corpus_name)


def test_every_review_given_in_a_reply_shows_on_the_list(
    corpus_name: str, corpus_series: tuple, lines: dict[str, str]
) -> None:
    """A reply in the series' thread whose sender gives a review tag in their own
    name: the series shows review (on the list, or as posted when the patch
    already carried that very tag)."""
    given = 0
    for s in corpus_series:
        if not s.patches:  # a cover letter alone: no patch to review
            continue
        members = {m.oid for m in ([s.cover] if s.cover else []) + [p.message for p in s.patches]}
        replies = [m for m in s.messages if m.oid not in members and m.msgid and not is_series_mail(m)]
        own = [
            (m, t) for m in replies for t in m.trailers
            if t.key in REVIEW and t.person is not None and _email(t.person) == _email(m.sender)
        ]
        if not own:
            continue
        given += 1
        shown = s.to_dict()["review"]
        names = {r["email"].lower() for part in shown.values() for r in part}
        assert {_email(t.person) for _, t in own} <= names, s.msgid
        assert "[no review]" not in lines[s.id], lines[s.id]
    assert given or not _shown_on(corpus_name)


def test_byline_is_the_patches_author_and_sent_by_exactly_when_the_poster_wrote_none(
    corpus_name: str, corpus_series: tuple, lines: dict[str, str]
) -> None:
    sent_by = 0
    for s in corpus_series:
        if not s.patches:
            continue
        poster = _email(s.head.sender or s.head.author)
        counts = collections.Counter(_patch_author(p.message) for p in s.patches)
        order = {a: n for n, a in reversed(list(enumerate(_patch_author(p.message) for p in s.patches)))}
        main = min(counts, key=lambda a: (-counts[a], order[a]))
        wrote = poster in counts
        written, sender = s.to_dict()["written_by"], s.to_dict()["sent_by"]
        if wrote:
            assert written["email"].lower() == poster and sender is None, s.msgid
            assert ", sent by " not in lines[s.id]
        elif s.sent_by is None:
            # a poster who is an author under another address (same full name)
            assert patchtrack.same_person(s.head.sender, s.written_by), s.msgid
        else:
            sent_by += 1
            assert written["email"].lower() == main and sender["email"].lower() == poster, s.msgid
            name = f"{s.written_by.name} <{s.written_by.email}>" if s.written_by.name else f"<{s.written_by.email}>"
            assert f" — {name}, sent by " in lines[s.id], lines[s.id]
    assert sent_by or not _shown_on(corpus_name)


def test_status_words(corpus_series: tuple, lines: dict[str, str]) -> None:
    """Never ``New`` for a v2+ or a series with an earlier revision; ``superseded``
    exactly when a later revision exists."""
    for s in corpus_series:
        status = lines[s.id].split(": [", 1)[0].split(": ", 1)[0]
        if status.startswith("New"):
            assert s.previous is None and s.version <= 1 and not s.resend, lines[s.id]
        if s.previous is None and s.version > 1:
            assert status.startswith(f"v{s.version}, earlier revisions not in this archive"), lines[s.id]
        assert ("superseded by" in status) == (s.next is not None), lines[s.id]


def test_a_cover_letter_is_one_series_with_the_patches_that_answer_it(
    corpus_name: str, corpus_messages: list, corpus_series: tuple
) -> None:
    """Patches with a counter, posted in reply to a cover letter by its sender within
    two days, in its version, belong to its series whatever N they carry; when their
    N is not the cover's, the series says so."""
    where = {}
    for s in corpus_series:
        for m in ([s.cover] if s.cover else []) + [p.message for p in s.patches] + list(s.duplicates):
            where[m.oid] = s
    by_id = {m.msgid: m for m in corpus_messages if m.msgid}
    checked = mismatched = 0
    for m in corpus_messages:
        cover = by_id.get(m.in_reply_to or "")
        if (
            cover is None or m.oid not in where or cover.oid not in where or not is_series_mail(cover)
            or cover.subject.index != 0 or m.subject.index in (None, 0) or m.subject.total is None
            or _email(cover.sender) != _email(m.sender) or cover.date is None or m.date is None
            or abs(cover.date - m.date) > timedelta(days=2)
            or not (m.subject.version == cover.subject.version or m.subject.version_inferred)
            or getattr(where[cover.oid].cover, "oid", None) != cover.oid  # a copy sent twice
        ):
            continue
        s = where[m.oid]
        assert s is where[cover.oid], (m.msgid, cover.msgid)
        checked += 1
        if m.subject.total != cover.subject.total:
            mismatched += 1
            assert "cover-count-mismatch" in s.problems, s.msgid
    assert checked and (mismatched or not _shown_on(corpus_name))


def test_kvm_ppc_cover_that_says_5_of_6_patches(corpus_name: str, corpus_series: tuple) -> None:
    """``[PATCH v2 0/5] … Expose Hostwide counters`` with ``1/6``…``6/6``: one series,
    flagged, applicable, in the revision chain with its v1."""
    if not corpus_name.startswith("kvm-ppc"):
        pytest.skip("a kvm-ppc thread")
    by_msgid = {s.msgid: s for s in corpus_series}
    v2 = by_msgid["20250115143948.369379-1-vaibhav@linux.ibm.com"]
    assert [p.index for p in v2.patches] == [1, 2, 3, 4, 5, 6]
    assert (v2.total, v2.complete, v2.problems) == (6, True, ("cover-count-mismatch",))
    assert not [s for s in corpus_series if s.id != v2.id and any(
        p.message.in_reply_to == v2.msgid for p in s.patches)]
    assert v2.previous is not None and v2.previous.msgid == "20241222140247.174998-1-vaibhav@linux.ibm.com"
    v1 = by_msgid[v2.previous.msgid]
    assert v1.next is not None and v1.next.id == v2.id
    assert am_mbox(v2).count(b"\nSubject: [PATCH v2 ") == 6


def _last_year(series: tuple) -> list:
    end = max(s.last_date for s in series if s.last_date)
    return [s for s in series if s.complete and s.last_date and s.last_date >= end - timedelta(days=365)]


def _same(a: patchtrack.Series, b: patchtrack.Series) -> bool:
    return ([(p.index, p.msgid) for p in a.patches], a.version, a.total, a.rfc) == (
        [(p.index, p.msgid) for p in b.patches], b.version, b.total, b.rfc)


def test_am_ready_mboxes_read_back_into_the_same_series(corpus_name: str, corpus_series: tuple) -> None:
    """Every complete series of the archive's last year → ``to_mbox`` → read → assemble:
    the same series, alone and all in one mbox. (Keyed on the sender, every series
    of several authors split: an am-ready mbox gives each patch its author's From:.)"""
    start = time.process_time()
    written = []
    several = 0
    for s in _last_year(corpus_series):
        try:
            data = am_mbox(s)
        except MboxError:  # a patch without a diff: nothing to apply
            continue
        back = patchtrack.assemble(patchtrack.parse_message(raw) for raw in split_mbox(data))
        assert len(back) == 1 and _same(back[0], s), s.msgid
        several += len(s.authors) > 1
        written.append((s, data))
    assert written
    together = patchtrack.assemble(patchtrack.parse_message(raw) for _, data in written for raw in split_mbox(data))
    got = sorted(tuple((p.index, p.msgid) for p in s.patches) for s in together)
    assert got == sorted(tuple((p.index, p.msgid) for p in s.patches) for s, _ in written)
    assert time.process_time() - start < 60
    if corpus_name.startswith("linux-pwm"):
        assert several > 20  # 37 series of several authors


# --- the reference report's own mails -------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """seed-kvm's mails and replies built into an archive in Date: order, as its
    README says, with the CLI's ``build-inbox``."""
    if not (SEED / "mails").is_dir():
        pytest.skip(f"no seed-kvm in {SEED}")
    from patchtrack.cli import main

    files = sorted((SEED / "mails").glob("*.eml")) + sorted((SEED / "replies").glob("*.eml"))
    def when(f: Path) -> float:
        parsed = email.utils.parsedate_to_datetime(email.message_from_bytes(f.read_bytes())["Date"])
        return parsed.timestamp()
    folder = tmp_path_factory.mktemp("seed-mails")
    for n, f in enumerate(sorted(files, key=lambda f: (when(f), f.name))):
        shutil.copy(f, folder / f"{n:03d}.eml")
    dest = tmp_path_factory.mktemp("seed") / "kvm.git"
    assert main(["build-inbox", str(folder), str(dest)]) == 0
    return dest


def test_seed_kvm_tdx_series_is_kai_huangs_sent_by_paolo(seed_inbox: Path) -> None:
    report = patchtrack.open_inbox(seed_inbox).report()
    text = report.to_text()
    (line,) = [x for x in text.splitlines() if "TDX host: kexec/kdump support" in x and " — " in x]
    assert " — Kai Huang <kai.huang@intel.com>, sent by Paolo Bonzini <pbonzini@redhat.com> (7 of 7" in line
    assert "[as posted: " in line and line.startswith("v8, earlier revisions not in this archive: ")
    (tdx,) = [s for s in report.series if "TDX host" in s.title]
    data = tdx.to_dict()
    assert data["written_by"]["name"] == "Kai Huang" and data["sent_by"]["name"] == "Paolo Bonzini"
    # every series whose patches carry a review tag shows it; no series is "New" at v2+
    for s, status in zip(report.series, report.statuses):
        assert bool(_carried_tags(s)) == bool(s.posted_reviews), s.msgid
        assert not (status == "New" and s.version > 1)
    assert re.search(r"on the list: Reviewed-by \w", text)
