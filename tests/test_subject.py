"""The subject-marker grammar: every listed form, git's title rule, and robustness.

``title`` is checked three ways: against the expected value of each case, against
``git mailinfo`` itself on the same subject, and (by hypothesis) against a literal
model of git's ``cleanup_subject`` written below independently of the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchtrack.subject import Subject, parse_subject


class Case:
    """One subject and the record it must give, with the four derived properties.

    ``version=None`` means "absent, inferred as 1"; ``counter`` is ``(index, total)``;
    ``flags`` names the properties that must be true, of patch, pull, cover, reply.
    """

    def __init__(
        self,
        text: str,
        title: str,
        prefixes: tuple[str, ...] = (),
        version: int | None = None,
        counter: tuple[int, int] | None = None,
        *,
        flags: str = "",
        rfc: bool = False,
        resend: bool = False,
        reply: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
        raw: str | None = None,
        backport: str | None = None,
    ) -> None:
        self.text = text
        self.flags = set(flags.split())
        self.expected = Subject(
            raw=text if raw is None else raw,
            title=title,
            prefixes=prefixes,
            version=1 if version is None else version,
            version_inferred=version is None,
            index=counter[0] if counter else None,
            total=counter[1] if counter else None,
            rfc=rfc,
            resend=resend,
            reply=reply,
            tags=tags,
            backport=backport,
        )


P = ("PATCH",)
GP = ("GIT", "PULL")

CASES = [
    Case("[PATCH v5 1/4] x", "x", P, 5, (1, 4), flags="patch"),
    Case("[PATCH v2 01/37] x", "x", P, 2, (1, 37), flags="patch"),
    Case("[RFC PATCH net-next 0/4] x", "x", ("RFC", "PATCH", "net-next"), None, (0, 4),
         flags="patch cover", rfc=True, tags=("net-next",)),
    Case("[PATCH RESEND v2 3/7] x", "x", ("PATCH", "RESEND"), 2, (3, 7), flags="patch", resend=True),
    Case("[PATCHv2] x", "x", P, 2, flags="patch"),
    Case("[PATCH V3] x", "x", P, 3, flags="patch"),
    Case("[RFC] [PATCH 1/2] x", "x", ("RFC", "PATCH"), None, (1, 2), flags="patch", rfc=True),
    Case("[net-next PATCH v2 1/3] x", "x", ("net-next", "PATCH"), 2, (1, 3), flags="patch",
         tags=("net-next",)),
    Case("[PATCH kvm-next 1/1] x", "x", ("PATCH", "kvm-next"), None, (1, 1), flags="patch",
         tags=("kvm-next",)),
    Case("Re: Re: [PATCH v5 1/4] x", "x", P, 5, (1, 4), flags="patch reply", reply=("Re", "Re")),
    # git strips only "Re:": the Dutch reply keeps its markers in git's title
    Case("Antw: [PATCH 2/3] x", "Antw: [PATCH 2/3] x", P, None, (2, 3), flags="patch reply",
         reply=("Antw",)),
    Case("[PATCH 1 / 3] x", "x", P, None, (1, 3), flags="patch"),
    Case("[PATCH v2,1/3] x", "x", P, 2, (1, 3), flags="patch"),
    # out of range (a late addition to a series): kept as written
    Case("[PATCH 6/5] x", "x", P, None, (6, 5), flags="patch"),
    Case("[GIT PULL] x", "x", GP, flags="pull"),
    Case("[GIT,PULL] x", "x", GP, flags="pull"),
    Case("[PULL] x", "x", ("PULL",), flags="pull"),
    Case("Re: [GIT PULL v2] x", "x", GP, 2, flags="pull reply", reply=("Re",)),
    Case("[GIT] x", "x", ("GIT",), tags=("GIT",)),
    Case("RE: [PATCH] x", "x", P, flags="patch reply", reply=("Re",)),
    Case("Fwd: [PATCH] x", "Fwd: [PATCH] x", P, flags="patch reply", reply=("Fwd",)),
    Case("FW: [PATCH] x", "FW: [PATCH] x", P, flags="patch reply", reply=("Fwd",)),
    # a "Re:" after the markers is part of the patch's own subject: git drops it, no reply
    Case("Re: [PATCH v2] Re: x", "x", P, 2, flags="patch reply", reply=("Re",)),
    Case("[PATCH] Re: x", "x", P, flags="patch"),
    Case("[PATCH v3 net 2/2] x", "x", ("PATCH", "net"), 3, (2, 2), flags="patch", tags=("net",)),
    # stable review series: "5.10" is the tree, not a version
    Case("[PATCH 5.10 012/345] x", "x", ("PATCH", "5.10"), None, (12, 345), flags="patch",
         tags=("5.10",), backport="5.10"),
    Case("[PATCH AUTOSEL 6.1 01/10] x", "x", ("PATCH", "AUTOSEL", "6.1"), None, (1, 10),
         flags="patch", tags=("AUTOSEL", "6.1"), backport="6.1"),
    # a release with a word saying what it is for: a fix for the release being prepared
    Case("[PATCH 5.3 regression fix] x", "x", ("PATCH", "5.3", "regression", "fix"), flags="patch",
         tags=("5.3", "regression", "fix")),
    Case("[PATCH RESEND for 5.10] x", "x", ("PATCH", "RESEND", "for", "5.10"), flags="patch",
         resend=True, tags=("for", "5.10")),
    Case("[PATCH stable 5.4.y] x", "x", ("PATCH", "stable", "5.4.y"), flags="patch",
         tags=("stable", "5.4.y"), backport="5.4"),
    Case("[PATCH] [stable v5.4.x] x", "x", ("PATCH", "stable", "v5.4.x"), flags="patch",
         tags=("stable", "v5.4.x"), backport="5.4"),
    Case("[PATCH 5.10.y] x", "x", ("PATCH", "5.10.y"), flags="patch", tags=("5.10.y",), backport="5.10"),
    Case("[PATCH stable 6.6] x", "x", ("PATCH", "stable", "6.6"), flags="patch",
         tags=("stable", "6.6"), backport="6.6"),
    Case("[PATCH 4.19-stable v2 1/2] x", "x", ("PATCH", "4.19-stable"), 2, (1, 2), flags="patch",
         tags=("4.19-stable",), backport="4.19"),
    Case("[PATCH AUTOSEL 6.17-6.12] x", "x", ("PATCH", "AUTOSEL", "6.17-6.12"), flags="patch",
         tags=("AUTOSEL", "6.17-6.12"), backport="6.17-6.12"),
    Case("[PATCH for-stable] x", "x", ("PATCH", "for-stable"), flags="patch", tags=("for-stable",),
         backport="stable"),
    Case("[PATCH 2.6.32.y 3/3] x", "x", ("PATCH", "2.6.32.y"), None, (3, 3), flags="patch",
         tags=("2.6.32.y",), backport="2.6.32"),
    # man-pages releases have a leading zero (6.05): no kernel release
    Case("[PATCH man-pages 6.05] x", "x", ("PATCH", "man-pages", "6.05"), flags="patch",
         tags=("man-pages", "6.05")),
    # Mercurial's patchbomb counters
    Case("[PATCH 1 of 2] x", "x", P, None, (1, 2), flags="patch"),
    Case("[PATCH 0 of 5 v2] x", "x", P, 2, (0, 5), flags="patch cover"),
    Case("[PATCH 2 of 3 V2] x", "x", P, 2, (2, 3), flags="patch"),
    Case("[PATCH part 1of 2] x", "x", ("PATCH", "part", "1of", "2"), flags="patch", tags=("part", "1of", "2")),
    Case("[PATCH for-next] x", "x", ("PATCH", "for-next"), flags="patch", tags=("for-next",)),
    Case("[PATCH -next] x", "x", ("PATCH", "-next"), flags="patch", tags=("-next",)),
    Case("[PATCH v2 RESEND] x", "x", ("PATCH", "RESEND"), 2, flags="patch", resend=True),
    Case("[PATCH RFC v4 0/3] x", "x", ("PATCH", "RFC"), 4, (0, 3), flags="patch cover", rfc=True),
    # a respin of a version reads as its major number (docs/subject.md)
    Case("[PATCH v1.1 2/4] x", "x", P, 1, (2, 4), flags="patch"),
    Case("[PATCH v5.5 00/30] x", "x", P, 5, (0, 30), flags="patch cover"),
    Case("[PATCH v7a 3/8] x", "x", P, 7, (3, 8), flags="patch"),
    Case("[PATCH 0/3 v2] x", "x", P, 2, (0, 3), flags="patch cover"),
    Case("[RFC PATCH v0 1/5] x", "x", ("RFC", "PATCH"), 0, (1, 5), flags="patch", rfc=True),
    Case("no markers at all", "no markers at all"),
    Case("", ""),
    Case("[PATCH]", "", P, flags="patch"),
    Case("[PATCH] [bug] x", "x", ("PATCH", "bug"), flags="patch", tags=("bug",)),
    # no closing bracket: neither git nor we read a marker
    Case("[PATCH x", "[PATCH x"),
    # nested: git cuts at the first "]", we read the balanced group (counter included)
    Case("Re: [[PATCH v2] 1/9] dt-bindings: pwm: x", "1/9] dt-bindings: pwm: x", P, 2, (1, 9),
         flags="patch reply", reply=("Re",)),
    # mutt's forward: only "[[" nests, so the group ends where git's does
    Case("[me@example.org: [PATCH] x]", "x]", ("me@example.org", "PATCH"), flags="patch",
         tags=("me@example.org",)),
    Case("Re:[PATCH]x", "x", P, flags="patch reply", reply=("Re",)),
    Case("Re : x", "Re : x", flags="reply", reply=("Re",)),
    Case("SV: x", "SV: x", flags="reply", reply=("SV",)),
    Case("VS: x", "VS: x", flags="reply", reply=("VS",)),
    Case("Odp: x", "Odp: x", flags="reply", reply=("Odp",)),
    Case("R: x", "R: x", flags="reply", reply=("R",)),
    Case("Aw: Re: x", "Aw: Re: x", flags="reply", reply=("Aw", "Re")),
    Case("AW: AW: [PATCH] x", "AW: AW: [PATCH] x", P, flags="patch reply", reply=("Aw", "Aw")),
    Case("Re[2]: x", "Re[2]: x", flags="reply", reply=("Re",)),
    Case("Re: x", "x", flags="reply", reply=("Re",)),
    # git keeps a lone "Re:" (it strips "re:" only when more text follows)
    Case("Re:", "Re:", flags="reply", reply=("Re",)),
    # words that only look like reply prefixes
    Case("Rebase: x", "Rebase: x"),
    Case("Ping: [PATCH v4] x", "Ping: [PATCH v4] x"),
    Case("[RFC/PATCH] x", "x", ("RFC/PATCH",), flags="patch", rfc=True),
    Case("[PATCH-v9 2/3] x", "x", P, 9, (2, 3), flags="patch"),
    Case("[RFC] x", "x", ("RFC",), flags="patch", rfc=True),
    # a version and a counter without PATCH: not a patch by the markers
    Case("[v4 1/5] x", "x", (), 4, (1, 5)),
    Case("[MAINTAINERS / KERNEL SUMMIT] x", "x", ("MAINTAINERS", "KERNEL", "SUMMIT"),
         tags=("MAINTAINERS", "KERNEL", "SUMMIT")),
    Case("[tip: perf/core] x", "x", ("tip", "perf/core"), tags=("tip", "perf/core")),
    # "1.5/5" is no counter; it stays a tag
    Case("[PATCH v2 1.5/5] x", "x", ("PATCH", "1.5/5"), 2, flags="patch", tags=("1.5/5",)),
    # the first version and the first counter win
    Case("[PATCH v2] [PATCH v3 1/2] [2/2] x", "x", ("PATCH", "PATCH"), 2, (1, 2), flags="patch"),
    # folded: newlines, tabs and runs of spaces unfold to single spaces
    Case("  Re:\n\t[PATCH\tv2  1/2]\r\n  some   title \n", "some title", P, 2, (1, 2),
         flags="patch reply", reply=("Re",), raw="Re: [PATCH v2 1/2] some title"),
    # a no-break space is not whitespace to git: kept
    Case("[PATCH]\u00a0x", "\u00a0x", P, flags="patch"),
]


@pytest.mark.parametrize("case", CASES, ids=[repr(c.text) for c in CASES])
def test_case(case: Case) -> None:
    got = parse_subject(case.text)
    assert attrs.evolve(got, marker="") == case.expected  # markers: test_marker_as_posted
    derived = {
        "patch": got.is_patch, "pull": got.is_pull, "cover": got.is_cover, "reply": got.is_reply,
    }
    assert {name for name, value in derived.items() if value} == case.flags


def test_record_is_frozen_and_slotted() -> None:
    s = parse_subject("[PATCH v2 1/2] x")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.title = "y"  # type: ignore[misc]
    assert not hasattr(s, "__dict__")
    assert [f.name for f in attrs.fields(Subject)] == [
        "raw", "title", "prefixes", "version", "version_inferred", "index", "total",
        "rfc", "resend", "reply", "tags", "marker", "backport",
    ]


MARKERS = [
    ("[RFC PATCH v4 5/4] x", "[RFC PATCH v4 5/4]"),
    ("[PATCH v2 00/12] x", "[PATCH v2 00/12]"),
    ("[PATCH 07/15] x", "[PATCH 07/15]"),
    ("[PATCH net-next v3 2/7] x", "[PATCH net-next v3 2/7]"),
    ("[PATCH kvm-unit-tests] x", "[PATCH kvm-unit-tests]"),
    ("[PATCH AUTOSEL 5.4 14/78] x", "[PATCH AUTOSEL 5.4 14/78]"),
    ("[PATCH 0 of 5 v2] x", "[PATCH 0 of 5 v2]"),
    ("[PATCHv2 1 / 3] x", "[PATCHv2 1 / 3]"),
    ("Re: [PATCH RESEND] x", "[PATCH RESEND]"),
    ("[RFC] [PATCH 1/2] x", "[RFC] [PATCH 1/2]"),
    ("[PATCH][next] x", "[PATCH][next]"),
    ("[PATCH]: [bug] x", "[PATCH]: [bug]"),
    ("Re:  [[PATCH v2]\t1/9] x", "[[PATCH v2] 1/9]"),
    ("[PATCH] Re: x", "[PATCH]"),
    ("no markers", ""),
    ("Ping: [PATCH] x", ""),
]


@pytest.mark.parametrize(("text", "marker"), MARKERS)
def test_marker_as_posted(text: str, marker: str) -> None:
    """The bracket groups exactly as written (whitespace unfolded), never rebuilt:
    a zero-padded counter, an out-of-range one, a tree tag, a patchbomb counter."""
    assert parse_subject(text).marker == marker


# --- git itself --------------------------------------------------------------------

_GIT_ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)


def mailinfo_subject(text: str) -> str:
    """``git mailinfo``'s Subject: line for a mail carrying ``text`` as its subject."""
    header = b"Subject: " + text.encode("utf-8", "surrogatepass")
    mail = b"From: A <a@example.org>\n" + header + b"\n\nbody\n"
    out = subprocess.run(
        ["git", "mailinfo", os.devnull, os.devnull],
        input=mail, capture_output=True, env=_GIT_ENV, check=True,
    ).stdout.decode("utf-8", "surrogateescape")
    for line in out.split("\n"):
        if line.startswith("Subject:"):
            return line[len("Subject:"):].strip(" ")
    return ""


