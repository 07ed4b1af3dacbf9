"""Records → tables for notebooks: rows and pandas data frames.

``to_pandas`` needs the optional ``pandas`` extra (``pip install 'patchtrack[pandas]'``);
everything else here is plain Python. One row per message, per patch, per trailer (a
patch's own trailers and the follow-ups replies gave it) or per series, with flat,
typed columns (:data:`COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._render import changes, message_html, series_html
from .message import Message
from .series import Series

# series_html and message_html (the notebook views) live in patchtrack._render; named
# here too, where they were first.
__all__ = ["ROWS", "COLUMNS", "rows", "to_pandas", "series_html", "message_html"]

ROWS = ("messages", "patches", "trailers", "series")


# Vocabulary fields are given as their plain values (``.value``): a row, and a frame's
# "string" column, hold the str, as before the vocabularies were enums.


def _message_row(m: Message) -> dict[str, Any]:
    stat = m.diffstat
    return {
        "msgid": m.msgid,
        "date": m.date,
        "kind": m.kind.value,
        "subject": m.subject.raw,
        "title": m.subject.title,
        "version": m.subject.version,
        "index": m.subject.index,
        "total": m.subject.total,
        "author_name": m.author.name if m.author else None,
        "author_email": m.author.email if m.author else None,
        "author_domain": m.author.domain if m.author else None,
        "in_reply_to": m.in_reply_to,
        "files": len(stat.files) if stat else 0,
        "insertions": stat.insertions if stat else 0,
        "deletions": stat.deletions if stat else 0,
        "patch_id": m.patch_id,
        "problems": ",".join(m.problems),
    }


def _patch_rows(s: Series) -> Iterable[dict[str, Any]]:
    for p in s.patches:
        stat = p.diffstat
        yield {
            "series_id": s.id,
            "series_title": s.title,
            "series_version": s.version,
            "status": s.status.value,
            "index": p.index,
            "total": s.total,
            "msgid": p.msgid,
            "subject": p.message.subject.raw,
            "date": p.message.date,
            "author_email": p.message.author.email if p.message.author else None,
            "insertions": stat.insertions if stat else 0,
            "deletions": stat.deletions if stat else 0,
            "reviews": len(p.reviews),
            "followups": len(p.followups),
        }


def _review_counts(s: Series) -> dict[str, int]:
    """A series' review state as counts: the patches with a review given on the list,
    and the review trailers (unflagged follow-ups; see :attr:`Patch.reviews`); the same
    for the review tags the patches carried as posted (:attr:`Patch.posted_reviews`)."""
    return {
        "reviewed_patches": sum(1 for p in s.patches if p.reviews),
        "reviews": sum(len(p.reviews) for p in s.patches),
        "posted_reviewed_patches": sum(1 for p in s.patches if p.posted_reviews),
        "posted_reviews": sum(len(p.posted_reviews) for p in s.patches),
    }


def _series_row(s: Series) -> dict[str, Any]:
    plus, minus = changes(s)
    return {
        "series_id": s.id,
        "title": s.title,
        "version": s.version,
        "rfc": s.rfc,
        "resend": s.resend,
        "status": s.status.value,
        "author_name": s.written_by.name if s.written_by else None,
        "author_email": s.written_by.email if s.written_by else None,
        "author_domain": s.written_by.domain if s.written_by else None,
        "sender_email": s.sender.email if s.sender else None,
        "msgid": s.msgid,
        "cover": s.cover is not None,
        "patches": len(s.patches),
        "total": s.total,
        "complete": s.complete,
        "missing": sum(hi - lo + 1 for lo, hi in s.missing_ranges),
        "first_date": s.first_date,
        "last_date": s.last_date,
        "insertions": plus,
        "deletions": minus,
        **_review_counts(s),
        "previous_id": s.previous.id if s.previous else None,
        "previous_version": s.previous.version if s.previous else None,
        "next_id": s.next.id if s.next else None,
        "next_version": s.next.version if s.next else None,
        "list_id": s.list_id,
        "change_id": s.change_id,
        "messages": len(s.messages),
        "problems": ",".join(s.problems),
    }


def _trailer_rows(s: Series) -> Iterable[dict[str, Any]]:
    for p in s.patches:
        own = [(t, "patch", p.msgid, None, False) for t in p.trailers]
        given = [(f.trailer, f.via.value, f.from_msgid, f.date, f.flagged) for f in p.followups]
        for trailer, via, source, date, flagged in own + given:
            yield {
                "series_id": s.id,
                "index": p.index,
                "msgid": p.msgid,
                "key": trailer.key,
                "name": trailer.person.name if trailer.person else None,
                "email": trailer.person.email if trailer.person else None,
                "value": trailer.value,
                "via": via,
                "from_msgid": source,
                "date": date,
                "flagged": flagged,
            }


_TEXT, _DATE, _INT, _BOOL = "string", "datetime64[ns, UTC]", "Int64", "boolean"

COLUMNS: dict[str, dict[str, str]] = {
    "messages": {
        "msgid": _TEXT, "date": _DATE, "kind": _TEXT, "subject": _TEXT, "title": _TEXT, "version": _INT,
        "index": _INT, "total": _INT, "author_name": _TEXT, "author_email": _TEXT, "author_domain": _TEXT,
        "in_reply_to": _TEXT, "files": _INT, "insertions": _INT, "deletions": _INT, "patch_id": _TEXT,
        "problems": _TEXT,
    },
    "patches": {
        "series_id": _TEXT, "series_title": _TEXT, "series_version": _INT, "status": _TEXT, "index": _INT,
        "total": _INT, "msgid": _TEXT, "subject": _TEXT, "date": _DATE, "author_email": _TEXT,
        "insertions": _INT, "deletions": _INT, "reviews": _INT, "followups": _INT,
    },
    "trailers": {
        "series_id": _TEXT, "index": _INT, "msgid": _TEXT, "key": _TEXT, "name": _TEXT, "email": _TEXT,
        "value": _TEXT, "via": _TEXT, "from_msgid": _TEXT, "date": _DATE, "flagged": _BOOL,
    },
    "series": {
        "series_id": _TEXT, "title": _TEXT, "version": _INT, "rfc": _BOOL, "resend": _BOOL, "status": _TEXT,
        "author_name": _TEXT, "author_email": _TEXT, "author_domain": _TEXT, "sender_email": _TEXT,
        "msgid": _TEXT, "cover": _BOOL, "patches": _INT, "total": _INT, "complete": _BOOL, "missing": _INT,
        "first_date": _DATE, "last_date": _DATE, "insertions": _INT, "deletions": _INT,
        "reviewed_patches": _INT, "reviews": _INT, "posted_reviewed_patches": _INT, "posted_reviews": _INT,
        "previous_id": _TEXT, "previous_version": _INT,
        "next_id": _TEXT, "next_version": _INT, "list_id": _TEXT, "change_id": _TEXT, "messages": _INT,
        "problems": _TEXT,
    },
}
"""Per kind of row, its columns in order and their pandas dtypes: dates
``datetime64[ns, UTC]``, counters nullable ``Int64``, flags nullable ``boolean``,
text nullable ``string`` — missing values are ``NA``/``NaT``, and a frame of no rows
has the same columns and dtypes (pandas 3 would otherwise infer ``str`` for text
and ``object`` for the same column empty)."""


def rows(items: Iterable[Message | Series], kind: str = "messages") -> list[dict[str, Any]]:
    """Flat rows: ``messages`` (one per Message; a Series gives its cover and
    patches), ``patches`` (one per patch of each Series), ``trailers`` (one per
    trailer of each patch: its own, ``via="patch"``, and its follow-ups) or
    ``series`` (one per Series). Columns: :data:`COLUMNS`."""
    if kind not in ROWS:
        raise ValueError(f"rows are one of {', '.join(ROWS)}, not {kind!r}")
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Message):
            if kind != "messages":
                raise ValueError(f"{kind} rows come from Series, not Message")
            out.append(_message_row(item))
        elif kind == "messages":
            mails = ([item.cover] if item.cover else []) + [p.message for p in item.patches]
            out += [_message_row(m) for m in mails]
        elif kind == "patches":
            out += list(_patch_rows(item))
        elif kind == "series":
            out.append(_series_row(item))
        else:
            out += list(_trailer_rows(item))
    return out


def to_pandas(items: Iterable[Message | Series], kind: str = "messages") -> Any:
    """A :class:`pandas.DataFrame` of :func:`rows` (needs the ``pandas`` extra), with
    the columns and dtypes of :data:`COLUMNS` — the same for no rows. A date pandas
    cannot hold (before 1677 or after 2262, from a mail's ``Date:``) is ``NaT``."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_pandas needs pandas: pip install 'patchtrack[pandas]'") from exc
    schema = COLUMNS.get(kind, {})
    frame = pd.DataFrame(rows(items, kind), columns=list(schema))
    for column, dtype in schema.items():
        if dtype == _DATE:
            frame[column] = pd.to_datetime(frame[column], utc=True, errors="coerce").astype(_DATE)
        else:
            frame[column] = frame[column].astype(dtype)
    return frame
