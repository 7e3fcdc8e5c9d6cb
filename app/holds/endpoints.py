"""Agency routes for deconfliction holds."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import SubmitDep
from app.auth.principal import Principal, requires_any
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.feeds.dependencies import PokeDep
from app.holds import service
from app.holds.schemas import HoldCreate, HoldOut, HoldPage
from app.kit.idempotency import IdempotencyKey
from app.kit.idempotent_route import Created, create_once
from app.kit.pagination import CursorParam, LimitParam, page_response

router = APIRouter(prefix="/v1/holds", tags=["holds"])
ReadDep = Annotated[Principal, Depends(requires_any("flags:submit", "flags:read"))]
ROUTE = "POST /v1/holds"


@router.post(
    "",
    status_code=201,
    response_model=HoldOut,
    operation_id="create_hold",
    responses=problem_responses(*AUTH_ERRORS, 409),
)
async def create_hold(
    body: HoldCreate,
    principal: SubmitDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Ask that an account not be alerted yet: other agencies' new flags on it are held
    until the hold is released or expires (at most 90 days)."""

    async def create() -> Created:
        hold = await service.create_hold(session=session, principal=principal, data=body)
        return Created(201, hold, location=f"/v1/holds/{hold['id']}")

    return await create_once(
        session, principal.client_id, ROUTE, key=idempotency_key, request=body, create=create
    )


@router.get(
    "",
    response_model=HoldPage,
    operation_id="list_holds",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_holds(
    principal: ReadDep, session: SessionDep, limit: LimitParam = 100, cursor: CursorParam = None
) -> JSONResponse:
    """Your agency's holds, newest first."""
    items, nxt = await service.list_holds(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
    return page_response(items, nxt)


@router.get(
    "/{hold_id}",
    response_model=HoldOut,
    operation_id="get_hold",
    responses=problem_responses(*AUTH_ERRORS, 404),
)
async def get_hold(hold_id: uuid.UUID, principal: ReadDep, session: SessionDep) -> JSONResponse:
    """One of your holds."""
    return JSONResponse(
        await service.get_hold(session=session, principal=principal, hold_id=hold_id)
    )


@router.delete(
    "/{hold_id}",
    response_model=HoldOut,
    operation_id="release_hold",
    responses=problem_responses(*AUTH_ERRORS, 404),
)
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
