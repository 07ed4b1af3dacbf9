"""Hostile mail (issue 19): bounded time, nothing thrown away, every record writable.

Each shape that stalled or broke the parser is built here (and the campaign's own
reproducers in ``../shared/hostile`` are read when present): the record keeps its
Message-ID, sender and date, says what was wrong in its problems, and can be written.
Shapes that were super-linear are timed at two sizes: doubling the input must not
much more than double the CPU time (a ratio of CPU times, not a wall-clock bar).
"""

from __future__ import annotations

import base64
import gc
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS, ROOT
from fuzz import strings
from patchtrack._engine import _codec
from patchtrack import _mime, identity, subject
from patchtrack.identity import parse_people, parse_person
from patchtrack.message import MAX_HEADER, Message, message_ids, parse_message
from patchtrack.trailers import find_reply_trailers, parse_trailers

HOSTILE = Path(os.environ.get("PATCHTRACK_HOSTILE", CORPUS.parent / "hostile"))
if not HOSTILE.is_dir():
    HOSTILE = ROOT.parent / "shared" / "hostile"

HEAD = (
    b"From: Ann Example <ann@example.org>\nSubject: [PATCH] fix the frobnicator\n"
    b"Message-ID: <m1@example.org>\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n"
)
PATCH = b"body\n\nSigned-off-by: Ann Example <ann@example.org>\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"


def mail(extra: bytes = b"", body: bytes = PATCH, head: bytes = HEAD) -> bytes:
    return head + extra + b"\n" + body


def assert_writable(m: Message) -> None:
    """Every str of the record encodes as UTF-8, its JSON can be written, and the
    cache's encoding gives it back."""
    for text in strings(m):
        text.encode("utf-8")
    json.dumps(m.to_dict(), ensure_ascii=False).encode("utf-8")
    assert _codec.decode(_codec.encode(m)) == m


def assert_kept(m: Message, *problems: str) -> None:
    """The mail is not lost: ids, sender and date are there, and the problems say why."""
    assert not any(p.startswith("unparsable:") for p in m.problems), m.problems
    assert m.msgid == "m1@example.org"
    assert m.sender is not None and m.sender.email == "ann@example.org"
    assert m.date is not None and m.date.year == 2024
    for problem in problems:
        assert problem in m.problems, (problem, m.problems)
    assert_writable(m)


def _clear_memos() -> None:
    for module in (identity, subject):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def cpu(fn: Callable[[Any], object], arg: Any, runs: int = 3) -> float:
    """Least CPU time of ``runs`` calls, memoised readers emptied before each, the
    garbage collector paused: its pauses grow with whatever else the test process
    holds (the corpora's parsed messages), not with this input."""
    best = float("inf")
    for _ in range(runs):
        _clear_memos()
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            fn(arg)
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return best


