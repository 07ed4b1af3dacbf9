"""The reader on inboxes built from the fixture mails: layouts, epochs, removals,
duplicates, purged history, cursors and every error case. git is the oracle."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import attrs
import pygit2
import pytest

import patchtrack
from conftest import MAILS, git, git_messages
from patchtrack.builder import V2Writer, mail_meta, v1_path


def oids(records) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.oid for r in records]


def blob_ids(raws: list[bytes]) -> list[str]:
    return [str(pygit2.hash(raw)) for raw in raws]


@pytest.fixture
def v2(mails: list[bytes], tmp_path: Path) -> Path:
    """The fixture mails as a v2 inbox of three epochs (15 commits each)."""
    return patchtrack.build_inbox(MAILS, tmp_path / "gizmo", epoch_size=15)


def test_v2_inbox_walks_every_mail_in_arrival_order(v2: Path, mails: list[bytes]) -> None:
    inbox = patchtrack.open_inbox(v2)
    assert inbox.layout == "v2" and inbox.name == "gizmo"
    assert [e.number for e in inbox.epochs] == list(range((len(mails) + 14) // 15))
    records = list(inbox.walk())
    assert oids(records) == blob_ids(mails)
    assert [r.data for r in records] == mails
    # each epoch holds what git says it holds, and they follow one another
    expected = []
    for epoch in inbox.epochs:
        expected += git_messages(epoch.path, "HEAD")
    assert [(r.commit, r.oid) for r in records] == expected
    assert [r.epoch for r in records] == [i // 15 for i in range(len(mails))]


def test_builder_commit_metadata_is_public_inbox_like(v2: Path, mails: list[bytes]) -> None:
    repo = pygit2.Repository(str(v2 / "git" / "0.git"))
    first = list(repo.walk(repo.head.target, pygit2.enums.SortMode.REVERSE))[0]
    meta = mail_meta(mails[0])
    assert [e.name for e in first.tree] == ["m"]
    assert first.author.email == meta.email and first.author.name == meta.name
    assert first.author.time == int(meta.date.timestamp())
    assert first.commit_time == int(meta.arrival.timestamp())
    assert first.message.strip() == meta.subject
    assert first.parents == []
    # committer time is arrival (first Received:), which is not the Date: header
    assert any(mail_meta(m).arrival != mail_meta(m).date for m in mails)


def test_builder_drops_angle_brackets_from_idents_as_public_inbox_does(tmp_path: Path) -> None:
    """A mailing list's rewritten From: can carry the poster's address in its name,
    which git refuses in an ident; public-inbox's importer drops ``<>`` (a real
    linux-man mail stopped the builder)."""
    raw = (
        b"From: \"'A U Thor <u@example.com>' via foo\" <foo@example.com>\n"
        b"Subject: hello\nDate: Wed, 25 Nov 2026 01:27:44 +0000\nMessage-ID: <x@y>\n\nbody\n"
    )
    writer = V2Writer(tmp_path / "angles")
    writer.add(raw)
    repo = pygit2.Repository(str(tmp_path / "angles" / "git" / "0.git"))
    author = repo[repo.head.target].author
    assert "<" not in author.name and "A U Thor u@example.com' via foo" in author.name
    assert author.email == "foo@example.com"
    assert [r.data for r in patchtrack.open_inbox(tmp_path / "angles").walk()] == [raw]


def test_single_epoch_repo_and_v2_dir_agree(v2: Path) -> None:
    whole = patchtrack.open_inbox(v2)
    epoch1 = patchtrack.open_inbox(v2 / "git" / "1.git")
    assert [e.number for e in epoch1.epochs] == [1] and epoch1.name == "gizmo"
    assert oids(epoch1.walk()) == [r.oid for r in whole.walk() if r.epoch == 1]


def test_cross_epoch_range_on_fixture_inbox(v2: Path) -> None:
    inbox = patchtrack.open_inbox(v2)
    e0, e2 = v2 / "git" / "0.git", v2 / "git" / "2.git"
    c0 = git("rev-list", "--reverse", "HEAD", cwd=e0).split()
    c2 = git("rev-list", "--reverse", "HEAD", cwd=e2).split()
    a, b = c0[4], c2[2]
    walk = inbox.walk(f"{a[:9]}..{b[:9]}")
    expected = git_messages(e0, f"{a}..HEAD") + git_messages(v2 / "git" / "1.git", "HEAD") + git_messages(e2, b)
    assert [(r.commit, r.oid) for r in walk] == expected
    assert [s.epoch for s in walk.plan] == [0, 1, 2] and walk.notes == ()


def test_v1_layout(mails: list[bytes], tmp_path: Path, v2: Path) -> None:
    dest = patchtrack.build_inbox(MAILS, tmp_path / "old.git", layout="v1")
    inbox = patchtrack.open_inbox(dest)
    assert inbox.layout == "v1" and inbox.name == "old"
    assert oids(inbox.walk()) == oids(patchtrack.open_inbox(v2).walk())
    # every mail is stored at sha1(Message-ID) split 2/38
    listed = git("ls-tree", "-r", "--name-only", "HEAD", cwd=dest).split()
    assert sorted(listed) == sorted(v1_path(mail_meta(m).msgid) for m in mails)
    # ranges work as in v2: one commit per mail
    commits = git("rev-list", "--reverse", "HEAD", cwd=dest).split()
    assert oids(inbox.walk(f"{commits[3]}..{commits[6]}")) == blob_ids(mails[4:7])


def test_v1_path_matches_public_inbox_documentation() -> None:
    # the example of public-inbox-v1-format(5)
    assert v1_path("<20131106023245.GA20224@dcvr.yhbt.net>") == "f2/8c6cfd2b0a65f994c3e1be266105413b3d3f63"


def test_v1_removal_is_a_deleted_record(mails: list[bytes], tmp_path: Path) -> None:
    victim = mail_meta(mails[2]).msgid
    dest = patchtrack.build_inbox(MAILS, tmp_path / "v1.git", layout="v1", remove=[victim])
    records = list(patchtrack.open_inbox(dest).walk())
    assert [r.deleted for r in records] == [False] * len(mails) + [True]
    assert records[-1].data == mails[2] and records[-1].oid == records[2].oid
    assert v1_path(victim) not in git("ls-tree", "-r", "--name-only", "HEAD", cwd=dest).split()


def test_v2_removal_commit_holds_d(mails: list[bytes], tmp_path: Path) -> None:
    victim = mail_meta(mails[5]).msgid
    dest = patchtrack.build_inbox(MAILS, tmp_path / "rm", remove=[victim])
    walk = patchtrack.open_inbox(dest).walk()
    records = list(walk)
    assert records[-1].deleted and records[-1].data == mails[5]
    assert git("ls-tree", "--name-only", "HEAD", cwd=dest / "git" / "0.git").split() == ["d"]
    assert walk.stats.removals == 1 and walk.stats.messages == len(mails)
    # git's view: the removal commit is the only one without m
    assert len(git_messages(dest / "git" / "0.git", "HEAD")) == len(mails)


def test_readded_after_removal_is_yielded_again(mails: list[bytes], tmp_path: Path) -> None:
    writer = V2Writer(tmp_path / "readd")
    for raw in mails[:3]:
        writer.add(raw)
    writer.remove(mails[1])
    writer.add(mails[1])
    records = list(patchtrack.open_inbox(tmp_path / "readd").walk())
    assert [(r.oid, r.deleted) for r in records] == [
        (o, False) for o in blob_ids(mails[:3])
    ] + [(blob_ids([mails[1]])[0], True), (blob_ids([mails[1]])[0], False)]


def test_duplicate_delivery_yielded_once_and_counted(mails: list[bytes], tmp_path: Path) -> None:
    twice = mail_meta(mails[3]).msgid
    dest = patchtrack.build_inbox(MAILS, tmp_path / "dup", duplicate=[twice])
    inbox = patchtrack.open_inbox(dest)
    walk = inbox.walk()
    assert oids(walk) == blob_ids(mails)
    assert walk.stats.duplicates == 1 and walk.stats.commits == len(mails) + 1
    assert oids(inbox.walk(dedupe=False)) == blob_ids(mails[:4] + [mails[3]] + mails[4:])


def test_purged_history_falls_back_to_merge_base(mails: list[bytes], tmp_path: Path) -> None:
    writer = V2Writer(tmp_path / "purge")
    for raw in mails[:10]:
        writer.add(raw)
    inbox = patchtrack.open_inbox(tmp_path / "purge")
    old_commits = git("rev-list", "--reverse", "HEAD", cwd=tmp_path / "purge" / "git" / "0.git").split()
    cursor = inbox.tips()
    for raw in mails[10:14]:
        writer.add(raw)
    assert writer.purge(mail_meta(mails[6]).msgid) == 1
    # the old commit 8 is no longer an ancestor of the tip: merge-base (commit 5) .. tip
    walk = inbox.walk(f"{old_commits[8][:10]}..")
    records = list(walk)
    assert oids(records) == blob_ids(mails[7:14])
    assert len(walk.notes) == 1 and "not an ancestor" in walk.notes[0] and "merge-base" in walk.notes[0]
    assert walk.stats.skipped == 1  # the purge artefact: a commit with an empty tree
    # a cursor saved before the purge behaves the same way
    after = inbox.walk(after=cursor)
    assert oids(after) == blob_ids(mails[7:14]) and after.notes
    # the whole archive no longer holds the purged mail
    assert blob_ids([mails[6]])[0] not in oids(inbox.walk())


def test_cursor_reads_only_new_mail_across_rollover(mails: list[bytes], tmp_path: Path) -> None:
    writer = V2Writer(tmp_path / "cron", epoch_size=8)
    for raw in mails[:5]:
        writer.add(raw)
    inbox = patchtrack.open_inbox(tmp_path / "cron")
    cursor = {str(k): v for k, v in inbox.tips().items()}  # as it comes back from JSON
    for raw in mails[5:20]:
        writer.add(raw)
    assert len(inbox.epochs) == 3  # the same object sees the epochs created since it was opened
    (tmp_path / "cron" / "git" / "3.git").mkdir()  # one being created: not a repository yet
    assert oids(inbox.walk(after=cursor)) == blob_ids(mails[5:20])
    assert len(inbox.epochs) == 3
    # one that is not a v2 epoch is not silently left out: the walk reads the others
    # and names it, as opening the inbox would refuse it
    odd = pygit2.init_repository(tmp_path / "cron" / "git" / "3.git", bare=True)
    builder = odd.TreeBuilder()
    builder.insert("notes.txt", odd.create_blob(b"x"), pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("x", "x@example.org", 1_700_000_000, 0)
    odd.create_commit("HEAD", sig, sig, "x", builder.write(), [])
    walk = inbox.walk(after=cursor)
    assert len(inbox.epochs) == 4 and oids(walk) == blob_ids(mails[5:20])
    assert [d.epoch for d in walk.damage] == [3] and "not a public-inbox" in str(walk.damage[0])
    with pytest.raises(patchtrack.InboxError, match="not a public-inbox"):
        patchtrack.open_inbox(tmp_path / "cron")
    # a cursor whose tip vanished walks that epoch again, and says so
    walk = inbox.walk(after={"0": "0" * 40})
    assert oids(walk) == blob_ids(mails[:20]) and "gone" in walk.notes[0]


def test_since_until_are_inclusive_arrival_bounds(v2: Path) -> None:
    inbox = patchtrack.open_inbox(v2)
    records = list(inbox.walk())
    times = sorted({r.time for r in records})
    lo, hi = times[3], times[-4]
    assert oids(inbox.walk(since=lo, until=hi)) == [r.oid for r in records if lo <= r.time <= hi]
    day = hi.date()
    assert oids(inbox.walk(until=day.isoformat())) == [r.oid for r in records if r.time.date() <= day]
    assert oids(inbox.walk(since=day.isoformat())) == [r.oid for r in records if r.time.date() >= day]
    with pytest.raises(patchtrack.RevisionError, match="reversed dates"):
        inbox.walk(since=hi, until=lo)
    with pytest.raises(patchtrack.RevisionError, match="not a date"):
        inbox.walk(since="last tuesday-ish")


def test_raw_message_is_a_frozen_record(v2: Path) -> None:
    record = next(iter(patchtrack.open_inbox(v2).walk()))
    assert isinstance(record.time, datetime) and record.time.tzinfo == timezone.utc
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.oid = "x"  # type: ignore[misc]
    assert set(record.to_dict()) == {"oid", "commit", "epoch", "time", "size", "deleted"}


# --- errors: the caller's mistakes raise one specific exception -------------------


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(patchtrack.InboxError, match="no such file"):
        patchtrack.open_inbox(tmp_path / "nope")


def test_plain_directory_and_file(tmp_path: Path) -> None:
    with pytest.raises(patchtrack.InboxError, match="not a git repository"):
        patchtrack.open_inbox(tmp_path)
    (tmp_path / "f").write_text("x")
    with pytest.raises(patchtrack.InboxError, match="not a directory"):
        patchtrack.open_inbox(tmp_path / "f")


def test_git_repository_that_is_not_an_inbox(tmp_path: Path) -> None:
    git("init", "-q", str(tmp_path / "work"))
    (tmp_path / "work" / "README").write_text("hello\n")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "README", cwd=tmp_path / "work")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x", cwd=tmp_path / "work")
    with pytest.raises(patchtrack.InboxError, match="not a public-inbox"):
        patchtrack.open_inbox(tmp_path / "work")


def test_empty_repository_and_empty_v2_dir(tmp_path: Path) -> None:
    pygit2.init_repository(str(tmp_path / "empty.git"), bare=True)
    with pytest.raises(patchtrack.InboxError, match="empty repository"):
        patchtrack.open_inbox(tmp_path / "empty.git")
    (tmp_path / "v2" / "git").mkdir(parents=True)
    with pytest.raises(patchtrack.InboxError, match="found none"):
        patchtrack.open_inbox(tmp_path / "v2")


def test_unknown_and_malformed_revisions(v2: Path) -> None:
    inbox = patchtrack.open_inbox(v2)
    for spec, message in [
        ("deadbeef00", "unknown revision"),
        ("deadbeef00..HEAD", "unknown revision"),
        ("HEAD...HEAD~1", "symmetric"),
        ("a..b..c", "malformed"),
        ("HEAD~999", "unknown revision"),
    ]:
        with pytest.raises(patchtrack.RevisionError, match=message):
            inbox.walk(spec)


def test_revision_naming_a_blob_is_not_a_commit(v2: Path) -> None:
    inbox = patchtrack.open_inbox(v2)
    blob = next(iter(inbox.walk())).oid
    with pytest.raises(patchtrack.RevisionError, match="not a commit"):
        inbox.walk(f"{blob[:12]}..")


def test_reversed_range_same_epoch(v2: Path) -> None:
    commits = git("rev-list", "--reverse", "HEAD", cwd=v2 / "git" / "0.git").split()
    inbox = patchtrack.open_inbox(v2)
    with pytest.raises(patchtrack.RevisionError, match="reversed"):
        inbox.walk(f"{commits[5]}..{commits[2]}")
    assert list(inbox.walk(f"{commits[5]}..{commits[5]}")) == []


def test_ambiguous_abbreviation_within_an_epoch(tmp_path: Path, mails: list[bytes]) -> None:
    writer = V2Writer(tmp_path / "amb")
    writer.add(mails[0])
    repo = pygit2.Repository(str(tmp_path / "amb" / "git" / "0.git"))
    seen: dict[str, str] = {}
    n = 0
    while True:  # store blobs until two objects share a 4-digit prefix
        oid = str(repo.create_blob(b"filler %d\n" % n))
        n += 1
        if oid[:4] in seen and seen[oid[:4]] != oid:
            break
        seen[oid[:4]] = oid
    with pytest.raises(patchtrack.RevisionError, match="ambiguous"):
        patchtrack.open_inbox(tmp_path / "amb").walk(f"{oid[:4]}..")


def test_ambiguous_commit_in_two_epochs(tmp_path: Path, mails: list[bytes]) -> None:
    # the same mail with the same arrival as the first commit of two epochs gives
    # byte-identical root commits: one id, two epochs
    writer = V2Writer(tmp_path / "twin")
    first = writer.add(mails[0])
    writer.new_epoch()
    assert writer.add(mails[0]) == first
    with pytest.raises(patchtrack.RevisionError, match="epoch 0.*epoch 1"):
        patchtrack.open_inbox(tmp_path / "twin").walk(first[:10])


def test_range_and_cursor_together(v2: Path) -> None:
    inbox = patchtrack.open_inbox(v2)
    with pytest.raises(patchtrack.RevisionError, match="either"):
        inbox.walk("HEAD~1..", after=inbox.tips())


def test_errors_share_one_base() -> None:
    assert issubclass(patchtrack.InboxError, patchtrack.PatchtrackError)
    assert issubclass(patchtrack.RevisionError, patchtrack.PatchtrackError)


def test_ancestry_suffixes_count_back_across_epochs(v2: Path, mails: list[bytes]) -> None:
    inbox = patchtrack.open_inbox(v2)
    last_epoch_size = len(mails) - 15 * (len(inbox.epochs) - 1)
    n = last_epoch_size + 3  # reaches back into the previous epoch
    assert oids(inbox.walk(f"HEAD~{n}..")) == blob_ids(mails[-n:])
    assert oids(inbox.walk("HEAD^^..HEAD")) == blob_ids(mails[-2:])
    assert oids(inbox.walk("HEAD~1^!")) == blob_ids(mails[-2:-1])
    first = inbox.resolve(f"HEAD~{len(mails) - 1}")
    assert first.epoch == 0 and oids(inbox.walk(f"{first.commit}^!")) == blob_ids(mails[:1])
    with pytest.raises(patchtrack.RevisionError, match="past the first message"):
        inbox.resolve(f"HEAD~{len(mails)}")


def test_epochs_are_ordered_numerically_not_by_name(mails: list[bytes], tmp_path: Path) -> None:
    dest = patchtrack.build_inbox(mails[:24], tmp_path / "many", epoch_size=2)
    inbox = patchtrack.open_inbox(dest)
    assert [e.number for e in inbox.epochs] == list(range(12))  # 10.git and 11.git come last
    assert oids(inbox.walk()) == blob_ids(mails[:24])


def test_only_a_single_m_or_d_blob_is_a_v2_record(mails: list[bytes], tmp_path: Path) -> None:
    """The walk reads a v2 commit's tree from its raw bytes; git's reading of the tree
    decides what counts: one entry, named ``m`` or ``d``, that is a blob (any file mode
    git reads as a blob). Anything else is a skipped commit, as before."""
    repo = pygit2.init_repository(tmp_path / "odd.git", bare=True)
    sig = pygit2.Signature("x", "x@example.org", 1_700_000_000, 0)
    a, b, c = (repo.create_blob(raw) for raw in mails[:3])

    def tree(*entries: tuple[str, pygit2.Oid, int]) -> pygit2.Oid:
        builder = repo.TreeBuilder()
        for name, oid, mode in entries:
            builder.insert(name, oid, mode)
        return builder.write()

    sub = tree(("m", a, pygit2.enums.FileMode.BLOB))
    trees = [
        tree(("m", a, pygit2.enums.FileMode.BLOB)),  # a mail
        tree(("m", b, pygit2.enums.FileMode.BLOB_EXECUTABLE)),  # a mail, odd mode
        tree(("m", sub, pygit2.enums.FileMode.TREE)),  # not a blob
        tree(("m", c, pygit2.enums.FileMode.BLOB), ("x", c, pygit2.enums.FileMode.BLOB)),  # two entries
        tree(("mm", c, pygit2.enums.FileMode.BLOB)),  # another name
        tree(("d", a, pygit2.enums.FileMode.BLOB)),  # the removal of the first mail
        tree(),  # a purge artefact
    ]
    parents: list[pygit2.Oid] = []
    for t in trees:
        parents = [repo.create_commit("refs/heads/master", sig, sig, "m", t, parents)]
    walk = patchtrack.open_inbox(tmp_path / "odd.git").walk(dedupe=False)
    records = list(walk)
    assert [(r.oid, r.deleted) for r in records] == [(str(a), False), (str(b), False), (str(a), True)]
    assert [r.data for r in records] == [mails[0], mails[1], mails[0]]
    assert walk.stats.skipped == 4 and walk.stats.messages == 2 and walk.stats.removals == 1


def test_mail_reads_from_packs_loose_objects_and_packs_written_since(mails: list[bytes], tmp_path: Path) -> None:
    """The walk reads objects straight from the epoch's storage backends: some mails
    packed, later ones loose, and a pack written after the inbox was opened (the
    loose objects it replaced are gone)."""
    writer = V2Writer(tmp_path / "mixed")
    for raw in mails[:10]:
        writer.add(raw)
    epoch = tmp_path / "mixed" / "git" / "0.git"
    git("repack", "-a", "-d", "-q", cwd=epoch)
    for raw in mails[10:20]:
        writer.add(raw)  # loose
    inbox = patchtrack.open_inbox(tmp_path / "mixed")
    assert [r.data for r in inbox.walk()] == mails[:20]
    for raw in mails[20:25]:
        writer.add(raw)
    git("repack", "-a", "-d", "-q", cwd=epoch)  # every object now in a pack the open inbox never saw
    assert not [p for p in (epoch / "objects").glob("??/*")]
    assert [r.data for r in inbox.walk()] == mails[:25]


def test_mail_reads_as_git_cat_file_reads_it(mails: list[bytes], tmp_path: Path) -> None:
    """Objects are read as ``git cat-file`` reads them, without hashing each again
    to check its id (``git fsck`` is what checks; libgit2's object database would
    hash every mail): a loose object whose content is not its id's reads as stored."""
    writer = V2Writer(tmp_path / "swapped")
    for raw in mails[:2]:
        writer.add(raw)
    objects = tmp_path / "swapped" / "git" / "0.git" / "objects"
    first, second = blob_ids(mails[:2])
    (objects / first[:2] / first[2:]).chmod(0o644)
    (objects / first[:2] / first[2:]).write_bytes((objects / second[:2] / second[2:]).read_bytes())
    read = [r.data for r in patchtrack.open_inbox(tmp_path / "swapped").walk(dedupe=False)]
    assert read[0] == mails[1] != mails[0]
    assert read[0].decode() == git("cat-file", "blob", first, cwd=objects.parent)
