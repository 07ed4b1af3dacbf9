"""What a series record says about the mails, on mails built here: am-ready mboxes
read back whole, a cover letter that miscounts its patches, review as posted and on
the list, the byline of a series posted by someone else, follow-ups without ``Re:``.
(The same rules on every series of the real archives: tests/test_corpus_trust.py.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from patchtrack import Message, Series, assemble, parse_message
from patchtrack.mbox import am_mbox, split_mbox

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=timezone.utc)
MAINTAINER = "Mo Maintainer <mo@kernel.test>"
KAI = "Kai Writer <kai@chips.test>"
BOB = "Bob Helper <bob@other.test>"


def mail(msgid: str, subject: str, **fields: Any) -> Message:
    """A mail as ``git send-email`` writes it (see :func:`raw_mail`), parsed."""
    return parse_message(raw_mail(msgid, subject, **fields))


def raw_mail(
    msgid: str,
    subject: str,
    *,
    sender: str = MAINTAINER,
    author: str | None = None,
    parent: str | None = None,
    minutes: float = 0,
    trailers: tuple[str, ...] = (),
    body: str | None = None,
) -> bytes:
    """A mail as ``git send-email`` writes it: a patch (with an in-body ``From:`` for
    an ``author`` other than the sender) unless ``body`` is given."""
    headers = [
        f"From: {sender}",
        f"Subject: {subject}",
        f"Date: {format_datetime(T0 + timedelta(minutes=minutes))}",
        f"Message-ID: <{msgid}>",
    ]
    if parent:
        headers += [f"In-Reply-To: <{parent}>", f"References: <{parent}>"]
    if body is None:
        who = author or sender
        head = f"From: {author}\n\n" if author else ""
        tags = "".join(f"{t}\n" for t in trailers)
        body = (
            f"{head}Change {msgid}.\n\n{tags}Signed-off-by: {who}\n---\n"
            f"diff --git a/{msgid}.c b/{msgid}.c\n--- a/{msgid}.c\n+++ b/{msgid}.c\n"
            f"@@ -1 +1 @@\n-old\n+new {msgid}\n"
        )
    return ("\n".join(headers) + "\n\n" + body).encode()


def only(series: tuple[Series, ...]) -> Series:
    assert len(series) == 1, [s.msgid for s in series]
    return series[0]


def posted_by_maintainer() -> list[Message]:
    """Mo posts Kai's three patches, one of them written by Bob, under a cover."""
    return [parse_message(raw) for raw in posted_by_maintainer_raw()]


def posted_by_maintainer_raw() -> list[bytes]:
    return [
        raw_mail("c@x", "[PATCH v3 0/3] chip: kexec support", body="The series.\n"),
        raw_mail("p1@x", "[PATCH v3 1/3] chip: one", author=KAI, parent="c@x", minutes=1),
        raw_mail("p2@x", "[PATCH v3 2/3] chip: two", author=BOB, parent="c@x", minutes=2),
        raw_mail("p3@x", "[PATCH v3 3/3] chip: three", author=KAI, parent="c@x", minutes=3),
    ]


# --- am-ready mboxes read back ----------------------------------------------------------


def test_an_am_ready_mbox_of_several_authors_reads_back_as_one_series() -> None:
    """to_mbox / b4 am give each patch its author's From: and no threading headers;
    keyed on the sender, grouping split this series in three."""
    s = only(assemble(posted_by_maintainer()))
    for cover in (False, True):
        back = only(assemble(parse_message(raw) for raw in split_mbox(am_mbox(s, cover=cover))))
        assert [(p.index, p.msgid) for p in back.patches] == [(p.index, p.msgid) for p in s.patches]
        assert (back.version, back.total, back.complete) == (3, 3, True)
        assert (back.cover is not None) == cover


def test_b4_am_output_of_several_authors_reads_back_as_one_series() -> None:
    """``b4 am`` (b4 itself, sealed: tests/b4ref.py) writes the same kind of mbox."""
    import b4
    from b4ref import _mailbox, _sealed_b4

    with _sealed_b4():
        lser = _mailbox(posted_by_maintainer_raw(), None).get_series(revision=3, sloppytrailers=False)
        assert lser is not None
        am = lser.get_am_ready(noaddtrailers=False, addmysob=False, addlink=False, allowbadchars=True)
    raws = [m.as_bytes(policy=b4.emlpolicy) for m in am]
    assert len(raws) == 3 and b"In-Reply-To" not in b"".join(raws) and b"From: Bob Helper" in raws[1]
    back = only(assemble(parse_message(raw) for raw in raws))
    assert [(p.index, p.msgid) for p in back.patches] == [(1, "p1@x"), (2, "p2@x"), (3, "p3@x")]


