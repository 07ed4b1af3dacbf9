"""Threads, series, follow-ups and revisions: the demo traffic and hand-made edge cases."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import patchtrack
from patchtrack import Message, Series, assemble, parse_message, thread
from patchtrack.thread import forest

CLOCKS_V1 = "20260302-gizmo-clocks-v1-0-4c1e2d5f7a9b@linux.acme-semi.com"
CLOCKS_V2 = "20260309-gizmo-clocks-v2-0-9e8d7c6b5a41@linux.acme-semi.com"
SYSFS = "20260310092005.3021-1-kenta.tanaka@hikari-semi.co.jp"
SYSFS_RESEND = "20260331011126.8812-1-kenta.tanaka@hikari-semi.co.jp"
REVIEWER = "mnovak@kernel.org"


# --- the demo traffic (fixtures/mails) ------------------------------------------------


@pytest.fixture(scope="module")
def demo(mails: list[bytes]) -> dict[str, Series]:
    return {s.msgid: s for s in assemble(parse_message(m) for m in mails)}


def test_demo_series_and_members(demo: dict[str, Series]) -> None:
    v1, v2 = demo[CLOCKS_V1], demo[CLOCKS_V2]
    assert (v1.version, v1.total, [p.index for p in v1.patches], v1.complete) == (1, 3, [1, 2, 3], True)
    assert v1.cover is not None and v1.title == "gizmo: add bus clock support"
    assert v2.version == 2 and v2.complete and v2.author is not None
    assert v2.author.email == "jane.whitaker@linux.acme-semi.com"
    single = demo[SYSFS]
    assert single.cover is None and single.total == 1 and [p.index for p in single.patches] == [1]


def test_demo_followups(demo: dict[str, Series]) -> None:
    v1, v2 = demo[CLOCKS_V1], demo[CLOCKS_V2]
    got = {(p.index, f.key, f.person.email if f.person else None, f.via, f.flagged) for p in v1.patches for f in p.followups}
    assert (1, "Reviewed-by", REVIEWER, "reply", False) in got
    assert any(i == 3 and k == "Acked-by" for i, k, *_ in got)
    # the quoted Reviewed-by in 007 is not a trailer; patch 2 got only a robot's report
    assert not any(i == 2 for i, *_ in got)
    # v2: the Acked-by on the cover reaches every patch
    for patch in v2.patches:
        acks = [f for f in patch.followups if f.key == "Acked-by" and f.via == "cover"]
        assert acks and acks[0].person is not None and acks[0].person.email == "ihalvorsen@kernel.org"
        assert acks[0].is_review
    # a Tested-by forwarded by a colleague is kept, flagged, and not counted as review
    (forwarded,) = [f for f in v2.patches[1].followups if f.key == "Tested-by"]
    assert forwarded.flagged and not forwarded.is_review
    assert forwarded.person is not None and forwarded.person.email == "lin.wei@acme-semi.com"
    assert forwarded.from_msgid.startswith("AM9PR08MB6721")


def test_demo_revisions(demo: dict[str, Series]) -> None:
    v1, v2 = demo[CLOCKS_V1], demo[CLOCKS_V2]
    assert v2.previous is not None and v2.previous.msgid == CLOCKS_V1 and v2.previous.version == 1
    assert v2.status == "revision"
    assert {"change-id", "link"} <= set(v2.evidence)
    assert v1.next is not None and v1.next.id == v2.id and v1.status == "superseded"
    resend = demo[SYSFS_RESEND]
    assert resend.resend and resend.status == "resend"
    assert resend.previous is not None and resend.previous.msgid == SYSFS
    assert demo[SYSFS].status == "superseded"


def test_demo_inbox_series_range(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inbox = patchtrack.open_inbox(patchtrack.build_demo_inbox(tmp_path / "demo"))
    seen: list[int] = []
    everything = inbox.series(progress=seen.append)
    assert seen and seen[-1] == sum(1 for raw in inbox.walk() if not raw.deleted)
    assert len({s.id for s in everything}) == len(everything)
    # one commit: the v2 cover's Acked-by reply → the v2 series, completed from the rest
    commit = next(raw.commit for raw in inbox.walk() if b"GB19311@ihalvorsen" in raw.data and not raw.deleted)
    (only,) = inbox.series(f"{commit}^!")
    assert only.msgid == CLOCKS_V2 and len(only.patches) == 3 and only.previous is not None


# --- hand-made mails -------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def make(
    msgid: str,
    subject: str,
    *,
    minutes: float = 0,
    sender: str = "Ann Dev <ann@devs.test>",
    parent: str | None = None,
    refs: tuple[str, ...] = (),
    body: str | None = None,
    change: str | None = None,
) -> Message:
    """A mail as git send-email writes it; a patch unless ``body`` is given."""
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(T0 + timedelta(minutes=minutes))}",
        f"Message-ID: <{msgid}>",
    ]
    if parent:
        headers.append(f"In-Reply-To: <{parent}>")
        headers.append("References: " + " ".join(f"<{r}>" for r in (refs or (parent,))))
    if body is None:
        stem = change or msgid
        body = (
            f"Change {stem}.\n\nSigned-off-by: Ann Dev <ann@devs.test>\n---\n"
            f"diff --git a/{stem}.c b/{stem}.c\n--- a/{stem}.c\n+++ b/{stem}.c\n"
            f"@@ -1 +1 @@\n-old {stem}\n+new {stem}\n"
        )
    return parse_message(("\n".join(headers) + "\n\n" + body).encode())


def series_of(messages: list[Message]) -> list[Series]:
    return list(assemble(messages))


def test_thread_missing_parent_and_duplicate_delivery() -> None:
    root = make("r@x", "[PATCH 0/2] t", body="cover\n")
    # the middle mail never reached the archive; the reply names it in References
    reply = make("c@x", "Re: [PATCH 0/2] t", parent="gone@x", refs=("r@x", "gone@x"), body="hm\n", minutes=5)
    again = make("r@x", "[PATCH 0/2] t", body="cover, delivered twice\n", minutes=9)
    t = thread([reply, again, root])
    assert t.parents["c@x"] == "gone@x" and t.parents["gone@x"] == "r@x"
    assert t.root("c@x") == "r@x" and list(t.descendants("r@x")) == ["gone@x", "c@x"]
    assert t.messages["r@x"].body.startswith("cover\n") and [d.body for d in t.duplicates] == ["cover, delivered twice\n"]
    (only,) = t.threads()
    assert only.root == "r@x" and [m.msgid for m in only.messages] == ["r@x", "c@x"]


def test_thread_survives_reference_loops() -> None:
    a = make("a@x", "Re: x", parent="b@x", body="a\n")
    b = make("b@x", "Re: x", parent="a@x", body="b\n", minutes=1)
    t = thread([a, b])
    assert len(t.threads()) == 1 and t.root("a@x") in ("a@x", "b@x")


def test_patches_before_cover_deep_threading_and_order_independence() -> None:
    cover = make("c0@x", "[PATCH v3 0/3] widgets", body="Widgets.\n", minutes=0)
    p1 = make("c1@x", "[PATCH v3 1/3] w: one", parent="c0@x", minutes=1)
    p2 = make("c2@x", "[PATCH v3 2/3] w: two", parent="c1@x", refs=("c0@x", "c1@x"), minutes=2)
    p3 = make("c3@x", "[PATCH v3 3/3] w: three", parent="c2@x", refs=("c0@x", "c1@x", "c2@x"), minutes=3)
    review = make("rv@x", "Re: [PATCH v3 2/3] w: two", sender="Bob <bob@devs.test>", parent="c2@x",
                  body="> x\n\nReviewed-by: Bob <bob@devs.test>\n", minutes=30)
    mails = [cover, p1, p2, p3, review]
    first = series_of(mails)
    for seed in range(5):
        shuffled = mails[:]
        random.Random(seed).shuffle(shuffled)
        assert series_of(shuffled) == first
    (s,) = first
    assert s.cover is not None and [p.index for p in s.patches] == [1, 2, 3] and s.complete
    assert [(f.key, f.via) for f in s.patches[1].followups] == [("Reviewed-by", "reply")]
    assert not s.patches[0].followups and not s.patches[2].followups


def test_coverless_series_missing_patch_and_overflow_counter() -> None:
    p1 = make("n1@x", "[PATCH 1/5] a: one")
    p2 = make("n2@x", "[PATCH 2/5] a: two", parent="n1@x", minutes=1)
    p6 = make("n6@x", "[PATCH 6/5] a: six", parent="n1@x", minutes=2)
    (s,) = series_of([p6, p2, p1])
    assert s.cover is None and s.msgid == "n1@x" and s.title == "a: one"
    assert [p.index for p in s.patches] == [1, 2, 6] and s.total == 5
    assert s.missing == (3, 4, 5) and not s.complete


def test_duplicate_counter_keeps_the_first_and_lists_the_other() -> None:
    c = make("d0@x", "[PATCH 0/1] dup", body="c\n")
    a = make("d1@x", "[PATCH 1/1] dup: x", parent="d0@x", minutes=1)
    b = make("d1b@x", "[PATCH 1/1] dup: x", parent="d0@x", minutes=2)
    (s,) = series_of([b, c, a])
    assert s.patches[0].msgid == "d1@x" and [m.msgid for m in s.duplicates] == ["d1b@x"]


def test_unthreaded_patches_of_one_post_are_one_series() -> None:
    parts = [make(f"u{i}@x", f"[PATCH v2 {i}/3] u: part {i}", minutes=i) for i in (1, 2, 3)]
    other = make("o1@x", "[PATCH v2 1/3] unrelated", sender="Carl <carl@devs.test>", minutes=2)
    late = make("u9@x", "[PATCH v2 1/3] u: part 1 again", minutes=60 * 24)
    found = {s.msgid: s for s in series_of(parts + [other, late])}
    assert [p.index for p in found["u1@x"].patches] == [1, 2, 3]
    assert len(found["o1@x"].patches) == 1 and len(found["u9@x"].patches) == 1


def test_in_thread_reroll_and_partial_reroll_are_new_revisions() -> None:
    v1 = [make("v1-0@x", "[PATCH 0/2] r", body="r\n")] + [
        make(f"v1-{i}@x", f"[PATCH {i}/2] r: {i}", parent="v1-0@x", minutes=i, change=f"r{i}") for i in (1, 2)
    ]
    review = make("rv@x", "Re: [PATCH 2/2] r: 2", sender="Bob <bob@devs.test>", parent="v1-2@x",
                  body="Acked-by: Bob <bob@devs.test>\n", minutes=50)
    # v2 of patch 2 alone, posted in reply to the review
    partial = make("v2-2@x", "[PATCH v2 2/2] r: 2", parent="rv@x", refs=("v1-0@x", "v1-2@x", "rv@x"),
                   minutes=90, change="r2b")
    found = {s.msgid: s for s in series_of(v1 + [review, partial])}
    old, new = found["v1-0@x"], found["v2-2@x"]
    assert [p.index for p in new.patches] == [2] and new.missing == (1,)
    assert new.previous is not None and new.previous.id == old.id and "in-reply-to" in new.evidence
    assert old.next is not None and old.next.id == new.id and old.status == "superseded"
    # the review of v1 stays with v1
    assert [f.from_msgid for f in old.patches[1].followups] == ["rv@x"]


def test_followups_sender_check_and_stable() -> None:
    p = make("s1@x", "[PATCH] s: fix")
    r1 = make("s2@x", "Re: [PATCH] s: fix", sender="Eve <eve@corp.test>", parent="s1@x", minutes=5,
              body="Tested-by: Zed <zed@other.test>\nReviewed-by: Eve <eve+lkml@corp.test>\n"
              "Cc: stable@vger.kernel.org # 6.9+\n")
    r2 = make("s3@x", "Re: [PATCH] s: fix", sender="Zed <zed@other.test>", parent="s2@x", minutes=9,
              body="Tested-by: Zed <zed@other.test>\n")
    (s,) = series_of([p, r1, r2])
    got = {(f.key, f.person.email if f.person else None): f for f in s.patches[0].followups}
    eve = got[("Reviewed-by", "eve+lkml@corp.test")]
    assert not eve.flagged and eve.is_review and eve.via == "reply"  # +ext: the same person
    zed = got[("Tested-by", "zed@other.test")]
    # flagged in Eve's reply, vouched for by Zed himself further down: the vouched one wins
    assert not zed.flagged and zed.from_msgid == "s3@x" and zed.via == "thread"
    stable = got[("Cc", "stable@vger.kernel.org")]
    assert not stable.flagged and stable.trailer.comment == "6.9+"


def test_flagged_trailer_does_not_leak_through_a_later_reply() -> None:
    p = make("f1@x", "[PATCH] f: fix")
    r1 = make("f2@x", "Re: [PATCH] f: fix", sender="Eve <eve@corp.test>", parent="f1@x", minutes=5,
              body="Reviewed-by: Mallory <mallory@evil.test>\n")
    r2 = make("f3@x", "Re: [PATCH] f: fix", sender="Ann Dev <ann@devs.test>", parent="f2@x", minutes=7,
              body="> Reviewed-by: Mallory <mallory@evil.test>\n\nThanks!\n")
    (s,) = series_of([p, r1, r2])
    (only,) = s.patches[0].followups
    assert only.flagged and not only.is_review and s.patches[0].reviews == ()


def test_revision_links_by_title_and_carried_followups() -> None:
    v1 = make("t1@x", "[PATCH] t: tidy", change="tidy")
    ack = make("ta@x", "Re: [PATCH] t: tidy", sender="Bob <bob@devs.test>", parent="t1@x", minutes=10,
               body="Acked-by: Bob <bob@devs.test>\n")
    # v2 changes only the commit message: same patch-id, so Bob's ack carries over
    v2 = make("t2@x", "[PATCH v2] t: tidy", minutes=60 * 24 * 3, change="tidy")
    other = make("x1@x", "[PATCH v2] t: tidy", sender="Carl <carl@devs.test>", minutes=60 * 24 * 4)
    found = {s.msgid: s for s in series_of([v1, ack, v2, other])}
    new = found["t2@x"]
    assert new.previous is not None and new.previous.msgid == "t1@x"
    assert set(new.evidence) == {"patch-id", "title"}
    (carried,) = new.patches[0].followups
    assert carried.via == "carried" and carried.from_msgid == "ta@x" and carried.is_review
    # the same title from somebody else, with other code, is new work
    assert found["x1@x"].previous is None and found["x1@x"].status == "new"


def test_link_in_cover_beats_title_and_same_version_needs_resend() -> None:
    a1 = make("a1@x", "[PATCH 1/1] old name", change="a")
    cover = make("b0@x", "[PATCH v2 0/1] new name",
                 body="Renamed.\n\nv1: https://lore.kernel.org/all/a1@x/\n", minutes=600)
    b1 = make("b1@x", "[PATCH v2 1/1] new name", parent="b0@x", minutes=601, change="b")
    again = make("c0@x", "[PATCH v2 1/1] new name", minutes=1200, change="c")
    found = {s.msgid: s for s in series_of([a1, cover, b1, again])}
    assert found["b0@x"].previous is not None and found["b0@x"].previous.msgid == "a1@x"
    assert found["b0@x"].evidence == ("link",)
    # the same version again, with other code and no RESEND marker: not a revision of anything
    assert found["c0@x"].previous is None and found["c0@x"].status == "new"


def test_series_json_fields(demo: dict[str, Series]) -> None:
    d = demo[CLOCKS_V2].to_dict()
    for key in ("id", "title", "author", "version", "rfc", "resend", "status", "cover", "patches", "total",
                "missing", "complete", "previous", "next", "evidence", "first_date", "last_date"):
        assert key in d
    patch = d["patches"][0]
    for key in ("index", "msgid", "subject", "patch_id", "diffstat", "trailers", "followups"):
        assert key in patch
    assert set(patch["followups"][0]) >= {"key", "name", "email", "from_msgid", "via", "flagged"}


# --- where b4 differs (docs/series.md, "Parity with b4"): our behaviour, pinned ------


def test_robot_suggestion_pasted_commit_and_patch_reply_give_no_followups() -> None:
    p = make("b1@x", "[PATCH] b: fix")
    robot = make("b2@x", "Re: [PATCH] b: fix", sender="kernel test robot <lkp@intel.com>", parent="b1@x", minutes=60,
                 body="Hi,\n\nkernel test robot noticed the following build warnings:\n\n"
                 "If you fix the issue in a separate patch/commit (i.e. not just a new version of\n"
                 "the same patch/commit), kindly add following tags\n"
                 "| Reported-by: kernel test robot <lkp@intel.com>\n"
                 "| Closes: https://lore.kernel.org/oe-kbuild-all/202401010000.abc-lkp@intel.com/\n")
    applied = make("b3@x", "Re: [PATCH] b: fix", sender="Al Maint <al@kernel.test>", parent="b1@x", minutes=90,
                   body="Applied, thanks:\n\n    commit 0123456789ab\n    Author: Ann Dev <ann@devs.test>\n\n"
                   "        b: fix\n\n        Signed-off-by: Ann Dev <ann@devs.test>\n"
                   "        Signed-off-by: Al Maint <al@kernel.test>\n")
    fixup = make("b4@x", "Re: [PATCH] b: fix", sender="Wai Long <wl@corp.test>", parent="b1@x", minutes=120,
                 body="How about this on top?\n\nSigned-off-by: Wai Long <wl@corp.test>\n---\n"
                 "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n")
    (s,) = series_of([p, robot, applied, fixup])
    assert s.patches[0].followups == ()
    assert len(s.messages) == 4


def test_no_backward_carry_from_a_later_revision() -> None:
    v1 = make("k1@x", "[PATCH] k: keep", change="keep")
    v2 = make("k2@x", "[PATCH v2] k: keep", minutes=60 * 24, change="keep")
    ack = make("ka@x", "Re: [PATCH v2] k: keep", sender="Bob <bob@devs.test>", parent="k2@x", minutes=60 * 25,
               body="Acked-by: Bob <bob@devs.test>\n")
    found = {s.msgid: s for s in series_of([v1, v2, ack])}
    assert found["k1@x"].patches[0].followups == ()
    assert [f.via for f in found["k2@x"].patches[0].followups] == ["reply"]


def test_comma_after_version_still_one_series() -> None:
    cover = make("m0@x", "[PATCH v4 0/2] m: two", body="c\n")
    parts = [make(f"m{i}@x", f"[PATCH v4,{i}/2] m: part {i}", parent="m0@x", minutes=i) for i in (1, 2)]
    (s,) = series_of([cover] + parts)
    assert s.version == 4 and [p.index for p in s.patches] == [1, 2] and s.complete


def test_one_replys_trailers_keep_their_written_order_and_am_order_follows_b4() -> None:
    """Within a reply, follow-ups keep the order the reviewer wrote them (b4 does
    too); across replies, by date; in the am mbox, replies to the patch come before
    the cover letter's (b4's add_cover_trailers runs last)."""
    from patchtrack.mbox import am_followups

    cover = make("c@x", "[PATCH 0/1] t", body="cover\n")
    patch = make("p1@x", "[PATCH 1/1] t", parent="c@x", minutes=1)
    on_cover = make("a@x", "Re: [PATCH 0/1] t", parent="c@x", minutes=2,
                    sender="Mo <mo@k.test>", body="Acked-by: Mo <mo@k.test>\n")
    on_patch = make("r@x", "Re: [PATCH 1/1] t", parent="p1@x", refs=("c@x", "p1@x"), minutes=3,
                    sender="Tab <tab@g.test>", body="Tested-by: Tab <tab@g.test>\nReviewed-by: Tab <tab@g.test>\n")
    (s,) = series_of([cover, patch, on_cover, on_patch])
    (p,) = s.patches
    assert [f.key for f in p.followups] == ["Acked-by", "Tested-by", "Reviewed-by"]  # by date, then as written
    assert [f.key for f in am_followups(p)] == ["Tested-by", "Reviewed-by", "Acked-by"]  # b4's am order


def _forest_by_the_book(ordered: list[tuple[str, tuple[str, ...]]]) -> tuple[dict, dict, list]:  # type: ignore[type-arg]
    """thread.forest as first written: every link checked for a loop by climbing."""
    kept: dict[str, int] = {}
    copies = []
    for n, (msgid, _) in enumerate(ordered):
        if msgid in kept:
            copies.append(n)
        else:
            kept[msgid] = n
    parents: dict[str, str] = {}

    def loops(child: str, parent: str) -> bool:
        current, seen = parent, set()
        while current is not None and current not in seen:
            if current == child:
                return True
            seen.add(current)
            current = parents.get(current)
        return False

    for msgid, n in kept.items():
        names = ordered[n][1]
        if names and not loops(msgid, names[-1]):
            parents[msgid] = names[-1]
    for n in kept.values():
        names = ordered[n][1]
        for above, below in zip(names, names[1:]):
            if below not in kept and below not in parents and not loops(below, above):
                parents[below] = above
    return kept, parents, copies


@given(st.lists(
    st.tuples(st.sampled_from("abcdefgh"), st.lists(st.sampled_from("abcdefghij"), max_size=5).map(tuple)),
    max_size=14,
))
def test_forest_links_as_the_loop_checking_original_does(pairs: list[tuple[str, tuple[str, ...]]]) -> None:
    """Linking skips the climb for ids nothing hangs below; on any chains — loops,
    self-references, ghosts, copies — it links exactly as climbing every time did,
    and leaves no loop."""
    ordered = [(msgid, tuple(i for i in chain if i != msgid)) for msgid, chain in pairs]
    got = forest(ordered)
    assert got == _forest_by_the_book(ordered)
    for start in got[1]:
        seen = set()
        while start in got[1]:
            assert start not in seen
            seen.add(start)
            start = got[1][start]
