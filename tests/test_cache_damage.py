"""A store is not trusted blindly: bits flipped in its file never change an answer
nor raise anything, damaged rows are misses (counted, deleted, parsed again), a
file DuckDB finds damaged is set aside and rebuilt, a file that is no DuckDB file
is refused untouched; another process holding the file is waited for, and one
killed in the middle of a write leaves the store whole."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import duckdb
import pytest

import patchtrack
from conftest import MAILS
from patchtrack._engine._tables import MAIL_TABLES, mail_tables
from patchtrack.cli import main
from patchtrack.store import Store, StoreError

HEADER = 12288
"""DuckDB's main header and its two database headers (4 kB each, each with a
checksum): the data blocks (256 kB each, each with a checksum) start after them."""
MAGIC = slice(8, 12)  # "DUCK": a file without it is not taken for a store at all
BLOCK = 262144


@pytest.fixture(scope="module")
def gizmo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path_factory.mktemp("g") / "gizmo", epoch_size=15)


def _answers(inbox_path: Path, cache: Store | None) -> tuple[list[dict], dict, list[dict]]:  # type: ignore[type-arg]
    inbox = patchtrack.open_inbox(inbox_path, cache=cache, workers=1)
    messages = [m.to_dict() for m in inbox.messages()]
    report = inbox.report().to_dict()
    series = [s.to_dict() for s in inbox.series(since="2026-03-05")]
    return messages, report, series


def _built_store(inbox_path: Path, path: Path) -> Path:
    with Store(path) as cache:
        _answers(inbox_path, cache)  # every message, the assembly and its state stored
    return path


def _sql(path: Path, *statements: tuple[str, list[Any]] | str) -> list[Any]:
    """Run statements on a closed store file from outside (DuckDB locks the file
    while a Store has it open); the rows of the last."""
    db = duckdb.connect(str(path))
    try:
        rows: list[Any] = []
        for statement in statements:
            query, params = (statement, []) if isinstance(statement, str) else statement
            rows = db.execute(query, params).fetchall()
        return rows
    finally:
        db.close()


def _flipped(base: Path, dest: Path, rng: random.Random, bits: int) -> bytes:
    """A copy of ``base`` at ``dest`` with ``bits`` random bits of its data blocks flipped."""
    for suffix in ("", ".wal", ".corrupt"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    data = bytearray(base.read_bytes())
    for _ in range(bits):
        data[rng.randrange(HEADER, len(data))] ^= 1 << rng.randrange(8)
    dest.write_bytes(data)
    return bytes(data)


def _trials(inbox_path: Path, base: Path, work: Path, rng: random.Random, plan: list[int]) -> dict[str, int]:
    """Flip bits in copies of ``base`` and check every answer; returns how often each
    defence was needed."""
    fresh = _answers(inbox_path, None)
    seen = {"corrupt rows": 0, "set aside": 0, "untouched": 0}
    for bits in plan:
        path = work / "flipped.duckdb"
        aside = path.with_name(path.name + ".corrupt")
        data = _flipped(base, path, rng, bits)
        with Store(path) as cache:  # never refused: the header is intact
            assert _answers(inbox_path, cache) == fresh
            seen["corrupt rows"] += cache.stats.corrupt > 0
            seen["set aside"] += cache.stats.set_aside > 0
            seen["untouched"] += not (cache.stats.corrupt or cache.stats.set_aside)
            assert cache.stats.set_aside <= 1 and len(cache.notes) == cache.stats.set_aside
            if cache.stats.set_aside:  # kept as it was, for a look, beside a fresh store
                assert aside.read_bytes() == data
                assert cache.notes[0].startswith(f"store {path} was damaged (") and cache.notes[0].endswith(
                    "): set aside as flipped.duckdb.corrupt, started afresh"
                )
            else:
                assert not aside.exists()
        with Store(path) as again:  # what the first run left is a sound store
            assert _answers(inbox_path, again) == fresh
            assert again.stats.corrupt == 0 and again.stats.set_aside == 0 and not again.notes
    return seen


def test_bit_flips_never_change_an_answer(gizmo: Path, tmp_path: Path) -> None:
    """60 copies of a store (3.7 MB: 14 blocks), 1 to 64 random bits flipped in its
    data blocks (fixed seed): the messages, the report and the series always equal
    those read without a store, and nothing is raised. DuckDB checksums every
    block, so a flip in a block the run reads is caught there, before a row's own
    checksum could be (the file set aside: 52 of these 60); one in a block the run
    never reads — free, or the columns' — changes nothing it reads (8). No flip
    reached a row's checksum: those are tested with rows changed through SQL."""
    base = _built_store(gizmo, tmp_path / "base.duckdb")
    seen = _trials(gizmo, base, tmp_path, random.Random(19), [1] * 20 + [8] * 20 + [64] * 20)
    assert seen["set aside"] >= 40, seen


