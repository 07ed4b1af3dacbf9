"""The store of parsed messages (a DuckDB file) and parallel parsing: whatever
way a walk is parsed — serially, on a process pool, on an injected executor, from
the store — the messages are the same, in the same order. Fixture inboxes here;
the corpora at the end."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import attrs
import duckdb
import pytest

import patchtrack
from conftest import MAILS
from patchtrack._engine import _codec, _load, _store
from patchtrack.builder import V2Writer, mail_meta
from patchtrack.store import Store, StoreError


@pytest.fixture
def v2(tmp_path: Path) -> Path:
    return patchtrack.build_inbox(MAILS, tmp_path / "gizmo", epoch_size=15)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 3 mails, so a fixture inbox spans many chunks (and starts a pool)."""
    monkeypatch.setattr(_load, "CHUNK", 3)


def serial(path: Path, **kw) -> list[patchtrack.Message]:  # type: ignore[no-untyped-def]
    return list(patchtrack.open_inbox(path, workers=1).messages(**kw))


def test_codec_round_trips_every_fixture_message(mails: list[bytes]) -> None:
    for raw in mails:
        m = patchtrack.parse_message(raw)
        back = _codec.decode(_codec.encode(m))
        assert back == m
        assert (back.date.isoformat() if back.date else None) == (m.date.isoformat() if m.date else None)
        assert back.diff == m.diff
        if m.diff is not None:  # a parsed diff is kept as its offset in the body
            assert isinstance(m._diff, int) and m.body.endswith(m.diff)


def test_second_walk_parses_nothing_and_gives_the_same_messages(v2: Path, tmp_path: Path) -> None:
    expected = serial(v2)
    cache = Store(tmp_path / "c.duckdb")
    inbox = patchtrack.open_inbox(v2, cache=cache, workers=1)
    assert list(inbox.messages()) == expected
    assert (cache.stats.hits, cache.stats.misses, cache.stats.stored) == (0, len(expected), len(expected))
    assert list(inbox.messages()) == expected
    assert (cache.stats.hits, cache.stats.stored) == (len(expected), len(expected))
    assert len(cache) == len(expected)
    cache.close()  # a new process (a new Store on the same file) sees the same entries
    again = patchtrack.open_inbox(v2, cache=tmp_path / "c.duckdb", workers=1)
    assert list(again.messages()) == expected and again.cache.stats.misses == 0


def test_walk_after_new_mail_parses_only_the_new_mail(mails: list[bytes], tmp_path: Path) -> None:
    writer = V2Writer(tmp_path / "inbox")
    for raw in mails[:20]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    cache = Store(tmp_path / "c.duckdb")
    assert len(list(patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1).messages())) == 20
    for raw in mails[20:]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    cache.stats = type(cache.stats)()
    got = list(patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1).messages())
    assert cache.stats.misses == len(mails) - 20 and cache.stats.hits == 20
    assert got == serial(tmp_path / "inbox")


def _sql(path: Path, *statements: str) -> None:
    """Run ``statements`` on the store file from outside (the Store closed: DuckDB
    locks the file while one is open)."""
    db = duckdb.connect(str(path))
    try:
        for statement in statements:
            db.execute(statement).fetchall()
    finally:
        db.close()


def test_a_parser_change_invalidates_old_entries(v2: Path, tmp_path: Path) -> None:
    """Parsed mail stored under another parser fingerprint is dropped on open;
    upstream indexes (stored under the same schema) stay."""
    path = tmp_path / "c.duckdb"
    cache = Store(path)
    list(patchtrack.open_inbox(v2, cache=cache, workers=1).messages())
    cache.put_upstream("repo", b"index")
    assert len(cache) > 0
    cache.close()
    # as if written by another parser version
    _sql(path, "UPDATE meta SET value = 'older-parser' WHERE key = 'fingerprint'")
    assert _rows(path, "blob") > 0 and _rows(path, "mail") > 0
    reopened = Store(path)
    assert len(reopened) == 0 and _rows(reopened, "mail") == 0 and _rows(reopened, "mail_address") == 0
    assert reopened.get_upstream("repo") == b"index"
    list(patchtrack.open_inbox(v2, cache=reopened, workers=1).messages())
    assert reopened.stats.hits == 0 and len(reopened) > 0 and _rows(reopened, "mail") == len(reopened)


