"""The one query-parameter type of every time filter: a UTC day or an RFC 3339 time.

`GET /v1/flags?submitted_after=2026-11-01` and `GET /v1/audit?from=2026-11-01T08:00:00Z`
read the same way the statistics routes do: a bare day means its midnight UTC (so a lower
bound includes the day and an exclusive upper bound stops before it). Anything else is a
422 naming the parameter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from app.kit.days import parse_utc_time


def _validate(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must carry a time zone offset (RFC 3339)")
        return parse_utc_time(value.isoformat())
    if not isinstance(value, str):
        raise ValueError("must be a UTC day (YYYY-MM-DD) or an RFC 3339 time")
    return parse_utc_time(value)


UtcDayOrTime = Annotated[
    datetime,
    PlainValidator(_validate),
    WithJsonSchema(
        {
            "type": "string",
            "description": "A UTC day (YYYY-MM-DD, meaning its midnight UTC) or an RFC 3339 "
            "time with an offset",
            "examples": ["2026-11-01", "2026-11-01T08:00:00Z"],
        }
    ),
]
"""A time filter's bound in UTC, from a UTC day or an RFC 3339 time."""
