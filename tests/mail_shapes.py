"""Hostile mail shapes for the parser: a megabyte of one kind of line, as a whole mail.

Each shape is a function of a size ``n`` (bytes) that returns a mail of about that
size whose body (or header block) is one short line shape repeated: the inputs that
cost the most per byte, since every reader pays per line (a megabyte of two-byte lines
is 500,000 lines). They are what the issue-19 bound (a mail of at most 1 MB parses in
at most 100 ms of CPU) was checked against: ``tests/test_hostile.py`` asserts each
costs at most a few times what a megabyte of ordinary mail costs, and
``benchmarks/bench_hostile.py`` prints their CPU time at 1 MB.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HEAD", "REPLY_HEAD", "PATCH", "SHAPES", "fill", "patch_mail", "reply_mail", "ordinary"]

HEAD = (
    b"From: Ann Example <ann@example.org>\nSubject: [PATCH] fix the frobnicator\n"
    b"Message-ID: <m1@example.org>\nDate: Mon, 01 Jan 2024 10:00:00 +0000\n"
)
REPLY_HEAD = HEAD.replace(b"Subject: [PATCH]", b"Subject: Re: [PATCH]")
DIFF = b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
PATCH = b"body\n\nSigned-off-by: Ann Example <ann@example.org>\n---\n" + DIFF


def fill(unit: bytes, n: int) -> bytes:
    """``unit`` repeated to ``n`` bytes less 1 KiB (at least once): the headers and
    the rest of the mail around it keep the mail within ``n`` bytes."""
    return unit * max(1, (n - 1024) // len(unit))


def patch_mail(body: bytes, extra: bytes = b"") -> bytes:
    return HEAD + extra + b"\n" + body


def reply_mail(body: bytes, extra: bytes = b"") -> bytes:
    return REPLY_HEAD + extra + b"\n" + body


def _message(lines: bytes) -> bytes:
    """A patch whose commit message is ``lines``, then a small diff."""
    return patch_mail(b"fix it\n\n" + lines + b"\n---\n" + DIFF)


def _notes(lines: bytes) -> bytes:
    """A patch with ``lines`` between ``---`` and the diff."""
    return patch_mail(b"fix it\n\nSigned-off-by: A <a@b.c>\n---\n" + lines + DIFF)


def _diff(lines: bytes) -> bytes:
    return patch_mail(b"fix it\n\nSigned-off-by: A <a@b.c>\n---\n" + lines)


def _mime(lines: bytes, ctype: bytes = b"multipart/mixed; boundary=zz") -> bytes:
    return patch_mail(lines, b"Content-Type: " + ctype + b"\n")


def _subject(value: bytes) -> bytes:
    return HEAD.replace(b"[PATCH] fix the frobnicator", value) + b"\n" + PATCH


Shape = Callable[[int], bytes]

SHAPES: dict[str, Shape] = {
    # --- headers
    "header-cc-lines": lambda n: patch_mail(PATCH, fill(b"Cc: a@b\n", n)),
    "header-to-lines": lambda n: patch_mail(PATCH, fill(b"To: A <a@b.c>\n", n)),
    "header-received-lines": lambda n: patch_mail(PATCH, fill(b"Received: x\n", n)),
    "header-unknown-lines": lambda n: patch_mail(PATCH, fill(b"X: y\n", n)),
    "header-continuations": lambda n: patch_mail(PATCH, b"Cc: a@b.c\n" + fill(b" c\n", n)),
    "header-references-lines": lambda n: patch_mail(PATCH, fill(b"References: <a@b>\n", n)),
    "header-content-type-params": lambda n: patch_mail(PATCH, b"Content-Type: text/plain" + fill(b"; a=b", n) + b"\n"),
    "subject-brackets-words": lambda n: _subject(b"[" + fill(b"a ", min(n, 1 << 16)) + b"] x"),
    "subject-bracket-groups": lambda n: _subject(fill(b"[a]", min(n, 1 << 16)) + b" x"),
    "subject-re-run": lambda n: _subject(fill(b"Re: ", min(n, 1 << 16)) + b"x"),
    # --- MIME and body encodings
    "mime-boundaries": lambda n: _mime(fill(b"--zz\n", n) + b"--zz--\n"),
    "mime-boundaries-unclosed": lambda n: _mime(fill(b"--zz\n", n)),
    "mime-boundary-like": lambda n: _mime(b"--zz\n\nhi\n" + fill(b"--zzz\n", n) + b"--zz--\n"),
    "mime-parts": lambda n: _mime(fill(b"--zz\nContent-Type: text/plain\n\na\n", n) + b"--zz--\n"),
    "mime-part-header-lines": lambda n: _mime(b"--zz\n" + fill(b"X: y\n", n) + b"\na\n--zz--\n"),
    "mime-forwarded": lambda n: patch_mail(fill(b"Content-Type: message/rfc822\n\n", n) + b"hi\n", b"Content-Type: message/rfc822\n"),
    "mime-part-short-lines": lambda n: _mime(b"--zz\nContent-Type: text/plain\n\n" + fill(b"a\n", n) + b"--zz--\n"),
    "flowed": lambda n: patch_mail(fill(b"a \n", n), b"Content-Type: text/plain; format=flowed\n"),
    "flowed-quoted": lambda n: patch_mail(fill(b">a \n", n), b"Content-Type: text/plain; format=flowed\n"),
    "flowed-short-lines": lambda n: patch_mail(fill(b"a\n", n), b"Content-Type: text/plain; format=flowed\n"),
    "latin1-short-lines": lambda n: patch_mail(fill(b"\xe9\n", n) + PATCH, b"Content-Type: text/plain; charset=iso-8859-1\n"),
    "utf8-undeclared-short-lines": lambda n: patch_mail(fill(b"\xe9\n", n) + PATCH),
    "base64-short-lines": lambda n: patch_mail(fill(b"YQo=\n", n), b"Content-Transfer-Encoding: base64\n"),
    "qp-soft-breaks": lambda n: patch_mail(fill(b"a=\n", n) + b"\n" + PATCH, b"Content-Transfer-Encoding: quoted-printable\n"),
    "crlf-short-lines": lambda n: patch_mail(fill(b"a\r\n", n) + PATCH.replace(b"\n", b"\r\n")),
    "nul-bytes": lambda n: patch_mail(fill(b"\0", n) + PATCH),
    "one-long-line": lambda n: patch_mail(fill(b"a", n) + b"\n" + PATCH),
    # --- in-body headers
    "inbody-from-lines": lambda n: patch_mail(fill(b"From: A <a@b.c>\n", n) + b"\n" + PATCH),
    "inbody-continuations": lambda n: patch_mail(b"From: A <a@b.c>\n" + fill(b" x\n", n) + b"\n" + PATCH),
    "inbody-blank-lines": lambda n: patch_mail(fill(b"\n", n) + b"From: A <a@b.c>\n\n" + PATCH),
    # --- commit message and its trailers
    "message-short-lines": lambda n: _message(fill(b"a\n", n) + b"\nSigned-off-by: A <a@b.c>\n"),
    "message-blank-lines": lambda n: _message(fill(b"\n", n) + b"Signed-off-by: A <a@b.c>\n"),
    "message-trailers": lambda n: _message(fill(b"Signed-off-by: A <a@b>\n", n)),
    "message-trailer-lines": lambda n: _message(fill(b"a: b\n", n)),
    "message-trailer-continuations": lambda n: _message(b"Signed-off-by: A <a@b>\n" + fill(b" c\n", n)),
    "message-comment-lines": lambda n: _message(b"Signed-off-by: A <a@b>\n" + fill(b"#\n", n)),
    "message-conflicts": lambda n: _message(b"Signed-off-by: A <a@b>\nConflicts:\n" + fill(b"\tf\n", n)),
    "message-mixed-paragraph": lambda n: _message(b"Signed-off-by: A <a@b>\n" + fill(b"a\nb: c\n", n)),
    # --- trailers in a reply
    "reply-dashes": lambda n: reply_mail(b"Reviewed-by: A <a@b>\n" + fill(b"---\nFixes: abcdef1\n", n)),
    "reply-trailers": lambda n: reply_mail(fill(b"Reviewed-by: A <a@b.c>\n", n)),
    "reply-key-lines": lambda n: reply_mail(fill(b"Reviewed-by: a\n", n)),
    "reply-trailers-quoted": lambda n: reply_mail(fill(b"> q\nReviewed-by: A <a@b.c>\n", n)),
    "reply-short-lines": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n" + fill(b"a\n", n) + b"Acked-by: B <b@c.d>\n"),
    "reply-quoted-lines": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n" + fill(b"> a\n", n) + b"Acked-by: B <b@c.d>\n"),
    "reply-blank-lines": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n" + fill(b"\n", n) + b"Acked-by: B <b@c.d>\n"),
    "reply-wrapped": lambda n: reply_mail(b"Reviewed-by: A (" + fill(b"\n x", n) + b"\n"),
    "reply-scissors": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n" + fill(b"-- >8 --\n", n)),
    "reply-indented": lambda n: reply_mail(fill(b" Reviewed-by: A <a@b.c>\n", n)),
    "reply-diff-lines": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n" + fill(b"diff --git a\n---\n", n)),
    "reply-robot": lambda n: reply_mail(fill(b"kindly add following tag\nReported-by: A <a@b.c>\n", n)),
    "reply-attributions": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n" + fill(b"> a\nX wrote:\n", n)),
    # --- one long line (a run of junk inserted into a line)
    "reply-long-trailer-value": lambda n: reply_mail(b"Acked-by: A <a@" + fill(b"x", n) + b".org>\n"),
    "reply-long-line": lambda n: reply_mail(b"Reviewed-by: A <a@b.c>\n\n" + fill(b"x", n) + b"\n"),
    "message-trailer-many-addresses": lambda n: _message(b"Signed-off-by: A <a@b.c>" + fill(b" d@e.f", n) + b"\n"),
    "inbody-blank-lines-then-text": lambda n: patch_mail(fill(b"\n", n) + b"x\n" + PATCH),
    # --- notes (between --- and the diff)
    "notes-diffstat-lines": lambda n: _notes(fill(b" f | 1 +\n", n)),
    "notes-short-lines": lambda n: _notes(fill(b"a\n", n)),
    "notes-base-commit": lambda n: _notes(fill(b"base-commit: 0123456789abcdef\n", n)),
    "notes-prerequisites": lambda n: _notes(fill(b"prerequisite-patch-id: 0123456789abcdef\n", n)),
    "notes-change-ids": lambda n: _notes(fill(b"change-id: 20240101-x\n", n)),
    # --- diffs
    "diff-plain-files": lambda n: _diff(fill(DIFF, n)),
    "diff-plain-hunks": lambda n: _diff(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n" + fill(b"@@ -1 +1 @@\n-a\n+b\n", n)),
    "diff-plain-lines": lambda n: _diff(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,%d +1 @@\n" % (n // 3) + fill(b"-a\n", n) + b"+b\n"),
    "diff-git-miscounted": lambda n: _diff(fill(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n-a\n+b\n", n)),
    "diff-traditional": lambda n: _diff(fill(b"--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n", n)),
    "diff-traditional-miscounted": lambda n: _diff(fill(b"--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n-a\n+b\n", n)),
    "diff-traditional-hunks": lambda n: _diff(b"--- a/f\n+++ b/f\n" + fill(b"@@ -1 +1 @@\n-a\n+b\n", n)),
    "diff-renames": lambda n: _diff(fill(b"diff --git a/f b/g\nsimilarity index 90%\nrename from f\nrename to g\n", n)),
    "diff-binary": lambda n: _diff(fill(b"diff --git a/f b/f\nindex 1..2\nBinary files a/f and b/f differ\n", n)),
    "diff-bare-git-lines": lambda n: _diff(fill(b"diff --git a/f b/f\n", n)),
    "diff-index-lines": lambda n: _diff(b"diff --git a/f b/f\n" + fill(b"index 1..2\n", n)),
    "diff-mode-lines": lambda n: _diff(fill(b"diff --git a/f b/f\nold mode 100644\nnew mode 100755\n", n)),
    "diff-huge-hunk-context": lambda n: _diff(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,999999999 +1,999999999 @@\n" + fill(b" a\n", n)),
    "diff-huge-hunk-traditional": lambda n: _diff(b"--- a/f\n+++ b/f\n@@ -1,999999999 +1,999999999 @@\n" + fill(b" a\n", n)),
    "diff-hunk-headers": lambda n: _diff(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n" + fill(b"@@ -1 +1 @@\n", n)),
    "diff-no-newline-notes": lambda n: _diff(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n" + fill(b"\\ No newline at end of file\n", n)),
    "diff-blank-context": lambda n: _diff(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1,%d +1,%d @@\n" % (n, n) + fill(b"\n", n)),
    "diff-junk-after": lambda n: _diff(DIFF + fill(b"a\n", n)),
    "diff-index-colon-lines": lambda n: _diff(fill(b"Index: f\n", n)),
    "diff-commit-lines": lambda n: _diff(fill(b"diff --git a/f b/f\nFrom 0123456789012345678901234567890123456789 x\n", n)),
    "diff-crlf": lambda n: _diff(fill(DIFF.replace(b"\n", b"\r\n"), n)),
    "diff-quoted-names": lambda n: _diff(fill(b'diff --git "a/\\377" "b/\\377"\n--- "a/\\377"\n+++ "b/\\377"\n@@ -1 +1 @@\n-a\n+b\n', n)),
    "diff-cc": lambda n: _diff(fill(b"diff --cc f\n--- a/f\n+++ b/f\n@@@ -1 -1 +1 @@@\n- a\n +b\n", n)),
    "diff-dashes": lambda n: _diff(fill(b"---\n", n)),
    "diff-short-lines": lambda n: _diff(b"diff --git a/f b/f\n" + fill(b"a\n", n)),
}


def ordinary(mails: list[bytes], n: int) -> list[bytes]:
    """About ``n`` bytes of ordinary mail: the given mails, cycled."""
    out: list[bytes] = []
    size = 0
    while size < n and mails:
        for data in mails:
            out.append(data)
            size += len(data)
            if size >= n:
                break
    return out
