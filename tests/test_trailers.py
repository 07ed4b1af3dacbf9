"""The trailer grammar (patchtrack.trailers), with ``git interpret-trailers --parse``
as the oracle wherever git has an opinion: the commit-message cases run git on the
same text and compare.  Reply trailers (b4's follow-up trailers) have no git oracle;
their cases come from kinds of mail seen on the real lists (docs/trailers.md)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchtrack.identity import Person
from patchtrack.trailers import (
    Fixes,
    Link,
    StableRequest,
    Trailer,
    find_reply_trailers,
    fixes_of,
    links_of,
    parse_trailers,
    stable_requests,
)

GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}


@pytest.fixture(scope="module")
def outside_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside any repository, so no ``trailer.*`` configuration applies."""
    return tmp_path_factory.mktemp("interpret-trailers")


def git_trailers(message: str, cwd: Path) -> list[tuple[str, str]]:
    """``git interpret-trailers --parse``: (key, value) per output line."""
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=message.encode("utf-8", "surrogateescape"),
        capture_output=True, check=True, env=GIT_ENV, cwd=cwd, timeout=10,
    ).stdout.decode("utf-8", "surrogateescape")
    pairs = []
    for line in out.split("\n")[:-1]:  # values may hold a "\r": not splitlines()
        key, _, value = line.partition(": ")
        pairs.append((key, value))
    return pairs


def joins_to(trailer: Trailer, git_value: str) -> bool:
    """Whether git's value is our value plus our comment (with its marker) — the
    comment split loses nothing but the blanks around the marker."""
    if trailer.comment is None:
        return trailer.value == git_value
    blanks = r"[ \t\r\n]*"  # git's whitespace
    hashed = re.escape(trailer.value) + blanks + r"[ \t]#" + blanks + re.escape(trailer.comment)
    bracketed = re.escape(trailer.value) + blanks + r"\[" + blanks + re.escape(trailer.comment) + blanks + r"\]"
    return bool(re.fullmatch(hashed, git_value) or re.fullmatch(bracketed, git_value))


def assert_like_git(message: str, cwd: Path) -> tuple[Trailer, ...]:
    ours = parse_trailers(message)
    theirs = git_trailers(message, cwd)
    assert [t.key.lower() for t in ours] == [k.lower() for k, _ in theirs], (ours, theirs)
    for trailer, (_, value) in zip(ours, theirs):
        assert joins_to(trailer, value), (trailer, value)
    return ours


def keys(trailers: tuple[Trailer, ...]) -> list[str]:
    return [t.key for t in trailers]


# --- which paragraph is the block -------------------------------------------------------


def test_signed_off_block(outside_repo: Path) -> None:
    found = assert_like_git(
        "pwm: fix it\n\nBody text.\n\nReviewed-by: A B <a@b.org>\nSigned-off-by: C D <c@d.org>\n",
        outside_repo,
    )
    assert keys(found) == ["Reviewed-by", "Signed-off-by"]
    assert found[1] == Trailer(
        "Signed-off-by", "C D <c@d.org>", Person("C D", "c@d.org"), None, "Signed-off-by: C D <c@d.org>"
    )


def test_only_the_last_paragraph(outside_repo: Path) -> None:
    msg = "subj\n\nAcked-by: x <x@y.org>\n\nMore text.\n\nSigned-off-by: z <z@y.org>\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Signed-off-by"]


def test_the_title_paragraph_is_never_trailers(outside_repo: Path) -> None:
    assert assert_like_git("Signed-off-by: x <x@y.org>\n", outside_repo) == ()
    assert assert_like_git("subj\nSigned-off-by: x <x@y.org>\n", outside_repo) == ()
    assert assert_like_git("", outside_repo) == ()


