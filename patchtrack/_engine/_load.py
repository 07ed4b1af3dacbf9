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

import ctypes
import gc
import itertools
import operator
import os
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from datetime import datetime, timezone
from typing import Any, SupportsIndex

import attrs

from . import _codec
from ..archive import Readable, Ref, raw_from, raw_message, read_stored, report_unreadable, stored_at
from ._store import BATCH, Store
from ..archive import GIT_ERRORS, unreadable
from ..errors import UnreadableError
from ..message import UNREADABLE, Message, parse_message
from ..vocab import Kind, Problem
from ..subject import parse_subject

__all__ = ["load", "load_messages", "parse_encoded", "rebind", "usable_cpus", "check_workers", "problem_message"]

CHUNK = 200
"""Mails per unit of work: large enough that a process pool's per-task cost
(pickling, a round trip) is small next to parsing, small enough to keep every
worker busy on a short range."""

POOL_AFTER = 2
"""Chunks of uncached mail parsed in this process before a process pool starts: a
short walk (a cron job's week of new mail) is parsed sooner here than workers start."""

_DATE_FROM_ARRIVAL = (Problem.NO_DATE, Problem.BAD_DATE)
_UNPARSABLE = Problem.UNPARSABLE.at("")


Row = tuple[str, str, int, int, "bytes | str | UnreadableError"]
"""A mail as sent to an executor: blob id, commit id, epoch, commit time, and the
mail's bytes, the git directory of the epoch to read blob id from, or the error
this process met reading it."""


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the platform has
    one (a container or ``taskset`` limits it), else every CPU."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_workers(workers: object) -> int:
    """``workers`` as a pool size: a positive whole number (``ValueError``
    otherwise), at most :func:`usable_cpus` (more processes than CPUs only share
    them, at 70-150 MB each)."""
    if isinstance(workers, bool) or not isinstance(workers, SupportsIndex):
        raise ValueError(f"workers must be a whole number, not {workers!r}")
    count = operator.index(workers)
    if count < 1:
        raise ValueError(f"workers must be at least 1, not {count}")
    return min(count, usable_cpus())


def problem_message(oid: str, commit: str, epoch: int, when: int, problem: str) -> Message:
    """The record of a mail that could not be made into a message: no header read,
    its date the arrival time, ``problems`` the one code saying why (as
    :func:`~patchtrack.parse_message` marks an ``unparsable:`` mail)."""
    return Message(
        oid=oid,
        commit=commit,
        epoch=epoch,
        msgid="",
        date=datetime.fromtimestamp(when, timezone.utc),
        kind=Kind.OTHER,
        subject=parse_subject(""),
        sender=None,
        author=None,
        problems=(problem,),
    )


def _problem(exc: Exception, oid: str) -> str:
    if isinstance(exc, (UnreadableError, *GIT_ERRORS)):
        return UNREADABLE + unreadable(exc, oid, "blob").reason
    return Problem.UNPARSABLE.at(type(exc).__name__)


def parse_encoded(rows: list[Row]) -> list[bytes]:
    """Read and parse mails and return them encoded: the unit of work sent to executors.

    Both ways the data is plain: tuples pickle in half the time of the
    :class:`~patchtrack.RawMessage` records they become here, and encoded messages cross a
    process boundary several times faster than pickled records (see
    :mod:`patchtrack._engine._codec`). A row that names a git directory instead of carrying
    the mail is read here, in the worker (see :func:`rows`). Whatever a row raises
    comes back as that mail's problem record (:func:`problem_message`), never as
    an exception that would lose the chunk."""
    return [_parse_row(row) for row in rows]


def _parse_row(row: Row) -> bytes:
    try:
        return _codec.encode(parse_message(raw_from(*row_mail(row))))
    except Exception as exc:  # noqa: BLE001 - a mail is data: one never loses the chunk
        return _codec.encode(problem_message(*row[:4], _problem(exc, row[0])))


def _parse_ref(ref: Ref) -> Message:
    """The message of ``ref``, parsed in this process; its problem record when it
    cannot be read."""
    try:
        return parse_message(raw_message(ref))
    except Exception as exc:  # noqa: BLE001 - as in _parse_row
        return problem_message(str(ref[0]), ref[2], ref[3], ref[4], _problem(exc, str(ref[0])))


def row_mail(row: Row) -> tuple[str, str, int, int, bytes]:
    """``row`` with its mail's bytes, read from the epoch it names if need be.
    Raises :class:`UnreadableError` when they cannot be read."""
    oid, commit, epoch, when, mail = row
    if isinstance(mail, UnreadableError):
        raise mail
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
        (str(r[0]), r[2], r[3], r[4], (local and stored_at(r[1])) or _data(r[1]))
        for r in refs
    ]


