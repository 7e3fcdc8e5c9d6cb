"""Dashboard routes (`stats:read`): grouped outcomes (JSON and CSV), platform reports,
response times, agency and platform health."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from app.auth.principal import Principal, requires
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.kit.clock import rfc3339, utc_now
from app.stats import service
from app.stats.percentiles import RELATIVE_ERROR
from app.stats.schemas import (
    AgencyHealthList,
    OutcomeStats,
    PlatformHealthList,
    ReportStats,
    ResponseTimeStats,
)

router = APIRouter(prefix="/v1/stats", tags=["statistics"])
StatsDep = Annotated[Principal, Depends(requires("stats:read"))]

FromParam = Annotated[
    str | None,
    Query(
        alias="from",
        max_length=64,
        description="First UTC day counted: YYYY-MM-DD, or an RFC 3339 time at midnight UTC. "
        "Default: the first day of the month eleven months ago.",
    ),
]
ToParam = Annotated[
    str | None,
    Query(
        alias="to",
        max_length=64,
        description="First UTC day not counted (exclusive), same formats. Default: tomorrow.",
    ),
]


def _group_by_param(allowed: tuple[str, ...]) -> Any:
    return Query(
        description="Comma-separated or repeated; any of " + ", ".join(allowed),
    )


OutcomeGroupBy = Annotated[list[str] | None, _group_by_param(service.OUTCOME_GROUPS)]
ReportGroupBy = Annotated[list[str] | None, _group_by_param(service.REPORT_GROUPS)]
ResponseGroupBy = Annotated[list[str] | None, _group_by_param(service.RESPONSE_GROUPS)]
ActionParam = Annotated[
    list[str] | None,
    Query(description="Only these outcomes (comma-separated or repeated), e.g. suspensions"),
]
STATS_ERRORS = problem_responses(*AUTH_ERRORS)
REPORT_NOTE = (
    "Self-reported by the platforms for their own periods; not verified by FlagBridge and "
    "not comparable one-to-one with flag outcomes. A report counts when its whole period "
    "lies in the range."
)


def _question(
    date_from: str | None, date_to: str | None, group_by: list[str] | None, allowed: Any
) -> tuple[date, date, list[str]]:
    """The checked range and groups of a query string."""
    start, end = service.resolve_range(
        service.parse_day(date_from, field="from"), service.parse_day(date_to, field="to")
    )
    return start, end, service.parse_group_by(group_by, allowed)


def _answer(start: date, end: date, groups: list[str], **fields: Any) -> JSONResponse:
    """A grouped answer: its range and groups, then the endpoint's own fields."""
    return JSONResponse(
        {"from": start.isoformat(), "to": end.isoformat(), "group_by": groups, **fields}
    )


def _as_of_now(items: list[dict[str, Any]]) -> JSONResponse:
    """A snapshot answer: the items as they are now."""
    return JSONResponse({"as_of": rfc3339(utc_now()), "items": items})


async def _outcomes(
    session: Any,
    date_from: str | None,
    date_to: str | None,
    group_by: list[str] | None,
    action: list[str] | None,
) -> tuple[date, date, list[str], list[dict[str, Any]]]:
    start, end, groups = _question(date_from, date_to, group_by, service.OUTCOME_GROUPS)
    actions = service.parse_group_by(action, service.ACTIONS, field="action") if action else None
    items = await service.outcome_counts(
        session=session, date_from=start, date_to=end, group_by=groups, actions=actions
    )
    return start, end, groups, items


@router.get(
    "/outcomes",
    response_model=OutcomeStats,
    operation_id="stats_outcomes",
    responses=STATS_ERRORS,
)
async def outcomes(
    principal: StatsDep,
    session: SessionDep,
    date_from: FromParam = None,
    date_to: ToParam = None,
    group_by: OutcomeGroupBy = None,
    action: ActionParam = None,
) -> JSONResponse:
    """Closed flags in [from, to), by the UTC day of their outcome, grouped by any of
    country, agency, platform, kind, category, action, month, day. Exact at any scale."""
    start, end, groups, items = await _outcomes(session, date_from, date_to, group_by, action)
    return _answer(start, end, groups, items=items, total=sum(i["count"] for i in items))