def test_corpus_bit_flips_never_change_an_answer(corpus_clones: dict[str, Path], tmp_path: Path) -> None:
    """The same on the smallest corpus (ksummit, 3,115 mails, a 20 MB store): 4
    copies with 1 or 200 bits flipped. ~20 s: each trial reads the archive and
    assembles it twice."""
    name, repo = min(corpus_clones.items(), key=lambda kv: sum(f.stat().st_size for f in kv[1].rglob("*") if f.is_file()))
    base = _built_store(repo, tmp_path / "base.duckdb")
    seen = _trials(repo, base, tmp_path, random.Random(19), [1, 1, 200, 200])
    assert seen["set aside"] >= 2, (name, seen)


def test_a_damaged_row_is_a_miss_counted_deleted_and_parsed_again(gizmo: Path, tmp_path: Path) -> None:
    base = _built_store(gizmo, tmp_path / "c.duckdb")
    fresh = _answers(gizmo, None)
    rows = _sql(base, "SELECT oid, data, crc FROM blob ORDER BY oid LIMIT 5")
    oids = [oid for oid, _, _ in rows]
    _, data, stored = rows[0]
    assert stored == zlib.crc32(data)
    junk = b"\xff\x00junk"
    # a byte changed (the checksum kept); no bytes at all; no checksum; bytes that
    # pass their checksum but do not decode; a row stored under another blob id
    _sql(
        base,
        ("UPDATE blob SET data = ? WHERE oid = ?", [data[:40] + bytes([data[40] ^ 1]) + data[41:], oids[0]]),
        ("UPDATE blob SET data = NULL WHERE oid = ?", [oids[1]]),
        ("UPDATE blob SET crc = NULL WHERE oid = ?", [oids[2]]),
        ("UPDATE blob SET data = ?, crc = ? WHERE oid = ?", [junk, zlib.crc32(junk), oids[3]]),
        ("UPDATE blob SET data = ?, crc = ? WHERE oid = ?", [data, stored, oids[4]]),
    )
    with Store(base) as cache:
        got = cache.get_many(oids)
        assert set(got) == set() and cache.stats.corrupt == 5 and cache.stats.misses == 5
        assert len(cache) == len(fresh[0]) - 5  # deleted
    with Store(base) as cache:
        assert _answers(gizmo, cache) == fresh
        assert cache.stats.corrupt == 0 and len(cache.get_many(oids)) == 5  # parsed again and stored
        # the columns were written once, when first stored: nothing doubled
        assert cache._db.execute("SELECT count(*), count(DISTINCT oid) FROM mail").fetchall() == [(len(cache),) * 2]


def test_damaged_assemblies_states_and_upstream_rows_are_misses(gizmo: Path, tmp_path: Path) -> None:
    base = _built_store(gizmo, tmp_path / "c.duckdb")
    fresh = _answers(gizmo, None)
    [(key, data)] = _sql(base, "SELECT key, data FROM assembly")
    _sql(
        base,
        ("UPDATE assembly SET data = ? WHERE key = ?", [data[:100] + bytes([data[100] ^ 1]) + data[101:], key]),
        "UPDATE assembly_state SET tips = replace(tips, '0', '1')",
    )
    with Store(base) as cache:
        cache.put_upstream("repo", b"index")
        assert cache.get_upstream("repo") == b"index"
        cache._db.execute("UPDATE upstream SET data = ?", [b"index\xff"]).fetchall()
        assert cache.get_upstream("repo") is None
        scopes = [row[0] for row in cache._db.execute("SELECT DISTINCT scope FROM assembly_state").fetchall()]
        assert scopes and all(cache.assembly_bases(scope) == [] for scope in scopes)
        assert _answers(gizmo, cache) == fresh
        assert cache.stats.corrupt == 3  # the assembly, its state, the upstream index: rebuilt, not used
    with Store(base) as cache:
        assert _answers(gizmo, cache) == fresh and cache.stats.assemblies_read >= 1  # stored again


