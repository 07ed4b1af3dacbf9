"""The ``patchtrack`` command: a thin shell over the library.

Exit codes: 0 success (mails that could not be read are counted in a ``note:``
line); 2 a usage or caller error (bad path, unknown revision, reversed range,
malformed cursor), reported as one line on stderr; 1 a real failure — a damaged
archive (an epoch or a stretch of history that cannot be read: what could be read
is written first, then one ``error:`` line per problem) or an I/O error; 130
interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import os
import re
import shlex
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NoReturn, TextIO

import attrs

from . import __version__
from ._escape import safe_line, safe_lines
from ._dates import parse_bound
from ._engine._load import load
from .archive import Coverage, Ref, Walk, discover
from .builder import build_inbox
from .cache import Cache, default_cache_path
from .store import IngestStats
from .demo import build_demo_inbox
from .errors import DamagedArchiveError, InboxError, PatchtrackError
from .identity import DomainMap, Mailmap, Person
from .inbox import BY, Inbox, open_inbox, within_dates
from .lists import Archive, open_archive
from .mbox import LINK_MASK, added_trailer_origins, am_marker, am_name, is_mailbox, read_mails
from .message import UNREADABLE, Message
from .revisions import strangers
from .series import Series, format_counters
from .upstream import Upstream, track

__all__ = ["main", "tuned_process"]

PROG = "patchtrack"


class _UsageError(Exception):
    """A mistake in the command line that argparse cannot see."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its mistakes said in one line (``patchtrack: error: report:
    argument --top: …``) instead of the usage block and the error; ``--help`` still
    prints the whole help."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        where = f"{command}: " if command else ""
        text = " ".join(message.split())
        self.exit(2, f"{PROG}: error: {where}{text} (see '{self.prog} --help')\n")