EDGES = [
    "[[[[x", "]]x", "[a [b] c] x", ": : x", "re:re:RE:rE: x", "[PATCH]:x", "Re: [PATCH] Re:",
    "[x]Re:[y]re: z", "\u00a0[PATCH] x", "Re: Ping: [PATCH] x", "[PATCH]\t\tx", ":[PATCH]: :x",
    "Re:Re:", "re:x", "[]x", "[] [] []", "Re: [PATCH 1/2] [PATCH 2/2]", "Re :[PATCH] x",
]
_needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")


@_needs_git
@pytest.mark.parametrize("text", [c.text for c in CASES] + EDGES)
def test_title_is_git_mailinfo_subject(text: str) -> None:
    # a header line cannot hold a raw newline: fold it as a mail would
    as_header = text.replace("\r\n", "\n").replace("\n", "\n ").rstrip("\n ")
    assert parse_subject(text).title == mailinfo_subject(as_header)


# Text a header line can carry to git unchanged: no CR/LF (unfolded), no NUL (git
# rejects it), no "=?" (git would RFC 2047-decode it).
_header_text = st.lists(
    st.sampled_from(["Re:", "RE:", "re: ", "Aw:", "Fwd:", "[", "]", "[PATCH", "v2", "1/3", " ",
                     "\t", ":", "x", "R", "e", "ſ", "é", "[RFC]", "[PATCH v2 1/3]"])
    | st.text(st.characters(exclude_characters="\r\n\x00=", exclude_categories=("Cs",)), max_size=4),
    max_size=12,
).map("".join)


