"""Dates: the bounds users type (``--since 2024-05-01``, ``2 weeks ago``), and mails'
``Date:`` headers.

A walk filters on commit time, which in a public-inbox archive is the time the mail
arrived. Bounds are inclusive; a bare date as an upper bound means the whole day.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Union

__all__ = ["DateLike", "parse_bound", "mail_date", "zone"]

DateLike = Union[str, date, datetime, int, float]
"""What ``since``/``until`` accept."""

_UNITS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_RELATIVE = re.compile(r"^\s*(\d+)\s*(second|minute|hour|day|week|month|year)s?\s+ago\s*$", re.I)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_bound(value: object, *, upper: bool, now: datetime | None = None) -> float:
    """Return ``value`` as POSIX seconds, for a lower (``upper=False``) or upper bound.

    Accepts a ``datetime`` (naive means UTC), a ``date``, POSIX seconds, ``"@<seconds>"``,
    an ISO 8601 date or date-time, ``now``, ``today``, ``yesterday`` (UTC days), or
    ``"<N> <unit>s ago"`` (units second…year; a month is 30 days, a year 365). A date without a time spans the whole day: as an upper bound
    it means the day's last second. Raises ``ValueError`` for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return _aware(value).timestamp()
    if isinstance(value, date):
        return _day_bound(value, upper)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    if text.startswith("@") and text[1:].isdigit():
        return float(text[1:])
    now = _aware(now or datetime.now(timezone.utc))
    m = _RELATIVE.match(text)
    if m:
        return now.timestamp() - int(m.group(1)) * _UNITS[m.group(2).lower()]
    if text.lower() == "now":
        return now.timestamp()
    if text.lower() in ("today", "yesterday"):
        day = now.astimezone(timezone.utc).date()
        return _day_bound(day - timedelta(days=text.lower() == "yesterday"), upper)
    if _DAY.match(text):
        try:
            return _day_bound(date.fromisoformat(text), upper)
        except ValueError:
            pass
    else:
        try:
            return _aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).timestamp()
        except ValueError:
            pass
    raise ValueError(
        f"not a date: {value!r} (use YYYY-MM-DD, an ISO date-time, @SECONDS, 'yesterday' "
        "or 'N days ago')"
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _day_bound(day: date, upper: bool) -> float:
    start = datetime.combine(day, time(0), tzinfo=timezone.utc).timestamp()
    return start + timedelta(days=1).total_seconds() - 1 if upper else start


# The form nearly every mail's Date: takes (RFC 5322 section 3.3, as git and mailers
# write it): read by one expression; anything else goes to the standard library.
_MAIL_DATE = re.compile(
    r"[ \t]*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]*)?(\d{1,2})[ \t]+"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]+(\d{4})[ \t]+"
    r"(\d{1,2}):(\d\d):(\d\d)[ \t]+([+-])(\d\d)(\d\d)(?:[ \t].*)?"
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_ZONES: dict[int, timezone] = {}


def zone(seconds: int) -> timezone:
    """The (shared) fixed-offset zone ``seconds`` east of UTC."""
    found = _ZONES.get(seconds)
    if found is None:
        found = _ZONES[seconds] = timezone.utc if seconds == 0 else timezone(timedelta(seconds=seconds))
    return found


def mail_date(value: str) -> datetime | None:
    """A ``Date:`` header as an aware datetime (no zone, or ``-0000``, is UTC), or
    ``None`` when it cannot be read. The result is
    :func:`email.utils.parsedate_to_datetime`'s: the common form is read here in
    half its time, and every other form by it (``tests/test_dates.py`` checks
    both agree on generated dates, and the corpus tests on every mail's)."""
    m = _MAIL_DATE.fullmatch(value)
    if m is not None:
        day, month, year, hour, minute, second, sign, zh, zm = m.groups()
        offset = int(zh) * 3600 + int(zm) * 60
        try:
            return datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                tzinfo=zone(-offset if sign == "-" else offset),
            )
        except ValueError:
            pass  # out of range: the standard library decides
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
