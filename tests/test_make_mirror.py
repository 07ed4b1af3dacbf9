"""benchmarks/make_mirror.py: a small synthetic mirror read back with patchtrack.

Each copy of a corpus mail must read as the corpus mail does, its ids suffixed and
its dates moved by whole copies of the corpus's span, every other header and the
body byte for byte; the lists, epochs, deliveries, cross-posts and distinct mails
must be what the manifest says. The originals are read with git, and parsed with
patchtrack's own parser: the copy against its original, not against the script.
Removals, which no corpus holds, are copied from an archive of the fixture mails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import patchtrack
from patchtrack.builder import build_inbox, mail_meta, read_mail_folder
from patchtrack.message import message_id_of, parse_message

from conftest import MAILS as FIXTURES
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import make_mirror  # noqa: E402

MAILS, TAKE, EPOCH = 3000, 400, 250  # 600 mails a list: two copies of 400, three epochs
_REWRITTEN = frozenset({b"message-id", b"in-reply-to", b"references", b"date"})


def _run(out: Path, clones: dict[str, Path], *args: str) -> None:
    base = next(iter(clones.values())).parent
    assert make_mirror.main(["--out", str(out), "--clones", str(base), *args]) == 0


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _originals(repo: Path, limit: int) -> list[tuple[int, bytes]]:
    """(arrival, bytes) of the corpus's first ``limit`` mails, read with git alone."""
    log = [line.split() for line in subprocess.run(
        ["git", "-C", str(repo), "log", "--reverse", "--format=%H %ct"], check=True, capture_output=True, text=True,
    ).stdout.splitlines()][:limit]
    out = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "--batch"], input="".join(f"{c}:m\n" for c, _ in log).encode(),
        check=True, capture_output=True,
    ).stdout
    found, at = [], 0
    for _, when in log:
        end = out.index(b"\n", at)
        size = int(out[at:end].split()[2])
        found.append((int(when), out[end + 1 : end + 1 + size]))
        at = end + 1 + size + 1
    return found


def _rewritten(msgid: str, name: str, copy: int) -> str:
    """The spec: the suffix goes before an id's last ``@`` (at its end without one)."""
    local, at, domain = msgid.rpartition("@")
    return f"{local}+{name}.k{copy}@{domain}" if at else f"{msgid}+{name}.k{copy}"


def _kept(data: bytes) -> tuple[list[bytes], bytes]:
    """The header fields a copy keeps as they are, and the body."""
    head, _, body = data.partition(b"\n\n")
    fields = re.split(rb"\n(?![ \t])", head)
    return [f for f in fields if f.partition(b":")[0].strip().lower() not in _REWRITTEN], body


