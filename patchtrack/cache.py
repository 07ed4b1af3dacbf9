"""A store of parsed messages keyed by blob id, so an archive is parsed once.

A public-inbox mail is a git blob and a blob never changes, so its parse never
changes either — until the parser does. :class:`Cache` keeps each
:class:`~patchtrack.message.Message` in SQLite under its blob id, next to a
fingerprint of the parser's source: when the parser, the records or the encoding
change, the fingerprint changes and the old entries are dropped on open. A second
walk of a range parses nothing; a walk after new mail arrived parses only the new
mail. The same blob delivered to two lists (a cross-post) is parsed once.

The library never opens a cache by itself: pass one to
:func:`~patchtrack.open_inbox` (``cache=Cache.default()`` for ``~/.cache/patchtrack``,
the CLI's default).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from . import _codec
from .errors import PatchtrackError
from .message import Message

__all__ = ["Cache", "CacheError", "default_cache_path", "source_digest", "FINGERPRINT"]

_PARSER_MODULES = (
    "_codec", "_mime", "_walk", "diff", "identity", "message", "subject", "trailers",
)
_SCHEMA = 3
_CHUNK = 500  # blob ids per query: SQLite's default limit on host parameters is 999 (older builds)
ASSEMBLIES_KEPT = 4
"""Whole-archive assemblies kept (a few archives, or a few states of one)."""


@functools.cache
def source_digest(*modules: str) -> str:
    """A hash of these patchtrack modules' source: part of every key whose stored
    value that code computes, so a code change invalidates it (read once a process)."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    for name in modules:
        digest.update((here / f"{name}.py").read_bytes())
    return digest.hexdigest()


FINGERPRINT = hashlib.sha256(
    f"{_SCHEMA}:{sys.version_info[:2]}:{source_digest(*_PARSER_MODULES)}".encode()
).hexdigest()[:16]
"""The parser fingerprint cached entries are stored under."""


class CacheError(PatchtrackError):
    """The cache file could not be opened or written (not a cache, no permission)."""


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