def test_quarter_rule_needs_a_git_generated_line(outside_repo: Path) -> None:
    prose = "".join(f"line {i} of prose\n" for i in range(3))
    # one Signed-off-by (git-generated) and three other lines: 1 * 3 >= 3
    assert keys(assert_like_git(f"s\n\nbody\n\n{prose}Signed-off-by: x <x@y.org>\n", outside_repo)) == [
        "Signed-off-by"
    ]
    # four other lines: under 25 %
    assert assert_like_git(f"s\n\nbody\n\n{prose}one more\nSigned-off-by: x <x@y.org>\n", outside_repo) == ()
    # no git-generated line: the block must be trailers only
    assert assert_like_git("s\n\nbody\n\nsome prose\nReviewed-by: x <x@y.org>\n", outside_repo) == ()
    assert keys(assert_like_git("s\n\nbody\n\nReviewed-by: x <x@y.org>\n", outside_repo)) == ["Reviewed-by"]
    # "Signed-off-by:" needs its blank to count as git-generated
    assert assert_like_git("s\n\nb\n\nprose\nSigned-off-by:x <x@y.org>\n", outside_repo) == ()


def test_cherry_pick_line_counts_but_is_not_a_trailer(outside_repo: Path) -> None:
    msg = "s\n\nb\n\nsome words\nmore words\nReviewed-by: r <r@y.org>\n(cherry picked from commit 0123abcd)\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Reviewed-by"]


def test_non_trailer_lines_inside_the_block(outside_repo: Path) -> None:
    msg = (
        "s\n\nb\n\nReported-by: r <r@y.org>\nSigned-off-by: a <a@y.org>\n"
        "[tglx: fixed the typo]\nSigned-off-by: t <t@y.org>\n"
    )
    assert keys(assert_like_git(msg, outside_repo)) == ["Reported-by", "Signed-off-by", "Signed-off-by"]


def test_separator_is_a_colon_after_a_token(outside_repo: Path) -> None:
    msg = "s\n\nb\n\nReviewed-by : spaced <s@y.org>\nBug #43: not a trailer\nSigned-off-by: a <a@y.org>\n"
    found = assert_like_git(msg, outside_repo)
    assert keys(found) == ["Reviewed-by", "Signed-off-by"]
    # a URL alone on a line is, to git, the trailer "https"
    found = assert_like_git("s\n\nb\n\nSigned-off-by: a <a@y.org>\nhttps://example.org/x\n", outside_repo)
    assert keys(found) == ["Signed-off-by", "https"]


def test_continuation_lines_are_unfolded(outside_repo: Path) -> None:
    msg = (
        "s\n\nb\n\nFixes: 0123456789ab (\"gizmo: a title long enough\n"
        "   to wrap onto a second line\")\nSigned-off-by: a <a@y.org>\n"
    )
    fixes = assert_like_git(msg, outside_repo)[0]
    assert fixes.value == '0123456789ab ("gizmo: a title long enough to wrap onto a second line")'
    assert "\n" in fixes.raw
    assert fixes_of([fixes]) == (Fixes("0123456789ab", "gizmo: a title long enough to wrap onto a second line"),)


def test_continuation_of_a_non_trailer_is_dropped(outside_repo: Path) -> None:
    msg = "s\n\nb\n\nSigned-off-by: a <a@y.org>\n[note: x\n  more note]\nAcked-by: k <k@y.org>\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Signed-off-by", "Acked-by"]


def test_triple_dash_ends_the_message(outside_repo: Path) -> None:
    msg = "s\n\nb\n\nSigned-off-by: a <a@y.org>\n---\nv2: Acked-by: x <x@y.org>\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Signed-off-by"]
    msg = "s\n\nb\n\nSigned-off-by: a <a@y.org>\n--- \n\nAcked-by: x <x@y.org>\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Signed-off-by"]
    # "----" and a final "---" without a newline do not end it
    assert keys(assert_like_git("s\n\nb\n----\n\nAcked-by: x <x@y.org>\n", outside_repo)) == ["Acked-by"]
    assert assert_like_git("s\n\nb\n\nAcked-by: x <x@y.org>\n---", outside_repo) == ()


