"""What an ingest writes into the store besides parsed mail: its deliveries in
windows, how far each list was read, the copies of one mail that windows split,
and the series.

This is :meth:`patchtrack.Archive.ingest` under the hood. An archive is read in
windows of :data:`WINDOW` deliveries (merged by arrival over every list): each
window's mails are matched and parsed (:func:`patchtrack.lists.gather`), then its
deliveries and the cursor that ends it are written in one transaction — memory
holds one window, and a run killed between windows goes on from the last one
written. Two copies of one cross-posted mail that arrived in different windows
were taken for two mails; :func:`join_copies` makes them one afterwards, by the
rule ``gather`` follows within a window.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import marshal
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timezone
from pathlib import Path
from typing import Any

import attrs

from ..archive import Delivery, Ref
from ..message import Message
from ..series import Series, series_order
from ._codec import Interned
from ._index import Assembly, State, Stored, assembly_scope
from ._index import load as load_assembly
from ._index import store as store_assembly
from ._load import rebind
from ._reassemble import assemble_stored, reassemble
from ._series_codec import decode_series, series_oids
from ._store import Store, StoreError
from ._tables import EXPORTS, create_views, own_copies_unparsed, scope_of

__all__ = [
    "WINDOW", "IngestStats", "windows", "window_tips", "deliveries_of", "join_copies", "store_series", "export_parquet", "distinct_mails", "next_run",
    "stored_selection", "delivered_within", "canonical", "deliveries_for", "lists_key", "delivered_before", "unparsed_copies",
]

WINDOW = 20_000
"""Deliveries a window holds: their parsed records (~11 MB a thousand mails) are
what an ingest keeps in memory."""


@attrs.frozen
class IngestStats:
    """What one :meth:`~patchtrack.Archive.ingest` did."""

    deliveries: int
    """Deliveries written (every list's new mail)."""
    mails: int
    """Distinct mails among them."""
    parsed: int
    """Mails parsed (the rest the store had)."""
    joined: int
    """Copies of one mail that windows had split, made one again."""
    series: int
    """Series of the archive, stored."""
    reread: tuple[str, ...] = ()
    """Lists whose history was rewritten since the last ingest: read whole again."""


def windows(pairs: Iterable[tuple[str, Ref]], size: int = WINDOW) -> Iterator[list[tuple[str, Ref]]]:
    """``pairs`` in windows of ``size`` deliveries (read as they come)."""
    it = iter(pairs)
    while part := list(itertools.islice(it, size)):
        yield part


def window_tips(pairs: Iterable[tuple[str, Ref]], before: dict[str, dict[int, str]]) -> dict[str, dict[int, str]]:
    """The cursor after ``pairs``: ``before`` with, per list and epoch, the last
    commit read (an epoch's history is a line, so what its walk yields after that
    commit is what the window did not read)."""
    tips = {name: dict(epochs) for name, epochs in before.items()}
    for name, ref in pairs:
        tips.setdefault(name, {})[ref[3]] = ref[2]
    return tips


def delivered_before(
    store: Store, part: Sequence[tuple[str, Ref]]
) -> tuple[list[tuple[str, Ref]], list[tuple[str, Ref]]]:
    """``part`` without the deliveries of a blob its list holds already (a walk
    counts a blob delivered again while present once: one that goes on from a
    cursor does not know what came before it), and those deliveries."""
    wanted = {"list": [n for n, _ in part], "oid": [str(r[0]) for _, r in part]}
    held = {(n, o) for n, o in _with(store, wanted, (
        "SELECT DISTINCT d.list, d.oid FROM delivery d JOIN wanted w ON d.list = w.list AND d.oid = w.oid"
    ))}
    if not held:
        return list(part), []
    kept: list[tuple[str, Ref]] = []
    again: list[tuple[str, Ref]] = []
    for n, r in part:
        (again if (n, str(r[0])) in held else kept).append((n, r))
    return kept, again


def _with(
    store: Store, wanted: Mapping[str, Sequence[str]], query: str, params: Sequence[Any] = (),
    lists: Sequence[str] | None = None,
) -> list[Any]:
    """The rows of ``query``, which reads ``wanted`` (columns of strings, by name) as
    the table ``wanted`` (and, with ``lists``, the views of those lists). The columns
    go as list parameters: as fast as a table handed over (2,000 keys against 250,000
    rows: 21 ms either way), without importing pyarrow to read."""
    db = store._db  # noqa: SLF001 - the engine's own store
    columns = ", ".join(f'unnest(?::VARCHAR[]) AS "{name}"' for name in wanted)
    args = [*(list(values) for values in wanted.values()), *params]

    def work() -> list[Any]:
        if lists is not None:
            create_views(db, lists)
        return db.execute(f"WITH wanted AS (SELECT {columns}) {query}", args).fetchall()

    return store._guarded(work, "read")  # noqa: SLF001


def next_run(store: Store) -> int:
    """The number this ingest's deliveries are written under (one more than the last)."""
    found: list[Any] = store._guarded(  # noqa: SLF001 - the engine's own store
        lambda: store._db.execute("SELECT coalesce(max(run), 0) + 1 FROM delivery").fetchall(),  # noqa: SLF001
        "read",
    )
    return int(found[0][0])


def deliveries_of(messages: Iterable[Message]) -> list[tuple[Delivery, str]]:
    """Each delivery of ``messages`` with the blob id of the copy parsed."""
    return [(d, m.oid) for m in messages for d in m.deliveries]


def join_copies(store: Store, run: int) -> int:
    """Make the copies of one mail that arrived in different windows (or Dask
    partitions) one mail, by the rule :func:`patchtrack.lists.gather` follows: the
    k-th mail with a Message-ID on one list (in order of arrival) and the k-th on
    another are one (on one list, two mails with one Message-ID are two: a
    ``RESEND`` with the old id); the mail kept is the one delivered first (ties: by
    list name). Returns the deliveries moved.

    Only the Message-IDs ingest ``run`` delivered are looked at: every earlier
    ingest joined its own, so only they can have copies to join (over every
    delivery, a day of mail on the 250k mirror spent 0.9 s here)."""
    db = store._db  # noqa: SLF001 - the engine's own store

    def work() -> int:
        db.execute("BEGIN")
        rows = db.execute("""
            WITH ids AS (
                SELECT DISTINCT m.msgid FROM delivery d JOIN mail m ON m.oid = d.mail WHERE d.run = ?),
            per AS (
                SELECT d.mail, m.msgid, d.list, min(d.arrived) AS first
                FROM delivery d JOIN mail m ON m.oid = d.mail
                WHERE m.msgid <> '' AND m.msgid IN (SELECT msgid FROM ids) GROUP BY d.mail, m.msgid, d.list),
            ranked AS (
                SELECT *, row_number() OVER (PARTITION BY msgid, list ORDER BY first, mail) AS k FROM per),
            groups AS (
                SELECT msgid, k, arg_min(mail, (first, list)) AS keep  -- ties: by list name, as gather
                FROM ranked GROUP BY msgid, k HAVING count(DISTINCT mail) > 1),
            moves AS (
                SELECT r.mail, g.keep FROM ranked r JOIN groups g USING (msgid, k) WHERE r.mail <> g.keep),
            single AS (  -- a mail that would join two others is left as it is
                SELECT mail, any_value(keep) AS keep FROM moves GROUP BY mail HAVING count(DISTINCT keep) = 1)
            UPDATE delivery SET mail = single.keep FROM single WHERE delivery.mail = single.mail
            RETURNING 1""", [run]).fetchall()
        db.execute("COMMIT")
        return len(rows)

    return store._guarded(work, "write")  # noqa: SLF001


def distinct_mails(store: Store, run: int) -> int:
    """The distinct mails the deliveries of ingest ``run`` carried, as stored
    (copies made one)."""
    found: list[Any] = store._guarded(  # noqa: SLF001 - the engine's own store
        lambda: store._db.execute(  # noqa: SLF001
            "SELECT count(DISTINCT mail) FROM delivery WHERE run = ?", [run]
        ).fetchall(),
        "read",
    )
    return int(found[0][0])


def store_series(
    store: Store,
    tips: dict[str, dict[int, str]],
    *,
    window: int = WINDOW,
    before: Mapping[str, Mapping[int, str]] | None = None,
    run: int | None = None,
) -> int:
    """Assemble the series of the lists of ``tips`` from the store and store them
    (the assembly too, for later calls), unless those of this state (``tips``, and
    the assembling code's fingerprint) are stored already; returns how many series
    the lists have.

    The mails are taken from the store in windows of ``window``, in order of first
    arrival: the first window is assembled, each next one extends that assembly
    (:func:`._reassemble.reassemble`, equal to assembling them all at once), so
    memory holds a window's records and the assembly's skeleton (~1 kB a mail),
    never every record. The series are then written :data:`SERIES_BATCH` at a time.

    When the assembly of the state before this ingest (``before``, the lists' tips
    then) is stored, it is extended with the mails ingest ``run`` brought instead,
    and only the series whose stored row changed are written again (a day of mail:
    the 281 s of assembling 250,000 mails again became what the day changes)."""
    lists = sorted(tips)
    scope = scope_of(lists)
    key = _state_key(scope)
    state_json = json.dumps(tips, sort_keys=True)
    db = store._db  # noqa: SLF001 - the engine's own store
    stored: list[Any] = store._guarded(  # noqa: SLF001
        lambda: db.execute(
            "SELECT value, (SELECT count(*) FROM assembled_series WHERE scope = ?) FROM meta WHERE key = ?",
            [scope, key],
        ).fetchall(), "read", fallback=list
    )
    if stored and stored[0][0] == state_json:
        return int(stored[0][1])
    grown = _extended(store, lists, before, run) if before and run is not None else None
    state: State | None
    if grown is not None:
        index, state, base = grown
        store_assembly(store, lists_key(tips), f"lists:{scope}", state_json, index, state, base)
        was = {row[0]: row for row in base.assembly.rows}  # by series id (rows may hold lists)
        changed = [n for n, row in enumerate(index.rows) if was.get(row[0]) != row]
        live = {row[0] for row in index.rows if was.get(row[0]) == row}
        gone = [sid for sid in was if sid not in live]  # changed or no longer a series: rewritten or dropped
        store.drop_series(gone, lists)
    else:
        index, state = assembled(store, lists, window)
        if state is not None:  # kept to extend after new mail (see _extended)
            store_assembly(store, lists_key(tips), f"lists:{scope}", state_json, index, state)
        store.put_series([], [], lists)  # this scope's rows go; the new ones are appended
        changed = list(range(len(index.rows)))
    for start in range(0, len(changed), SERIES_BATCH):
        picks = changed[start:start + SERIES_BATCH]
        series = index.series(picks, store)
        if series is None:
            raise StoreError(f"{store.path}: a mail of a series is no longer in the store: ingest again")
        store.put_series(series, [index.rows[n] for n in picks], lists, append=True)

    def work() -> None:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, state_json])

    store._guarded(work, "write")  # noqa: SLF001
    return len(index.rows)


