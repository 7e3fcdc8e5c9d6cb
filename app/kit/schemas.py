"""Building blocks of request models: strictness, text PostgreSQL can store, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, field_validator
from pydantic.json_schema import SkipJsonSchema


def _storable(value: Any) -> Any:
    # PostgreSQL text and jsonb cannot hold U+0000; refuse it here, naming the field,
    # instead of failing in the database.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    if isinstance(value, list):
        # Strings in lists; nested models check themselves, and raw dicts (batch items)
        # are validated one by one later, so one bad item fails alone.
        for item in value:
            if isinstance(item, str):
                _storable(item)
    return value


class StrictModel(BaseModel):
    """Request models refuse unknown fields (identity and status never come from the body)
    and text that PostgreSQL cannot store."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return _storable(value)


def to_utc(value: datetime) -> datetime:
    """Convert to UTC; a time that leaves the representable range is invalid, not an error."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is outside the supported range of dates") from exc
    if not 1900 <= utc.year <= 9998:
        raise ValueError("must be between the years 1900 and 9998")
    return utc


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""A timestamp with an offset (RFC 3339), normalised to UTC and kept to sane years."""

Omitted = SkipJsonSchema[None]
"""`X | Omitted = None`: a response member left out, never sent as null, when it does not
apply; the published schema shows X alone, not optional null."""
