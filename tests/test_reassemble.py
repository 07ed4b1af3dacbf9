"""Re-assembly after new mail (:mod:`patchtrack._engine._reassemble`) gives what a full
assembly of the new archive state gives: the same stored series rows, deliveries and
state. Checked on every split of the fixture traffic, on new mail dated anywhere in
the past (random subsets), on the corpora, and through :class:`patchtrack.Inbox`
when mail arrives between two calls."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

import patchtrack
from conftest import MAILS
from patchtrack._engine._index import Assembly, State
from patchtrack._engine._reassemble import assemble_stored, reassemble
from patchtrack.builder import V2Writer, mail_meta
from patchtrack.cache import Cache

_STATE = ("skeleton", "parents", "kept", "keys", "spans")


def _deliveries(messages: list[patchtrack.Message]) -> dict[str, tuple[str, int, int]]:
    return {m.oid: (m.commit, m.epoch, n) for n, m in enumerate(messages)}


class _Archive:
    """Messages in walk order, cached, with their full assembly computed once."""

    def __init__(self, messages: list[patchtrack.Message], cache: Cache) -> None:
        self.messages = messages
        self.cache = cache
        cache.put_many(messages)
        self.series, self.full, self.state = assemble_stored(messages, _deliveries(messages))

    def check(self, new_oids: set[str]) -> tuple[Assembly, State]:
        """Assemble all but ``new_oids``, store it, add ``new_oids``: the full assembly."""
        old = [m for m in self.messages if m.oid not in new_oids]
        new = [m for m in self.messages if m.oid in new_oids]
        every = _deliveries(self.messages)
        _, base, state = assemble_stored(old, {m.oid: every[m.oid] for m in old})
        base, state = Assembly.decode(base.encode()), State.decode(state.encode())  # as the cache gives it back
        got = reassemble(base, state, new, {m.oid: every[m.oid] for m in new}, self.cache)
        assert got is not None
        index, grown = got
        assert index.rows == self.full.rows
        assert index.deliveries == self.full.deliveries
        if all(m.oid in new_oids for m in self.messages[len(old):]):  # new mail delivered last: walk order too
            assert list(index.deliveries) == list(self.full.deliveries)
        for name in _STATE:
            assert getattr(grown, name) == getattr(self.state, name), name
        # stored as its difference from the base it grew from, it reads back the same
        again = Assembly.decode(index.encode(base), base)
        assert again.rows == index.rows and list(again.deliveries.items()) == list(index.deliveries.items())
        regrown = State.decode(grown.encode(state), state)
        for name in _STATE:
            assert getattr(regrown, name) == getattr(grown, name), name
        return index, grown


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> _Archive:
    path = patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("gizmo") / "gizmo")
    messages = list(patchtrack.open_inbox(path, workers=1).messages())
    return _Archive(messages, Cache(tmp_path_factory.mktemp("cache") / "c.duckdb"))


def test_fixture_traffic_has_series_to_get_wrong(traffic: _Archive) -> None:
    linked = [s for s in traffic.series if s.previous is not None]
    replied = [s for s in traffic.series if any(p.followups for p in s.patches)]
    assert len(traffic.series) >= 5 and linked and replied


@pytest.fixture
def ways(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """How each re-assembly linked: True when the new links were grown into the
    stored forest, False when the whole forest was linked again."""
    from patchtrack._engine import _reassemble

    seen: list[bool] = []
    grown = _reassemble._grown

    def watched(*args):  # type: ignore[no-untyped-def]
        result = grown(*args)
        seen.append(result is not None)
        return result

    monkeypatch.setattr(_reassemble, "_grown", watched)
    return seen


def test_every_split_of_the_fixture_traffic(traffic: _Archive, ways: list[bool]) -> None:
    for k in range(len(traffic.messages) + 1):
        traffic.check({m.oid for m in traffic.messages[k:]})
    assert ways.count(True) >= len(traffic.messages) // 2  # mail after the stored: grown


def test_new_mail_dated_anywhere_in_the_past(traffic: _Archive, ways: list[bool]) -> None:
    """Mail delivered late (an old reply, a copy, a cover after its patches): any
    subset of the traffic arriving last."""
    rng = random.Random(6)
    for size in (1, 2, 3, 5, 8, 13):
        for _ in range(8):
            traffic.check({m.oid for m in rng.sample(traffic.messages, size)})
    assert ways.count(False) >= 20  # mail among the stored: linked again


def test_a_ghost_that_arrives_is_linked_again(tmp_path: Path, ways: list[bool]) -> None:
    """A reply stored before the mail it answers made that mail a ghost, hung under
    the reply's References; when the mail arrives (dated after everything stored) it
    takes its own headers' place, which only linking the forest again gives."""
    from test_series import make

    cover = make("a@x", "[PATCH 0/1] x", body="cover\n")
    reply = make("r@x", "Re: [PATCH 1/1] x", parent="x@x", refs=("a@x", "x@x"), body="ok\n", minutes=10)
    late = make("x@x", "[PATCH 1/1] x", minutes=20)  # sent without In-Reply-To: a root
    archive = _Archive([cover, reply, late], Cache(tmp_path / "c.duckdb"))
    assert "x@x" not in archive.state.parents  # a root once it arrived
    archive.check({late.oid})
    assert ways == [False]