def _extended(
    store: Store, lists: Sequence[str], before: Mapping[str, Mapping[int, str]], run: int
) -> tuple[Assembly, State, Stored] | None:
    """The stored assembly of the lists at ``before``, extended with the mails first
    delivered by ingest ``run``; ``None`` when it is not stored (or cannot be
    extended: assemble in full then)."""
    stored = load_assembly(store, lists_key({n: before[n] for n in lists if n in before}), state=True)
    if stored is None or stored.state is None or set(before) != set(lists):
        return None
    reader = store.connection(lists).cursor()
    try:
        create_views(reader, lists)
        batch = reader.execute(
            _FIRST_DELIVERIES.format(where="", having="HAVING min(run) = ?"), [run]
        ).fetchall()
    finally:
        reader.close()
    where = {oid: (commit, epoch, when) for oid, commit, epoch, when in batch if oid not in stored.assembly.deliveries}
    if not where:
        return stored.assembly, stored.state, stored
    found = store.get_many(list(where))
    if len(found) != len(where):
        return None
    grown = reassemble(stored.assembly, stored.state, [rebind(found[o], *where[o]) for o in where], where, store)
    return None if grown is None else (*grown, stored)


def _state_key(scope: str) -> str:
    """The ``meta`` key of the lists' tips (as JSON) whose series the store holds."""
    return f"series_state:{scope}"


