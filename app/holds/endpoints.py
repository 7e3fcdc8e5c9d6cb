"""Agency routes for deconfliction holds."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from app.auth.principal import Principal, requires, requires_any
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.holds import service
from app.holds.schemas import HoldCreate, HoldOut, HoldPage
from app.kit import idempotency
from app.kit.canonical import sha256_hex
from app.kit.idempotency import IdempotencyKey
from app.kit.pagination import CursorParam, LimitParam

router = APIRouter(prefix="/v1/holds", tags=["holds"])
SubmitDep = Annotated[Principal, Depends(requires("flags:submit"))]
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
    request_hash = sha256_hex(body.model_dump(mode="json"))
    if idempotency_key:
        replay = await idempotency.check(
            session,
            client_id=principal.client_id,
            route=ROUTE,
            key=idempotency_key,
            request_hash=request_hash,
        )
        if replay is not None:
            return replay
    hold = await service.create_hold(session=session, principal=principal, data=body)
    if idempotency_key:
        await idempotency.store(
            session,
            client_id=principal.client_id,
            route=ROUTE,
            key=idempotency_key,
            request_hash=request_hash,
            status=201,
            body=hold,
        )
    return JSONResponse(hold, status_code=201, headers={"Location": f"/v1/holds/{hold['id']}"})


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
    return JSONResponse({"items": items, "next_cursor": nxt})


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
    hold_id: uuid.UUID, request: Request, principal: SubmitDep, session: SessionDep
) -> JSONResponse:
    """Release your hold now: the flags it held open and reach the platform, clocks starting."""
    hold = await service.release_hold(
        session=session,
        principal=principal,
        hold_id=hold_id,
        poke=request.app.state.feed_notifier.poke,
    )
    return JSONResponse(hold)
