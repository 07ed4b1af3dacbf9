"""The store: parsed mail, its deliveries and its series in one DuckDB file.

A public-inbox mail is a git blob and a blob never changes, so its parse never
changes either — until the parser does. :class:`Store` keeps each
:class:`~patchtrack.message.Message` under its blob id twice: as the record's own
bytes (``blob``: what the engine decodes back into the typed record, body
included) and as columns (``mail``, ``mail_trailer``, ``mail_file``,
``mail_address``: what SQL reads). Beside them: the deliveries an ingest walked
(``delivery``, ``ingested``), the series it assembled (``assembled_series``,
``assembled_patch``, ``assembled_trailer``), the engine's whole-archive assemblies and upstream indexes. A
fingerprint of the parser's source is stored too: when the parser, the records or
the encoding change, every parsed table is dropped on open (a new parser
rebuilds); the assemblies have a fingerprint of their own (the assembling code
and the series codec), and when only that changes, only they are dropped.

DuckDB (embedded, columnar, no server) was measured against the SQLite file it
replaces: fetching the records of linux-pwm's 23,541 mails by blob id costs the
same (0.13 s against 0.12 s) when looked up 2,000 at a time — 200 at a time it
was 6x slower, so look-ups go in batches of :data:`BATCH`.

The library never opens a store by itself: pass one to
:func:`~patchtrack.open_inbox` (``cache=Store.default()`` for
``~/.cache/patchtrack/store.duckdb``, the CLI's default).

The file is not trusted blindly: every record carries a CRC-32 of its bytes, and a
record whose checksum fails, or that does not decode, is a miss — deleted,
counted in ``stats.corrupt``, and parsed (or assembled) again. A file DuckDB finds
damaged (a block whose checksum fails, a garbled header) is set aside as
``<name>.corrupt`` and the store starts afresh, with a line in
:attr:`Store.notes`. One process writes a store at a time (DuckDB locks the
file): another waits up to ``wait`` seconds for it, then raises
:class:`StoreError`. Any other failure (no permission, a full disk) raises
:class:`StoreError` too.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import duckdb

from . import _codec
from ._tables import (
    MAIL_TABLES, SCHEMAS, SERIES_TABLES, blob_table, create_sql, create_views, delivery_table, mail_tables, redelivery_table, scope_of, series_tables,
)
from ..archive import Delivery
from ..errors import PatchtrackError
from ..message import Message
from ..series import Series

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Store", "StoreError", "StoreInfo", "StoreStats", "PruneStats", "default_store_path", "source_digest",
    "FINGERPRINT", "SERIES_FINGERPRINT", "BATCH",
]

_PARSER_MODULES = (
    "_engine/_codec", "_engine/_tables", "_mime", "archive/_walk", "diff", "identity", "message", "subject",
    "trailers", "vocab",  # stored records hold its values: renaming one must not leave rows its converters refuse
)
_ASSEMBLY_MODULES = (
    "_engine/_series_codec", "_engine/_index", "_engine/_reassemble", "assemble", "revisions", "series", "thread",
    "export",  # the series tables hold its rows
)
_SCHEMA = 5  # 5: DuckDB, records as columns beside their bytes
BATCH = 2000
"""Blob ids looked up in one query (see the module's docstring)."""
FLUSH = 5_000
"""Parsed mails held before they are written in one transaction (see :meth:`Store.put_parsed`)."""
ASSEMBLIES_KEPT = 4
"""Whole-archive assemblies kept (a few archives, or a few states of one)."""
MEMORY_LIMIT = "256MB"
"""DuckDB's own buffers: beyond this it spills to disk instead of growing."""
_MB_LIMIT = 256
_LARGE = "4GB"  # the limit a whole assembly is read under: a cap, nothing is taken ahead

_PARSED = (*MAIL_TABLES, "blob", "delivery", "redelivery", "ingested", *SERIES_TABLES)
_ASSEMBLED = ("assembly", "assembly_state", *SERIES_TABLES)


@functools.cache
def source_digest(*modules: str) -> str:
    """A hash of these patchtrack modules' source: part of every key whose stored
    value that code computes, so a code change invalidates it (read once a process)."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent.parent  # the package: names are relative to it
    for name in modules:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


FINGERPRINT = hashlib.sha256(
    f"{_SCHEMA}:{sys.version_info[:2]}:{source_digest(*_PARSER_MODULES)}".encode()
).hexdigest()[:16]
"""The parser fingerprint parsed mail is stored under (the codecs' and the parser's
source): when it changes, every table but upstream's is dropped."""

SERIES_FINGERPRINT = hashlib.sha256(
    f"{_SCHEMA}:{sys.version_info[:2]}:{source_digest(*_ASSEMBLY_MODULES)}".encode()
).hexdigest()[:16]
"""The fingerprint stored assemblies and series are kept under (the series codec's
and the assembling code's source): when only it changes, only they are dropped."""


class StoreError(PatchtrackError):
    """The store could not be opened, read or written (a directory, no permission,
    a full disk, another process holding it longer than the wait)."""


_T = TypeVar("_T")


def _sum(*parts: str | bytes | None) -> int:
    """The CRC-32 a row is stored with, over its key and its fields."""
    crc = 0
    for part in parts:
        if part is not None:
            crc = zlib.crc32(part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part, crc)
        crc = zlib.crc32(b"\0", crc)  # ("ab", "c") and ("a", "bc") differ
    return crc


def _intact(stored: object, *parts: object) -> bool:
    """Whether a row read back is what was written: its fields of the types written,
    its checksum right."""
    return type(stored) is int and all(p is None or isinstance(p, (str, bytes)) for p in parts) and (
        stored == _sum(*parts)  # type: ignore[arg-type]
    )


# "Could not read enough bytes": a file cut short, its blocks past the end (12 cuts
# of a 3.7 MB store, from 16 bytes kept to all but 1, each stopped the run with a
# StoreError instead of being set aside)
_DAMAGE = re.compile(
    r"corrupt|checksum|not a valid DuckDB database|invalidated|Failed to read database header|"
    r"Could not read enough bytes", re.I
)
_LOCKED = re.compile(r"Could not set lock|Conflicting lock")
_HOLDER = re.compile(r"\(PID (\d+)\)")


def _damaged(exc: duckdb.Error) -> bool:
    """Whether DuckDB says the file itself is damaged (not a lock, a permission…)."""
    return bool(_DAMAGE.search(str(exc))) and not _LOCKED.search(str(exc))


def _interrupted(exc: duckdb.Error) -> bool:
    """Whether DuckDB failed because the user pressed Ctrl-C: an interrupted query,
    or a KeyboardInterrupt raised while it read a table Python handed it, which
    DuckDB reports as its own error (a Ctrl-C run then said "cannot read" and
    exited 2, not 130)."""
    return isinstance(exc, duckdb.InterruptException) or "KeyboardInterrupt" in str(exc)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def default_store_path() -> Path:
    """``$XDG_CACHE_HOME/patchtrack/store.duckdb`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "patchtrack" / "store.duckdb"


@attrs.define
class StoreStats:
    """What one :class:`Store` served since it was opened."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    assemblies_read: int = 0
    assemblies_updated: int = 0  # built from a stored one after new mail
    corrupt: int = 0  # rows whose checksum failed or that did not decode: misses, deleted
    set_aside: int = 0  # damaged files moved away (the store started afresh)


@attrs.frozen
class StoreInfo:
    """What a store file holds (:meth:`Store.info`)."""

    path: Path
    size: int
    """Bytes on disk, the write-ahead log included."""
    messages: int
    assemblies: int
    """Whole-archive assemblies: one per archive state (and the bases they extend)."""
    upstream: int
    """Upstream repository indexes."""
    newest: float | None
    """When the newest assembly was stored (a Unix time), ``None`` without any."""
    oldest: float | None
    deliveries: int = 0
    """Deliveries ingested (:meth:`patchtrack.Archive.ingest`)."""
    series: int = 0
    """Series of the last ingest's assembly."""


@attrs.frozen
class PruneStats:
    """What :meth:`Store.prune` dropped."""

    messages: int
    assemblies: int


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


_MAGIC = b"DUCK"  # at offset 8 of every DuckDB file

# Equalities joined by UNION ALL are answered from the key's index: 0.22 ms a key
# however large the table. A join scans every blob id of the table once: on 249,763
# rows, 1.6 ms for 1 key, 2.6 ms for 50, 14.8 ms for 2,000 (DuckDB 2.0.1, warm). So
# only a handful of keys — fewer than (rows + _JOIN_ROWS) / _FEW_PER_ROW, 7 at 250,000
# rows — go by their index (_FEW at a time), the rest by one join. (The bar was a key
# for every 40 rows, from a measurement under load: a cold ingest of 250,000 mails
# spent 58 % of its 673 s looking up 2,000 keys at a time one by one.)
_FEW = 20
_FEW_PER_ROW = 45_000
_JOIN_ROWS = 67_000


@functools.cache
def _by_key(count: int) -> str:
    return " UNION ALL ".join(["SELECT rowid, oid, data, crc FROM blob WHERE oid = ?"] * count)


class Store:
    """Parsed mail, deliveries and series in a DuckDB file.

    Usable from one thread at a time, and by one process at a time: another waits
    up to ``wait`` seconds for the file. Parsed tables written under another parser
    fingerprint are dropped when the file is opened, and assemblies and series
    stored under another :data:`SERIES_FINGERPRINT`.
    """

    def __init__(self, path: str | os.PathLike[str], *, wait: float = 10.0) -> None:
        self.path = Path(path).expanduser()
        self.stats = StoreStats()
        self.notes: list[str] = []
        """What the store had to do that the user should hear of (a file set aside)."""
        self.wait = wait
        self._pending: dict[str, tuple[Message, bytes]] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "rb") if self.path.is_file() else open(os.devnull, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot use as a store ({exc})") from None
        if head and head[8:12] != _MAGIC:
            # someone else's file (--cache given the wrong path): never set it aside
            what = "an SQLite file: the cache of patchtrack before 0.2" if head == b"SQLite format 3\0" else "not a DuckDB file"
            raise StoreError(f"{self.path}: cannot use as a store ({what})")
        self._db = self._guarded(self._open, "use as a store", reopen=False)
        self._rows = self._guarded(lambda: int(self._one("SELECT count(*) FROM blob")), "read")
        """The blob rows, about (what a look-up is planned by)."""

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """The file opened, waiting up to ``wait`` seconds while another process holds it."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                return duckdb.connect(str(self.path), config={"memory_limit": MEMORY_LIMIT})
            except duckdb.IOException as exc:
                if not _LOCKED.search(str(exc)):
                    raise
                if time.monotonic() >= deadline:
                    holder = _HOLDER.search(str(exc))
                    who = f" (PID {holder.group(1)})" if holder else ""
                    raise StoreError(
                        f"{self.path}: in use by another process{who}; waited {self.wait:g} s"
                    ) from None
                time.sleep(0.1)

    def _open(self) -> duckdb.DuckDBPyConnection:
        db = self._connect()
        try:
            # past 2 s of a statement DuckDB draws a progress bar on stdout, piped or
            # not, where the CLI writes its records (a closing checkpoint of 18 MB of
            # log took 3 s and drew one)
            db.execute("SET enable_progress_bar = false")
            # UTC: DuckDB computes year(), date_trunc()… of a TIMESTAMPTZ in the session's
            # zone, the machine's unless set (a mail of 2026-12-31T23:30Z went under
            # year=2027 on Pacific/Kiritimati); as a connection option it fails before
            # the time zone extension is loaded
            db.execute("SET TimeZone = 'UTC'")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            found = dict(db.execute(
                "SELECT key, value FROM meta WHERE key IN ('fingerprint', 'series_fingerprint', 'schema')"
            ).fetchall())
            dropped: tuple[str, ...] = ()
            if found.get("fingerprint") != FINGERPRINT:  # another parser or layout (upstream indexes stay)
                dropped = (*_PARSED, *_ASSEMBLED)
                if found.get("schema") != str(_SCHEMA):
                    dropped += ("upstream",)  # stored by an older layout too
            elif found.get("series_fingerprint") != SERIES_FINGERPRINT:
                dropped = _ASSEMBLED  # series stored another way: the messages stay
            db.execute("BEGIN")
            for table in dict.fromkeys(dropped):
                db.execute(f"DROP TABLE IF EXISTS {table}")
            if dropped:  # the series' states name series no longer stored
                db.execute("DELETE FROM meta WHERE key LIKE 'series_state:%'")
            self._create_tables(db)
            for key, value in (
                ("fingerprint", FINGERPRINT), ("series_fingerprint", SERIES_FINGERPRINT), ("schema", str(_SCHEMA)),
            ):
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            db.execute("COMMIT")
            if dropped and found:
                db.execute("CHECKPOINT")  # the dropped tables' blocks are free for reuse
        except BaseException:
            db.close()
            raise
        return db

    def _guarded(
        self, work: Callable[[], _T], what: str, *, reopen: bool = True, fallback: Callable[[], _T] | None = None
    ) -> _T:
        """``work()``, with DuckDB's failures made the store's: a damaged file is set
        aside and ``work`` done again on a fresh one (or ``fallback`` returned, for a
        read: what the damaged file held is gone); anything else is a
        :class:`StoreError`."""
        for attempt in (1, 2):
            try:
                return work()
            except duckdb.Error as exc:
                if _interrupted(exc):
                    raise KeyboardInterrupt from None
                if reopen:
                    self._rollback()
                if not _damaged(exc) or attempt == 2:
                    raise StoreError(f"{self.path}: cannot {what} ({_first_line(exc)})") from None
                self._set_aside(exc, reopen=reopen)
                if fallback is not None:
                    return fallback()
        raise AssertionError("unreachable")

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except duckdb.Error:
            pass  # none open, or a connection DuckDB invalidated

    def _set_aside(self, exc: duckdb.Error, *, reopen: bool) -> None:
        """Move a damaged file (and its write-ahead log) to ``<name>.corrupt``,
        replacing an older one, and start a fresh store at the path."""
        if reopen:
            try:
                self._db.close()
            except duckdb.Error:
                pass
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
            Path(f"{self.path}.wal").unlink(missing_ok=True)  # the log of the damaged file, never of a new one
        except OSError as err:
            raise StoreError(f"{self.path}: damaged ({_first_line(exc)}), and cannot be moved aside ({err})") from None
        self.stats.set_aside += 1
        self.notes.append(f"store {self.path} was damaged ({_first_line(exc)}): set aside as {aside.name}, started afresh")
        if reopen:
            try:
                self._db = self._open()
            except duckdb.Error as err:
                raise StoreError(f"{self.path}: cannot start afresh ({_first_line(err)})") from None

    @staticmethod
    def _create_tables(db: duckdb.DuckDBPyConnection) -> None:
        # crc: the row's checksum (_sum of the fields named in each table's reader)
        db.execute("CREATE TABLE IF NOT EXISTS blob (oid VARCHAR PRIMARY KEY, data BLOB, crc UBIGINT)")
        # base: the assembly whose data this one's is stored as a difference from
        db.execute(
            "CREATE TABLE IF NOT EXISTS assembly"
            " (key VARCHAR PRIMARY KEY, data BLOB, stored DOUBLE, base VARCHAR, crc UBIGINT)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS assembly_state"
            " (key VARCHAR PRIMARY KEY, scope VARCHAR, tips VARCHAR, data BLOB, crc UBIGINT)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS upstream (key VARCHAR PRIMARY KEY, data BLOB, crc UBIGINT)")
        # ingested: how far each list's epochs were ingested (the tip walked to)
        db.execute(
            "CREATE TABLE IF NOT EXISTS ingested (list VARCHAR, epoch INTEGER, tip VARCHAR, PRIMARY KEY (list, epoch))"
        )
        for table in SCHEMAS:
            db.execute(create_sql(table))

    @classmethod
    def default(cls) -> Store:
        """The per-user store at :func:`default_store_path`."""
        return cls(default_store_path())

    def __repr__(self) -> str:
        return f"<Store {str(self.path)!r} {len(self)} messages>"

    def __len__(self) -> int:
        self.flush()
        count = self._guarded(
            lambda: self._one("SELECT count(*) FROM blob"), "read", fallback=lambda: 0
        )
        return int(count or 0)

    def _one(self, query: str, *params: Any) -> Any:
        rows = self._db.execute(query, list(params)).fetchall()  # all: DuckDB 2 refuses work after a part
        return rows[0][0] if rows else None

    def _drop(self, table: str, rowids: list[int]) -> None:
        """Delete rows found damaged, by rowid (their key may be what was damaged);
        they are stored again when rebuilt."""
        self.stats.corrupt += len(rowids)

        def work() -> None:
            self._db.execute("BEGIN")
            self._db.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT unnest(?))", [rowids])  # noqa: S608
            self._db.execute("COMMIT")

        self._guarded(work, "write", fallback=lambda: None)

    def get_many(
        self, oids: Sequence[str], persons: _codec.Interned | None = None
    ) -> dict[str, Message]:
        """The stored messages among ``oids``, by blob id (absent ones left out).

        ``persons`` interns people and address lists across calls (see
        :func:`patchtrack._engine._codec.decode`); pass one dict for a whole walk.
        """
        found: dict[str, Message] = {}
        if persons is None:
            persons = {}
        bad: list[int] = []
        lost: set[str] = set()

        decode, crc32 = _codec.decode, zlib.crc32
        if self._pending:
            for oid in oids:
                held = self._pending.get(oid)
                if held is not None:
                    found[oid] = held[0]
            oids = [oid for oid in oids if oid not in found]
            asked = len(oids) + len(found)
        else:
            asked = len(oids)

        def rows_of(keys: Sequence[str]) -> list[Any]:
            if len(keys) * _FEW_PER_ROW < self._rows + _JOIN_ROWS:  # a handful: each by the key's index
                found: list[Any] = []
                for start in range(0, len(keys), _FEW):
                    some = keys[start:start + _FEW]
                    found += self._db.execute(_by_key(len(some)), list(some)).fetchall()
                return found
            return self._db.execute(  # a list as a parameter: as fast as a registered table, without pyarrow
                "SELECT rowid, oid, data, crc FROM blob JOIN (SELECT unnest(?::VARCHAR[]) AS k) ON oid = k", [list(keys)]
            ).fetchall()

        def work() -> dict[str, Message]:
            for start in range(0, len(oids), BATCH):
                rows = rows_of(oids[start:start + BATCH])
                for rowid, oid, data, stored in rows:
                    try:  # the checksum, inline: this loop is the warm path
                        if stored == crc32(data) and (message := decode(data, persons)).oid == oid:
                            found[oid] = message
                            continue
                    except Exception:  # noqa: BLE001, S110 - a field of another type, bytes that do not decode
                        pass
                    bad.append(rowid)  # not what was written: a miss
                    lost.add(oid)
            return found

        self._guarded(work, "read", fallback=dict)
        if bad:
            self._drop("blob", bad)
            found = {oid: m for oid, m in found.items() if oid not in lost}
        self.stats.hits += len(found)
        self.stats.misses += asked - len(found)
        return found

    def put_many(self, messages: Sequence[Message]) -> None:
        """Store ``messages`` (keyed by ``oid``)."""
        self.put_parsed(messages, [_codec.encode(m) for m in messages])

    def put_parsed(self, messages: Sequence[Message], encoded: Sequence[bytes]) -> None:
        """Store ``messages`` with their bytes as :func:`patchtrack._engine._codec.encode`
        made them (what parsing workers send back): the bytes replace what was
        stored under each blob id, the columns are written for blob ids without
        them (a mail's columns are written once, so nothing is doubled).

        They are written :data:`FLUSH` at a time, in one transaction (or at
        :meth:`flush`, which the engine calls when a load ends, and which
        :meth:`close` and every other write call first): a commit costs ~35 µs a
        mail however few it holds, and 200 mails a transaction made storing cost a
        third of parsing. Until then :meth:`get_many` finds them here."""
        for m, data in zip(messages, encoded):
            self._pending[m.oid] = (m, data)
            if len(self._pending) >= FLUSH:  # as they come: linux-pwm's 23,541 in one
                self.flush()  # transaction ran out of MEMORY_LIMIT (256 MB)
        self.stats.stored += len(messages)

    def flush(self) -> None:
        """Write the mails :meth:`put_parsed` holds."""
        if not self._pending:
            return
        self._guarded(lambda: self._write_pending(commit=True), "write")

    def _write_pending(self, *, commit: bool) -> None:
        """Insert the pending mails in the open transaction (begun here, and
        committed with ``commit``)."""
        pending = self._pending
        if not pending:
            return
        import pyarrow as pa
        import pyarrow.compute as pc

        incoming = blob_table(list(pending), [data for _, data in pending.values()])
        tables = mail_tables([m for m, _ in pending.values()])
        db = self._db
        if commit:
            db.execute("BEGIN")
        db.register("incoming", incoming)
        db.execute("INSERT OR REPLACE INTO blob SELECT oid, data, crc FROM incoming")
        db.unregister("incoming")
        self._rows += len(pending)
        db.register("rows", tables["mail"])
        # the primary key says which mails have their columns already
        fresh = pa.array([r[0] for r in db.execute(
            "INSERT OR IGNORE INTO mail SELECT * FROM rows RETURNING oid"
        ).fetchall()], pa.string())
        db.unregister("rows")
        for table in MAIL_TABLES[1:]:
            rows = tables[table]
            db.register("rows", rows.filter(pc.is_in(rows["oid"], value_set=fresh)))
            db.execute(f"INSERT INTO {table} SELECT * FROM rows")  # noqa: S608
            db.unregister("rows")
        if commit:
            db.execute("COMMIT")
        self._pending = {}

    def get_assembly(self, key: str) -> tuple[bytes, str | None] | None:
        """A stored whole-archive assembly (see :mod:`patchtrack._engine._index`) and the key
        of the assembly it is stored as a difference from (``None``: stored whole);
        ``None`` when there is none."""
        row = self._row("SELECT rowid, data, base, crc FROM assembly WHERE key = ?", key, large=True)
        if row is None:
            return None
        rowid, data, base, stored = row
        if not _intact(stored, key, data, base):
            self._drop("assembly", [rowid])
            return None
        return bytes(data), base

    def _row(self, query: str, key: str, *, large: bool = False) -> tuple[Any, ...] | None:
        """The row ``query`` finds for ``key``; ``large``: a whole assembly, which
        DuckDB reads under a limit of its own (see :meth:`put_assembly`)."""
        if large:
            self._guarded(lambda: self._db.execute(f"SET memory_limit = '{_LARGE}'"), "read")
        try:
            found: list[Any] = self._guarded(lambda: self._db.execute(query, [key]).fetchall(), "read", fallback=list)
        finally:
            if large:
                self._guarded(lambda: self._db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'"), "read")
        return tuple(found[0]) if found else None

    def put_assembly(
        self,
        key: str,
        data: bytes,
        *,
        state: bytes | None = None,
        scope: str = "",
        tips: str = "",
        base: str | None = None,
        keep: int = ASSEMBLIES_KEPT,
    ) -> None:
        """Store an assembly, keeping the ``keep`` most recently stored and those they
        are stored as differences from; ``state`` is what a later assembly of the
        same archive (``scope``) after new mail starts from, ``tips`` (JSON) the
        archive state it describes, and ``base`` the key of the stored assembly
        ``data`` and ``state`` are differences from, if they are."""
        size = len(data) + len(state or b"")

        def work() -> None:
            db = self._db
            # a whole archive's assembly is one value, which DuckDB holds in memory
            # to write it: 250,000 mails' did not fit under MEMORY_LIMIT
            db.execute(f"SET memory_limit = '{max(_MB_LIMIT, 4 * size // (1 << 20) + 64)}MB'")
            db.execute("BEGIN")
            db.execute(
                "INSERT OR REPLACE INTO assembly VALUES (?, ?, ?, ?, ?)",
                [key, data, time.time(), base, _sum(key, data, base)],
            )
            if state is not None:
                db.execute(
                    "INSERT OR REPLACE INTO assembly_state VALUES (?, ?, ?, ?, ?)",
                    [key, scope, tips, state, _sum(key, scope, tips, state)],
                )
            self._keep_assemblies(
                "SELECT key FROM (SELECT key FROM assembly ORDER BY stored DESC LIMIT ?)", keep
            )
            db.execute("COMMIT")

        try:
            self._guarded(work, "write")
        finally:
            self._guarded(lambda: self._db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'"), "write")

    def _keep_assemblies(self, kept: str, *params: Any) -> None:
        """Delete every assembly but those ``kept`` selects and those they are stored
        as differences from, and the states of the deleted."""
        self._db.execute(
            "DELETE FROM assembly WHERE key NOT IN (WITH RECURSIVE live(key) AS ("
            f" {kept}"
            " UNION SELECT a.base FROM assembly a JOIN live ON a.key = live.key WHERE a.base IS NOT NULL"
            ") SELECT key FROM live)", list(params)
        )
        self._db.execute("DELETE FROM assembly_state WHERE key NOT IN (SELECT key FROM assembly)")

    def assembly_bases(self, scope: str) -> list[tuple[str, str]]:
        """``(key, tips)`` of the stored assemblies of ``scope`` that keep a state,
        newest first (those whose state reads back intact)."""
        self._guarded(lambda: self._db.execute(f"SET memory_limit = '{_LARGE}'"), "read")  # as _row(large=True)
        try:
            rows: list[Any] = self._guarded(lambda: self._db.execute(
                "SELECT s.rowid, s.key, s.tips, s.data, s.crc FROM assembly_state s JOIN assembly a ON a.key = s.key "
                "WHERE s.scope = ? ORDER BY a.stored DESC", [scope]
            ).fetchall(), "read", fallback=list)
        finally:
            self._guarded(lambda: self._db.execute(f"SET memory_limit = '{MEMORY_LIMIT}'"), "read")
        good = [(key, tips) for _, key, tips, data, stored in rows if _intact(stored, key, scope, tips, data)]
        if len(good) < len(rows):
            self._drop("assembly_state", [r[0] for r in rows if not _intact(r[4], r[1], scope, r[2], r[3])])
        return good

    def get_assembly_state(self, key: str) -> bytes | None:
        """The state stored with the assembly ``key``, or ``None``."""
        row = self._row("SELECT rowid, scope, tips, data, crc FROM assembly_state WHERE key = ?", key, large=True)
        if row is None:
            return None
        rowid, scope, tips, data, stored = row
        if not _intact(stored, key, scope, tips, data):
            self._drop("assembly_state", [rowid])
            return None
        return bytes(data)

    def get_upstream(self, key: str) -> bytes | None:
        """A stored upstream index (see :mod:`patchtrack.upstream`), or ``None``."""
        row = self._row("SELECT rowid, data, crc FROM upstream WHERE key = ?", key)
        if row is None:
            return None
        rowid, data, stored = row
        if not _intact(stored, key, data):
            self._drop("upstream", [rowid])
            return None
        return bytes(data)

    def put_upstream(self, key: str, data: bytes) -> None:
        """Store an upstream index under ``key`` (the repository and range it covers)."""

        def work() -> None:
            self._db.execute("BEGIN")
            self._db.execute("INSERT OR REPLACE INTO upstream VALUES (?, ?, ?)", [key, data, _sum(key, data)])
            self._db.execute("COMMIT")

        self._guarded(work, "write")

    # -- what an ingest writes: deliveries, how far each list was read, its series

    def ingested(self) -> dict[str, dict[int, str]]:
        """``{list: {epoch: tip}}``: how far each list was ingested."""
        rows: list[Any] = self._guarded(
            lambda: self._db.execute("SELECT list, epoch, tip FROM ingested").fetchall(), "read", fallback=list
        )
        out: dict[str, dict[int, str]] = {}
        for name, epoch, tip in rows:
            out.setdefault(name, {})[int(epoch)] = tip
        return out

    def put_deliveries(
        self,
        deliveries: Sequence[tuple[Delivery, str]],
        tips: dict[str, dict[int, str]],
        run: int,
        repeats: Sequence[tuple[str, int, str, int, str]] = (),
    ) -> None:
        """Record ``deliveries`` (each with the blob id of the copy parsed), written
        by ingest ``run``, and, in the same transaction, the ``tips`` they were
        walked to: a run killed before it commits leaves the store as it was, and
        the next ingest walks the same mail again — nothing lost, nothing doubled.
        ``repeats`` are blobs a list delivered again (list, epoch, commit, arrival,
        blob id): kept apart, each once."""
        rows = delivery_table(deliveries, run)
        again = redelivery_table(repeats, run)

        def work() -> None:
            db = self._db
            db.execute("BEGIN")
            self._write_pending(commit=False)  # the mails they name, in the same transaction
            db.register("rows", rows)
            db.execute("INSERT INTO delivery SELECT * FROM rows")
            db.unregister("rows")
            if again.num_rows:  # found ahead of their window too: a run started again finds them again
                db.register("again", again)
                db.execute(
                    "INSERT INTO redelivery SELECT * FROM again a WHERE NOT EXISTS (SELECT 1 FROM redelivery r"
                    ' WHERE r.list = a.list AND r."commit" = a."commit" AND r.oid = a.oid)'
                )
                db.unregister("again")
            for name, epochs in tips.items():
                for epoch, tip in epochs.items():
                    db.execute("INSERT OR REPLACE INTO ingested VALUES (?, ?, ?)", [name, epoch, tip])
            db.execute("COMMIT")

        self._guarded(work, "write")

    def forget_lists(self, names: Iterable[str]) -> None:
        """Drop the deliveries and tips of these lists (their history was rewritten:
        the next ingest reads them whole)."""
        names = list(names)

        def work() -> None:
            self._db.execute("BEGIN")
            for table in ("delivery", "redelivery", "ingested"):
                self._db.execute(f"DELETE FROM {table} WHERE list IN (SELECT unnest(?))", [names])  # noqa: S608
            self._db.execute("COMMIT")

        self._guarded(work, "write")

    def put_series(
        self, series: Sequence[Series], rows: Sequence[tuple[Any, ...]], lists: Sequence[str], *, append: bool = False
    ) -> None:
        """Replace the stored series of ``lists`` (assembled together) with these
        (an ingest's whole assembly), each with its row of the stored assembly
        (:mod:`._series_codec`); with ``append``, add them."""
        scope = scope_of(lists)
        tables = series_tables(series, rows, scope)

        def work() -> None:
            db = self._db
            db.execute("BEGIN")
            for table, rows in tables.items():
                if not append:
                    db.execute(f"DELETE FROM {table} WHERE scope = ?", [scope])  # noqa: S608
                db.register("rows", rows)
                db.execute(f"INSERT INTO {table} SELECT * FROM rows")  # noqa: S608
                db.unregister("rows")
            db.execute("COMMIT")

        self._guarded(work, "write")

    def drop_series(self, ids: Sequence[str], lists: Sequence[str]) -> None:
        """Delete the stored series ``ids`` of ``lists`` (assembled together), with
        their patches and trailers."""
        scope = scope_of(lists)

        def work() -> None:
            db = self._db
            db.execute("BEGIN")
            for table in SERIES_TABLES:
                db.execute(
                    f"DELETE FROM {table} WHERE scope = ? AND series_id IN (SELECT unnest(?))", [scope, list(ids)]  # noqa: S608
                )
            db.execute("COMMIT")

        if ids:
            self._guarded(work, "write")

    def sql(self, query: str, lists: Sequence[str], params: Sequence[Any] | None = None) -> pa.Table:
        """The result of one ``SELECT`` (or ``WITH … SELECT``) over the store's views
        (:data:`patchtrack.store.VIEWS`) of ``lists``, as an Arrow table; any other statement is
        refused with :class:`StoreError`, and so is a query DuckDB rejects (its
        message as the error's)."""
        self.flush()
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as exc:
            raise StoreError(f"query: {_first_line(exc)}") from None
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise StoreError("query: one SELECT statement, which reads the store without changing it")
        
        def work() -> pa.Table:
            create_views(self._db, lists)
            result = self._db.sql(query, params=list(params) if params else None)
            # DuckDB 2 renamed arrow() (1.x: a table) to to_arrow_table
            fetch = getattr(result, "to_arrow_table", None) or getattr(result, "arrow")
            return fetch()  # type: ignore[no-any-return]

        try:
            return work()
        except duckdb.Error as exc:
            if _interrupted(exc):
                raise KeyboardInterrupt from None
            if _damaged(exc):
                return self._guarded(work, "read")
            raise StoreError(f"query: {_first_line(exc)}") from None

    def connection(self, lists: Sequence[str]) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection itself, the views of ``lists`` created (for ``COPY … TO``, a
        relation API, what :meth:`sql` does not offer); writing through it is at
        the caller's risk."""
        self.flush()
        create_views(self._db, lists)
        return self._db

    def clear(self) -> None:
        """Forget everything stored: the file is started afresh (its space given back)."""
        self._pending = {}
        self._rows = 0
        self._db.close()
        for path in (self.path, Path(f"{self.path}.wal")):
            path.unlink(missing_ok=True)
        self._db = self._guarded(self._open, "start afresh", reopen=False)
        self._db.execute("CHECKPOINT")  # the fresh file written out: its size is what info() says

    def info(self) -> StoreInfo:
        """What the file holds, and its size on disk (with its write-ahead log)."""
        self.flush()

        def work() -> StoreInfo:
            def count(table: str) -> int:
                return int(self._one(f"SELECT count(*) FROM {table}"))  # noqa: S608

            newest, oldest = self._db.execute("SELECT max(stored), min(stored) FROM assembly").fetchall()[0]
            return StoreInfo(
                path=self.path,
                size=sum(_size(Path(f"{self.path}{suffix}")) for suffix in ("", ".wal")),
                messages=count("blob"),
                assemblies=count("assembly"),
                upstream=count("upstream"),
                newest=newest,
                oldest=oldest,
                deliveries=count("delivery"),
                series=count("assembled_series"),
            )

        return self._guarded(work, "read")

    def prune(self, *, keep: Iterable[str] | None = None, older_than: float | None = None) -> PruneStats:
        """Drop what is no longer of use.

        ``keep``: the blob ids still in some archive (every mail of the archives
        in use): any other message is dropped — a parsed message never goes stale
        on its own (a blob never changes; a parser change already empties the
        store), so what is gone from the archives is what can go. ``older_than``
        (seconds): whole-archive assemblies stored longer ago than this are dropped
        (a later call rebuilds one from the stored messages, in seconds). Upstream
        indexes, deliveries and series stay (``clear`` drops them). DuckDB reuses
        the space freed; it gives it back to the file system only on ``clear``.
        """
        self.flush()

        def work() -> PruneStats:
            db = self._db
            dropped_messages = dropped_assemblies = 0
            db.execute("BEGIN")
            if keep is not None:
                kept = list(dict.fromkeys(keep))
                before = int(self._one("SELECT count(*) FROM blob"))
                for table in ("blob", *MAIL_TABLES):
                    db.execute(f"DELETE FROM {table} WHERE oid NOT IN (SELECT unnest(?::VARCHAR[]))", [kept])  # noqa: S608
                dropped_messages = before - int(self._one("SELECT count(*) FROM blob"))
            if older_than is not None:
                # an assembly kept keeps the ones it is stored as a difference from
                before = int(self._one("SELECT count(*) FROM assembly"))
                self._keep_assemblies("SELECT key FROM assembly WHERE stored >= ?", time.time() - older_than)
                dropped_assemblies = before - int(self._one("SELECT count(*) FROM assembly"))
            db.execute("COMMIT")
            db.execute("CHECKPOINT")
            return PruneStats(messages=dropped_messages, assemblies=dropped_assemblies)

        return self._guarded(work, "write")

    def close(self) -> None:
        """Write what is pending and close the file; the object is unusable afterwards."""
        try:
            self.flush()
        finally:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
