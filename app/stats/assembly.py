"""The public transparency report: figures gathered, suppressed in one place, laid out.

Every number of a published report passes through `assemble()`, which registers each count
and the sums that link the tables (the period's monthly breakdown included) with
`DisclosureControl` (app/stats/suppression.py) and prints only what it returns. Reports are
built only for whole, closed periods that never overlap (app/stats/publication.py), then
frozen: the page and the JSON are both read from the frozen document.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utc_now
from app.kit.countries import country_name
from app.orgs import repository as orgs
from app.stats import service as stats
from app.stats.i18n import N_
from app.stats.period import Period
from app.stats.public_schemas import (
    ActionCount,
    CountryCount,
    MonthCounts,
    MonthlySuspensions,
    PlatformCount,
    PlatformReportOut,
    ResponseTimeOut,
    SuppressionOut,
    TimingOut,
    TotalsOut,
    TransparencyReport,
)
from app.stats.suppression import PRIMARY, SECONDARY, THRESHOLD, DisclosureControl, Published
from app.vocabulary import OUTCOME_ACTIONS

SUSPENDED = "account_suspended"
ACTION_LABELS = {
    "account_suspended": N_("Account suspended"),
    "content_removed": N_("Content removed"),
    "account_restricted": N_("Account restricted"),
    "no_violation": N_("No violation found"),
    "account_not_found": N_("Account not found"),
    "insufficient_information": N_("Not enough information to decide"),
    "account_withheld_in_country": N_("Account withheld in some countries"),
}
"""How each outcome action (app/vocabulary.OUTCOME_ACTIONS, in that order) is printed: in
English in the reports, marked with N_ so the page's catalogues translate them."""
SUPPRESSION_NOTE = (
    "Counts from one to four are shown as <5. Where a total minus the counts shown beside "
    "it would give back such a count, one more count is withheld. Zero is shown as 0."
)


@dataclass
class Figures:
    """The exact figures of a period, as the statistics service returns them."""

    outcomes: list[dict[str, Any]]
    """Closed flags by country, platform, month and action ("count")."""
    self_reported: list[dict[str, Any]]
    """Platform-reported totals by platform, source and action ("count")."""
    response_times: list[dict[str, Any]]
    """Per platform: acknowledge and outcome {count, median_seconds, p90_seconds}."""
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


def _published_order(value: Published) -> tuple[int, int]:
    """Sort key on the published value only: a hidden cell's true size must not leak."""
    return (1, 0) if isinstance(value, str) else (0, -value)


def _sum_if_equal(
    control: DisclosureControl, values: Mapping[Hashable, int], total: Hashable, parts: list[Any]
) -> None:
    """Declare a sum the reader might assume, when it holds (declaring more only hides more)."""
    if parts and values[total] == sum(values[p] for p in parts):
        control.add_sum(total, parts)


@dataclass
class _Tally:
    """The exact figures of the period, summed the way the page shows them."""

    months: list[str]
    countries: set[str] = field(default_factory=set)
    platforms: set[str] = field(default_factory=set)
    by_country: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_platform: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    by_month: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    by_action: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_ACTIONS, 0))
    self_reported: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    timings: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    contested: int = 0
    overturned: int = 0


def _tally(figures: Figures, months: list[str]) -> _Tally:
    """Suspensions by country, platform and month, outcomes by action, self-reports."""
    t = _Tally(months)
    month_set = set(months)
    for row in figures.outcomes:
        count = int(row["count"])
        month = str(row["month"])[:7]
        if month not in month_set or count <= 0:
            continue
        country, platform, action = str(row["country"]), str(row["platform"]), str(row["action"])
        t.countries.add(country)
        t.platforms.add(platform)
        t.by_action[action] = t.by_action.get(action, 0) + count
        t.contested += int(row.get("contested", 0))
        t.overturned += int(row.get("overturned", 0))
        if action == SUSPENDED:
            t.by_country[country] += count
            t.by_platform[platform] += count
            t.by_month[(month, platform)] += count
    for row in figures.self_reported:
        if row.get("action", SUSPENDED) != SUSPENDED:
            continue
        platform = str(row["platform"])
        source = "own_detection" if row.get("source") == "own_detection" else "other"
        t.self_reported[(platform, source)] += int(row["count"])
        t.platforms.add(platform)
    # "overdue" counts flags late *now*, whatever the period: a frozen report leaves it out,
    # and a platform with nothing but overdue flags has no timings in the period.
    t.timings = {
        str(row.get("key", row.get("platform"))): row
        for row in figures.response_times
        if int(row["acknowledge"]["count"]) or int(row["outcome"]["count"])
    }
    t.platforms.update(t.timings)
    return t


SUSPENSIONS: Hashable = ("total", "suspensions")
ANSWERED: Hashable = ("total", "answered")
SELF_TOTAL: Hashable = ("total", "self_reported")
CONTESTED: Hashable = ("total", "contested")
OVERTURNED: Hashable = ("total", "overturned")


