"""A store of parsed messages keyed by blob id, so an archive is parsed once.

A public-inbox mail is a git blob and a blob never changes, so its parse never
changes either — until the parser does. :class:`Cache` keeps each
:class:`~patchtrack.message.Message` in SQLite under its blob id, next to a
fingerprint of the parser's source: when the parser, the records or the encoding
change, the fingerprint changes and the old entries are dropped on open. The whole
archive assemblies stored beside them have a fingerprint of their own (the
assembling code and the series codec): when only that changes, only they are
dropped, and every parsed message is kept. A second
walk of a range parses nothing; a walk after new mail arrived parses only the new
mail. The same blob delivered to two lists (a cross-post) is parsed once.

The library never opens a cache by itself: pass one to
:func:`~patchtrack.open_inbox` (``cache=Cache.default()`` for ``~/.cache/patchtrack``,
the CLI's default).

The file is not trusted blindly: every row carries a CRC-32 of its key and its
bytes, and a row whose checksum fails, or that does not decode, is a miss — deleted,
counted in ``stats.corrupt``, and parsed (or assembled) again. A file SQLite finds
damaged (a garbled header, a page cut short) is set aside as ``<name>.corrupt`` and
the cache starts afresh, with a line in :attr:`Cache.notes`. Any other SQLite
failure (no permission, a full disk, a locked file) raises :class:`CacheError`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from . import _codec
from ..errors import PatchtrackError
from ..message import Message

__all__ = [
    "Cache", "CacheError", "CacheInfo", "CacheStats", "PruneStats", "default_cache_path", "source_digest",
    "FINGERPRINT", "SERIES_FINGERPRINT",
]

_PARSER_MODULES = (
    "_engine/_codec", "_mime", "archive/_walk", "diff", "identity", "message", "subject", "trailers",
    "vocab",  # stored records hold its values: renaming one must not leave rows its converters refuse
)
_ASSEMBLY_MODULES = (
    "_engine/_series_codec", "_engine/_index", "_engine/_reassemble", "assemble", "revisions", "series", "thread",
)
_SCHEMA = 4  # 4: every row carries a checksum
_CHUNK = 500  # blob ids per query: SQLite's default limit on host parameters is 999 (older builds)
ASSEMBLIES_KEPT = 4
"""Whole-archive assemblies kept (a few archives, or a few states of one)."""


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
"""The parser fingerprint cached messages are stored under (the message codec's
and the parser's source): when it changes, every table but upstream's is dropped."""

SERIES_FINGERPRINT = hashlib.sha256(
    f"{_SCHEMA}:{sys.version_info[:2]}:{source_digest(*_ASSEMBLY_MODULES)}".encode()
).hexdigest()[:16]
"""The fingerprint stored assemblies are kept under (the series codec's and the
assembling code's source): when only it changes, only the assemblies are dropped."""


class CacheError(PatchtrackError):
    """The cache file could not be opened, read or written (a directory, no
    permission, a full disk, a lock held too long)."""


_T = TypeVar("_T")


def _message_sum(data: bytes) -> int:
    """The CRC-32 a message row is stored with, over its bytes (which begin with its
    blob id, checked once decoded). 1.8-2.6 µs alone for linux-pwm's mean row of
    3.1 kB (zlib 1.2.13), 2.6-3.9 µs in the loop, where fetching and decoding the row
    cost ~65 µs: 3-6 % of a warm load (measured on a loaded 2-core machine)."""
    return zlib.crc32(data)


def _sum(*parts: str | bytes | None) -> int:
    """The CRC-32 any other row is stored with, over its key and its fields."""
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


# bytes.decode itself, not a Python function: no frame per value read
_text = functools.partial(bytes.decode, encoding="utf-8", errors="surrogateescape")


def _damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is damaged (not a lock, a permission…)."""
    name = getattr(exc, "sqlite_errorname", "")  # Python 3.11+
    text = str(exc)
    return name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in text or "not a database" in text


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/patchtrack/messages.sqlite`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "patchtrack" / "messages.sqlite"


@attrs.define
class CacheStats:
    """What one :class:`Cache` served since it was opened."""

    hits: int = 0
    misses: int = 0
    stored: int = 0
    assemblies_read: int = 0
    assemblies_updated: int = 0  # built from a stored one after new mail
    corrupt: int = 0  # rows whose checksum failed or that did not decode: misses, deleted
    set_aside: int = 0  # damaged files moved away (the cache started afresh)


@attrs.frozen
class CacheInfo:
    """What a cache file holds (:meth:`Cache.info`)."""

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


@attrs.frozen
class PruneStats:
    """What :meth:`Cache.prune` dropped."""

    messages: int
    assemblies: int


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


class Cache:
    """Parsed messages in an SQLite file, keyed by blob id.

    Usable from one thread at a time. Entries written under another parser
    fingerprint are deleted when the file is opened, and so are assemblies stored
    under another :data:`SERIES_FINGERPRINT`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.stats = CacheStats()
        self.notes: list[str] = []
        """What the cache had to do that the user should hear of (a file set aside)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "rb") if self.path.is_file() else open(os.devnull, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise CacheError(f"{self.path}: cannot use as a cache ({exc})") from None
        if head and head != b"SQLite format 3\0":
            # someone else's file (--cache given the wrong path): never set it aside
            raise CacheError(f"{self.path}: cannot use as a cache (not an SQLite file)")
        self._db = self._guarded(self._open, "use as a cache", reopen=False)

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None)
        # Text that is not UTF-8 (a flipped bit) reads back as surrogates, fails its
        # checksum and is a miss, instead of an error that ends the query.
        db.text_factory = _text
        try:
            # Large pages and memory-mapped reads: a warm walk reads every row once,
            # and most rows are a few kB (measured: 3.5x faster than the defaults).
            db.execute("PRAGMA page_size=16384")
            db.execute(f"PRAGMA mmap_size={1 << 30}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            found = dict(db.execute(
                "SELECT key, value FROM meta WHERE key IN ('fingerprint', 'series_fingerprint', 'schema')"
            ))
            dropped = []
            if found.get("fingerprint") != FINGERPRINT:  # another parser or layout (upstream indexes stay)
                dropped = ["message", "assembly", "assembly_state"]
                if found.get("schema") != str(_SCHEMA):
                    dropped.append("upstream")  # stored by an older layout too
            elif found.get("series_fingerprint") != SERIES_FINGERPRINT:
                dropped = ["assembly", "assembly_state"]  # series stored another way: the messages stay
            if dropped:
                with db:
                    db.execute("BEGIN")
                    for table in dropped:
                        db.execute(f"DROP TABLE IF EXISTS {table}")
                    self._create_tables(db)
                    for key, value in (
                        ("fingerprint", FINGERPRINT), ("series_fingerprint", SERIES_FINGERPRINT), ("schema", str(_SCHEMA)),
                    ):
                        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
                if found:
                    db.execute("VACUUM")  # give the old entries' space back
            else:
                self._create_tables(db)
        except BaseException:
            db.close()
            raise
        return db

    def _guarded(
        self, work: Callable[[], _T], what: str, *, reopen: bool = True, fallback: Callable[[], _T] | None = None
    ) -> _T:
        """``work()``, with SQLite's failures made the cache's: a damaged file is set
        aside and ``work`` done again on a fresh one (or ``fallback`` returned, for a
        read: what the damaged file held is gone); anything else is a
        :class:`CacheError`."""
        for attempt in (1, 2):
            try:
                return work()
            except sqlite3.Error as exc:
                if not _damaged(exc) or attempt == 2:
                    raise CacheError(f"{self.path}: cannot {what} ({exc})") from None
                self._set_aside(exc, reopen=reopen)
                if fallback is not None:
                    return fallback()
        raise AssertionError("unreachable")

    def _set_aside(self, exc: sqlite3.Error, *, reopen: bool) -> None:
        """Move a damaged file (and its journal) to ``<name>.corrupt``, replacing an
        older one, and start a fresh cache at the path."""
        if reopen:
            self._db.close()
        aside = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):  # the journal of the damaged file, never of a new one
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        except OSError as err:
            raise CacheError(f"{self.path}: damaged ({exc}), and cannot be moved aside ({err})") from None
        self.stats.set_aside += 1
        self.notes.append(f"cache {self.path} was damaged ({exc}): set aside as {aside.name}, started afresh")
        if reopen:
            try:
                self._db = self._open()
            except sqlite3.Error as err:
                raise CacheError(f"{self.path}: cannot start afresh ({err})") from None

    @staticmethod
    def _create_tables(db: sqlite3.Connection) -> None:
        # sum: the row's checksum (_sum of the fields named in each table's reader)
        db.execute("CREATE TABLE IF NOT EXISTS message (oid TEXT PRIMARY KEY, data BLOB, sum INTEGER)")
        # base: the assembly whose data this one's is stored as a difference from
        db.execute(
            "CREATE TABLE IF NOT EXISTS assembly (key TEXT PRIMARY KEY, data BLOB, stored REAL, base TEXT, sum INTEGER)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS assembly_state"
            " (key TEXT PRIMARY KEY, scope TEXT, tips TEXT, data BLOB, sum INTEGER)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS upstream (key TEXT PRIMARY KEY, data BLOB, sum INTEGER)")

    @classmethod
    def default(cls) -> Cache:
        """The per-user cache at :func:`default_cache_path`."""
        return cls(default_cache_path())

    def __repr__(self) -> str:
        return f"<Cache {str(self.path)!r} {len(self)} messages>"

    def __len__(self) -> int:
        count = self._guarded(lambda: self._db.execute("SELECT count(*) FROM message").fetchone()[0], "read", fallback=lambda: 0)
        return int(count)

    def _drop(self, table: str, rowids: list[int]) -> None:
        """Delete rows found damaged, by rowid (their key may be what was damaged);
        they are stored again when rebuilt."""
        self.stats.corrupt += len(rowids)

        def work() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(f"DELETE FROM {table} WHERE rowid = ?", [(r,) for r in rowids])  # noqa: S608

        self._guarded(work, "write", fallback=lambda: None)

    def get_many(
        self, oids: Sequence[str], persons: _codec.Interned | None = None
    ) -> dict[str, Message]:
        """The cached messages among ``oids``, by blob id (absent ones left out).

        ``persons`` interns people and address lists across calls (see
        :func:`patchtrack._engine._codec.decode`); pass one dict for a whole walk.
        """
        found: dict[str, Message] = {}
        if persons is None:
            persons = {}
        bad: list[int] = []
        lost: set[str] = set()

        decode, crc32 = _codec.decode, zlib.crc32

        def work() -> dict[str, Message]:
            for start in range(0, len(oids), _CHUNK):
                chunk = oids[start:start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT rowid, oid, data, sum FROM message WHERE oid IN ({marks})", chunk  # noqa: S608
                )
                for rowid, oid, data, stored in rows:
                    try:  # _message_sum, inline: this loop is the warm path
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
            self._drop("message", bad)
            found = {oid: m for oid, m in found.items() if oid not in lost}
        self.stats.hits += len(found)
        self.stats.misses += len(oids) - len(found)
        return found

    def put_many(self, messages: Iterable[Message]) -> None:
        """Store ``messages`` (keyed by ``oid``), replacing what was there."""
        self.put_encoded([(m.oid, _codec.encode(m)) for m in messages])

    def put_encoded(self, rows: list[tuple[str, bytes]]) -> None:
        """Store messages already encoded by :func:`patchtrack._engine._codec.encode`, as
        ``(oid, bytes)`` pairs (what parsing workers send back)."""
        if not rows:
            return

        def work() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "INSERT OR REPLACE INTO message VALUES (?, ?, ?)", [(o, d, _message_sum(d)) for o, d in rows]
                )

        self._guarded(work, "write")
        self.stats.stored += len(rows)

    def get_assembly(self, key: str) -> tuple[bytes, str | None] | None:
        """A stored whole-archive assembly (see :mod:`patchtrack._engine._index`) and the key
        of the assembly it is stored as a difference from (``None``: stored whole);
        ``None`` when there is none."""
        row = self._row("SELECT rowid, data, base, sum FROM assembly WHERE key = ?", key)
        if row is None:
            return None
        rowid, data, base, stored = row
        if not _intact(stored, key, data, base):
            self._drop("assembly", [rowid])
            return None
        return bytes(data), base

    def _row(self, query: str, key: str) -> tuple[Any, ...] | None:
        found = self._guarded(lambda: self._db.execute(query, (key,)).fetchone(), "read", fallback=lambda: None)
        return None if found is None else tuple(found)

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
        def work() -> None:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT OR REPLACE INTO assembly VALUES (?, ?, ?, ?, ?)",
                    (key, data, time.time(), base, _sum(key, data, base)),
                )
                if state is not None:
                    self._db.execute(
                        "INSERT OR REPLACE INTO assembly_state VALUES (?, ?, ?, ?, ?)",
                        (key, scope, tips, state, _sum(key, scope, tips, state)),
                    )
                self._db.execute(
                    "WITH RECURSIVE live(key) AS ("
                    " SELECT key FROM (SELECT key FROM assembly ORDER BY stored DESC LIMIT ?)"
                    " UNION SELECT a.base FROM assembly a JOIN live ON a.key = live.key WHERE a.base IS NOT NULL"
                    ") DELETE FROM assembly WHERE key NOT IN (SELECT key FROM live)", (keep,)
                )
                self._db.execute("DELETE FROM assembly_state WHERE key NOT IN (SELECT key FROM assembly)")

        self._guarded(work, "write")

    def assembly_bases(self, scope: str) -> list[tuple[str, str]]:
        """``(key, tips)`` of the stored assemblies of ``scope`` that keep a state,
        newest first (those whose state reads back intact)."""
        rows = self._guarded(lambda: list(self._db.execute(
            "SELECT s.rowid, s.key, s.tips, s.data, s.sum FROM assembly_state s JOIN assembly a ON a.key = s.key "
            "WHERE s.scope = ? ORDER BY a.stored DESC", (scope,)
        )), "read", fallback=list)
        good = [(key, tips) for _, key, tips, data, stored in rows if _intact(stored, key, scope, tips, data)]
        if len(good) < len(rows):
            self._drop("assembly_state", [r[0] for r in rows if not _intact(r[4], r[1], scope, r[2], r[3])])
        return good

    def get_assembly_state(self, key: str) -> bytes | None:
        """The state stored with the assembly ``key``, or ``None``."""
        row = self._row("SELECT rowid, scope, tips, data, sum FROM assembly_state WHERE key = ?", key)
        if row is None:
            return None
        rowid, scope, tips, data, stored = row
        if not _intact(stored, key, scope, tips, data):
            self._drop("assembly_state", [rowid])
            return None
        return bytes(data)

    def get_upstream(self, key: str) -> bytes | None:
        """A stored upstream index (see :mod:`patchtrack.upstream`), or ``None``."""
        row = self._row("SELECT rowid, data, sum FROM upstream WHERE key = ?", key)
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
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute("INSERT OR REPLACE INTO upstream VALUES (?, ?, ?)", (key, data, _sum(key, data)))

        self._guarded(work, "write")

    def clear(self) -> None:
        """Forget every cached message and assembly, and give the file's space back."""

        def work() -> None:
            with self._db:
                self._db.execute("BEGIN")
                for table in ("assembly", "assembly_state", "upstream", "message"):
                    self._db.execute(f"DELETE FROM {table}")  # noqa: S608
            self._compact()

        self._guarded(work, "write")

    def _compact(self) -> None:
        """Give the space of deleted rows back: VACUUM writes the file anew through the
        write-ahead log, which the checkpoint then empties."""
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def info(self) -> CacheInfo:
        """What the file holds, and its size on disk (with its write-ahead log)."""

        def work() -> CacheInfo:
            def count(table: str) -> int:
                return int(self._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608

            newest, oldest = self._db.execute("SELECT max(stored), min(stored) FROM assembly").fetchone()
            return CacheInfo(
                path=self.path,
                size=sum(_size(Path(f"{self.path}{suffix}")) for suffix in ("", "-wal")),
                messages=count("message"),
                assemblies=count("assembly"),
                upstream=count("upstream"),
                newest=newest,
                oldest=oldest,
            )

        return self._guarded(work, "read")

    def prune(self, *, keep: Iterable[str] | None = None, older_than: float | None = None) -> PruneStats:
        """Drop what is no longer of use, and give the space back.

        ``keep``: the blob ids still in some archive (every mail of the archives
        in use): any other message entry is dropped — a message entry never goes
        stale on its own (a blob never changes; a parser change already empties the
        cache), so what is gone from the archives is what can go. ``older_than``
        (seconds): whole-archive assemblies stored longer ago than this are dropped
        (a later call rebuilds one from the cached messages, in seconds). Upstream
        indexes stay (``clear`` drops them).
        """

        def work() -> PruneStats:
            dropped_messages = dropped_assemblies = 0
            with self._db:
                self._db.execute("BEGIN")
                if keep is not None:
                    self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (oid TEXT PRIMARY KEY)")
                    self._db.execute("DELETE FROM keep")
                    self._db.executemany("INSERT OR IGNORE INTO keep VALUES (?)", ((oid,) for oid in keep))
                    dropped_messages = self._db.execute(
                        "DELETE FROM message WHERE oid NOT IN (SELECT oid FROM keep)"
                    ).rowcount
                    self._db.execute("DROP TABLE keep")
                if older_than is not None:
                    # an assembly kept keeps the ones it is stored as a difference from
                    before = self._db.execute("SELECT count(*) FROM assembly").fetchone()[0]
                    self._db.execute(
                        "WITH RECURSIVE live(key) AS ("
                        " SELECT key FROM assembly WHERE stored >= ?"
                        " UNION SELECT a.base FROM assembly a JOIN live ON a.key = live.key WHERE a.base IS NOT NULL"
                        ") DELETE FROM assembly WHERE key NOT IN (SELECT key FROM live)",
                        (time.time() - older_than,),
                    )
                    dropped_assemblies = before - self._db.execute("SELECT count(*) FROM assembly").fetchone()[0]
                    self._db.execute("DELETE FROM assembly_state WHERE key NOT IN (SELECT key FROM assembly)")
            self._compact()
            return PruneStats(messages=dropped_messages, assemblies=dropped_assemblies)

        return self._guarded(work, "write")

    def close(self) -> None:
        """Close the file; the object is unusable afterwards."""
        self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