@_needs_git
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_header_text)
def test_title_is_git_mailinfo_subject_fuzzed(text: str) -> None:
    assert parse_subject(text).title == mailinfo_subject(text)


def git_cleanup_subject_model(text: str) -> str:
    """A literal model of git's mailinfo ``cleanup_subject`` + ``cleanup_space``.

    Written from the C as a buffer that shrinks from the front, on UTF-8 bytes, to be
    an independent check of the module's index-walking version. ``text`` is first cut
    as a header line delivers it: blanks after the colon skipped, line end trimmed.
    """
    buf = bytearray(text.encode("utf-8", "surrogatepass").strip(b" \t"))
    at = 0
    while at < len(buf):
        c = buf[at]
        if c in b"rR":
            if len(buf) <= at + 3:
                break
            if buf[at + 1] in b"eE" and buf[at + 2] == ord(":"):
                del buf[at : at + 3]
                continue
            break
        if c in b" \t:":
            del buf[at]
            continue
        if c == ord("["):
            pos = buf.find(b"]", at)
            if pos < 0:
                break
            del buf[at : pos + 1]
            continue
        break
    out = bytes(buf).strip(b" \t\n\r")
    return b" ".join(part for part in out.replace(b"\t", b" ").split(b" ") if part).decode(
        "utf-8", "surrogatepass"
    )