def _data(blob: Readable) -> bytes | UnreadableError:
    try:
        return blob.data
    except UnreadableError as exc:
        return exc  # the worker makes the problem record, in its place in the chunk


_Pending = tuple[list[Ref], dict[str, Message], list[Ref], "Future[list[bytes]] | list[Message]"]


def load_messages(
    refs: Iterator[Ref],
    *,
    cache: Store | None = None,
    executor: Executor | None = None,
    workers: int = 1,
) -> Iterator[Message]:
    """Messages for the non-removal references in ``refs``, in their order (see
    :func:`load`)."""
    return (message for _, message in load(refs, cache=cache, executor=executor, workers=workers))


def load(
    refs: Iterator[Ref],
    *,
    cache: Store | None = None,
    executor: Executor | None = None,
    workers: int = 1,
    removals: bool = False,
) -> Iterator[tuple[Ref, Message]]:
    """Each reference in ``refs`` with its message, in walk order; removal commits
    are left out unless ``removals`` (their message is the mail they removed).

    With ``cache``, a mail already parsed is decoded instead of parsed, and newly
    parsed mails are stored. Parsing runs on ``executor`` when given; otherwise,
    with ``workers`` > 1, on a process pool of at most that size (and at most
    :func:`usable_cpus`), started only when :data:`POOL_AFTER` chunks' worth of
    mail needed parsing (a warm or short walk starts no process), with no more
    processes than there are chunks left to hand out then, and shut down when the
    iteration ends. Its workers exit if this process dies.

    Nothing a mail does stops the load: a mail that cannot be read or parsed is its
    problem record (see :func:`problem_message`; an unreadable one is counted by its
    walk too, and not cached). A chunk whose executor fails (a worker killed, an
    executor that raises) is parsed here instead; a pool this function started
    that breaks is not started again.
    """
    workers = min(workers, usable_cpus())
    persons: _codec.Interned = {}
    pending: deque[_Pending] = deque()
    owned: ProcessPoolExecutor | None = None
    broken = False
    depth = 2 * max(workers, 2)  # two chunks per worker queued, so no worker waits on this loop
    unparsed = 0
    chunks = _looked_up(_chunks(refs, removals), cache, persons)
    ahead: deque[tuple[list[Ref], dict[str, Message], list[Ref]]] = deque()
    try:
        while (item := ahead.popleft() if ahead else next(chunks, None)) is not None:
            chunk, known, todo = item
            unparsed += len(todo)
            if executor is None and not broken and workers > 1 and todo and unparsed > POOL_AFTER * CHUNK:
                while len(ahead) < workers - 1 and (more := next(chunks, None)) is not None:
                    ahead.append(more)
                size = min(workers, 1 + sum(1 for _, _, later in ahead if later))
                if size > 1:  # one chunk left is parsed sooner here than a process starts
                    executor = owned = _pool(size)
                    depth = 2 * max(size, 2)
            work: Future[list[bytes]] | list[Message] | None = None
            if executor is not None and todo:
                try:
                    work = executor.submit(parse_encoded, rows(todo, local=isinstance(executor, ProcessPoolExecutor)))
                except Exception:  # noqa: BLE001 - a shut-down or broken executor: parse here
                    if executor is owned:
                        broken, executor = True, None
            if work is None:
                work = [_parse_ref(r) for r in todo]
            pending.append((chunk, known, todo, work))
            while len(pending) > (depth if executor is not None else 0):
                pairs, failed = _finish(*pending.popleft(), cache, persons)
                if failed and executor is owned and owned is not None:
                    broken, executor = True, None  # its other chunks fail over too, as they come
                yield from pairs
        while pending:
            yield from _finish(*pending.popleft(), cache, persons)[0]
    finally:
        if owned is not None:
            owned.shutdown(wait=True, cancel_futures=True)
        if cache is not None:
            cache.flush()  # what was parsed is kept, however the load ended


def _looked_up(
    chunks: Iterator[list[Ref]], cache: Store | None, persons: _codec.Interned
) -> Iterator[tuple[list[Ref], dict[str, Message], list[Ref]]]:
    """Each chunk with the messages the store has for it and the references left to
    parse; the store is asked for :data:`~._store.BATCH` mails' worth of chunks at
    once (a query costs ~6 ms whatever its size)."""
    if cache is None:
        for chunk in chunks:
            yield chunk, {}, chunk
        return
    batch: list[list[Ref]] = []
    last: list[Ref] = []  # the end of the chunks
    for chunk in itertools.chain(chunks, [last]):
        if chunk is not last:
            batch.append(chunk)
            if len(batch) * CHUNK < BATCH:
                continue
        if batch:
            known = cache.get_many([str(r[0]) for c in batch for r in c], persons)
            for c in batch:
                yield c, {str(r[0]): known[str(r[0])] for r in c if str(r[0]) in known}, [
                    r for r in c if str(r[0]) not in known
                ]
            batch = []


