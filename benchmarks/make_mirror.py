"""Write a synthetic lore-scale mirror from the corpora, with ``git fast-import``.

The mirror is grokmirror's layout, ``ROOT/<list>/git/<N>.git`` (what
``patchtrack.open_archive(ROOT)`` discovers), one synthetic list per corpus bundle,
named as lore names it (``linux-pwm``). ``--mails`` are shared among the lists in
proportion to their corpora; a list whose share is larger than its corpus gets the
corpus again and again. Copy *k* of a mail is the corpus mail with

- every id of ``Message-ID``, ``In-Reply-To`` and ``References`` rewritten as
  ``<local+<list>.k<k>@domain>`` (so threads stay threads within the copy, and no
  id is shared between copies nor between lists);
- its ``Date:`` and its arrival (commit time) moved *k* times the corpus's span
  (whole days, rounded up) later, so copies follow each other without overlap;
  only the day, month, year and weekday of ``Date:`` change;

and every other byte as the corpus holds it. ``--cross-post`` of the mails (chosen
by a hash of their new Message-ID) are delivered to a second list too, the same
blob at the same arrival time, as a real cross-post the lists' archives hold.

Each epoch holds ``--epoch-size`` deliveries (then the list rolls over to a new
root commit in the next epoch); its commits are in arrival order and written as
``patchtrack.builder`` writes a v2 epoch: one file ``m`` per tree, the author and
its date from ``From:``/``Date:``, the builder's committer at the arrival time,
the subject as the message. ``ROOT/manifest.json`` is written last: a run finding
it with the same parameters does nothing; a root without one is rebuilt.

    python benchmarks/make_mirror.py --out /work/bench-data/mirror --mails 100000
    python benchmarks/make_mirror.py --out /work/bench-data/mirror --sizes 250000,500000,1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import date, datetime, timezone
from heapq import merge
from itertools import islice
from pathlib import Path
from typing import IO, Any

import attrs

from patchtrack.builder import mail_meta

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
CLONES = Path("/tmp/c")
FORMAT = 1
"""The version of what this script writes: a manifest of another version is rebuilt."""

_MARKER = ".make_mirror"
_COMMITTER = b"patchtrack builder <builder@patchtrack.invalid>"  # patchtrack.builder's
_DAY = 86400
_PROGRESS = 50_000

_BLANK_LINE = re.compile(rb"\n\r?\n")
_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*(?:\n[ \t].*)*)", re.M)
_ID = re.compile(rb"<([^<>\s]+)>")
_BARE_ID = re.compile(rb"\S+")
_DATE = re.compile(
    rb"\s*(?:(?P<wd>[A-Za-z]{3,9})\s*,\s*)?"
    rb"(?P<d>\d{1,2})(?:[ \t]+|-)(?P<mon>[A-Za-z]{3})(?:[ \t]+|-)(?P<y>\d{4}|\d{2})(?!\d)"
)
_ID_FIELDS = frozenset({b"message-id", b"in-reply-to", b"references"})
_MONTHS = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"]
_WEEKDAYS = [b"Monday", b"Tuesday", b"Wednesday", b"Thursday", b"Friday", b"Saturday", b"Sunday"]

# What a slot of a header is replaced by in a copy.
_SUFFIX, _WEEKDAY, _DAY_OF_MONTH, _MONTH, _YEAR = range(5)


@attrs.frozen
class Slot:
    """Bytes ``raw[start:end]`` of a header that a copy replaces: the point where an
    id takes its copy's suffix (``start == end``), or one part of a ``Date:``
    (weekday, day, month, year) of the day ``ordinal``."""

    start: int
    end: int
    kind: int
    ordinal: int = 0
    width: int = 0  # a day's digits; a weekday's letters


@attrs.frozen
class Mail:
    """One corpus commit, ready to be copied."""

    raw: bytes
    kind: str  # "m", or "d" for a removal
    blob: str
    arrival: int
    header_end: int
    slots: tuple[Slot, ...]
    msgid: tuple[bytes, bytes] | None  # the first Message-ID, split where the suffix goes
    author: tuple[bytes, int, bytes]  # "name <email>", seconds, zone
    message: bytes
    dated: bool  # whether its Date: was found and can be moved

    def rewritten_id(self, suffix: bytes) -> bytes | None:
        return None if self.msgid is None else self.msgid[0] + suffix + self.msgid[1]


@attrs.frozen
class Corpus:
    """A list's source: the first mails of one corpus, in its order (arrival)."""

    name: str
    path: Path
    tip: str
    mails: list[Mail]
    span_days: int
    """How far one copy is moved after the one before: the span of its arrivals, in
    whole days, rounded up (one day more when it is whole days exactly)."""

    @classmethod
    def of(cls, name: str, path: Path, tip: str, mails: list[Mail]) -> Corpus:
        arrivals = [m.arrival for m in mails] or [0]
        return cls(name, path, tip, mails, (max(arrivals) - min(arrivals)) // _DAY + 1)

    def prefix(self, count: int) -> Corpus:
        """The corpus of the first ``count`` mails alone."""
        return Corpus.of(self.name, self.path, self.tip, self.mails[:count])


@attrs.frozen
class Parameters:
    """What a mirror is built from: equal parameters, equal mirror."""

    mails: int
    epoch_size: int
    cross_post: float
    seed: int
    take: int | None
    corpora: dict[str, str]  # list → corpus tip

    def as_json(self) -> dict[str, Any]:
        return {"format": FORMAT, **attrs.asdict(self)}


@attrs.frozen(order=True)
class Delivery:
    """One commit to write: copy ``copy`` of mail ``index`` of list ``source``."""

    arrival: int
    source: str
    copy: int
    index: int


# -- the corpora ------------------------------------------------------------------------------


def list_of(bundle: Path) -> str:
    """lore's short name of a corpus: ``linux-pwm.vger.kernel.org.0.bundle`` → ``linux-pwm``."""
    return bundle.name.partition(".")[0]


def clone(bundle: Path, clones: Path) -> Path:
    """The bare clone of ``bundle`` in ``clones`` (made when absent)."""
    dest = clones / (bundle.name.removesuffix(".bundle") + ".git")
    if not dest.is_dir():
        clones.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(bundle), str(dest)], check=True)
    return dest


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], input=input, check=True, capture_output=True).stdout