def test_unthreaded_mails_of_two_senders_still_prefer_their_own_sender() -> None:
    """Two people's unthreaded halves posted side by side: each half goes to its own
    sender's first half, not to the other's."""
    mails = [
        mail("a1@x", "[PATCH 1/2] a: one", sender=KAI),
        mail("b1@x", "[PATCH 1/2] b: one", sender=BOB, minutes=1),
        mail("a2@x", "[PATCH 2/2] a: two", sender=KAI, minutes=2),
        mail("b2@x", "[PATCH 2/2] b: two", sender=BOB, minutes=3),
    ]
    got = {s.msgid: [p.msgid for p in s.patches] for s in assemble(mails)}
    assert got == {"a1@x": ["a1@x", "a2@x"], "b1@x": ["b1@x", "b2@x"]}


def test_threaded_mails_of_another_sender_do_not_join() -> None:
    mails = [
        mail("a1@x", "[PATCH 1/2] a: one", sender=KAI),
        mail("b2@x", "[PATCH 2/2] b: two", sender=BOB, parent="elsewhere@x", minutes=1),
    ]
    assert len(assemble(mails)) == 2


# --- a cover letter that miscounts --------------------------------------------------------


def test_a_cover_that_miscounts_its_patches_is_one_flagged_series() -> None:
    cover = mail("c@x", "[PATCH v2 0/5] hv: counters", body="Five, says the cover.\n")
    patches = [mail(f"p{i}@x", f"[PATCH v2 {i}/6] hv: part {i}", parent="c@x", minutes=i) for i in range(1, 7)]
    s = only(assemble([cover, *patches]))
    assert s.cover is not None and s.cover.msgid == "c@x"
    assert [p.index for p in s.patches] == [1, 2, 3, 4, 5, 6]
    assert (s.total, s.complete, s.problems) == (6, True, ("cover-count-mismatch",))
    assert s.to_dict()["problems"] == ["cover-count-mismatch"]
    assert am_mbox(s).count(b"Subject: [PATCH v2 ") == 6 and b"[PATCH v2 6/6]" in am_mbox(s)


def test_a_lone_patch_answering_a_cover_is_not_its_patch() -> None:
    """``[PATCH] man page`` sent with a kernel series, in reply to its cover, has no
    ``n/N``: it is not patch 1 of the series (it would be a duplicate of it)."""
    cover = mail("c@x", "[PATCH 0/2] syscall", body="Two.\n")
    mails = [cover] + [mail(f"p{i}@x", f"[PATCH {i}/2] syscall: {i}", parent="c@x", minutes=i) for i in (1, 2)]
    lone = mail("man@x", "[PATCH] syscall.2: new page", parent="c@x", minutes=3)
    found = {s.msgid: s for s in assemble([*mails, lone])}
    assert [p.msgid for p in found["c@x"].patches] == ["p1@x", "p2@x"] and found["c@x"].problems == ()
    assert [p.msgid for p in found["man@x"].patches] == ["man@x"]


# --- follow-ups ----------------------------------------------------------------------------


def test_a_reply_without_re_still_gives_its_trailers() -> None:
    """b4's sample: a reply whose subject lost ``Re:`` but answers the patch (or the
    cover) and carries a trailer and no diff is a follow-up, not a second patch 1."""
    rita = "Rita Reviewer <rita@review.test>"
    to_patch = mail("r1@x", "[PATCH v3 1/3] chip: one", sender=rita, parent="p1@x", minutes=9,
                    body="Looks good.\n\nReviewed-by: Rita Reviewer <rita@review.test>\n")
    to_cover = mail("r2@x", "[PATCH v3 0/3] chip: kexec support", sender=rita, parent="c@x", minutes=10,
                    body="All good.\n\nTested-by: Rita Reviewer <rita@review.test>\n")
    s = only(assemble([*posted_by_maintainer(), to_patch, to_cover]))
    assert s.duplicates == ()
    got = {(p.index, f.key, f.via, f.from_msgid) for p in s.patches for f in p.reviews}
    assert (1, "Reviewed-by", "reply", "r1@x") in got
    assert {(i, "Tested-by", "cover", "r2@x") for i in (1, 2, 3)} <= got


# --- review state, byline, status words ------------------------------------------------------

ANN = "Ann Reviewer <ann@review.test>"


