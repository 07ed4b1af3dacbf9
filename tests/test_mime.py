"""The fast MIME path against the standard library's parser, on real mail."""

from __future__ import annotations

import email
import email.policy
import itertools
from pathlib import Path

import pygit2
import pytest
from email.header import decode_header, ecre, make_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patchtrack import _mime


def both(raw: bytes) -> tuple[str | None, str]:
    """(fast path text or None when it declines, standard-library text) of a mail."""
    head, body = _mime._split_at_blank_line(raw)
    headers = _mime._read_headers(head, [])
    _, params = _mime.content_type(_mime.first(headers, "content-type"))
    fast = _mime._fast_multipart(body or b"", params, [])
    return (None if fast is None else _mime._join(fast)), _mime._stdlib_multipart_text(raw, [])


def test_signed_mail_with_attachment() -> None:
    raw = (
        b'Content-Type: multipart/signed; micalg=pgp-sha512; protocol="application/pgp-signature"; boundary="sig"\n\n'
        b"--sig\nContent-Type: multipart/mixed; boundary=inner\n\n"
        b"preamble\n--inner\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        b"Ren=C3=A9 says hi\n--inner\nContent-Type: application/octet-stream; name=x.patch\nContent-Transfer-Encoding: base64\n\n"
        b"ZGlmZiAtLWdpdCBhL3ggYi94Cg==\n--inner--\n\n--sig\nContent-Type: application/pgp-signature\n\nSIG\n--sig--\n"
    )
    fast, slow = both(raw)
    assert fast == slow == "René says hi\ndiff --git a/x b/x\n"


def test_unusual_structure_falls_back() -> None:
    no_close = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\n"
    assert both(no_close)[0] is None
    assert _mime.split_mail(no_close).body == both(no_close)[1]


@pytest.mark.corpus
def test_fast_path_equals_standard_library_on_every_multipart_mail(corpus_repo: Path) -> None:
    repo = pygit2.Repository(str(corpus_repo))
    seen = declined = 0
    for commit in repo.walk(repo.head.target):
        raw = commit.tree["m"].data
        head = raw[: raw.find(b"\n\n")].lower()
        if b"multipart/" not in head:
            continue
        fast, slow = both(raw)
        seen += 1
        if fast is None:
            declined += 1
            continue
        assert fast == slow, commit.tree["m"].id
    assert seen == 0 or declined / seen < 0.05


def stdlib_split(raw: bytes) -> tuple[dict[str, list[str]], str | None]:
    """The headers patchtrack reads and, for a single-part mail, the decoded body
    text, both through the standard library's parser alone."""
    if raw.startswith(b"From ") and b"\n" in raw:
        raw = raw[raw.index(b"\n") + 1 :]
    msg = email.message_from_bytes(raw.replace(b"\0", b""), policy=email.policy.compat32)
    headers = {}
    for name in _mime.WANTED:
        values = msg.get_all(name)
        if values:
            headers[name] = [" ".join(str(v).split()) for v in values]
    ctype = _mime.content_type(" ".join(str(msg.get("content-type", "")).split()))[0]
    if ctype.startswith("multipart/") or ctype == "message/rfc822":  # the test above has these
        return headers, None
    text = _mime.decode_charset(msg.get_payload(decode=True) or b"", msg.get_content_charset(), [])
    if (msg.get_param("format") or "").lower() == "flowed":
        text = _mime.unflow(text, (msg.get_param("delsp") or "").lower() == "yes")
    return headers, text


def test_blank_line_split_matches_the_plain_rule_on_every_short_text() -> None:
    """The one-regex split gives what "first CRLF blank line if before the first LF
    one, else the LF one, else LF-CRLF" gives, for every text of a, LF and CR up to 9."""

    def plain(raw: bytes) -> tuple[bytes, bytes | None]:
        lf, crlf, mixed = raw.find(b"\n\n"), raw.find(b"\r\n\r\n"), raw.find(b"\n\r\n")
        if crlf != -1 and (lf == -1 or crlf < lf):
            return raw[:crlf], raw[crlf + 4 :]
        if lf != -1:
            return raw[:lf], raw[lf + 2 :]
        return (raw[:mixed], raw[mixed + 3 :]) if mixed != -1 else (raw, None)

    for length in range(10):
        for letters in itertools.product((b"a", b"\n", b"\r"), repeat=length):
            raw = b"".join(letters)
            assert _mime._split_at_blank_line(raw) == plain(raw), raw