_no_newlines = st.lists(
    st.sampled_from(["Re:", "rE:", "[", "]", " ", "\t", ":", "R", "e", "[PATCH v2]", "x", "é"])
    | st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), max_size=5),
    max_size=16,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_no_newlines)
def test_title_matches_model_of_git(text: str) -> None:
    # newlines excluded: git unfolds header lines before this rule ever sees them
    assert parse_subject(text).title == git_cleanup_subject_model(text)


# --- robustness --------------------------------------------------------------------

_tokens = st.sampled_from(
    ["[", "]", "[[", "]]", "Re:", "RE :", "Re[2]:", "Aw:", "Fwd:", "SV:", " ", "  ", "\t", "\n", "\r\n",
     ":", ",", "/", " / ", "PATCH", "PATCHv3", "RFC", "RESEND", "GIT", "PULL", "v", "v2", "V10", "v1.1",
     "0", "01", "1/3", "6/5", "999999999/1", "net-next", "5.10", "x", "é", "ſ", "\u00a0", "=?utf-8?q?x?="]
)
_anything = st.lists(_tokens | st.text(max_size=6), max_size=40).map("".join)


def _check_invariants(s: Subject) -> None:
    raw = s.raw
    assert raw == raw.strip(" ") and "  " not in raw
    assert not any(ch in raw for ch in "\t\r\n")
    assert raw.endswith(s.title)  # git only removes from the front
    assert (s.index is None) == (s.total is None)
    assert s.version >= 0 and (not s.version_inferred or s.version == 1)
    assert set(s.reply) <= {"Re", "Aw", "Antw", "SV", "VS", "Odp", "R", "Rif", "Fwd"}
    assert all(t in s.prefixes for t in s.tags)
    assert not (s.is_patch and s.is_pull)
    assert parse_subject(raw) == s  # unfolding is idempotent