SERIES_BATCH = 5_000
"""Series decoded and written at a time."""

_FIRST_DELIVERIES = (
    'SELECT mail, arg_min("commit", (arrived, list)), arg_min(epoch, (arrived, list)),'
    " CAST(epoch(min(arrived)) AS BIGINT) FROM _delivery {where} GROUP BY mail {having} ORDER BY min(arrived), mail"
)
"""Each mail of the lists with its first delivery (commit, epoch, arrival in
seconds), in order of first arrival: what an assembly keeps of a mail's delivery."""


def assembled(store: Store, lists: Sequence[str], window: int = WINDOW) -> tuple[Assembly, State | None]:
    """The assembly of every distinct mail the store holds for ``lists``, built a
    window of mails at a time (see :func:`store_series`), and its state (``None``
    without mail)."""
    reader = store.connection(lists).cursor()  # its own: the look-ups run between its batches
    create_views(reader, lists)
    result = reader.execute(
        _FIRST_DELIVERIES.format(where="", having="")
    )
    index: Assembly | None = None
    state: State | None = None
    try:
        while batch := result.fetchmany(window):
            where = {oid: (commit, epoch, when) for oid, commit, epoch, when in batch}
            found = store.get_many(list(where))
            if len(found) != len(where):
                raise StoreError(f"{store.path}: {len(where) - len(found)} ingested mails are no longer stored: ingest again")
            messages = [rebind(found[o], *where[o]) for o in where]
            if index is None or state is None:
                _, index, state = assemble_stored(messages, where)
            else:
                grown = reassemble(index, state, messages, where, store)
                if grown is None:
                    raise StoreError(f"{store.path}: a mail of a series is no longer in the store: ingest again")
                index, state = grown
    finally:
        reader.close()
    return (index, state) if index is not None else (Assembly([], {}), None)


