"""The one clock and the one timestamp format of every response, log and audit entry."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def rfc3339(value: datetime | None) -> str | None:
    """RFC 3339 in UTC to the microsecond with a `Z` (`2018-11-06T09:46:00.000000Z`).

    The same text the SQL function `fb_ts` produces, so a time rendered in Python and one
    rendered by PostgreSQL compare equal as strings.
    """
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
