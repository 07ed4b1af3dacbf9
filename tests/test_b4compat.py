"""The b4 adapter: patchtrack's series handed to b4's own objects and back."""

from __future__ import annotations

from pathlib import Path

import pytest

import patchtrack
from patchtrack.errors import InboxError

b4compat = pytest.importorskip("patchtrack.b4compat")  # b4 is in the test extras


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> patchtrack.Inbox:
    return patchtrack.open_inbox(patchtrack.build_demo_inbox(tmp_path_factory.mktemp("demo") / "linux-gizmo"), workers=1)


def test_inbox_raw_reads_any_epoch_and_refuses_strangers(demo: patchtrack.Inbox) -> None:
    raws = list(demo.walk())
    assert {r.epoch for r in raws} == {0, 1}
    for r in (raws[0], raws[-1]):
        assert demo.raw(r.oid) == r.data
    with pytest.raises(InboxError, match="no mail"):
        demo.raw("0" * 40)
    with pytest.raises(InboxError, match="not a blob id"):
        demo.raw("xyz")


def test_to_b4_gives_b4_the_same_series(demo: patchtrack.Inbox) -> None:
    compared = 0
    for s in demo.series():
        lser = b4compat.to_b4(s, demo)
        assert lser is not None, s.title
        assert lser.revision == s.version
        assert {i: m.msgid for i, m in enumerate(lser.patches) if i and m is not None} == {
            p.index: p.msgid for p in s.patches
        }
        assert (lser.patches[0].msgid if lser.patches[0] is not None else None) == (s.cover.msgid if s.cover else None)
        compared += 1
    assert compared >= 3


def test_from_b4_round_trip(demo: patchtrack.Inbox) -> None:
    everything = demo.series()
    box = b4compat.to_b4_mailbox(everything, demo)
    back = b4compat.from_b4(box)
    assert [s.id for s in back] == [s.id for s in everything]
    assert [[p.msgid for p in s.patches] for s in back] == [[p.msgid for p in s.patches] for s in everything]
    assert [[[f.to_dict() for f in p.followups] for p in s.patches] for s in back] == [
        [[f.to_dict() for f in p.followups] for p in s.patches] for s in everything
    ]
    # from one LoreSeries: its cover and patches
    one = next(s for s in everything if s.cover is not None and len(s.patches) > 1)
    (again,) = b4compat.from_b4(b4compat.to_b4(one, demo))
    assert again.id == one.id and [p.msgid for p in again.patches] == [p.msgid for p in one.patches]


def test_corpus_threads_through_b4_objects(corpus_repo: Path, corpus_series: tuple) -> None:  # type: ignore[type-arg]
    """On real threads: b4's reading of our series' mails finds the same patches,
    and from_b4 rebuilds the same series from b4's mailbox."""
    inbox = patchtrack.open_inbox(corpus_repo)
    everything = [s for s in corpus_series if s.complete][-25:]
    assert everything
    agree = 0
    for s in everything:
        lser = b4compat.to_b4(s, inbox)
        if lser is not None and {i: m.msgid for i, m in enumerate(lser.patches) if i and m is not None} == {
            p.index: p.msgid for p in s.patches
        }:
            agree += 1
        (back,) = [b for b in b4compat.from_b4(b4compat.to_b4_mailbox(s, inbox)) if b.id == s.id]
        assert [p.msgid for p in back.patches] == [p.msgid for p in s.patches]
    assert agree >= 0.9 * len(everything)