def read_commits(repo: Path, limit: int) -> list[tuple[int, str, str, bytes]]:
    """(arrival, "m" or "d", blob id, bytes) of the mails of the first ``limit``
    commits, oldest first, read with one ``git log`` and ``git cat-file --batch``
    (a second one for the removals' ``d``); a commit with neither, a purge's, is
    skipped."""
    log = [line.split() for line in git(repo, "log", "--reverse", "--format=%H %ct").decode().splitlines()][:limit]
    found: dict[str, tuple[str, str, bytes]] = {}
    wanted = [commit for commit, _ in log]
    for name in ("m", "d"):
        if not wanted:
            break
        out = git(repo, "cat-file", "--batch", input="".join(f"{c}:{name}\n" for c in wanted).encode())
        at, missing = 0, []
        for commit in wanted:
            end = out.index(b"\n", at)
            head = out[at:end].split()
            if head[-1] == b"missing":
                missing.append(commit)
                at = end + 1
                continue
            size = int(head[2])
            found[commit] = (name, head[0].decode(), out[end + 1 : end + 1 + size])
            at = end + 1 + size + 1
        wanted = missing
    return [(int(when), *found[c]) for c, when in log if c in found]


def load(bundle: Path, clones: Path, limit: int, pool: Executor) -> Corpus:
    """The first ``limit`` mails of a corpus, each parsed once for its copies."""
    path = clone(bundle, clones)
    tip = git(path, "rev-parse", "HEAD").decode().strip()
    commits = read_commits(path, limit)
    ends = [header_end(raw) for _, _, _, raw in commits]
    # the standard library's header parser, as patchtrack.builder reads a mail, is
    # 0.9 ms a mail: 50 s for the corpora's 58,090 on one core
    metas = pool.map(commit_meta, [raw[:end] + b"\n" for (_, _, _, raw), end in zip(commits, ends)], chunksize=256)
    mails = [prepare(raw, kind, blob, when, end, meta) for (when, kind, blob, raw), end, meta in zip(commits, ends, metas)]
    return Corpus.of(list_of(bundle), path, tip, mails)


