"""Fuzzing ``parse_message`` with mutated real mail (issue 19).

Real mails from public-inbox archives are mutated — bytes flipped, inserted and
deleted, header lines duplicated, pieces of hostile shapes spliced in (long ``<a@a@…``
runs, RFC 822 groups, odd and broken charsets and encoded words, UTF-7, deep MIME
nesting, megabyte headers) — and every mutated mail is parsed and checked:

- no exception escapes ``parse_message``, and no record is ``unparsable:*``;
- a mutation that leaves the ``Message-ID``, ``Date`` and ``From`` lines alone (a
  header inserted, duplicated or rewritten, the body replaced) keeps the record's
  msgid, date and sender: one bad header never loses the mail;
- the record is writable: ``Message.to_dict()`` dumps to JSON and encodes as UTF-8,
  every str field (body, diff, trailers, paths…) encodes as UTF-8, and the cache's
  encoding gives back an equal record;
- the CPU time of each parse is recorded.

``tests/test_fuzz.py`` runs a short campaign on the corpora in CI; a long one is run by
hand::

    python tests/fuzz.py /tmp/c/*.git --mails 1000000 --seed 1 --workers 2 --slowest /tmp/fuzz-slowest

It prints the mails parsed, p50/p99/max CPU per mail, the failures (their inputs are
saved beside the slowest ones) and the slowest inputs, saved for triage.
"""

from __future__ import annotations

import argparse
import base64
import gc
import heapq
import json
import os
import random
import re
import sys
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pygit2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patchtrack._engine import _codec# noqa: E402
from patchtrack.message import Message, parse_message  # noqa: E402

# --- hostile pieces ---------------------------------------------------------------------

Piece = Callable[[random.Random], bytes]


_SIZES = (8, 64, 512, 4096, 32768, 131072, 1 << 20)
_WEIGHTS = (30, 30, 20, 15, 3, 1.5, 0.5)


def _size(rng: random.Random) -> int:
    """Mostly small, one piece in twenty 32 KB or more, one in two hundred a megabyte:
    the costs that matter grow with size, and most mutations are small."""
    return int(rng.choices(_SIZES, _WEIGHTS)[0] * rng.uniform(0.5, 1.0))


