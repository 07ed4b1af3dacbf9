"""Dates: the bounds users type (``--since 2024-05-01``, ``2 weeks ago``), and mails'
``Date:`` headers.

Bounds are inclusive; a named day or month as an upper bound means its last second.
Whether they are compared with a mail's arrival (its commit time) or its ``Date:``
header is the caller's choice (``by=`` of :meth:`patchtrack.Inbox.messages`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Union

__all__ = ["DateLike", "parse_bound", "mail_date", "zone"]

DateLike = Union[str, date, datetime, int, float]
"""What ``since``/``until`` accept."""

_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_NUMBERS = {w: n for n, w in enumerate("zero one two three four five six seven eight nine ten".split())}
_TERM = re.compile(
    r"(\d+|zero|one|two|three|four|five|six|seven|eight|nine|ten|last)[\s._,]*"
    r"(second|minute|hour|day|week|month|year)s?(?![a-z])",
    re.I,
)
_GLUE = re.compile(r"[\s._,]*")
_AGO = re.compile(r"[\s._,]*(ago)?[\s._,]*$", re.I)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_bound(value: object, *, upper: bool, now: datetime | None = None) -> float:
    """Return ``value`` as POSIX seconds, for a lower (``upper=False``) or upper bound.

    Accepts a ``datetime`` (naive means UTC), a ``date``, POSIX seconds, ``"@<seconds>"``,
    an ISO 8601 date-time (naive means UTC), and what git users type:

    * durations back from now, read as git's approxidate reads them (``git log
      --since`` is the oracle in ``tests/test_dates.py``): ``2 weeks ago``,
      ``1.week.ago``, ``last week``, ``two.days.ago``, ``3 months ago``, ``2 weeks 3
      days ago``, ``10 days`` (``ago`` may be left out); units second … year, a month
      and a year by the calendar (as git: ``1 month ago`` on 31 March is 3 March);
    * ``now``; and named periods, which span their whole (UTC) extent: ``today``,
      ``yesterday``, a day ``2025-01-15``, a month ``2025-01``. As a lower bound they
      mean their first second, as an upper bound their last. (git reads ``yesterday``
      as 24 hours ago and ``2025-01`` as day 1 of the current month of 2025.)

    Raises ``ValueError`` (one line) for anything else — git reads words it does not
    know as "now"; here they are refused.
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
    lowered = text.lower()
    if text.startswith("@") and text[1:].isdigit():
        return float(text[1:])
    now = _aware(now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    if lowered == "now":
        return now.timestamp()
    if lowered in ("today", "yesterday"):
        return _day_bound(now.date() - timedelta(days=lowered == "yesterday"), upper)
    ago = _ago(text, now)
    if ago is not None:
        return ago
    month = _MONTH.match(text)
    if month and 1 <= int(month[2]) <= 12:
        first = date(int(month[1]), int(month[2]), 1)
        if not upper:
            return _day_bound(first, False)
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return _day_bound(following, False) - 1
    if _DAY.match(text):
        try:
            return _day_bound(date.fromisoformat(text), upper)
        except ValueError:
            pass
    elif text[:4].isdigit():
        try:
            return _aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).timestamp()
        except ValueError:
            pass
    raise ValueError(
        f"not a date: {value!r} (use YYYY-MM-DD, YYYY-MM, an ISO date-time, @SECONDS, "
        "'yesterday', '2 weeks ago', '1.week.ago' or 'last week')"
    )


def _ago(text: str, now: datetime) -> float | None:
    """``text`` as git's approxidate reads a run of ``<number> <unit>`` terms (then
    ``ago`` or nothing), applied one after another to ``now``; ``None`` when it is not
    one. Seconds to weeks are subtracted as seconds; months and years move the
    calendar and let an impossible day run over into the next month (mktime's
    normalisation, which git relies on)."""
    at = 0
    terms = []
    while True:
        m = _TERM.match(text, at)
        if m is None:
            break
        terms.append((m[1].lower(), m[2].lower()))
        at = _GLUE.match(text, m.end()).end()  # type: ignore[union-attr]  # matches the empty string
    if not terms or not _AGO.match(text, at):
        return None
    when = now.replace(tzinfo=None)
    for number, unit in terms:
        n = 1 if number == "last" else _NUMBERS[number] if number in _NUMBERS else int(number)
        if unit in _SECONDS:
            when -= timedelta(seconds=n * _SECONDS[unit])
            continue
        months = when.month - 1 - (n if unit == "month" else 12 * n)
        year, month = when.year + months // 12, months % 12 + 1
        if year < 1:
            raise ValueError(f"not a date: {text!r} (before the year 1)")
        when = datetime(year, month, 1, when.hour, when.minute, when.second) + timedelta(days=when.day - 1)
    return when.replace(tzinfo=timezone.utc).timestamp()


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
