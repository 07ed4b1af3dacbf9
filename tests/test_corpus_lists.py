"""Many real lists as one archive, on mirrors built from the corpus bundles.

Three mirror layouts of the same lists (see ``tests/mirror.py``): per-list clones named
like lore's epochs (``kvm-ppc.vger.kernel.org.0.git``), grokmirror's lore layout nested
one level (``<root>/lore/<list>/git/0.git``), and the lore layout with one list's epoch
cut in two (``git/0.git`` + ``git/1.git``, as public-inbox rolls epochs).

Every check is against git read here, not patchtrack's parser: the mails of each list
(``git cat-file --batch``, Message-ID by a regular expression), and the union of
distinct mails counted from them (for each Message-ID the most copies one list holds).

The default run opens kvm-ppc + linux-fpga (13.5k mails, 19 cross-posted); all five
corpora as one archive is marked slow.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import attrs
import pytest

import patchtrack
from conftest import BUNDLES, CORPUS
from mirror import (
    clone_mirror, first_parent_commits, grokmirror_mirror, shared_clone, short_name, split_epochs, stored_mails, union_count,
)
from patchtrack.archive import discover

pytestmark = pytest.mark.corpus

PAIR = ("kvm-ppc", "linux-fpga")
"""The default run's lists: small, with mails on both."""
SPLIT = "linux-fpga"
"""The list whose epoch the split layout cuts in two."""
LAYOUTS = ("clones", "grokmirror", "split")
COUNTED_FIELDS = ("list", "counted_messages", "unreadable_messages", "domains", "contributors", "bots", "per_day")
"""What a single-list report of a mirror counts: the list's own deliveries (review
state may use the other lists' replies, so the series' statuses are left out)."""


@attrs.frozen
class Built:
    """A mirror built for the tests, and what git says it holds."""

    root: Path
    epochs: dict[str, list[Path]]
    """List → its epoch repositories in order (as built, not as discovered)."""
    tips: dict[str, dict[int, str]]
    """List → epoch → tip commit (from the bundles and the split)."""


def _bundle_tip(corpus: str) -> str:
    heads = subprocess.run(
        ["git", "bundle", "list-heads", str(CORPUS / f"{corpus}.bundle")], check=True, capture_output=True, text=True
    ).stdout.split("\n")
    return heads[0].split()[0]


def _build(layout: str, clones: dict[str, Path], root: Path) -> Built:
    root.mkdir(parents=True)
    epochs: dict[str, list[Path]] = {}
    tips: dict[str, dict[int, str]] = {}
    if layout == "clones":
        clone_mirror(clones, root)
        for corpus in clones:
            epochs[short_name(corpus)] = [root / f"{corpus}.git"]
            tips[short_name(corpus)] = {int(corpus.rpartition(".")[2]): _bundle_tip(corpus)}
        return Built(root, epochs, tips)
    whole = {c: r for c, r in clones.items() if layout != "split" or short_name(c) != SPLIT}
    grokmirror_mirror(whole, root, nest="lore")
    for corpus in whole:
        epochs[short_name(corpus)] = [root / "lore" / short_name(corpus) / "git" / "0.git"]
        tips[short_name(corpus)] = {0: _bundle_tip(corpus)}
    for corpus, clone in clones.items():
        if corpus not in whole:
            inbox = root / "lore" / SPLIT
            cut, tip = split_epochs(clone, inbox)
            epochs[SPLIT] = [inbox / "git" / "0.git", inbox / "git" / "1.git"]
            tips[SPLIT] = {0: cut, 1: tip}
    return Built(root, epochs, tips)


def _pick(corpus_clones: dict[str, Path], lists: tuple[str, ...]) -> dict[str, Path]:
    picked = {c: p for c, p in corpus_clones.items() if short_name(c) in lists}
    if len(picked) != len(lists):
        pytest.skip(f"needs the corpora of {', '.join(lists)} in {CORPUS}")
    return picked