def assert_linear(fn: Callable[[Any], object], make: Callable[[int], Any], size: int) -> None:
    """Doubling the input at most ~2.5x the CPU time, checked over two doublings (4x the
    input within 2.5² = 6.25x the CPU, or under 20 ms): a quadratic reader gives 16x,
    and one busy moment on a shared machine cannot pass for it."""
    cpu(fn, make(size // 4), runs=1)  # warm up
    small, large = cpu(fn, make(size)), cpu(fn, make(4 * size))
    if large > max(6.25 * small, 0.020):  # a busy machine can stretch one run: measure again
        small, large = min(small, cpu(fn, make(size), runs=5)), min(large, cpu(fn, make(4 * size), runs=5))
    assert large <= max(6.25 * small, 0.020), f"{small * 1000:.1f} ms -> {large * 1000:.1f} ms"


# --- the campaign's reproducers, when present -------------------------------------------------

REPRODUCERS = sorted(HOSTILE.glob("*/*.eml")) if HOSTILE.is_dir() else []


@pytest.mark.skipif(not REPRODUCERS, reason=f"no hostile reproducers in {HOSTILE}")
@pytest.mark.parametrize("path", REPRODUCERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_reproducer_is_read_fast_and_kept(path: Path) -> None:
    data = path.read_bytes()
    start = time.process_time()
    m = parse_message(data)
    spent = time.process_time() - start
    assert spent < 0.5, f"{spent:.2f} s of CPU"  # 0.6 s to 64 s before issue 19
    assert not any(p.startswith("unparsable:") for p in m.problems), m.problems
    header = data.split(b"\n\n", 1)[0]
    if re.search(rb"(?mi)^message-id:[ \t]*<[^>\n]+>", header):
        assert m.msgid
    if re.search(rb"(?mi)^date:[ \t]*\w", header):
        assert m.date is not None
    assert_writable(m)


# --- one bad header (or body charset) never loses the mail -------------------------------------


@pytest.mark.parametrize(
    "charset", [b"hex", b"rot13", b"base64", b"zlib", b"bz2", b"uu", b"undefined", b"punycode", b"unicode_escape", b"klingon"]
)
def test_a_charset_that_is_no_text_encoding_is_an_unknown_charset(charset: bytes) -> None:
    m = parse_message(mail(b"Content-Type: text/plain; charset=" + charset + b"\n"))
    assert_kept(m, "unknown-charset")
    assert m.kind == "patch" and m.diffstat is not None and m.diffstat.files[0].path == "f"


@pytest.mark.parametrize(
    "subject, problem",
    [
        (b"=?undefined?q?abc?= x", "bad-encoded-word:subject"),
        (b"=?idna?q?xn--?= x", "bad-encoded-word:subject"),
        (b"=?punycode?q?abc-?= x", "bad-encoded-word:subject"),
        (b"=?hex?B?YWJj?= x", "bad-encoded-word:subject"),
        (b"=?utf-8?b?Q?= x", "bad-encoded-word:subject"),  # base64 that cannot be padded right
        (b"=?undefined?b?YWJj?= =?utf-8?b?QQ?=", "bad-encoded-word:subject"),
        (b"=?UTF-8\xae?B?UmU6?= x", "header-not-utf8"),  # a charset name that is not ASCII
        (b"=?utf-7?q?+2AA-?= x", "lone-surrogate:subject"),
        (b"=?unicode_escape?q?=5Cud800?= x", "bad-encoded-word:subject"),
    ],
)
def test_a_bad_encoded_word_costs_that_word(subject: bytes, problem: str) -> None:
    head = HEAD.replace(b"Subject: [PATCH] fix the frobnicator", b"Subject: " + subject)
    m = parse_message(mail(head=head))
    assert_kept(m, problem)
    assert m.subject.raw.endswith(("x", "A"))


def test_bad_encoded_words_in_names_keep_the_addresses() -> None:
    head = HEAD.replace(
        b"From: Ann Example <ann@example.org>",
        b"From: =?hex?B?YWJj?= =?utf-8??abc?= =?utf-16?B?2AA=?= =?undefined?Q?abc?= <ann@example.org>",
    )
    m = parse_message(mail(b"Cc: =?idna?Q?xn--?= <bob@example.org>, =?utf-7?q?+2AA-?= <eve@example.org>\n", head=head))
    assert_kept(m, "bad-encoded-word:from", "bad-encoded-word:cc", "lone-surrogate:cc")
    assert [p.email for p in m.cc] == ["bob@example.org", "eve@example.org"]


@pytest.mark.parametrize(
    "header, problem",
    [
        (b"To: " + b"Fwd: <a@b.org>" * 1000, "bad-address-list:to"),  # getaddresses: RecursionError
        (b"Cc: a@b.org " + b"(" * 2000, "bad-address-list:cc"),
        (b"Cc: " + b"@" * 80_000, "header-truncated:cc"),  # RFC 822 groups: 2.4 s before
        (b"Cc: <" + b"a@" * 50_000, "header-truncated:cc"),  # 22 s before
    ],
)
def test_an_address_list_the_standard_library_cannot_read(header: bytes, problem: str) -> None:
    m = parse_message(mail(header + b"\n"))
    assert_kept(m, problem)


def test_the_standard_library_reads_odd_items_on_a_budget() -> None:
    """Groups and stray comments go to getaddresses up to a budget per mail; what is
    over it is read as bare addresses and flagged — the same whatever was memoised."""
    groups = b", ".join(b"g%d: a%d@b.org;" % (i, i) for i in range(2000))
    m = parse_message(mail(b"Cc: " + groups + b"\n"))
    assert_kept(m, "bad-address-list:cc")
    assert [p.email for p in m.cc] == [f"a{i}@b.org" for i in range(2000)]
    again = parse_message(mail(b"Cc: " + groups + b"\n"))
    assert again == m
    small = parse_message(mail(b"Cc: team: a@b.org, c@d.org;\n"))
    assert [p.email for p in small.cc] == ["a@b.org", "c@d.org"] and not small.problems


def test_a_megabyte_of_encoded_words_is_cut() -> None:
    words = b"=?utf-8?q?a?=" * 200_000  # 2.6 MB: 89 s before
    head = HEAD.replace(b"Subject: [PATCH] fix the frobnicator", b"Subject: " + words)
    start = time.process_time()
    m = parse_message(mail(head=head))
    assert time.process_time() - start < 1.0
    assert_kept(m, "header-truncated:subject")
    assert m.subject.raw.startswith("aaaa") and len(m.subject.raw) <= MAX_HEADER


def test_utf7_body_is_written_with_replacement_characters() -> None:
    m = parse_message(mail(b"Content-Type: text/plain; charset=utf-7\n", body=b"hi +2AA- there\n"))
    assert_kept(m, "lone-surrogate")
    assert "\ufffd" in m.body


def test_quoted_diff_paths_that_are_not_utf8() -> None:
    body = b'x\n---\ndiff --git "a/\\377\\300" "b/\\377\\300"\n--- "a/\\377\\300"\n+++ "b/\\377\\300"\n@@ -1 +1 @@\n-a\n+b\n'
    m = parse_message(mail(body=body))
    assert_kept(m)
    assert m.diffstat is not None and "\ufffd" in m.diffstat.files[0].path


def test_deep_mime_nesting_is_cut_and_fast() -> None:
    depth = 700
    body = b"--z0\nContent-Type: multipart/mixed; boundary=z1\n\n"
    body += b"".join(b"--z%d\nContent-Type: multipart/mixed; boundary=z%d\n\n" % (i, i + 1) for i in range(1, depth))
    body += b"--z%d\n\nhi\n" % depth + b"".join(b"--z%d--\n" % i for i in range(depth, -1, -1))
    start = time.process_time()
    m = parse_message(mail(b"Content-Type: multipart/mixed; boundary=z0\n", body=body))
    assert time.process_time() - start < 0.5  # 0.3 s for 34 KB, 0.7 s for 68 KB before
    assert_kept(m, "mime-truncated")


def test_forwarded_mails_inside_forwarded_mails() -> None:
    body = b"Content-Type: message/rfc822\n\n" * 2000 + b"hi\n"
    m = parse_message(mail(b"Content-Type: message/rfc822\n", body=body))
    assert_kept(m, "mime-truncated")


# --- Message-IDs -----------------------------------------------------------------------------------


def test_nested_brackets_take_the_whole_bracketed_id() -> None:
    """``<p1<script>…@evil>`` is the whole bracketed text, ``<``/``>`` counted as they
    nest: public-inbox's ``<([^>]+)>`` read it as ``p1<script``, which every id of
    that shape shares."""
    head = HEAD.replace(b"<m1@example.org>", b"<p1<script>alert(1)</script>@evil>")
    extra = b"In-Reply-To: <x<victim@host>>\nReferences: <cover\"><img src=x>@evil> <a@b> <<c@d>\n"
    m = parse_message(mail(extra, head=head))
    assert m.msgid == "p1<script>alert(1)</script>@evil"
    assert m.in_reply_to == "x<victim@host>"
    assert m.references == ('cover"', "img src=x", "a@b", "<c@d")


def test_ids_of_the_nested_shape_do_not_collide() -> None:
    ids = [parse_message(mail(head=HEAD.replace(b"<m1@example.org>", b"<p1<script>%d@evil>" % i))).msgid for i in range(3)]
    assert len(set(ids)) == 3 and ids[0] == "p1<script>0@evil"
    reply = parse_message(mail(b"In-Reply-To: <p1<script>1@evil>\nReferences: <p1<script>0@evil> <p1<script>1@evil>\n"))
    assert reply.in_reply_to == ids[1]
    assert reply.references == (ids[0], ids[1])


@pytest.mark.parametrize(
    "value, ids",
    [
        ("<a<b>c> <d@e>", ["a<b>c", "d@e"]),
        ("<a<b@c> <d@e>", ["a<b@c> <d@e"]),  # unbalanced: from its "<" to the last ">"
        ("<<x>", ["<x"]),
        ("<a@b>> <c@d>", ["a@b", "c@d"]),  # a stray ">" ends nothing
        ("<> <a@b>", ["a@b"]),
        ("junk <a@b> more <c@d> tail", ["a@b", "c@d"]),
        ("<a@b", []),
        ("", []),
    ],
)
def test_nesting_rule(value: str, ids: list[str]) -> None:
    assert message_ids(value) == ids


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="<>a@ \n", max_size=40))
def test_ids_without_nesting_read_as_public_inboxs(value: str) -> None:
    """Where no id holds a ``<`` (every id of the corpora), the ids are public-inbox's."""
    old = re.findall(r"<([^>]+)>", value)
    if not any("<" in found for found in old):
        assert message_ids(value) == old


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.text(alphabet="<>a@.", min_size=1, max_size=8), max_size=6))
def test_balanced_ids_read_back_whole(parts: list[str]) -> None:
    """Any id whose brackets balance (as every depth counts) is read back as written."""
    ids = [p for p in parts if _balanced(p)]
    assert message_ids(" ".join(f"<{i}>" for i in ids)) == ids


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "<") - (ch == ">")
        if depth < 0:
            return False
    return depth == 0