@pytest.mark.corpus
def test_fast_headers_and_bodies_equal_standard_library_on_every_mail(corpus_repo: Path) -> None:
    """Issue 6's proof for the fast path: the headers read by one regex and the
    single-part bodies decoded by hand are the standard library's, on every mail."""
    repo = pygit2.Repository(str(corpus_repo))
    single = 0
    for commit in repo.walk(repo.head.target):
        if "m" not in commit.tree:
            continue
        raw = commit.tree["m"].data
        parts = _mime.split_mail(raw)
        headers, text = stdlib_split(raw)
        oid = commit.tree["m"].id
        assert parts.headers == headers, oid
        if text is not None:
            single += 1
            assert parts.body == text, oid
    assert single > 0


def test_flowed_lines_never_join_across_quote_depths() -> None:
    # a reviewer's trailer right under a quoted flowed line (Thunderbird, linux-pwm)
    from patchtrack._mime import unflow

    text = "> a quoted \n> paragraph\n>   \nReviewed-by: Rita Fitz <rf@cirrus.test>\n\nmy own \nwords\n"
    assert unflow(text, delsp=False) == (
        "> a quoted paragraph\n>   \nReviewed-by: Rita Fitz <rf@cirrus.test>\n\nmy own words\n"
    )


_WORD_PIECES = [
    "=?utf-8?q?a?=", "=?UTF-8?B?w6k=?=", "=?iso-8859-1?q?=E9?=", "=?utf8?q?b?=", "=?us-ascii?q?c?=",
    "=?unknown-8bit?q?=E9?=", "=?hex?q?61?=", "=?utf-8?q?=C3?=", "=?utf-8?b?QQ?=", "=?utf-8?b?Q?=",
    "=?euc-jp?b?pKI=?=", "=?gb2312?b?1tA=?=", "=?utf-8?q?_?=", "=?utf-8?q? ?=", "=?", "?=", "?q?", "?b?",
    " ", "  ", "\t", "\n", "\r", "\x85", "\u2028", "(", ")", "\\", "é", "Ω", "a", "=", "?", "_", "=?x\n?q?a?=",
]


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(st.sampled_from(_WORD_PIECES), st.text(max_size=3)), max_size=12).map("".join))
def test_encoded_words_are_read_as_the_standard_library_reads_them(text: str) -> None:
    """Where ``str(make_header(decode_header(text)))`` succeeds, the linear reader gives
    the same text; where it raises, the reader says so (None) and words are decoded
    one by one instead."""
    try:
        theirs: str | None = str(make_header(decode_header(text)))
    except Exception:  # noqa: BLE001 - the standard library raises many kinds here
        theirs = None
    assert _mime._has_word(text) == bool(ecre.search(text))
    ours = _mime._as_stdlib(text)
    assert ours == theirs
    decoded, problems = _mime.decode_words(text)
    assert set(problems) <= {"bad-encoded-word", "lone-surrogate"}
    decoded.encode("utf-8")


def test_broken_base64_past_the_line_budget_is_decoded_at_once() -> None:
    import base64
    import os
    import time

    from patchtrack._mime import MAX_LENIENT_LINES, _lenient_base64

    raw = os.urandom(3 * 60_000)
    encoded = base64.b64encode(raw)
    lines = [encoded[i : i + 8] for i in range(0, len(encoded), 8)]  # 30,000 short lines
    assert len(lines) > MAX_LENIENT_LINES
    broken = b"\n".join(lines) + b"\n!!\n"  # not base64 as a whole: the lenient path
    assert _lenient_base64(broken) == raw  # the lines past the budget read as the rest
    tiny = b"\n".join([b"QUJD", b"@@@", b"REVG"] * 100_000)  # 300,000 lines, a third broken
    start = time.process_time()
    assert _lenient_base64(tiny).startswith(b"ABCDEF")
    assert time.process_time() - start < 0.15  # line by line: 0.3 s; now ~0.03 s