@pytest.fixture(scope="module")
def mirrors(corpus_clones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    base = tmp_path_factory.mktemp("mirrors")
    clones = _pick(corpus_clones, PAIR)
    return {layout: _build(layout, clones, base / layout) for layout in LAYOUTS}


@pytest.fixture(scope="module")
def stored(mirrors: dict[str, Built]) -> dict[str, dict[str, list[tuple[str, str, str]]]]:
    """Layout → list → (commit, blob, Message-ID) of every mail, by git (read once
    per history: epochs with the same tip hold the same mails)."""
    by_tip: dict[str, list[tuple[str, str, str]]] = {}

    def mails(epoch: Path) -> list[tuple[str, str, str]]:
        tip = subprocess.run(["git", "rev-parse", "HEAD"], cwd=epoch, capture_output=True, text=True, check=True).stdout
        if tip not in by_tip:
            by_tip[tip] = stored_mails(epoch)
        return by_tip[tip]

    return {
        layout: {name: [m for e in paths for m in mails(e)] for name, paths in built.epochs.items()}
        for layout, built in mirrors.items()
    }


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: the first archive opened parses, the others read it."""
    return tmp_path_factory.mktemp("lists-cache") / "cache.duckdb"


def _open(built: Built, cache: Path) -> patchtrack.Archive:  # type: ignore[name-defined]
    return patchtrack.open_archive(built.root, cache=cache)  # type: ignore[attr-defined]


# --- the git edge: what discover() finds (no parsing) -------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_mirror_lists_epochs_and_tips(layout: str, mirrors: dict[str, Built]) -> None:
    built = mirrors[layout]
    found = discover(built.root)
    assert list(found) == sorted(built.epochs)
    assert {name: source.tips() for name, source in found.items()} == built.tips
    for name, source in found.items():
        assert [e.path for e in source.epochs] == [p.resolve() for p in built.epochs[name]]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_mirror_walk_is_what_git_stores(
    layout: str, mirrors: dict[str, Built], stored: dict[str, dict[str, list[tuple[str, str, str]]]]
) -> None:
    for name, source in discover(mirrors[layout].root).items():
        assert [(r.commit, r.oid) for r in source.walk(dedupe=False)] == [(c, b) for c, b, _ in stored[layout][name]]


def test_split_epochs_keep_every_mail_in_order(
    corpus_clones: dict[str, Path], mirrors: dict[str, Built], stored: dict[str, dict[str, list[tuple[str, str, str]]]]
) -> None:
    whole = [m for c, p in _pick(corpus_clones, (SPLIT,)).items() for m in stored_mails(p)]
    split = stored["split"][SPLIT]
    assert [(b, i) for _, b, i in split] == [(b, i) for _, b, i in whole]
    epoch0, epoch1 = mirrors["split"].epochs[SPLIT]
    first = first_parent_commits(epoch1)[0]
    assert subprocess.run(["git", "rev-list", "--parents", "-1", first], cwd=epoch1, capture_output=True,
                          text=True, check=True).stdout.split() == [first]  # a root commit, as a new epoch's first
    assert len(first_parent_commits(epoch0)) + len(first_parent_commits(epoch1)) == len(whole)


# --- the archive of many lists (patchtrack.open_archive) ----------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_distinct_mail_once(
    layout: str, mirrors: dict[str, Built], stored: dict[str, dict[str, list[tuple[str, str, str]]]], cache_path: Path
) -> None:
    archive = _open(mirrors[layout], cache_path)
    assert archive.lists == tuple(sorted(mirrors[layout].epochs))
    assert archive.tips() == mirrors[layout].tips
    messages = list(archive.messages())
    assert len(messages) == union_count(stored[layout])
    assert len({m.oid for m in messages}) == len(messages)
    crossed = [m for m in messages if len(m.lists) > 1]
    assert crossed, "the lists share mail: some message must have deliveries on both"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_deliveries_are_where_git_has_the_mail(
    layout: str, mirrors: dict[str, Built], stored: dict[str, dict[str, list[tuple[str, str, str]]]], cache_path: Path
) -> None:
    where = {(name, commit): (blob, msgid) for name, mails in stored[layout].items() for commit, blob, msgid in mails}
    epoch_of = {
        (name, commit): number
        for name, paths in mirrors[layout].epochs.items()
        for number, path in zip(sorted(mirrors[layout].tips[name]), paths)
        for commit in first_parent_commits(path)
    }
    delivered: set[tuple[str, str]] = set()
    lists_of_id: dict[str, set[str]] = {}
    for message in _open(mirrors[layout], cache_path).messages():
        assert message.deliveries, message.msgid
        # the lists in order of first arrival; the deliveries oldest first
        assert message.lists == tuple(dict.fromkeys(d.list for d in message.deliveries))
        assert sorted(message.lists) == sorted({d.list for d in message.deliveries})
        assert [d.time for d in message.deliveries] == sorted(d.time for d in message.deliveries)
        for d in message.deliveries:
            blob, msgid = where[(d.list, d.commit)]
            assert d.oid == blob and d.epoch == epoch_of[(d.list, d.commit)]
            if message.msgid and msgid:
                assert msgid == message.msgid
            delivered.add((d.list, blob))
            lists_of_id.setdefault(msgid, set()).add(d.list)
    # every mail of every list is delivered (a blob stored twice on one list: once)
    assert delivered == {(name, blob) for name, mails in stored[layout].items() for _, blob, _ in mails}
    expected: dict[str, set[str]] = {}
    for name, mails in stored[layout].items():
        for _, _, msgid in mails:
            expected.setdefault(msgid, set()).add(name)
    assert lists_of_id == expected


@pytest.mark.parametrize(
    "layout",
    # grokmirror's layout differs from the clones' only in how the lists are found
    # (the other tests of this file run on it in CI): its 6.5 s are kept for CI
    ["clones", pytest.param("grokmirror", marks=pytest.mark.slow), "split"],
)
def test_single_list_report_of_the_mirror_counts_as_the_single_inbox(
    layout: str, corpus_clones: dict[str, Path], mirrors: dict[str, Built], cache_path: Path
) -> None:
    archive = _open(mirrors[layout], cache_path)
    for corpus, clone in _pick(corpus_clones, PAIR).items():
        name = short_name(corpus)
        alone = patchtrack.open_inbox(clone, cache=cache_path).report().to_dict()
        of_mirror = archive.report(lists=[name]).to_dict()
        assert {k: of_mirror[k] for k in COUNTED_FIELDS} == {k: alone[k] for k in COUNTED_FIELDS}


@pytest.mark.slow(reason="all five corpora (57k mails) parsed and checked as one archive")
def test_all_five_lists_each_mail_once(
    corpus_clones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, cache_path: Path
) -> None:
    if len(BUNDLES) < 5:
        pytest.skip("needs all five corpora")
    built = _build("clones", dict(corpus_clones), tmp_path_factory.mktemp("five") / "clones")
    mails = {name: stored_mails(paths[0]) for name, paths in built.epochs.items()}
    archive = _open(built, cache_path)
    assert archive.lists == tuple(sorted(mails))
    delivered: set[tuple[str, str]] = set()
    count = 0
    for message in archive.messages():
        count += 1
        delivered.update((d.list, d.oid) for d in message.deliveries)
    assert count == union_count(mails)
    assert delivered == {(name, blob) for name, ms in mails.items() for _, blob, _ in ms}


def test_split_list_as_a_clone_group(mirrors: dict[str, Built], tmp_path: Path) -> None:
    """The split list's two epochs cloned apart (``linux-fpga.vger.kernel.org.0.git``,
    ``….1.git``, in different folders): one list, the same walk as its v2 inbox."""
    inbox = mirrors["split"].root / "lore" / SPLIT
    for number, folder in ((0, "a"), (1, "b")):
        shared_clone(inbox / "git" / f"{number}.git", tmp_path / folder / f"{SPLIT}.vger.kernel.org.{number}.git")
    found = discover(tmp_path)
    assert list(found) == [SPLIT]
    assert found[SPLIT].tips() == mirrors["split"].tips[SPLIT]
    walked = [(r.epoch, r.commit, r.oid) for r in found[SPLIT].walk(dedupe=False)]
    assert walked == [(r.epoch, r.commit, r.oid) for r in discover(inbox)[SPLIT].walk(dedupe=False)]
