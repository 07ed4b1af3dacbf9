"""Damaged archives: the readable mail is read, the rest is counted and named, and
nothing raises but patchtrack's own errors — serially, on a process pool and on
injected executors (threads, and executors whose futures fail).

The damage is done here, to copies: a v2 inbox built from the fixture mails (three
epochs of loose objects, the middle one damaged) and, when the corpus is present,
ksummit's packed epoch. git's own listing of the intact copy is the oracle for what
should still be read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import patchtrack
from conftest import CORPUS, MAILS, first_deliveries, git, git_messages
from patchtrack._engine import _load
from patchtrack.cli import main
from patchtrack.errors import DamagedArchiveError, InboxError, UnreadableError

# -- building and damaging -------------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture mails as a v2 inbox of three epochs (15 commits each), loose objects."""
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("pristine") / "gizmo", epoch_size=15)


@pytest.fixture
def inbox(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the pristine inbox to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "gizmo", symlinks=True))


def loose(repo: Path, rev: str) -> Path:
    """The loose object file of ``rev`` in ``repo``."""
    oid = git("rev-parse", rev, cwd=repo).strip()
    return repo / "objects" / oid[:2] / oid[2:]


def epoch(inbox: Path, n: int) -> Path:
    return inbox / "git" / f"{n}.git"


def listing(inbox: Path, *epochs: int) -> list[tuple[str, str]]:
    """git's (commit, blob) of every mail in ``epochs`` of ``inbox`` (all by default)."""
    found: list[tuple[str, str]] = []
    for n in epochs or range(3):
        found += git_messages(epoch(inbox, n), "HEAD")
    return found


def arrival(repo: Path, commit: str) -> datetime:
    return datetime.fromtimestamp(int(git("log", "-1", "--format=%ct", commit, cwd=repo)), timezone.utc)


# -- the ways of parsing -----------------------------------------------------------


class _FailingFutures(Executor):
    """An executor whose every future fails (a cluster that lost its workers)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_exception(RuntimeError("the cluster went away"))
        return future


class _RefusingExecutor(Executor):
    """An executor that refuses work (shut down under the caller)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        raise RuntimeError("cannot schedule new futures after shutdown")