def unparsed_copies(store: Store, lists: Sequence[str]) -> set[str]:
    """Blob ids of the copies the archive of ``lists`` reads a mail as that are not
    parsed yet (see :func:`._tables.own_copies_unparsed`)."""
    db = store._db  # noqa: SLF001 - the engine's own store
    store.flush()
    return store._guarded(lambda: own_copies_unparsed(db, lists), "read")  # type: ignore[no-any-return]  # noqa: SLF001


def lists_key(tips: Mapping[str, Mapping[int, str]]) -> str:
    """The key the assembly of these lists at these tips is stored under."""
    text = f"{assembly_scope('lists')}:{json.dumps(tips, sort_keys=True)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def stored_selection(
    store: Store, tips: Mapping[str, Mapping[int, str]], chosen: set[str], *, history: bool, later: bool = False
) -> tuple[list[Message], list[Series]] | None:
    """The mails ``chosen`` (blob ids of the copies parsed) and the series holding
    any of them, as an ingest of the lists of ``tips`` stored them at those tips;
    ``None`` when it did not (or a mail of them is no longer stored). Only those
    series' rows and mails are read: the cost follows the selection, not the archive.
    The mails in order of first arrival, each as its first delivery gives it; the
    series in :func:`~patchtrack.series.series_order`.

    With ``history``, also the earlier revisions their ``previous`` links lead to (what
    a report's words read of a series' past: its first revision); with ``later`` too,
    every revision their links lead to either way, as upstream tracking reads them (a
    week of linux-pwm on the 250k mirror: 1,039 mails decoded the first way, 1,671 the
    second)."""
    lists = sorted(tips)
    scope = scope_of(lists)
    state: list[Any] = store._guarded(  # noqa: SLF001 - the engine's own store
        lambda: store._db.execute("SELECT value FROM meta WHERE key = ?", [_state_key(scope)]).fetchall(),  # noqa: SLF001
        "read", fallback=list,
    )
    if not state or state[0][0] != json.dumps(tips, sort_keys=True):
        return None
    touched = "SELECT m.series_id FROM assembled_mail m JOIN wanted w USING (mail) WHERE m.scope = ?"
    if history:  # and their earlier revisions, in one query (a chain went a link a time: 16 queries)
        touched = f"""
            WITH RECURSIVE chain(series_id) AS (
                {touched}
                UNION
                SELECT link FROM chain JOIN assembled_series s USING (series_id),
                    unnest([s.previous_id{", s.next_id" if later else ""}]) AS t(link)
                WHERE s.scope = ? AND link IS NOT NULL)
            SELECT series_id FROM chain"""
    rows: dict[str, tuple[Any, ...]] = {
        sid: marshal.loads(data) for sid, data in _with(store, {"mail": sorted(chosen)}, (
            f"SELECT r.series_id, r.row FROM assembled_row r WHERE r.scope = ? AND r.series_id IN ({touched})"
        ), [scope, scope, scope] if history else [scope, scope])
    }
    mails = chosen.union(*(series_oids(row) for row in rows.values()))
    first = _with(store, {"mail": sorted(mails)}, _FIRST_DELIVERIES.format(
        where="WHERE mail IN (SELECT mail FROM wanted)", having="",
    ), lists=lists)
    persons: Interned = {}
    found = store.get_many([oid for oid, *_ in first], persons)
    if len(found) != len(mails):
        return None
    messages = [rebind(found[oid], commit, epoch, when) for oid, commit, epoch, when in first]
    by_oid = {m.oid: m for m in messages}
    series = sorted((decode_series(row, by_oid, persons) for row in rows.values()), key=series_order)
    return [m for m in messages if m.oid in chosen], series