def _register(t: _Tally) -> tuple[DisclosureControl, dict[Hashable, int]]:
    """Every count as a cell of the disclosure control, and every sum a reader can see."""
    control = DisclosureControl()
    values: dict[Hashable, int] = {}

    def cell(key: Hashable, value: int, *, headline: bool = False) -> Hashable:
        values[key] = value
        return control.cell(key, value, headline=headline)

    suspensions = cell(SUSPENSIONS, sum(t.by_country.values()), headline=True)
    answered = cell(ANSWERED, sum(t.by_action.values()), headline=True)
    # Counts of their own (no published sum holds them), suppressed like every cell.
    cell(CONTESTED, t.contested, headline=True)
    cell(OVERTURNED, t.overturned, headline=True)
    country_keys = [cell(("country", c), t.by_country.get(c, 0)) for c in sorted(t.countries)]
    platforms = sorted(t.platforms)
    platform_keys = [cell(("platform", p), t.by_platform.get(p, 0)) for p in platforms]
    control.add_sum(suspensions, country_keys)
    control.add_sum(suspensions, platform_keys)
    for p in platforms:
        month_keys = [cell(("month", m, p), t.by_month.get((m, p), 0)) for m in t.months]
        control.add_sum(("platform", p), month_keys)
    action_keys = [cell(("action", a), n) for a, n in t.by_action.items()]
    control.add_sum(answered, action_keys)
    control.add_sum(("action", SUSPENDED), [suspensions])
    self_totals = []
    for p in platforms:
        own = cell(("self", p, "own_detection"), t.self_reported.get((p, "own_detection"), 0))
        other = cell(("self", p, "other"), t.self_reported.get((p, "other"), 0))
        total = cell(("self", p, "total"), values[own] + values[other])
        control.add_sum(total, [own, other])
        self_totals.append(total)
    self_total = cell(SELF_TOTAL, sum(values[k] for k in self_totals), headline=True)
    control.add_sum(self_total, self_totals)
    outcome_ns = []
    for p, row in t.timings.items():
        cell(("ack_n", p), int(row["acknowledge"]["count"]))
        outcome_ns.append(cell(("outcome_n", p), int(row["outcome"]["count"])))
    # Response-time counts are not defined as a share of the answered flags, but if they
    # add up to the headline anyway a reader could difference them: protect that too.
    _sum_if_equal(control, values, answered, outcome_ns)
    return control, values


def assemble(
    figures: Figures, *, period: Period, revision: int, generated_at: datetime
) -> TransparencyReport:
    """The published report: every count registered, linked, suppressed, then laid out."""
    t = _tally(figures, period.months)
    control, values = _register(t)
    shown = control.protect()
    names = figures.platform_names

    def platform_name(slug: str) -> str:
        return names.get(slug, slug)

    country_rows = sorted(
        (
            CountryCount(country=c, name=country_name(c), count=shown[("country", c)])
            for c in t.countries
        ),
        key=lambda r: (_published_order(r.count), r.name),
    )
    platform_rows = sorted(
        (
            PlatformCount(platform=p, name=platform_name(p), count=shown[("platform", p)])
            for p in t.platforms
        ),
        key=lambda r: (_published_order(r.count), r.name),
    )
    order = [r.platform for r in platform_rows]
    monthly = MonthlySuspensions(
        platforms=platform_rows,
        months=[
            MonthCounts(month=m, counts={p: shown[("month", m, p)] for p in order})
            for m in t.months
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
    times = [_timing_row(p, platform_name(p), t.timings[p], shown) for p in order if p in t.timings]
    return TransparencyReport(
        revision=revision,
        generated_at=generated_at,
        period=period.out(),
        suppression=SuppressionOut(
            threshold=THRESHOLD, primary=PRIMARY, secondary=SECONDARY, note=SUPPRESSION_NOTE
        ),
        totals=TotalsOut(
            flags_answered=shown[ANSWERED],
            suspensions=shown[SUSPENSIONS],
            self_reported_suspensions=shown[SELF_TOTAL],
            contested=shown[CONTESTED],
            overturned=shown[OVERTURNED],
        ),
        suspensions_by_country=country_rows,
        suspensions_by_platform=platform_rows,
        suspensions_by_month=monthly,
        outcomes_by_action=[
            ActionCount(action=a, label=ACTION_LABELS.get(a, a), count=shown[("action", a)])
            for a in t.by_action
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
    )


async def build_report(
    *,
    session: AsyncSession,
    period: Period,
    revision: int = 1,
    generated_at: datetime | None = None,
) -> TransparencyReport:
    """Gather and assemble the report of a period, as of now.

    Assembling runs the disclosure control (exact linear algebra and a small simplex in
    pure Python), which on sparse data over many months and platforms can take seconds:
    it runs in a worker thread so the event loop keeps serving the API meanwhile."""
    figures = await collect(session=session, period=period)
    return await anyio.to_thread.run_sync(
        functools.partial(
            assemble,
            figures,
            period=period,
            revision=revision,
            generated_at=generated_at or utc_now(),
        )
    )