class _WrongCount(Executor):
    """An executor that answers with the wrong number of records."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs)[1:])
        return future


MODES = ["serial", "pool", "processes", "threads", "failing", "refusing", "wrong-count"]


@pytest.fixture(params=MODES)
def parsing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """``open_inbox`` arguments for one way of parsing. Chunks of 3 mails, so the
    fixture inbox starts a pool of its own after 6; two usable CPUs whatever the machine."""
    monkeypatch.setattr(_load, "CHUNK", 3)
    monkeypatch.setattr(_load, "usable_cpus", lambda: 2)
    mode = request.param
    if mode == "serial":
        yield {"workers": 1}
    elif mode == "pool":
        yield {"workers": 2}
    elif mode == "processes":
        with ProcessPoolExecutor(2) as pool:
            yield {"executor": pool}
    elif mode == "threads":
        with ThreadPoolExecutor(2) as pool:
            yield {"executor": pool}
    else:
        yield {"executor": {"failing": _FailingFutures, "refusing": _RefusingExecutor, "wrong-count": _WrongCount}[mode]()}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.splitlines()


# -- one mail unreadable -------------------------------------------------------------


def _one_unreadable(inbox: Path, rev: str, reason: str, damage: Callable[[Path], None]) -> tuple[str, str, str]:
    """Damage epoch 1's ``rev`` object; returns (commit, the object's id, its blob id)."""
    repo = epoch(inbox, 1)
    commit = git("rev-parse", rev.split(":")[0].split("^")[0], cwd=repo).strip()
    target = git("rev-parse", rev, cwd=repo).strip()
    blob = git("rev-parse", f"{commit}:m", cwd=repo).strip()
    damage(loose(repo, rev))
    return commit, target, blob


def _garbage(path: Path) -> None:
    """Overwrite a loose object with bytes that are neither zlib nor libgit2's old
    uncompressed loose format (a type 0 header): fixed, so every run reads the same."""
    path.chmod(0o644)
    path.write_bytes(bytes(300))


CASES = {
    # name: (object of epoch 1's HEAD~4, what is done to it, reason, found by the walk itself)
    "missing-blob": ("HEAD~4:m", Path.unlink, "missing-blob", True),
    "missing-tree": ("HEAD~4^{tree}", Path.unlink, "missing-tree", True),
    "corrupt-blob": ("HEAD~4:m", _garbage, "corrupt-blob", False),
    "corrupt-tree": ("HEAD~4^{tree}", _garbage, "corrupt-tree", True),
}


@pytest.mark.parametrize("case", CASES)
def test_one_unreadable_mail_is_counted_named_and_stepped_over(inbox: Path, case: str) -> None:
    rev, damage, reason, by_walk = CASES[case]
    expected = listing(inbox)
    commit, target, blob = _one_unreadable(inbox, rev, reason, damage)
    walk = patchtrack.open_inbox(inbox).walk()
    records = list(walk)  # the RawMessages: no bytes, no record for the unreadable mail
    assert [(r.commit, r.oid) for r in records] == [p for p in expected if p[0] != commit]
    stats = walk.stats
    assert stats.unreadable == 1 and stats.messages == len(expected) - 1 and stats.commits == len(expected)
    assert walk.unreadable == (patchtrack.Unreadable(1, commit, target, reason, walk.unreadable[0].detail),)
    assert walk.damage == ()
    # git cannot read it either
    assert subprocess.run(["git", "cat-file", "-p", target], cwd=epoch(inbox, 1), capture_output=True).returncode != 0
    # the references: the mail is there, found unreadable by the walk or when read
    walk = patchtrack.open_inbox(inbox).walk()
    refs = list(walk.refs())
    assert [(r[2], str(r[0])) for r in refs] == [(c, target if c == commit else b) for c, b in expected]
    assert walk.stats.unreadable == (1 if by_walk else 0)
    bad = next(r for r in refs if r[2] == commit)
    with pytest.raises(UnreadableError) as caught:
        bad[1].data
    assert (caught.value.oid, caught.value.reason) == (target, reason)
    assert bad[1].size == 0 or not by_walk


@pytest.mark.parametrize("case", CASES)
def test_unreadable_mail_is_a_problem_record_whichever_way_it_is_parsed(
    inbox: Path, case: str, parsing: dict[str, Any]
) -> None:
    rev, damage, reason, _ = CASES[case]
    good = patchtrack.open_inbox(inbox, workers=1)
    expected = list(good.messages())
    commit, target, blob = _one_unreadable(inbox, rev, reason, damage)
    got = list(patchtrack.open_inbox(inbox, **parsing).messages())
    assert len(got) == len(expected)
    for before, after in zip(expected, got):
        if before.commit != commit:
            assert after == before
            continue
        assert after.problems == (f"unreadable:{reason}",)
        assert (after.oid, after.commit, after.epoch, after.msgid) == (target, commit, 1, "")
        assert after.date == arrival(epoch(inbox, 1), commit)
    # a series assembly steps over it too
    assert patchtrack.open_inbox(inbox, **parsing).series()


def test_unreadable_mail_is_not_cached_and_is_read_once_mended(pristine: Path, inbox: Path, tmp_path: Path) -> None:
    path = loose(epoch(inbox, 1), "HEAD~4:m")
    kept = path.read_bytes()
    _garbage(path)
    cache = tmp_path / "cache.duckdb"
    first = list(patchtrack.open_inbox(inbox, cache=cache, workers=1).messages())
    assert [m.problems for m in first if m.problems[:1] == ("unreadable:corrupt-blob",)]
    path.write_bytes(kept)
    again = list(patchtrack.open_inbox(inbox, cache=cache, workers=1).messages())
    assert again == list(patchtrack.open_inbox(pristine, workers=1).messages())


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cli_notes_unreadable_mails_and_exits_0(
    inbox: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    monkeypatch.setattr(_load, "CHUNK", 3)
    monkeypatch.setattr(_load, "usable_cpus", lambda: 2)
    repo = epoch(inbox, 1)
    lost = [git("rev-parse", f"HEAD~{n}:m", cwd=repo).strip() for n in (2, 4, 6, 8, 10)]
    for n in (2, 4, 6, 8):
        loose(repo, f"HEAD~{n}:m").unlink()
    _garbage(loose(repo, "HEAD~10:m"))
    code, out, err = run(capsys, "messages", str(inbox), "--no-cache", "--workers", workers)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 41
    assert sorted(r["oid"] for r in rows if r["problems"][:1] and r["problems"][0].startswith("unreadable:")) == sorted(lost)
    assert err[-2] == "patchtrack: 36 messages from 41 commits (5 unreadable)"
    prefix = "patchtrack: note: 5 mail(s) could not be read: "
    assert err[-1].startswith(prefix) and err[-1].endswith(", …")
    named = err[-1][len(prefix) :].split(", ")[:-1]
    assert len(named) == 3
    assert all(oid in lost and why in ("(missing-blob)", "(corrupt-blob)") for oid, why in (n.split() for n in named))
    # --raw reads no mail: the missing ones are found, not the corrupt one
    code, out, err = run(capsys, "messages", str(inbox), "--raw", "--no-cache")
    assert code == 0 and len(out.splitlines()) == 41 and err[-2].endswith("(4 unreadable)")
    # every command that assembles series says which mails it could not include
    code, _, err = run(capsys, "series", str(inbox), "--no-cache", "--workers", workers)
    assert code == 0 and err[-1].startswith(prefix)
    assert {n.split()[0] for n in err[-1][len(prefix) :].split(", ")[:-1]} <= set(lost)
    code, _, err = run(capsys, "series", str(inbox), "--no-cache", "HEAD~1..")  # none of them in this range
    assert code == 0 and not any("could not be read" in line for line in err)
    # the report says what it could not count, in every format, and still exits 0
    code, out, err = run(capsys, "report", str(inbox), "--no-cache", "--workers", workers)
    lost_line = "Not counted: 5 mail(s) of the range could not be read from the archive (missing or corrupt objects)."
    assert code == 0 and lost_line in out.splitlines()
    assert err[-1] == "patchtrack: note: 5 mail(s) of the range could not be read (not counted)"
    code, out, err = run(capsys, "report", str(inbox), "--no-cache", "--format", "json")
    assert code == 0 and json.loads(out)["unreadable_messages"] == 5
    code, out, _ = run(capsys, "report", str(inbox), "--no-cache", "HEAD~1..")  # none of them in this range
    assert code == 0 and "Not counted" not in out


# -- an epoch that cannot be read ------------------------------------------------------


def _truncate_packed_refs(keep: int) -> Callable[[Path], None]:
    def damage(repo: Path) -> None:
        git("pack-refs", "--all", cwd=repo)
        packed = repo / "packed-refs"
        packed.write_bytes(packed.read_bytes()[:keep])

    return damage


def _remove_tip(repo: Path) -> None:
    loose(repo, "HEAD").unlink()


def _objects_unreadable(repo: Path) -> None:
    shutil.rmtree(repo / "objects")
    (repo / "objects").write_text("not a folder\n")


def _objects_of_tip_unreadable(repo: Path) -> None:
    folder = loose(repo, "HEAD").parent
    shutil.rmtree(folder)
    folder.write_text("not a folder\n")


EPOCH_DAMAGE = {
    "packed-refs cut mid-line": (_truncate_packed_refs(60), "refs are lost"),
    "packed-refs cut in its header": (_truncate_packed_refs(30), "refs are lost"),
    "tip commit missing": (_remove_tip, "which is missing"),
    "objects/ replaced by a file": (_objects_unreadable, "cannot be opened"),
    "tip's object folder unreadable": (_objects_of_tip_unreadable, "which is missing"),
}


@pytest.mark.parametrize("damage", EPOCH_DAMAGE)
def test_damaged_epoch_is_never_silently_empty(inbox: Path, damage: str, parsing: dict[str, Any]) -> None:
    do, why = EPOCH_DAMAGE[damage]
    readable = listing(inbox, 0, 2)
    do(epoch(inbox, 1))
    opened = patchtrack.open_inbox(inbox, **parsing)
    walk = opened.walk()
    assert [(r.commit, r.oid) for r in walk] == readable
    assert [(d.epoch, d.path) for d in walk.damage] == [(1, str(epoch(inbox, 1)))]
    assert why in walk.damage[0].reason and str(walk.damage[0]).startswith(f"epoch 1 ({epoch(inbox, 1)}): ")
    with pytest.raises(DamagedArchiveError, match="epoch 1 "):
        opened.tips()  # a cursor without epoch 1 would forget it
    # messages: every readable one, then the error
    got: list[str] = []
    with pytest.raises(DamagedArchiveError, match=why):
        for m in opened.messages():
            got.append(m.oid)
    assert got == [blob for _, blob in readable]
    with pytest.raises(DamagedArchiveError, match="epoch 1 "):
        opened.series()
    with pytest.raises(DamagedArchiveError, match="epoch 1 "):
        opened.report()
    # a range or cursor over the damaged epoch says so; one beside it does not
    first = git("rev-list", "--max-parents=0", "HEAD", cwd=epoch(inbox, 0)).strip()
    assert [d.epoch for d in _drained(opened.walk(f"{first}.."))] == [1]
    cursor = {"0": git("rev-parse", "HEAD", cwd=epoch(inbox, 0)).strip()}
    assert [d.epoch for d in _drained(opened.walk(after=cursor))] == [1]
    inside = git("rev-parse", "HEAD~3", cwd=epoch(inbox, 0)).strip()
    assert _drained(opened.walk(f"{first}..{inside}")) == ()


def _drained(walk: patchtrack.Walk) -> tuple[patchtrack.Damage, ...]:
    for _ in walk:
        pass
    return walk.damage


@pytest.mark.parametrize("damage", EPOCH_DAMAGE)
def test_cli_damaged_epoch_writes_what_it_can_and_exits_1(
    inbox: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    do, why = EPOCH_DAMAGE[damage]
    readable = listing(inbox, 0, 2)
    do(epoch(inbox, 1))
    code, out, err = run(capsys, "messages", str(inbox), "--no-cache")
    assert code == 1
    assert [json.loads(line)["oid"] for line in out.splitlines()] == [b for _, b in readable]
    assert err[-1].startswith(f"patchtrack: error: epoch 1 ({epoch(inbox, 1)}): ") and why in err[-1]
    assert not any("Traceback" in line for line in err)
    for command in (["tips"], ["series", "--no-cache"], ["report", "--no-cache"]):
        code, out, err = run(capsys, command[0], str(inbox), *command[1:])
        assert (code, out, len(err)) == (1, "", 1), command
        assert err[0].startswith("patchtrack: error: epoch 1 ") and why in err[0]


def test_empty_new_epoch_is_not_damage_but_one_with_objects_and_no_refs_is(inbox: Path) -> None:
    git("init", "-q", "--bare", str(epoch(inbox, 3)))
    opened = patchtrack.open_inbox(inbox)
    walk = opened.walk()
    assert len(list(walk)) == 41 and walk.damage == ()
    assert sorted(opened.tips()) == [0, 1, 2]
    # objects written, refs lost: damaged, not empty
    blob = git("hash-object", "-w", "--stdin", cwd=epoch(inbox, 3), input="a mail\n").strip()
    assert (epoch(inbox, 3) / "objects" / blob[:2]).is_dir()
    walk = opened.walk()
    assert len(list(walk)) == 41 and [d.epoch for d in walk.damage] == [3]
    with pytest.raises(DamagedArchiveError, match="epoch 3 .*refs are lost"):
        opened.tips()


def test_newest_epoch_damaged_makes_names_unresolvable_not_silently_older(inbox: Path) -> None:
    _remove_tip(epoch(inbox, 2))
    opened = patchtrack.open_inbox(inbox)
    with pytest.raises(DamagedArchiveError, match="epoch 2"):
        opened.walk("HEAD~2..")  # HEAD is read in the newest epoch, which cannot be read
    with pytest.raises(DamagedArchiveError, match="epoch 2"):
        opened.walk("0000000..")  # not found, and epoch 2 could not be searched
    tip1 = git("rev-parse", "HEAD", cwd=epoch(inbox, 1)).strip()
    walk = opened.walk(f"{tip1}..")  # the end of the range is in the damaged epoch
    assert list(walk) == [] and [d.epoch for d in walk.damage] == [2]


def test_single_epoch_with_its_tip_lost_is_damaged_not_empty(inbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = epoch(inbox, 0)
    _remove_tip(repo)
    with pytest.raises(DamagedArchiveError, match="which is missing"):
        patchtrack.open_inbox(repo)
    code, out, err = run(capsys, "messages", str(repo))
    assert (code, out, len(err)) == (1, "", 1) and "empty repository" not in err[0]
    # a truly empty repository is still no archive: the caller's mistake
    git("init", "-q", "--bare", str(inbox / "empty.git"))
    code, _, err = run(capsys, "messages", str(inbox / "empty.git"))
    assert code == 2 and "empty repository" in err[0]


def test_unreadable_inbox_directory_is_one_line_exit_2(
    inbox: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests run as root, whom chmod 000 does not stop: the listing call is made to
    fail as it would for anyone else."""
    real = os.scandir

    def denied(path: Any = ".") -> Any:
        if Path(path) == inbox:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", denied)
    with pytest.raises(InboxError, match="cannot read: Permission denied"):
        patchtrack.open_inbox(inbox)
    code, out, err = run(capsys, "messages", str(inbox))
    assert (code, out, err) == (2, "", [f"patchtrack: error: {inbox}: cannot read: Permission denied"])