@pytest.fixture(scope="module")
def mirror(corpus_clones: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("mirror") / "root"
    _run(root, corpus_clones, "--mails", str(MAILS), "--take", str(TAKE), "--epoch-size", str(EPOCH))
    return root, json.loads((root / "manifest.json").read_text())


@pytest.mark.corpus
def test_the_archive_holds_what_the_manifest_says(mirror: tuple[Path, dict]) -> None:
    root, manifest = mirror
    archive = patchtrack.open_archive(root)
    assert archive.lists == tuple(sorted(manifest["lists"])) and len(archive.lists) == 5
    assert manifest["mails"] == MAILS and manifest["deliveries"] == MAILS + manifest["cross_posted"]
    for name, figures in manifest["lists"].items():
        source = archive.sources[name]
        assert [e.number for e in source.epochs] == list(range(len(figures["epochs"])))
        assert len(figures["epochs"]) == 3  # 600 own mails and their cross-posts, 250 an epoch
        for epoch, commits in zip(source.epochs, figures["epochs"]):
            assert _git(epoch.path, "symbolic-ref", "HEAD") == "refs/heads/master"
            assert int(_git(epoch.path, "rev-list", "--count", "HEAD")) == commits
            assert len(_git(epoch.path, "rev-list", "--max-parents=0", "HEAD").split()) == 1  # a new root commit
            assert _git(epoch.path, "rev-list", "--merges", "HEAD") == ""
        assert sum(1 for _ in archive.inbox(name).walk(dedupe=False)) == figures["deliveries"]
    assert sum(1 for _ in archive.walk()) == manifest["walked"] == manifest["deliveries"] - manifest["repeated_deliveries"]
    messages = list(archive.messages())
    assert len(messages) == manifest["distinct_mails"] == manifest["walked"] - manifest["cross_posted"]
    assert len(messages) - len({m.msgid for m in messages}) == manifest["reused_message_ids"]
    crossed = [m for m in messages if len({d.list for d in m.deliveries}) > 1]
    assert len(crossed) == manifest["cross_posted"]
    assert 0.03 * MAILS < len(crossed) < 0.07 * MAILS  # --cross-post 0.05
    for m in crossed:
        assert len({d.oid for d in m.deliveries}) == 1 and len({d.time for d in m.deliveries}) == 1


@pytest.mark.corpus
def test_each_copy_reads_as_its_original(mirror: tuple[Path, dict], corpus_clones: dict[str, Path]) -> None:
    """A list's own mails, in commit order, are its corpus's first mails copy after
    copy: ids suffixed, Date: and arrival moved k × span, everything else the same;
    a reply's parent is in the copy when the original's was in the corpus."""
    root, manifest = mirror
    archive = patchtrack.open_archive(root)
    msgids = {message_id_of(raw.data) for raw in archive.walk()}
    replies = 0
    for name, figures in manifest["lists"].items():
        repo = next(p for n, p in corpus_clones.items() if n.partition(".")[0] == name)
        originals = _originals(repo, figures["corpus_mails_used"])
        parsed = [parse_message(raw) for _, raw in originals]
        last = figures["mails"] - (figures["copies"] - 1) * len(originals)  # the last copy's mails
        in_copy = [{m.msgid for m in parsed}, {m.msgid for m in parsed[:last]}]
        suffix = re.compile(rf"\+{re.escape(name)}\.k(\d+)@")
        own = [raw for raw in archive.inbox(name).walk(dedupe=False) if suffix.search(message_id_of(raw.data))]
        assert len(own) == figures["mails"]
        shift = figures["span_days"] * 86400
        for n, raw in enumerate(own):
            copy, i = divmod(n, len(originals))
            arrival, data = originals[i]
            before, after = parsed[i], parse_message(raw.data)
            assert raw.time.timestamp() == arrival + copy * shift
            assert after.msgid == _rewritten(before.msgid, name, copy)
            assert after.in_reply_to == (before.in_reply_to and _rewritten(before.in_reply_to, name, copy))
            assert after.references == tuple(_rewritten(r, name, copy) for r in before.references)
            assert after.date == before.date + timedelta(seconds=copy * shift)
            assert (after.subject, after.author) == (before.subject, before.author)
            assert _kept(raw.data) == _kept(data)
            if before.in_reply_to in in_copy[copy == figures["copies"] - 1]:
                assert after.in_reply_to in msgids
                replies += 1
    assert replies > 1000


@pytest.fixture(scope="module")
def fixture_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A bundle of the fixture mails with a removal (of the fourth mail) at its end,
    which none of the corpora has; and the mails."""
    mails = read_mail_folder(FIXTURES)
    base = tmp_path_factory.mktemp("fixture-corpus")
    inbox = build_inbox(mails, base / "inbox", remove=[mail_meta(mails[3]).msgid])
    bundles = base / "bundles"
    bundles.mkdir()
    bundle = bundles / "fixture.example.org.0.bundle"
    _git(inbox / "git" / "0.git", "bundle", "create", "-q", str(bundle), "master")
    return bundles, mails


def _run_fixture(out: Path, bundles: Path, *args: str) -> None:
    clones = bundles.parent / "clones"
    assert make_mirror.main(["--out", str(out), "--corpus", str(bundles), "--clones", str(clones), *args]) == 0


def test_removals_are_copied_too(fixture_corpus: tuple[Path, list[bytes]], tmp_path: Path) -> None:
    """Each whole copy of an archive with a removal removes its own copy of the mail."""
    bundles, mails = fixture_corpus
    count = 2 * (len(mails) + 1) + 5  # two whole copies and the first five mails
    _run_fixture(tmp_path, bundles, "--mails", str(count), "--epoch-size", "10")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert (manifest["mails"], manifest["removals"], manifest["cross_posted"]) == (count - 2, 2, 0)
    assert manifest["lists"]["fixture"]["epochs"] == [10] * (count // 10) + [count % 10]
    walked = list(patchtrack.open_archive(tmp_path).inbox("fixture").walk(dedupe=False))
    removed = [raw for raw in walked if raw.deleted]
    assert len(walked) == count and len(removed) == 2
    for copy, raw in enumerate(removed):
        delivered = [n for n, r in enumerate(walked) if r.oid == raw.oid and not r.deleted]
        assert len(delivered) == 1 and delivered[0] < walked.index(raw)
        assert message_id_of(raw.data) == _rewritten(mail_meta(mails[3]).msgid, "fixture", copy)


def test_a_second_run_keeps_a_finished_mirror_and_rebuilds_an_unfinished_one(
    fixture_corpus: tuple[Path, list[bytes]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundles, _ = fixture_corpus
    args = ("--sizes", "40,60", "--epoch-size", "25")
    _run_fixture(tmp_path, bundles, *args)
    small, large = tmp_path / "40", tmp_path / "60"
    assert [json.loads((d / "manifest.json").read_text())["mails"] for d in (small, large)] == [40, 59]  # the removal is the 42nd commit
    assert [e.number for e in patchtrack.open_archive(large).sources["fixture"].epochs] == [0, 1, 2]
    kept = (small / "manifest.json").stat().st_mtime_ns
    (large / "manifest.json").unlink()  # as a run stopped part-way leaves it
    (large / "stray").write_text("")
    capsys.readouterr()
    _run_fixture(tmp_path, bundles, *args)
    assert "already built" in capsys.readouterr().err
    assert (small / "manifest.json").stat().st_mtime_ns == kept
    assert (large / "manifest.json").exists() and not (large / "stray").exists()
    _run_fixture(tmp_path, bundles, *args, "--seed", "1")  # other parameters: both rebuilt
    assert (small / "manifest.json").stat().st_mtime_ns != kept


def test_a_folder_it_did_not_write_is_left_alone(fixture_corpus: tuple[Path, list[bytes]], tmp_path: Path) -> None:
    bundles, _ = fixture_corpus
    (tmp_path / "mine").write_text("keep me")
    with pytest.raises(SystemExit, match="refusing"):
        _run_fixture(tmp_path, bundles, "--mails", "20")
    assert os.listdir(tmp_path) == ["mine"] and (tmp_path / "mine").read_text() == "keep me"
