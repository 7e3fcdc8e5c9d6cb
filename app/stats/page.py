"""What the transparency page's template needs: the published reports, one report, charts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from app.stats import charts
from app.stats.public_schemas import (
    CountryCount,
    PlatformCount,
    PublishedReportRef,
    TransparencyReport,
)
from app.stats.publication import PublicView
from app.stats.suppression import Published

HALF_WIDTH = 460  # charts that sit side by side on wide screens


def page_context(view: PublicView) -> dict[str, Any]:
    """What the template needs: the published reports, the one shown, and its charts."""
    newest: dict[str, PublishedReportRef] = {}
    for ref in view.index.reports:
        newest[ref.period.id] = ref  # revisions come in order: the last one stays
    report = view.report
    context: dict[str, Any] = {
        "report": report,
        "published": list(reversed(newest.values())),
        "revisions": [r for r in view.index.reports if report and r.period.id == report.period.id],
        "format_count": charts.format_count,
        "format_duration": charts.format_duration,
        "iso_duration": charts.iso_duration,
        "month_label": charts.month_label,
        # Only published cells: each period's headline, as its newest revision printed it.
        "trend": _count_bars(
            "chart-periods",
            "Suspensions following flags, by reporting period",
            "Accounts suspended after a flag in each published reporting period",
            [(ref.period.id, ref.suspensions) for ref in newest.values()],
        ),
    }
    if report is None:
        return context
    generated = report.generated_at.astimezone(UTC)
    return context | _report_context(report, generated)


def _report_context(report: TransparencyReport, generated: datetime) -> dict[str, Any]:
    months = [m.month for m in report.suspensions_by_month.months]
    platforms = report.suspensions_by_month.platforms
    return {
        "generated_label": f"{generated.day} {charts.MONTH_NAMES[generated.month - 1]} "
        f"{generated.year}, {generated:%H:%M}",
        "report_url": f"/transparency/reports/{report.period.id}.json?revision={report.revision}",
        "charts": {
            "country": _suspension_bars(
                "chart-country",
                "by flagging country",
                "Accounts suspended by platforms after a flag from an agency of each country",
                report.suspensions_by_country,
            ),
            "platform": _suspension_bars(
                "chart-platform",
                "by platform",
                "Accounts suspended after a flag, by the platform that suspended them",
                report.suspensions_by_platform,
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
            "actions": _count_bars(
                "chart-actions",
                "Outcomes of flags, by action taken",
                "Flags closed in the period by what the platform did",
                [(r.label, r.count) for r in report.outcomes_by_action],
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


def _count_bars(
    chart_id: str,
    title: str,
    lead: str,
    items: list[tuple[str, Published]],
    width: float = charts.WIDTH,
) -> Markup:
    """A bar chart of published counts, described by its lead and its values."""
    return charts.bar_chart(
        chart_id=chart_id,
        title=title,
        description=_describe(lead, items),
        bars=[charts.Bar(name, count) for name, count in items],
        width=width,
    )


def _suspension_bars(
    chart_id: str, by: str, lead: str, rows: Sequence[CountryCount | PlatformCount]
) -> Markup:
    """One of the two suspension charts that sit side by side, each at half width."""
    items = [(r.name, r.count) for r in rows]
    return _count_bars(chart_id, f"Suspensions following flags, {by}", lead, items, HALF_WIDTH)


def _describe(lead: str, items: Iterable[tuple[str, Published]]) -> str:
    """A chart's text alternative: what it shows and its values in order."""
    listed = "; ".join(f"{name}: {charts.format_count(value)}" for name, value in items)
    return f"{lead}. {listed}." if listed else f"{lead}. No data for this period."
