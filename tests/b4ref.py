"""b4's reading of patch threads: the reference the series-assembly parity tests compare against.

``b4_view`` feeds the raw mails of a thread into b4's own ``LoreMailbox`` exactly as
``b4 am --offline-mode -m MBOX`` does, asks it for every revision it found
(``LoreMailbox.get_series``), lets ``LoreSeries.get_am_ready`` add the follow-up
trailers, and reports which trailers b4 added to each patch. Nothing here uses
patchtrack, and nothing re-implements b4's logic: the result is read off b4's own
objects and off the commit messages ``b4 am`` would produce.

b4 is isolated from the machine it runs on while it works: no git config (global,
system, local repository or ``-c`` parameters) reaches the ``git mailinfo`` /
``git patch-id`` it runs, its config dictionaries are b4's built-in defaults (no
``user.*``, no ``b4.*``), networking is off (``b4.can_network = False``: no lore
look-ups, no code-review trailer search, no DKIM), ``HOME``/``XDG_*`` point into a
private empty directory so no cache under ``~/.cache/b4`` is read or written, and
b4's log output is captured instead of printed.

``select_threads`` groups the mails of a public-inbox archive (a bare git repository,
one commit per mail, the mail in blob ``m``) into threads and picks a deterministic,
evenly spread, size-stratified sample of the threads that hold at least one patch.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import functools
import logging
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any, NamedTuple


import b4
import liblore.utils

from oracle import archive_blobs

#: The b4 this reference runs (the notes in docs/b4-notes.md are about 0.16.0).
B4_VERSION: str = b4.__VERSION__

#: Key of the single entry ``b4_view`` returns when b4 fails on the whole input.
B4_ERROR = -1

#: b4's trailer tuple: (lower-cased trailer name, lower-cased e-mail for a person
#: trailer, else the trailer value as b4 holds it).
TrailerKey = tuple[str, str]

_PATCH_PREFIX = re.compile(rb"^\s*\[[^\]]*\bpatch", re.IGNORECASE)
_MSGID = re.compile(r"<([^>]+)>")
_REVIEW_LINE = re.compile(rb"^[ \t]*(?:reviewed|acked|tested|reported|suggested)-by:", re.IGNORECASE | re.MULTILINE)


# --- running b4 in a sealed room ------------------------------------------------------


class _Capture(logging.Handler):
    """Collects b4's log messages (INFO and up) instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage().strip())
        except Exception:  # a malformed log call in b4 must not break the view
            self.lines.append(str(record.msg))


@functools.lru_cache(maxsize=1)
def _private_home() -> str:
    return tempfile.mkdtemp(prefix="b4ref-home-")


def _clean_env() -> dict[str, str]:
    """The process environment with every route by which git or b4 could read the
    user's configuration or cache closed."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("GIT_") or k.startswith("XDG_") or k in ("EMAIL", "HOME"))
    }
    home = _private_home()
    env.update(
        {
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, "config"),
            "XDG_CACHE_HOME": os.path.join(home, "cache"),
            "XDG_DATA_HOME": os.path.join(home, "data"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_SYSTEM": os.devnull,
            "GIT_CONFIG_GLOBAL": os.devnull,
            # mailinfo and patch-id need no repository; pointing GIT_DIR at a path that
            # cannot hold a config keeps the repository around the cwd out of it
            "GIT_DIR": os.path.join(home, "no-repository"),
        }
    )
    return env


def _b4_defaults() -> dict[str, Any]:
    """b4's built-in main config, as ``_setup_main_config`` leaves it with no git config."""
    config: dict[str, Any] = dict(b4.DEFAULT_CONFIG)
    prefs = str(config["listid-preference"]).split(",")
    prefs.remove("*")
    config["listid-preference"] = [*prefs, "*"]
    config["gpgbin"] = "gpg"
    # b4 am checks attestation (DKIM / patatt) per message; offline it finds nothing,
    # and it does not change which trailers are added. Off keeps it silent.
    config["attestation-policy"] = "off"
    return config


