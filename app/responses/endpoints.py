"""Platform routes: ack, request-info, outcome, and batches of acks and outcomes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.auth.dependencies import RespondDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.feeds.dependencies import PokeDep
from app.flags import service as flags
from app.flags.schemas import FlagOut
from app.responses import service
from app.responses.schemas import (
    AckIn,
    OutcomeBatchIn,
    OutcomeBatchOut,
    OutcomeIn,
    QuestionIn,
)

router = APIRouter(tags=["platform responses"])


@router.post(
    "/v1/flags/{flag_id}/ack",
    response_model=FlagOut,
    operation_id="acknowledge_flag",
    responses=problem_responses(*AUTH_ERRORS, 404, 409),
)
async def acknowledge(
    flag_id: uuid.UUID,
    principal: RespondDep,
    session: SessionDep,
    poke: PokeDep,
    body: AckIn | None = None,
) -> JSONResponse:
    """Acknowledge receipt (idempotent); you may state the account's id and handle."""
    flag = await flags.acknowledge(
        session=session,
        principal=principal,
        flag_id=flag_id,
        poke=poke,
        account=body.account if body else None,
    )
    return JSONResponse(flag)


@router.post(
    "/v1/flags/{flag_id}/request-info",
    response_model=FlagOut,
    operation_id="request_flag_info",
    responses=problem_responses(*AUTH_ERRORS, 404, 409),
)
async def request_info(
    flag_id: uuid.UUID,
    body: QuestionIn,
    principal: RespondDep,
    session: SessionDep,
    poke: PokeDep,
) -> JSONResponse:
    """Ask the agency a question; the deadline clock pauses until it answers."""
    flag = await flags.request_info(
        session=session,
        principal=principal,
        flag_id=flag_id,
        question=body.question,
        poke=poke,
    )
    return JSONResponse(flag)


@router.post(
    "/v1/flags/{flag_id}/outcome",
    response_model=FlagOut,
    operation_id="record_flag_outcome",
    responses=problem_responses(*AUTH_ERRORS, 404, 409),
)
async def record_outcome(
    flag_id: uuid.UUID,
    body: OutcomeIn,
    principal: RespondDep,
    session: SessionDep,
    poke: PokeDep,
) -> JSONResponse:
    """Report what you did; closes the flag. The same outcome again is 200, another is 409."""
    flag, _ = await flags.record_outcome(
        session=session,
        principal=principal,
        flag_id=flag_id,
        action=body.action,
        note=body.note,
        actioned_at=body.actioned_at,
        poke=poke,
        account=body.account,
    )
    return JSONResponse(flag)


@router.post(
    "/v1/outcomes/batch",
    response_model=OutcomeBatchOut,
    operation_id="record_outcome_batch",
    responses=problem_responses(*AUTH_ERRORS),
)
async def record_outcome_batch(
    body: OutcomeBatchIn, principal: RespondDep, session: SessionDep, poke: PokeDep
) -> JSONResponse:
    """Up to 1000 acks and outcomes; each item succeeds or fails on its own (savepoints)."""
    results = await service.record_batch(
        session=session, principal=principal, items=body.items, poke=poke
    )
    return JSONResponse({"results": results})
