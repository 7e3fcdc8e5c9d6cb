"""Platform routes for their own period totals (`flags:respond`, platforms only)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import RespondDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.kit.idempotency import IdempotencyKey
from app.kit.idempotent_route import Created, create_once
from app.kit.pagination import CursorParam, LimitParam, page_response
from app.platform_reports import service
from app.platform_reports.schemas import PlatformReportIn, PlatformReportOut, ReportPage

router = APIRouter(
    prefix="/v1/platform-reports",
    tags=["platform reports"],
    responses=problem_responses(*AUTH_ERRORS),
)
ROUTE = "POST /v1/platform-reports"


@router.post(
    "",
    status_code=201,
    response_model=PlatformReportOut,
    responses={
        200: {
            "description": "The period was reported before: its rows are replaced",
            "model": PlatformReportOut,
        },
        **problem_responses(409),
    },
)
async def submit_platform_report(
    body: PlatformReportIn,
    principal: RespondDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Report your own totals for [period_start, period_end) (e.g. accounts you suspended
    for terrorism on your own detection): 201 the first time, 200 when the same period is
    resubmitted (its rows are replaced), 409 when it overlaps a different period of yours.
    Dashboards show these beside flag outcomes, labelled as self-reported."""

    async def submit() -> Created:
        report, created = await service.submit_report(
            session=session, principal=principal, data=body
        )
        location = f"/v1/platform-reports/{report['id']}"
        return Created(201 if created else 200, report, location=location)

    return await create_once(
        session, principal.client_id, ROUTE, key=idempotency_key, request=body, create=submit
    )


@router.get("", response_model=ReportPage)
async def list_platform_reports(
    principal: RespondDep, session: SessionDep, limit: LimitParam = 100, cursor: CursorParam = None
) -> JSONResponse:
    """Your reports, newest period first (without rows)."""
    items, nxt = await service.list_reports(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
    return page_response(items, nxt)


@router.get("/{report_id}", response_model=PlatformReportOut, responses=problem_responses(404))
async def get_platform_report(
    report_id: uuid.UUID, principal: RespondDep, session: SessionDep
) -> JSONResponse:
    """One of your reports with its rows."""
    return JSONResponse(
        await service.get_report(session=session, principal=principal, report_id=report_id)
    )