def test_a_parent_that_arrives_is_linked_again(tmp_path: Path, ways: list[bool]) -> None:
    """Stored: p answers x, and m names the ghost g under p. When x arrives answering
    g, linking all again gives x its parent g (g's own link would close a loop and is
    dropped); linked on top of the stored links, x's would close the loop instead."""
    from test_series import make

    p = make("p@x", "Re: x", parent="x@x", body="p\n", minutes=5)
    m = make("m@x", "Re: x", parent="g@x", refs=("p@x", "g@x"), body="m\n", minutes=6)
    x = make("x@x", "Re: x", parent="g@x", body="x\n", minutes=20)
    archive = _Archive([p, m, x], Cache(tmp_path / "c.duckdb"))
    assert archive.state.parents["x@x"] == "g@x" and "g@x" not in archive.state.parents
    archive.check({x.oid})
    assert ways == [False]


def test_mail_without_news_changes_nothing(traffic: _Archive) -> None:
    index, _ = traffic.check(set())
    assert index.rows == traffic.full.rows


def test_a_message_gone_from_the_cache_means_a_full_assembly(traffic: _Archive, tmp_path: Path) -> None:
    """The region's stored messages are decoded from the cache; one missing, ``None``."""
    msgids = {m.msgid for m in traffic.messages}
    late = next(m for m in reversed(traffic.messages) if m.in_reply_to in msgids)  # a reply to stored mail
    old = [m for m in traffic.messages if m is not late]
    _, base, state = assemble_stored(old, _deliveries(old))
    deliveries = {late.oid: (late.commit, late.epoch, 0)}
    assert reassemble(base, state, [late], deliveries, traffic.cache) is not None
    assert reassemble(base, state, [late], deliveries, Cache(tmp_path / "empty.duckdb")) is None


# --- through the Inbox: mail arrives between two calls ------------------------------


def _writer_with(path: Path, mails: list[bytes]) -> V2Writer:
    writer = V2Writer(path, epoch_size=12)
    for raw in mails:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    return writer


def test_inbox_after_new_mail_extends_the_stored_assembly(mails: list[bytes], tmp_path: Path) -> None:
    writer = _writer_with(tmp_path / "inbox", mails[:20])  # epochs of 12: new mail fills one and opens another
    cache = Cache(tmp_path / "c.duckdb")
    inbox = patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1)
    inbox.series()
    for raw in mails[20:]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    stored = cache.stats.stored
    grown = inbox.report().to_dict()  # the same Inbox sees the epochs created since it was opened
    assert cache.stats.assemblies_updated == 1
    assert cache.stats.stored - stored == len(mails) - 20  # only the new mail was parsed
    fresh = patchtrack.open_inbox(tmp_path / "inbox", workers=1)
    assert grown == fresh.report().to_dict()
    assert inbox.series() == fresh.series()
    assert cache.stats.assemblies_updated == 1  # that state is stored now