def test_unreadable_epoch_directory_is_damage(inbox: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An epoch that cannot be listed (permission denied, simulated: see above)."""
    readable = listing(inbox, 0, 2)
    real = patchtrack.archive._source.pygit2.Repository

    def denied(path: str, *args: Any) -> Any:
        if Path(path) == epoch(inbox, 1):
            raise patchtrack.archive._source.pygit2.GitError(f"failed to resolve path '{path}': Permission denied")
        return real(path, *args)

    monkeypatch.setattr(patchtrack.archive._source.pygit2, "Repository", denied)
    walk = patchtrack.open_inbox(inbox).walk()
    assert [(r.commit, r.oid) for r in walk] == readable
    assert [d.epoch for d in walk.damage] == [1] and "Permission denied" in walk.damage[0].reason


# -- history cut by a missing commit ------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "corrupt"])
def test_missing_mid_history_commit_reads_the_mail_after_it(
    inbox: Path, how: str, parsing: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = epoch(inbox, 1)
    commits = git("rev-list", "--reverse", "HEAD", cwd=repo).split()
    cut = commits[7]
    after = [(c, b) for c, b in listing(inbox, 1) if c in commits[8:]]
    expected = listing(inbox, 0) + after + listing(inbox, 2)
    if how == "missing":
        loose(repo, cut).unlink()
    else:
        _garbage(loose(repo, cut))
    assert subprocess.run(["git", "rev-list", "HEAD"], cwd=repo, capture_output=True).returncode != 0  # git gives up
    opened = patchtrack.open_inbox(inbox, **parsing)
    walk = opened.walk()
    assert [(r.commit, r.oid) for r in walk] == expected
    (damage,) = walk.damage
    assert (damage.epoch, damage.commit, damage.path) == (1, cut, str(repo))
    assert f"{how} commit {cut}" in damage.reason and f"the parent of {commits[8][:12]}" in damage.reason
    assert "the 7 commit(s) after it were walked" in damage.reason and "(7 other commit(s)" in damage.reason
    assert opened.tips()[1] == commits[-1]  # the tip is fine: the cursor is whole
    got = []
    with pytest.raises(DamagedArchiveError, match=cut):
        for m in opened.messages():
            got.append((m.commit, m.oid))
    assert got == expected
    # a range that ends before the cut, or starts after it, is whole
    assert [(r.commit, r.oid) for r in opened.walk(f"{commits[9]}..{commits[12]}")] == [
        (c, b) for c, b in after if c in commits[10:13]
    ]
    code, out, err = run(capsys, "messages", str(inbox), "--no-cache")
    assert code == 1 and len(out.splitlines()) == len(expected)
    assert err[-1].startswith(f"patchtrack: error: epoch 1 ({repo}): {how} commit {cut}")


# -- workers -------------------------------------------------------------------------


def test_a_mail_that_raises_in_the_worker_is_a_problem_record(
    pristine: Path, parsing: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = list(patchtrack.open_inbox(pristine, workers=1).messages())
    victim = expected[10].oid
    real = _load.parse_message

    def fragile(raw: Any) -> Any:
        if raw.oid == victim:
            raise RuntimeError("boom")
        return real(raw)

    monkeypatch.setattr(_load, "parse_message", fragile)  # forked workers inherit it
    got = list(patchtrack.open_inbox(pristine, **parsing).messages())
    assert [m.oid for m in got] == [m.oid for m in expected]
    assert [m for m in got if m.oid != victim] == [m for m in expected if m.oid != victim]
    (bad,) = [m for m in got if m.oid == victim]
    assert bad.problems == ("unparsable:RuntimeError",) and bad.commit == expected[10].commit


def test_a_pool_that_breaks_is_made_good_here(pristine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-chunk (an out-of-memory kill) breaks the whole pool: its
    chunks are parsed in this process, and no second pool is started."""
    monkeypatch.setattr(_load, "CHUNK", 3)
    monkeypatch.setattr(_load, "usable_cpus", lambda: 2)
    expected = list(patchtrack.open_inbox(pristine, workers=1).messages())
    parent = os.getpid()
    real = _load.parse_message

    def dies_in_a_worker(raw: Any) -> Any:
        if os.getpid() != parent and raw.oid == expected[20].oid:
            os._exit(9)
        return real(raw)

    pools: list[int] = []
    make = _load._pool

    def counted(size: int) -> ProcessPoolExecutor:
        pools.append(size)
        return make(size)

    monkeypatch.setattr(_load, "parse_message", dies_in_a_worker)
    monkeypatch.setattr(_load, "_pool", counted)
    assert list(patchtrack.open_inbox(pristine, workers=2).messages()) == expected
    assert pools == [2]


def test_pool_starts_no_more_processes_than_chunks_left(pristine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_load, "CHUNK", 3)
    monkeypatch.setattr(_load, "usable_cpus", lambda: 8)
    started: list[int] = []
    make = _load._pool

    def counted(size: int) -> ProcessPoolExecutor:
        pool = make(size)
        real = pool.submit

        def submit(*args: Any, **kwargs: Any) -> Future[Any]:
            future = real(*args, **kwargs)
            if not started:
                started.append(len(pool._processes))  # the processes it forked
            return future

        pool.submit = submit  # type: ignore[method-assign]
        return pool

    monkeypatch.setattr(_load, "_pool", counted)
    commits = git("rev-list", "--reverse", "HEAD", cwd=epoch(pristine, 0)).split()
    # 12 mails, 4 chunks: the pool would start at the third (6 parsed here), with 2 to hand out
    got = list(patchtrack.open_inbox(pristine, workers=4).messages(f"{commits[0]}..{commits[12]}"))
    assert len(got) == 12 and started == [2]
    # the whole inbox: 14 chunks, more than 4 to hand out: as many as asked for
    started.clear()
    list(patchtrack.open_inbox(pristine, workers=4).messages())
    assert started == [4]
    # 7 mails, 3 chunks: one left when it would start, parsed here sooner than a process starts
    started.clear()
    assert len(list(patchtrack.open_inbox(pristine, workers=4).messages(f"{commits[0]}..{commits[7]}"))) == 7
    assert started == []


def test_pool_sizes_are_capped_at_usable_cpus(pristine: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert _load.usable_cpus() == 3
    assert patchtrack.open_inbox(pristine, workers=64).workers == 3
    assert patchtrack.open_inbox(pristine).workers == 3
    assert patchtrack.open_inbox(pristine, workers=2).workers == 2


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, "2", True, [2]])
def test_workers_must_be_a_positive_whole_number(pristine: Path, bad: Any) -> None:
    with pytest.raises(ValueError, match="workers must be"):
        patchtrack.open_inbox(pristine, workers=bad)


