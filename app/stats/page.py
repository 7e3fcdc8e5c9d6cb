"""What the transparency page's template needs: the published reports, one report, charts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from app.stats import charts
from app.stats.assembly import ACTION_LABELS
from app.stats.i18n import PageLocale, languages, page_locale
from app.stats.public_schemas import PublishedReportRef, TransparencyReport
from app.stats.publication import PublicView
from app.stats.suppression import Published

HALF_WIDTH = 460  # charts that sit side by side on wide screens


def page_context(view: PublicView, loc: PageLocale) -> dict[str, Any]:
    """What the template needs, in the reader's language: the published reports, the one
    shown, its charts, and the ways to write its figures."""
    newest: dict[str, PublishedReportRef] = {}
    for ref in view.index.reports:
        newest[ref.period.id] = ref  # revisions come in order: the last one stays
    report = view.report
    context: dict[str, Any] = {
        "report": report,
        "lang": loc.tag,
        "languages": [(page_locale(code).tag, page_locale(code).name) for code in languages()],
        "published": list(reversed(newest.values())),
        "revisions": [r for r in view.index.reports if report and r.period.id == report.period.id],
        "format_count": loc.count,
        "format_duration": loc.duration,
        "iso_duration": charts.iso_duration,
        "month_label": loc.month,
        "period_label": lambda p: loc.period(p.from_, p.to),
        "country_name": lambda row: loc.country(row.country, row.name),
        "platform_name": lambda row: row.name,
        "outcome_label": lambda row: loc.gettext(ACTION_LABELS.get(row.action, row.label)),
        # Only published cells: each period's headline, as its newest revision printed it.
        "trend": _count_bars(
            loc,
            "chart-periods",
            loc.gettext("Suspensions following flags, by reporting period"),
            loc.gettext("Accounts suspended after a flag in each published reporting period"),
            [(ref.period.id, ref.suspensions) for ref in newest.values()],
        ),
    }
    if report is None:
        return context
    generated = report.generated_at.astimezone(UTC)
    return context | _report_context(report, generated, loc)


def _report_context(
    report: TransparencyReport, generated: datetime, loc: PageLocale
) -> dict[str, Any]:
    months = [m.month for m in report.suspensions_by_month.months]
    platforms = report.suspensions_by_month.platforms
    _ = loc.gettext
    return {
        "generated_label": loc.moment(generated),
        "report_url": f"/transparency/reports/{report.period.id}.json?revision={report.revision}",
        "charts": {
            "country": _count_bars(
                loc,
                "chart-country",
                _("Suspensions following flags, by flagging country"),
                _("Accounts suspended by platforms after a flag from an agency of each country"),
                [(loc.country(r.country, r.name), r.count) for r in report.suspensions_by_country],
                HALF_WIDTH,
            ),
            "platform": _count_bars(
                loc,
                "chart-platform",
                _("Suspensions following flags, by platform"),
                _("Accounts suspended after a flag, by the platform that suspended them"),
                [(r.name, r.count) for r in report.suspensions_by_platform],
                HALF_WIDTH,
            ),
            "monthly": charts.monthly_stacked_chart(
                chart_id="chart-monthly",
                title=_("Suspensions following flags, by month and platform"),
                description=_(
                    "Columns per month, stacked by platform; the table below gives every value."
                ),
                loc=loc,
                months=months,
                series=[
                    charts.Series(
                        p.name, [m.counts[p.platform] for m in report.suspensions_by_month.months]
                    )
                    for p in platforms
                ],
            ),
            "actions": _count_bars(
                loc,
                "chart-actions",
                _("Outcomes of flags, by action taken"),
                _("Flags closed in the period by what the platform did"),
                [
                    (_(ACTION_LABELS.get(r.action, r.label)), r.count)
                    for r in report.outcomes_by_action
                ],
            ),
            "self_reported": charts.grouped_bar_chart(
                chart_id="chart-self-reported",
                title=_("Suspensions after flags beside those self-reported by platforms"),
                description=_(
                    "For each platform: accounts suspended after a flag through FlagBridge, "
                    "and the totals the platform reported itself, split into accounts found "
                    "by its own tools and all other sources (self-reported, not verified)."
                ),
                loc=loc,
                groups=[r.name for r in report.platform_reports],
                series=[
                    charts.Series(
                        _("After flags (FlagBridge)"),
                        [r.flagged_suspensions for r in report.platform_reports],
                    ),
                    charts.Series(
                        _("Self-reported: own detection"),
                        [r.self_reported_own_detection for r in report.platform_reports],
                    ),
                    charts.Series(
                        _("Self-reported: other"),
                        [r.self_reported_other for r in report.platform_reports],
                    ),
                ],
                kind="count",
                empty_message=_("No platform has reported totals for this period"),
            ),
            "response": charts.grouped_bar_chart(
                chart_id="chart-response",
                title=_("Median response times, by platform"),
                description=_(
                    "Median time from delivery of a flag to its acknowledgement and to its "
                    "outcome; medians over fewer than five flags are not shown."
                ),
                loc=loc,
                groups=[r.name for r in report.response_times],
                series=[
                    charts.Series(
                        _("To acknowledge"),
                        [r.acknowledge.median_seconds for r in report.response_times],
                    ),
                    charts.Series(
                        _("To outcome"), [r.outcome.median_seconds for r in report.response_times]
                    ),
                ],
                kind="duration",
                missing_text=_("not shown: under five flags"),
            ),
        },
    }


def _count_bars(
    loc: PageLocale,
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
        description=_describe(loc, lead, items),
        bars=[charts.Bar(name, count) for name, count in items],
        width=width,
        loc=loc,
    )


def _describe(loc: PageLocale, lead: str, items: Iterable[tuple[str, Published]]) -> str:
    """A chart's text alternative: what it shows and its values in order."""
    listed = "; ".join(f"{name}: {loc.count(value)}" for name, value in items)
    if not listed:
        return loc.gettext("%(lead)s. No data for this period.", lead=lead)
    return loc.gettext("%(lead)s. %(values)s.", lead=lead, values=listed)