def corpus_sizes(bundles: Sequence[Path], clones: Path) -> dict[Path, int]:
    """Commits in each corpus (every corpus commit holds a mail)."""
    return {b: int(git(clone(b, clones), "rev-list", "--count", "HEAD")) for b in bundles}


# -- one mail and its copies ------------------------------------------------------------------


def header_end(raw: bytes) -> int:
    """Where a mail's header block ends (after its last header line's newline)."""
    blank = _BLANK_LINE.search(raw)
    return blank.start() + 1 if blank is not None else len(raw)


def commit_meta(head: bytes) -> tuple[bytes, int, bytes, bytes]:
    """What a mail's commit takes from its headers, as ``patchtrack.builder`` takes
    it: the author (``name <email>``), the seconds and zone of its ``Date:``, and
    the message (the subject)."""
    meta = mail_meta(head)
    offset = meta.date.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    zone = f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}".encode()
    ident = f"{meta.name} <{meta.email}>" if meta.name else f"<{meta.email}>"
    message = (meta.subject + "\n").encode("utf-8", "replace")
    return ident.encode("utf-8", "replace"), int(meta.date.timestamp()), zone, message


def prepare(raw: bytes, kind: str, blob: str, arrival: int, end: int, meta: tuple[bytes, int, bytes, bytes]) -> Mail:
    """Where a copy's header (``raw[:end]``) differs from ``raw``'s, and its commit's metadata."""
    slots: list[Slot] = []
    msgid: tuple[bytes, bytes] | None = None
    dated = False
    for field in _FIELD.finditer(raw, 0, end):
        name = field[1].lower()
        if name in _ID_FIELDS:
            points = _id_points(raw, field.start(2), field.end(2))
            if name == b"message-id" and msgid is None and points:
                start, point, stop = points[0]
                msgid = (raw[start:point], raw[point:stop])
            slots += (Slot(point, point, _SUFFIX) for _, point, _ in points)
        elif name == b"date":
            found = _date_slots(raw, field.start(2), field.end(2))
            dated = dated or bool(found)
            slots += found
    ident, seconds, zone, message = meta
    return Mail(
        raw=raw,
        kind=kind,
        blob=blob,
        arrival=arrival,
        header_end=end,
        slots=tuple(sorted(slots, key=lambda s: s.start)),
        msgid=msgid,
        author=(ident, seconds, zone),
        message=message,
        dated=dated,
    )


