"""Calendar days in UTC: the unit of every statistics range and report period."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_utc_day(value: str) -> date:
    """A day from YYYY-MM-DD, or from an RFC 3339 timestamp at midnight UTC.

    Raises ValueError (with a message fit for the client) for anything else, including a
    timestamp at another time of day or at midnight in another time zone: statistics are
    kept per UTC day, and silently moving a bound would count the wrong flags.
    """
    raw = value.strip()
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
    utc = at.astimezone(UTC)
    if utc.timetz().replace(tzinfo=None) != time(0):
        raise ValueError("must be midnight UTC: statistics are kept per UTC day")
    return utc.date()