@contextlib.contextmanager
def _sealed_b4() -> Iterator[_Capture]:
    """Run b4 with default config, no network, no user config or cache, captured logs."""
    saved_env = dict(os.environ)
    saved = (b4.MAIN_CONFIG, b4.USER_CONFIG, b4.SENDEMAIL_CONFIG, b4.can_network)
    blog = b4.logger
    saved_log = (blog.level, blog.propagate, list(blog.handlers))
    capture = _Capture()
    os.environ.clear()
    os.environ.update(_clean_env())
    b4.MAIN_CONFIG = _b4_defaults()
    b4.USER_CONFIG = {}  # no user.name/email: b4 will never match "your own" Signed-off-by
    b4.SENDEMAIL_CONFIG = {}
    b4.can_network = False
    blog.handlers = [capture]
    blog.propagate = False
    blog.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        b4.MAIN_CONFIG, b4.USER_CONFIG, b4.SENDEMAIL_CONFIG, b4.can_network = saved
        blog.setLevel(saved_log[0])
        blog.propagate = saved_log[1]
        blog.handlers = saved_log[2]


@contextlib.contextmanager
def _observe_fix_trailers(seen: dict[int, tuple[list[Any], list[Any]]]) -> Iterator[None]:
    """Record, per LoreMessage, its body trailers just before and just after b4's own
    ``fix_trailers`` runs (``get_am_message`` calls it once per patch). Observation
    only: the original method does all the work."""
    original = b4.LoreMessage.fix_trailers

    def observed(self: b4.LoreMessage, *args: Any, **kwargs: Any) -> None:
        before = b4.LoreMessage.get_body_parts(self.body)[2]
        original(self, *args, **kwargs)
        after = b4.LoreMessage.get_body_parts(self.body)[2]
        seen[id(self)] = (before, after)

    b4.LoreMessage.fix_trailers = observed  # type: ignore[method-assign]
    try:
        yield
    finally:
        b4.LoreMessage.fix_trailers = original  # type: ignore[method-assign]


# --- the view -------------------------------------------------------------------------


def trailer_key(ltr: b4.LoreTrailer) -> TrailerKey:
    """(name lower, e-mail lower) for a person trailer, else (name lower, value)."""
    if ltr.type == "person" and ltr.addr and ltr.addr[1]:
        return ltr.lname, ltr.addr[1].lower()
    return ltr.lname, ltr.value


def _parse(raw: bytes) -> EmailMessage:
    # the parser b4 itself uses for lore mbox chunks and local mailboxes
    return liblore.utils.parse_message(raw)


def _mailbox(raws: list[bytes], msgid: str | None) -> b4.LoreMailbox:
    msgs = [_parse(r) for r in raws]
    if msgid:
        msgs = b4.get_strict_thread(msgs, msgid) or []
    lmbx = b4.LoreMailbox()
    for msg in msgs:
        lmbx.add_message(msg)
    return lmbx


def _revision_view(raws: list[bytes], msgid: str | None, revision: int, details: bool, log: _Capture) -> dict[str, Any]:
    """``b4 am -vREVISION``: a fresh mailbox (get_series mutates it), the series, the
    am-ready messages, and what fix_trailers added to each patch."""
    start = len(log.lines)
    lmbx = _mailbox(raws, msgid)
    lser = lmbx.get_series(revision=revision, sloppytrailers=False, reroll=True, codereview_trailers=False)
    if lser is None:
        return {"version": revision, "error": "get_series returned None"}
    seen: dict[int, tuple[list[Any], list[Any]]] = {}
    with _observe_fix_trailers(seen):
        lser.get_am_ready(noaddtrailers=False, addmysob=False, addlink=False, allowbadchars=True)

    cover = lser.patches[0].msgid if lser.patches and lser.patches[0] is not None else None
    patches: dict[int, str] = {}
    followups: dict[int, list[TrailerKey]] = {}
    ordered: dict[int, list[TrailerKey]] = {}
    lines: dict[int, list[str]] = {}
    origins: dict[int, list[tuple[str, str, str | None]]] = {}
    reroll_from: dict[int, int] = {}
    roundtrip_ok = True
    for index, lmsg in enumerate(lser.patches[1:], start=1):
        if lmsg is None:
            continue
        patches[index] = lmsg.msgid
        if lmsg.reroll_from_revision is not None and lmsg.reroll_from_revision != lser.revision:
            reroll_from[index] = lmsg.reroll_from_revision
        before, after = seen.get(id(lmsg), ([], []))
        if after[: len(before)] != before:
            roundtrip_ok = False
        added = after[len(before):]
        followups[index] = sorted(trailer_key(t) for t in added)
        ordered[index] = [trailer_key(t) for t in added]
        lines[index] = [t.as_string() for t in added]
        if details:
            row = []
            for t in added:
                src = next((f for f in lmsg.followup_trailers if f == t), None)
                origin = src.lmsg.msgid if src is not None and src.lmsg is not None else None
                row.append((*trailer_key(t), origin))
            origins[index] = sorted(row, key=lambda r: (r[0], r[1], r[2] or ""))

    view: dict[str, Any] = {
        "version": lser.revision, "cover": cover, "patches": patches, "followups": followups, "am_order": ordered,
        "am_lines": lines,
    }
    if details:
        view.update(
            {
                "expected": lser.expected,
                "complete": bool(lser.complete),
                "has_cover": bool(lser.has_cover),
                "partial_reroll": bool(lser.partial_reroll),
                "subject": lser.subject,
                "author": (lser.fromemail or "").lower() or None,
                "reroll_from": reroll_from,
                "origins": origins,
                "mismatches": sorted(
                    (name.lower(), value, (email_ or "").lower()) for name, value, _n, email_ in lser.trailer_mismatches
                ),
                "roundtrip_ok": roundtrip_ok,
                "log": log.lines[start:],
            }
        )
    return view


