"""Ingest on a Dask cluster: workers parse partitions of the archive into Parquet
files, this process merges them into the store.

This is :meth:`patchtrack.Archive.ingest` with ``client=``. The walk (commits only,
no mail read: ~80,000 commits/s) runs here and is cut into partitions of at most
:data:`PARTITION` deliveries of one list's epoch, in commit order. Each worker reads
its partition's mails from the archive at the path this process sees — the
archive must be on a file system every worker mounts at the same path (NFS,
Lustre, CephFS…) — parses them and writes the store's rows (records, columns,
deliveries) as Parquet files into a staging folder beside the store, on the same
shared file system. This process reads each file into the store as it is done
(DuckDB reads Parquet itself: no row passes through Python here), so what it
spends is independent of the parsing, and the cluster's size is what the ingest
rate scales with.

Unlike :func:`patchtrack.lists.gather`, which parses one copy of a cross-posted
mail, every list's copy is parsed on the cluster (in real archives the copies are
different blobs: ~2 % more parsing on the vger corpora); the copies are made one
afterwards by :func:`._ingest.join_copies`, which keeps the first delivery's copy,
as ``gather`` does. A merge is idempotent (a delivery already stored is skipped), so
a run killed half-way and started again doubles nothing; the cursor of each list
is written once every partition is merged.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import _codec
from ..archive import Ref, report_unreadable
from ..errors import UnreadableError
from ..message import UNREADABLE
from ._load import Row, parse_encoded, rows
from ._store import Store, StoreError
from ._tables import MAIL_TABLES, blob_table, mail_tables, schema

__all__ = ["PARTITION", "IN_FLIGHT", "Partition", "parse_partition", "partitions", "merge", "ingest_on"]

IN_FLIGHT = 3
"""Tasks handed to each worker at once: one running, the next ones queued, so no
worker waits for this process; the walk is read no further ahead than that."""

PARTITION = 5_000
"""Deliveries a worker parses in one task: large enough that a task's fixed cost
(scheduling, opening the epoch, writing five Parquet files) is small next to
parsing it (~1 s), small enough to keep every worker busy on a day's mail."""


Partition = tuple[str, str, int, list[Row]]
"""One task: the list, the staging path prefix its files are written under, the
ingest run, and its mails (as :func:`._load.rows` gives them: the git directory to read each
from, or its bytes when it has no such directory)."""


