"""Records → the store's columns: the Arrow tables a :class:`~._store.Store` writes.

A parsed mail becomes one row of ``mail`` and rows of ``mail_trailer`` (the
trailers it carries), ``mail_file`` (its diffstat) and ``mail_address`` (its To and
Cc); a delivery one row of ``delivery``; an assembled series rows of
``assembled_series``, ``assembled_patch`` and ``assembled_trailer`` — the columns of :func:`patchtrack.export.rows`, so a
query over the store and a data frame of the records name things alike — and of
``assembled_row`` and ``assembled_mail`` (what ``series()`` and ``report()`` decode). The
schemas are the store's contract: :data:`SCHEMAS` creates the tables, and the
views users query (:data:`patchtrack.store.VIEWS`) are built on them.
"""

from __future__ import annotations

import functools
import marshal
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import duckdb

from ..archive import Delivery
from ..export import rows
from ..message import Message
from ..series import Series
from ._codec import plain
from ._series_codec import series_oids

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["VIEWS", "EXPORTS", "create_views", "own_copies_unparsed", "scope_of", "SCHEMAS", "schema", "MAIL_TABLES", "SERIES_TABLES", "mail_tables", "blob_table", "delivery_table", "redelivery_table", "series_tables", "create_sql"]

# the columns' SQL types; their Arrow types (schema()) are built when a table is
# written: importing pyarrow (and numpy with it) was 40 % of a report command's imports
_S, _I, _B, _BLOB, _T, _L = "VARCHAR", "INTEGER", "BOOLEAN", "BLOB", "TIMESTAMPTZ", "VARCHAR[]"

SCHEMAS: dict[str, tuple[tuple[str, str], ...]] = {
    "mail": (
        ("oid", _S), ("msgid", _S), ("date", _T), ("kind", _S), ("subject", _S), ("title", _S),
        ("version", _I), ("index", _I), ("total", _I), ("rfc", _B), ("resend", _B), ("prefixes", _L),
        ("sender_name", _S), ("sender_email", _S), ("author_name", _S), ("author_email", _S),
        ("author_domain", _S), ("in_reply_to", _S), ("references", _L), ("list_id", _S), ("change_id", _S),
        ("base_commit", _S), ("patch_id", _S), ("files", _I), ("insertions", _I), ("deletions", _I),
        ("body_size", _I), ("problems", _L),
    ),
    "mail_trailer": (
        ("oid", _S), ("pos", _I), ("key", _S), ("value", _S), ("name", _S), ("email", _S),
    ),
    "mail_file": (
        ("oid", _S), ("path", _S), ("old_path", _S), ("added", _I), ("removed", _I), ("binary", _B), ("status", _S),
    ),
    "mail_address": (("oid", _S), ("field", _S), ("pos", _I), ("name", _S), ("email", _S)),
    # oid: this list's copy; mail: the copy parsed (the oid of the mail's row)
    # run: the ingest that wrote it (1, 2, …)
    "delivery": (
        ("list", _S), ("epoch", _I), ("commit", _S), ("arrived", _T), ("oid", _S), ("mail", _S), ("run", _I),
    ),
    # a blob a list delivered again, which ``delivery`` holds once (the walk's
    # ``duplicates``): a window that holds only the later delivery has the mail in it
    "redelivery": (
        ("list", _S), ("epoch", _I), ("commit", _S), ("arrived", _T), ("oid", _S), ("run", _I),
    ),
    "assembled_series": (
        ("series_id", _S), ("title", _S), ("version", _I), ("rfc", _B), ("resend", _B), ("status", _S),
        ("author_name", _S), ("author_email", _S), ("author_domain", _S), ("sender_email", _S), ("msgid", _S),
        ("cover", _B), ("patches", _I), ("total", _I), ("complete", _B), ("missing", _I), ("first_date", _T),
        ("last_date", _T), ("insertions", _I), ("deletions", _I), ("reviewed_patches", _I), ("reviews", _I),
        ("posted_reviewed_patches", _I), ("posted_reviews", _I), ("previous_id", _S), ("previous_version", _I),
        ("next_id", _S), ("next_version", _I), ("list_id", _S), ("change_id", _S), ("messages", _I),
        ("problems", _S), ("oid", _S), ("scope", _S),
    ),
    "assembled_patch": (
        ("series_id", _S), ("series_title", _S), ("series_version", _I), ("status", _S), ("index", _I),
        ("total", _I), ("msgid", _S), ("subject", _S), ("date", _T), ("author_email", _S), ("insertions", _I),
        ("deletions", _I), ("reviews", _I), ("followups", _I), ("oid", _S), ("scope", _S),
    ),
    "assembled_trailer": (
        ("series_id", _S), ("index", _I), ("msgid", _S), ("key", _S), ("name", _S), ("email", _S), ("value", _S),
        ("via", _S), ("from_msgid", _S), ("date", _T), ("flagged", _B), ("scope", _S),
    ),
    # a series as series() and report() decode it (:mod:`._series_codec`, marshalled),
    # and each mail it holds: a report finds the series its window touches by a join
    # instead of loading the whole assembly (0.66 s at 250,000 mails, growing with them)
    "assembled_row": (("series_id", _S), ("row", _BLOB), ("scope", _S)),
    "assembled_mail": (("series_id", _S), ("mail", _S), ("scope", _S)),
}
"""Every table of parsed records in the store, with its columns (name, SQL type)."""