def test_weekly_growth_is_stored_as_differences(mails: list[bytes], tmp_path: Path) -> None:
    """Each extended assembly is stored as its difference from the one it grew from,
    up to MAX_DELTAS in a row, then whole again; the assemblies a kept one builds on
    stay stored however many newer ones are kept, and every answer equals a fresh
    assembly's."""
    from patchtrack._engine import _index

    writer = _writer_with(tmp_path / "inbox", mails[:10])
    cache = Cache(tmp_path / "c.duckdb")
    inbox = patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1)
    inbox.series()
    steps = _index.MAX_DELTAS + 3
    per_step = max(1, (len(mails) - 10) // steps)
    chain = []
    for step in range(steps):
        for raw in mails[10 + step * per_step: 10 + (step + 1) * per_step]:
            writer.add(raw, arrival=mail_meta(raw).arrival)
        got = inbox.series()
        assert got == patchtrack.open_inbox(tmp_path / "inbox", workers=1).series()
        key = _index.assembly_key(inbox.layout, inbox.tips())
        stored = _index.load(cache, key, state=True)
        assert stored is not None and stored.state is not None
        chain.append(stored.deltas)
        kept = [k for (k,) in cache._db.execute("SELECT key FROM assembly").fetchall()]
        assert all(_index.load(cache, k) is not None for k in kept)  # no broken chain
    assert cache.stats.assemblies_updated == steps
    assert chain[: _index.MAX_DELTAS + 2] == [*range(1, _index.MAX_DELTAS + 1), 0, 1]


def test_inbox_with_another_history_assembles_in_full(mails: list[bytes], tmp_path: Path) -> None:
    """A stored state is a base only for the same archive grown by appending."""
    cache = Cache(tmp_path / "c.duckdb")
    _writer_with(tmp_path / "a", mails[:20])
    patchtrack.open_inbox(tmp_path / "a", cache=cache, workers=1).series()
    _writer_with(tmp_path / "b", mails[:8] + mails[25:])  # not a descendant of a's history
    other = patchtrack.open_inbox(tmp_path / "b", cache=cache, workers=1)
    assert other.series() == patchtrack.open_inbox(tmp_path / "b", workers=1).series()
    assert cache.stats.assemblies_updated == 0


# --- the corpora ---------------------------------------------------------------------


def test_corpus_new_mail_at_the_end_and_in_the_past(corpus_messages: list, tmp_path: Path) -> None:
    archive = _Archive(corpus_messages, Cache(tmp_path / "c.duckdb"))
    tail = len(corpus_messages)
    for size in (1, 250, 1000):
        archive.check({m.oid for m in corpus_messages[max(0, tail - size):]})
    # a week's mail changes little: its stored difference is a fraction of the whole
    recent = {m.oid for m in corpus_messages[max(0, tail - 250):]}
    old = [m for m in corpus_messages if m.oid not in recent]
    _, base, state = assemble_stored(old, _deliveries(old))
    index, grown = archive.check(recent)
    whole = len(index.encode()) + len(grown.encode())
    assert len(index.encode(base)) + len(grown.encode(state)) < whole / 4
    rng = random.Random(1)
    for size in (5, 50):
        archive.check({m.oid for m in rng.sample(corpus_messages, min(size, tail))})


def test_corpus_report_a_week_later(corpus_repo: Path, corpus_messages: list, tmp_path: Path) -> None:
    """The archive as it was 250 mails ago (a repository borrowing the corpus'
    objects, its branch set back) is reported; then the real one, which grew from
    it: the report equals one assembled from nothing."""
    before = tmp_path / "before.git"
    subprocess.run(["git", "init", "-q", "--bare", str(before)], check=True)
    (before / "objects" / "info" / "alternates").write_text(f"{corpus_repo / 'objects'}\n")
    commits = [r[2] for r in patchtrack.open_inbox(corpus_repo).walk().refs()]
    subprocess.run(["git", "-C", str(before), "update-ref", "refs/heads/master", commits[-251]], check=True)
    cache, other = Cache(tmp_path / "c.duckdb"), Cache(tmp_path / "other.duckdb")
    cache.put_many(corpus_messages)
    other.put_many(corpus_messages)
    patchtrack.open_inbox(before, cache=cache).series()
    span = f"{commits[-1001]}..{commits[-1]}"
    report = patchtrack.open_inbox(corpus_repo, cache=cache).report(span).to_dict()
    assert cache.stats.assemblies_updated == 1 and cache.stats.misses == 0
    assert report == patchtrack.open_inbox(corpus_repo, cache=other).report(span).to_dict()
    assert other.stats.assemblies_updated == 0 and report["series"]
