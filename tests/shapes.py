"""Hostile mail shapes for assembly, built as :class:`~patchtrack.Message` records.

Each shape is a few kinds of mail repeated ``n`` times: a reply chain ``n`` deep, rings
of ``In-Reply-To``/``References`` loops, one series of ``n`` patches each posted in
reply to the previous one, ``n`` revisions of one title. They are what made assembly
super-linear (issue 19); ``tests/test_assembly_shapes.py`` checks their results and
that their cost grows linearly, ``benchmarks/bench_shapes.py`` times them.

The records are made directly (parsing ``n`` mails would cost more than assembling
them): they carry what threading, grouping and revision linking read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from patchtrack import Message
from patchtrack.identity import Person
from patchtrack.subject import parse_subject
from patchtrack.trailers import Trailer

__all__ = ["ALICE", "BOB", "START", "mail", "deep_chain", "rings", "singles", "chained_patches", "revisions", "SHAPES"]

ALICE = Person("Alice Maintainer", "alice@example.org")
BOB = Person("Bob Reviewer", "bob@example.org")
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
REVIEW = Trailer("Reviewed-by", str(BOB), BOB, None, f"Reviewed-by: {BOB}")


def mail(
    msgid: str,
    subject: str,
    when: datetime | None,
    *,
    parent: str | None = None,
    references: tuple[str, ...] = (),
    sender: Person = ALICE,
    author: Person | None = None,
    patch_id: str | None = None,
    trailers: tuple[Trailer, ...] = (),
    change_id: str | None = None,
) -> Message:
    """One mail: a patch when it has a ``patch_id``, a cover letter for ``0/N``,
    else a reply."""
    parsed = parse_subject(subject)
    kind = "patch" if patch_id else ("cover" if parsed.index == 0 and not parsed.is_reply else "reply")
    return Message(
        oid=hashlib.sha1(msgid.encode()).hexdigest(),
        commit=None,
        epoch=None,
        msgid=msgid,
        date=when,
        kind=kind,
        subject=parsed,
        sender=sender,
        author=author or sender,
        in_reply_to=parent,
        references=references or ((parent,) if parent else ()),
        patch_id=patch_id,
        trailers=trailers,
        change_id=change_id,
        commit_message=f"{parsed.title}\n\nDo it.\n" if patch_id else None,
    )


def _pid(n: int) -> str:
    return hashlib.sha1(b"patch %d" % n).hexdigest()


def deep_chain(n: int, *, skewed: bool = False) -> list[Message]:
    """A patch and ``n - 1`` replies, each answering the one before (``References:``
    trimmed to the patch and the last two, as mail clients trim them). ``skewed``: every
    other reply is dated before the patch (a broken clock), so mails arrive out of
    their chain's order."""
    out = [mail("chain-0@x", "[PATCH] deep thing", START, patch_id=_pid(0))]
    for i in range(1, n):
        when = START - timedelta(days=1, seconds=i) if skewed and i % 2 else START + timedelta(seconds=i)
        refs = ("chain-0@x", *(f"chain-{j}@x" for j in (i - 2, i - 1) if j > 0))
        out.append(mail(
            f"chain-{i}@x", "Re: [PATCH] deep thing", when, parent=f"chain-{i - 1}@x", references=refs,
            sender=BOB, trailers=(REVIEW,) if i == 1 else (),
        ))
    return out


def rings(n: int, size: int = 0) -> list[Message]:
    """``n`` replies in rings of ``size`` (all ``n`` in one ring when 0): each mail
    answers the next one of its ring, and its ``References:`` chain two ghosts the
    other way round, so the ghosts make a ring too — loops in the mails' links and
    in the ghosts'. Dates ascend with the ring, so mails arrive in ring order."""
    size = size or n
    out = []
    for i in range(n):
        ring, k = divmod(i, size)
        after = [f"ring-{ring}-{(k + d) % size}@x" for d in (1, 2)]
        ghosts = (f"ghost-{ring}-{(k + 1) % size}@x", f"ghost-{ring}-{k}@x")
        out.append(mail(
            f"ring-{ring}-{k}@x", f"Re: ring {ring}", START + timedelta(seconds=i),
            parent=after[0], references=(*ghosts, after[1], after[0]), sender=BOB,
        ))
    return out


def singles(n: int) -> list[Message]:
    """``n`` single patches of one sender, unthreaded, a second apart (a tree-wide
    clean-up posted one mail per file): one group key, all within each other's
    unthreaded window, none of them one series with another."""
    return [
        mail(f"single-{i}@x", f"[PATCH] part {i}: tidy", START + timedelta(seconds=i), patch_id=_pid(i))
        for i in range(n)
    ]


def chained_patches(n: int) -> list[Message]:
    """One series of ``n`` patches and a cover letter, each patch posted in reply to
    the one before (``git send-email --chain-reply-to``), a second apart, each with a
    review reply."""
    cover = "chained-0@x"
    out = [mail(cover, f"[PATCH 0/{n}] many parts", START)]
    for i in range(1, n + 1):
        parent = f"chained-{i - 1}@x"
        out.append(mail(
            f"chained-{i}@x", f"[PATCH {i}/{n}] part {i}", START + timedelta(seconds=i),
            parent=parent, references=(cover, parent) if i > 1 else (cover,), patch_id=_pid(i),
        ))
        out.append(mail(
            f"review-{i}@x", f"Re: [PATCH {i}/{n}] part {i}", START + timedelta(hours=1, seconds=i),
            parent=f"chained-{i}@x", references=(cover, f"chained-{i}@x"), sender=BOB, trailers=(REVIEW,),
        ))
    return out


def revisions(n: int, *, change_id: str | None = None) -> list[Message]:
    """``n`` revisions v1..vn of one single-patch series with one title, an hour apart,
    each a different diff (so only the title, or ``change_id`` when given, links them)."""
    return [
        mail(
            f"rev-{v}@x", f"[PATCH v{v}] fix the thing" if v > 1 else "[PATCH] fix the thing",
            START + timedelta(hours=v), patch_id=_pid(v), change_id=change_id,
        )
        for v in range(1, n + 1)
    ]


SHAPES = {
    "deep-chain": deep_chain,
    "deep-chain-skewed": lambda n: deep_chain(n, skewed=True),
    "rings": rings,
    "small-rings": lambda n: rings(n, 3),
    "singles": singles,
    "chained-patches": chained_patches,
    "revisions": revisions,
}
"""Every shape by name: ``n`` → its mails."""