def test_a_cache_of_the_previous_layout_is_started_again(v2: Path, tmp_path: Path) -> None:
    """A DuckDB file whose tables an older layout made (another schema: assemblies
    without a base column, blobs without a checksum, an upstream table of its own)
    is emptied and laid out anew on open, upstream indexes too, then stores and
    reads assemblies."""
    path = tmp_path / "c.duckdb"
    _sql(
        path,
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        "INSERT INTO meta VALUES ('fingerprint', 'schema-4-parser'), ('schema', '4')",
        "CREATE TABLE blob (oid VARCHAR PRIMARY KEY, data BLOB)",
        "INSERT INTO blob VALUES ('0', '\\x00'::BLOB)",
        "CREATE TABLE assembly (key VARCHAR PRIMARY KEY, data BLOB, stored DOUBLE)",
        "CREATE TABLE assembly_state (key VARCHAR PRIMARY KEY, scope VARCHAR, tips VARCHAR, data BLOB)",
        "CREATE TABLE upstream (key VARCHAR PRIMARY KEY, data BLOB)",
        "INSERT INTO upstream VALUES ('repo', '\\x00'::BLOB)",
    )
    cache = Store(path)
    assert len(cache) == 0 and cache.get_upstream("repo") is None and not cache.notes
    cache.put_upstream("repo", b"index")
    assert cache.get_upstream("repo") == b"index"
    inbox = patchtrack.open_inbox(v2, cache=cache, workers=1)
    first = inbox.series()
    assert inbox.series() == first and cache.stats.assemblies_read == 1
    assert first == patchtrack.open_inbox(v2, workers=1).series()


def test_fingerprint_covers_the_parser_sources() -> None:
    assert set(_store._PARSER_MODULES) >= {
        "message", "_mime", "subject", "trailers", "diff", "_engine/_codec", "_engine/_tables",
    }
    assert len(patchtrack.store.FINGERPRINT) == 16


def test_the_cache_names_are_the_stores() -> None:
    """Code written against the SQLite cache keeps working: its names are the store's."""
    from patchtrack import cache, store

    assert (cache.Cache, cache.CacheError, cache.CacheInfo, cache.CacheStats) == (
        store.Store, store.StoreError, store.StoreInfo, store.StoreStats
    )
    assert cache.default_cache_path is store.default_store_path and cache.FINGERPRINT == store.FINGERPRINT
    assert store.default_store_path().name == "store.duckdb"


def test_the_message_and_series_codecs_have_fingerprints_of_their_own() -> None:
    """Messages are stored under the parser and message codec's source, assemblies
    under the series codec and the assembling code's: neither list holds the other's
    codec, so changing how series are stored leaves the parsed mails valid."""
    assert "_engine/_series_codec" in _store._ASSEMBLY_MODULES and "_engine/_codec" in _store._PARSER_MODULES
    assert not set(_store._PARSER_MODULES) & set(_store._ASSEMBLY_MODULES)
    assert len(patchtrack.store.SERIES_FINGERPRINT) == 16 and patchtrack.store.SERIES_FINGERPRINT != patchtrack.store.FINGERPRINT


def _rows(where: Path | Store, table: str) -> int:
    """Rows of ``table``: through an open Store's connection, or of a closed file
    (opened read-only from outside)."""
    if isinstance(where, Store):
        return int(where._db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608
    db = duckdb.connect(str(where), read_only=True)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])  # noqa: S608
    finally:
        db.close()


