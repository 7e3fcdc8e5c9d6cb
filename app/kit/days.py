"""Calendar days in UTC: the unit of every statistics range and report period."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Days outside this window are refused: nothing FlagBridge counts lies there, and the
# calendar arithmetic of ranges (a year back, the next month) must never leave it.
FIRST_YEAR, LAST_YEAR = 1970, 9000


def parse_utc_day(value: str) -> date:
    """A day from YYYY-MM-DD, or from an RFC 3339 timestamp at midnight UTC.

    Raises ValueError (with a message fit for the client) for anything else, including a
    timestamp at another time of day or at midnight in another time zone: statistics are
    kept per UTC day, and silently moving a bound would count the wrong flags.
    """
    day = _parse(value.strip())
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return day


def _parse(raw: str) -> date:
    if _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError("is not a valid date") from None
    if "T" not in raw.upper():
        raise ValueError("must be a date (YYYY-MM-DD) or an RFC 3339 time at midnight UTC")
    try:
        at = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" else raw)
    except ValueError:
        raise ValueError(
            "must be a date (YYYY-MM-DD) or an RFC 3339 time at midnight UTC"
        ) from None
    return utc_midnight_day(at)


def utc_midnight_day(at: datetime) -> date:
    """The day of an aware datetime that is exactly midnight UTC; else ValueError."""
    if at.tzinfo is None:
        raise ValueError("must carry a time zone offset (RFC 3339)")
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"is out of range (years {FIRST_YEAR} to {LAST_YEAR})") from None
    if utc.timetz().replace(tzinfo=None) != time(0):
        raise ValueError("must be midnight UTC: statistics are kept per UTC day")
    return utc.date()
