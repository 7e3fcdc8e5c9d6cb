"""Routes of deconfliction holds: the agency's under /v1/holds, the operators' view under
/v1/admin/holds."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import AdminDep, SubmitDep
from app.auth.principal import Principal, requires_any
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.feeds.dependencies import PokeDep
from app.holds import governance, service
from app.holds.governance import HoldLimits
from app.holds.governance_schemas import AgencyHoldsPage, HoldDetail, HoldRenew
from app.holds.schemas import HoldCreate, HoldOut, HoldPage
from app.kit.idempotency import IdempotencyKey
from app.kit.idempotent_route import Created, create_once
from app.kit.pagination import CursorParam, LimitParam, page_response

agency_routes = APIRouter(prefix="/v1/holds", tags=["holds"])
admin_routes = APIRouter(prefix="/v1/admin/holds", tags=["admin"])
ReadDep = Annotated[Principal, Depends(requires_any("flags:submit", "flags:read"))]
ROUTE = "POST /v1/holds"
RENEW_ROUTE = "POST /v1/holds/{hold_id}/renew"


def _limits(request: Request) -> HoldLimits:
    settings = request.app.state.settings
    return HoldLimits(settings.max_active_holds, settings.max_hold_renewals)


LimitsDep = Annotated[HoldLimits, Depends(_limits)]


@agency_routes.post("", status_code=201, response_model=HoldOut, responses=problem_responses(409))
async def create_hold(
    body: HoldCreate,
    principal: SubmitDep,
    session: SessionDep,
    limits: LimitsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Ask that an account not be alerted yet: other agencies' new flags on it are held
    until the hold is released or expires (at most 90 days). An agency may have at most
    FLAGBRIDGE_MAX_ACTIVE_HOLDS active holds; one more is a 409 `hold-limit`."""

    async def create() -> Created:
        hold = await governance.create_hold(
            session=session, principal=principal, data=body, limits=limits
        )
        return Created(201, hold, location=f"/v1/holds/{hold['id']}")

    return await create_once(
        session, principal.client_id, ROUTE, key=idempotency_key, request=body, create=create
    )


@agency_routes.get("", response_model=HoldPage)
async def list_holds(
    principal: ReadDep, session: SessionDep, limit: LimitParam = 100, cursor: CursorParam = None
) -> JSONResponse:
    """Your agency's holds, newest first."""
    items, nxt = await service.list_holds(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
    return page_response(items, nxt)


@agency_routes.get("/{hold_id}", response_model=HoldDetail, responses=problem_responses(404))
async def get_hold(hold_id: uuid.UUID, principal: ReadDep, session: SessionDep) -> JSONResponse:
    """One of your holds, with its renewals."""
    return JSONResponse(
        await governance.get_hold(session=session, principal=principal, hold_id=hold_id)
    )


@agency_routes.delete("/{hold_id}", response_model=HoldOut, responses=problem_responses(404))
async def release_hold(
    hold_id: uuid.UUID, principal: SubmitDep, session: SessionDep, poke: PokeDep
) -> JSONResponse:
    """Release your hold now: the flags it held open and reach the platform, clocks starting."""
    hold = await service.release_hold(
        session=session,
        principal=principal,
        hold_id=hold_id,
        poke=poke,
    )
    return JSONResponse(hold)


@agency_routes.post(
    "/{hold_id}/renew", response_model=HoldDetail, responses=problem_responses(404, 409)
)
async def renew_hold(
    hold_id: uuid.UUID,
    body: HoldRenew,
    principal: SubmitDep,
    session: SessionDep,
    limits: LimitsDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Move your active hold's expiry later (at most 90 days ahead). A hold may be renewed
    FLAGBRIDGE_MAX_HOLD_RENEWALS times; one more is a 409 `renewal-limit`. Released or
    expired holds are a 409."""

    async def renew() -> Created:
        hold = await governance.renew_hold(
            session=session, principal=principal, hold_id=hold_id, data=body, limits=limits
        )
        return Created(200, hold)

    # The hold is part of what the key identifies: one key on two holds is a 422.
    request = {"hold_id": str(hold_id), **body.model_dump(mode="json")}
    return await create_once(
        session,
        principal.client_id,
        RENEW_ROUTE,
        key=idempotency_key,
        request=request,
        create=renew,
    )


@admin_routes.get("", response_model=AgencyHoldsPage)
async def list_active_holds_by_agency(
    principal: AdminDep,
    session: SessionDep,
    limits: LimitsDep,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> JSONResponse:
    """Agencies with active holds, by name: how many, the soonest and latest expiry, and
    renewals. Never a reason or an account."""
    return JSONResponse(
        await governance.active_holds_by_agency(
            session=session, cursor=cursor, limit=limit, limits=limits
        )
    )


router = APIRouter(responses=problem_responses(*AUTH_ERRORS))
"""Every route of holds, as one router for the application."""
router.include_router(agency_routes)
router.include_router(admin_routes)