def _damaged(data: bytearray, damage: str) -> bytearray:
    if damage == "header":
        data[12:100] = bytes(range(88))  # the main header past its magic: version, flags… garbage
    elif damage == "database headers":
        for start in (4096, 8192):  # both: neither says where the catalog is
            data[start + 8: start + 100] = bytes(range(92))
    elif damage == "truncated":
        data = data[: len(data) // 2 + 1000]  # cut in the middle of a block
    elif damage == "zeroed block":
        data[HEADER: HEADER + BLOCK] = bytes(BLOCK)  # the first data block: the catalog's
    return data


@pytest.mark.parametrize("damage", ["header", "database headers", "truncated", "zeroed block"])
def test_a_damaged_file_is_set_aside_with_one_note(capsys, damage: str, gizmo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = _built_store(gizmo, tmp_path / "c.duckdb")
    data = _damaged(bytearray(base.read_bytes()), damage)
    base.write_bytes(data)
    code = main(["series", str(gizmo), "--cache", str(base), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0 and out
    notes = [line for line in err.splitlines() if "note:" in line]
    assert len(notes) == 1 and notes[0].startswith(f"patchtrack: note: store {base} was damaged (")
    assert notes[0].endswith("): set aside as c.duckdb.corrupt, started afresh")
    assert (tmp_path / "c.duckdb.corrupt").read_bytes() == data  # kept as it was, for a look
    with Store(base) as cache:
        assert _answers(gizmo, cache) == _answers(gizmo, None) and cache.stats.set_aside == 0
        assert cache.stats.hits > 0  # the run that set it aside stored its mail afresh


@pytest.mark.parametrize("kind", ["notes", "random bytes", "sqlite"])
def test_a_file_that_is_no_duckdb_is_refused_untouched(capsys, kind: str, gizmo: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mine"
    what = "not a DuckDB file"
    if kind == "notes":
        path.write_text("my notes, not a store\n" * 100)
    elif kind == "random bytes":
        path.write_bytes(random.Random(5).randbytes(40000))
    else:  # the cache of patchtrack before 0.2
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE message (oid TEXT PRIMARY KEY, data BLOB)")
            db.execute("INSERT INTO message VALUES ('0', x'00')")
        db.close()
        what = "an SQLite file: the cache of patchtrack before 0.2"
    before = path.read_bytes()
    code = main(["messages", str(gizmo), "--cache", str(path)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"patchtrack: error: {path}: cannot use as a store ({what})\n"
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def test_other_duckdb_failures_are_a_store_error(tmp_path: Path) -> None:
    cache = Store(tmp_path / "c.duckdb")
    cache.close()
    with pytest.raises(StoreError, match="cannot write"):
        cache.put_upstream("k", b"v")  # a closed file is no damage: it is not set aside
    assert not (tmp_path / "c.duckdb.corrupt").exists()


# --- another process -----------------------------------------------------------

_OPEN = """
import sys, time
from patchtrack.store import Store, StoreError
print("opening", flush=True)
start = time.monotonic()
try:
    Store(sys.argv[1], wait=float(sys.argv[2])).close()
    print("opened", time.monotonic() - start)
except StoreError as exc:
    print("error", time.monotonic() - start, exc)
"""


def _opener(path: Path, wait: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _OPEN, str(path), str(wait)], stdout=subprocess.PIPE, text=True)


def test_a_store_held_by_another_process_is_waited_for_then_an_error(gizmo: Path, tmp_path: Path) -> None:
    """While this process holds the store, another waits ``wait`` seconds for it,
    then fails with one line naming the holder; one whose wait outlasts the
    holder opens it."""
    path = tmp_path / "c.duckdb"
    with Store(path) as held:
        _answers(gizmo, held)
        said = _opener(path, 1).communicate(timeout=60)[0]
        word, waited, message = said.removeprefix("opening\n").split(" ", 2)
        assert word == "error" and float(waited) >= 1
        assert message == f"{path}: in use by another process (PID {os.getpid()}); waited 1 s\n"
        patient = _opener(path, 30)
        assert patient.stdout is not None and patient.stdout.readline() == "opening\n"
        time.sleep(1.5)  # it is waiting
        assert patient.poll() is None
    word, waited = patient.communicate(timeout=60)[0].split()
    assert word == "opened" and 1.5 <= float(waited) < 30
    with Store(path) as cache:  # the holder's mail, intact
        assert _answers(gizmo, cache) == _answers(gizmo, None) and cache.stats.misses == 0


_WRITER = """
import os, signal, sys
import attrs
import patchtrack
from patchtrack.store import Store

path, inbox, run, copies, suicide = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
store = Store(path)
real = list(patchtrack.open_inbox(inbox, cache=store, workers=1).messages())
print("stored", len(real), flush=True)


class Dying:
    # the store's connection, killing its process in the middle of a batch's
    # transaction: its blobs and mail rows written, its files not, no COMMIT
    def __init__(self, db):
        self.db = db

    def __getattr__(self, name):
        return getattr(self.db, name)

    def execute(self, query, *args):
        found = self.db.execute(query, *args)
        if query.startswith("INSERT INTO mail_file"):
            os.kill(os.getpid(), signal.SIGKILL)
        return found


for batch in range(1_000_000):
    if batch == suicide:
        store._db = Dying(store._db)
    store.put_many([
        attrs.evolve(m, oid=f"{run:04x}{batch:06x}{i:04x}{m.oid[14:]}") for i in range(copies) for m in real
    ])
    store.flush()  # written in one transaction, as when a load ends
    print("batch", batch, flush=True)
"""


@pytest.mark.parametrize("how", ["killed by another", "killed in a transaction"])
def test_a_writer_killed_mid_batch_leaves_the_store_whole(how: str, gizmo: Path, tmp_path: Path) -> None:
    """kill -9 of a process storing batches of 2,050 parsed mails (the fixture's 41,
    50 times under other blob ids, each batch flushed): the store opens without a
    note, holds every batch its writer saw committed and at most the one in
    flight, each whole — every mail's columns once — and serves the inbox's mail
    it stored first (nothing lost). Killed by this process at random moments (3
    times, the same store), or by the writer itself between two statements of a
    batch's transaction (its blobs and mail rows written, not its files)."""
    path = tmp_path / "c.duckdb"
    fresh = _answers(gizmo, None)
    real = list(patchtrack.open_inbox(gizmo, workers=1).messages())
    per_mail = {table: rows.num_rows for table, rows in mail_tables(real).items()}
    batch = 50 * len(real)
    rng = random.Random(7)
    runs = 3 if how == "killed by another" else 1
    total = len(real)  # the mails the store holds
    for run in range(runs):
        suicide = -1 if how == "killed by another" else 2
        writer = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(gizmo), str(run), "50", str(suicide)],
            stdout=subprocess.PIPE, text=True,
        )
        assert writer.stdout is not None
        lines = [writer.stdout.readline()]
        while len(lines) < 4 and lines[-1]:
            lines.append(writer.stdout.readline())
        if suicide < 0:
            time.sleep(rng.uniform(0, 0.3))  # a batch takes ~0.15 s
            writer.send_signal(signal.SIGKILL)
        lines += writer.stdout.read().splitlines(keepends=True)
        assert writer.wait(timeout=60) == -signal.SIGKILL
        committed = sum(line.startswith("batch ") for line in lines)
        assert lines[0] == f"stored {len(real)}\n", lines
        assert committed == suicide if suicide >= 0 else committed >= 3, lines
        with Store(path) as store:
            assert not store.notes and store.stats.set_aside == 0
            done = len(store)
            db = store._db
            stored = db.execute(f"SELECT count(*) FROM blob WHERE oid LIKE '{run:04x}%'").fetchall()[0][0]
            if suicide >= 0:
                assert stored == committed * batch  # the batch in its transaction: none of it
            else:  # every batch seen committed, the one in flight whole or not at all
                assert stored in (committed * batch, (committed + 1) * batch)
            total += stored
            assert done == total  # the earlier runs' batches and the inbox's mail, all there
            assert db.execute("SELECT count(*), count(DISTINCT oid) FROM mail").fetchall() == [(done, done)]
            for table in MAIL_TABLES:  # every mail's columns once: nothing doubled, nothing missing
                assert db.execute(f"SELECT count(*) FROM {table}").fetchall() == [  # noqa: S608
                    (per_mail[table] * done // len(real),)
                ], table
            assert _answers(gizmo, store) == fresh and store.stats.misses == 0  # nothing lost
            assert store.stats.corrupt == 0