class _Incomplete(Exception):
    """The output is written, and what could not be read has been said on stderr."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parse(_parser(), argv)
    with tuned_process(), contextlib.ExitStack() as scratch:
        args.scratch = scratch  # what the command builds for its own use, removed at its end
        try:
            return int(args.run(args, sys.stdout) or 0)
        except _Incomplete:
            return 1
        except DamagedArchiveError as exc:
            print(f"{PROG}: error: {safe_line(str(exc))}", file=sys.stderr)
            return 1
        except (PatchtrackError, _UsageError) as exc:  # messages may quote mail (a Message-ID)
            print(f"{PROG}: error: {safe_line(str(exc))}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            # the store writes parsed mail as a load ends, however it ends: what was parsed is kept
            print(f"{PROG}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, as git does.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        except OSError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 1


@contextlib.contextmanager
def tuned_process() -> Iterator[None]:
    """The process-wide settings the command runs under, restored on exit.

    They are the process owner's choice, so the library never makes them; a script
    or notebook that owns its process can run its work under this to get the
    command's speed (the benchmarks do). The collector lets the young generation
    grow before rescanning it: an archive loads as hundreds of thousands of
    long-lived records and no cycles (a warm report of linux-pwm runs 20 % faster).
    """
    threshold = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Read public-inbox archives of kernel-style mailing lists.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inbox_opts = _Parser(add_help=False)
    inbox_opts.add_argument(
        "inbox", metavar="INBOX",
        help="v2 inbox directory, epoch or v1 repository; a mirror of many lists (grokmirror's <list>/git/N.git, "
        "<list>.N.git clones); or a mailbox",
    )
    inbox_opts.add_argument(
        "--also", metavar="PATH", action="append", default=[],
        help="another list's archive, read with INBOX as one archive (repeat for more)",
    )
    inbox_opts.add_argument(
        "--list", metavar="NAME", dest="lists", action="append",
        help="of a mirror: only this list's mail (repeat for more); replies on the other lists still count "
        "for review state",
    )
    inbox_opts.add_argument(
        "--cache", metavar="FILE",
        help=f"the store of parsed mail (default: {_shown(default_cache_path())})",
    )
    inbox_opts.add_argument("--no-cache", action="store_true", help="parse everything, store nothing")
    inbox_opts.add_argument(
        "--workers", type=int, metavar="N",
        help="parsing processes, at most one per usable core (default: one per core; 1: no pool)",
    )

    range_opts = _Parser(add_help=False)
    range_opts.add_argument(
        "range", metavar="RANGE", nargs="?", help="git range: A..B, A.., ..B, X or X^! (default: all)"
    )
    range_opts.add_argument(
        "--since", metavar="DATE",
        help="at or after DATE (2025-01-15, 2025-01, ISO, @SECONDS, yesterday, '2 weeks ago', 1.week.ago, 'last week')",
    )
    range_opts.add_argument("--until", metavar="DATE", help="at or before DATE (a day or month means all of it)")
    range_opts.add_argument(
        "--by", choices=BY, default="arrival",
        help="what --since/--until compare: the mail's arrival in the archive (default) or its Date: header",
    )
    range_opts.add_argument(
        "--after-tips", metavar="FILE", help="only mail that arrived after the cursor saved in FILE ('patchtrack tips')"
    )
    range_opts.add_argument(
        "--update-tips", action="store_true",
        help="with --after-tips: once the output is written, save in FILE the tips this run read up to "
        "(atomically); a missing FILE is a first run: everything is read",
    )

    identity_opts = _Parser(add_help=False)
    identity_opts.add_argument("--mailmap", metavar="FILE", help="merge identities with a git .mailmap file")
    identity_opts.add_argument(
        "--domain-map", metavar="FILE", help="domain → organisation, gitdm EmailMap format"
    )

    messages = sub.add_parser(
        "messages", parents=[inbox_opts, range_opts, identity_opts], help="list the stored messages of a range",
        description="List the stored messages of a range, oldest first, one record each.",
    )
    messages.add_argument(
        "--format", choices=("jsonl", "json", "text"),
        help="default: text (one line a mail) on a terminal, jsonl when piped or redirected, for scripts",
    )
    messages.add_argument(
        "--raw", action="store_true", help="storage fields only (oid, commit, epoch, time, size, deleted): no parsing"
    )
    messages.add_argument(
        "--no-dedupe", action="store_true", help="yield a blob delivered twice twice (default: once)"
    )
    messages.set_defaults(run=_cmd_messages)

    series = sub.add_parser(
        "series", parents=[inbox_opts, range_opts, identity_opts], help="list the patch series with mail in a range",
        description="List the patch series with mail in a range, assembled from the whole "
        "archive (later patches, replies, earlier revisions), ordered by first post.",
    )
    series.add_argument("--format", choices=("jsonl", "json", "text"), default="text")
    series.set_defaults(run=_cmd_series)

    report = sub.add_parser(
        "report", parents=[inbox_opts, range_opts, identity_opts], help="the mailing list update report for a range",
        description="The mailing list update for a range: top contributor domains and "
        "contributors, the series posted with their status and review state, their "
        "commit messages and diffstats.",
    )
    report.add_argument("--top", type=int, default=15, metavar="N", help="rows in each ranking (default 15)")
    report.add_argument("--format", choices=("text", "markdown", "html", "json"), default="text")
    report.add_argument("--bots", action="store_true", help="count robots (test robot, syzbot…) in the rankings")
    report.add_argument("--upstream", metavar="REPO", help="mark each series applied or not in this git repository")
    report.add_argument("--upstream-range", metavar="R", help="upstream commits to index (git range; default: HEAD)")
    report.set_defaults(run=_cmd_report)

    am = sub.add_parser(
        "am", parents=[inbox_opts], help="write a series as an mbox for git am",
        description="Write a patch series as an mbox 'git am' applies: its newest revision "
        "(unless --this), patches in order, with the review trailers replies gave them.",
    )
    am.add_argument(
        "series", metavar="SERIES_OR_MSGID",
        help="the Message-ID of any of its mails (<> optional), a lore URL naming one "
        "(https://lore.kernel.org/LIST/MSGID/, …/T/, …/raw), or a series id (6 characters or more)",
    )
    am.add_argument(
        "-o", "--output", metavar="FILE",
        help="where to write the mbox ('-': stdout; a directory: b4's name in it; "
        "default: b4's name, v2_20250101_author_title.mbx, here)",
    )
    am.add_argument("--this", action="store_true", help="this revision, not the newest")
    am.add_argument(
        "--other-author", action="store_true",
        help="write the newest revision even when somebody else posted it (default: refuse, exit 2)",
    )
    am.add_argument("--cover", action="store_true", help="put the cover letter first (apply with git am --empty=drop)")
    am.add_argument("--no-followups", action="store_true", help="the patches as posted, no trailers added")
    am.add_argument(
        "-l", "--link", nargs="?", const=True, default=False, metavar="MASK",
        help="add a Link: trailer (default mask: https://patch.msgid.link/%%s)",
    )
    am.set_defaults(run=_cmd_am)

    trk = sub.add_parser(
        "track", parents=[inbox_opts, range_opts], help="which series of a range landed upstream",
        description="Match the patches of the series with mail in a range to the commits of an "
        "upstream git repository (by Link:/Message-ID: trailer, patch-id, or title, author and "
        "similar lines): applied, partly applied, not applied, or applied as a later revision.",
    )
    trk.add_argument("--upstream", metavar="REPO", required=True, help="the project's git repository")
    trk.add_argument("--upstream-range", metavar="R", help="upstream commits to index (git range; default: HEAD)")
    trk.add_argument("--format", choices=("text", "json"), default="text")
    trk.set_defaults(run=_cmd_track)

    tips = sub.add_parser(
        "tips", help="print the archive's per-epoch tips (a cursor for --after-tips)",
        description="Print the current tip of every epoch as JSON; save it and pass it to "
        "--after-tips later to read only new mail.",
    )
    tips.add_argument("inbox", metavar="INBOX")
    tips.add_argument("--also", metavar="PATH", action="append", default=[], help="another list's archive")
    tips.add_argument("--list", metavar="NAME", dest="lists", action="append", help="of a mirror: only this list")
    tips.set_defaults(run=_cmd_tips)

    build = sub.add_parser(
        "build-inbox", help="write a v2 (or v1) archive from a folder of mails",
        description="Write a public-inbox archive from a folder of mails, in file-name order.",
    )
    build.add_argument("mails", metavar="MAILDIR", help="folder of mail files (*.eml), read in name order")
    build.add_argument("dest", metavar="DEST", help="where to create the archive")
    build.add_argument("--v1", action="store_true", help="write the legacy v1 (ssoma) layout")
    build.add_argument("--epoch-size", type=int, metavar="N", help="start a new epoch every N commits")
    build.add_argument("--duplicate", action="append", default=[], metavar="MSGID", help="deliver this mail twice")
    build.add_argument("--remove", action="append", default=[], metavar="MSGID", help="add a removal (d) commit")
    build.add_argument("--purge", action="append", default=[], metavar="MSGID", help="purge from history (rewrite)")
    build.set_defaults(run=_cmd_build)

    demo = sub.add_parser(
        "demo", help="the mailing list update report of a bundled demo archive",
        description="Build a demo archive from the mails bundled with patchtrack (two "
        "epochs), print its mailing list update report, and say what to try next. Needs "
        "no path and no network; the archive is removed afterwards unless --keep DIR.",
    )
    demo.add_argument("--keep", metavar="DIR", help="build the archive in DIR (new or empty) and keep it")
    demo.add_argument("--format", choices=("text", "markdown", "html", "json"), default="text")
    demo.set_defaults(run=_cmd_demo)
    ingest = sub.add_parser(
        "ingest", parents=[inbox_opts], help="read new mail into the store (for sql and export)",
        description="Read every list's mail that arrived since the last ingest into the store: parsed "
        "mail, its deliveries, each list's cursor, and the series of the whole archive. The first run reads "
        "everything; a killed run goes on from its last window.",
    )
    ingest.add_argument(
        "--dask", metavar="ADDRESS",
        help="parse on a Dask cluster (its scheduler's address; workers must see the archive at the same path)",
    )
    ingest.set_defaults(run=_cmd_ingest)

    sql = sub.add_parser(
        "sql", parents=[inbox_opts], help="one SQL query over the archive's views (DuckDB)",
        description="Ingest new mail, then run one SELECT over the store's views: messages, deliveries, "
        "mail_trailers, files, addresses, series, patches, trailers, reviews (docs/store.md).",
    )
    sql.add_argument("query", metavar="QUERY", help="one SELECT statement")
    sql.add_argument("--format", choices=("text", "csv", "jsonl"), help="default: text on a terminal, else csv")
    sql.add_argument("--no-ingest", action="store_true", help="query the store as it is")
    sql.set_defaults(run=_cmd_sql)

    export = sub.add_parser(
        "export", parents=[inbox_opts], help="write the archive's views as Parquet",
        description="Ingest new mail, then write every view of the store as Parquet under DIR, "
        "partitioned by list and year (DIR/<view>/list=<name>/year=<YYYY>/): Spark, DuckDB, pandas "
        "and Arrow read each view's folder as one table.",
    )
    export.add_argument("--parquet", metavar="DIR", required=True, help="the folder to write (views in it are replaced)")
    export.add_argument("--no-ingest", action="store_true", help="export the store as it is")
    export.set_defaults(run=_cmd_export)

    cache = sub.add_parser(
        "cache", help="what the store holds; prune or clear it",
        description="info: the store file, its size, its messages, deliveries, series, archive "
        "assemblies and upstream indexes. prune: drop the messages whose mail is in none of the "
        "archives named (when any is), and the archive assemblies stored more than --older-than days "
        "ago (they are rebuilt from the stored messages when needed); the store reuses the space. "
        "clear: drop everything and give the space back. A message never goes stale by itself: a "
        "mail never changes, and a new patchtrack version starts the parsed tables afresh.",
    )
    cache.add_argument("action", choices=("info", "prune", "clear"))
    cache.add_argument("inboxes", metavar="INBOX", nargs="*", help="prune: the archives whose mail is kept")
    cache.add_argument(
        "--cache", metavar="FILE", help=f"the store (default: {_shown(default_cache_path())})"
    )
    cache.add_argument(
        "--older-than", type=float, default=30, metavar="DAYS",
        help="prune: drop archive assemblies stored more than DAYS ago (default 30)",
    )
    cache.set_defaults(run=_cmd_cache)
    for command in sub.choices.values():
        command.set_defaults(command_parser=command)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, with a command's options and positionals in any order:
    ``report INBOX --format html A..B`` as well as ``report --format html INBOX A..B``.

    argparse's plain parse hands an optional positional (RANGE) over as empty when an
    option stands between it and INBOX, and its intermixed parse refuses subcommands;
    so the command is found first, and its own parser reads the words after it."""
    words = list(sys.argv[1:] if argv is None else argv)
    first, _ = parser.parse_known_args(words)
    args = first.command_parser.parse_intermixed_args(words[words.index(first.command) + 1 :])
    args.command = first.command
    return args