def _rep(unit: bytes, size: int) -> bytes:
    return unit * max(1, size // len(unit))


_CHARSETS = (
    b"hex", b"rot13", b"base64", b"zlib", b"bz2", b"uu", b"undefined", b"idna", b"punycode", b"utf-7",
    b"unicode_escape", b"raw_unicode_escape", b"utf-16", b"utf-32", b"UTF-8\xae", b"\xff\xfe", b"",
    b"x-unknown", b"unknown-8bit", b"euc-jp", b"iso-2022-jp", b"gb2312", b"koi8-r", b"none", b"us-ascii",
)
_WORDS = (  # encoded-word payloads: valid, broken base64, lone surrogates, NULs
    b"+2AA-", b"YWJj", b"QQ", b"Q", b"!!!!", b"=C3", b"=FF=FE", b"xn--", b"_", b"=00", b"\\ud800", b"2AA",
)


def _encoded_word(rng: random.Random) -> bytes:
    return b"=?%s?%s?%s?=" % (rng.choice(_CHARSETS), rng.choice((b"q", b"b", b"Q", b"B", b"x")), rng.choice(_WORDS))


def _ids(rng: random.Random) -> bytes:
    return rng.choice((
        b"<p1<script>alert(1)</script>@evil>", b"<<<<", b"<>", b"<a@b> <c@d>", b"<" + b"a" * 300 + b">",
        b"<x<victim@host>>", b"no brackets", b"(comment) <id@x>",
    ))


HEADER_VALUES: dict[str, Piece] = {
    "angle-run": lambda r: b"<" + _rep(b"a@", _size(r)),
    "angle-run-closed": lambda r: b"<" + _rep(b"a@", _size(r)) + b">",
    "lt-run": lambda r: _rep(b"<", _size(r)) + b">",
    "group-at": lambda r: _rep(b"@", _size(r)),
    "group-colons": lambda r: _rep(b"g:", _size(r)) + b" a@b;",
    "group-list": lambda r: b"g: " + _rep(b"a@b, ", _size(r)) + b";",
    "groups-many": lambda r: b", ".join(b"g%d: a%d@b;" % (i, i) for i in range(max(1, _size(r) // 12))),
    "fwd-recursion": lambda r: _rep(b"Fwd: <a@b>", _size(r)),
    "nested-comments": lambda r: b"a@b " + _rep(b"(", _size(r)),
    "quotes": lambda r: _rep(b'"', _size(r)) + b" <a@b>",
    "open-quote": lambda r: b'"' + _rep(b"a@b ", _size(r)),
    "backslashes": lambda r: b'"' + _rep(b"\\", _size(r)),
    "many-people": lambda r: b", ".join(b"P%d <p%d@x.org>" % (i, i) for i in range(max(1, _size(r) // 18))),
    "encoded-words": lambda r: b" ".join(_encoded_word(r) for _ in range(r.randint(1, 8))),
    "encoded-run": lambda r: _rep(b"=?utf-8?q?a?=", _size(r)),
    "encoded-run-spaced": lambda r: _rep(b"=?utf-8?q?a?= =?utf8?q?b?= ", _size(r)),
    "encoded-open": lambda r: _rep(b"=?utf-8?q?a", _size(r)),
    "utf7-word": lambda r: b"=?utf-7?q?+2AA-?= x",
    "raw-8bit": lambda r: b"Ren\xe9 =?utf-8?q?M=C3=BCller?= <r@x>",
    "brackets": lambda r: _rep(b"[", _size(r)) + b"]",
    "bracket-groups": lambda r: _rep(b"[PATCH v2 1/2] ", _size(r)),
    "re-run": lambda r: _rep(b"Re: ", _size(r)),
    "counter": lambda r: b"[PATCH %d/%d] x" % (r.randint(0, 10**6), r.randint(0, 10**7)),
    "ids": _ids,
    "long-ids": lambda r: b" ".join(b"<r%d@x>" % i for i in range(max(1, _size(r) // 8))),
    "long-line": lambda r: _rep(b"a", _size(r)),
    "control": lambda r: b"\x1b]0;title\x07\x1b[2J\r\x00\x85\xe2\x80\xa8x",
}
HEADER_NAMES = (b"Cc", b"To", b"Subject", b"References", b"In-Reply-To", b"List-Id", b"X-Original-From", b"Reply-To")

BODIES: dict[str, Piece] = {
    "many-lines": lambda r: _rep(b"a\n", _size(r)),
    "blank-lines": lambda r: _rep(b"\n", _size(r)) + b"x\n",
    "trailers": lambda r: b"x\n\n" + _rep(b"Signed-off-by: A <a@b>\n", _size(r)) + b"---\n",
    "trailer-continuations": lambda r: b"x\n\nSigned-off-by: A <a@b>\n" + _rep(b" c\n", _size(r)),
    "reply-trailers": lambda r: _rep(b"> q\nReviewed-by: A <a@b>\n", _size(r)),
    "wrapped-trailer": lambda r: b"Reviewed-by: A (" + _rep(b"\n x", _size(r)) + b"\n",
    "odd-trailers": lambda r: b"".join(b"Reviewed-by: g%d: a@b.c;\n" % i for i in range(max(1, _size(r) // 24))),
    "inbody-headers": lambda r: b"From: " + _encoded_word(r) + b" <" + _rep(b"a@", _size(r) // 8) + b"\n" + _rep(b" x\n", _size(r)),
    "diff-files": lambda r: b"x\n---\n" + _rep(b"diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n", _size(r)),
    "diff-traditional": lambda r: b"x\n---\n" + _rep(b"--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n-a\n+b\n", _size(r)),
    "diff-renames": lambda r: b"x\n---\n" + _rep(b"diff --git a/f b/g\nsimilarity index 90%\nrename from f\nrename to g\n", _size(r)),
    "diff-quoted-paths": lambda r: b'x\n---\ndiff --git "a/\\377\\300" "b/\\377\\300"\n--- "a/\\377\\300"\n+++ "b/\\377\\300"\n@@ -1 +1 @@\n-a\n+b\n',
    "dashes": lambda r: _rep(b"---\n", _size(r)),
    "nul": lambda r: _rep(b"\0", _size(r)),
}


def _multipart(rng: random.Random) -> tuple[bytes, bytes]:
    """(Content-Type value, body) of a hostile MIME structure."""
    kind = rng.randrange(5)
    n = max(1, _size(rng) // 60)
    if kind == 0:  # deep nesting, closed
        body = b"--z0\nContent-Type: multipart/mixed; boundary=z1\n\n"
        body += b"".join(b"--z%d\nContent-Type: multipart/mixed; boundary=z%d\n\n" % (i, i + 1) for i in range(1, n))
        body += b"--z%d\n\nhi\n" % n + b"".join(b"--z%d--\n" % i for i in range(n, -1, -1))
        return b"multipart/mixed; boundary=z0", body
    if kind == 1:  # deep nesting, never closed
        return b"multipart/mixed; boundary=z0", b"".join(
            b"--z%d\nContent-Type: multipart/mixed; boundary=z%d\n\n" % (i, i + 1) for i in range(n)
        )
    if kind == 2:  # forwarded mails inside forwarded mails
        return b"message/rfc822", _rep(b"Content-Type: message/rfc822\n\n", n * 30) + b"hi\n"
    if kind == 3:  # many parts, maybe unclosed, with odd charsets
        part = b"--zz\nContent-Type: text/plain; charset=%s\nContent-Transfer-Encoding: %s\n\n%s\n" % (
            rng.choice(_CHARSETS), rng.choice((b"base64", b"quoted-printable", b"8bit", b"x-uue")),
            rng.choice((b"+2AA-", b"YW!c", b"=C3=A9", b"\xff\xfe\x00")),
        )
        return b"multipart/mixed; boundary=zz", part * n + rng.choice((b"--zz--\n", b""))
    return b"multipart/mixed; boundary=zz", _rep(b"--zz\n", n * 30) + b"--zz--\n"


# --- mutations --------------------------------------------------------------------------


@attrs.frozen
class Mutated:
    data: bytes
    how: str
    keeps_identity: bool
    """Whether the Message-ID, Date and From lines are untouched: then the record must
    keep the original's msgid, date and sender."""


_IDENTITY = (b"message-id:", b"date:", b"from:")


def _header_lines(mail: bytes) -> tuple[int, list[int]]:
    """End of the header block, and the offsets of header lines that start a header
    (not a continuation): places where a whole header line may be inserted."""
    end = mail.find(b"\n\n")
    end = len(mail) if end < 0 else end + 1
    starts = [0] + [m.end() for m in re.finditer(rb"\n", mail[: end - 1])]
    return end, [s for s in starts if mail[s : s + 1] not in (b" ", b"\t")]


def mutate(mail: bytes, rng: random.Random, donors: Sequence[bytes]) -> Mutated:
    """One random mutation of ``mail`` (``donors``: other mails to splice from)."""
    how = rng.randrange(12)
    end, starts = _header_lines(mail)
    if how == 0:  # flip bytes
        data = bytearray(mail)
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        return Mutated(bytes(data), "flip", False)
    if how == 1:  # insert random or repeated bytes
        at = rng.randint(0, len(mail))
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        return Mutated(mail[:at] + junk * rng.choice((1, 1, 100, 10000)) + mail[at:], "insert", False)
    if how == 2:  # delete a range
        at = rng.randint(0, len(mail))
        return Mutated(mail[:at] + mail[at + rng.randint(1, 4096) :], "delete", False)
    if how == 3:  # truncate
        return Mutated(mail[: rng.randint(0, len(mail))], "truncate", False)
    if how == 4:  # splice with another mail
        other = rng.choice(donors)
        return Mutated(mail[: rng.randint(0, len(mail))] + other[rng.randint(0, len(other)) :], "splice", False)
    if how == 5:  # duplicate a header line, many times
        start = rng.choice(starts)
        stop = mail.find(b"\n", start) + 1 or end
        line = mail[start:stop]
        at = rng.choice(starts[starts.index(start) + 1 :] or [end])
        return Mutated(mail[:at] + line * rng.choice((1, 2, 50, 5000)) + mail[at:], "duplicate-header", True)
    if how in (6, 7):  # a hostile header line inserted
        name = rng.choice(HEADER_NAMES)
        shape = rng.choice(sorted(HEADER_VALUES))
        value = HEADER_VALUES[shape](rng)
        if rng.random() < 0.3:  # folded
            value = value[: len(value) // 2] + b"\n " + value[len(value) // 2 :]
        at = rng.choice(starts + [end])
        return Mutated(mail[:at] + name + b": " + value + b"\n" + mail[at:], f"header:{shape}", True)
    if how == 8:  # odd charset and transfer encoding for the body
        line = b"Content-Type: text/plain; charset=%s\nContent-Transfer-Encoding: %s\n" % (
            rng.choice(_CHARSETS), rng.choice((b"base64", b"quoted-printable", b"8bit", b"7bit", b"x-uue")),
        )
        return Mutated(line + mail, "charset", True)
    if how == 9:  # a hostile MIME structure for a body
        ctype, body = _multipart(rng)
        return Mutated(b"Content-Type: " + ctype + b"\n" + mail[:end] + b"\n" + body, "mime", True)
    if how == 10:  # a hostile body
        shape = rng.choice(sorted(BODIES))
        return Mutated(mail[:end] + b"\n" + BODIES[shape](rng) + mail[end:], f"body:{shape}", True)
    if rng.random() < 0.5:  # CRLF, or a base64 body
        return Mutated(mail.replace(b"\n", b"\r\n"), "crlf", True)
    body = base64.encodebytes(mail[end:]) if rng.random() < 0.5 else base64.b64encode(mail[end:])[:-3]
    return Mutated(b"Content-Transfer-Encoding: base64\n" + mail[:end] + b"\n" + body, "base64", True)


# --- checks -----------------------------------------------------------------------------


def strings(value: Any) -> Iterator[str]:
    """Every str inside a record: fields of attrs records, tuples, and a Message's
    body and diff."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from strings(item)
    elif isinstance(value, Message):
        yield value.body
        yield from strings(value.diff)
        for field in attrs.fields(Message):
            if field.name != "_body":
                yield from strings(getattr(value, field.name))
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from strings(getattr(value, field.name))


def problems_with(m: Message, original: Message | None, keeps_identity: bool) -> list[str]:
    """What is wrong with the record of a mutated mail (empty: nothing)."""
    found = [p for p in m.problems if p.startswith("unparsable:")]
    try:
        json.dumps(m.to_dict(), ensure_ascii=False).encode("utf-8")
    except Exception as exc:  # noqa: BLE001 - a finding, not an error of the test
        found.append(f"json:{type(exc).__name__}")
    for text in strings(m):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            found.append(f"not-utf8:{text[:40]!r}")
            break
    try:
        if _codec.decode(_codec.encode(m)) != m:
            found.append("codec-differs")
    except Exception as exc:  # noqa: BLE001
        found.append(f"codec:{type(exc).__name__}")
    if keeps_identity and original is not None:
        for name in ("msgid", "date", "sender"):
            if getattr(m, name) != getattr(original, name):
                found.append(f"lost-{name}")
    return found


class _GcClock:
    """CPU seconds the garbage collector has spent in this process, counted by its
    callbacks: a collection that starts during a parse walks everything the harness
    holds (the mails, the records kept to compare with), which is not the parse's cost."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.spent += time.process_time() - self._start


_GC = _GcClock()


def parse_timed(data: bytes) -> tuple[Message | None, float, str | None]:
    """(record, CPU seconds, escaped exception) of one parse; the seconds leave out
    the garbage collector's pauses (see :class:`_GcClock`)."""
    registered = _GC in gc.callbacks
    if not registered:
        gc.callbacks.append(_GC)
    paused = _GC.spent
    start = time.process_time()
    try:
        m = parse_message(data)
    except Exception as exc:  # noqa: BLE001 - the point: nothing may escape
        return None, time.process_time() - start - (_GC.spent - paused), f"raised:{type(exc).__name__}"
    finally:
        if not registered:
            gc.callbacks.remove(_GC)
    return m, time.process_time() - start - (_GC.spent - paused), None


@attrs.define
class Outcome:
    """What a run of the fuzzer found."""

    mails: int = 0
    cpu: array = attrs.field(factory=lambda: array("d"))
    failures: list[tuple[str, str, bytes]] = attrs.field(factory=list)
    """(mutation, what failed, input) of the first failures."""
    slowest: list[tuple[float, int, str, bytes]] = attrs.field(factory=list)
    """A heap of (CPU seconds, size, mutation, input) of the slowest mails."""
    over: int = 0
    """Mails of at most 1 MB that took more than 100 ms of CPU."""

    def merge(self, other: Outcome, keep: int) -> None:
        self.mails += other.mails
        self.cpu.extend(other.cpu)
        self.failures += other.failures[: max(0, 100 - len(self.failures))]
        self.over += other.over
        for item in other.slowest:
            _keep_slowest(self.slowest, item, keep)


def _keep_slowest(heap: list[tuple[float, int, str, bytes]], item: tuple[float, int, str, bytes], keep: int) -> None:
    if len(heap) < keep:
        heapq.heappush(heap, item)
    elif item > heap[0]:
        heapq.heapreplace(heap, item)


def fuzz(mails: Sequence[bytes], count: int, seed: int, keep: int = 20) -> Outcome:
    """Parse ``count`` mutations of ``mails`` (chosen and mutated from ``seed``)."""
    rng = random.Random(seed)
    originals: dict[int, Message | None] = {}
    out = Outcome()
    gc.callbacks.append(_GC)  # for the whole run: parse_timed leaves it in place
    for data in mails[:3]:  # a process pays its imports and first compiles once: not a mail's cost
        parse_message(mutate(data, random.Random(0), mails).data)
    for _ in range(count):
        k = rng.randrange(len(mails))
        if k not in originals:
            originals[k] = parse_timed(mails[k])[0]
        mutated = mutate(mails[k], rng, mails)
        m, cpu, escaped = parse_timed(mutated.data)
        out.mails += 1
        out.cpu.append(cpu)
        if cpu > 0.1 and len(mutated.data) <= 1 << 20:
            out.over += 1
        _keep_slowest(out.slowest, (cpu, len(mutated.data), mutated.how, mutated.data), keep)
        found = [escaped] if escaped else problems_with(m, originals[k], mutated.keeps_identity)  # type: ignore[arg-type]
        if found and len(out.failures) < 100:
            out.failures.append((mutated.how, ", ".join(found), mutated.data))
    gc.callbacks.remove(_GC)
    return out


# --- the campaign -----------------------------------------------------------------------


def read_mails(paths: Sequence[str], limit: int | None = None) -> list[bytes]:
    """The mails of public-inbox epochs (git repositories), each blob once."""
    found: list[bytes] = []
    seen: set[str] = set()
    for path in paths:
        repo = pygit2.Repository(path)
        for commit in repo.walk(repo.head.target):
            if "m" in commit.tree:
                blob = commit.tree["m"]
                if str(blob.id) not in seen:
                    seen.add(str(blob.id))
                    found.append(blob.data)
    if limit is not None and len(found) > limit:
        found = random.Random(0).sample(found, limit)
    return found


_MAILS: list[bytes] = []


def _chunk(args: tuple[int, int, int]) -> Outcome:
    seed, count, keep = args
    return fuzz(_MAILS, count, seed, keep)


def campaign(mails: list[bytes], total: int, seed: int, workers: int, keep: int = 20, chunk: int = 2000) -> Outcome:
    """``total`` mutated mails in chunks of ``chunk``, on ``workers`` processes."""
    global _MAILS
    _MAILS = mails
    gc.collect()
    gc.freeze()  # the mails are never garbage: collections (and forked workers) leave them alone
    tasks = [(seed * 1_000_003 + i, min(chunk, total - i * chunk), keep) for i in range((total + chunk - 1) // chunk)]
    out = Outcome()
    done = 0
    started = time.monotonic()
    if workers <= 1:
        results: Iterator[Outcome] = map(_chunk, tasks)
    else:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap_unordered(_chunk, tasks)
    try:
        for result in results:
            out.merge(result, keep)
            done += result.mails
            if done % (chunk * 50) < chunk:
                print(f"{done:,} mails, {time.monotonic() - started:.0f} s: {summary(out)}", file=sys.stderr, flush=True)
    finally:
        gc.unfreeze()
    return out


def alone(data: bytes, runs: int = 3) -> float:
    """Least CPU seconds of ``runs`` parses of ``data``, collected before each and the
    collector paused: what the mail costs with nothing else in the process's way."""
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.process_time()
            parse_message(data)
            best = min(best, time.process_time() - start)
        finally:
            gc.enable()
    return best


def summary(out: Outcome) -> str:
    """The figures so far, in one line."""
    ms = sorted(c * 1000 for c in out.cpu)
    return (f"failures {len(out.failures)}, p50 {percentile(ms, 0.5, True):.2f} ms, p99 {percentile(ms, 0.99, True):.2f} ms, "
            f"max {ms[-1] if ms else 0:.1f} ms, over 100 ms (<= 1 MB) {out.over}")


def percentile(values: Sequence[float], q: float, ordered: bool = False) -> float:
    if not ordered:
        values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("archives", nargs="+", help="public-inbox epochs (git repositories) to take mails from")
    parser.add_argument("--mails", type=int, default=10_000, help="mutated mails to parse")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sample", type=int, default=None, help="take this many mails of the archives")
    parser.add_argument("--slowest", type=Path, default=None, help="directory for the slowest and failing inputs")
    parser.add_argument("--keep", type=int, default=20, help="slowest inputs kept")
    args = parser.parse_args(argv)
    mails = read_mails(args.archives, args.sample)
    print(f"{len(mails):,} mails read from {len(args.archives)} archives", file=sys.stderr)
    out = campaign(mails, args.mails, args.seed, args.workers, args.keep)
    ms = [c * 1000 for c in out.cpu]
    print(f"mails {out.mails:,}  failures {len(out.failures)}  over 100 ms (<= 1 MB) {out.over}")
    print(f"CPU per mail: p50 {percentile(ms, 0.5):.2f} ms  p99 {percentile(ms, 0.99):.2f} ms  max {max(ms):.1f} ms")
    for how, what, data in out.failures[:20]:
        print(f"FAIL {how}: {what} ({len(data)} bytes)")
    slowest = sorted(out.slowest, reverse=True)
    for cpu, size, how, data in slowest:
        print(f"slow {cpu * 1000:8.1f} ms, alone {alone(data) * 1000:8.1f} ms {size:>9,} bytes  {how}")
    if args.slowest is not None:
        args.slowest.mkdir(parents=True, exist_ok=True)
        for i, (cpu, size, how, data) in enumerate(slowest):
            (args.slowest / f"slow-{i:02d}-{cpu * 1000:.0f}ms-{how.replace(':', '-')}.eml").write_bytes(data)
        for i, (how, what, data) in enumerate(out.failures):
            (args.slowest / f"fail-{i:02d}-{how.replace(':', '-')}.eml").write_bytes(data)
    return 1 if out.failures else 0


if __name__ == "__main__":
    sys.exit(main())
