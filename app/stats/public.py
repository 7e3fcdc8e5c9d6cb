"""The public transparency report: figures gathered, suppressed in one place, and charted.

Every number that reaches `/transparency` or `/transparency.json` passes through
`assemble()`, which registers each count and the sums that link the tables with
`DisclosureControl` (app/stats/suppression.py) and prints only what it returns. The page is
rendered from the same report object as the JSON, so the two cannot disagree.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Unprocessable
from app.kit.countries import country_name
from app.orgs import repository as orgs
from app.stats import charts
from app.stats import service as stats
from app.stats.public_schemas import (
    ActionCount,
    CountryCount,
    MonthCounts,
    MonthlySuspensions,
    PeriodOut,
    PlatformCount,
    PlatformReportOut,
    ResponseTimeOut,
    SuppressionOut,
    TimingOut,
    TotalsOut,
    TransparencyReport,
)
from app.stats.suppression import PRIMARY, SECONDARY, THRESHOLD, DisclosureControl, Published

SUSPENDED = "account_suspended"
ACTION_LABELS = {
    "account_suspended": "Account suspended",
    "content_removed": "Content removed",
    "account_restricted": "Account restricted",
    "no_violation": "No violation found",
    "account_not_found": "Account not found",
    "insufficient_information": "Not enough information to decide",
}
DEFAULT_MONTHS = 24
HALF_WIDTH = 460  # charts that sit side by side on wide screens
MAX_MONTHS = 120
EARLIEST_YEAR = 2000
SUPPRESSION_NOTE = (
    "Counts from one to four are shown as <5. Where a total minus the counts shown beside "
    "it would give back such a count, one more count is withheld. Zero is shown as 0."
)


# -- the period -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Whole calendar months, first to last inclusive."""

    first: date
    last: date

    @property
    def months(self) -> list[str]:
        """Every month of the period as YYYY-MM."""
        return charts.months_between(self.first, self.last)

    @property
    def date_from(self) -> date:
        """First day of the period."""
        return self.first

    @property
    def date_to(self) -> date:
        """First day after the period (exclusive end)."""
        return _add_months(self.last, 1)

    @property
    def label(self) -> str:
        """ "July 2023 to June 2025"."""
        first, last = charts.month_label(_ym(self.first)), charts.month_label(_ym(self.last))
        return first if first == last else f"{first} to {last}"

    def out(self) -> PeriodOut:
        """The period as published."""
        return PeriodOut.model_validate(
            {"from": _ym(self.first), "to": _ym(self.last), "label": self.label}
        )