def _pool(size: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(size, initializer=_orphan_guard, initargs=(os.getpid(),))


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _orphan_guard(owner: int) -> None:
    """Run first in each worker of a pool :func:`load` starts: the worker exits when
    ``owner``, the process that started the pool, dies (a ``kill -9`` of a run used
    to leave its workers waiting for work for good, 70-150 MB each).

    On Linux the kernel kills the worker when its parent dies
    (``PR_SET_PDEATHSIG``: at once, even inside a long C call). A thread watches
    ``owner`` as well, for workers whose parent is not ``owner`` (a fork server's)
    and platforms without ``prctl``: through a pidfd where there is one, else by
    polling once a second. Never raises: a worker that cannot be guarded still
    parses."""
    # What the fork copied stays as it is: collecting it here would run finalizers of
    # the parent's objects — a DuckDB connection's closed another thread's state and
    # crashed workers (segfaults in the collector, seen with stores left unclosed).
    gc.freeze()
    try:
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if not _alive(owner):  # died before the guard was set
            os._exit(1)
        threading.Thread(target=_watch, args=(owner,), name="patchtrack-orphan-guard", daemon=True).start()
    except Exception:  # noqa: BLE001, S110 - see the docstring
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # alive, someone else's: not ours to signal
    return True


def _watch(owner: int) -> None:
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        select.select([fd], [], [])  # readable once ``owner`` has exited
        os._exit(1)
    while _alive(owner):
        time.sleep(1.0)
    os._exit(1)


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
    todo: list[Ref],
    work: Future[list[bytes]] | list[Message],
    cache: Store | None,
    persons: _codec.Interned,
) -> tuple[list[tuple[Ref, Message]], bool]:
    """The chunk's references with their messages, once its work is done, and
    whether its executor broke (its future failed with ``BrokenExecutor``). A
    future that failed in any way is made good by parsing the chunk here."""
    encoded: list[bytes] | None = None
    broke = False
    if isinstance(work, Future):
        try:
            encoded = work.result()
            parsed = [_codec.decode(data, persons) for data in encoded]
            if len(parsed) != len(todo):
                raise ValueError(f"the executor returned {len(parsed)} messages for {len(todo)} mails")
        except Exception as exc:  # noqa: BLE001 - a killed worker, an unpicklable row, a failing executor
            broke = isinstance(exc, BrokenExecutor)
            parsed, encoded = [_parse_ref(r) for r in todo], None
    else:
        parsed = work
    for ref, message in zip(todo, parsed):
        if message.problems and message.problems[0].startswith(UNREADABLE):
            reason = message.problems[0][len(UNREADABLE):]
            report_unreadable(ref, UnreadableError(str(ref[0]), reason))
    if cache is not None:
        kept = [i for i, m in enumerate(parsed) if not _unread(m)]
        if encoded is None:  # parsed here: encoded once, for the store
            encoded = [_codec.encode(m) for m in parsed]
        cache.put_parsed([parsed[i] for i in kept], [encoded[i] for i in kept])
    fresh = iter(parsed)
    pairs = [
        (ref, next(fresh) if message is None else rebind(message, ref[2], ref[3], ref[4]))
        for ref in chunk
        for message in (known.get(str(ref[0])),)
    ]
    return pairs, broke


def _unread(message: Message) -> bool:
    """Whether ``message`` is the record of a mail that could not be read: not kept
    in a cache, so that the mail is read again once the archive is mended."""
    return bool(message.problems) and message.problems[0].startswith(UNREADABLE)


def rebind(message: Message, commit: str, epoch: int, when: int) -> Message:
    """A cached message as this delivery of its blob (``commit`` in ``epoch``,
    arrived at ``when``) would have parsed: the same blob may be stored by another
    commit (a duplicate delivery, a cross-post)."""
    if message.commit == commit and message.epoch == epoch:
        return message
    changes: dict[str, Any] = {"commit": commit, "epoch": epoch}
    if any(p in _DATE_FROM_ARRIVAL or p.startswith(_UNPARSABLE) for p in message.problems):
        changes["date"] = datetime.fromtimestamp(when, timezone.utc)
    return attrs.evolve(message, **changes)