def test_comment_lines(outside_repo: Path) -> None:
    msg = "s\n\nb\n\nAcked-by: x <x@y.org>\n# a comment\nSigned-off-by: a <a@y.org>\n# trailing\n\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Acked-by", "Signed-off-by"]
    msg = "s\n\nb\n\nSigned-off-by: a <a@y.org>\n# ------------------------ >8 ------------------------\nAcked-by: z <z@y.org>\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Signed-off-by"]
    msg = "s\n\nb\n\nSigned-off-by: a <a@y.org>\nConflicts:\n\tdrivers/pwm/core.c\n"
    assert keys(assert_like_git(msg, outside_repo)) == ["Signed-off-by"]


def test_cut_line_after_the_patch_divider() -> None:
    # git 2.39 loops forever on this input (its cut-line search ignored the end of
    # the message); git >= 2.44 stops the message at "---" as done here.
    msg = "s\n\nb\n\nFoo: bar\n---\nx\n# ------------------------ >8 ------------------------\nSigned-off-by: x\n"
    assert keys(parse_trailers(msg)) == ["Foo"]


def test_crlf_and_nul(outside_repo: Path) -> None:
    found = assert_like_git("s\r\n\r\nb\r\n\r\nSigned-off-by: a <a@y.org>\r\nCc: c@y.org\r\n", outside_repo)
    assert [t.value for t in found] == ["a <a@y.org>", "c@y.org"]
    assert found[0].raw == "Signed-off-by: a <a@y.org>\r"
    # git reads a C string: nothing after a NUL
    assert keys(parse_trailers("s\n\nb\n\nAcked-by: x <x@y.org>\0\nSigned-off-by: a <a@y.org>\n")) == ["Acked-by"]


def test_empty_value_and_canonical_keys(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\nCC: a@y.org\nsigned-off-by: b <b@y.org>\nMessage-Id: <1@y>\nChange-ID: I12\nX-Custom-Key: v\nCc:\n",
        outside_repo,
    )
    assert keys(found) == ["Cc", "Signed-off-by", "Message-ID", "Change-Id", "X-Custom-Key", "Cc"]
    assert found[-1].value == "" and found[-1].person is None


# --- values: people, comments ---------------------------------------------------------------


def test_rfc2047_name_left_encoded(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\nSigned-off-by: =?UTF-8?q?Philippe=20Mathieu-Daud=C3=A9?= <f4bug@amsat.org>\n", outside_repo
    )
    assert found[0].value.startswith("=?UTF-8?q?")  # the value stays as written
    assert found[0].person == Person("Philippe Mathieu-Daudé", "f4bug@amsat.org")


def test_person_forms(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\n"
        "Tested-by: Nicolas Chauvet <kwizart@gmail.com> # PAZ00 T20\n"
        "Reported-by: jane@example.org (Jane Doe)\n"
        "Acked-by: Rob Herring <robh@kernel.org> [for the DT part]\n"
        "Cc: A <a@y.org>, B <b@y.org>\n"
        "Signed-off-by: Grzegorz Szpetkowski gszpetkowski@gmail.com\n"
        "Reviewed-by: Amit Pinhas\n"
        "Signed-off-by: Jiucheng Xu <jiucheng.xu@amlogic.com\n",
        outside_repo,
    )
    tested, reported, acked, cc, sob, rev, cut = found
    assert (tested.value, tested.comment, tested.person) == (
        "Nicolas Chauvet <kwizart@gmail.com>", "PAZ00 T20", Person("Nicolas Chauvet", "kwizart@gmail.com")
    )
    assert reported.person == Person("Jane Doe", "jane@example.org") and reported.comment is None
    assert (acked.value, acked.comment) == ("Rob Herring <robh@kernel.org>", "for the DT part")
    assert cc.person == Person("A", "a@y.org")  # the first of several
    assert sob.person == Person("Grzegorz Szpetkowski", "gszpetkowski@gmail.com")
    assert rev.person is None
    assert cut.person == Person("Jiucheng Xu", "jiucheng.xu@amlogic.com")