def _ym(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _add_months(d: date, n: int) -> date:
    index = d.year * 12 + d.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _parse_month(value: str, name: str) -> date:
    try:
        year, month = value.split("-")
        parsed = date(int(year), int(month), 1)
    except ValueError:
        raise _bad(name, "must be a month as YYYY-MM") from None
    if len(year) != 4 or len(month) != 2:
        raise _bad(name, "must be a month as YYYY-MM")
    return parsed


def _bad(name: str, message: str) -> Unprocessable:
    return Unprocessable(f"Invalid input: {name}", errors=[{"field": name, "message": message}])


def parse_period(
    *, month_from: str | None, month_to: str | None, year: int | None, today: date
) -> Period:
    """The period a visitor asked for; by default the last 24 months including this one."""
    current = date(today.year, today.month, 1)
    if year is not None:
        if month_from is not None or month_to is not None:
            raise _bad("year", "give either year or from/to, not both")
        first, last = date(year, 1, 1), min(date(year, 12, 1), current)
    else:
        last = _parse_month(month_to, "to") if month_to else current
        first = (
            _parse_month(month_from, "from")
            if month_from
            else _add_months(last, -(DEFAULT_MONTHS - 1))
        )
    if first.year < EARLIEST_YEAR:
        raise _bad("from" if year is None else "year", f"must not be before {EARLIEST_YEAR}")
    if last > current or first > current:
        raise _bad("to" if year is None else "year", "must not be after the current month")
    if first > last:
        raise _bad("from", "must not be after to")
    if len(charts.months_between(first, last)) > MAX_MONTHS:
        raise _bad("from", f"the period can be at most {MAX_MONTHS} months")
    return Period(first, last)


# -- gathering ------------------------------------------------------------------------


@dataclass
class Figures:
    """The exact figures of a period, as the statistics service returns them."""

    outcomes: list[dict[str, Any]]
    """Closed flags by country, platform, month and action ("count")."""
    self_reported: list[dict[str, Any]]
    """Platform-reported totals by platform, source and action ("count")."""
    response_times: list[dict[str, Any]]
    """Per platform: acknowledge and outcome {count, median_seconds, p90_seconds}, overdue."""
    platform_names: dict[str, str] = field(default_factory=dict)


async def collect(*, session: AsyncSession, period: Period) -> Figures:
    """Ask the statistics service for everything the page shows."""
    start, end = period.date_from, period.date_to
    outcomes = await stats.outcome_counts(
        session=session,
        date_from=start,
        date_to=end,
        group_by=["country", "platform", "month", "action"],
    )
    reported = await stats.platform_report_counts(
        session=session, date_from=start, date_to=end, group_by=["platform", "source", "action"]
    )
    times = await stats.response_times(
        session=session, date_from=start, date_to=end, group_by="platform"
    )
    return Figures(
        outcomes=list(outcomes),
        self_reported=list(reported),
        response_times=list(times),
        platform_names=await orgs.platform_names(session),
    )


# -- suppression and assembly ---------------------------------------------------------


def _published_order(value: Published) -> tuple[int, int]:
    """Sort key on the published value only: a hidden cell's true size must not leak."""
    return (1, 0) if isinstance(value, str) else (0, -value)


def _sum_if_equal(
    control: DisclosureControl, values: Mapping[Hashable, int], total: Hashable, parts: list[Any]
) -> None:
    """Declare a sum the reader might assume, when it holds (declaring more only hides more)."""
    if parts and values[total] == sum(values[p] for p in parts):
        control.add_sum(total, parts)


def assemble(figures: Figures, *, period: Period, generated_at: datetime) -> TransparencyReport:
    """The published report: every count registered, linked, suppressed, then laid out."""
    months = period.months
    month_set = set(months)
    by_country: dict[str, int] = defaultdict(int)
    by_platform: dict[str, int] = defaultdict(int)
    by_month: dict[tuple[str, str], int] = defaultdict(int)
    by_action: dict[str, int] = dict.fromkeys(ACTION_LABELS, 0)
    countries: set[str] = set()
    platforms: set[str] = set()
    for row in figures.outcomes:
        count = int(row["count"])
        month = str(row["month"])[:7]
        if month not in month_set or count <= 0:
            continue
        country, platform, action = str(row["country"]), str(row["platform"]), str(row["action"])
        countries.add(country)
        platforms.add(platform)
        by_action[action] = by_action.get(action, 0) + count
        if action == SUSPENDED:
            by_country[country] += count
            by_platform[platform] += count
            by_month[(month, platform)] += count
    self_reported: dict[tuple[str, str], int] = defaultdict(int)
    for row in figures.self_reported:
        if row.get("action", SUSPENDED) != SUSPENDED:
            continue
        platform = str(row["platform"])
        source = "own_detection" if row.get("source") == "own_detection" else "other"
        self_reported[(platform, source)] += int(row["count"])
        platforms.add(platform)
    timings = {str(row.get("key", row.get("platform"))): row for row in figures.response_times}
    platforms.update(timings)

    control = DisclosureControl()
    values: dict[Hashable, int] = {}

    def cell(key: Hashable, value: int, *, headline: bool = False) -> Hashable:
        values[key] = value
        return control.cell(key, value, headline=headline)

    suspensions = cell(("total", "suspensions"), sum(by_country.values()), headline=True)
    answered = cell(("total", "answered"), sum(by_action.values()), headline=True)
    country_keys = [cell(("country", c), by_country.get(c, 0)) for c in sorted(countries)]
    platform_keys = [cell(("platform", p), by_platform.get(p, 0)) for p in sorted(platforms)]
    control.add_sum(suspensions, country_keys)
    control.add_sum(suspensions, platform_keys)
    for p in sorted(platforms):
        month_keys = [cell(("month", m, p), by_month.get((m, p), 0)) for m in months]
        control.add_sum(("platform", p), month_keys)
    action_keys = [cell(("action", a), n) for a, n in by_action.items()]
    control.add_sum(answered, action_keys)
    control.add_sum(("action", SUSPENDED), [suspensions])
    self_totals = []
    for p in sorted(platforms):
        own = cell(("self", p, "own_detection"), self_reported.get((p, "own_detection"), 0))
        other = cell(("self", p, "other"), self_reported.get((p, "other"), 0))
        total = cell(("self", p, "total"), values[own] + values[other])
        control.add_sum(total, [own, other])
        self_totals.append(total)
    self_total = cell(
        ("total", "self_reported"), sum(values[k] for k in self_totals), headline=True
    )
    control.add_sum(self_total, self_totals)
    outcome_ns = []
    for p, row in timings.items():
        cell(("ack_n", p), int(row["acknowledge"]["count"]))
        outcome_ns.append(cell(("outcome_n", p), int(row["outcome"]["count"])))
        cell(("overdue", p), int(row.get("overdue", 0)))
    # Response-time counts are not defined as a share of the answered flags, but if they
    # add up to the headline anyway a reader could difference them: protect that too.
    _sum_if_equal(control, values, answered, outcome_ns)

    shown = control.protect()
    names = figures.platform_names

    def platform_name(slug: str) -> str:
        return names.get(slug, slug)

    country_rows = sorted(
        (
            CountryCount(country=c, name=country_name(c), count=shown[("country", c)])
            for c in countries
        ),
        key=lambda r: (_published_order(r.count), r.name),
    )
    platform_rows = sorted(
        (
            PlatformCount(platform=p, name=platform_name(p), count=shown[("platform", p)])
            for p in platforms
        ),
        key=lambda r: (_published_order(r.count), r.name),
    )
    order = [r.platform for r in platform_rows]
    monthly = MonthlySuspensions(
        platforms=platform_rows,
        months=[
            MonthCounts(month=m, counts={p: shown[("month", m, p)] for p in order}) for m in months
        ],
    )
    reports = [
        PlatformReportOut(
            platform=p,
            name=platform_name(p),
            flagged_suspensions=shown[("platform", p)],
            self_reported_own_detection=shown[("self", p, "own_detection")],
            self_reported_other=shown[("self", p, "other")],
            self_reported_total=shown[("self", p, "total")],
        )
        for p in order
        if values[("self", p, "total")] > 0
    ]
    times = [_timing_row(p, platform_name(p), timings[p], shown) for p in order if p in timings]
    return TransparencyReport(
        generated_at=generated_at,
        period=period.out(),
        suppression=SuppressionOut(
            threshold=THRESHOLD, primary=PRIMARY, secondary=SECONDARY, note=SUPPRESSION_NOTE
        ),
        totals=TotalsOut(
            flags_answered=shown[answered],
            suspensions=shown[suspensions],
            self_reported_suspensions=shown[self_total],
        ),
        suspensions_by_country=country_rows,
        suspensions_by_platform=platform_rows,
        suspensions_by_month=monthly,
        outcomes_by_action=[
            ActionCount(action=a, label=ACTION_LABELS.get(a, a), count=shown[("action", a)])
            for a in by_action
        ],
        platform_reports=reports,
        response_times=times,
    )


def _timing(step: Mapping[str, Any], flags: Published) -> TimingOut:
    """Median and 90th percentile, only over five flags or more (else both null)."""
    enough = isinstance(flags, int) and flags >= THRESHOLD
    return TimingOut(
        flags=flags,
        median_seconds=_seconds(step.get("median_seconds")) if enough else None,
        p90_seconds=_seconds(step.get("p90_seconds")) if enough else None,
    )


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _timing_row(
    platform: str, name: str, row: Mapping[str, Any], shown: Mapping[Hashable, Published]
) -> ResponseTimeOut:
    return ResponseTimeOut(
        platform=platform,
        name=name,
        acknowledge=_timing(row["acknowledge"], shown[("ack_n", platform)]),
        outcome=_timing(row["outcome"], shown[("outcome_n", platform)]),
        overdue=shown[("overdue", platform)],
    )


async def build_report(*, session: AsyncSession, period: Period) -> TransparencyReport:
    """Gather and assemble the report of a period, as of now.

    Assembling runs the disclosure control (exact linear algebra and a small simplex in
    pure Python), which on sparse data over many months and platforms can take seconds:
    it runs in a worker thread so the event loop keeps serving the API meanwhile."""
    figures = await collect(session=session, period=period)
    return await anyio.to_thread.run_sync(
        functools.partial(assemble, figures, period=period, generated_at=datetime.now(UTC))
    )


class ReportCache:
    """Recent reports by period, so public traffic costs a few queries a minute at most."""

    def __init__(self, *, ttl_seconds: float = 60.0, max_entries: int = 64) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[Period, tuple[float, TransparencyReport]] = {}
        # One uncached build at a time per process: anonymous visitors stepping through
        # periods queue behind each other instead of taking every core.
        self.build_slot = asyncio.Semaphore(1)

    def get(self, period: Period) -> TransparencyReport | None:
        """The cached report of the period, if still fresh."""
        entry = self._entries.get(period)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, period: Period, report: TransparencyReport) -> None:
        """Keep a report for ttl seconds; the oldest entries make room."""
        if len(self._entries) >= self.max_entries:
            for key in sorted(self._entries, key=lambda k: self._entries[k][0])[
                : len(self._entries) - self.max_entries + 1
            ]:
                del self._entries[key]
        self._entries[period] = (time.monotonic() + self.ttl, report)