class Cache:
    """Parsed messages in an SQLite file, keyed by blob id.

    Usable from one thread at a time. Entries written under another parser
    fingerprint are deleted when the file is opened.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.stats = CacheStats()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            # Large pages and memory-mapped reads: a warm walk reads every row once,
            # and most rows are a few kB (measured: 3.5x faster than the defaults).
            self._db.execute("PRAGMA page_size=16384")
            self._db.execute(f"PRAGMA mmap_size={1 << 30}")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if row is None or row[0] != FINGERPRINT:
                with self._db:  # another parser or layout: start again (upstream indexes stay)
                    self._db.execute("BEGIN")
                    for table in ("message", "assembly", "assembly_state"):
                        self._db.execute(f"DROP TABLE IF EXISTS {table}")
                    self._create_tables()
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (FINGERPRINT,)
                    )
                if row is not None:
                    self._db.execute("VACUUM")  # give the old entries' space back
            else:
                self._create_tables()
        except (sqlite3.Error, OSError) as exc:
            raise CacheError(f"{self.path}: cannot use as a cache ({exc})") from None

    def _create_tables(self) -> None:
        self._db.execute("CREATE TABLE IF NOT EXISTS message (oid TEXT PRIMARY KEY, data BLOB)")
        # base: the assembly whose data this one's is stored as a difference from
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS assembly (key TEXT PRIMARY KEY, data BLOB, stored REAL, base TEXT)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS assembly_state (key TEXT PRIMARY KEY, scope TEXT, tips TEXT, data BLOB)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS upstream (key TEXT PRIMARY KEY, data BLOB)")

    @classmethod
    def default(cls) -> Cache:
        """The per-user cache at :func:`default_cache_path`."""
        return cls(default_cache_path())

    def __repr__(self) -> str:
        return f"<Cache {str(self.path)!r} {len(self)} messages>"

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM message").fetchone()[0])

    def get_many(
        self, oids: Sequence[str], persons: _codec.Interned | None = None
    ) -> dict[str, Message]:
        """The cached messages among ``oids``, by blob id (absent ones left out).

        ``persons`` interns people and address lists across calls (see
        :func:`patchtrack._codec.decode`); pass one dict for a whole walk.
        """
        found: dict[str, Message] = {}
        if persons is None:
            persons = {}
        decode = _codec.decode
        for start in range(0, len(oids), _CHUNK):
            chunk = oids[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for oid, data in self._db.execute(
                f"SELECT oid, data FROM message WHERE oid IN ({marks})", chunk  # noqa: S608
            ):
                found[oid] = decode(data, persons)
        self.stats.hits += len(found)
        self.stats.misses += len(oids) - len(found)
        return found

    def put_many(self, messages: Iterable[Message]) -> None:
        """Store ``messages`` (keyed by ``oid``), replacing what was there."""
        self.put_encoded([(m.oid, _codec.encode(m)) for m in messages])

    def put_encoded(self, rows: list[tuple[str, bytes]]) -> None:
        """Store messages already encoded by :func:`patchtrack._codec.encode`, as
        ``(oid, bytes)`` pairs (what parsing workers send back)."""
        if not rows:
            return
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO message VALUES (?, ?)", rows)
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot write ({exc})") from None
        self.stats.stored += len(rows)

    def get_assembly(self, key: str) -> tuple[bytes, str | None] | None:
        """A stored whole-archive assembly (see :mod:`patchtrack._index`) and the key
        of the assembly it is stored as a difference from (``None``: stored whole);
        ``None`` when there is none."""
        row = self._db.execute("SELECT data, base FROM assembly WHERE key = ?", (key,)).fetchone()
        return None if row is None else (bytes(row[0]), row[1])

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
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(
                    "INSERT OR REPLACE INTO assembly VALUES (?, ?, ?, ?)", (key, data, time.time(), base)
                )
                if state is not None:
                    self._db.execute("INSERT OR REPLACE INTO assembly_state VALUES (?, ?, ?, ?)", (key, scope, tips, state))
                self._db.execute(
                    "WITH RECURSIVE live(key) AS ("
                    " SELECT key FROM (SELECT key FROM assembly ORDER BY stored DESC LIMIT ?)"
                    " UNION SELECT a.base FROM assembly a JOIN live ON a.key = live.key WHERE a.base IS NOT NULL"
                    ") DELETE FROM assembly WHERE key NOT IN (SELECT key FROM live)", (keep,)
                )
                self._db.execute("DELETE FROM assembly_state WHERE key NOT IN (SELECT key FROM assembly)")
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot write ({exc})") from None

    def assembly_bases(self, scope: str) -> list[tuple[str, str]]:
        """``(key, tips)`` of the stored assemblies of ``scope`` that keep a state,
        newest first."""
        return list(self._db.execute(
            "SELECT s.key, s.tips FROM assembly_state s JOIN assembly a ON a.key = s.key "
            "WHERE s.scope = ? ORDER BY a.stored DESC", (scope,)
        ))

    def get_assembly_state(self, key: str) -> bytes | None:
        """The state stored with the assembly ``key``, or ``None``."""
        row = self._db.execute("SELECT data FROM assembly_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def get_upstream(self, key: str) -> bytes | None:
        """A stored upstream index (see :mod:`patchtrack.upstream`), or ``None``."""
        row = self._db.execute("SELECT data FROM upstream WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_upstream(self, key: str, data: bytes) -> None:
        """Store an upstream index under ``key`` (the repository and range it covers)."""
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute("INSERT OR REPLACE INTO upstream VALUES (?, ?)", (key, data))
        except sqlite3.Error as exc:
            raise CacheError(f"{self.path}: cannot write ({exc})") from None

    def clear(self) -> None:
        """Forget every cached message and assembly."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM assembly")
            self._db.execute("DELETE FROM assembly_state")
            self._db.execute("DELETE FROM upstream")
            self._db.execute("DELETE FROM message")

    def close(self) -> None:
        """Close the file; the object is unusable afterwards."""
        self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