@pytest.mark.parametrize("bad", ["0", "-1"])
def test_cli_workers_below_one_is_one_line_exit_2(pristine: Path, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code, out, err = run(capsys, "messages", str(pristine), f"--workers={bad}")
    assert (code, out, err) == (2, "", [f"patchtrack: error: --workers must be at least 1, not {bad}"])


@pytest.mark.parametrize("bad", ["two", "1.5", ""])
def test_cli_workers_not_a_number_is_exit_2(pristine: Path, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    with pytest.raises(SystemExit) as exited:  # argparse's own message
        main(["messages", str(pristine), f"--workers={bad}"])
    err = capsys.readouterr().err.splitlines()
    assert exited.value.code == 2 and "--workers" in err[-1]


def test_cli_workers_are_capped_at_usable_cpus(
    pristine: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_load, "CHUNK", 3)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    sizes: list[int] = []
    make = _load._pool
    monkeypatch.setattr(_load, "_pool", lambda size: sizes.append(size) or make(size))
    code, out, _ = run(capsys, "messages", str(pristine), "--no-cache", "--workers", "64")
    assert code == 0 and len(out.splitlines()) == 41 and sizes == [2]


_ORPHAN_SCRIPT = """
import os, sys, time
import patchtrack
from patchtrack._engine import _load
_load.CHUNK = 3
_load.usable_cpus = lambda: 2
for n, m in enumerate(patchtrack.open_inbox(sys.argv[1], workers=2).messages()):
    if n == 12:
        print("parsing", flush=True)
        time.sleep(600)
"""


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find the workers")
def test_workers_exit_when_their_parent_is_killed(pristine: Path) -> None:
    import signal
    import sys
    import time

    run = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT, str(pristine)], stdout=subprocess.PIPE, text=True
    )
    workers: list[int] = []
    try:
        assert run.stdout is not None and run.stdout.readline() == "parsing\n"
        workers = _children(run.pid)
        assert len(workers) == 2 and all(_running(w) for w in workers)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 10
        while any(_running(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_running(w) for w in workers)
    finally:
        run.kill()
        for w in workers:  # only the processes this test started
            if _running(w):
                os.kill(w, signal.SIGKILL)


# -- the corpus: ksummit's packed epoch ---------------------------------------------

_KSUMMIT = CORPUS / "ksummit.lists.linux.dev.0.bundle"


@pytest.fixture(scope="module")
def ksummit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _KSUMMIT.exists():
        if os.environ.get("PATCHTRACK_REQUIRE_CORPUS") == "1":
            pytest.fail(f"PATCHTRACK_REQUIRE_CORPUS=1 but {_KSUMMIT} is absent")
        pytest.skip(f"no {_KSUMMIT}")
    dest = tmp_path_factory.mktemp("ksummit") / "ksummit.lists.linux.dev.0.git"
    git("clone", "-q", "--bare", str(_KSUMMIT), str(dest))
    return dest


def _pack(repo: Path) -> tuple[Path, Path]:
    (pack,) = (repo / "objects" / "pack").glob("*.pack")
    return pack, pack.with_suffix(".idx")


def _repack_without(repo: Path, *oids: str) -> None:
    """Rewrite the epoch's pack without ``oids``, as a partial clone lacks them."""
    listed = git("rev-list", "--objects", "--all", cwd=repo).splitlines()
    keep = "".join(line.split()[0] + "\n" for line in listed if line.split()[0] not in oids)
    old = _pack(repo)
    git("pack-objects", "-q", str(repo / "objects" / "pack" / "pack"), cwd=repo, input=keep)
    for path in old:
        path.unlink()


def _copy(ksummit: Path, factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(ksummit, factory.mktemp("damaged") / ksummit.name))


@pytest.fixture
def usual_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of the usual size on the corpus: a pool starts after 400 mails."""
    monkeypatch.setattr(_load, "CHUNK", 200)


RECENT = "HEAD~800.."
"""The range messages() is checked over on the corpus: enough mail for a pool to
start (400), a quarter of the archive's parsing time."""


@pytest.fixture(scope="module")
def without_blobs(ksummit: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """ksummit as a partial clone: three mails' blobs are not in its pack."""
    expected = git_messages(ksummit, "HEAD")
    lost = {expected[i][1] for i in (5, len(expected) - 700, len(expected) - 1)}
    copy = _copy(ksummit, tmp_path_factory)
    _repack_without(copy, *lost)
    return copy, lost


@pytest.fixture(scope="module")
def flipped(ksummit: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """ksummit with bytes flipped inside one recent mail in its pack."""
    copy = _copy(ksummit, tmp_path_factory)
    recent = git_messages(ksummit, RECENT)
    return copy, _flip_inside(copy, {b for _, b in recent[len(recent) // 2 :]})


def test_corpus_partial_clone_missing_blobs(
    ksummit: Path, without_blobs: tuple[Path, set[str]], parsing: dict[str, Any], usual_chunks: None
) -> None:
    damaged, lost = without_blobs
    expected = git_messages(ksummit, "HEAD")
    walk = patchtrack.open_inbox(damaged).walk(dedupe=False)
    assert [(r.commit, r.oid) for r in walk] == [p for p in expected if p[1] not in lost]
    assert {u.oid for u in walk.unreadable} == lost and walk.stats.unreadable == sum(b in lost for _, b in expected)
    assert {u.reason for u in walk.unreadable} == {"missing-blob"}
    recent = git_messages(ksummit, RECENT)
    got = list(patchtrack.open_inbox(damaged, **parsing).messages(RECENT))
    assert [m.oid for m in got] == [b for _, b in first_deliveries(recent)]
    assert {m.oid for m in got if m.problems == ("unreadable:missing-blob",)} == lost & {b for _, b in recent}


def _flip_inside(repo: Path, among: set[str]) -> str:
    """Overwrite the middle of one mail's compressed bytes in the pack: a mail of
    ``among`` stored whole (no delta) and no other object's delta base. Returns its id."""
    pack, idx = _pack(repo)
    rows = [line.split() for line in git("verify-pack", "-v", str(idx), cwd=repo).splitlines()]
    objects = [r for r in rows if len(r) >= 5 and r[1] in ("blob", "tree", "commit")]
    bases = {r[6] for r in objects if len(r) == 7}
    sha, _, _, size, offset = next(
        r[:5] for r in objects if r[0] in among and len(r) == 5 and r[0] not in bases and int(r[3]) > 200
    )
    start = int(offset) + int(size) // 2
    pack.chmod(0o644)
    with pack.open("r+b") as fh:
        fh.seek(start)
        fh.write(b"\xff" * 16)
    return sha


def test_corpus_bytes_flipped_inside_a_pack(
    ksummit: Path, flipped: tuple[Path, str], parsing: dict[str, Any], usual_chunks: None
) -> None:
    damaged, bad = flipped
    expected = git_messages(ksummit, "HEAD")
    recent = git_messages(ksummit, RECENT)
    assert subprocess.run(["git", "cat-file", "-p", bad], cwd=damaged, capture_output=True).returncode != 0
    walk = patchtrack.open_inbox(damaged).walk(dedupe=False)
    assert [(r.commit, r.oid) for r in walk] == [p for p in expected if p[1] != bad]
    assert [(u.oid, u.reason) for u in walk.unreadable] == [(bad, "corrupt-blob")] * sum(b == bad for _, b in expected)
    got = list(patchtrack.open_inbox(damaged, **parsing).messages(RECENT))
    assert [m.oid for m in got] == [b for _, b in first_deliveries(recent)]
    assert [m.oid for m in got if m.problems == ("unreadable:corrupt-blob",)] == [bad]


def test_corpus_commit_missing_mid_history(
    ksummit: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus_copy = _copy(ksummit, tmp_path_factory)
    commits = git("rev-list", "--reverse", "HEAD", cwd=ksummit).split()
    cut = len(commits) // 2
    _repack_without(corpus_copy, commits[cut])
    expected = [p for p in git_messages(ksummit, "HEAD") if p[0] in set(commits[cut + 1 :])]
    walk = patchtrack.open_inbox(corpus_copy).walk(dedupe=False)
    assert [(r.commit, r.oid) for r in walk] == expected
    (damage,) = walk.damage
    assert damage.commit == commits[cut]
    assert f"the {len(commits) - cut - 1} commit(s) after it were walked" in damage.reason
    assert f"({cut} other commit(s)" in damage.reason
    code, out, err = run(capsys, "messages", str(corpus_copy), "--raw", "--no-dedupe")
    assert code == 1 and len(out.splitlines()) == len(expected)
    assert err[-1].startswith("patchtrack: error: epoch 0 ") and commits[cut] in err[-1]


def test_series_see_a_mended_mail_through_a_cache(pristine: Path, inbox: Path, tmp_path: Path) -> None:
    """A stored assembly is keyed by the tips, which mending a blob leaves as they
    are: it is used only when every message it names is cached, and the record of
    an unreadable mail never is, so the mended mail is read and assembled."""
    patch = next(m for m in patchtrack.open_inbox(pristine, workers=1).messages() if m.epoch == 1 and m.kind == "patch")
    path = loose(epoch(inbox, 1), patch.oid)
    kept = path.read_bytes()
    _garbage(path)
    cache = tmp_path / "cache.duckdb"
    damaged = patchtrack.open_inbox(inbox, cache=cache, workers=1).series()
    path.write_bytes(kept)
    mended = patchtrack.open_inbox(inbox, cache=cache, workers=1).series()
    assert mended == patchtrack.open_inbox(pristine, workers=1).series() != damaged


@pytest.mark.parametrize("damage", ["pack cut in half", "pack index gone", "HEAD gone"])
def test_corpus_epoch_that_cannot_be_read_at_all(
    ksummit: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """A single epoch with nothing readable: damaged (exit 1), not "not an archive"."""
    copy = _copy(ksummit, tmp_path_factory)
    pack, idx = _pack(copy)
    if damage == "pack cut in half":
        pack.chmod(0o644)
        with pack.open("r+b") as fh:
            fh.truncate(pack.stat().st_size // 2)
    elif damage == "pack index gone":
        idx.unlink()
    else:
        (copy / "HEAD").unlink()
    with pytest.raises(DamagedArchiveError):
        patchtrack.open_inbox(copy)
    code, out, err = run(capsys, "messages", str(copy), "--raw")
    assert (code, out, len(err)) == (1, "", 1) and err[0].startswith(f"patchtrack: error: {copy}: ")


def test_a_folder_that_is_no_repository_is_still_the_callers_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "objects").mkdir()
    code, _, err = run(capsys, "messages", str(tmp_path))
    assert code == 2 and err == [f"patchtrack: error: {tmp_path}: not a git repository, nor a public-inbox directory"]