MAIL_TABLES = ("mail", "mail_trailer", "mail_file", "mail_address")
SERIES_TABLES = ("assembled_series", "assembled_patch", "assembled_trailer", "assembled_row", "assembled_mail")



@functools.cache
def schema(table: str) -> pa.Schema:
    """The Arrow schema of one of :data:`SCHEMAS`."""
    import pyarrow as pa

    types = {
        _S: pa.string(), _I: pa.int32(), _B: pa.bool_(), _BLOB: pa.binary(), _T: pa.timestamp("us", tz="UTC"),
        _L: pa.list_(pa.string()),
    }
    return pa.schema([(name, types[kind]) for name, kind in SCHEMAS[table]])


def create_sql(table: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one of :data:`SCHEMAS` (``mail`` keyed by
    blob id: a mail's columns are written once)."""
    columns = ", ".join(
        f'"{name}" {kind}{" PRIMARY KEY" if table == "mail" and name == "oid" else ""}'
        for name, kind in SCHEMAS[table]
    )
    return f"CREATE TABLE IF NOT EXISTS {table} ({columns})"


def _utc(d: datetime | None) -> datetime | None:
    """A date Arrow can hold as UTC: a naive one read as UTC (a mail's ``Date:``
    without a zone), one beyond Arrow's microsecond range dropped."""
    if d is None:
        return None
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d


def _person(p: Any) -> tuple[str | None, str | None]:
    return (None, None) if p is None else (p.name, p.email)


def mail_tables(messages: Sequence[Message]) -> dict[str, pa.Table]:
    """The rows of :data:`MAIL_TABLES` for ``messages``."""
    mail: list[tuple[Any, ...]] = []
    trailers: list[tuple[Any, ...]] = []
    files: list[tuple[Any, ...]] = []
    addresses: list[tuple[Any, ...]] = []
    for m in messages:
        s, stat = m.subject, m.diffstat
        oid = m.oid
        mail.append((
            oid, m.msgid, _utc(m.date), plain(m.kind), s.raw, s.title, s.version, s.index, s.total, s.rfc,
            s.resend, list(s.prefixes), *_person(m.sender), *_person(m.author),
            m.author.domain if m.author else None, m.in_reply_to, list(m.references), m.list_id, m.change_id,
            m.base_commit, m.patch_id, len(stat.files) if stat else 0, stat.insertions if stat else 0,
            stat.deletions if stat else 0, len(m.body), [plain(p) for p in m.problems],
        ))
        trailers += [(oid, i, t.key, t.value, *_person(t.person)) for i, t in enumerate(m.trailers)]
        if stat is not None:
            files += [(oid, f.path, f.old_path, f.added, f.removed, f.binary, f.status) for f in stat.files]
        addresses += [(oid, "to", i, p.name, p.email) for i, p in enumerate(m.to)]
        addresses += [(oid, "cc", i, p.name, p.email) for i, p in enumerate(m.cc)]
    return {
        "mail": _table("mail", mail), "mail_trailer": _table("mail_trailer", trailers),
        "mail_file": _table("mail_file", files), "mail_address": _table("mail_address", addresses),
    }


def blob_table(oids: Sequence[str], encoded: Sequence[bytes]) -> pa.Table:
    """The rows of the store's ``blob`` table: each mail's encoded record, keyed by
    blob id, with its CRC-32."""
    import pyarrow as pa

    return pa.table(
        {"oid": list(oids), "data": list(encoded), "crc": [zlib.crc32(d) for d in encoded]},
        schema=pa.schema([("oid", pa.string()), ("data", pa.binary()), ("crc", pa.uint64())]),
    )


def delivery_table(deliveries: Iterable[tuple[Delivery, str]], run: int) -> pa.Table:
    """The rows of ``delivery``: each delivery with the blob id of the copy parsed,
    written by ingest ``run``."""
    return _table("delivery", [(d.list, d.epoch, d.commit, d.time, d.oid, mail, run) for d, mail in deliveries])


def redelivery_table(repeats: Iterable[tuple[str, int, str, int, str]], run: int) -> pa.Table:
    """The rows of ``redelivery``: (list, epoch, commit, arrival in seconds, blob
    id), written by ingest ``run``."""
    return _table("redelivery", [
        (name, epoch, commit, datetime.fromtimestamp(when, timezone.utc), oid, run)
        for name, epoch, commit, when, oid in repeats
    ])


def series_tables(series: Sequence[Series], encoded: Sequence[tuple[Any, ...]], scope: str) -> dict[str, pa.Table]:
    """The rows of :data:`SERIES_TABLES`: :func:`patchtrack.export.rows`' columns,
    with the blob id of the series' head (its cover, else its first patch) and of
    each patch; each series as ``encoded`` (its row of the stored assembly:
    ``assembled_row``) and the blob ids of its mails (``assembled_mail``); all with the
    ``scope`` (the lists assembled together)."""
    out: dict[str, pa.Table] = {}
    for table, kind in zip(SERIES_TABLES, ("series", "patches", "trailers")):  # rows' columns
        found = rows(series, kind)
        if table == "assembled_series":
            found = [{**row, "oid": s.head.oid} for row, s in zip(found, series)]
        elif table == "assembled_patch":
            oids = (p.message.oid for s in series for p in s.patches)
            found = [{**row, "oid": oid} for row, oid in zip(found, oids)]
        names = [name for name, _ in SCHEMAS[table][:-1]]
        out[table] = _table(table, [
            (*(_utc(v) if isinstance(v, datetime) else v for v in (row[n] for n in names)), scope) for row in found
        ])
    out["assembled_row"] = _table("assembled_row", [(s.id, marshal.dumps(row, 4), scope) for s, row in zip(series, encoded)])
    out["assembled_mail"] = _table("assembled_mail", [
        (s.id, oid, scope) for s, row in zip(series, encoded) for oid in series_oids(row)
    ])
    return out


def _table(name: str, data: list[tuple[Any, ...]]) -> pa.Table:
    import pyarrow as pa

    kinds = schema(name)
    columns = list(zip(*data)) if data else [()] * len(kinds)
    return pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, kinds)], schema=kinds)


