"""The published shapes: a frozen report (schema `flagbridge.transparency.v2`), its signed
envelope, and the index at `/transparency.json`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from app.kit.clock import rfc3339
from app.kit.schemas import Omitted

Count = Annotated[
    int | Literal["<5", "withheld"],
    Field(
        description='A count as published: the number, "<5" for one to four, or "withheld" '
        '(hidden so that a total cannot give back a "<5" cell: five or more, except a total '
        'over nothing but "<5" cells, withheld as a last resort).'
    ),
]

Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    Field(json_schema_extra={"format": "date-time"}),
]
"""Sent as the one timestamp format (microseconds and Z), like every other time."""


class _Out(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class PeriodOut(_Out):
    """The calendar months covered, both ends included."""

    id: str = Field(
        description="The period's name: a half-year, quarter or year",
        examples=["2026-H1", "2026-Q3", "2026"],
    )
    from_: str = Field(alias="from", description="First month, YYYY-MM", examples=["2026-01"])
    to: str = Field(description="Last month, YYYY-MM", examples=["2026-06"])
    label: str = Field(examples=["January 2026 to June 2026"])


class SuppressionOut(_Out):
    """The disclosure rule applied to every count in the document."""

    threshold: int = Field(description="Counts from one up to threshold - 1 are hidden")
    primary: Literal["<5"]
    secondary: Literal["withheld"]
    note: str


class TotalsOut(_Out):
    """Headline figures of the period."""

    flags_answered: Count = Field(description="Flags a platform closed with an outcome")
    suspensions: Count = Field(description="Flags whose outcome was account_suspended")
    self_reported_suspensions: Count = Field(
        description="Suspensions the platforms reported themselves (all sources); not verified"
    )
    # Left out of reports published before contests were counted.
    contested: Count | Omitted = Field(
        default=None, description="Of the flags answered, outcomes their agency contested"
    )
    overturned: Count | Omitted = Field(
        default=None,
        description="Of those, outcomes the platform's reconsidered outcome overturned",
    )


class CountryCount(_Out):
    """Suspensions following flags from agencies of one country."""

    country: str = Field(description="ISO 3166-1 alpha-2 code of the flagging agency")
    name: str
    count: Count


class PlatformCount(_Out):
    """Suspensions following flags, on one platform."""

    platform: str = Field(description="Platform slug")
    name: str
    count: Count


class MonthCounts(_Out):
    """Suspensions following flags in one month, per platform slug."""

    month: str = Field(description="YYYY-MM")
    counts: dict[str, Count]


class MonthlySuspensions(_Out):
    """Suspensions per month, stacked by platform."""

    platforms: list[PlatformCount] = Field(description="The platforms, in stacking order")
    months: list[MonthCounts]


class ActionCount(_Out):
    """Flags closed with one outcome action."""

    action: str
    label: str
    count: Count


class PlatformReportOut(_Out):
    """One platform's flag outcomes beside the totals it reported itself."""

    platform: str
    name: str
    flagged_suspensions: Count = Field(description="Suspensions following flags (FlagBridge)")
    self_reported_own_detection: Count = Field(
        description="Self-reported suspensions found by the platform's own tools"
    )
    self_reported_other: Count = Field(description="Self-reported suspensions from elsewhere")
    self_reported_total: Count


class TimingOut(_Out):
    """How long one step took, over the flags of the period that reached it."""

    flags: Count
    median_seconds: float | None = Field(description="null when fewer than five flags")
    p90_seconds: float | None = Field(description="null when fewer than five flags")


class ResponseTimeOut(_Out):
    """A platform's time to acknowledge and to outcome."""

    platform: str
    name: str
    acknowledge: TimingOut
    outcome: TimingOut


class TransparencyReport(_Out):
    """One period's published report, as frozen and signed: every count suppressed alike."""

    schema_: Literal["flagbridge.transparency.v2"] = Field(
        alias="schema", default="flagbridge.transparency.v2"
    )
    revision: int = Field(ge=1, description="1, then one more for each published correction")
    generated_at: Timestamp = Field(description="When this revision was built and signed")
    period: PeriodOut
    suppression: SuppressionOut
    totals: TotalsOut
    suspensions_by_country: list[CountryCount]
    suspensions_by_platform: list[PlatformCount]
    suspensions_by_month: MonthlySuspensions
    outcomes_by_action: list[ActionCount]
    platform_reports: list[PlatformReportOut]
    response_times: list[ResponseTimeOut]


class SignedReport(_Out):
    """A frozen report and its signature: compact JWS (ES256, `kid` in the JWKS) whose
    payload is the report's canonical JSON."""

    report: TransparencyReport
    signature: str = Field(description="Compact JWS; its payload is the report, canonical")


class PublishedReportRef(_Out):
    """One published revision of a period's report, and where to fetch it."""

    period: PeriodOut
    revision: int
    published_at: Timestamp
    kid: str = Field(description="The key that signed it (JWKS, or the key history)")
    url: str = Field(examples=["/transparency/reports/2026-H1.json?revision=1"])
    suspensions: Count = Field(description="The report's headline figure, as published")


class TransparencyIndex(_Out):
    """Every published report (every revision, oldest period first) and the newest one."""

    schema_: Literal["flagbridge.transparency-index.v1"] = Field(
        alias="schema", default="flagbridge.transparency-index.v1"
    )
    reports: list[PublishedReportRef]
    latest: TransparencyReport | None = Field(
        description="The newest revision of the newest period's report (null before the first)"
    )