def _csv_cell(value: Any) -> Any:
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection);
    # counts are ints and pass through unchanged.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get(
    "/outcomes.csv",
    operation_id="stats_outcomes_csv",
    response_class=Response,
    responses={
        200: {
            "description": "The same groups as /v1/stats/outcomes, one per line",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **STATS_ERRORS,
    },
)
async def outcomes_csv(
    principal: StatsDep,
    session: SessionDep,
    date_from: FromParam = None,
    date_to: ToParam = None,
    group_by: OutcomeGroupBy = None,
    action: ActionParam = None,
) -> Response:
    """/v1/stats/outcomes as CSV (UTF-8, a header line; agency as agency_id, agency_name)."""
    start, end, groups, items = await _outcomes(session, date_from, date_to, group_by, action)
    header: list[str] = []
    for g in groups:
        header += ["agency_id", "agency_name"] if g == "agency" else [g]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*header, "count"])
    for item in items:
        cells: list[Any] = []
        for g in groups:
            if g == "agency":
                cells += [item[g]["id"], item[g]["name"]]
            else:
                cells.append(item[g])
        writer.writerow([_csv_cell(c) for c in cells] + [item["count"]])
    filename = f"flagbridge-outcomes_{start.isoformat()}_{end.isoformat()}.csv"
    return Response(
        content=out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/platform-reports",
    response_model=ReportStats,
    operation_id="stats_platform_reports",
    responses=STATS_ERRORS,
)
async def platform_reports(
    principal: StatsDep,
    session: SessionDep,
    date_from: FromParam = None,
    date_to: ToParam = None,
    group_by: ReportGroupBy = None,
) -> JSONResponse:
    """Platforms' own totals (self-reported) of reports whose period lies in [from, to),
    grouped by any of platform, country, category, action, source, month."""
    start, end, groups = _question(date_from, date_to, group_by, service.REPORT_GROUPS)
    items = await service.platform_report_counts(
        session=session, date_from=start, date_to=end, group_by=groups
    )
    total = sum(i["count"] for i in items)
    return _answer(
        start, end, groups, self_reported=True, note=REPORT_NOTE, items=items, total=total
    )


@router.get(
    "/response-times",
    response_model=ResponseTimeStats,
    operation_id="stats_response_times",
    responses=STATS_ERRORS,
)
async def response_times(
    principal: StatsDep,
    session: SessionDep,
    date_from: FromParam = None,
    date_to: ToParam = None,
    group_by: ResponseGroupBy = None,
) -> JSONResponse:
    """Median and 90th percentile of time to acknowledge and time to outcome in [from, to),
    and flags overdue now, grouped by platform, priority and/or kind."""
    start, end, groups = _question(date_from, date_to, group_by, service.RESPONSE_GROUPS)
    items = await service.response_times(
        session=session, date_from=start, date_to=end, group_by=groups
    )
    return _answer(start, end, groups, relative_error=round(RELATIVE_ERROR, 4), items=items)


@router.get(
    "/agencies",
    response_model=AgencyHealthList,
    operation_id="stats_agencies",
    responses=STATS_ERRORS,
)
async def agencies(principal: StatsDep, session: SessionDep) -> JSONResponse:
    """Per agency, all time: flags sent, how they ended, and the share that led to action."""
    return JSONResponse(
        {"as_of": rfc3339(utc_now()), "items": await service.agency_health(session=session)}
    )


@router.get(
    "/platforms",
    response_model=PlatformHealthList,
    operation_id="stats_platforms",
    responses=STATS_ERRORS,
)
async def platforms(principal: StatsDep, session: SessionDep) -> JSONResponse:
    """Per platform, now: last feed poll, undelivered and unanswered backlog, overdue."""
    return JSONResponse(
        {"as_of": rfc3339(utc_now()), "items": await service.platform_health(session=session)}
    )