@settings(max_examples=500, deadline=None)
@given(_anything)
def test_any_text_parses_with_invariants(text: str) -> None:
    start = time.process_time()
    s = parse_subject(text)
    assert time.process_time() - start < 0.5
    _check_invariants(s)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_arbitrary_unicode_never_raises(text: str) -> None:
    _check_invariants(parse_subject(text))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["[", "Re:", " ", "[[]", "Re: [", "[PATCH ", ":", "v1.", "0", "[a [b] ", "\t\n"]),
       st.integers(min_value=1_000, max_value=60_000), st.text(max_size=20))
def test_long_runs_are_fast(unit: str, repeat: int, tail: str) -> None:
    text = unit * repeat + tail
    start = time.process_time()
    s = parse_subject(text)
    assert time.process_time() - start < 1.0
    _check_invariants(s)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000,
        "Re:" * 100_000 + "x",
        " " * 200_000 + "x",
        "[[]" * 70_000,
        "[" + "0" * 200_000 + "/1] x",
        "[PATCH v1" + ".1" * 100_000 + "] x",
        "[" + "a [" * 70_000 + "] x",
        "Re: [PATCH] " * 20_000,
        "[PATCH " + "1/2 " * 50_000 + "] x",
    ],
    ids=["brackets", "re", "spaces", "nested", "zeros", "dots", "unclosed-nest", "repeat", "counters"],
)
def test_pathological_inputs_are_linear(text: str) -> None:
    start = time.process_time()
    s = parse_subject(text)
    assert time.process_time() - start < 1.0
    _check_invariants(s)