def test_another_series_codec_drops_the_assemblies_and_keeps_the_messages(
    v2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.duckdb"
    with Store(path) as cache:
        first = patchtrack.open_inbox(v2, cache=cache, workers=1).series()
    stored = _rows(path, "blob")
    assert stored > 0 and _rows(path, "assembly") == 1 and _rows(path, "assembly_state") == 1
    assert _rows(path, "mail") == stored

    monkeypatch.setattr(_store, "SERIES_FINGERPRINT", "another-series-codec")
    with Store(path) as cache:
        assert len(cache) == stored and _rows(cache, "assembly") == 0 and _rows(cache, "assembly_state") == 0
        assert _rows(cache, "mail") == stored  # the columns stay with their records
        assert patchtrack.open_inbox(v2, cache=cache, workers=1).series() == first
        assert cache.stats.misses == 0 and cache.stats.hits > 0  # every mail read back, none parsed
        assert cache.stats.assemblies_read == 0  # assembled again, and stored
    assert _rows(path, "assembly") == 1

    monkeypatch.setattr(_store, "FINGERPRINT", "another-message-codec")
    with Store(path) as cache:
        assert len(cache) == 0 and _rows(cache, "assembly") == 0 and _rows(cache, "mail") == 0
        assert patchtrack.open_inbox(v2, cache=cache, workers=1).series() == first
        assert cache.stats.hits == 0 and cache.stats.stored == stored


def test_cached_blob_in_another_delivery_takes_that_commit(mails: list[bytes], tmp_path: Path) -> None:
    """The same blob stored twice: a walk that only sees the second delivery gets
    the second commit (and epoch), as an uncached parse would."""
    writer = V2Writer(tmp_path / "inbox")
    for raw in mails[:5]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    first = writer.add(mails[2], arrival=mail_meta(mails[4]).arrival)  # redelivered
    writer.new_epoch()
    second = writer.add(mails[2], arrival=mail_meta(mails[4]).arrival)  # and again, next epoch
    cache = Store(tmp_path / "c.duckdb")
    inbox = patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1)
    list(inbox.messages())
    for commit, epoch in ((first, 0), (second, 1)):
        [cached] = inbox.messages(f"{commit}^!")
        assert cache.stats.misses == 5  # nothing parsed again
        assert (cached.commit, cached.epoch) == (commit, epoch)
        [fresh] = patchtrack.open_inbox(tmp_path / "inbox", workers=1).messages(f"{commit}^!")
        assert cached == fresh


def test_date_from_arrival_follows_the_delivery(tmp_path: Path) -> None:
    """A mail without Date: takes its delivery's arrival time; a cached copy
    delivered again later takes the later time, as a fresh parse does."""
    raw = b"From: A <a@example.org>\nSubject: no date\nMessage-ID: <nodate@x>\n\nhello\n"
    writer = V2Writer(tmp_path / "inbox")
    from datetime import datetime, timezone

    early = writer.add(raw, arrival=datetime(2024, 1, 1, tzinfo=timezone.utc))
    late = writer.add(raw, arrival=datetime(2024, 6, 1, tzinfo=timezone.utc))
    cache = Store(tmp_path / "c.duckdb")
    inbox = patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1)
    [m] = inbox.messages(f"{early}^!")
    assert "no-date" in m.problems and m.date == datetime(2024, 1, 1, tzinfo=timezone.utc)
    [later] = inbox.messages(f"{late}^!")
    assert cache.stats.hits == 1
    assert later.date == datetime(2024, 6, 1, tzinfo=timezone.utc) and later.commit == late
    assert later == attrs.evolve(m, commit=late, date=later.date)


def test_process_pool_gives_serial_output(v2: Path, small_chunks: None) -> None:
    expected = serial(v2)
    assert list(patchtrack.open_inbox(v2, workers=2).messages()) == expected
    assert list(patchtrack.open_inbox(v2, workers=2).messages("..HEAD~3")) == serial(v2, range="..HEAD~3")


