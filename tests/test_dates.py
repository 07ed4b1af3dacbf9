"""Date bounds as users type them."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from patchtrack._dates import parse_bound

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
    ],
)
def test_parse_bound(value, upper, expected) -> None:  # type: ignore[no-untyped-def]
    assert parse_bound(value, upper=upper, now=NOW) == expected


@pytest.mark.parametrize("value", ["", "2024-13-01", "last tuesday", "5 fortnights ago", None, True, [2024]])
def test_rejects_what_is_not_a_date(value) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="not a date"):
        parse_bound(value, upper=False, now=NOW)
