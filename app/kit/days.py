"""Calendar days and months in UTC: the unit of every statistics range and report period."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

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


def month_start(day: date) -> date:
    """The first day of day's month."""
    return day.replace(day=1)


def add_months(day: date, n: int) -> date:
    """The first day of the month n months after day's month (n may be negative)."""
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def next_month(day: date) -> date:
    """The first day of the month after day's month."""
    return add_months(day, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of month in UTC, as aware datetimes."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end_day = next_month(month)
    return start, datetime(end_day.year, end_day.month, 1, tzinfo=UTC)


def month_label(day: date) -> str:
    """YYYY-MM of day's month."""
    return f"{day.year:04d}-{day.month:02d}"


def parse_month(value: str) -> date:
    """The first day of a month written YYYY-MM; ValueError (fit for a client) otherwise."""
    raw = value.strip()
    year, _, month = raw.partition("-")
    if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError("must be a month as YYYY-MM")
    try:
        parsed = date(int(year), int(month), 1)
    except ValueError:
        raise ValueError("must be a month as YYYY-MM") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ValueError(f"is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return parsed


def months_between(first: date, last: date) -> list[date]:
    """The first days of every month from first's month to last's, inclusive."""
    months: list[date] = []
    cursor = month_start(first)
    while cursor <= last:
        months.append(cursor)
        cursor = next_month(cursor)
    return months


def full_months_before(today: date, count: int) -> list[date]:
    """The first days of the `count` whole months before today's month, oldest first."""
    return [add_months(today, -n) for n in range(count, 0, -1)]


def utc_day_start(day: date) -> datetime:
    """Midnight UTC at the start of day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def utc_day_end(day: date) -> datetime:
    """Midnight UTC at the end of day (the next day's start)."""
    return utc_day_start(day) + timedelta(days=1)


def parse_utc_time(value: str) -> datetime:
    """A bound of a time filter: a UTC day (YYYY-MM-DD, meaning its midnight UTC) or an
    RFC 3339 time with an offset, in UTC. ValueError (fit for the client) otherwise."""
    raw = value.strip()
    if _DATE.match(raw):
        return utc_day_start(parse_utc_day(raw))
    try:
        at = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" else raw)
    except ValueError:
        raise ValueError("must be a UTC day (YYYY-MM-DD) or an RFC 3339 time") from None
    if at.tzinfo is None or "T" not in raw.upper():
        raise ValueError("must be a UTC day (YYYY-MM-DD) or an RFC 3339 time with an offset")
    try:
        utc = at.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"is out of range (years {FIRST_YEAR} to {LAST_YEAR})") from None
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"is out of range (years {FIRST_YEAR} to {LAST_YEAR})")
    return utc