# -- the page -------------------------------------------------------------------------


def _year_links(today: date) -> list[int]:
    return [today.year - i for i in range(0, 4)]


def page_context(
    report: TransparencyReport, *, today: date, selected_year: int | None, default_period: bool
) -> dict[str, Any]:
    """What the template needs: the report, its charts and the period choices."""
    months = [m.month for m in report.suspensions_by_month.months]
    platforms = report.suspensions_by_month.platforms
    generated = report.generated_at.astimezone(UTC)
    return {
        "report": report,
        "current_month": _ym(today),
        "selected_year": selected_year,
        "default_period": default_period,
        "generated_label": f"{generated.day} {charts.MONTH_NAMES[generated.month - 1]} "
        f"{generated.year}, {generated:%H:%M}",
        "year_links": _year_links(today),
        "query": f"from={report.period.from_}&to={report.period.to}",
        "format_count": charts.format_count,
        "format_duration": charts.format_duration,
        "iso_duration": charts.iso_duration,
        "month_label": charts.month_label,
        "charts": {
            "country": charts.bar_chart(
                chart_id="chart-country",
                title="Suspensions following flags, by flagging country",
                description=_describe(
                    "Accounts suspended by platforms after a flag from an agency of each country",
                    ((r.name, r.count) for r in report.suspensions_by_country),
                ),
                bars=[charts.Bar(r.name, r.count) for r in report.suspensions_by_country],
                width=HALF_WIDTH,
            ),
            "platform": charts.bar_chart(
                chart_id="chart-platform",
                title="Suspensions following flags, by platform",
                description=_describe(
                    "Accounts suspended after a flag, by the platform that suspended them",
                    ((r.name, r.count) for r in report.suspensions_by_platform),
                ),
                bars=[charts.Bar(r.name, r.count) for r in report.suspensions_by_platform],
                width=HALF_WIDTH,
            ),
            "monthly": charts.monthly_stacked_chart(
                chart_id="chart-monthly",
                title="Suspensions following flags, by month and platform",
                description="Columns per month, stacked by platform; the table below "
                "gives every value.",
                months=months,
                series=[
                    charts.Series(
                        p.name, [m.counts[p.platform] for m in report.suspensions_by_month.months]
                    )
                    for p in platforms
                ],
            ),
            "actions": charts.bar_chart(
                chart_id="chart-actions",
                title="Outcomes of flags, by action taken",
                description=_describe(
                    "Flags closed in the period by what the platform did",
                    ((r.label, r.count) for r in report.outcomes_by_action),
                ),
                bars=[charts.Bar(r.label, r.count) for r in report.outcomes_by_action],
            ),
            "self_reported": charts.grouped_bar_chart(
                chart_id="chart-self-reported",
                title="Suspensions after flags beside those self-reported by platforms",
                description="For each platform: accounts suspended after a flag through "
                "FlagBridge, and the totals the platform reported itself, split into accounts "
                "found by its own tools and all other sources (self-reported, not verified).",
                groups=[r.name for r in report.platform_reports],
                series=[
                    charts.Series(
                        "After flags (FlagBridge)",
                        [r.flagged_suspensions for r in report.platform_reports],
                    ),
                    charts.Series(
                        "Self-reported: own detection",
                        [r.self_reported_own_detection for r in report.platform_reports],
                    ),
                    charts.Series(
                        "Self-reported: other",
                        [r.self_reported_other for r in report.platform_reports],
                    ),
                ],
                kind="count",
                empty_message="No platform has reported totals for this period",
            ),
            "response": charts.grouped_bar_chart(
                chart_id="chart-response",
                title="Median response times, by platform",
                description="Median time from delivery of a flag to its acknowledgement and "
                "to its outcome; medians over fewer than five flags are not shown.",
                groups=[r.name for r in report.response_times],
                series=[
                    charts.Series(
                        "To acknowledge",
                        [r.acknowledge.median_seconds for r in report.response_times],
                    ),
                    charts.Series(
                        "To outcome", [r.outcome.median_seconds for r in report.response_times]
                    ),
                ],
                kind="duration",
                missing_text="not shown: under five flags",
            ),
        },
    }


def _describe(lead: str, items: Iterable[tuple[str, Published]]) -> str:
    """A chart's text alternative: what it shows and its values in order."""
    listed = "; ".join(f"{name}: {charts.format_count(value)}" for name, value in items)
    return f"{lead}. {listed}." if listed else f"{lead}. No data for this period."
