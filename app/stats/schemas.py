"""Response models of the statistics API (the routes return plain JSON of these shapes).

They document and are checked against what is sent (tests/openapi_check.py), not used to
serialise it, so a type here changes the document, never a response.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.vocabulary import (
    Category,
    DecisionGround,
    FlagKind,
    OutcomeAction,
    Priority,
    ReportSource,
)


class _Range(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date_from: date = Field(alias="from", description="First UTC day counted")
    date_to: date = Field(alias="to", description="First UTC day not counted (exclusive)")
    group_by: list[str]


class OrgRef(BaseModel):
    """An organisation named in a statistic."""

    id: str
    name: str | None


class OutcomeGroup(BaseModel):
    """Closed flags of one group; only the grouped keys are present."""

    country: str | None = None
    agency: OrgRef | None = None
    platform: str | None = None
    kind: FlagKind | None = None
    category: Category | None = None
    action: OutcomeAction | None = None
    month: str | None = Field(default=None, description="YYYY-MM")
    day: str | None = Field(default=None, description="YYYY-MM-DD")
    ground: DecisionGround | None = Field(
        default=None, description="The statement of reasons' ground (outcomes with one only)"
    )
    scope: str | None = Field(
        default=None,
        description="`global` or an ISO 3166-1 country code of the statement's territorial "
        "scope (outcomes with a statement only; one withheld in two countries counts under "
        "each)",
    )
    count: int = Field(description="First outcomes: a contested flag counts with its first")
    contested: int | None = Field(
        description="Of these flags, how many their agency contested (null when grouped by "
        "ground or scope: contests are counted by flag, not by statement)"
    )
    overturned: int | None = Field(
        description="Of these flags, how many the reconsidered outcome overturned (one outcome "
        "acted on the account or its content, the other did not; null when grouped by ground "
        "or scope)"
    )


class OutcomeStats(_Range):
    """Counts of closed flags by the day (UTC) FlagBridge recorded their (first) outcome."""

    items: list[OutcomeGroup]
    total: int
    contested: int | None = Field(description="Sum of the items' contested")
    overturned: int | None = Field(description="Sum of the items' overturned")


class ReportGroup(BaseModel):
    """Self-reported totals of one group; only the grouped keys are present."""

    platform: str | None = None
    country: str | None = None
    category: Category | None = None
    action: OutcomeAction | None = None
    source: ReportSource | None = None
    month: str | None = Field(default=None, description="YYYY-MM the period starts in")
    count: int


class ReportStats(_Range):
    """Platforms' own totals, as they reported them (not verified by FlagBridge)."""

    self_reported: bool = True
    note: str
    items: list[ReportGroup]
    total: int


class TimeSummary(BaseModel):
    """How many responses and how long they took (seconds, from the histogram)."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


class ResponseTimeGroup(BaseModel):
    """Response times of one group; only the grouped keys are present."""

    platform: str | None = None
    priority: Priority | None = None
    kind: FlagKind | None = None
    acknowledge: TimeSummary
    outcome: TimeSummary
    overdue: int = Field(description="Live flags past their deadline now")


class ResponseTimeStats(_Range):
    """Time to acknowledge and to outcome, from when a flag reached the platform."""

    relative_error: float = Field(
        description="Percentiles are interpolated in log-scale buckets: within this share "
        "of the exact value (and within 1 s below one second)"
    )
    items: list[ResponseTimeGroup]


class AgencyHealth(BaseModel):
    """An agency's flags, all time, and the share that led to action."""

    agency: OrgRef
    country: str
    flags_sent: int
    live: int
    closed: int
    withdrawn: int
    actioned: int
    action_share: float | None = Field(description="actioned / closed")


class AgencyHealthList(BaseModel):
    """Every agency."""

    as_of: datetime
    items: list[AgencyHealth]


class PlatformHealth(BaseModel):
    """A platform's feed activity and backlog now."""

    platform: str
    organization: OrgRef
    last_feed_poll_at: datetime | None
    undelivered: int
    unacknowledged: int
    unanswered: int
    awaiting_agency: int
    overdue: int
    oldest_unanswered_at: datetime | None
    webhook: Literal["active", "disabled"] | None = Field(description="null: no webhook")


class PlatformHealthList(BaseModel):
    """Every platform."""

    as_of: datetime
    items: list[PlatformHealth]