def test_comment_markers(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\n"
        "Fixes: 0123456789ab (\"drm: handle #GP in the # path\") # 5.10\n"
        "Link: https://example.org/page#anchor\n"
        "Tested-by: Fuad Tabba <tabba@google.com> #arm64\n"
        "Link: https://subspace.kernel.org # [1]\n"
        "Signed-off-by: A <a@y.org>\n",
        outside_repo,
    )
    fixes, link, tested, link2, _ = found
    assert (fixes.value, fixes.comment) == ('0123456789ab ("drm: handle #GP in the # path")', "5.10")
    assert fixes_of([fixes]) == (Fixes("0123456789ab", "drm: handle #GP in the # path"),)
    assert (link.value, link.comment) == ("https://example.org/page#anchor", None)
    assert tested.comment == "arm64"
    assert (link2.value, link2.comment) == ("https://subspace.kernel.org", "[1]")


# --- Fixes, stable, links -----------------------------------------------------------------


def test_stable_requests(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\n"
        "Cc: stable@vger.kernel.org # 6.9+\n"
        "Cc: <stable@vger.kernel.org> # v5.10+: abc123: pre-req\n"
        "Cc: stable@kernel.org\n"
        "CC: stable@vger.kernel.org\t# v6.3\n"
        "Cc: Other Person <other@y.org> # not stable\n"
        "Signed-off-by: A <a@y.org>\n",
        outside_repo,
    )
    assert stable_requests(found) == (
        StableRequest("6.9+"), StableRequest("v5.10+: abc123: pre-req"), StableRequest(None), StableRequest("v6.3"),
    )
    assert found[1].person == Person("", "stable@vger.kernel.org")


def test_fixes_forms(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\n"
        "Fixes: abcdef123456\n"
        'Fixes: e7eef1d7633a("fpga: no blank before the parenthesis")\n'
        'Fixes: 1234567890ab ("Revert "pwm: something"")\n'
        'Fixes: bb509e6fcbae (2020-10-16; "kernel_lockdown.7: New page")\n'
        "Fixes: https://bugzilla.kernel.org/show_bug.cgi?id=208879\n"
        "Fixes:\u00a0ABCDEF123456 (\"nbsp after the colon\")\n"
        "Signed-off-by: A <a@y.org>\n",
        outside_repo,
    )
    assert fixes_of(found) == (
        Fixes("abcdef123456", None),
        Fixes("e7eef1d7633a", "fpga: no blank before the parenthesis"),
        Fixes("1234567890ab", 'Revert "pwm: something"'),
        Fixes("bb509e6fcbae", "kernel_lockdown.7: New page"),
        Fixes("abcdef123456", "nbsp after the colon"),
    )


def test_links(outside_repo: Path) -> None:
    found = assert_like_git(
        "s\n\nb\n\n"
        "Link: https://lore.kernel.org/r/20240101.1234-1-a%40b.org\n"
        "Link: https://patch.msgid.link/20240102-x-v1-1-abc@b.org\n"
        "Closes: https://lore.kernel.org/oe-kbuild-all/202603031842.Ab3kLm9Q-lkp@intel.com/\n"
        "Link: http://lkml.kernel.org/r/20200302193630.68771-2-minchan@kernel.org\n"
        "Link: https://lore.kernel.org/20240617-arboreal-hedgehog-5b84ae@meerkat # [1]\n"
        "Link: https://msgid.link/r/20240529123029.146953-2-mpe@ellerman.id.au\n"
        "Link: <https://bugzilla.kernel.org/show_bug.cgi?id=215844>\n"
        "Link: https://lore.kernel.org/linux-pwm/\n"
        "Closes: #12\n"
        "Signed-off-by: A <a@y.org>\n",
        outside_repo,
    )
    assert links_of(found) == (
        Link("https://lore.kernel.org/r/20240101.1234-1-a%40b.org", "20240101.1234-1-a@b.org"),
        Link("https://patch.msgid.link/20240102-x-v1-1-abc@b.org", "20240102-x-v1-1-abc@b.org"),
        Link(
            "https://lore.kernel.org/oe-kbuild-all/202603031842.Ab3kLm9Q-lkp@intel.com/",
            "202603031842.Ab3kLm9Q-lkp@intel.com",
        ),
        Link(
            "http://lkml.kernel.org/r/20200302193630.68771-2-minchan@kernel.org",
            "20200302193630.68771-2-minchan@kernel.org",
        ),
        Link(
            "https://lore.kernel.org/20240617-arboreal-hedgehog-5b84ae@meerkat",
            "20240617-arboreal-hedgehog-5b84ae@meerkat",
        ),
        Link(
            "https://msgid.link/r/20240529123029.146953-2-mpe@ellerman.id.au",
            "20240529123029.146953-2-mpe@ellerman.id.au",
        ),
        Link("https://bugzilla.kernel.org/show_bug.cgi?id=215844", None),
        Link("https://lore.kernel.org/linux-pwm/", None),
    )