# --- linear time: doubling the input at most doubles the CPU ----------------------------------------


@pytest.mark.parametrize(
    "fn, make, size",
    [
        (parse_people, lambda n: "<" + "a@" * (n // 2), 4096),  # _ANGLE backtracking: 22 s at 100 KB
        (parse_person, lambda n: "<" + "a@" * (n // 2), 4096),
        (parse_people, lambda n: "<" * n + ">", 131072),  # the comma-in-angle search
        (parse_people, lambda n: "@" * n, 131072),  # groups, over the budget
        (parse_people, lambda n: ", ".join(f"g{i}: a@b;" for i in range(n // 10)), 65536),
        (message_ids, lambda n: "<" * n, 262144),
        (message_ids, lambda n: "<" * n + ">", 262144),
        (message_ids, lambda n: "<a<b>" * (n // 5) + ">", 262144),
        (message_ids, lambda n: "<a@b> " * (n // 6), 262144),
        (_mime._as_stdlib, lambda n: "=?utf-8?q?a?=" * (n // 13), 262144),  # decode_header's joins
        (_mime._as_stdlib, lambda n: "=?utf-8?q?a?= =?utf8?q?b?= x " * (n // 30), 262144),
        (_mime._as_stdlib, lambda n: "=?utf-8?q?a" * (n // 11), 262144),  # the lazy .*? of ecre
        (lambda t: _mime.unflow(t, False), lambda n: "a \n" * (n // 3), 262144),
        (lambda t: _mime.unflow(t, False), lambda n: ">a \n" * (n // 4), 262144),
        (lambda t: find_reply_trailers(t), lambda n: "Reviewed-by: A (" + "\n x" * (n // 3), 131072),
        (lambda t: find_reply_trailers(t), lambda n: "Reviewed-by: A <a@b.c>\n" + "---\nFixes: abcdef1\n" * (n // 18), 131072),
        (lambda t: parse_trailers(t), lambda n: "a\n" * (n // 2) + "\nSigned-off-by: A <a@b.c>\n", 262144),
    ],
)
def test_linear(fn: Callable[[Any], object], make: Callable[[int], Any], size: int) -> None:
    assert_linear(fn, make, size)


@pytest.mark.parametrize(
    "make",
    [
        lambda n: mail(b"", body=b"From: A <a@b.c>\n" + b" x\n" * (n // 3) + b"\n" + PATCH),  # in-body folding
        lambda n: mail(b"Content-Type: text/plain; charset=punycode\n", body=b"a-" + b"9" * n),
        lambda n: mail(b"Content-Type: multipart/mixed; boundary=zz\n", body=b"--zz\nContent-Type: text/plain\n\na\n" * (n // 34)),
        lambda n: mail(b"Content-Type: multipart/mixed; boundary=zz\n", body=b"--zz\n" * (n // 5) + b"--zz--\n"),
        lambda n: mail(b"Content-Transfer-Encoding: base64\n", body=base64.encodebytes(PATCH * (n // len(PATCH)))),
    ],
)
def test_linear_mails(make: Callable[[int], bytes]) -> None:
    assert_linear(parse_message, make, 262144)


# --- every record is writable ----------------------------------------------------------------------

_CHARSETS = ["utf-7", "unicode_escape", "raw_unicode_escape", "utf-16", "hex", "idna", "latin-1", "x-unknown"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_CHARSETS), st.sampled_from(_CHARSETS),
    st.binary(max_size=40), st.text(alphabet="+2AA-\\ud80=?_", max_size=20),
)
def test_every_record_is_writable(body_charset: str, word_charset: str, body: bytes, word: str) -> None:
    subject_line = f"Subject: =?{word_charset}?q?{word}?= [PATCH] x\n".encode("utf-8", "surrogateescape")
    head = HEAD.replace(b"Subject: [PATCH] fix the frobnicator\n", subject_line)
    extra = f"Content-Type: text/plain; charset={body_charset}\n".encode()
    m = parse_message(mail(extra, body=body + b"\n" + PATCH, head=head))
    assert_kept(m)
