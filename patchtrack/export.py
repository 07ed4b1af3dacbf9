"""Records → tables for notebooks: pandas data frames and HTML previews.

``to_pandas`` needs the optional ``pandas`` extra (``pip install 'patchtrack[pandas]'``);
everything else here is plain Python. One row per message, per patch, or per trailer
(a patch's own trailers and the follow-ups replies gave it), with flat, typed columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from .message import Message
from .series import Series

__all__ = ["ROWS", "rows", "to_pandas", "series_html", "message_html"]

ROWS = ("messages", "patches", "trailers")


def _message_row(m: Message) -> dict[str, Any]:
    stat = m.diffstat
    return {
        "msgid": m.msgid,
        "date": m.date,
        "kind": m.kind,
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
            "status": s.status,
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


def _trailer_rows(s: Series) -> Iterable[dict[str, Any]]:
    for p in s.patches:
        own = [(t, "patch", p.msgid, None, False) for t in p.trailers]
        given = [(f.trailer, f.via, f.from_msgid, f.date, f.flagged) for f in p.followups]
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


def rows(items: Iterable[Message | Series], kind: str = "messages") -> list[dict[str, Any]]:
    """Flat rows: ``messages`` (one per Message; a Series gives its cover and
    patches), ``patches`` (one per patch of each Series) or ``trailers`` (one per
    trailer of each patch: its own, ``via="patch"``, and its follow-ups)."""
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
        else:
            out += list(_trailer_rows(item))
    return out


def to_pandas(items: Iterable[Message | Series], kind: str = "messages") -> Any:
    """A :class:`pandas.DataFrame` of :func:`rows` (needs the ``pandas`` extra)."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("to_pandas needs pandas: pip install 'patchtrack[pandas]'") from exc
    return pd.DataFrame(rows(items, kind))


def series_html(s: Series) -> str:
    """A small HTML table of a series, for notebooks."""
    who = escape(str(s.author)) if s.author else "?"
    head = f"<b>[{escape(s.status)}] v{s.version} {escape(s.title)}</b> — {who}, {len(s.patches)}/{s.total} patches"
    body = "".join(
        f"<tr><td>{p.index}</td><td>{escape(p.message.subject.title)}</td>"
        f"<td>{escape(', '.join(f'{f.key} {f.person.name or f.person.email}' for f in p.reviews if f.person))}</td></tr>"
        for p in s.patches
    )
    return f"<div>{head}<table><tr><th>#</th><th>patch</th><th>reviews</th></tr>{body}</table></div>"


def message_html(m: Message) -> str:
    """A small HTML table of a message, for notebooks."""
    fields = [
        ("subject", m.subject.raw),
        ("from", str(m.author) if m.author else ""),
        ("date", m.date.isoformat() if m.date else ""),
        ("kind", m.kind),
        ("msgid", m.msgid),
        ("trailers", ", ".join(f"{t.key}: {t.value}" for t in m.trailers)),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{escape(v)}</td></tr>" for k, v in fields)
    return f"<table>{body}</table>"
