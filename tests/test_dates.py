"""Date bounds as users type them."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patchtrack._dates import mail_date, parse_bound

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def ts(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    "value, upper, expected",
    [
        ("2024-05-01", False, ts(2024, 5, 1)),
        ("2024-05-01", True, ts(2024, 5, 1, 23, 59, 59)),
        (date(2024, 5, 1), True, ts(2024, 5, 1, 23, 59, 59)),
        ("2024-05-01T10:00:00", False, ts(2024, 5, 1, 10)),
        ("2024-05-01T10:00:00-07:00", False, ts(2024, 5, 1, 17)),
        ("2024-05-01T10:00:00Z", True, ts(2024, 5, 1, 10)),
        (datetime(2024, 5, 1, 10), False, ts(2024, 5, 1, 10)),
        ("@1700000000", False, 1700000000.0),
        (1700000000, True, 1700000000.0),
        ("2 weeks ago", False, NOW.timestamp() - 14 * 86400),
        ("1 day ago", False, NOW.timestamp() - 86400),
        ("yesterday", False, ts(2026, 11, 23)),
        ("yesterday", True, ts(2026, 11, 23, 23, 59, 59)),
        ("today", False, ts(2026, 11, 24)),
        ("now", True, NOW.timestamp()),
        ("2025-01", False, ts(2025, 1, 1)),
        ("2025-12", True, ts(2025, 12, 31, 23, 59, 59)),
        ("2024-02", True, ts(2024, 2, 29, 23, 59, 59)),
        ("last week", True, NOW.timestamp() - 7 * 86400),
        ("1.week.ago", False, NOW.timestamp() - 7 * 86400),
        ("1 month ago", False, ts(2026, 10, 24, 12)),
    ],
)
def test_parse_bound(value, upper, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_bound(value, upper=upper, now=NOW) == expected


@pytest.mark.parametrize(
    "value",
    ["", "2024-13-01", "2025-13", "last tuesday", "5 fortnights ago", "garbage", "ago", "2 weeks ago maybe",
     "weeks ago", None, True, [2024]],
)
def test_rejects_what_is_not_a_date(value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not a date"):
        parse_bound(value, upper=False, now=NOW)


# What git users type for a duration back from now; each is read as git reads it.
GIT_PHRASES = [
    "1.week.ago", "last week", "2 weeks ago", "3 months ago", "1 year ago", "2 weeks 3 days ago",
    "two.days.ago", "5.minutes.ago", "last month", "last year", "10 days", "1 month ago", "2.hours.ago",
    "13 months ago", "1 hour 30 minutes ago", "ten.seconds.ago", "4 years ago", "2,weeks,ago", "1_week_ago",
    "3 Days Ago", "1 day ago", "6 months ago", "25 months ago", "1 second ago", "90 minutes ago",
]
# Instants where calendar arithmetic bites: a 31st (1 month back overflows), a leap
# day (1 year back), the turn of a year, and an ordinary day.
GIT_NOWS = [
    datetime(2025, 3, 31, 12, 0, tzinfo=timezone.utc),
    datetime(2024, 2, 29, 23, 59, 30, tzinfo=timezone.utc),
    datetime(2026, 1, 2, 0, 30, tzinfo=timezone.utc),
    NOW,
]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git, the oracle")
def test_durations_read_as_git_reads_them(tmp_path: Path) -> None:
    """git's own approxidate (``git rev-parse --since=PHRASE`` prints ``--max-age=N``)
    is the oracle, at fixed instants (``GIT_TEST_DATE_NOW``) in UTC."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for now in GIT_NOWS:
        env = {**os.environ, "TZ": "UTC", "GIT_TEST_DATE_NOW": str(int(now.timestamp()))}
        for phrase in GIT_PHRASES:
            out = subprocess.run(
                ["git", "rev-parse", f"--since={phrase}"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
            ).stdout
            expected = float(out.strip().removeprefix("--max-age="))
            assert expected != now.timestamp(), phrase  # git understood it (it reads what it does not as now)
            assert parse_bound(phrase, upper=False, now=now) == expected, (phrase, now)
            assert parse_bound(phrase, upper=True, now=now) == expected, (phrase, now)


def stdlib_mail_date(value: str) -> datetime | None:
    """What ``mail_date`` must return: the standard library's reading, no zone as UTC."""
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return None if parsed is None else parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@given(
    weekday=st.sampled_from(["", "Mon, ", "Sun,", "Thu,  ", "Fri "]),
    day=st.integers(0, 35),
    month=st.sampled_from(["Jan", "Feb", "Jun", "Dec", "dec", "June", "Foo"]),
    year=st.sampled_from(["1970", "2000", "2026", "9999", "0000", "99", "26"]),
    hour=st.integers(0, 25),
    minute=st.integers(0, 61),
    second=st.sampled_from(["00", "07", "59", "60", "61", ""]),
    sign=st.sampled_from(["+", "-", ""]),
    offset=st.sampled_from(["0000", "0100", "0530", "1200", "1400", "0099", "9959", "01", "UT"]),
    tail=st.sampled_from(["", " (CET)", " (GMT+01:00)", "(CET)", " x"]),
)
def test_mail_date_reads_as_the_standard_library(
    weekday: str, day: int, month: str, year: str, hour: int, minute: int, second: str, sign: str,
    offset: str, tail: str,
) -> None:
    clock = f"{hour:02}:{minute:02}" + (f":{second}" if second else "")
    value = f"{weekday}{day} {month} {year} {clock} {sign}{offset}{tail}"
    got, expected = mail_date(value), stdlib_mail_date(value)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == expected.utcoffset()  # type: ignore[union-attr]


def test_mail_date_reads_the_common_form_and_gives_up_on_nonsense() -> None:
    got = mail_date("Wed, 25 Nov 2026 01:27:44 +0530 (IST)")
    assert got == datetime(2026, 11, 25, 1, 27, 44, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert mail_date("Wed, 25 Nov 2026 01:27:44 -0000").tzinfo is timezone.utc  # type: ignore[union-attr]
    assert mail_date("") is None and mail_date("yesterday-ish") is None
