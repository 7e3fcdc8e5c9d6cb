"""`GET /transparency` (HTML) and `GET /transparency.json`: public, no token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from app.db import ReadSessionDep
from app.errors import problem_responses
from app.stats import assembly, page
from app.stats.period import EARLIEST_YEAR, parse_period
from app.stats.public_schemas import TransparencyReport
from app.stats.report_cache import ReportCache

router = APIRouter(tags=["transparency"])

# Nothing may come from elsewhere: the page must work on an air-gapped network, and a
# CSP this strict also means injected markup could not load or run anything.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
CACHE_SECONDS = 60
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": f"public, max-age={CACHE_SECONDS}",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

MonthFrom = Annotated[
    str | None,
    Query(
        alias="from",
        pattern=r"^\d{4}-\d{2}$",
        description="First month, YYYY-MM (default: 23 months before `to`)",
    ),
]
MonthTo = Annotated[
    str | None,
    Query(
        alias="to",
        pattern=r"^\d{4}-\d{2}$",
        description="Last month, YYYY-MM (default: this month)",
    ),
]
Year = Annotated[
    int | None,
    Query(ge=EARLIEST_YEAR, le=9999, description="A calendar year instead of from/to"),
]


@dataclass(frozen=True)
class AskedReport:
    """The report of the period the query string asks for, and how it was asked."""

    report: TransparencyReport
    year: int | None
    default_period: bool


async def asked_report(
    request: Request,
    session: ReadSessionDep,
    month_from: MonthFrom = None,
    month_to: MonthTo = None,
    year: Year = None,
) -> AskedReport:
    """The report of the asked period, from the short in-process cache when fresh."""
    today = datetime.now(UTC).date()
    period = parse_period(month_from=month_from, month_to=month_to, year=year, today=today)
    cache: ReportCache = request.app.state.transparency_cache
    report = cache.get(period)
    if report is None:
        async with cache.build_slot:
            report = cache.get(period)  # built while this request waited?
            if report is None:
                report = await assembly.build_report(session=session, period=period)
                cache.put(period, report)
    default = year is None and month_from is None and month_to is None
    return AskedReport(report=report, year=year, default_period=default)


AskedReportDep = Annotated[AskedReport, Depends(asked_report)]


@router.get(
    "/transparency.json",
    response_model=TransparencyReport,
    response_model_by_alias=True,
    responses=problem_responses(422),
)
async def transparency_data(asked: AskedReportDep) -> JSONResponse:
    """The figures of the public transparency page (counts under five shown as "<5")."""
    return JSONResponse(
        asked.report.model_dump(mode="json", by_alias=True),
        headers={**_HEADERS, "Access-Control-Allow-Origin": "*"},
    )


@router.get("/transparency", response_class=HTMLResponse, responses=problem_responses(422))
async def transparency_page(asked: AskedReportDep) -> HTMLResponse:
    """The public transparency page: charts drawn on the server, a table behind each."""
    context = page.page_context(
        asked.report,
        today=datetime.now(UTC).date(),
        selected_year=asked.year,
        default_period=asked.default_period,
    )
    html = _templates.get_template("transparency.html").render(**context)
    return HTMLResponse(html, headers=_HEADERS)