def test_quoted_trailer_in_a_commit_message_is_not_one(outside_repo: Path) -> None:
    msg = "s\n\nAs asked:\n\n> Reviewed-by: x <x@y.org>\n"
    assert assert_like_git(msg, outside_repo) == ()


# --- replies ----------------------------------------------------------------------------------

REVIEW = """On Mon, Mar 02, 2026 at 09:14:08AM -0800, Jane Whitaker wrote:
> Newer revisions of the hub take their bus clock from an external pin.
>
> Reviewed-by: Someone Else <else@y.org>
> Signed-off-by: Jane Whitaker <jane@y.org>

Nothing disables the clock again if anything below fails.

With that changed:

Reviewed-by: Marek Novák <mnovak@kernel.org>

--\x20
Marek
Reviewed-by: Not Me <sig@y.org>
"""


def reply(*lines: str) -> tuple[Trailer, ...]:
    return find_reply_trailers("\n".join(lines) + "\n")


def test_reply_review_tag() -> None:
    found = find_reply_trailers(REVIEW)
    assert found == (
        Trailer(
            "Reviewed-by", "Marek Novák <mnovak@kernel.org>", Person("Marek Novák", "mnovak@kernel.org"),
            None, "Reviewed-by: Marek Novák <mnovak@kernel.org>",
        ),
    )
    assert find_reply_trailers(REVIEW.replace("\n", "\r\n")) == found


def test_reply_quoted_tags_are_not_given() -> None:
    assert reply("On Tue, X wrote:", "> Reviewed-by: Marek <m@k.org>", "  > Acked-by: Y <y@k.org>", "", "Thanks!") == ()
    assert reply("| Reported-by: kernel test robot <lkp@intel.com>", "| Closes: https://lore.kernel.org/x@y/") == ()


def test_reply_keys_and_values() -> None:
    found = reply(
        "Looks good.",
        "",
        "Reviewed-by : Maxim Levitsky <mlevitsk@redhat.com>",
        "Acked-by: Dmitry Torokhov <dmitry.torokhov@gmail.com> # for input",
        "Cc: stable@vger.kernel.org # v5.13+",
        "Cc: Some Body <some@body.org>",
        "Fixes: ?",
        "Fixes: 6520ca64cde7 (\"KVM: PPC: Book3S HV: XIVE: Add a mapping\")",
        "Link: https://lore.kernel.org/r/D05IVTPYH35N.2CLDG6LSILRSN@matfyz.cz",
        "Link: https://crates.io/crates/sealed [1]",
        "Closes: https://bugzilla.kernel.org/show_bug.cgi?id=213577",
        "Message-ID: <x@y.org>",
        "Mail: someone@example.net",
        "Tested-by: Nobody Without Address",
        "Subject: Re: [PATCH] x",
    )
    assert keys(found) == ["Reviewed-by", "Acked-by", "Cc", "Fixes", "Link", "Closes"]
    assert found[1].comment == "for input"
    assert stable_requests(found) == (StableRequest("v5.13+"),)
    assert fixes_of(found) == (Fixes("6520ca64cde7", "KVM: PPC: Book3S HV: XIVE: Add a mapping"),)
    assert links_of(found)[0].msgid == "D05IVTPYH35N.2CLDG6LSILRSN@matfyz.cz"