def _id_points(raw: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """Each id of a header value: (its start, where the suffix goes — before its last
    ``@``, else at its end —, its end); a value with no ``<id>`` is one bare id."""
    found = [(m.start(1), m.end(1)) for m in _ID.finditer(raw, start, end)]
    if not found:
        bare = _BARE_ID.search(raw, start, end)
        found = [(bare.start(), bare.end())] if bare is not None else []
    points = []
    for a, b in found:
        at = raw.rfind(b"@", a, b)
        points.append((a, at if at >= 0 else b, b))
    return points


def _date_slots(raw: bytes, start: int, end: int) -> list[Slot]:
    """The weekday, day, month and year of a ``Date:`` value, or none when it does
    not start with a real day (``31 Feb``) in RFC 5322's shape."""
    m = _DATE.match(raw, start, end)
    if m is None or m["mon"].title() not in _MONTHS:
        return []
    year = int(m["y"])
    if len(m["y"]) == 2:
        year += 2000 if year < 50 else 1900  # RFC 5322's reading of an obsolete year
    try:
        ordinal = date(year, _MONTHS.index(m["mon"].title()) + 1, int(m["d"])).toordinal()
    except ValueError:
        return []
    slots = [
        Slot(m.start("d"), m.end("d"), _DAY_OF_MONTH, ordinal, len(m["d"])),
        Slot(m.start("mon"), m.end("mon"), _MONTH, ordinal),
        Slot(m.start("y"), m.end("y"), _YEAR, ordinal),
    ]
    if m["wd"] is not None:
        slots.append(Slot(m.start("wd"), m.end("wd"), _WEEKDAY, ordinal, len(m["wd"])))
    return slots


def _render(slot: Slot, suffix: bytes, days: int) -> bytes:
    if slot.kind == _SUFFIX:
        return suffix
    day = date.fromordinal(slot.ordinal + days)
    if slot.kind == _WEEKDAY:
        name = _WEEKDAYS[day.weekday()]
        return name if slot.width > 3 else name[:3]
    if slot.kind == _DAY_OF_MONTH:
        return b"%0*d" % (slot.width, day.day)
    if slot.kind == _MONTH:
        return _MONTHS[day.month - 1]
    return b"%04d" % day.year


def header(mail: Mail, suffix: bytes, days: int) -> bytes:
    """The header block of a copy: ids suffixed, ``Date:`` moved ``days`` later."""
    raw, pieces, at = mail.raw, [], 0
    for slot in mail.slots:
        if slot.kind != _SUFFIX and not days:
            continue
        pieces += (raw[at : slot.start], _render(slot, suffix, days))
        at = slot.end
    pieces.append(raw[at : mail.header_end])
    return b"".join(pieces)


def suffix_of(name: str, copy: int) -> bytes:
    return f"+{name}.k{copy}".encode()


# -- the plan: which mail goes where ----------------------------------------------------------


def shares(total: int, sizes: dict[str, int]) -> dict[str, int]:
    """``total`` mails shared among the lists in proportion to ``sizes`` (largest
    remainders get the odd mails), in the order of ``sizes``."""
    whole = sum(sizes.values())
    exact = {name: total * size / whole for name, size in sizes.items()}
    counts = {name: int(x) for name, x in exact.items()}
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def own(corpus: Corpus, count: int) -> Iterator[Delivery]:
    """A list's own ``count`` mails: the corpus's, copy after copy."""
    size = len(corpus.mails)
    span = corpus.span_days * _DAY
    for n in range(count):
        copy, index = divmod(n, size)
        yield Delivery(corpus.mails[index].arrival + copy * span, corpus.name, copy, index)


def cross_posts(
    corpora: dict[str, Corpus], counts: dict[str, int], rate: float, seed: int
) -> dict[str, list[Delivery]]:
    """The mails each list receives from the others, in arrival order.

    A mail is cross-posted when a hash of its new Message-ID falls under ``rate``;
    the hash also picks the other list. A mail whose Message-ID its corpus gives to
    another mail too (a ``RESEND`` that kept it, the same mail delivered twice) is
    never chosen: patchtrack pairs a list's k-th copy of an id with another list's
    k-th, so such a copy could be paired with its namesake rather than its blob."""
    names = sorted(corpora)
    incoming: dict[str, list[Delivery]] = {name: [] for name in names}
    key = seed.to_bytes(8, "big", signed=True)
    bound = int(rate * 2**64)
    for name in names:
        corpus, others = corpora[name], [n for n in names if n != name]
        unique = _unique_ids(corpus)
        for delivery in own(corpus, counts[name]):
            mail = corpus.mails[delivery.index]
            if mail.kind != "m" or not unique[delivery.index] or not others:
                continue
            msgid = mail.rewritten_id(suffix_of(name, delivery.copy))
            assert msgid is not None  # an id unique in its corpus is one it has
            digest = hashlib.blake2b(key + msgid, digest_size=16).digest()
            if int.from_bytes(digest[:8], "big") < bound:
                target = others[int.from_bytes(digest[8:], "big") % len(others)]
                incoming[target].append(delivery)
    for deliveries in incoming.values():
        deliveries.sort()
    return incoming


def _unique_ids(corpus: Corpus) -> list[bool]:
    """For each mail: whether it has a Message-ID no other mail of the corpus has."""
    seen: dict[bytes, int] = {}
    for mail in corpus.mails:
        if mail.msgid is not None:
            key = mail.msgid[0] + mail.msgid[1]
            seen[key] = seen.get(key, 0) + 1
    return [m.msgid is not None and seen[m.msgid[0] + m.msgid[1]] == 1 for m in corpus.mails]


# -- writing ----------------------------------------------------------------------------------


class Progress:
    """Deliveries written so far, on stderr every 50,000 and at each epoch's end."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start, self.next = total, 0, time.perf_counter(), _PROGRESS
        self.lock = threading.Lock()

    def add(self, count: int, what: str = "") -> None:
        with self.lock:
            self.done += count
            if self.done >= self.next or what:
                self.next = (self.done // _PROGRESS + 1) * _PROGRESS
                seconds = time.perf_counter() - self.start
                rate = self.done / seconds if seconds else 0.0
                print(f"  {self.done:>10,} / {self.total:,} deliveries, {rate:,.0f}/s {what}", file=sys.stderr, flush=True)


class Epoch:
    """One epoch repository being written by its own ``git fast-import``."""

    def __init__(self, path: Path) -> None:
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=master", str(path)], check=True)
        # raw-permissive: git's raw dates refuse a zone beyond 14 hours, which a
        # Date: header may give (patchtrack.builder writes it); the corpora have none
        self.process = subprocess.Popen(
            ["git", "--git-dir", str(path), "fast-import", "--quiet", "--done", "--date-format=raw-permissive"],
            stdin=subprocess.PIPE,
            bufsize=1 << 20,
        )
        assert self.process.stdin is not None
        self.out: IO[bytes] = self.process.stdin
        self.path = path
        self.commits = 0
        self.file = b""  # the file the tip's tree holds

    def commit(self, mail: Mail, suffix: bytes, days: int, arrival: int) -> None:
        ident, seconds, zone = mail.author
        head = header(mail, suffix, days)
        file = mail.kind.encode()
        gone = b"D " + self.file + b"\n" if self.file and self.file != file else b""
        self.out.write(
            b"commit refs/heads/master\nauthor %s %d %s\ncommitter %s %d +0000\ndata %d\n%s%sM 100644 inline %s\ndata %d\n"
            % (
                ident, max(0, seconds + days * _DAY), zone, _COMMITTER, arrival, len(mail.message), mail.message,
                gone, file, len(head) + len(mail.raw) - mail.header_end,
            )
        )
        self.out.write(head)
        self.out.write(memoryview(mail.raw)[mail.header_end :])
        self.out.write(b"\n")
        self.file = file
        self.commits += 1

    def close(self) -> None:
        self.out.write(b"done\n")
        self.out.close()
        if self.process.wait() != 0:
            raise SystemExit(f"{self.path}: git fast-import failed ({self.process.returncode})")


@attrs.frozen
class Task:
    """Epoch ``number`` of list ``name``: the list's deliveries ``start`` to ``stop``."""

    name: str
    number: int
    start: int
    stop: int


def tasks(totals: dict[str, int], epoch_size: int) -> list[Task]:
    """Every epoch of every list, the largest first (they are written side by side)."""
    found = [
        Task(name, n, start, min(start + epoch_size, total))
        for name, total in totals.items()
        for n, start in enumerate(range(0, total, epoch_size))
    ]
    return sorted(found, key=lambda t: (t.start - t.stop, t.name, t.number))


def write_epoch(
    root: Path, corpora: dict[str, Corpus], stream: Iterator[Delivery], task: Task, progress: Progress
) -> None:
    """Write one epoch: its slice of its list's deliveries (in arrival order)."""
    epoch = Epoch(root / task.name / "git" / f"{task.number}.git")
    written = 0
    for d in islice(stream, task.start, task.stop):
        corpus = corpora[d.source]
        epoch.commit(corpus.mails[d.index], suffix_of(d.source, d.copy), d.copy * corpus.span_days, d.arrival)
        written += 1
        if written == 1000:
            progress.add(written)
            written = 0
    epoch.close()
    progress.add(written, f"{task.name} epoch {task.number} ({epoch.commits:,} commits)")


# -- the figures ------------------------------------------------------------------------------


def copy_figures(corpus: Corpus, count: int) -> dict[str, int]:
    """What ``count`` mails of a list's own hold, by the corpus's figures: the mails
    (removals apart), the distinct blobs among them, the same blob again, and
    distinct mails with the Message-ID of an earlier one (within a copy: copies share
    no id). Copy k of distinct originals is distinct: every corpus mail carries an
    id that the copy's suffix makes its own."""
    size = len(corpus.mails)
    figures = {"mails": 0, "removals": 0, "distinct": 0, "repeated": 0, "reused_ids": 0, "dates_not_moved": 0}
    whole, part = divmod(count, size)
    for prefix, times in ((corpus.mails, whole), (corpus.mails[: count - whole * size], 1)):
        blobs: set[str] = set()
        ids: set[bytes] = set()
        counted = {k: 0 for k in figures}
        for mail in prefix:
            if mail.kind != "m":
                counted["removals"] += 1
                continue
            counted["mails"] += 1
            counted["dates_not_moved"] += not mail.dated
            if mail.blob in blobs:
                counted["repeated"] += 1
                continue
            blobs.add(mail.blob)
            key = b"" if mail.msgid is None else mail.msgid[0] + mail.msgid[1]
            counted["reused_ids"] += key in ids
            ids.add(key)
        counted["distinct"] = len(blobs)
        for k in figures:
            figures[k] += counted[k] * times
    return figures


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def manifest(
    params: Parameters, corpora: dict[str, Corpus], counts: dict[str, int], incoming: dict[str, list[Delivery]],
    epochs: dict[str, list[int]], seconds: float,
) -> dict[str, Any]:
    lists: dict[str, Any] = {}
    total = {"mails": 0, "removals": 0, "distinct": 0, "repeated": 0, "reused_ids": 0, "dates_not_moved": 0}
    first, last = [], []
    for name, corpus in corpora.items():
        figures = copy_figures(corpus, counts[name])
        arrivals = list(_own_span(corpus, counts[name]))
        arrivals += [d.arrival for d in incoming[name][:1] + incoming[name][-1:]]
        first.append(min(arrivals))
        last.append(max(arrivals))
        lists[name] = {
            "corpus": corpus.path.name,
            "corpus_mails_used": len(corpus.mails),
            "copies": math.ceil(counts[name] / len(corpus.mails)),
            "span_days": corpus.span_days,
            **figures,
            "cross_posts_in": len(incoming[name]),
            "deliveries": counts[name] - figures["removals"] + len(incoming[name]),
            "epochs": epochs[name],
            "first_arrival": iso(min(arrivals)),
            "last_arrival": iso(max(arrivals)),
        }
        for k in total:
            total[k] += figures[k]
    crossed = sum(map(len, incoming.values()))
    return {
        "parameters": params.as_json(),
        "lists": lists,
        "mails": total["mails"],
        "removals": total["removals"],
        "cross_posted": crossed,
        "deliveries": total["mails"] + crossed,
        "repeated_deliveries": total["repeated"],
        "walked": total["distinct"] + crossed,
        "distinct_mails": total["distinct"],
        "reused_message_ids": total["reused_ids"],
        "dates_not_moved": total["dates_not_moved"],
        "epochs": sum(len(e) for e in epochs.values()),
        "first_arrival": iso(min(first)),
        "last_arrival": iso(max(last)),
        "build_seconds": round(seconds, 1),
    }


def _own_span(corpus: Corpus, count: int) -> tuple[int, int]:
    """The first and last arrival of a list's own ``count`` mails."""
    arrivals = [m.arrival for m in corpus.mails]
    whole, part = divmod(count, len(arrivals))
    shift = corpus.span_days * _DAY
    last = [max(arrivals) + (whole - 1) * shift] if whole else []
    last += [max(arrivals[:part]) + whole * shift] if part else []
    return min(arrivals[:count]), max(last)


# -- a mirror ---------------------------------------------------------------------------------


def label(mails: int) -> str:
    """A size's folder: ``250000`` → ``250k``, ``1000000`` → ``1M``."""
    if mails % 1_000_000 == 0:
        return f"{mails // 1_000_000}M"
    return f"{mails // 1000}k" if mails % 1000 == 0 else str(mails)


def current(root: Path, params: Parameters) -> dict[str, Any] | None:
    """The manifest of a mirror already built at ``root`` with ``params``."""
    try:
        found = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and found.get("parameters") == params.as_json() else None


def check(root: Path) -> None:
    """Refuse to write into a folder this script did not make (no marker), unless
    it is empty: an old mirror is removed, not anything else."""
    if root.exists() and any(root.iterdir()) and not (root / _MARKER).exists():
        raise SystemExit(f"{root}: not a mirror this script wrote (no {_MARKER}): refusing to remove it")


def clear(root: Path) -> None:
    """Make ``root`` an empty folder of this script's."""
    check(root)
    if root.exists():
        if any(root.iterdir()):
            print(f"{root}: removing an unfinished or different mirror", file=sys.stderr)
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / _MARKER).write_text("written by benchmarks/make_mirror.py; removed and rebuilt when parameters change\n")