VIEWS: dict[str, str] = {
    "deliveries": """
        SELECT d.list, d.epoch, d."commit", d.arrived, d.oid, d.mail, m.msgid, d.run
        FROM _delivery d LEFT JOIN mail m ON m.oid = d.mail""",
    "messages": """
        WITH d AS (
            SELECT mail, arg_min(list, (arrived, list)) AS list, min(arrived) AS arrived,
                   list(DISTINCT list ORDER BY list) AS lists, count(*) AS deliveries
            FROM _delivery GROUP BY mail)
        SELECT m.oid, d.list, d.lists, d.deliveries, d.arrived, m.* EXCLUDE (oid)
        FROM mail m JOIN d ON d.mail = m.oid""",
    "mail_trailers": """
        SELECT t.oid, m.msgid, t.pos, t.key, t.value, t.name, t.email
        FROM mail_trailer t JOIN mail m USING (oid) WHERE m.oid IN (SELECT mail FROM _delivery)""",
    "files": """
        SELECT f.oid, m.msgid, f.path, f.old_path, f.added, f.removed, f.binary, f.status
        FROM mail_file f JOIN mail m USING (oid) WHERE m.oid IN (SELECT mail FROM _delivery)""",
    "addresses": """
        SELECT a.oid, m.msgid, a.field, a.pos, a.name, a.email
        FROM mail_address a JOIN mail m USING (oid) WHERE m.oid IN (SELECT mail FROM _delivery)""",
    "series": "SELECT * EXCLUDE (scope) FROM assembled_series WHERE scope = $scope",
    "patches": "SELECT * EXCLUDE (scope) FROM assembled_patch WHERE scope = $scope",
    "trailers": "SELECT * EXCLUDE (scope) FROM assembled_trailer WHERE scope = $scope",
    "reviews": """
        SELECT * EXCLUDE (scope) FROM assembled_trailer
        WHERE scope = $scope AND via <> 'patch' AND NOT flagged
          AND lower(key) IN ('reviewed-by', 'acked-by', 'tested-by')""",
}
"""The views queries read (:meth:`patchtrack.Archive.sql`), over the lists of the
archive asked: its mail, each distinct mail once (``messages``: its first
delivery's list and arrival, every list that carried it), its deliveries, the
trailers each mail carries, its files and addresses; the series assembled over
those lists at their last ingest, their patches and trailers (a patch's own and
those follow-ups gave it: :func:`patchtrack.export.rows`' columns), and the reviews
among them."""


