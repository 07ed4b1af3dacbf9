"""Walk references → parsed messages, through the cache and an executor.

This is :meth:`patchtrack.Inbox.messages` under the hood. References come from
:meth:`patchtrack.Walk.refs` in chunks; each chunk's cached messages are looked up
by blob id, the rest are read and parsed — in this process, or on an
:class:`concurrent.futures.Executor` (a process pool, or anything with the same
``submit``: Dask's, for one) — and stored. Several chunks are in flight at once, and
they are yielded in walk order, so the output is the same as a serial run's. Memory
holds the chunks in flight, not the archive.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from datetime import datetime, timezone

import attrs

from . import _codec
from ._walk import Ref, raw_from, raw_message, read_stored, stored_at
from .cache import Cache
from .message import Message, parse_message

__all__ = ["load", "load_messages", "parse_encoded", "rebind"]

CHUNK = 200
"""Mails per unit of work: large enough that a process pool's per-task cost
(pickling, a round trip) is small next to parsing, small enough to keep every
worker busy on a short range."""

POOL_AFTER = 2
"""Chunks of uncached mail parsed in this process before a process pool starts: a
short walk (a cron job's week of new mail) is parsed sooner here than workers start."""

_DATE_FROM_ARRIVAL = ("no-date", "bad-date")


Row = tuple[str, str, int, int, bytes | str]
"""A mail as sent to an executor: blob id, commit id, epoch, commit time, and the
mail's bytes or the git directory of the epoch to read blob id from."""


def parse_encoded(rows: list[Row]) -> list[bytes]:
    """Read and parse mails and return them encoded: the unit of work sent to executors.

    Both ways the data is plain: tuples pickle in half the time of the
    :class:`~patchtrack.RawMessage` records they become here, and encoded messages cross a
    process boundary several times faster than pickled records (see
    :mod:`patchtrack._codec`). A row that names a git directory instead of carrying
    the mail is read here, in the worker (see :func:`rows`)."""
    return [_codec.encode(parse_message(raw_from(*row_mail(row)))) for row in rows]


def row_mail(row: Row) -> tuple[str, str, int, int, bytes]:
    """``row`` with its mail's bytes, read from the epoch it names if need be."""
    oid, commit, epoch, when, mail = row
    return (oid, commit, epoch, when, mail if isinstance(mail, bytes) else read_stored(mail, oid))


def rows(refs: list[Ref], *, local: bool) -> list[Row]:
    """The rows an executor parses ``refs`` from.

    A ``local`` executor's workers (processes on this machine) read each v2 mail
    from its epoch themselves, so this process reads and pickles no mail: on
    linux-pwm that was ~40 and ~35 µs of its ~125-150 µs of CPU a mail. The work
    moves rather than shrinks, but this one process walks, decodes and assembles
    for every worker, so what it spends a mail caps the pool however many cores
    there are. Any other executor is sent the bytes: its workers may not see the
    archive's files."""
    return [
        (str(r[0]), r[2], r[3], r[4], (local and stored_at(r[1])) or r[1].data)
        for r in refs
    ]


def load_messages(
    refs: Iterator[Ref],
    *,
    cache: Cache | None = None,
    executor: Executor | None = None,
    workers: int = 1,
) -> Iterator[Message]:
    """Messages for the non-removal references in ``refs``, in their order (see
    :func:`load`)."""
    return (message for _, message in load(refs, cache=cache, executor=executor, workers=workers))


def load(
    refs: Iterator[Ref],
    *,
    cache: Cache | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    removals: bool = False,
) -> Iterator[tuple[Ref, Message]]:
    """Each reference in ``refs`` with its message, in walk order; removal commits
    are left out unless ``removals`` (their message is the mail they removed).

    With ``cache``, a mail already parsed is decoded instead of parsed, and newly
    parsed mails are stored. Parsing runs on ``executor`` when given; otherwise,
    with ``workers`` > 1, on a process pool of that size, started only when
    :data:`POOL_AFTER` chunks' worth of mail needed parsing (a warm or short walk
    starts no process) and shut down when the iteration ends.
    """
    persons: _codec.Interned = {}
    pending: deque[tuple[list[Ref], dict[str, Message], Future[list[bytes]] | list[Message]]] = deque()
    owned: ProcessPoolExecutor | None = None
    unparsed = 0
    try:
        for chunk in _chunks(refs, removals):
            known = cache.get_many([str(r[0]) for r in chunk], persons) if cache is not None else {}
            todo = [r for r in chunk if str(r[0]) not in known]
            unparsed += len(todo)
            if executor is None and workers > 1 and todo and unparsed > POOL_AFTER * CHUNK:
                executor = owned = ProcessPoolExecutor(workers)
            work: Future[list[bytes]] | list[Message]
            if executor is not None and todo:
                work = executor.submit(parse_encoded, rows(todo, local=isinstance(executor, ProcessPoolExecutor)))
            else:
                work = [parse_message(raw_message(r)) for r in todo]
            pending.append((chunk, known, work))
            # Keep two chunks per worker queued so no worker waits on this loop.
            while len(pending) > (2 * max(workers, 2) if executor is not None else 0):
                yield from _finish(*pending.popleft(), cache, persons)
        while pending:
            yield from _finish(*pending.popleft(), cache, persons)
    finally:
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)


def _chunks(refs: Iterator[Ref], removals: bool) -> Iterator[list[Ref]]:
    chunk: list[Ref] = []
    for ref in refs:
        if ref[5] and not removals:
            continue
        chunk.append(ref)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _finish(
    chunk: list[Ref],
    known: dict[str, Message],
    work: Future[list[bytes]] | list[Message],
    cache: Cache | None,
    persons: _codec.Interned,
) -> Iterator[tuple[Ref, Message]]:
    if isinstance(work, Future):
        encoded = work.result()
        parsed = [_codec.decode(data, persons) for data in encoded]
        if cache is not None:  # store the workers' bytes as they are: no second encoding
            cache.put_encoded([(m.oid, data) for m, data in zip(parsed, encoded)])
    else:
        parsed = work
        if cache is not None:
            cache.put_many(parsed)
    fresh = iter(parsed)
    for ref in chunk:
        message = known.get(str(ref[0]))
        yield ref, next(fresh) if message is None else rebind(message, ref[2], ref[3], ref[4])


def rebind(message: Message, commit: str, epoch: int, when: int) -> Message:
    """A cached message as this delivery of its blob (``commit`` in ``epoch``,
    arrived at ``when``) would have parsed: the same blob may be stored by another
    commit (a duplicate delivery, a cross-post)."""
    if message.commit == commit and message.epoch == epoch:
        return message
    changes: dict[str, object] = {"commit": commit, "epoch": epoch}
    if any(p in _DATE_FROM_ARRIVAL or p.startswith("unparsable:") for p in message.problems):
        changes["date"] = datetime.fromtimestamp(when, timezone.utc)
    return attrs.evolve(message, **changes)
