"""The walk against git itself, on every real archive in ../shared/corpus."""

from __future__ import annotations

import random
from pathlib import Path

import pygit2
import pytest

import patchtrack
from conftest import first_deliveries, git, git_messages

pytestmark = pytest.mark.corpus


def pairs(walk: patchtrack.Walk) -> list[tuple[str, str]]:
    return [(r.commit, r.oid) for r in walk]


def test_whole_walk_is_one_record_per_m_commit(corpus_repo: Path) -> None:
    inbox = patchtrack.open_inbox(corpus_repo)
    assert inbox.layout == "v2" and [e.number for e in inbox.epochs] == [0]
    expected = git_messages(corpus_repo, "HEAD")
    walk = inbox.walk(dedupe=False)
    assert pairs(walk) == expected
    assert walk.stats.messages == len(expected) == walk.stats.commits


def test_whole_walk_yields_each_blob_once(corpus_repo: Path) -> None:
    expected_all = git_messages(corpus_repo, "HEAD")
    expected = first_deliveries(expected_all)
    walk = patchtrack.open_inbox(corpus_repo).walk()
    records = list(walk)
    assert [(r.commit, r.oid) for r in records] == expected
    assert walk.stats.duplicates == len(expected_all) - len(expected)
    assert walk.stats.messages + walk.stats.duplicates == walk.stats.commits
    # the bytes are the blob's bytes
    sample = records[len(records) // 2]
    assert sample.data == pygit2.Repository(str(corpus_repo))[sample.oid].data
    assert sample.size == len(sample.data) and not sample.deleted


def test_random_ranges_match_rev_list(corpus_repo: Path, corpus_name: str) -> None:
    commits = git("rev-list", "--reverse", "HEAD", cwd=corpus_repo).split()
    rng = random.Random(corpus_name)
    inbox = patchtrack.open_inbox(corpus_repo)
    for _ in range(20):
        i, j = sorted(rng.sample(range(len(commits)), 2))
        a = git("rev-parse", "--short=9", commits[i], cwd=corpus_repo).strip()
        b = git("rev-parse", "--short=9", commits[j], cwd=corpus_repo).strip()
        expected = git_messages(corpus_repo, f"{a}..{b}")
        assert len(expected) == j - i
        assert pairs(inbox.walk(f"{a}..{b}", dedupe=False)) == expected, f"{a}..{b}"


def test_open_ended_and_single_rev_forms(corpus_repo: Path) -> None:
    commits = git("rev-list", "--reverse", "HEAD", cwd=corpus_repo).split()
    inbox = patchtrack.open_inbox(corpus_repo)
    mid = commits[len(commits) // 3][:10]
    assert pairs(inbox.walk(f"{mid}..", dedupe=False)) == git_messages(corpus_repo, f"{mid}..HEAD")
    assert pairs(inbox.walk(f"..{mid}", dedupe=False)) == git_messages(corpus_repo, mid)
    assert pairs(inbox.walk(mid, dedupe=False)) == git_messages(corpus_repo, mid)
    assert pairs(inbox.walk(f"{mid}^!", dedupe=False)) == git_messages(corpus_repo, f"{mid}^!")
    assert pairs(inbox.walk("HEAD~5..HEAD", dedupe=False)) == git_messages(corpus_repo, "HEAD~5..HEAD")


def test_since_until_filter_on_arrival_time(corpus_repo: Path) -> None:
    inbox = patchtrack.open_inbox(corpus_repo)
    everything = list(inbox.walk(dedupe=False))
    lo = everything[len(everything) // 2].time
    hi = everything[len(everything) * 3 // 4].time
    walk = inbox.walk(since=lo, until=hi, dedupe=False)
    got = [r.oid for r in walk]
    assert got == [r.oid for r in everything if lo <= r.time <= hi]
    assert walk.stats.filtered == len(everything) - len(got)
    # the same bounds as --since/--until strings, as git users would type them
    since = lo.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert [r.oid for r in inbox.walk(since=since, until=hi.isoformat(), dedupe=False)] == got
