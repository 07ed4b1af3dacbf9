"""Many lists as one archive (patchtrack.open_archive / Archive), on small built lists.

Two lists, ``alpha`` and ``beta``, each an archive built from its own copies of the
mails: a cross-posted copy carries that list's ``List-Id`` and footer, so the two
copies are different blobs with one Message-ID, as on lore.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

import patchtrack
from patchtrack import Archive, open_archive
from patchtrack.builder import build_inbox
from patchtrack.cli import main

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def mail(msgid: str, subject: str, *, minutes: int, parent: str | None = None, body: str | None = None,
         sender: str = "Ann Dev <ann@devs.test>") -> dict[str, Any]:
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(T0 + timedelta(minutes=minutes))}",
        f"Message-ID: <{msgid}>",
    ]
    if parent:
        headers += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    if body is None:
        stem = msgid.split("@")[0]
        body = (f"Change {stem}.\n\nSigned-off-by: Ann Dev <ann@devs.test>\n---\n"
                f"diff --git a/{stem}.c b/{stem}.c\n--- a/{stem}.c\n+++ b/{stem}.c\n@@ -1 +1 @@\n-old\n+new\n")
    return {"headers": headers, "body": body}


def copy(m: dict[str, Any], name: str) -> bytes:
    """The list ``name``'s copy: its List-Id, its footer."""
    headers = [*m["headers"], f"List-Id: <{name}.lists.test>"]
    return ("\n".join(headers) + "\n\n" + m["body"] + f"\n--\n{name} list footer\n").encode()


SHARED = mail("shared-1@devs.test", "[PATCH] gizmo: fix the widget", minutes=0)
REVIEW_ON_BETA = mail("review-1@rev.test", "Re: [PATCH] gizmo: fix the widget", minutes=30,
                      parent="shared-1@devs.test", sender="Rita Rev <rita@rev.test>",
                      body="> Change\n\nReviewed-by: Rita Rev <rita@rev.test>\n")
V1_ON_BETA = mail("frob-v1@devs.test", "[PATCH] frob: add the knob", minutes=60)
V2_ON_ALPHA = mail("frob-v2@devs.test", "[PATCH v2] frob: add the knob", minutes=600)
ALPHA_ONLY = mail("alpha-1@devs.test", "[PATCH] alpha: only here", minutes=120)
RESENT = mail("twice@devs.test", "[PATCH] twice: the first post", minutes=200)
RESENT_AGAIN = mail("twice@devs.test", "[RESEND PATCH] twice: the first post", minutes=300)

ALPHA = [SHARED, ALPHA_ONLY, RESENT, RESENT_AGAIN, V2_ON_ALPHA]
BETA = [SHARED, REVIEW_ON_BETA, V1_ON_BETA, RESENT]


@pytest.fixture
def lists(tmp_path: Path) -> dict[str, Path]:
    return {
        name: build_inbox([copy(m, name) for m in mails], tmp_path / name)
        for name, mails in (("alpha", ALPHA), ("beta", BETA))
    }


@pytest.fixture
def archive(lists: dict[str, Path]) -> Archive:
    return open_archive(lists, workers=1)


def by_subject(messages: list[patchtrack.Message]) -> dict[str, patchtrack.Message]:
    return {m.subject.raw: m for m in messages}


def test_each_mail_once_with_every_delivery(archive: Archive, lists: dict[str, Path]) -> None:
    messages = list(archive.messages())
    # 5 on alpha, 4 on beta; the shared patch and the first post of "twice" are on both
    assert len(messages) == 5 + 4 - 2
    found = by_subject(messages)
    shared = found["[PATCH] gizmo: fix the widget"]
    assert shared.lists == ("alpha", "beta")
    # each delivery names the blob its own list stored: that list's copy
    for d in shared.deliveries:
        stored = archive.raw(d)
        assert stored == archive.sources[d.list].raw(d.oid)
        assert f"List-Id: <{d.list}.lists.test>".encode() in stored
    assert shared.deliveries[0].oid != shared.deliveries[1].oid
    assert shared.oid == shared.deliveries[0].oid and shared.commit == shared.deliveries[0].commit
    # one Message-ID twice in one list is two mails; the first pairs with beta's one copy
    first, again = found["[PATCH] twice: the first post"], found["[RESEND PATCH] twice: the first post"]
    assert first.lists == ("alpha", "beta") and again.lists == ("alpha",)
    assert {m.subject.raw for m in messages if len(m.deliveries) == 1} == {
        m["headers"][1].removeprefix("Subject: ")
        for m in (ALPHA_ONLY, RESENT_AGAIN, V2_ON_ALPHA, REVIEW_ON_BETA, V1_ON_BETA)
    }


