"""Cross-epoch ranges on a real archive split into two epochs at a commit.

The split inbox is what a lore epoch rollover looks like: epoch 0 is the corpus up to
commit S, epoch 1 replays every later commit (same trees, authors, messages) on a new
root. ``A..B`` with A in epoch 0 and B in epoch 1 must be ``A..tip(0)`` followed by
``root(1)..B`` — never the naive ``A..B`` through all.git.
"""

from __future__ import annotations

import random
from pathlib import Path

import pygit2
import pytest

import patchtrack
from conftest import BUNDLES, git, git_messages

pytestmark = pytest.mark.corpus


def _init_epoch(path: Path, objects_from: Path) -> pygit2.Repository:
    pygit2.init_repository(str(path), bare=True, initial_head="master")
    (path / "objects" / "info" / "alternates").write_text(f"{objects_from / 'objects'}\n")
    return pygit2.Repository(str(path))  # reopened, so the alternates are read


@pytest.fixture(scope="module")
def split_inbox(corpus_clones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    smallest = min(BUNDLES, key=lambda b: b.stat().st_size).name.removesuffix(".bundle")
    source = corpus_clones[smallest]
    commits = git("rev-list", "--reverse", "HEAD", cwd=source).split()
    split = len(commits) // 2
    inbox = tmp_path_factory.mktemp("split") / smallest
    first = _init_epoch(inbox / "git" / "0.git", source)
    first.references.create("refs/heads/master", commits[split])
    second = _init_epoch(inbox / "git" / "1.git", source)
    origin = pygit2.Repository(str(source))
    parents: list[pygit2.Oid] = []
    for commit_id in commits[split + 1 :]:
        c = origin[commit_id]
        parents = [second.create_commit(None, c.author, c.committer, c.message, c.tree_id, parents)]
    second.references.create("refs/heads/master", parents[0])
    all_git = pygit2.init_repository(str(inbox / "all.git"), bare=True)
    (Path(all_git.path) / "objects" / "info" / "alternates").write_text(
        "../../git/0.git/objects\n../../git/1.git/objects\n"
    )
    return inbox


def test_two_epochs_discovered_in_order(split_inbox: Path) -> None:
    inbox = patchtrack.open_inbox(split_inbox)
    assert inbox.layout == "v2"
    assert [e.number for e in inbox.epochs] == [0, 1]
    e0, e1 = (split_inbox / "git" / f"{n}.git" for n in (0, 1))
    expected = git_messages(e0, "HEAD") + git_messages(e1, "HEAD")
    assert [(r.commit, r.oid) for r in inbox.walk(dedupe=False)] == expected
    assert [r.epoch for r in inbox.walk(dedupe=False)] == [0] * len(git_messages(e0, "HEAD")) + [1] * len(
        git_messages(e1, "HEAD")
    )
    # all.git is accepted as the inbox too
    assert patchtrack.open_inbox(split_inbox / "all.git").path == split_inbox.resolve()


def test_cross_epoch_ranges_are_tail_then_head(split_inbox: Path) -> None:
    inbox = patchtrack.open_inbox(split_inbox)
    e0, e1 = (split_inbox / "git" / f"{n}.git" for n in (0, 1))
    c0 = git("rev-list", "--reverse", "HEAD", cwd=e0).split()
    c1 = git("rev-list", "--reverse", "HEAD", cwd=e1).split()
    rng = random.Random(20261124)
    for _ in range(20):
        a = git("rev-parse", "--short=9", rng.choice(c0[:-1]), cwd=e0).strip()
        b = git("rev-parse", "--short=9", rng.choice(c1), cwd=e1).strip()
        expected = git_messages(e0, f"{a}..HEAD") + git_messages(e1, b)
        got = [(r.commit, r.oid) for r in inbox.walk(f"{a}..{b}", dedupe=False)]
        assert got == expected, f"{a}..{b}"
        # the naive all.git range silently loses epoch 0's tail
        naive = git_messages(split_inbox / "all.git", f"{a}..{b}")
        assert naive == git_messages(e1, b) and len(naive) < len(got)


def test_open_ended_cross_epoch_forms(split_inbox: Path) -> None:
    inbox = patchtrack.open_inbox(split_inbox)
    e0, e1 = (split_inbox / "git" / f"{n}.git" for n in (0, 1))
    c0 = git("rev-list", "--reverse", "HEAD", cwd=e0).split()
    c1 = git("rev-list", "--reverse", "HEAD", cwd=e1).split()
    a, b = c0[len(c0) // 2], c1[len(c1) // 2]
    pairs = lambda spec: [(r.commit, r.oid) for r in inbox.walk(spec, dedupe=False)]  # noqa: E731
    assert pairs(f"{a}..") == git_messages(e0, f"{a}..HEAD") + git_messages(e1, "HEAD")
    assert pairs(f"..{b}") == git_messages(e0, "HEAD") + git_messages(e1, b)
    assert pairs(b) == pairs(f"..{b}")
    assert pairs(f"{b}^!") == git_messages(e1, f"{b}^!")
    with pytest.raises(patchtrack.RevisionError, match="reversed"):
        inbox.walk(f"{b}..{a}")


def test_cursor_after_rollover_reads_only_new_mail(split_inbox: Path) -> None:
    inbox = patchtrack.open_inbox(split_inbox)
    e0, e1 = (split_inbox / "git" / f"{n}.git" for n in (0, 1))
    c0 = git("rev-list", "--reverse", "HEAD", cwd=e0).split()
    # a cursor saved before the rollover: only epoch 0, some way back
    cursor = {"0": c0[-10]}
    expected = git_messages(e0, f"{c0[-10]}..HEAD") + git_messages(e1, "HEAD")
    assert [(r.commit, r.oid) for r in inbox.walk(after=cursor, dedupe=False)] == expected
    # a cursor saved now: nothing new
    walk = inbox.walk(after=inbox.tips())
    assert list(walk) == [] and walk.stats.commits == 0