def reviewed_scene() -> list[Message]:
    """Kai's series, posted by Mo: patch 1 carries Ann's Reviewed-by (and Kai's own
    Tested-by, no review); on the list Rita reviews patch 2 and Ann repeats hers."""
    cover = mail("c@x", "[PATCH v3 0/2] chip: kexec support", body="The series.\n")
    p1 = mail("p1@x", "[PATCH v3 1/2] chip: one", author=KAI, parent="c@x", minutes=1,
              trailers=(f"Reviewed-by: {ANN}", f"Tested-by: {KAI}"))
    p2 = mail("p2@x", "[PATCH v3 2/2] chip: two", author=KAI, parent="c@x", minutes=2)
    rita = "Rita Reviewer <rita@review.test>"
    r1 = mail("r1@x", "Re: [PATCH v3 2/2] chip: two", sender=rita, parent="p2@x", minutes=30,
              body=f"> old\n\nReviewed-by: {rita}\n")
    r2 = mail("r2@x", "Re: [PATCH v3 1/2] chip: one", sender=ANN, parent="p1@x", minutes=40,
              body=f"Still fine.\n\nReviewed-by: {ANN}\n")
    return [cover, p1, p2, r1, r2]


def test_review_as_posted_and_on_the_list_are_told_apart() -> None:
    from patchtrack.report import build_report

    mails = reviewed_scene()
    s = only(assemble(mails))
    assert [(r.key, r.person.email, r.patches, r.source) for r in s.posted_reviews] == [
        ("Reviewed-by", "ann@review.test", (1,), "posted")
    ]
    assert [(r.key, r.person.email, r.patches, r.source) for r in s.list_reviews] == [
        ("Reviewed-by", "rita@review.test", (2,), "list")
    ]
    review = s.to_dict()["review"]
    assert [(r["email"], r["patches"]) for r in review["as_posted"]] == [("ann@review.test", [1])]
    assert [(r["email"], r["patches"]) for r in review["on_list"]] == [("rita@review.test", [2])]
    text = build_report("chips", mails, [s]).to_text()
    assert ("[as posted: Reviewed-by Ann Reviewer (1 of 2 patches); "
            "on the list: Reviewed-by Rita Reviewer (1 of 2 patches)]") in text
    assert "Review as posted: Reviewed-by Ann Reviewer (1 of 2 patches)" in text
    assert "Tested-by Kai" not in text


def test_no_review_says_so() -> None:
    from patchtrack.report import build_report

    mails = posted_by_maintainer()
    s = only(assemble(mails))
    assert s.posted_reviews == () and s.list_reviews == ()
    assert "[no review]" in build_report("chips", mails, [s]).to_text()


def test_byline_is_the_patches_author_sent_by_the_poster() -> None:
    from patchtrack.report import build_report

    mails = posted_by_maintainer()
    s = only(assemble(mails))
    assert s.written_by is not None and s.written_by.email == "kai@chips.test"
    assert s.sent_by is not None and s.sent_by.email == "mo@kernel.test"
    assert [a.email for a in s.authors] == ["kai@chips.test", "bob@other.test"]
    assert (s.to_dict()["written_by"]["email"], s.to_dict()["sent_by"]["email"]) == ("kai@chips.test", "mo@kernel.test")
    text = build_report("chips", mails, [s]).to_text()
    assert " — Kai Writer <kai@chips.test>, sent by Mo Maintainer <mo@kernel.test>, with 1 other author (3 of 3" in text
    # posted by one of its authors: no "sent by"
    own = only(assemble([mail("k0@x", "[PATCH 0/2] k: x", sender=KAI, body="Two.\n")] + [
        mail(f"k{i}@x", f"[PATCH {i}/2] k: {i}", sender=KAI, author=BOB if i == 2 else None, parent="k0@x", minutes=i)
        for i in (1, 2)
    ]))
    assert own.sent_by is None and own.written_by is not None and own.written_by.email == "kai@chips.test"


def test_status_words_say_what_the_archive_holds() -> None:
    from patchtrack.report import build_report

    v1 = mail("a1@x", "[PATCH] drv: fix the thing", sender=KAI)
    v2 = mail("a2@x", "[PATCH v2] drv: fix the thing", sender=KAI, minutes=60 * 24)
    late = mail("z18@x", "[PATCH v18] other: long story", sender=BOB, minutes=60 * 25)
    mails = [v1, v2, late]
    series = assemble(mails)
    lines = build_report("chips", mails, series).to_text().splitlines()
    assert any(line.startswith("New, superseded by v2: [PATCH] drv: fix the thing") for line in lines)
    assert any(line.startswith("v2 revision of a series first seen on ") for line in lines)
    assert any(line.startswith("v18, earlier revisions not in this archive: [PATCH v18] other: long story")
               for line in lines)
    assert not any(line.startswith("New: [PATCH v18]") for line in lines)