def b4_view(mails: Iterable[bytes], *, msgid: str | None = None, details: bool = False) -> dict[int, dict[str, Any]]:
    """What ``b4 am --offline-mode`` makes of these mails, for every revision it finds.

    ``mails`` are raw RFC 5322 messages in archive (arrival) order -- the order lore's
    ``t.mbox.gz`` hands b4, which matters to b4 (duplicates, revision guessing). They are
    all added to one ``LoreMailbox`` (b4 ignores a repeated Message-ID: first one wins).
    With ``msgid``, they are first cut down to that message's thread by
    ``b4.get_strict_thread``, as ``b4 am -m MBOX MSGID`` does.

    Returns ``{revision: entry}`` for every key of ``LoreMailbox.series`` with::

        {"version": int,                 # the revision b4 assigned
         "cover": msgid | None,          # LoreSeries.patches[0] after get_series
         "patches": {index: msgid},      # LoreSeries.patches[1:], None slots omitted
         "followups": {index: [(name_lower, email_lower_or_value), ...]},  # sorted
         "am_order": {index: [...]},     # the same trailers in the order b4 am writes them
         "am_lines": {index: [str]}}     # and as the lines it writes

    ``followups`` are the trailers ``b4 am`` writes into that patch's commit message
    beyond the ones the patch already carries (replies to the patch, reply chains,
    replies to the cover letter, carried over same-patch-id trailers of other
    revisions). Message-ids carry no angle brackets. ``details=True`` adds
    ``expected, complete, has_cover, partial_reroll, subject, author, reroll_from,
    origins`` (followups with the msgid of the mail each came from), ``mismatches``
    (trailers b4 held back because the sender did not match: (name_lower, value,
    sender_email_lower)), ``roundtrip_ok`` and ``log`` (b4's messages).

    Never raises for b4's sake: when b4 fails on the input as a whole the result is
    ``{B4_ERROR: {"version": B4_ERROR, "error": "Type: message"}}``; when only one
    revision fails, that entry is ``{"version": rev, "error": ...}``. An input with no
    patch b4 recognises gives ``{}``.
    """
    raws = list(mails)
    out: dict[int, dict[str, Any]] = {}
    with _sealed_b4() as log:
        try:
            revisions = sorted(_mailbox(raws, msgid).series)
        except BaseException as ex:  # noqa: BLE001 - b4 may sys.exit(); report, don't die
            if isinstance(ex, KeyboardInterrupt):
                raise
            return {B4_ERROR: {"version": B4_ERROR, "error": f"{type(ex).__name__}: {ex}"}}
        for revision in revisions:
            try:
                out[revision] = _revision_view(raws, msgid, revision, details, log)
            except BaseException as ex:  # noqa: BLE001
                if isinstance(ex, KeyboardInterrupt):
                    raise
                out[revision] = {"version": revision, "error": f"{type(ex).__name__}: {ex}"}
    return out


def b4_errors(view: dict[int, dict[str, Any]]) -> list[str]:
    """The error strings in a ``b4_view`` result (empty when b4 coped)."""
    return [entry["error"] for entry in view.values() if "error" in entry]


# --- threads from an archive ----------------------------------------------------------


class Thread(NamedTuple):
    """One thread of an archive: its root msgid, its mails in archive order, and the
    stratum ``select_threads`` files it under."""

    root: str
    mails: list[bytes]
    shape: str  # "single", "series" (several patches or a cover) or "reroll" (several revisions)
    reviewed: bool  # some reply carries a Reviewed/Acked/Tested/Reported/Suggested-by line


_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _ids(value: str | None) -> list[str]:
    return _MSGID.findall(value or "")


