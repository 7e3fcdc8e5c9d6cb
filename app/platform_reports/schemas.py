"""Request and response models of platform reports."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator

from app.kit.countries import ISO_3166_ALPHA2
from app.kit.days import parse_utc_day
from app.kit.schemas import StrictModel
from app.vocabulary import Category, OutcomeAction, ReportSource

MAX_ROWS = 2000
MAX_COUNT = 1_000_000_000
MAX_PERIOD_DAYS = 366


class ReportRowIn(StrictModel):
    """How many accounts the platform actioned for one country, category, action, source."""

    country: str | None = Field(
        default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2, if known"
    )
    category: Category
    action: OutcomeAction
    count: int = Field(ge=0, le=MAX_COUNT)
    source: ReportSource = Field(
        description="own_detection: found by the platform itself; other: everything else "
        "(user reports, governments outside FlagBridge, ...)"
    )

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if code not in ISO_3166_ALPHA2:
            raise ValueError("must be an ISO 3166-1 alpha-2 country code")
        return code


class PlatformReportIn(StrictModel):
    """A platform's totals for [period_start, period_end): end exclusive, UTC days."""

    period_start: date = Field(description="First day: YYYY-MM-DD (or midnight UTC)")
    period_end: date = Field(description="First day after the period (exclusive)")
    rows: list[ReportRowIn] = Field(min_length=1, max_length=MAX_ROWS)

    @field_validator("period_start", "period_end", mode="before")
    @classmethod
    def _day(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_utc_day(value)
        return value


class ReportRowOut(BaseModel):
    """One row of a report as stored."""

    country: str | None
    category: str
    action: str
    source: str
    count: int


class ReportSummary(BaseModel):
    """A stored report without its rows."""

    id: str
    platform: str
    period_start: date
    period_end: date
    revision: int = Field(description="1, then +1 each time the period is resubmitted")
    submitted_at: str
    updated_at: str
    row_count: int
    total: int
    own_detection_total: int


class PlatformReportOut(ReportSummary):
    """A stored report with its rows."""

    rows: list[ReportRowOut]


class ReportPage(BaseModel):
    """A page of the platform's reports, newest period first."""

    items: list[ReportSummary]
    next_cursor: str | None
