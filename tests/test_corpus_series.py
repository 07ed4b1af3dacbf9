"""Series assembly on the real archives: membership, determinism, and incomplete
series checked against an oracle that does not use our grouping — the Message-IDs
``git send-email`` and b4 give one run (``<stamp>.<pid>-<n>-…``, ``<stamp>-<topic>-v<k>-<n>-…``)."""

from __future__ import annotations

import collections
import random
import re

import pytest

import patchtrack
from patchtrack.series import is_series_mail

pytestmark = pytest.mark.corpus

_SEND_EMAIL = re.compile(r"^(?P<run>\d{14}\.\d+)-(?P<n>\d+)-(?P<rest>.+)$")
_B4 = re.compile(r"^(?P<run>\d{8}-.+-v\d+)-(?P<n>\d+)-(?P<rest>[0-9a-f]+@.+)$")  # run = topic + hash


def _run_of(msgid: str) -> str | None:
    """The send run a Message-ID names (its stamp/pid or b4 topic, and its host)."""
    for pattern in (_SEND_EMAIL, _B4):
        m = pattern.match(msgid)
        if m:
            rest = m["rest"] if pattern is _B4 else m["rest"].rpartition("@")[2]
            return f"{m['run']}-{rest}"
    return None


def test_every_series_mail_is_in_exactly_one_series(corpus_messages: list, corpus_series: tuple) -> None:
    placed: collections.Counter[str] = collections.Counter()
    for s in corpus_series:
        mails = ([s.cover] if s.cover else []) + [p.message for p in s.patches] + list(s.duplicates)
        placed.update(m.oid for m in mails)
    members = [m for m in corpus_messages if m.msgid and is_series_mail(m)]
    counter_mails = [m for m in members if m.subject.total is not None]
    assert members and counter_mails
    assert [m.msgid for m in members if placed[m.oid] != 1] == []
    assert sum(placed.values()) == len({m.oid for m in members})
    assert len({s.id for s in corpus_series}) == len(corpus_series)


def test_same_series_in_any_order(corpus_messages: list, corpus_series: tuple) -> None:
    shuffled = corpus_messages[:]
    random.Random(7).shuffle(shuffled)
    again = patchtrack.assemble(shuffled)
    assert [s.id for s in again] == [s.id for s in corpus_series]
    assert [s.to_dict() for s in again] == [s.to_dict() for s in corpus_series]


def test_one_send_run_is_one_series(corpus_series: tuple) -> None:
    """Series mails of one send run (same run id in their Message-IDs, same version
    and total) are never split over two series, and one series never holds two runs'
    mails for one counter. Incomplete series are then truly incomplete as far as the
    archive's Message-IDs can tell."""
    where: dict[tuple[str, int, int], set[str]] = collections.defaultdict(set)
    for s in corpus_series:
        for m in ([s.cover] if s.cover else []) + [p.message for p in s.patches]:
            run = _run_of(m.msgid)
            if run and (m.subject.total or 1) > 1:  # one run may post many unrelated [PATCH]es
                where[(run, m.subject.version, m.subject.total or 1)].add(s.id)
    split = {k: v for k, v in where.items() if len(v) > 1}
    assert split == {}


def test_incomplete_series_share(corpus_name: str, corpus_series: tuple) -> None:
    """The figure docs/series.md reports: most series with a cover letter are complete."""
    with_cover = [s for s in corpus_series if s.cover is not None]
    complete = sum(s.complete for s in with_cover) / max(1, len(with_cover))
    # ksummit has a handful of cover letters: too few for a share to mean anything
    assert len(with_cover) < 20 or complete >= 0.80, f"{corpus_name}: {complete:.1%} of covered series complete"


def _sibling(cover_msgid: str, index: int) -> str | None:
    """The Message-ID a send run gave patch ``index`` of the series whose cover is
    ``cover_msgid``: git send-email numbers the mails of a run in sending order
    (cover ``-1-``, patch k ``-(k+1)-``), b4 by counter (cover ``-0-``, patch k ``-k-``)."""
    for pattern in (_B4, _SEND_EMAIL):
        m = pattern.match(cover_msgid)
        if m:
            return f"{m['run']}-{int(m['n']) + index}-{m['rest']}"
    return None


def test_missing_patches_are_not_in_the_archive(corpus_messages: list, corpus_series: tuple) -> None:
    """Examine every incomplete series: where the head's Message-ID tells us the ids
    its send run gave the missing patches, no mail with such an id is in the archive
    (so the patch never reached this list; it is not a grouping error)."""
    known = {m.msgid: m for m in corpus_messages}
    examined = 0
    for s in corpus_series:
        if s.complete or s.cover is None:
            continue
        head = s.cover.msgid
        if _sibling(head, 1) is None:
            continue
        examined += 1
        for index in s.missing:
            sibling = known.get(_sibling(head, index) or "")
            # a run that numbers differently (a cover sent twice, a skipped mail) says nothing
            if sibling is not None and sibling.subject.index == index and sibling.subject.total == s.total:
                pytest.fail(f"{head}: patch {index} is in the archive as {sibling.msgid}")
    assert examined or not any(not s.complete and s.cover for s in corpus_series if _run_of(s.msgid))