def scope_of(lists: Iterable[str]) -> str:
    """The scope series are stored under: the lists assembled together."""
    return ",".join(sorted(lists))


_OWN_COPIES = """
    WITH scoped AS (SELECT * FROM delivery WHERE list IN ({names})),
    own AS (SELECT mail, arg_min(oid, (arrived, list)) AS own FROM scoped GROUP BY mail)"""
"""Each mail of the lists ``names`` (quoted) with ``own``, the copy they delivered first."""


def _beyond(db: duckdb.DuckDBPyConnection, names: str) -> bool:
    """Whether the store ingested lists other than ``names`` (quoted)."""
    return bool(db.execute(f"SELECT count(*) FROM ingested WHERE list NOT IN ({names})").fetchall()[0][0])  # noqa: S608


def _scoped_deliveries(db: duckdb.DuckDBPyConnection, names: str) -> str:
    """The deliveries of the lists ``names`` (quoted), each naming the mail as these
    lists read it. ``delivery.mail`` is the copy parsed over every list ingested (the
    first delivered): when the store holds lists beyond these, a mail another list
    carried first is read here as the copy these lists delivered first, as an archive
    of them alone reads it — when that copy is parsed (:func:`own_copies_unparsed`
    names those that are not; an ingest of these lists parses them)."""
    if not _beyond(db, names):
        return f"SELECT * FROM delivery WHERE list IN ({names})"  # noqa: S608
    return _OWN_COPIES.format(names=names) + """
        SELECT s.* REPLACE (CASE WHEN m.oid IS NULL THEN s.mail ELSE own.own END AS mail)
        FROM scoped s JOIN own USING (mail) LEFT JOIN mail m ON m.oid = own.own"""


def own_copies_unparsed(db: duckdb.DuckDBPyConnection, lists: Sequence[str]) -> set[str]:
    """Blob ids of the copies ``lists`` delivered first of mails another list carried
    first, not parsed yet (what the views of these lists alone would read instead of
    the other list's copy)."""
    names = _quoted(lists)
    if not _beyond(db, names):
        return set()  # every list ingested: each mail is read as parsed
    query = _OWN_COPIES.format(names=names) + " SELECT own.own FROM own LEFT JOIN mail m ON m.oid = own.own WHERE m.oid IS NULL"
    return {row[0] for row in db.execute(query).fetchall()}


def _quoted(lists: Sequence[str]) -> str:
    return ", ".join("'" + n.replace("'", "''") + "'" for n in lists) or "NULL"


def create_views(db: duckdb.DuckDBPyConnection, lists: Sequence[str]) -> None:
    """Create (or replace) :data:`VIEWS` on ``db`` over ``lists`` (temporary: they
    are defined by this code, not stored in the file)."""
    db.execute(f"CREATE OR REPLACE TEMP VIEW _delivery AS {_scoped_deliveries(db, _quoted(lists))}")
    scope = "'" + scope_of(lists).replace("'", "''") + "'"
    for name, query in VIEWS.items():
        db.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {query.replace('$scope', scope)}")


_YEAR = "CAST(year({}) AS INTEGER) AS year"
_MAIL_PLACE = "JOIN (SELECT oid AS m_oid, list, arrived FROM messages) w ON w.m_oid = t.oid"
_SERIES_PLACE = """JOIN (
    SELECT s.series_id AS s_id, w.list, w.arrived FROM series s JOIN messages w ON w.oid = s.oid
) w ON w.s_id = t.series_id"""

EXPORTS: dict[str, str] = {
    "messages": f"SELECT *, {_YEAR.format('arrived')} FROM messages",
    "deliveries": f"SELECT *, {_YEAR.format('arrived')} FROM deliveries",
    "mail_trailers": f"SELECT t.*, w.list, {_YEAR.format('w.arrived')} FROM mail_trailers t {_MAIL_PLACE}",
    "files": f"SELECT t.*, w.list, {_YEAR.format('w.arrived')} FROM files t {_MAIL_PLACE}",
    "addresses": f"SELECT t.*, w.list, {_YEAR.format('w.arrived')} FROM addresses t {_MAIL_PLACE}",
    "series": f"SELECT t.*, w.list, {_YEAR.format('w.arrived')} FROM series t {_SERIES_PLACE}",
    "patches": f"SELECT t.*, w.list, {_YEAR.format('w.arrived')} FROM patches t {_SERIES_PLACE}",
    "trailers": f"SELECT t.*, w.list, {_YEAR.format('w.arrived')} FROM trailers t {_SERIES_PLACE}",
}
"""What ``export --parquet`` writes: each view with the ``list`` and ``year`` it is
partitioned by (of the mail's first delivery; a series', of its patches' first)."""
