"""The fast MIME path against the standard library's parser, on real mail."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

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


def test_flowed_lines_never_join_across_quote_depths() -> None:
    # a reviewer's trailer right under a quoted flowed line (Thunderbird, linux-pwm)
    from patchtrack._mime import unflow

    text = "> a quoted \n> paragraph\n>   \nReviewed-by: Rita Fitz <rf@cirrus.test>\n\nmy own \nwords\n"
    assert unflow(text, delsp=False) == (
        "> a quoted paragraph\n>   \nReviewed-by: Rita Fitz <rf@cirrus.test>\n\nmy own words\n"
    )
