"""Dashboard routes (`stats:read`): grouped outcomes (JSON and CSV), platform reports,
response times, agency and platform health."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import StatsReadDep
from app.db import ReadSessionDep
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

router = APIRouter(
    prefix="/v1/stats", tags=["statistics"], responses=problem_responses(*AUTH_ERRORS)
)

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


ActionParam = Annotated[
    list[str] | None,
    Query(description="Only these outcomes (comma-separated or repeated), e.g. suspensions"),
]
REPORT_NOTE = (
    "Self-reported by the platforms for their own periods; not verified by FlagBridge and "
    "not comparable one-to-one with flag outcomes. A report counts when its whole period "
    "lies in the range."
)


@dataclass(frozen=True)
class Question:
    """A grouped dashboard question: the checked range [start, end) and the groups."""

    start: date
    end: date
    groups: list[str]

    def answer(self, **fields: Any) -> JSONResponse:
        """The answer: its range and groups, then the route's own fields."""
        return JSONResponse(
            {
                "from": self.start.isoformat(),
                "to": self.end.isoformat(),
                "group_by": self.groups,
                **fields,
            }
        )


def _asking(allowed: tuple[str, ...]) -> Any:
    """The dependency that reads `from`, `to` and `group_by` (any of allowed) and checks them."""

    async def question(
        date_from: FromParam = None,
        date_to: ToParam = None,
        group_by: list[str] | None = Query(
            None, description="Comma-separated or repeated; any of " + ", ".join(allowed)
        ),
    ) -> Question:
        start, end = service.resolve_range(
            service.parse_day(date_from, field="from"), service.parse_day(date_to, field="to")
        )
        return Question(start, end, service.parse_group_by(group_by, allowed))

    return Depends(question)


OutcomeQuestion = Annotated[Question, _asking(service.OUTCOME_GROUPS)]
ReportQuestion = Annotated[Question, _asking(service.REPORT_GROUPS)]
ResponseQuestion = Annotated[Question, _asking(service.RESPONSE_GROUPS)]


async def _actions(action: ActionParam = None) -> list[str] | None:
    """The outcomes asked for, checked after the question (None: every outcome)."""
    return service.parse_group_by(action, service.ACTIONS, field="action") if action else None


ActionsDep = Annotated[list[str] | None, Depends(_actions)]


def _as_of_now(items: list[dict[str, Any]]) -> JSONResponse:
    """A snapshot answer: the items as they are now."""
    return JSONResponse({"as_of": rfc3339(utc_now()), "items": items})


async def _outcomes(
    session: AsyncSession, question: Question, actions: list[str] | None
) -> list[dict[str, Any]]:
    return await service.outcome_counts(
        session=session,
        date_from=question.start,
        date_to=question.end,
        group_by=question.groups,
        actions=actions,
    )


@router.get("/outcomes", response_model=OutcomeStats)
async def stats_outcomes(
    principal: StatsReadDep,
    session: ReadSessionDep,
    question: OutcomeQuestion,
    actions: ActionsDep,
) -> JSONResponse:
    """Closed flags in [from, to), by the UTC day of their (first) outcome, grouped by any of
    country, agency, platform, kind, category, action, month, day, with how many of them
    were contested and overturned. Exact at any scale. Grouped by ground or scope, the
    outcomes that carry a statement of reasons, by its ground and territorial scope
    (`global` or per country), and contests are not given (null)."""
    items = await _outcomes(session, question, actions)
    by_statement = not service.STATEMENT_GROUPS.isdisjoint(question.groups)
    return question.answer(
        items=items,
        total=sum(i["count"] for i in items),
        contested=None if by_statement else sum(i["contested"] for i in items),
        overturned=None if by_statement else sum(i["overturned"] for i in items),
    )


def _csv_cell(value: Any) -> Any:
    # A spreadsheet would run a cell starting with = + - @ as a formula (CSV injection);
    # counts are ints and pass through unchanged.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


@router.get(
    "/outcomes.csv",
    response_class=Response,
    responses={
        200: {
            "description": "The same groups as /v1/stats/outcomes, one per line",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
)
async def stats_outcomes_csv(
    principal: StatsReadDep,
    session: ReadSessionDep,
    question: OutcomeQuestion,
    actions: ActionsDep,
) -> Response:
    """/v1/stats/outcomes as CSV (UTF-8, a header line; agency as agency_id, agency_name)."""
    items = await _outcomes(session, question, actions)
    groups = question.groups
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
    filename = f"flagbridge-outcomes_{question.start}_{question.end}.csv"
    return Response(
        content=out.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/platform-reports", response_model=ReportStats)
async def stats_platform_reports(
    principal: StatsReadDep,
    session: ReadSessionDep,
    question: ReportQuestion,
) -> JSONResponse:
    """Platforms' own totals (self-reported) of reports whose period lies in [from, to),
    grouped by any of platform, country, category, action, source, month."""
    items = await service.platform_report_counts(
        session=session, date_from=question.start, date_to=question.end, group_by=question.groups
    )
    total = sum(i["count"] for i in items)
    return question.answer(self_reported=True, note=REPORT_NOTE, items=items, total=total)


@router.get("/response-times", response_model=ResponseTimeStats)
async def stats_response_times(
    principal: StatsReadDep,
    session: ReadSessionDep,
    question: ResponseQuestion,
) -> JSONResponse:
    """Median and 90th percentile of time to acknowledge and time to outcome in [from, to),
    and flags overdue now, grouped by platform, priority and/or kind."""
    items = await service.response_times(
        session=session, date_from=question.start, date_to=question.end, group_by=question.groups
    )
    return question.answer(relative_error=round(RELATIVE_ERROR, 4), items=items)


@router.get("/agencies", response_model=AgencyHealthList)
async def stats_agencies(principal: StatsReadDep, session: ReadSessionDep) -> JSONResponse:
    """Per agency, all time: flags sent, how they ended, and the share that led to action."""
    return _as_of_now(await service.agency_health(session=session))


@router.get("/platforms", response_model=PlatformHealthList)
async def stats_platforms(principal: StatsReadDep, session: ReadSessionDep) -> JSONResponse:
    """Per platform, now: last feed poll, undelivered and unanswered backlog, overdue."""
    return _as_of_now(await service.platform_health(session=session))