def test_order_is_first_arrival_and_lists_filter(archive: Archive) -> None:
    messages = list(archive.messages())
    firsts = [m.deliveries[0].time for m in messages]
    assert firsts == sorted(firsts)
    beta = list(archive.messages(lists=["beta"]))
    assert len(beta) == len(BETA)
    assert all("beta" in m.lists and {d.list for d in m.deliveries} == {"beta"} for m in beta)


def test_a_mail_on_two_lists_is_parsed_once(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    import patchtrack._engine._load as load_module

    parsed: list[str] = []
    real = load_module.parse_message

    def counting(raw: Any) -> patchtrack.Message:
        parsed.append(raw.oid)
        return real(raw)

    monkeypatch.setattr(load_module, "parse_message", counting)
    messages = list(archive.messages())
    assert len(parsed) == len(messages) == len(set(parsed))


def test_a_review_on_one_list_reaches_the_patch(archive: Archive, lists: dict[str, Path]) -> None:
    def reviewed(series: list[patchtrack.Series]) -> set[str]:
        (s,) = [s for s in series if s.title == "gizmo: fix the widget"]
        return {t.person.email for p in s.patches for f in p.followups for t in [f.trailer] if t.person}

    assert reviewed(archive.series(lists=["alpha"])) == {"rita@rev.test"}
    assert reviewed(patchtrack.open_inbox(lists["alpha"], workers=1).series()) == set()


def test_a_revision_links_across_lists(archive: Archive) -> None:
    series = {s.title + f" v{s.version}": s for s in archive.series()}
    v1, v2 = series["frob: add the knob v1"], series["frob: add the knob v2"]
    assert v2.previous is not None and v2.previous.id == v1.id
    assert v1.next is not None and v1.next.id == v2.id
    assert v1.messages[0].lists == ("beta",) and v2.messages[0].lists == ("alpha",)


def test_series_posted_to_two_lists_is_one(archive: Archive) -> None:
    titles = [s.title for s in archive.series()]
    assert titles.count("gizmo: fix the widget") == 1


def test_report_of_one_list_counts_its_mail_and_says_where_reviews_came_from(
    archive: Archive, lists: dict[str, Path]
) -> None:
    mirror = archive.report(lists=["alpha"])
    alone = patchtrack.open_inbox(lists["alpha"], workers=1).report()
    for key in ("counted_messages", "domains", "contributors", "per_day", "list"):
        assert mirror.to_dict()[key] == alone.to_dict()[key]
    assert [s.id for s in mirror.series] == [s.id for s in alone.series]
    assert mirror.also_from == ("beta",)
    assert "Review state and revisions also read from: beta." in mirror.to_text()
    assert "also read" not in alone.to_text()


def test_report_of_both_lists_counts_each_mail_once_with_a_breakdown(archive: Archive) -> None:
    both = archive.report()
    counted = [m for m in archive.messages() if m.kind in ("patch", "cover")]
    assert both.counted == len(counted)
    rows = {c.list: (c.mails, c.counted) for c in both.lists}
    assert rows == {"alpha": (5, 5), "beta": (4, 3)}
    assert both.list_name == "alpha, beta" and both.also_from == ()
    assert "in alpha from " in both.title and "; in beta from " in both.title


def test_cursor_holds_every_list(archive: Archive, lists: dict[str, Path], tmp_path: Path) -> None:
    tips = archive.tips()
    assert set(tips) == {"alpha", "beta"}
    assert list(archive.messages(after=tips)) == []
    late = mail("late@devs.test", "[PATCH] late: new on beta", minutes=5000)
    (tmp_path / "late").mkdir()
    build_inbox([copy(m, "beta") for m in [*BETA, late]], tmp_path / "late" / "beta")
    grown = open_archive({"alpha": lists["alpha"], "beta": tmp_path / "late" / "beta"}, workers=1)
    # rebuilt with the same commits: the old cursor is an ancestor
    assert [m.subject.raw for m in grown.messages(after=tips)] == ["[PATCH] late: new on beta"]


def test_selection_mistakes(archive: Archive) -> None:
    with pytest.raises(patchtrack.InboxError, match="no list 'gamma'"):
        archive.select(lists=["gamma"])
    with pytest.raises(patchtrack.RevisionError, match="not both"):
        archive.select("HEAD~1..", after={})
    with pytest.raises(patchtrack.RevisionError, match="lacks: gamma"):
        archive.select(after={"gamma": {}})
    with pytest.raises(patchtrack.RevisionError, match="by="):
        archive.select(by="sometime")
    with pytest.raises(patchtrack.RevisionError, match="^alpha: "):
        list(archive.messages("deadbeef0.."))


def test_cli_reads_several_lists(lists: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = [str(lists["alpha"]), "--also", str(lists["beta"]), "--no-cache", "--workers", "1"]
    assert main(["report", *base]) == 0
    out = capsys.readouterr().out
    assert "alpha, beta mailing list update" in out and "Per list" in out
    assert main(["messages", *base, "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 7 and sum(len(r["deliveries"]) for r in rows) == len(ALPHA) + len(BETA)
    assert main(["report", *base, "--list", "gamma"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no list 'gamma'" in err[0]
    cursor = tmp_path / "tips.json"
    assert main(["report", *base, "--list", "beta", "--after-tips", str(cursor), "--update-tips"]) == 0
    saved = json.loads(cursor.read_text())
    assert set(saved) == {"beta"} and saved["beta"] == {"0": open_archive(lists).tips()["beta"][0]}
    capsys.readouterr()
    assert main(["messages", *base, "--list", "beta", "--after-tips", str(cursor), "--format", "jsonl"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["tips", str(lists["alpha"]), "--also", str(lists["beta"])]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"alpha", "beta"}


def test_cli_reads_a_mirror_root(lists: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = lists["alpha"].parent  # tmp_path: alpha/ and beta/, two v2 inboxes
    assert main(["report", str(root), "--no-cache", "--workers", "1", "--list", "beta"]) == 0
    out = capsys.readouterr().out
    assert "beta mailing list update" in out and "also read from: alpha." in out
    empty = tmp_path / "nothing"
    empty.mkdir()
    assert main(["report", str(empty), "--no-cache"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"patchtrack: error: {empty}: no mail: neither a public-inbox archive")


def test_each_stored_mail_is_read_once(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    """The headers read to match copies are the bytes parsed: no mail is read twice."""
    from patchtrack.archive import _walk

    reads: list[str] = []
    real = _walk._Stored.data

    def counted(self: Any) -> bytes:
        reads.append(str(self._oid))
        return real.fget(self)  # type: ignore[attr-defined,no-any-return]

    monkeypatch.setattr(_walk._Stored, "data", property(counted))
    messages = list(archive.messages())
    assert sorted(reads) == sorted(d.oid for m in messages for d in m.deliveries)


def test_cli_messages_of_many_lists_keeps_a_cursor(
    lists: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [str(lists["alpha"]), "--also", str(lists["beta"]), "--no-cache", "--workers", "1", "--format", "jsonl"]
    cursor = tmp_path / "cursor.json"
    assert main(["messages", *base, "--after-tips", str(cursor), "--update-tips"]) == 0
    first = capsys.readouterr()
    assert len(first.out.splitlines()) == 7 and "cursor" in first.err
    assert json.loads(cursor.read_text()) == {
        name: {str(n): c for n, c in t.items()} for name, t in open_archive(lists).tips().items()
    }
    assert main(["messages", *base, "--after-tips", str(cursor), "--update-tips"]) == 0
    assert capsys.readouterr().out == ""


def test_damage_is_raised_after_the_readable_messages(archive: Archive, lists: dict[str, Path]) -> None:
    import shutil

    shutil.rmtree(lists["beta"] / "git" / "0.git" / "refs")
    (lists["beta"] / "git" / "0.git" / "packed-refs").unlink(missing_ok=True)
    damaged = open_archive(lists, workers=1)
    got: list[patchtrack.Message] = []
    with pytest.raises(patchtrack.DamagedArchiveError):
        for m in damaged.messages():
            got.append(m)
    assert [m.subject.raw for m in got] == [m.subject.raw for m in archive.messages(lists=["alpha"])]


def test_cli_reads_the_rest_of_a_mirror_with_a_damaged_list(
    lists: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Naming a list is checked without reading tips: one list's lost refs do not
    stop the run before it starts (the readable mail is written, then exit 1)."""
    import shutil

    shutil.rmtree(lists["beta"] / "git" / "0.git" / "refs")
    (lists["beta"] / "git" / "0.git" / "packed-refs").unlink(missing_ok=True)
    argv = ["messages", str(lists["alpha"]), "--also", str(lists["beta"]), "--list", "alpha", "--list", "beta",
            "--no-cache", "--workers", "1", "--format", "jsonl"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert len(out.splitlines()) == len(ALPHA)