def parse_partition(task: Partition) -> tuple[str, int, list[tuple[str, str]]]:
    """Run on a worker: parse the partition's mails and write the store's rows as
    Parquet (``<prefix>-<table>.parquet``); returns the prefix, the mails written
    and the mails that could not be read (blob id, reason)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    name, prefix, run, batch = task
    encoded = parse_encoded(batch)
    persons: _codec.Interned = {}
    messages = [_codec.decode(data, persons) for data in encoded]
    unread = [(m.oid, m.problems[0][len(UNREADABLE):]) for m in messages if _unreadable(m.problems)]
    keep = [i for i, m in enumerate(messages) if not _unreadable(m.problems)]
    kept = [messages[i] for i in keep]
    tables = dict(mail_tables(kept))
    tables["blob"] = blob_table([m.oid for m in kept], [encoded[i] for i in keep])
    tables["delivery"] = pa.Table.from_pylist([
        {"list": name, "epoch": row[2], "commit": row[1], "arrived": datetime.fromtimestamp(row[3], timezone.utc),
         "oid": row[0], "mail": row[0], "run": run}
        for row in batch
    ], schema=schema("delivery"))
    for table, data in tables.items():
        pq.write_table(data, f"{prefix}-{table}.parquet")
    return prefix, len(batch), unread


def _unreadable(problems: Sequence[str]) -> bool:
    return bool(problems) and problems[0].startswith(UNREADABLE)


def partitions(
    pairs: Iterable[tuple[str, Ref]], staging: Path, run: int, size: int = PARTITION
) -> Iterator[tuple[Partition, list[Ref]]]:
    """``pairs`` cut into tasks of at most ``size`` deliveries of one list's epoch,
    each with its references, as the walk yields them (a task is given once full:
    memory holds at most a partition per list and epoch)."""
    runs: dict[tuple[str, int], list[Ref]] = {}
    made = 0

    def task(name: str, epoch: int, refs: list[Ref]) -> tuple[Partition, list[Ref]]:
        nonlocal made
        made += 1
        prefix = str(staging / f"{made:06d}")
        return (name, prefix, run, rows(refs, local=True)), refs

    for name, ref in pairs:
        refs = runs.setdefault((name, ref[3]), [])
        refs.append(ref)
        if len(refs) >= size:
            yield task(name, ref[3], refs)
            runs[name, ref[3]] = []
    for (name, epoch), refs in runs.items():
        if refs:
            yield task(name, epoch, refs)


def merge(store: Store, prefix: str) -> None:
    """Read one partition's files into the store, in one transaction: records
    replace what was stored, columns are written for mails without them, and a
    delivery already stored (a run started again) is skipped."""
    db = store._db  # noqa: SLF001 - the engine's own store
    store.flush()

    def path(table: str) -> str:
        return f"{prefix}-{table}.parquet".replace("'", "''")

    def work() -> None:
        db.execute("BEGIN")
        db.execute(f"INSERT OR REPLACE INTO blob SELECT * FROM read_parquet('{path('blob')}')")  # noqa: S608
        fresh = db.execute(
            f"INSERT OR IGNORE INTO mail SELECT * FROM read_parquet('{path('mail')}') RETURNING oid"  # noqa: S608
        ).fetchall()
        for table in MAIL_TABLES[1:]:
            db.execute(
                f"INSERT INTO {table} SELECT * FROM read_parquet('{path(table)}')"  # noqa: S608
                " WHERE oid IN (SELECT unnest(?::VARCHAR[]))", [[r[0] for r in fresh]]
            )
        db.execute(  # a blob its list holds from an earlier ingest, kept apart (see Store.put_deliveries)
            "INSERT INTO redelivery SELECT n.list, n.epoch, n.\"commit\", n.arrived, n.oid, n.run"
            f" FROM read_parquet('{path('delivery')}') n"  # noqa: S608
            " WHERE EXISTS (SELECT 1 FROM delivery d WHERE d.list = n.list AND d.oid = n.oid AND d.run < n.run)"
            " AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.list = n.list AND d.\"commit\" = n.\"commit\")"
            " AND NOT EXISTS (SELECT 1 FROM redelivery r WHERE r.list = n.list AND r.\"commit\" = n.\"commit\")"
        )
        db.execute(
            f"INSERT INTO delivery SELECT * FROM read_parquet('{path('delivery')}') n"  # noqa: S608
            " WHERE NOT EXISTS (SELECT 1 FROM delivery d WHERE d.list = n.list AND d.\"commit\" = n.\"commit\")"
            # a blob its list holds from an earlier ingest: delivered again, counted once
            " AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.list = n.list AND d.oid = n.oid AND d.run < n.run)"
        )
        db.execute("COMMIT")

    store._guarded(work, "write")  # noqa: SLF001
    import pyarrow.parquet as pq

    added = int(pq.read_metadata(f"{prefix}-blob.parquet").num_rows)
    store.stats.stored += added
    store._rows += added  # noqa: SLF001 - what its look-ups are planned by


def ingest_on(
    client: Any,
    store: Store,
    pairs: Iterable[tuple[str, Ref]],
    run: int,
    cursor: dict[str, dict[int, str]],
    *,
    progress: Callable[[int], None] | None = None,
    staging: Path | None = None,
    repeats: Callable[[], Sequence[tuple[str, int, str, int, str]]] = tuple,
) -> int:
    """Parse ``pairs`` on the Dask ``client``'s workers and merge them into
    ``store`` as deliveries of ingest ``run``, then write the lists' cursor
    (``cursor`` moved past ``pairs``); returns the deliveries merged. ``staging``
    (default: a folder beside the store) must be on a file system every worker
    shares. At most :data:`IN_FLIGHT` tasks a worker are handed out at once.
    ``repeats()`` gives the blobs the walks passed over as delivered again,
    written with the cursor (see :meth:`Store.put_deliveries`)."""
    from distributed import as_completed

    where = (staging or store.path.with_name(store.path.name + ".staging")) / uuid.uuid4().hex
    try:
        where.mkdir(parents=True)
    except OSError as exc:
        raise StoreError(f"{where}: cannot stage the workers' files ({exc})") from None
    tips = {name: dict(epochs) for name, epochs in cursor.items()}
    refs: dict[str, list[Ref]] = {}
    limit = IN_FLIGHT * max(1, len(client.scheduler_info().get("workers", {})))
    done = 0
    def passing() -> Iterator[tuple[str, Ref]]:
        for name, ref in pairs:  # the cursor moves past each delivery handed out
            tips.setdefault(name, {})[ref[3]] = ref[2]
            yield name, ref

    try:
        tasks = partitions(passing(), where, run)
        running = as_completed()
        for task, part in itertools.islice(tasks, limit):
            refs[task[1]] = part
            running.add(client.submit(parse_partition, task, pure=False))
        for future in running:
            prefix, count, unread = future.result()
            merge(store, prefix)
            part = refs.pop(prefix)
            by_oid = {str(r[0]): r for r in part}
            for oid, reason in unread:
                report_unreadable(by_oid[oid], UnreadableError(oid, reason))
            for file in where.glob(f"{Path(prefix).name}-*.parquet"):
                file.unlink()
            done += count
            if progress is not None:
                progress(done)
            for task, more in itertools.islice(tasks, 1):
                refs[task[1]] = more
                running.add(client.submit(parse_partition, task, pure=False))
        store.put_deliveries([], tips, run, repeats())  # every partition merged: the cursor moves
    finally:
        shutil.rmtree(where, ignore_errors=True)
        if where.parent.is_dir() and not os.listdir(where.parent):
            where.parent.rmdir()
    return done