def _root_of(headers: Any) -> tuple[str | None, str | None]:
    """(own msgid, thread root): first References id, else In-Reply-To, else itself."""
    own = _ids(str(headers.get("Message-ID", "")))
    mid = own[0].strip() if own else None
    refs = [r.strip() for r in _ids(" ".join(str(v) for v in headers.get_all("References", [])))]
    refs = [r for r in refs if r != mid]
    if refs:
        return mid, refs[0]
    irt = [r.strip() for r in _ids(str(headers.get("In-Reply-To", "")))]
    irt = [r for r in irt if r != mid]
    if irt:
        return mid, irt[0]
    return mid, mid


def archive_mails(repo_path: str | os.PathLike[str]) -> Iterator[bytes]:
    """Every mail of a public-inbox v2 epoch (bare git repository), in archive order,
    each blob once."""
    return (blob.data for _, blob in archive_blobs(repo_path))


def _has_diff(raw: bytes) -> bool:
    """b4's own ``LoreMessage.has_diff`` (b4 reads only text/plain and */x-patch parts:
    a patch attached as text/x-diff is no patch to it)."""
    try:
        return b4.LoreMessage(_parse(raw)).has_diff
    except Exception:  # e.g. no usable Message-ID: b4 cannot use this mail
        return False


@functools.lru_cache(maxsize=8)
def _patch_threads(repo_path: str) -> tuple[Thread, ...]:
    groups: dict[str, list[bytes]] = defaultdict(list)
    patchy: set[str] = set()
    raws = list(archive_mails(repo_path))
    with _sealed_b4():  # b4's parsing may log: keep it quiet
        for raw in raws:
            head = _HEADERS.parsebytes(raw)
            _mid, root = _root_of(head)
            if root is None:
                continue
            groups[root].append(raw)
            subject = b4.LoreMessage.clean_header(str(head.get("Subject", "")))
            if root not in patchy and _PATCH_PREFIX.match(subject.encode("utf-8", "replace")):
                if not b4.LoreSubject(subject).reply and _has_diff(raw):
                    patchy.add(root)
    threads = []
    for root in sorted(patchy):
        mails = groups[root]
        revisions: set[int] = set()
        patches = 0
        cover = False
        reviewed = False
        for raw in mails:
            head = _HEADERS.parsebytes(raw)
            ls = b4.LoreSubject(str(head.get("Subject", "")))
            if ls.reply:
                body = raw.split(b"\n\n", 1)[-1]
                reviewed = reviewed or bool(_REVIEW_LINE.search(body))
                continue
            if ls.patch:
                revisions.add(ls.revision)
                if ls.counter == 0 and not ls.counters_inferred:
                    cover = True
                else:
                    patches += 1
        shape = "reroll" if len(revisions) > 1 else "series" if patches > 1 or cover else "single"
        threads.append(Thread(root, mails, shape, reviewed))
    return tuple(threads)


def patch_threads(repo_path: str | os.PathLike[str]) -> list[Thread]:
    """Every thread of the archive holding at least one non-reply ``[PATCH ...]`` mail
    b4 sees a diff in, sorted by root msgid (cached per path)."""
    return list(_patch_threads(str(Path(repo_path))))


def _spread(items: list[Thread], k: int) -> list[Thread]:
    if k >= len(items):
        return list(items)
    return [items[(i * len(items)) // k] for i in range(k)]


def select_thread_records(repo_path: str | os.PathLike[str], limit: int) -> list[Thread]:
    """Up to ``limit`` patch threads, deterministic: the threads are split into strata
    (shape x reviewed), each stratum sorted by root msgid, and the quota is shared
    evenly across the strata (a small stratum's unused share goes to the others), each
    stratum sampled at evenly spaced positions. Result sorted by root msgid."""
    threads = patch_threads(repo_path)
    strata: dict[tuple[str, bool], list[Thread]] = defaultdict(list)
    for t in threads:
        strata[(t.shape, t.reviewed)].append(t)
    keys = sorted(strata, key=lambda k: len(strata[k]))
    quota = min(limit, len(threads))
    picked: list[Thread] = []
    for n, key in enumerate(keys):
        share = (quota - len(picked)) // (len(keys) - n)
        picked.extend(_spread(strata[key], share))
    return sorted(picked, key=lambda t: t.root)


def select_threads(repo_path: str | os.PathLike[str], limit: int) -> list[list[bytes]]:
    """The mails (archive order) of ``select_thread_records(repo_path, limit)``."""
    return [t.mails for t in select_thread_records(repo_path, limit)]