def test_reply_wrapped_trailers_are_joined() -> None:
    found = reply(
        "Yes, I missed this. I think this should be:",
        "Fixes: e7eef1d7633a (\"fpga: add intel stratix10 soc fpga manager",
        "driver\")",
        "",
        "Reviewed-by: Kuppuswamy Sathyanarayanan ",
        "<sathyanarayanan.kuppuswamy@linux.intel.com>",
        "Tested-by: Marijn Suijten <marijn.suijten@somainline.org>",
        "[On the Sony Xperia Nile Discovery, SDM630]",
    )
    assert fixes_of(found) == (Fixes("e7eef1d7633a", "fpga: add intel stratix10 soc fpga manager driver"),)
    assert found[1].person == Person("Kuppuswamy Sathyanarayanan", "sathyanarayanan.kuppuswamy@linux.intel.com")
    assert found[1].raw.count("\n") == 1
    assert (found[2].value, found[2].comment) == (
        "Marijn Suijten <marijn.suijten@somainline.org>", "On the Sony Xperia Nile Discovery, SDM630"
    )


def test_reply_signature_and_unprefixed_quotes() -> None:
    assert reply("Thanks", "-- ", "Acked-by: Sig <s@y.org>") == ()
    assert reply("Thanks", "--", "Acked-by: Sig <s@y.org>") == ()
    assert reply("Ok", "", "-----Original Message-----", "From: X", "Reviewed-by: Q <q@y.org>") == ()
    assert reply("Ok", "", "Begin forwarded message:", "", "Acked-by: Q <q@y.org>") == ()
    # top-posting: an attribution, then the original without ">" to the end
    assert reply("Fine by me.", "", "On Mon, X wrote:", "Patch text", "Signed-off-by: X <x@y.org>") == ()
    # but an attribution followed by ">" quoting leaves the replier's text alone
    assert keys(reply("X <x@y.org> writes:", "", "Hello X,", "", "> quoted", "", "Acked-by: A <a@y.org>")) == [
        "Acked-by"
    ]
    # a From:/Date: header block: only an unprefixed original after it ends the reply
    assert keys(reply("From: X <x@y.org>", "Date: Sun", "> quoted", "", "Reviewed-by: K <k@y.org>")) == [
        "Reviewed-by"
    ]
    assert reply("Try this:", "", "From: Y <y@y.org>", "Date: Mon", "Subject: [PATCH] x", "",
                 "text", "", "Signed-off-by: Y <y@y.org>") == ()


def test_reply_embedded_patches() -> None:
    # a patch after scissors is the proposal's, not the replier's tags
    assert reply("Something like this?", "", "-- >8 --", "Subject: x", "", "Signed-off-by: P <p@y.org>") == ()
    assert keys(reply("-- >8 --", "Signed-off-by: P <p@y.org>", "---8<---", "", "Acked-by: A <a@y.org>")) == [
        "Acked-by"
    ]
    # the trailer paragraph just above a "---" that a diff follows
    assert reply(
        "Fix this by doing it right.",
        "",
        "Fixes: 0e67d866cb32 (\"KVM: PPC: Book3S HV: Nested support\")",
        "Signed-off-by: Bharata B Rao <bharata@linux.ibm.com>",
        "---",
        " arch/powerpc/kvm/book3s_hv_nested.c | 90 ++++++-----",
        " 1 file changed, 50 insertions(+), 40 deletions(-)",
    ) == ()
    # a "---" used as a separator keeps the tag above it
    assert keys(reply("you can add my:", "Reviewed-by: F <f@y.org>", "", "---", "Unrelated question.")) == [
        "Reviewed-by"
    ]
    assert reply("From 9f464fde8dd168b71430ca29f631153e3e3fb2e5 Mon Sep 17 00:00:00 2001",
                 "Signed-off-by: P <p@y.org>") == ()


def test_reply_robot_suggestions() -> None:
    assert reply(
        "If you fix the issue, kindly add following tag as appropriate",
        "Reported-by: kernel test robot <lkp@intel.com>",
        "",
        "All errors (new ones prefixed by >>):",
    ) == ()
    assert reply(
        "IMPORTANT: if you fix the issue, please add the following tag to the commit:",
        "Reported-by: syzbot+6a038377f0a594d7d44e@syzkaller.appspotmail.com",
    ) == ()


