"""A cache is not trusted blindly: bits flipped anywhere in its file never change an
answer nor raise anything but a one-line error, damaged rows are misses (counted,
deleted, parsed again), and a file SQLite finds damaged is set aside and rebuilt."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

import patchtrack
from conftest import MAILS
from patchtrack.cache import Cache, CacheError
from patchtrack.cli import main

MAGIC = 16  # "SQLite format 3\0": a file without it is not taken for a cache at all


@pytest.fixture(scope="module")
def gizmo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("g") / "gizmo", epoch_size=15)


def _answers(inbox_path: Path, cache: Cache | None) -> tuple[list[dict], dict, list[dict]]:  # type: ignore[type-arg]
    inbox = patchtrack.open_inbox(inbox_path, cache=cache, workers=1)
    messages = [m.to_dict() for m in inbox.messages()]
    report = inbox.report().to_dict()
    series = [s.to_dict() for s in inbox.series(since="2026-03-05")]
    return messages, report, series


def _built_cache(inbox_path: Path, path: Path) -> Path:
    with Cache(path) as cache:
        _answers(inbox_path, cache)  # every message, the assembly and its state stored
    return path


def _flipped(base: Path, dest: Path, rng: random.Random, bits: int) -> list[int]:
    for suffix in ("", "-wal", "-shm", ".corrupt"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    data = bytearray(base.read_bytes())
    where = [rng.randrange(len(data)) for _ in range(bits)]
    for at in where:
        data[at] ^= 1 << rng.randrange(8)
    dest.write_bytes(data)
    return where


def _trials(inbox_path: Path, base: Path, work: Path, rng: random.Random, plan: list[int]) -> dict[str, int]:
    """Flip bits in copies of ``base`` and check every answer; returns how often each
    defence was needed."""
    fresh = _answers(inbox_path, None)
    seen = {"corrupt rows": 0, "set aside": 0, "refused": 0, "untouched": 0}
    for bits in plan:
        path = work / "flipped.sqlite"
        where = _flipped(base, path, rng, bits)
        try:
            cache = Cache(path)
        except CacheError as exc:  # only a broken magic number makes it someone else's file
            assert min(where) < MAGIC and str(exc) == f"{path}: cannot use as a cache (not an SQLite file)"
            seen["refused"] += 1
            continue
        with cache:
            assert _answers(inbox_path, cache) == fresh
            seen["corrupt rows"] += cache.stats.corrupt > 0
            seen["set aside"] += cache.stats.set_aside > 0
            seen["untouched"] += not (cache.stats.corrupt or cache.stats.set_aside)
            assert bool(cache.stats.set_aside) == (path.with_name(path.name + ".corrupt")).exists()
        with Cache(path) as again:  # what the first run left is a sound cache
            assert _answers(inbox_path, again) == fresh
            assert again.stats.corrupt == 0 and again.stats.set_aside == 0
    return seen


def test_bit_flips_never_change_an_answer(gizmo: Path, tmp_path: Path) -> None:
    """60 copies of a cache, 1 to 64 random bits flipped in each (fixed seed): the
    messages, the report and the series always equal those read without a cache, and
    nothing is raised. Before checksums, 1 flip in 20 trials of ksummit's cache gave
    a traceback and 8 gave silently different answers; 200 flips, 20 tracebacks."""
    base = _built_cache(gizmo, tmp_path / "base.sqlite")
    seen = _trials(gizmo, base, tmp_path, random.Random(19), [1] * 20 + [8] * 20 + [64] * 20)
    # the flips reached rows (checksums failed) and SQLite's own pages (file set aside)
    assert seen["corrupt rows"] >= 10 and seen["set aside"] >= 3, seen


def test_corpus_bit_flips_never_change_an_answer(corpus_clones: dict[str, Path], tmp_path: Path) -> None:
    """The same on the smallest corpus (ksummit, 3,115 mails, a 9 MB cache): 4 copies
    with 1 or 200 bits flipped. ~20 s: each trial reads the archive and assembles it
    twice."""
    name, repo = min(corpus_clones.items(), key=lambda kv: sum(f.stat().st_size for f in kv[1].rglob("*") if f.is_file()))
    base = _built_cache(repo, tmp_path / "base.sqlite")
    seen = _trials(repo, base, tmp_path, random.Random(19), [1, 1, 200, 200])
    assert seen["corrupt rows"] >= 2, (name, seen)


def _one_row(path: Path, query: str, *args: object) -> None:
    db = sqlite3.connect(path)
    db.execute(query, args)
    db.commit()
    db.close()


def test_a_damaged_row_is_a_miss_counted_deleted_and_parsed_again(gizmo: Path, tmp_path: Path) -> None:
    base = _built_cache(gizmo, tmp_path / "c.sqlite")
    fresh = _answers(gizmo, None)
    db = sqlite3.connect(base)
    oids = [row[0] for row in db.execute("SELECT oid FROM message ORDER BY oid LIMIT 5")]
    db.close()
    db = sqlite3.connect(base)
    rows = {oid: db.execute("SELECT data, sum FROM message WHERE oid = ?", (oid,)).fetchone() for oid in oids}
    db.close()
    data, stored = rows[oids[0]]
    from patchtrack._engine._cache import _message_sum

    # a byte changed (the checksum kept); a field of another type; no checksum; bytes
    # that pass their checksum but do not decode; a row stored under another blob id
    _one_row(base, "UPDATE message SET data = ? WHERE oid = ?", data[:40] + bytes([data[40] ^ 1]) + data[41:], oids[0])
    _one_row(base, "UPDATE message SET data = 'text, not bytes' WHERE oid = ?", oids[1])
    _one_row(base, "UPDATE message SET sum = NULL WHERE oid = ?", oids[2])
    junk = b"\xff\x00junk"
    _one_row(base, "UPDATE message SET data = ?, sum = ? WHERE oid = ?", junk, _message_sum(junk), oids[3])
    _one_row(base, "UPDATE message SET data = ?, sum = ? WHERE oid = ?", data, stored, oids[4])
    with Cache(base) as cache:
        got = cache.get_many(oids)
        assert set(got) == set() and cache.stats.corrupt == 5 and cache.stats.misses == 5
        assert len(cache) == len(fresh[0]) - 5  # deleted
    with Cache(base) as cache:
        assert _answers(gizmo, cache) == fresh
        assert cache.stats.corrupt == 0 and len(cache.get_many(oids)) == 5  # parsed again and stored


def test_damaged_assemblies_states_and_upstream_rows_are_misses(gizmo: Path, tmp_path: Path) -> None:
    base = _built_cache(gizmo, tmp_path / "c.sqlite")
    fresh = _answers(gizmo, None)
    _one_row(base, "UPDATE assembly SET data = substr(data, 1, 100) || x'01' || substr(data, 102)")
    _one_row(base, "UPDATE assembly_state SET tips = replace(tips, '0', '1')")
    with Cache(base) as cache:
        cache.put_upstream("repo", b"index")
        _one_row(base, "UPDATE upstream SET data = x'696e646578ff'")
        assert cache.get_upstream("repo") is None
        scopes = [row[0] for row in cache._db.execute("SELECT DISTINCT scope FROM assembly_state")]
        assert scopes and all(cache.assembly_bases(scope) == [] for scope in scopes)
        assert _answers(gizmo, cache) == fresh
        assert cache.stats.corrupt == 3  # the assembly, its state, the upstream index: rebuilt, not used
    with Cache(base) as cache:
        assert _answers(gizmo, cache) == fresh and cache.stats.assemblies_read >= 1  # stored again


@pytest.mark.parametrize("damage", ["header", "truncated", "zeroed page"])
def test_a_damaged_file_is_set_aside_with_one_note(capsys, damage: str, gizmo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = _built_cache(gizmo, tmp_path / "c.sqlite")
    data = bytearray(base.read_bytes())
    if damage == "header":
        data[MAGIC:100] = bytes(range(84))  # page size, format numbers, counters: garbage
    elif damage == "truncated":
        data = data[: len(data) // 2 + 1000]  # cut in the middle of a page
    else:
        page = 16384
        data[page: 2 * page] = bytes(page)
    base.write_bytes(data)
    code = main(["series", str(gizmo), "--cache", str(base), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and out
    notes = [line for line in err.splitlines() if "note:" in line]
    assert notes and notes[0] == (
        f"patchtrack: note: cache {base} was damaged ({notes[0].split('(')[1].split(')')[0]}): "
        "set aside as c.sqlite.corrupt, started afresh"
    )
    assert (tmp_path / "c.sqlite.corrupt").read_bytes() == data  # kept as it was, for a look
    with Cache(base) as cache:
        assert _answers(gizmo, cache) == _answers(gizmo, None) and cache.stats.set_aside == 0


def test_a_file_that_is_no_sqlite_is_refused_untouched(capsys, gizmo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a cache\n" * 100)
    code = main(["messages", str(gizmo), "--cache", str(notes)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"patchtrack: error: {notes}: cannot use as a cache (not an SQLite file)\n"
    assert notes.read_text() == "my notes, not a cache\n" * 100 and not (tmp_path / "notes.txt.corrupt").exists()


def test_a_cache_of_the_older_schema_is_rebuilt(gizmo: Path, tmp_path: Path) -> None:
    """Schema 3 rows carry no checksum: the file is emptied and refilled, upstream
    indexes too (their table changed)."""
    old = tmp_path / "old.sqlite"
    db = sqlite3.connect(old)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('fingerprint', 'schema-3-fingerprint')")
    db.execute("CREATE TABLE message (oid TEXT PRIMARY KEY, data BLOB)")
    db.execute("CREATE TABLE upstream (key TEXT PRIMARY KEY, data BLOB)")
    db.execute("INSERT INTO upstream VALUES ('repo', x'00')")
    db.commit()
    db.close()
    with Cache(old) as cache:
        assert len(cache) == 0 and cache.get_upstream("repo") is None
        cache.put_upstream("repo", b"index")
        assert cache.get_upstream("repo") == b"index"
        assert _answers(gizmo, cache) == _answers(gizmo, None)


def test_other_sqlite_failures_are_a_cache_error(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.sqlite")
    cache.close()
    with pytest.raises(CacheError, match="cannot write"):
        cache.put_upstream("k", b"v")  # a closed file is no damage: it is not set aside
    assert not (tmp_path / "c.sqlite.corrupt").exists()