def test_injected_executor_is_used_and_order_kept(v2: Path, small_chunks: None) -> None:
    calls = []
    sent = set()

    class Counting(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
            calls.append(len(args[0]))
            sent.update(type(row[4]) for row in args[0])
            return super().submit(fn, *args, **kwargs)

    with Counting(3) as pool:
        got = list(patchtrack.open_inbox(v2, executor=pool).messages())
    assert got == serial(v2)
    assert sum(calls) == len(got) and max(calls) == 3 and len(calls) > 5
    assert sent == {bytes}  # an executor that is not a process pool is sent the mails


class _Recording(ProcessPoolExecutor):
    """A process pool that keeps what each mail was sent as: bytes, or a path."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.sent: list[type] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self.sent.extend(type(row[4]) for row in args[0])
        return super().submit(fn, *args, **kwargs)


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_process_pool_workers_read_the_mail_themselves(v2: Path, small_chunks: None, start: str) -> None:
    """A process pool is sent where each mail is stored (the epoch's git
    directory), not the mail: its workers read it, forked or started afresh (the
    default on some platforms and Pythons); other executors get the bytes."""
    with _Recording(2, mp_context=multiprocessing.get_context(start)) as pool:
        got = list(patchtrack.open_inbox(v2, executor=pool).messages())
    assert got == serial(v2)
    assert len(pool.sent) == len(got) and set(pool.sent) == {str}
    epochs = {str(e.path) for e in patchtrack.open_inbox(v2).epochs}
    rows = _load.rows(list(patchtrack.open_inbox(v2).walk().refs()), local=True)
    assert len(epochs) > 1 and {Path(r[4]).resolve() for r in rows} == {Path(e).resolve() for e in epochs}
    plain = _load.rows(list(patchtrack.open_inbox(v2).walk().refs()), local=False)
    assert [_load.row_mail(r) for r in rows] == plain  # what a worker reads is what it would be sent


def test_v1_mail_is_sent_as_bytes_to_a_process_pool(tmp_path: Path, small_chunks: None) -> None:
    path = patchtrack.build_inbox(MAILS, tmp_path / "v1", layout="v1")
    with _Recording(2) as pool:
        got = list(patchtrack.open_inbox(path, executor=pool).messages())
    assert got == list(patchtrack.open_inbox(path, workers=1).messages())
    assert set(pool.sent) == {bytes}


def test_pool_with_a_cache_stores_what_workers_parsed(v2: Path, tmp_path: Path, small_chunks: None) -> None:
    cache = Store(tmp_path / "c.duckdb")
    got = list(patchtrack.open_inbox(v2, cache=cache, workers=2).messages())
    assert got == serial(v2) and len(cache) == len(got)
    warm = list(patchtrack.open_inbox(v2, cache=cache, workers=2).messages())
    assert warm == got and cache.stats.hits == len(got)


def test_series_and_report_are_the_same_from_the_cache(v2: Path, tmp_path: Path) -> None:
    plain = patchtrack.open_inbox(v2, workers=1)
    cached = patchtrack.open_inbox(v2, cache=tmp_path / "c.duckdb", workers=1)
    for _ in range(2):  # cold, then warm
        assert cached.series() == plain.series()
        assert cached.report("HEAD~6..").to_dict() == plain.report("HEAD~6..").to_dict()
    assert cached.cache.stats.hits > 0
    assert cached.cache.stats.assemblies_read >= 3  # warm calls read the stored assembly


def test_report_with_dates_selects_by_arrival(v2: Path) -> None:
    """``since``/``until`` are applied to the whole-archive walk's arrival times:
    the same mails as a date-bounded walk."""
    inbox = patchtrack.open_inbox(v2, workers=1)
    raws = list(inbox.walk())
    mid = raws[len(raws) // 2].time
    walked = {r.oid for r in inbox.walk(since=mid)}
    report = inbox.report(since=mid)
    series = inbox.series(since=mid)
    assert {m.oid for s in series for m in s.messages} & walked
    assert all(any(m.oid in walked for m in s.messages) for s in series)
    assert report.to_dict()["series"] and len(report.to_dict()["series"]) <= len(series)


def test_bad_store_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not duckdb" * 100)
    with pytest.raises(StoreError, match=r"cannot use as a store \(not a DuckDB file\)$"):
        Store(bad)
    old = tmp_path / "cache.sqlite"  # the cache of patchtrack before 0.2
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE message (oid TEXT PRIMARY KEY, data BLOB)")
    db.close()
    with pytest.raises(StoreError, match=r"cannot use as a store \(an SQLite file: the cache of patchtrack before 0.2\)$"):
        Store(old)
    with pytest.raises(StoreError, match="cannot use as a store"):
        Store(tmp_path)  # a directory


def test_the_store_draws_no_progress_bar(tmp_path: Path) -> None:
    """DuckDB draws one on stdout (piped or not) past 2 s of a statement: in the
    middle of the records the CLI writes there."""
    with Store(tmp_path / "c.duckdb") as store:
        assert store._db.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [(False,)]


def test_workers_must_be_positive(v2: Path) -> None:
    with pytest.raises(ValueError):
        patchtrack.open_inbox(v2, workers=0)


# --- the corpora ---------------------------------------------------------------


def test_corpus_cached_messages_equal_parsed(corpus_repo: Path, corpus_messages: list, tmp_path: Path) -> None:
    """Every real message survives the cache: store the session's parse, walk warm."""
    cache = Store(tmp_path / "c.duckdb")
    cache.put_many(corpus_messages)
    warm = list(patchtrack.open_inbox(corpus_repo, cache=cache).messages())
    assert cache.stats.misses == 0
    assert warm == corpus_messages
    assert [m.date.isoformat() if m.date else None for m in warm] == [
        m.date.isoformat() if m.date else None for m in corpus_messages
    ]


def test_corpus_parallel_equals_serial(corpus_repo: Path, corpus_messages: list) -> None:
    """The session parsed each corpus on a process pool; a serial parse of its
    first 1,500 mails gives the same records in the same order."""
    inbox = patchtrack.open_inbox(corpus_repo, workers=1)
    refs = list(inbox.walk().refs())
    stop = refs[min(1500, len(refs)) - 1][2]
    got = list(inbox.messages(f"..{stop}"))
    assert got == corpus_messages[: len(got)] and len(got) >= min(1400, len(corpus_messages))


def test_report_window_survives_a_mail_removed_and_readded(mails: list[bytes], tmp_path: Path) -> None:
    """The same blob delivered, removed and delivered again inside one chunk: the
    date-bounded report counts it once, by its first delivery, and does not fail."""
    from datetime import datetime, timezone

    writer = V2Writer(tmp_path / "inbox")
    for raw in mails[:6]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    writer.remove(mails[3], arrival=mail_meta(mails[5]).arrival)
    writer.add(mails[3], arrival=datetime(2030, 1, 1, tzinfo=timezone.utc))
    inbox = patchtrack.open_inbox(tmp_path / "inbox", workers=1)
    late = inbox.series(since="2029-12-31")
    assert late == []  # the re-added copy is not a new arrival of that mail
    assert inbox.report(until="2029-12-31").to_dict()["counted_messages"] >= 1


def test_stored_assembly_follows_the_archive_state(mails: list[bytes], tmp_path: Path) -> None:
    """An assembly is reused only for the same archive state: new mail makes a new
    one, and the answers always equal a fresh assembly's."""
    writer = V2Writer(tmp_path / "inbox")
    for raw in mails[:25]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    cache = Store(tmp_path / "c.duckdb")
    inbox = patchtrack.open_inbox(tmp_path / "inbox", cache=cache, workers=1)
    first = inbox.series()
    assert cache.stats.assemblies_read == 0
    assert inbox.series() == first and cache.stats.assemblies_read == 1
    for raw in mails[25:]:
        writer.add(raw, arrival=mail_meta(raw).arrival)
    grown = inbox.series()
    assert cache.stats.assemblies_updated == 1  # a new state: the stored one extended
    assert grown == patchtrack.open_inbox(tmp_path / "inbox", workers=1).series()
    read = cache.stats.assemblies_read
    assert inbox.series() == grown and cache.stats.assemblies_read == read + 1
    # an assembly whose messages left the store is not used
    cache._db.execute("DELETE FROM blob")
    assert inbox.series() == grown


def test_corpus_stored_assembly_gives_the_same_series_and_reports(
    corpus_repo: Path, corpus_messages: list, tmp_path: Path
) -> None:
    cache = Store(tmp_path / "c.duckdb")
    cache.put_many(corpus_messages)
    inbox = patchtrack.open_inbox(corpus_repo, cache=cache)
    refs = [r for r in inbox.walk().refs() if not r[5]]
    last = refs[-1][4]
    from datetime import datetime, timezone

    week = datetime.fromtimestamp(last - 7 * 86400, timezone.utc).isoformat()
    span = f"{refs[-min(1000, len(refs) - 1) - 1][2]}..{refs[-1][2]}"

    def assembled(call):  # type: ignore[no-untyped-def]
        cache._db.execute("DELETE FROM assembly")  # force a fresh assembly (messages stay stored)
        return call()

    calls = {
        "series": lambda: inbox.series(span),
        "report": lambda: inbox.report(span).to_dict(),
        "week": lambda: inbox.report(since=week).to_dict(),
        "all": lambda: inbox.series(),
    }
    fresh = {name: assembled(call) for name, call in calls.items()}
    assert cache.stats.assemblies_read == 0
    for name, call in calls.items():
        assert call() == fresh[name], name
    assert cache.stats.assemblies_read == len(calls)
    assert cache.stats.misses == 0
    assert fresh["report"]["series"] and fresh["series"]