def _cmd_messages(args: argparse.Namespace, out: TextIO) -> int:
    on_date = args.by == "date" and (args.since or args.until)
    if on_date and args.raw:
        raise _UsageError("--by date reads each mail's Date: header, which --raw does not parse (use --by arrival)")
    lo_hi = _date_window(args) if on_date else None
    inbox = _open(args)
    after = _after(args)
    if isinstance(inbox, Archive):
        return _archive_messages(args, inbox, after, out)
    window = {} if on_date else {"since": args.since, "until": args.until}
    walk = inbox.walk(args.range, after=after, dedupe=not args.no_dedupe, **window)
    mailmap, domain_map = _identities(args)
    if args.raw:
        rows = (_raw_row(ref) for ref in walk.refs())
    else:
        pairs = load(walk.refs(), cache=inbox.cache, workers=inbox.workers, removals=True)
        if lo_hi is not None:
            pairs = ((ref, m) for ref, m in pairs if any(within_dates((m,), *lo_hi)))
        rows = (_message_row(_raw_row(ref), m, mailmap, domain_map) for ref, m in pairs)
    fmt = args.format or ("text" if out.isatty() else "jsonl")
    _write_rows(rows, fmt, out, parsed=not args.raw)
    _report_walk(walk)
    _update_tips(args, walk.coverage, out)
    _report_cache(inbox)
    return 0


def _oids(message: Message) -> set[str]:
    """The blobs of a message: every delivery's (of many lists), else its own."""
    return {d.oid for d in message.deliveries} or {message.oid}


def _lists(inbox: Inbox | Archive, args: argparse.Namespace) -> dict[str, Any]:
    """``lists=`` for a call on an archive of many lists (``--list``)."""
    return {"lists": args.lists} if isinstance(inbox, Archive) else {}


def _archive_messages(args: argparse.Namespace, archive: Archive, after: Any, out: TextIO) -> int:
    """``messages`` of many lists: ``--raw`` gives every delivery (with its
    ``list``); otherwise each distinct mail once, the storage fields its first
    delivery's, with ``lists`` and every ``deliveries``."""
    mailmap, domain_map = _identities(args)
    fmt = args.format or ("text" if out.isatty() else "jsonl")
    if args.raw:
        walk = archive.walk(args.range, since=args.since, until=args.until, after=after, lists=args.lists)
        rows: Iterable[dict[str, Any]] = ({**_raw_row(ref), "list": name} for name, ref in walk.refs())
        _write_rows(rows, fmt, out, parsed=False)
        for one in walk.walks.values():
            _report_walk(one)
    else:
        covered: list[Coverage] = []
        found = archive.messages(
            args.range, since=args.since, until=args.until, after=after, by=args.by, lists=args.lists,
            coverage=covered.append,
        )
        rows = (_delivered_row(m, mailmap, domain_map) for m in found)
        _write_rows(rows, fmt, out)
        _update_tips(args, covered[0], out)
    _report_cache(archive)
    return 0


def _delivered_row(message: Message, mailmap: Mailmap | None, domain_map: DomainMap | None) -> dict[str, Any]:
    """A mail of many lists: its first delivery's storage fields, the parsed fields,
    its lists and every delivery."""
    first = message.deliveries[0]
    stored = {"oid": message.oid, "commit": first.commit, "epoch": first.epoch,
              "time": first.time.isoformat(), "list": first.list}
    row = _message_row(stored, message, mailmap, domain_map)
    row["lists"] = list(message.lists)
    row["deliveries"] = [d.to_dict() for d in message.deliveries]
    return row


def _date_window(args: argparse.Namespace) -> tuple[float | None, float | None]:
    """``--since``/``--until`` as POSIX seconds, read as the library reads them."""
    try:
        lo = parse_bound(args.since, upper=False) if args.since else None
        hi = parse_bound(args.until, upper=True) if args.until else None
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    if lo is not None and hi is not None and lo > hi:
        raise _UsageError(f"reversed dates: since {args.since} is after until {args.until}")
    return lo, hi


def _open(args: argparse.Namespace) -> Inbox | Archive:
    """The inbox named on the command line, with its cache (on by default). Its
    ``--workers`` is capped at the usable cores by the library."""
    if args.workers is not None and args.workers < 1:
        raise _UsageError(f"--workers must be at least 1, not {args.workers}")
    cache = None if args.no_cache else Cache(args.cache or default_cache_path())
    return _open_input(args, cache)