def build(
    root: Path, params: Parameters, sizes: dict[str, int], loaded: dict[str, Corpus], jobs: int
) -> dict[str, Any]:
    """Write the mirror of ``params`` at ``root``: the lists share the mails as their
    corpora's ``sizes``, each read from the corpus ``loaded`` (read at least as far
    as this size needs), ``jobs`` epochs at a time; returns its manifest."""
    found = current(root, params)
    if found is not None:
        print(f"{root}: already built with these parameters, left as it is", file=sys.stderr)
        return found
    clear(root)
    start = time.perf_counter()
    counts = shares(params.mails, sizes)
    corpora = {name: c.prefix(counts[name]) for name, c in loaded.items()}
    incoming = cross_posts(corpora, counts, params.cross_post, params.seed)
    totals = {name: counts[name] + len(incoming[name]) for name in sorted(corpora)}
    progress = Progress(sum(totals.values()))
    print(f"{root}: {params.mails:,} mails into {len(corpora)} lists", file=sys.stderr)

    def write(task: Task) -> None:
        stream = merge(own(corpora[task.name], counts[task.name]), incoming[task.name])
        write_epoch(root, corpora, stream, task, progress)

    plan = tasks(totals, params.epoch_size)
    # one fast-import per epoch, side by side: it is the slow part, 0.3 ms of CPU a
    # mail against 0.03 ms for this process to make the mail
    with ThreadPoolExecutor(jobs) as threads:
        for done in [threads.submit(write, task) for task in plan]:
            done.result()
    epochs = {name: [t.stop - t.start for t in sorted(plan, key=lambda t: t.number) if t.name == name] for name in totals}
    figures = manifest(params, corpora, counts, incoming, epochs, time.perf_counter() - start)
    temporary = root / "manifest.json.tmp"
    temporary.write_text(json.dumps(figures, indent=2) + "\n")
    temporary.replace(root / "manifest.json")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, metavar="ROOT", help="the mirror's root folder")
    parser.add_argument("--mails", type=int, default=1_000_000, help="mails to write (default 1,000,000)")
    parser.add_argument(
        "--sizes", metavar="N,N,...",
        help="build one mirror per size, ROOT/250k, ROOT/1M…, each complete (instead of --mails)",
    )
    parser.add_argument("--epoch-size", type=int, default=100_000, help="commits per epoch (default 100,000)")
    parser.add_argument("--cross-post", type=float, default=0.05, help="share of mails also on a second list (0.05)")
    parser.add_argument("--seed", type=int, default=0, help="varies which mails are cross-posted (default 0)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="epochs written at a time (default: cores)")
    parser.add_argument("--take", type=int, help="use only each corpus's first TAKE mails (small tests: more copies)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"the bundles (default {CORPUS})")
    parser.add_argument(
        "--clones", type=Path, default=CLONES, help=f"their bare clones, made when absent (default {CLONES})"
    )
    args = parser.parse_args(argv)
    mails = [int(n) for n in args.sizes.split(",")] if args.sizes else [args.mails]
    if min(mails + [args.epoch_size, args.jobs, args.take or 1]) < 1 or not 0 <= args.cross_post < 1:
        parser.error("--mails, --sizes, --epoch-size, --jobs and --take are at least 1; --cross-post is in [0, 1)")
    bundles = sorted(args.corpus.glob("*.bundle"))
    if not bundles:
        print(f"no bundles in {args.corpus}", file=sys.stderr)
        return 2
    counted = corpus_sizes(bundles, args.clones)
    sizes = {list_of(b): min(n, args.take or n) for b, n in counted.items()}
    tips = {list_of(b): git(clone(b, args.clones), "rev-parse", "HEAD").decode().strip() for b in bundles}
    roots = {n: args.out / label(n) if args.sizes else args.out for n in mails}
    plans = {n: Parameters(n, args.epoch_size, args.cross_post, args.seed, args.take, tips) for n in mails}
    todo = [n for n in mails if current(roots[n], plans[n]) is None]
    for n in todo:
        check(roots[n])  # before the corpora are read: a minute and a half for all of them
    start = time.perf_counter()
    need = {name: max((shares(n, sizes)[name] for n in todo), default=0) for name in sizes}
    with ProcessPoolExecutor(args.jobs) as pool:
        loaded = {
            name: load(b, args.clones, min(need[name], sizes[name]), pool)
            for b, name in ((b, list_of(b)) for b in bundles) if need[name]
        }
    if todo:
        print(f"corpora read in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    for n in mails:
        figures = build(roots[n], plans[n], sizes, loaded, args.jobs)
        print(summary(roots[n], figures))
    return 0


def summary(root: Path, figures: dict[str, Any]) -> str:
    lists = ", ".join(f"{name} {f['deliveries']:,} in {len(f['epochs'])} epochs" for name, f in figures["lists"].items())
    rate = figures["deliveries"] / figures["build_seconds"] if figures["build_seconds"] else 0.0
    return (
        f"{root}: {figures['deliveries']:,} deliveries ({figures['mails']:,} mails + {figures['cross_posted']:,} "
        f"cross-posted), {figures['distinct_mails']:,} distinct, {figures['epochs']} epochs, "
        f"{figures['first_arrival'][:10]} .. {figures['last_arrival'][:10]}; built in {figures['build_seconds']:.0f} s "
        f"({rate:,.0f} deliveries/s)\n  {lists}"
    )


if __name__ == "__main__":
    sys.exit(main())