def test_reply_indented_lines() -> None:
    # a tag indented on its own counts
    assert keys(reply("For the sound part:", "  Reviewed-by: Takashi Iwai <tiwai@suse.de>", "")) == ["Reviewed-by"]
    assert keys(reply("> Signed-off-by: A <a@y.org>", "  Reviewed-by: J <j@y.org>", "> ---")) == ["Reviewed-by"]
    # an indented git log, an example, a block of several: not the replier's tags
    assert reply(
        "    Document the turbulent past.",
        "    ",
        "    Reviewed-by: Adhemerval Zanella  <adhemerval.zanella@linaro.org>",
    ) == ()
    assert reply("    Suggested-by: B <b@y.org>", "    Signed-off-by: A <a@y.org>") == ()
    assert reply("We use Co-authored-by. Example:", "", "\tSigned-off-by: Alejandro Colomar <alx@kernel.org>") == ()
    assert reply("add a line saying::", "", "    Signed-off-by: Random J Developer <random@developer.example.org>") == ()
    assert reply("Replace the:", "", "  Link: https://lore.kernel.org/...") == ()


# --- never raises, stays fast -------------------------------------------------------------------

FRAGMENTS = [
    "Signed-off-by: ", "Signed-off-by:", "Reviewed-by: ", "Acked-by : ", "Fixes: ", "Cc: ", "Link: ",
    "Closes: ", "(cherry picked from commit ", "---", "--- ", "-- ", "#", "# ", ">", "> ", " ", "\t",
    "\n", "\n", "\n", "\r\n", "\n\n", "A B <a@b.org>", "stable@vger.kernel.org", " # 6.9+", "[for DT]",
    "0123456789ab", '("title', '")', "https://lore.kernel.org/r/x%40y", "-- >8 --", "wrote:", "From: x",
    "Date: y", "word", "Bug #1: x", "Conflicts:\n\tfile\n", "\u00e9", "=?UTF-8?q?A=C3=A9?=", ":", "<", "]",
    "# ------------------------ >8 ------------------------\n", "\x0b", "\x0c", "\u00a0", "\u2028", "\r",
    "Key\t:", " :", "-:", "(", ")", '"', "#x",
]

messages = st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)


def check_records(found: tuple[Trailer, ...]) -> None:
    for t in found:
        assert isinstance(t, Trailer) and t.key and isinstance(t.value, str)
        assert t.person is None or isinstance(t.person, Person)
    fixes_of(found), stable_requests(found), links_of(found)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), messages))
def test_never_raises(text: str) -> None:
    start = time.process_time()
    check_records(parse_trailers(text))
    check_records(find_reply_trailers(text))
    assert time.process_time() - start < 0.05


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(messages.filter(lambda m: "\0" not in m))
def test_agrees_with_git_on_generated_messages(outside_repo: Path, message: str) -> None:
    message = "subject\n\n" + message
    if "\n---" in message and ">8" in message.split("\n---", 1)[1]:
        return  # git 2.39 hangs there (see test_cut_line_after_the_patch_divider)
    assert_like_git(message, outside_repo)


def test_large_inputs_stay_fast() -> None:
    cases = [
        "s\n\n" + "Signed-off-by: x <x@y.org>\n" * 20000,
        "s\n\n" + "a" * 200000 + "\n\nSigned-off-by: " + "@" * 100000 + "\n",
        "s\n\n" + "Tested-by: " + " #<" * 50000 + "\n",
        "Reviewed-by: " + "a" * 200000 + "@\n",
        "Link: " + "a" * 200000 + "://\n",
        "Reviewed-by: X <x@y.org> " + " " * 100000 + "]\n",
        "> quoted\n" * 50000 + "Acked-by: A <a@y.org>\n",
        ("Fixes: 0123456789ab (\"" + "x" * 50 + "\n") * 5000,
    ]
    for text in cases:
        start = time.process_time()  # CPU time: the machine may be busy with other work
        check_records(parse_trailers(text))
        check_records(find_reply_trailers(text))
        assert time.process_time() - start < 2.0, text[:40]