def _open_input(args: argparse.Namespace, cache: Cache | None) -> Inbox | Archive:
    """The archive INBOX names — or, when it names mail (an mbox, ``.gz`` too, a
    maildir, a ``lei q`` result, a folder of ``*.patch``/``*.eml`` files), an archive
    built from it in a scratch directory that lives as long as the command: so every
    verb reads a mailbox the way it reads an archive. Its blobs are the mails' bytes,
    so a second run on the same mailbox is served from the cache."""
    if not is_mailbox(args.inbox) or _mirror(args.inbox):
        return _open_archive(args, cache)
    for given, what in ((getattr(args, "range", None), "a range"), (getattr(args, "after_tips", None), "--after-tips")):
        if given:
            raise _UsageError(
                f"{args.inbox}: a mailbox, not an archive: it has no commits for {what} ({given}); "
                "--since/--until select its mail by date"
            )
    scratch = getattr(args, "scratch", None) or contextlib.ExitStack()
    args.scratch = scratch
    args.from_mailbox = True
    where = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="patchtrack-mailbox-")))
    name = Path(args.inbox).name.split(".")[0] or "mailbox"
    with _stage("reading", Path(args.inbox).name):
        mails = list(read_mails(args.inbox))
        if not mails:
            raise _UsageError(
                f"{args.inbox}: no mail: neither a public-inbox archive nor a mailbox holding mail "
                "(an mbox, a maildir, *.eml or *.patch files)"
            )
        built = build_inbox(mails, where / name)
    return open_inbox(built, cache=cache, workers=args.workers)


def _mirror(path: str) -> bool:
    """Whether the folder ``path`` (no archive itself) holds the archives of lists:
    a mirror, not a mailbox."""
    try:
        return Path(path).is_dir() and bool(discover(path))
    except PatchtrackError:
        return False


def _open_archive(args: argparse.Namespace, cache: Cache | None) -> Inbox | Archive:
    """One archive as an :class:`Inbox`; a mirror of many lists, several paths
    (``--also``) or a ``--list`` choice as an :class:`Archive`."""
    if not args.also and not args.lists:
        try:
            return open_inbox(args.inbox, cache=cache, workers=args.workers)
        except InboxError as exc:
            try:
                archive = open_archive(args.inbox, cache=cache, workers=args.workers)
            except InboxError:
                raise exc from None
    else:
        where = [args.inbox, *args.also] if args.also else args.inbox  # one path: an inbox or a mirror
        archive = open_archive(where, cache=cache, workers=args.workers)
    archive.select(lists=args.lists)  # an unknown --list is one line now, before any work
    return archive


def _identities(args: argparse.Namespace) -> tuple[Mailmap | None, DomainMap | None]:
    mailmap = Mailmap.parse(_read(args.mailmap)) if args.mailmap else None
    domain_map = DomainMap.parse(_read(args.domain_map)) if args.domain_map else None
    return mailmap, domain_map


def _shown(path: os.PathLike[str]) -> str:
    home = os.path.expanduser("~")
    text = os.fspath(path)
    return "~" + text[len(home):] if home != "/" and text.startswith(home + os.sep) else text


def _cmd_tips(args: argparse.Namespace, out: TextIO) -> int:
    args.workers = None
    opened = _open_archive(args, None)  # a damaged epoch raises: never a cursor without it
    if isinstance(opened, Archive):
        nested = {name: {str(k): v for k, v in t.items()} for name, t in opened.tips(args.lists).items()}
        out.write(json.dumps(nested, indent=2) + "\n")
    else:
        out.write(json.dumps({str(k): v for k, v in opened.tips().items()}, indent=2) + "\n")
    return 0


def _stored_archive(args: argparse.Namespace, what: str) -> Archive:
    """The archive INBOX names, as an :class:`Archive` (one list, or many) with its
    store: what ``ingest``, ``sql`` and ``export`` read."""
    if args.no_cache:
        raise _UsageError(f"{what} reads the store: drop --no-cache")
    opened = _open(args)
    if isinstance(opened, Archive):
        if args.lists:  # only these lists: their deliveries, their series (docs/store.md)
            chosen = opened.select(lists=args.lists).lists
            return Archive({n: opened.sources[n] for n in chosen}, cache=opened.cache, workers=args.workers)
        return opened
    return open_archive(opened.path, cache=opened.cache, workers=args.workers)


def _ingested(archive: Archive, client: Any = None) -> IngestStats:
    """The archive ingested, with a progress line on a terminal."""
    with _stage("ingesting", archive.name):
        return archive.ingest(client=client) if client is not None else archive.ingest()