def delivered_within(
    store: Store, lists: Sequence[str], lo: float | None, hi: float | None
) -> list[tuple[str, int, str, str, int]]:
    """Every delivery of ``lists`` that arrived within ``lo``..``hi`` (POSIX seconds,
    inclusive; ``None``: unbounded), a blob delivered again included: list, epoch,
    commit, blob id, arrival — what walks of that window yield, in no order."""
    bounds = " AND ".join(
        ["list IN (SELECT unnest(?))"]
        + (["epoch(arrived) >= ?"] if lo is not None else [])
        + (["epoch(arrived) <= ?"] if hi is not None else [])
    )
    params = [list(lists), *(b for b in (lo, hi) if b is not None)]
    query = (
        f'SELECT list, epoch, "commit", oid, CAST(epoch(arrived) AS BIGINT) FROM delivery WHERE {bounds}'  # noqa: S608
        f' UNION ALL SELECT list, epoch, "commit", oid, CAST(epoch(arrived) AS BIGINT) FROM redelivery WHERE {bounds}'
    )
    return store._guarded(  # type: ignore[no-any-return]  # noqa: SLF001 - the engine's own store
        lambda: store._db.execute(query, params + params).fetchall(), "read"  # noqa: SLF001
    )


def canonical(store: Store, pairs: Iterable[tuple[str, str]], lists: Sequence[str]) -> set[str]:
    """The blob ids of the mails stored for these deliveries (list, blob id), as the
    archive of ``lists`` reads them: the copy parsed of each."""
    pairs = list(pairs)
    wanted = {"list": [n for n, _ in pairs], "oid": [o for _, o in pairs]}
    return {r[0] for r in _with(
        store, wanted, "SELECT DISTINCT d.mail FROM _delivery d JOIN wanted w ON d.list = w.list AND d.oid = w.oid",
        lists=lists,
    )}


def deliveries_for(store: Store, lists: Sequence[str], mails: Iterable[str]) -> dict[str, tuple[Delivery, ...]]:
    """Every delivery, on ``lists``, of these mails (blob ids of the copies parsed, as
    the archive of ``lists`` reads them), in order of arrival (ties by list name)."""
    wanted = {"mail": list(mails)}
    rows = _with(
        store, wanted,
        'SELECT d.mail, d.list, d.epoch, d."commit", d.arrived, d.oid FROM _delivery d JOIN wanted w USING (mail)'
        " ORDER BY d.mail, d.arrived, d.list, d.epoch, d.run",
        lists=lists,
    )
    out: dict[str, list[Delivery]] = {}
    for mail, name, epoch, commit, arrived, oid in rows:
        out.setdefault(mail, []).append(Delivery(name, epoch, commit, arrived.astimezone(timezone.utc), oid))
    return {mail: tuple(found) for mail, found in out.items()}


def export_parquet(store: Store, lists: Sequence[str], directory: str | os.PathLike[str]) -> dict[str, int]:
    """Every view of :data:`~._tables.EXPORTS` as Parquet under ``directory``,
    partitioned by list and year; the rows written per view."""
    out = Path(directory)
    db = store.connection(lists)

    def work() -> dict[str, int]:
        written: dict[str, int] = {}
        for name, query in EXPORTS.items():
            target = out / name
            if target.exists():
                shutil.rmtree(target)  # an export replaces the last one, never mixes with it
            target.parent.mkdir(parents=True, exist_ok=True)
            count = int(db.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0])  # noqa: S608
            if count:
                db.execute(
                    f"COPY ({query}) TO '{_quoted(target)}' (FORMAT parquet, PARTITION_BY (list, year))"  # noqa: S608
                ).fetchall()
            else:
                target.mkdir()
            written[name] = count
        return written

    try:
        return store._guarded(work, f"export to {out}")  # noqa: SLF001
    except OSError as exc:
        raise StoreError(f"{out}: cannot write ({exc})") from None


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