def _cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    archive = _stored_archive(args, "ingest")
    client = _dask_client(args.dask) if args.dask else None
    try:
        done = _ingested(archive, client)
    finally:
        if client is not None:
            client.close()
    store = archive.cache
    assert store is not None
    reread = f"; read whole again (history rewritten): {', '.join(done.reread)}" if done.reread else ""
    print(
        f"{PROG}: ingested {done.deliveries} deliveries ({done.mails} mails, {done.parsed} parsed) of "
        f"{len(archive.lists)} list{'s' if len(archive.lists) != 1 else ''}; {done.series} series; "
        f"store {_shown(store.path)}{reread}",
        file=sys.stderr,
    )
    _report_cache(archive)
    return 0


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise _UsageError("--dask needs Dask: pip install 'patchtrack[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise _UsageError(f"--dask {address}: cannot reach the scheduler ({exc})") from None


def _cmd_sql(args: argparse.Namespace, out: TextIO) -> int:
    archive = _stored_archive(args, "sql")
    if not args.no_ingest:
        _ingested(archive)
    table = archive.sql(args.query, ingest=False)
    fmt = args.format or ("text" if out.isatty() else "csv")
    names = table.column_names
    rows = table.to_pylist()
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, default=_json_value, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([_csv_value(row[n]) for n in names] for row in rows)
    else:
        cells = [[safe_line(_text_value(row[n])) for n in names] for row in rows]
        widths = [max([len(n), *(len(r[i]) for r in cells)]) for i, n in enumerate(names)]
        out.write("  ".join(n.ljust(w) for n, w in zip(names, widths)).rstrip() + "\n")
        for r in cells:
            out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
        print(f"{PROG}: {len(rows)} row{'s' if len(rows) != 1 else ''}", file=sys.stderr)
    _report_cache(archive)
    return 0


def _json_value(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return json.dumps(value, default=_json_value, ensure_ascii=False)
    return value.isoformat() if hasattr(value, "isoformat") else value


def _text_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(_text_value, value))
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    archive = _stored_archive(args, "export")
    target = Path(args.parquet)
    if target.exists() and not target.is_dir():
        raise _UsageError(f"--parquet {args.parquet}: not a folder")
    if not args.no_ingest:
        _ingested(archive)
    written = archive.to_parquet(target, ingest=False)
    shown = ", ".join(f"{name} {count}" for name, count in written.items())
    print(f"{PROG}: wrote {_shown(target)}: {shown} rows", file=sys.stderr)
    _report_cache(archive)
    return 0


def _cmd_cache(args: argparse.Namespace, out: TextIO) -> int:
    if args.inboxes and args.action != "prune":
        raise _UsageError(f"cache {args.action} takes no INBOX (only prune does)")
    if args.older_than < 0:
        raise _UsageError("--older-than must be 0 days or more")
    path = Path(args.cache).expanduser() if args.cache else default_cache_path()
    if not path.is_file():
        if args.cache and not path.parent.is_dir():
            raise _UsageError(f"{args.cache}: no such file or directory")
        out.write(f"cache: {_shown(path)}: none yet\n")
        return 0
    with Cache(path) as cache:
        if args.action == "clear":
            before = cache.info()
            cache.clear()
            print(f"{PROG}: cache cleared: {before.messages} messages, {before.assemblies} assemblies, "
                  f"{_bytes(before.size - cache.info().size)} given back", file=sys.stderr)
        elif args.action == "prune":
            keep: set[str] | None = None
            if args.inboxes:
                keep = set()
                for name in args.inboxes:
                    opened = _open_input(
                        argparse.Namespace(inbox=name, workers=1, scratch=args.scratch, also=[], lists=None), None
                    )
                    if isinstance(opened, Archive):
                        every = opened.walk()
                        keep.update(str(ref[0]) for _, ref in every.refs())
                        walks = list(every.walks.values())
                    else:
                        walks = [opened.walk()]
                        keep.update(str(ref[0]) for ref in walks[0].refs())
                    for walk in walks:
                        _raise_damage_line(walk)
            dropped = cache.prune(keep=keep, older_than=args.older_than * 86400)
            print(f"{PROG}: cache pruned: {dropped.messages} messages, {dropped.assemblies} assemblies dropped "
                  "(their space is reused; 'cache clear' gives the file's back)", file=sys.stderr)
        info = cache.info()
    when = (
        f", assemblies stored {_day(info.oldest)} to {_day(info.newest)}" if info.oldest and info.newest else ""
    )
    out.write(
        f"cache: {_shown(info.path)}\nsize: {_bytes(info.size)}\nmessages: {info.messages}\n"
        f"deliveries: {info.deliveries}\nseries: {info.series}\n"
        f"assemblies: {info.assemblies} (archive states{when})\nupstream indexes: {info.upstream}\n"
    )
    return 0


def _raise_damage_line(walk: Walk) -> None:
    """Prune only by a whole walk: an archive read in part would lose the rest's entries."""
    if walk.damage:
        raise DamagedArchiveError(f"nothing pruned: {'; '.join(map(str, walk.damage))}")


def _bytes(size: int) -> str:
    if abs(size) < 1000:
        return f"{size} bytes"
    scaled = float(size)
    for unit in ("kB", "MB", "GB"):
        scaled /= 1000
        if abs(scaled) < 1000:
            break
    return f"{scaled:.1f} {unit}"


def _day(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).date().isoformat()


def _cmd_build(args: argparse.Namespace, out: TextIO) -> int:
    if args.epoch_size is not None and args.v1:
        raise _UsageError("--epoch-size: a v1 archive has no epochs (drop --v1 or --epoch-size)")
    if args.epoch_size is not None and args.epoch_size < 1:
        raise _UsageError("--epoch-size must be at least 1")
    if os.path.exists(args.dest) and not os.path.isdir(args.dest):
        raise _UsageError(f"{args.dest}: exists and is not a directory")
    if os.path.exists(args.dest) and os.listdir(args.dest):
        raise _UsageError(f"{args.dest}: exists and is not empty")
    dest = build_inbox(
        args.mails,
        args.dest,
        layout="v1" if args.v1 else "v2",
        epoch_size=args.epoch_size,
        duplicate=args.duplicate,
        remove=args.remove,
        purge=args.purge,
    )
    inbox = open_inbox(dest)
    print(f"{PROG}: wrote {inbox.layout} inbox {dest} with {len(inbox.epochs)} epoch(s)", file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    if args.keep:
        if os.path.exists(args.keep) and (not os.path.isdir(args.keep) or os.listdir(args.keep)):
            raise _UsageError(f"{args.keep}: exists and is not an empty directory")
        return _demo(args.keep, args.format, out, kept=True)
    with tempfile.TemporaryDirectory(prefix="patchtrack-demo-") as tmp:
        return _demo(os.path.join(tmp, "linux-gizmo"), args.format, out, kept=False)


def _demo(path: str, fmt: str, out: TextIO, *, kept: bool) -> int:
    """The main job on the demo archive: its mailing list update report, then what
    to try next. A scratch archive's path is never shown (it is gone when the
    command ends): the hints name ``DIR``, the directory ``--keep`` keeps it in."""
    built = build_demo_inbox(path)
    inbox = open_inbox(built, workers=1)
    report = inbox.report()
    if fmt == "json":
        _write_json(report.to_dict(), out)
    elif fmt == "markdown":
        out.write(report.to_markdown())
    elif fmt == "html":
        out.write(report.to_html())
    else:
        out.write(report.to_text())
    where = shlex.quote(path) if kept else "DIR"
    newest = next((s for s in report.series if s.version > 1 and s.complete), None) or report.series[0]
    epochs = ", ".join(str(e.number) for e in inbox.epochs)
    hints = [] if kept else [(f"{PROG} demo --keep DIR", "keep the demo archive in DIR, then try these on it")]
    hints += [
        (f"{PROG} series {where}", "the series: status, revisions, reviews per patch"),
        (f"{PROG} messages {where}", "every mail, one line each (JSON lines when piped)"),
        (f"{PROG} am {where} {newest.msgid}", "a series' newest revision as an mbox for git am"),
        (f"{PROG} report {where} --format html > report.html", "this report as a web page"),
    ]
    lines = [
        f"{PROG}: the demo archive {inbox.name!r} ({inbox.layout}, epochs {epochs}) was built from the mails "
        "bundled with patchtrack" + (f" in {path}" if kept else " and is removed now"),
        f"{PROG}: try next:",
    ]
    for command, why in hints:
        lines += [f"    # {why}", f"    {command}"]
    print(safe_lines(lines), file=sys.stderr)
    return 0


def _cmd_series(args: argparse.Namespace, out: TextIO) -> int:
    inbox = _open(args)
    mailmap, domain_map = _identities(args)
    lost: list[Message] = []
    covered: list[Coverage] = []
    with _progress(inbox) as tick:
        found = inbox.series(
            args.range, since=args.since, until=args.until, after=_after(args), progress=tick,
            unreadable=lost.append, by=args.by, coverage=covered.append, **_lists(inbox, args),
        )
    if args.format in ("json", "jsonl"):
        rows = []
        for s in found:
            row = s.to_dict()
            row["author"] = _person_row(s.written_by, mailmap, domain_map)
            rows.append(row)
        _write_rows(rows, args.format, out)
    else:
        for s in found:
            out.write(_series_text(s, mailmap, domain_map))
    _summary(inbox, f"{len(found)} series")
    _report_lost(lost)
    _update_tips(args, covered[0], out)
    _report_cache(inbox)
    return 0


def _cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    if args.top < 1:
        raise _UsageError("--top must be at least 1")
    inbox = _open(args)
    mailmap, domain_map = _identities(args)
    with _progress(inbox) as tick:
        report = inbox.report(
            args.range,
            since=args.since,
            until=args.until,
            after=_after(args),
            top=args.top,
            mailmap=mailmap,
            domain_map=domain_map,
            include_bots=args.bots,
            upstream=Upstream.index(args.upstream, args.upstream_range, cache=inbox.cache) if args.upstream else None,
            progress=tick,
            by=args.by,
            **_lists(inbox, args),
        )
    if getattr(args, "from_mailbox", False):
        # A mailbox was built into a scratch archive that is gone when the command
        # ends: its commits name nothing the user has, so the title gives the dates only.
        report = attrs.evolve(report, coverage=None, start=None, end=None)
    if args.format == "json":
        _write_json(report.to_dict(), out)
    elif args.format == "markdown":
        out.write(report.to_markdown())
    elif args.format == "html":
        out.write(report.to_html())
    else:
        out.write(report.to_text())
    _summary(inbox, f"{report.counted} mails counted, {len(report.series)} series")
    if report.unreadable:
        print(f"{PROG}: note: {report.unreadable} mail(s) of the range could not be read (not counted)", file=sys.stderr)
    if report.coverage is not None:
        _update_tips(args, report.coverage, out)
    _report_cache(inbox)
    return 0


def _cmd_am(args: argparse.Namespace, out: TextIO) -> int:
    inbox = _open(args)
    lost: list[Message] = []
    with _progress(inbox) as tick:
        found = inbox.find(args.series, progress=tick, unreadable=lost.append)
    if found is None:
        raise _UsageError(f"{args.series}: no series has this id, Message-ID or lore URL")
    if not args.this:
        newest = inbox.newest(found)
        own = inbox.newest(found, same_author=True)
        if newest.id != own.id and not args.other_author:
            # the chain leaves the people of the series asked for at own.next: say who, write nothing
            assert own.next is not None
            stranger = inbox.find(own.next.id)
            assert stranger is not None
            by = ", ".join(repr(str(p)) for p in strangers(stranger, found)) or "an unknown author"
            what = f"v{newest.version} {newest.title!r} <{newest.msgid}>, the newest revision,"
            if stranger.id != newest.id:
                what += f" follows v{stranger.version} <{stranger.msgid}>, which"
            print(
                safe_line(
                    f"{PROG}: {what} is by {by}, not by {str(found.author or found.sender)!r} who posted "
                    f"v{found.version}: nothing written (--other-author writes it, --this writes v{found.version})"
                ),
                file=sys.stderr,
            )
            return 2
        found = newest
    output = _am_output(args.output, found)
    target = sys.stdout.buffer if output == "-" else output
    count = found.to_mbox(target, followups=not args.no_followups, link=args.link, cover=args.cover)
    mask = LINK_MASK if args.link is True else (args.link or None)
    added = 0
    lines = ["---"]
    for p in found.patches:
        lines.append(f"  {am_marker(found, p.index)} {p.message.subject.title}")
        for line, origin in added_trailer_origins(p, followups=not args.no_followups, link=mask):
            lines.append(f"    + {line}{_AM_ORIGIN.get(origin.via, '') if origin else ''}")
            added += origin is not None
    lines += ["---", f"Total patches: {count}", "---"]
    print(safe_lines(lines), file=sys.stderr)
    print(
        safe_line(
            f"{PROG}: v{found.version} {found.title!r}: {count} patch(es), {added} follow-up trailer(s) "
            f"→ {output}"
        ),
        file=sys.stderr,
    )
    if output != "-":
        print(safe_line(f"       git am {output}"), file=sys.stderr)
    _report_lost(lost)
    _report_cache(inbox)
    return 0


_AM_ORIGIN = {"carried": " (carried from an earlier revision)", "cover": " (given on the cover letter)"}
"""How ``am`` marks a trailer not given in a reply to the patch itself."""


def _am_output(given: str | None, series: Series) -> str:
    """Where ``am`` writes: ``-o FILE``, ``-`` for stdout, or b4's name for the series
    (:func:`~patchtrack.mbox.am_name`) in the current directory or in ``-o DIR``. A
    path that cannot be written is the caller's mistake (exit 2), said before anything
    is written."""
    if given == "-":
        return given
    if given is None or os.path.isdir(given):
        path = os.path.join(given or ".", am_name(series))
    else:
        path = given
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise _UsageError(f"{given}: cannot write: {parent} is not a directory")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise _UsageError(f"{path}: cannot write: permission denied")
    return path


def _cmd_track(args: argparse.Namespace, out: TextIO) -> int:
    if args.update_tips:
        raise _UsageError("--update-tips: track keeps no cursor (report, series and messages do)")
    if args.by != "arrival":
        raise _UsageError("--by date: track selects mail by arrival only")
    inbox = _open(args)
    after = _after(args)
    if isinstance(inbox, Archive):
        refs = inbox.walk(args.range, since=args.since, until=args.until, after=after, lists=args.lists).refs()
        selected_oids = {str(ref[0]) for _, ref in refs}
    else:
        selected_oids = {str(ref[0]) for ref in inbox.walk(args.range, since=args.since, until=args.until, after=after).refs() if not ref[5]}
    upstream = Upstream.index(args.upstream, args.upstream_range, cache=inbox.cache)
    lost: list[Message] = []
    with _progress(inbox) as tick:
        everything = inbox.series(progress=tick, unreadable=lost.append)  # all of them: later revisions count
    if args.range or args.since or args.until or args.after_tips or (isinstance(inbox, Archive) and args.lists):
        chosen = {s.id for s in everything if any(_oids(m) & selected_oids for m in s.messages)}
    else:
        chosen = {s.id for s in everything}
    tracks = [t for t in track(everything, upstream) if t.series.id in chosen]
    if args.format == "json":
        _write_json([t.to_dict() for t in tracks], out)
        _report_lost(lost)
        _report_cache(inbox)
        return 0
    for t in tracks:
        s = t.series
        when = f", {t.time_to_merge.days} days after first posting" if t.time_to_merge else ""
        later = f" (v{t.later.version})" if t.later else ""
        title = safe_line(s.title)
        out.write(f"{s.first_date.date() if s.first_date else '?'}  v{s.version} {title}: {t.state}{later}{when}\n")
        for p in t.patches:
            how = (
                f"{p.landing.commit.id[:12]} ({p.landing.method}, {p.landing.confidence:.2f})"
                + (f" resend of <{p.landing.resend_of}>" if p.landing.resend_of else "")
                if p.landing else "-"
            )
            out.write(safe_line(f"    {p.patch.index:>3}/{s.total} {how}  {p.patch.message.subject.title}") + "\n")
    counts = {state: sum(t.state == state for t in tracks) for state in
              ("applied", "partly applied", "applied as a later revision", "not applied")}
    _summary(inbox, ", ".join(f"{n} {state}" for state, n in counts.items()))
    _report_lost(lost)
    _report_cache(inbox)
    return 0


def _report_cache(inbox: Inbox | Archive) -> None:
    """A ``note:`` for what the cache found damaged and rebuilt (the run's output is
    right all the same: damaged entries are parsed again)."""
    cache = inbox.cache
    if cache is None:
        return
    for note in cache.notes:
        print(f"{PROG}: note: {safe_line(note)}", file=sys.stderr)
    if cache.stats.corrupt:
        print(f"{PROG}: note: cache: {cache.stats.corrupt} damaged entries dropped and rebuilt", file=sys.stderr)


def _terminal() -> bool:
    """Whether progress is shown: only on a terminal."""
    return sys.stderr.isatty()


@contextlib.contextmanager
def _stage(name: str, what: str) -> Iterator[None]:
    """A spinner naming a stage of the work (``reading kvm.mbox``) on stderr while it
    runs — only on a terminal; it leaves no line behind."""
    if not _terminal():
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=Console(stderr=True)) as bar:
        bar.add_task(safe_line(f"{name} {what}"), total=None)
        bar.refresh()  # shown at once, however short the stage
        yield


@contextlib.contextmanager
def _progress(inbox: Inbox | Archive) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr while the archive is read, parsed and assembled —
    only on a terminal. Its label names the stage: ``reading`` while the mails are
    counted, ``parsing`` as they are parsed (or read from the cache), ``assembling``
    once all are (the library calls ``progress`` with the total when parsing ends)."""
    if not _terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(safe_line(f"reading {inbox.name}"), total=None)
        bar.refresh()  # each stage is shown at once, however short
        total = sum(1 for _ in inbox.walk().refs())  # no mail is read: ~80,000 commits/s
        bar.update(task, total=total, description="parsing")
        bar.refresh()

        def tick(done: int) -> None:
            bar.update(task, completed=done, description="assembling" if done >= total else "parsing")
            if done >= total:
                bar.refresh()

        yield tick


def _summary(inbox: Inbox | Archive, what: str) -> None:
    """The command's summary line on stderr (before its notes): what it found, and
    where the parsed mail came from."""
    stats = inbox.cache.stats if inbox.cache is not None else None
    cached = f" ({stats.hits} mails from the cache, {stats.misses} parsed)" if stats and stats.hits + stats.misses else ""
    print(f"{PROG}: {what}{cached}", file=sys.stderr)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise _UsageError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise _UsageError(f"{path}: not a UTF-8 text file (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from None


def _series_text(s: Series, mailmap: Mailmap | None = None, domain_map: DomainMap | None = None) -> str:
    """A maintainer's summary: status, version, title, author, completeness, links,
    and per patch the review follow-ups it got."""
    author = _person_row(s.written_by, mailmap, domain_map)
    who = (author["name"] or author["email"] or "?") if author else "?"
    if author and author.get("organisation"):
        who += f" ({author['organisation']})"
    if s.sent_by is not None:
        who += f", sent by {s.sent_by.name or s.sent_by.email}"
    rfc = "RFC " if s.rfc else ""
    state = "complete" if s.complete else f"missing {format_counters(s.missing_ranges)}"
    date = s.first_date.date().isoformat() if s.first_date else "?"
    lines = [
        f"{date}  [{s.status}] {rfc}v{s.version} {s.title}",
        f"    {who}; {len(s.patches)}/{s.total} patches{', cover' if s.cover else ''}, {state}; id {s.id}",
    ]
    for label, link in (("previous", s.previous), ("next", s.next)):
        if link is not None:
            when = link.date.date().isoformat() if link.date else "?"
            why = f" ({', '.join(s.evidence)})" if label == "previous" else ""
            lines.append(f"    {label}: v{link.version} of {when} <{link.msgid}>{why}")
    for patch in s.patches:
        tags: dict[str, int] = {}
        for f in patch.followups:
            if f.is_review:
                tags[f.key] = tags.get(f.key, 0) + 1
        given = "  " + ", ".join(f"{k} x{n}" for k, n in sorted(tags.items())) if tags else ""
        lines.append(f"    {patch.index:>3}/{s.total} {patch.message.subject.title}{given}")
    return safe_lines(lines) + "\n\n"


def _after(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``--after-tips`` cursor, read from its file (the library checks its shape).
    With ``--update-tips``, a missing file is a first run: an empty cursor, after
    which everything is new."""
    after = None
    if args.update_tips and not args.after_tips:
        raise _UsageError("--update-tips needs --after-tips FILE: the cursor to read and then update")
    if args.update_tips and (args.since or args.until):
        raise _UsageError("--update-tips with --since/--until: the mail outside them would never be read (drop one)")
    if args.after_tips:
        if args.update_tips and not os.path.lexists(args.after_tips):
            print(f"{PROG}: note: {args.after_tips}: no cursor yet: reading everything, then saving one",
                  file=sys.stderr)
            return {}
        try:
            with open(args.after_tips, encoding="utf-8") as fh:
                after = json.load(fh)
        except (OSError, ValueError, RecursionError) as exc:
            raise _UsageError(f"{args.after_tips}: cannot read a tips cursor: {exc}") from None
        if not isinstance(after, dict):
            raise _UsageError(
                f"{args.after_tips}: a tips cursor is a JSON object epoch → commit, not {type(after).__name__}"
            )
    return after


def _update_tips(args: argparse.Namespace, coverage: Coverage, out: TextIO) -> None:
    """With ``--update-tips``, save the tips the walk read up to as the cursor, once
    the output is written (flushed: a full disk or a closed pipe fails here, and the
    old cursor stays): a temporary file in the cursor's folder, synced, then renamed
    over it, so a crash leaves the old cursor or the new one, never half of one."""
    if not args.update_tips:
        return
    out.flush()
    tips: dict[str, Any] = {str(n): commit for n, commit in coverage.tips}
    if coverage.lists:  # many lists: list → epoch → commit, as ``patchtrack tips`` of a mirror prints
        tips = {name: {str(n): commit for n, commit in c.tips} for name, c in coverage.lists}
    path = os.path.abspath(args.after_tips)
    folder = os.path.dirname(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = None
    try:
        fd, temporary = tempfile.mkstemp(prefix=".patchtrack-tips-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _UsageError(f"{args.after_tips}: cannot write the cursor: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(tips, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename itself, durable (not every system can sync a folder)
        folder_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(folder_fd)
        finally:
            os.close(folder_fd)
    if coverage.lists:
        saved = ", ".join(f"{name} epoch {n} at {c[:9]}" for name, t in tips.items() for n, c in t.items()) or "no epoch"
    else:
        saved = ", ".join(f"epoch {n} at {c[:9]}" for n, c in tips.items()) or "no epoch"
    print(f"{PROG}: cursor {args.after_tips} updated: {saved}", file=sys.stderr)


def _person_row(
    person: Person | None, mailmap: Mailmap | None, domain_map: DomainMap | None
) -> dict[str, str | None] | None:
    """A person as JSON: canonical under ``mailmap``, with ``organisation`` when a
    domain map is given (``null`` when it has no entry)."""
    if person is None:
        return None
    if mailmap is not None:
        person = mailmap.map(person)
    row: dict[str, str | None] = {"name": person.name, "email": person.email}
    if domain_map is not None:
        row["organisation"] = domain_map.organisation(person.email)
    return row


def _raw_row(ref: Ref) -> dict[str, Any]:
    """The storage fields of a walk record (``RawMessage.to_dict``), read without
    the mail's bytes."""
    oid, blob, commit, epoch, when, deleted = ref
    return {
        "oid": str(oid),
        "commit": commit,
        "epoch": epoch,
        "time": datetime.fromtimestamp(when, timezone.utc).isoformat(),
        "size": blob.size,
        "deleted": deleted,
    }


def _message_row(
    stored: dict[str, Any], message: Message, mailmap: Mailmap | None, domain_map: DomainMap | None
) -> dict[str, Any]:
    """The storage fields ``stored`` plus the parsed Message's fields."""
    row = dict(stored)
    row.update(message.to_dict())
    if mailmap is not None or domain_map is not None:
        row["author"] = _person_row(message.author, mailmap, domain_map)
        row["sender"] = _person_row(message.sender, mailmap, domain_map)
    return row


# What JSON written with ensure_ascii=False leaves raw that a terminal acts on (C1
# controls, bidi embeddings, overrides and isolates) or that cannot be written as
# UTF-8 (lone surrogates); the C0 controls json escapes itself.
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _json(value: Any) -> str:
    """``value`` as one line of JSON, UTF-8 text kept as it is, but with the characters
    of :data:`_JSON_RAW` written as ``\\uXXXX`` escapes: the same JSON value, safe on
    a terminal."""
    return _json_safe(json.dumps(value, ensure_ascii=False))


def _json_safe(text: str) -> str:
    if text.isascii() or not _JSON_RAW.search(text):
        return text
    return _JSON_RAW.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _write_json(value: Any, out: TextIO) -> None:
    """``value`` as indented JSON (as :func:`_json` makes it), written as it is encoded."""
    for chunk in json.JSONEncoder(indent=1, ensure_ascii=False).iterencode(value):
        out.write(_json_safe(chunk))  # a string is encoded whole, in one chunk
    out.write("\n")


def _write_rows(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO, *, parsed: bool = True) -> None:
    if fmt == "json":
        _write_json(list(rows), out)
        return
    for row in rows:
        if fmt == "jsonl":
            out.write(_json(row) + "\n")
        elif parsed:
            who = row["author"]["name"] or row["author"]["email"] if row["author"] else "?"
            flag = "  (removed)" if row["deleted"] else ""
            line = f"{(row['date'] or row['time'])[:16]}  {row['kind']:<6}  {who[:24]:<24}  {row['subject']['raw']}{flag}"
            out.write(safe_line(line) + "\n")
        else:
            flag = "  (removed)" if row["deleted"] else ""
            out.write(
                f"{row['time'][:19]}  epoch {row['epoch']}  {row['commit'][:12]}  "
                f"blob {row['oid'][:12]}  {row['size']:>7} bytes{flag}\n"
            )


_NAMED = 3  # unreadable mails named on the note line; the rest are "…"


def _note_unreadable(lost: Sequence[tuple[str, str]]) -> None:
    """One ``note:`` line for the mails (object id, reason) the archive could not give."""
    if lost:
        named = ", ".join(f"{oid} ({reason})" for oid, reason in lost[:_NAMED]) + (", …" if len(lost) > _NAMED else "")
        print(f"{PROG}: note: {len(lost)} mail(s) could not be read: {named}", file=sys.stderr)


def _report_lost(lost: Sequence[Message]) -> None:
    """The note for the problem records of mails that could not be read."""
    _note_unreadable([(m.oid, m.problems[0].removeprefix(UNREADABLE)) for m in lost])


def _report_walk(walk: Walk) -> None:
    """The walk's notes and counts on stderr; then, when part of the archive could
    not be read, one ``error:`` line for each part and exit 1 (the output is written)."""
    for note in walk.notes:
        print(f"{PROG}: note: {note}", file=sys.stderr)
    stats = walk.stats
    extras = [
        f"{value} {name}" for name, value in
        (("duplicates", stats.duplicates), ("removals", stats.removals),
         ("skipped (no m/d)", stats.skipped), ("outside dates", stats.filtered), ("unreadable", stats.unreadable))
        if value
    ]
    print(
        f"{PROG}: {stats.messages} messages from {stats.commits} commits"
        + (f" ({', '.join(extras)})" if extras else ""),
        file=sys.stderr,
    )
    _note_unreadable([(u.oid, u.reason) for u in walk.unreadable])
    for damage in walk.damage:
        print(f"{PROG}: error: {damage}", file=sys.stderr)
    if walk.damage:
        raise _Incomplete


if __name__ == "__main__":
    sys.exit(main())
